/**
 * The interface cache (`ppp-options interface-cache`) with fake devices: what it keeps and hands
 * out, in which order the reset steps run, and how a reload or a shutdown deletes what it holds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InterfaceCache } from '../../src/dataplane/iface-cache.js';
import { InterfaceNames } from '../../src/dataplane/iface.js';
import type { TunDevice } from '../../src/dataplane/tun.js';
import { FakeTun } from '../support/fake-tun.js';

function setup(limit: number): { cache: InterfaceCache; steps: string[]; names: InterfaceNames; tun: () => FakeTun } {
  const steps: string[] = [];
  const names = new InterfaceNames('sstp');
  const cache = new InterfaceCache(limit, { reset: (n) => void steps.push(`reset ${n}`), restoreIpv6: (n) => void steps.push(`ipv6 ${n}`), names });
  return { cache, steps, names, tun: () => new FakeTun(() => undefined, { name: names.take() }) };
}

test('keeps up to its limit, newest first out; IPv6 settings go back before the reset (going down removes what they add)', () => {
  const { cache, steps, tun } = setup(2);
  const [a, b, c] = [tun(), tun(), tun()];
  assert.equal(cache.put(a, true), true);
  assert.equal(cache.put(b, false), true);
  assert.equal(cache.put(c, false), false, 'full');
  assert.deepEqual(steps, ['ipv6 sstp0', 'reset sstp0', 'reset sstp1']);
  assert.equal(a.parked, 1);
  assert.equal(c.parked, 0, 'a device that is not kept is left alone');
  assert.equal(cache.take(), b);
  assert.equal(cache.take(), a);
  assert.equal(cache.take(), undefined);
});

test('off (0), a closed device or one that cannot be parked: not kept', () => {
  const off = setup(0);
  assert.equal(off.cache.put(off.tun(), false), false);
  const { cache, tun, steps } = setup(4);
  const closed = tun();
  void closed.close();
  assert.equal(cache.put(closed, false), false);
  const f = tun();
  const plain: TunDevice = { name: f.name, closed: false, stats: f.stats, offload: false, write: () => true, setMtu: () => undefined, pause: () => undefined, resume: () => undefined, close: () => Promise.resolve() };
  assert.equal(cache.put(plain, false), false);
  assert.deepEqual(steps, []);
});

test('a failed reset throws and keeps nothing', () => {
  const cache = new InterfaceCache(2, { reset: () => { throw new Error('EPERM'); } });
  assert.throws(() => cache.put(new FakeTun(() => undefined), false), /EPERM/);
  assert.equal(cache.size, 0);
});

test('a reload that shrinks it deletes the surplus and frees their names; shutdown deletes the rest', async () => {
  const { cache, names, tun } = setup(3);
  const t = [tun(), tun(), tun()];
  for (const x of t) assert.ok(cache.put(x, false));
  await cache.resize(1);
  assert.equal(cache.capacity, 1);
  assert.deepEqual(t.map((x) => x.closed), [false, true, true]);
  assert.equal(names.take(), 'sstp1', 'the deleted interfaces\' names are free again');
  await cache.clear();
  assert.equal(t[0]!.closed, true);
  assert.equal(cache.size, 0);
  assert.equal(cache.put(tun(), false), true, 'still on after clear (stop resizes it to 0 first)');
});
