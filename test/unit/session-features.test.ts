/**
 * The session features as lifecycle subscribers, each against a fake session context: the rate
 * limit (shaper), Framed-Route, Session-/Idle-Timeout, RADIUS accounting.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SessionRejected, type SessionSubscriber } from '../../src/session/lifecycle.js';
import { rateLimitFeature } from '../../src/session/features/rate-limit.js';
import { framedRoutesFeature } from '../../src/session/features/framed-routes.js';
import { timeoutsFeature } from '../../src/session/features/timeouts.js';
import { accountingFeature } from '../../src/session/features/accounting.js';
import { SessionAccounting, type AccountingFactory } from '../../src/radius/accounting.js';
import { ACCT_STATUS, ATTR } from '../../src/radius/attributes.js';
import { CODE, intValue, textValue } from '../../src/radius/packet.js';
import type { RadiusOutcome, RadiusRequest } from '../../src/radius/client.js';
import type { Shaper } from '../../src/dataplane/shaper-api.js';
import type { RateLimit } from '../../src/config/model.js';
import type { FramedRoute } from '../../src/auth/backend.js';
import { accept, fakeSession } from '../support/session-context.js';

const flush = async (): Promise<void> => {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
};

class RecordingShaper implements Shaper {
  readonly calls: string[] = [];
  fail: Error | undefined;
  apply(ifname: string, limit: RateLimit | undefined): Promise<void> {
    this.calls.push(`${ifname} ${limit ? `${limit.downloadKbit}/${limit.uploadKbit}` : 'none'}`);
    return this.fail ? Promise.reject(this.fail) : Promise.resolve();
  }
}

const LIMIT: RateLimit = { downloadKbit: 4000, uploadKbit: 2000 };

describe('rate limit (shaper)', () => {
  it('the authorized limit is applied before traffic and removed before the interface goes', async () => {
    const shaper = new RecordingShaper();
    const s = fakeSession({ rateLimit: LIMIT, ifname: 'sstp4' });
    const sub = rateLimitFeature(shaper)();
    await sub.preUp!(s.ctx);
    await sub.down!(s.ctx, 'sstp4');
    await sub.down!(s.ctx, 'sstp4');
    assert.deepEqual(shaper.calls, ['sstp4 4000/2000', 'sstp4 none'], 'removed once');
  });

  it('no limit, nothing to do: neither at preUp nor at down', async () => {
    const shaper = new RecordingShaper();
    const s = fakeSession();
    const sub = rateLimitFeature(shaper)();
    assert.equal(sub.preUp!(s.ctx), undefined);
    assert.equal(sub.down!(s.ctx, 'sstp0'), undefined);
    assert.deepEqual(shaper.calls, []);
  });

  it('a limit the shaper cannot set refuses the session (rate-limit-failed); without a shaper it is refused at once', async () => {
    const shaper = new RecordingShaper();
    shaper.fail = new Error('tc: RTNETLINK answers: Operation not permitted');
    const s = fakeSession({ rateLimit: LIMIT });
    await assert.rejects(Promise.resolve(rateLimitFeature(shaper)().preUp!(s.ctx)), (e) => e instanceof SessionRejected && e.message === 'rate limit cannot be enforced');
    assert.match(String(s.events('rate-limit-failed')[0]?.['err']), /Operation not permitted/);

    const bare = fakeSession({ rateLimit: LIMIT });
    assert.throws(() => rateLimitFeature(undefined)().preUp!(bare.ctx), (e) => e instanceof SessionRejected && e.message === 'rate limit cannot be enforced');
    assert.equal(bare.events('rate-limit-unavailable').length, 1);
  });

  it('a change applies at once on the interface (logged as rate-limit); null removes it; before the interface only the log', async () => {
    const shaper = new RecordingShaper();
    const s = fakeSession({ ifname: 'sstp2' });
    const sub = rateLimitFeature(shaper)();
    await sub.changed!(s.ctx, { origin: 'operator', rateLimit: { downloadKbit: 8000, uploadKbit: 3000 } });
    await sub.changed!(s.ctx, { origin: 'operator', rateLimit: null });
    await sub.changed!(s.ctx, { origin: 'coa', sessionTimeoutS: 5 });
    s.facts.ifname = undefined;
    await sub.changed!(s.ctx, { origin: 'coa', rateLimit: LIMIT });
    assert.deepEqual(shaper.calls, ['sstp2 8000/3000', 'sstp2 none']);
    assert.deepEqual(s.events('rate-limit').map((l) => l['rateLimit']), ['8000/3000', 'none', '4000/2000']);
    await sub.down!(s.ctx, 'sstp2');
    assert.equal(shaper.calls.length, 3, 'an interface a change shaped is unshaped before it goes');
  });

  it('a change the shaper refuses, or that has no shaper, rejects and logs nothing', async () => {
    const shaper = new RecordingShaper();
    shaper.fail = new Error('tc failed');
    const s = fakeSession();
    await assert.rejects(Promise.resolve(rateLimitFeature(shaper)().changed!(s.ctx, { origin: 'coa', rateLimit: LIMIT })), /tc failed/);
    await assert.rejects(Promise.resolve(rateLimitFeature(undefined)().changed!(s.ctx, { origin: 'operator', rateLimit: LIMIT })), /rate limits are not available: no shaper configured/);
    assert.deepEqual(s.events('rate-limit'), []);
  });

  it('a removal that fails is logged; the interface still goes', async () => {
    const shaper = new RecordingShaper();
    const s = fakeSession({ rateLimit: LIMIT });
    const sub = rateLimitFeature(shaper)();
    await sub.preUp!(s.ctx);
    shaper.fail = new Error('ifb busy');
    await sub.down!(s.ctx, 'sstp0');
    assert.equal(s.events('rate-limit-remove-failed')[0]?.['ifname'], 'sstp0');
  });
});

describe('Framed-Route', () => {
  it('adds every route of the authorization through the interface when IPv4 is up; logs each outcome', async () => {
    const added: string[] = [];
    const add = (ifname: string, r: FramedRoute): Promise<void> => {
      added.push(`${r.prefix} dev ${ifname}${r.metric !== undefined ? ` metric ${r.metric}` : ''}`);
      return r.prefix.startsWith('10.99.') ? Promise.reject(new Error('RTNETLINK answers: File exists')) : Promise.resolve();
    };
    const make = framedRoutesFeature(add);
    const s = fakeSession({ ifname: 'sstp7', authorization: accept({ routes: [{ prefix: '10.77.0.0/24' }, { prefix: '10.99.0.0/16', metric: 5 }] }) });
    make().up!(s.ctx);
    await flush();
    assert.deepEqual(added, ['10.77.0.0/24 dev sstp7', '10.99.0.0/16 dev sstp7 metric 5']);
    assert.deepEqual(s.events('route-added').map((l) => [l['route'], l['ifname'], l['username']]), [['10.77.0.0/24', 'sstp7', 'alice']]);
    assert.equal(s.events('route-failed')[0]?.['route'], '10.99.0.0/16');

    make().up!(fakeSession({ authorization: accept() }).ctx);
    make().up!(fakeSession().ctx);
    assert.equal(added.length, 2, 'no routes, no authorization: nothing');
  });
});

describe('Session-Timeout and Idle-Timeout', () => {
  const up = (extra: Parameters<typeof accept>[0]): { s: ReturnType<typeof fakeSession>; sub: SessionSubscriber } => {
    const s = fakeSession({ authorization: accept(extra) });
    const sub = timeoutsFeature()();
    sub.up!(s.ctx);
    return { s, sub };
  };

  it('Session-Timeout ends the session at its time, with that cause', () => {
    const { s } = up({ sessionTimeoutS: 10 });
    s.advance(9_999);
    assert.deepEqual(s.ends, []);
    s.advance(10_000);
    assert.deepEqual(s.ends, [{ cause: 'session-timeout', reason: 'Session-Timeout reached' }]);
    assert.deepEqual(s.events('session-limit').map((l) => l['cause']), ['session-timeout']);
    assert.equal(s.timers.length, 0);
  });

  it('Idle-Timeout: traffic keeps the session; silence ends it within one sample of the timeout', () => {
    const { s } = up({ idleTimeoutS: 8 });
    for (let t = 1000; t <= 20_000; t += 1000) {
      s.counters.rxPackets++;
      s.advance(t);
    }
    assert.deepEqual(s.ends, [], 'busy');
    s.advance(28_000 - 1);
    assert.deepEqual(s.ends, []);
    s.advance(29_000);
    assert.deepEqual(s.ends, [{ cause: 'idle-timeout', reason: 'Idle-Timeout reached' }]);
  });

  it('CoA restarts a limit from now, 0 removes it; the end cancels the timer', () => {
    const { s, sub } = up({ sessionTimeoutS: 10 });
    s.advance(5_000);
    sub.changed!(s.ctx, { origin: 'coa', sessionTimeoutS: 10 });
    s.advance(14_999);
    assert.deepEqual(s.ends, []);
    sub.changed!(s.ctx, { origin: 'coa', sessionTimeoutS: 0 });
    assert.equal(s.timers.length, 0, 'nothing left to wait for');
    sub.changed!(s.ctx, { origin: 'coa', idleTimeoutS: 30 });
    assert.equal(s.timers.length, 1);
    sub.ended!(s.ctx, { cause: 'user-request', reason: 'bye' });
    assert.equal(s.timers.length, 0);
    s.advance(100_000);
    assert.deepEqual(s.ends, []);
  });

  it('a CoA before the session is up starts the limit; no timeouts, no timer', () => {
    const s = fakeSession();
    const sub = timeoutsFeature()();
    sub.up!(s.ctx);
    sub.changed!(s.ctx, { origin: 'coa', interimIntervalS: 60 });
    assert.equal(s.timers.length, 0);
    sub.changed!(s.ctx, { origin: 'coa', sessionTimeoutS: 3 });
    s.advance(3_000);
    assert.deepEqual(s.ends.map((e) => e.cause), ['session-timeout']);
  });
});

describe('RADIUS accounting', () => {
  /** A real SessionAccounting over a transport that answers (or not) at once. */
  const world = (answer = true): { factory: AccountingFactory; requests: RadiusRequest[] } => {
    const requests: RadiusRequest[] = [];
    const timers: (() => void)[] = [];
    const factory: AccountingFactory = (hooks) =>
      new SessionAccounting({
        transport: {
          request: (req): Promise<RadiusOutcome> => {
            requests.push(req);
            const reply = { code: CODE.ACCOUNTING_RESPONSE, identifier: 0, authenticator: Buffer.alloc(16), attributes: [] };
            return Promise.resolve(answer ? { ok: true, reply, requestAuthenticator: Buffer.alloc(16), secret: Buffer.alloc(1), server: 'rad' } : { ok: false, reason: 'no RADIUS server answered' });
          },
        },
        scheduler: { after: (_ms, fn) => (timers.push(fn), () => undefined) },
        clock: { monotonic: () => 0, wallSeconds: () => 1_700_000_000 },
        nas: { identifier: 'nas1' },
        acctTimeoutS: 0,
        ...hooks,
      });
    return { factory, requests };
  };
  const status = (r: RadiusRequest | undefined): number | undefined => intValue(r?.attributes.find((a) => a.type === ATTR.ACCT_STATUS_TYPE)?.value);
  const text = (r: RadiusRequest | undefined, type: number): string | undefined => {
    const v = r?.attributes.find((a) => a.type === type)?.value;
    return v ? textValue(v) : undefined;
  };

  it('Start when IPv4 is up (once, even when the link comes up again), Stop with the cause of the end', async () => {
    const w = world();
    const s = fakeSession({ ifname: 'sstp3', authorization: accept({ accounting: true }) });
    const sub = accountingFeature(w.factory)();
    sub.up!(s.ctx);
    sub.up!(s.ctx);
    await flush();
    assert.deepEqual(w.requests.map(status), [ACCT_STATUS.START]);
    assert.equal(text(w.requests[0], ATTR.NAS_PORT_ID), 'sstp3');
    assert.equal(text(w.requests[0], ATTR.ACCT_SESSION_ID), 's1');
    sub.ended!(s.ctx, { cause: 'admin-reset', reason: 'operator' });
    await flush();
    assert.deepEqual(w.requests.map(status), [ACCT_STATUS.START, ACCT_STATUS.STOP]);
    assert.equal(intValue(w.requests[1]?.attributes.find((a) => a.type === ATTR.ACCT_TERMINATE_CAUSE)?.value), 6);
  });

  it('only sessions RADIUS authorized with accounting, and only with an IPv4 address', async () => {
    const w = world();
    accountingFeature(w.factory)().up!(fakeSession({ authorization: accept() }).ctx);
    accountingFeature(w.factory)().up!(fakeSession({ authorization: accept({ accounting: true }), ipv4: undefined }).ctx);
    const never = accountingFeature(w.factory)();
    const s = fakeSession();
    never.up!(s.ctx);
    never.changed!(s.ctx, { origin: 'coa', interimIntervalS: 30, classes: [Buffer.from('x')] });
    never.ended!(s.ctx, { cause: 'user-request', reason: 'bye' });
    await flush();
    assert.deepEqual(w.requests, []);
  });

  it('CoA Class values are echoed from then on', async () => {
    const w = world();
    const s = fakeSession({ authorization: accept({ accounting: true, classes: [Buffer.from('old')] }) });
    const sub = accountingFeature(w.factory)();
    sub.up!(s.ctx);
    await flush();
    sub.changed!(s.ctx, { origin: 'coa', classes: [Buffer.from('new')] });
    sub.ended!(s.ctx, { cause: 'user-request', reason: 'bye' });
    await flush();
    assert.deepEqual(w.requests.map((r) => text(r, ATTR.CLASS)), ['old', 'new']);
  });

  it('an unanswered Start ends the session the way an operator does, NAS-Error', async () => {
    const w = world(false);
    const s = fakeSession({ authorization: accept({ accounting: true }) });
    accountingFeature(w.factory)().up!(s.ctx);
    await flush();
    assert.deepEqual(s.ends, [{ cause: 'terminate:nas-error', reason: 'no RADIUS server answered the Accounting-Start' }]);
    assert.equal(s.events('acct-start-failed').length, 1);
  });
});
