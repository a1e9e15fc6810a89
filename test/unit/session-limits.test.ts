import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SessionLimits } from '../../src/session/limits.js';

/** Jumps from deadline to deadline, feeding the packet count `count(t)`, until a limit runs out. */
function runOut(l: SessionLimits, count: (t: number) => number, horizon = 10_000_000): { cause: string | undefined; at: number } {
  for (let guard = 0; guard < 100_000; guard++) {
    const d = l.nextDeadline();
    if (d === undefined || d > horizon) return { cause: undefined, at: horizon };
    const cause = l.check(d, count(d));
    if (cause) return { cause, at: d };
  }
  throw new Error('no end');
}

test('Session-Timeout ends the session at exactly that time', () => {
  assert.deepEqual(runOut(new SessionLimits(1000, { sessionTimeoutS: 60 }), () => 0), { cause: 'session-timeout', at: 61_000 });
});

test('Idle-Timeout: ends within one sample after the last packet, not while traffic moves', () => {
  // Traffic until t = 100 s, then silence; idle 40 s, sampled every 5 s.
  const r = runOut(new SessionLimits(0, { idleTimeoutS: 40 }), (t) => Math.floor(Math.min(t, 100_000) / 1000));
  assert.equal(r.cause, 'idle-timeout');
  assert.ok(r.at >= 140_000 && r.at <= 145_000, String(r.at));
  // Constant traffic: never idle.
  assert.deepEqual(runOut(new SessionLimits(0, { idleTimeoutS: 40 }), (t) => t, 1_000_000), { cause: undefined, at: 1_000_000 });
  // No traffic at all: idle after exactly the timeout.
  assert.deepEqual(runOut(new SessionLimits(0, { idleTimeoutS: 8 }), () => 0), { cause: 'idle-timeout', at: 8000 });
});

test('CoA: set() restarts a limit from now, 0 removes it, absent keeps it', () => {
  const l = new SessionLimits(0, { sessionTimeoutS: 60, idleTimeoutS: 30 });
  assert.equal(l.check(20_000, 5), undefined);
  l.set(50_000, { sessionTimeoutS: 100 });
  assert.equal(l.check(60_000, 5), 'idle-timeout', 'the idle limit kept running: 40 s without a packet');
  assert.equal(l.check(60_000, 6), undefined);
  l.set(60_000, { idleTimeoutS: 0 }, 6);
  assert.equal(l.nextDeadline(), 150_000);
  assert.equal(l.check(150_000, 0), 'session-timeout');
  const none = new SessionLimits(0, {});
  assert.equal(none.active, false);
  assert.equal(none.nextDeadline(), undefined);
});
