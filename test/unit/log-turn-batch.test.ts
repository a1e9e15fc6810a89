import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { TurnBatch } from '../../src/common/io/log-stdout.js';

test('the lines of one event-loop turn go out as one write, in order; the next turn starts a new one', async () => {
  const writes: string[] = [];
  const b = new TurnBatch((t) => void writes.push(t));
  b.write('a\n');
  b.write('b\n');
  b.write('c\n');
  assert.deepEqual(writes, [], 'nothing before the turn ends');
  await nextTurn();
  assert.deepEqual(writes, ['a\nb\nc\n']);
  b.write('d\n');
  await nextTurn();
  assert.deepEqual(writes, ['a\nb\nc\n', 'd\n']);
});

test('flush passes on what is pending at once (exit), then calls back; an empty flush writes nothing', async () => {
  const writes: string[] = [];
  const b = new TurnBatch((t) => void writes.push(t));
  b.write('x\n');
  b.write('y\n');
  let called = false;
  b.flush(() => (called = true));
  assert.deepEqual(writes, ['x\ny\n']);
  assert.ok(called);
  await nextTurn();
  b.flush();
  assert.deepEqual(writes, ['x\ny\n'], 'the scheduled turn found nothing left');
});
