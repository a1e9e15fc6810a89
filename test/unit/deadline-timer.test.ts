/**
 * The I/O edges' one timer (src/common/io/deadline-timer.ts), under node:test's mock clock: it fires
 * at the earliest deadline, a later deadline keeps the armed timer (the driver's saving), an earlier
 * one replaces it, undefined and cancel() disarm.
 */
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { DeadlineTimer } from '../../src/common/io/deadline-timer.js';

function rig(): { timer: DeadlineTimer; fired: number[]; tick: (ms: number) => void } {
  let now = 0;
  const fired: number[] = [];
  const timer = new DeadlineTimer(() => fired.push(now), () => now);
  const tick = (ms: number): void => {
    now += ms;
    mock.timers.tick(ms);
  };
  return { timer, fired, tick };
}

test('fires once at the deadline', (t) => {
  mock.timers.enable({ apis: ['setTimeout'] });
  t.after(() => mock.timers.reset());
  const { timer, fired, tick } = rig();
  timer.arm(100);
  tick(99);
  assert.deepEqual(fired, []);
  tick(1);
  assert.deepEqual(fired, [100]);
  tick(1000);
  assert.deepEqual(fired, [100]);
});

test('a later deadline keeps the armed timer; an earlier one replaces it', (t) => {
  mock.timers.enable({ apis: ['setTimeout'] });
  t.after(() => mock.timers.reset());
  const { timer, fired, tick } = rig();
  timer.arm(100);
  timer.arm(500);
  tick(100);
  assert.deepEqual(fired, [100], 'the earlier timer still fired (early for the 500 deadline)');
  timer.arm(500);
  timer.arm(300);
  tick(200);
  assert.deepEqual(fired, [100, 300]);
  tick(300);
  assert.deepEqual(fired, [100, 300], 'the replaced timer does not fire');
});

test('undefined and cancel() disarm; arming again after either works', (t) => {
  mock.timers.enable({ apis: ['setTimeout'] });
  t.after(() => mock.timers.reset());
  const { timer, fired, tick } = rig();
  timer.arm(50);
  timer.arm(undefined);
  tick(100);
  assert.deepEqual(fired, []);
  timer.arm(150);
  timer.cancel();
  tick(100);
  assert.deepEqual(fired, []);
  timer.arm(250);
  tick(50);
  assert.deepEqual(fired, [250]);
});

test('a deadline already past fires on the next turn', (t) => {
  mock.timers.enable({ apis: ['setTimeout'] });
  t.after(() => mock.timers.reset());
  const { timer, fired, tick } = rig();
  tick(1000);
  timer.arm(10);
  tick(0);
  assert.deepEqual(fired, [1000]);
});
