import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InterfaceNames } from '../../src/dataplane/iface.js';

test('interface names: lowest free index first, released names come back in order', () => {
  const n = new InterfaceNames('sstp');
  assert.deepEqual([n.take(), n.take(), n.take(), n.take()], ['sstp0', 'sstp1', 'sstp2', 'sstp3']);
  n.release('sstp2');
  n.release('sstp0');
  n.release('sstp0'); // twice: still one free slot
  assert.deepEqual([n.take(), n.take(), n.take()], ['sstp0', 'sstp2', 'sstp4']);
});

test('interface names: names never handed out, or of another prefix, are ignored', () => {
  const n = new InterfaceNames('sstp');
  n.take();
  n.release('sstp7');
  n.release('eth0');
  n.release('sstpx');
  assert.equal(n.take(), 'sstp1');
});
