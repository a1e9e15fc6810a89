import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { readBudget } from '../../src/dataplane/read-budget.js';

/** A flowing stream whose 'data' handler charges a budget of `limit` bytes per turn. */
function budgeted(limit: number): { s: PassThrough; got: number[] } {
  const s = new PassThrough({ highWaterMark: 1 });
  const got: number[] = [];
  const charge = readBudget(s, limit);
  s.on('data', (c: Buffer) => {
    charge(c.length);
    got.push(c[0]!);
  });
  return { s, got };
}

test('read budget: past the budget the stream pauses and resumes on the next turn, losing nothing and keeping order', async () => {
  const { s, got } = budgeted(250);
  for (let i = 0; i < 6; i++) s.write(Buffer.alloc(100, i));
  await new Promise((r) => process.nextTick(r));
  // 100 + 100 + 100 crosses 250 on the third chunk: the rest waits for the loop.
  assert.equal(s.isPaused(), true);
  assert.deepEqual(got, [0, 1, 2]);
  await nextTurn();
  await nextTurn();
  assert.deepEqual(got, [0, 1, 2, 3, 4, 5]);
  assert.equal(s.isPaused(), false);
});

test('read budget: under the budget the stream never pauses; 0 turns it off', async () => {
  for (const limit of [10_000, 0]) {
    const { s, got } = budgeted(limit);
    for (let i = 0; i < 6; i++) s.write(Buffer.alloc(100, i));
    await new Promise((r) => process.nextTick(r));
    assert.equal(s.isPaused(), false, `limit ${limit}`);
    assert.deepEqual(got, [0, 1, 2, 3, 4, 5]);
  }
});

test('read budget: a stream destroyed while it yields is not resumed', async () => {
  const { s, got } = budgeted(100);
  s.write(Buffer.alloc(150, 7));
  s.write(Buffer.alloc(10, 8));
  await new Promise((r) => process.nextTick(r));
  assert.equal(s.isPaused(), true);
  s.destroy();
  await nextTurn();
  assert.deepEqual(got, [7]);
  assert.equal(s.isPaused(), true);
});
