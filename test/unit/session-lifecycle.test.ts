/**
 * The session lifecycle dispatcher: hook order, `ended` exactly once, a refusing preUp ends the
 * session, a refusing `changed` stops the subscribers after it, nothing but `down` after the end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  SessionLifecycle,
  SessionRejected,
  type SessionChange,
  type SessionSubscriber,
} from '../../src/session/lifecycle.js';
import { fakeSession, type FakeSession } from '../support/session-context.js';

/** A fake session context (test/support/session-context.ts) and the hooks called, in order. */
function harness(): FakeSession & { readonly calls: string[] } {
  return Object.assign(fakeSession(), { calls: [] as string[] });
}

/** A subscriber that records every hook as `name.hook`. */
function recorder(name: string, calls: string[], extra: Partial<SessionSubscriber> = {}): SessionSubscriber {
  return {
    authorized: () => void calls.push(`${name}.authorized`),
    preUp: () => void calls.push(`${name}.preUp`),
    up: () => void calls.push(`${name}.up`),
    down: (_ctx, ifname) => void calls.push(`${name}.down:${ifname}`),
    ended: (_ctx, end) => void calls.push(`${name}.ended:${end.cause}`),
    changed: () => void calls.push(`${name}.changed`),
    ...extra,
  };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
const CHANGE: SessionChange = { origin: 'coa', sessionTimeoutS: 60 };

test('every hook runs in subscriber order', async () => {
  const h = harness();
  const lc = new SessionLifecycle(h.ctx, [recorder('a', h.calls), recorder('b', h.calls), recorder('c', h.calls)]);
  lc.authorized();
  assert.equal(lc.preUp(), true);
  lc.up();
  await lc.changed(CHANGE);
  await lc.down('sstp0');
  lc.ended({ cause: 'user-request', reason: 'bye' });
  assert.deepEqual(h.calls, [
    'a.authorized', 'b.authorized', 'c.authorized',
    'a.preUp', 'b.preUp', 'c.preUp',
    'a.up', 'b.up', 'c.up',
    'a.changed', 'b.changed', 'c.changed',
    'a.down:sstp0', 'b.down:sstp0', 'c.down:sstp0',
    'a.ended:user-request', 'b.ended:user-request', 'c.ended:user-request',
  ]);
});

test('subscribers without a hook are skipped; factories make one subscriber per session', () => {
  const h = harness();
  let made = 0;
  const factory = (): SessionSubscriber => {
    const n = ++made;
    return { up: () => void h.calls.push(`up${n}`) };
  };
  const one = SessionLifecycle.create(h.ctx, [factory, () => ({})]);
  const two = SessionLifecycle.create(h.ctx, [factory]);
  one.authorized();
  one.up();
  two.up();
  assert.deepEqual(h.calls, ['up1', 'up2']);
});

test('ended runs exactly once, with the first end; a failing subscriber does not keep the others from hearing it', () => {
  const h = harness();
  const failing: SessionSubscriber = {
    ended: () => {
      throw new Error('boom');
    },
  };
  const lc = new SessionLifecycle(h.ctx, [recorder('a', h.calls), failing, recorder('b', h.calls)]);
  assert.equal(lc.isEnded, false);
  lc.ended({ cause: 'admin-reset', reason: 'operator' });
  lc.ended({ cause: 'lost-carrier', reason: 'connection closed by peer' });
  lc.ended({ cause: 'nas-error', reason: 'later' });
  assert.equal(lc.isEnded, true);
  assert.deepEqual(h.calls, ['a.ended:admin-reset', 'b.ended:admin-reset']);
  assert.equal(h.logs.filter((l) => l['msg'] === 'session-bug' && l['hook'] === 'ended').length, 1);
});

test('after the end only down runs: no authorized, preUp or up; a change is refused', async () => {
  const h = harness();
  const lc = new SessionLifecycle(h.ctx, [recorder('a', h.calls)]);
  lc.ended({ cause: 'nas-reboot', reason: 'server shutting down' });
  lc.authorized();
  assert.equal(lc.preUp(), false);
  lc.up();
  await assert.rejects(lc.changed(CHANGE), SessionRejected);
  await lc.down('sstp3');
  assert.deepEqual(h.calls, ['a.ended:nas-reboot', 'a.down:sstp3']);
  assert.deepEqual(h.ends, []);
});

test('a preUp that refuses at once ends the session (nas-error, its reason) and the later subscribers are not asked', () => {
  const h = harness();
  const refusing: SessionSubscriber = {
    preUp: () => {
      h.calls.push('refuse.preUp');
      throw new SessionRejected('rate limit cannot be enforced');
    },
  };
  const lc = new SessionLifecycle(h.ctx, [recorder('a', h.calls), refusing, recorder('b', h.calls)]);
  assert.equal(lc.preUp(), false);
  assert.deepEqual(h.calls, ['a.preUp', 'refuse.preUp']);
  assert.deepEqual(h.ends, [{ cause: 'nas-error', reason: 'rate limit cannot be enforced' }]);
  assert.equal(h.logs.length, 0, 'a refusal is not a bug');
});

test('a preUp that refuses later ends the session once, unless it already ended', async () => {
  const h = harness();
  const later = (reason: string): SessionSubscriber => ({ preUp: () => Promise.reject(new SessionRejected(reason)) });
  const lc = new SessionLifecycle(h.ctx, [later('first'), recorder('a', h.calls), later('second')]);
  const held = lc.preUp();
  assert.ok(held instanceof Promise, 'the session is held until every preUp has finished');
  assert.deepEqual(h.calls, ['a.preUp']);
  assert.equal(await held, false, 'a refusal: the session never goes up');
  assert.deepEqual(h.ends, [{ cause: 'nas-error', reason: 'first' }]);

  const h2 = harness();
  const lc2 = new SessionLifecycle(h2.ctx, [later('too late')]);
  const held2 = lc2.preUp();
  lc2.ended({ cause: 'user-request', reason: 'bye' });
  assert.equal(await held2, false);
  assert.deepEqual(h2.ends, []);
});

test('a preUp that fails with something other than a refusal is a bug: logged, the session ends with internal error', () => {
  const h = harness();
  const buggy: SessionSubscriber = {
    preUp: () => {
      throw new TypeError('undefined is not a function');
    },
  };
  const lc = new SessionLifecycle(h.ctx, [buggy]);
  assert.equal(lc.preUp(), false);
  assert.deepEqual(h.ends, [{ cause: 'nas-error', reason: 'internal error' }]);
  assert.equal(h.logs[0]?.['msg'], 'session-bug');
  assert.equal(h.logs[0]?.['hook'], 'preUp');
});

test('a change one subscriber refuses stops the ones after it and reaches the caller as thrown', async () => {
  const h = harness();
  const err = new SessionRejected('tc failed');
  const refusing: SessionSubscriber = {
    changed: async () => {
      await tick();
      h.calls.push('refuse.changed');
      throw err;
    },
  };
  const lc = new SessionLifecycle(h.ctx, [recorder('a', h.calls), refusing, recorder('b', h.calls)]);
  await assert.rejects(lc.changed(CHANGE), (e) => e === err);
  assert.deepEqual(h.calls, ['a.changed', 'refuse.changed']);
  assert.deepEqual(h.ends, [], 'a refused change does not end the session');
});

test('changes run one subscriber after the other: the next starts when the last one finished', async () => {
  const h = harness();
  const slow: SessionSubscriber = {
    changed: async () => {
      h.calls.push('slow.start');
      await tick();
      h.calls.push('slow.done');
    },
  };
  const lc = new SessionLifecycle(h.ctx, [slow, recorder('b', h.calls)]);
  await lc.changed(CHANGE);
  assert.deepEqual(h.calls, ['slow.start', 'slow.done', 'b.changed']);
});

test('down: every subscriber is called at once, it resolves when all settled, a failure is logged, not thrown', async () => {
  const h = harness();
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const waiting: SessionSubscriber = {
    down: async () => {
      h.calls.push('wait.down');
      await held;
      h.calls.push('wait.done');
    },
  };
  const failing: SessionSubscriber = { down: () => Promise.reject(new Error('ifb busy')) };
  const lc = new SessionLifecycle(h.ctx, [waiting, failing, recorder('b', h.calls)]);
  let done = false;
  const p = lc.down('sstp1').then(() => (done = true));
  assert.deepEqual(h.calls, ['wait.down', 'b.down:sstp1']);
  await tick();
  assert.equal(done, false, 'the interface waits for every subscriber');
  release();
  await p;
  assert.deepEqual(h.calls, ['wait.down', 'b.down:sstp1', 'wait.done']);
  assert.equal(h.logs.filter((l) => l['msg'] === 'session-bug' && l['hook'] === 'down').length, 1);
});
