/**
 * Per-session accounting under a fake clock and scheduler: Start/Interim/Stop contents, counters
 * with gigawords, terminate causes, acct-timeout, and what happens when servers stay silent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ATTR } from '../../src/radius/attributes.js';
import { SessionAccounting, accountingAttributes, terminateCauseCode, type AcctCounters, type AcctSession } from '../../src/radius/accounting.js';
import type { RadiusOutcome, RadiusRequest, RadiusTransport } from '../../src/radius/client.js';
import { CODE, intValue, textValue, type RadiusPacket } from '../../src/radius/packet.js';

const SESSION: AcctSession = {
  sid: 'abc000001', username: 'alice', nasPort: 1, ifname: 'sstp0', framedIp: '192.0.2.5',
  callingStationId: '198.51.100.7', calledStationId: '192.0.2.1', classes: [Buffer.from('gold')],
};

/** A transport whose answers the test releases; records every request. */
class HeldTransport implements RadiusTransport {
  readonly requests: { req: RadiusRequest; resolve: (o: RadiusOutcome) => void }[] = [];
  request(req: RadiusRequest): Promise<RadiusOutcome> {
    return new Promise((resolve) => this.requests.push({ req, resolve }));
  }
  answer(i: number, ok = true): void {
    const reply: RadiusPacket = { code: CODE.ACCOUNTING_RESPONSE, identifier: 0, authenticator: Buffer.alloc(16), attributes: [] };
    this.requests[i]!.resolve(ok ? { ok: true, reply, requestAuthenticator: Buffer.alloc(16), secret: Buffer.alloc(1), server: '192.0.2.10' } : { ok: false, reason: 'no RADIUS server answered' });
  }
  status(i: number): number | undefined {
    return intOf(this.requests[i]!.req, ATTR.ACCT_STATUS_TYPE);
  }
}

function intOf(req: RadiusRequest, type: number): number | undefined {
  return intValue(req.attributes.find((a) => a.type === type)?.value);
}

class FakeTime {
  now = 0;
  private timers: { at: number; fn: () => void; live: boolean }[] = [];
  after = (ms: number, fn: () => void): (() => void) => {
    const t = { at: this.now + ms, fn, live: true };
    this.timers.push(t);
    return () => void (t.live = false);
  };
  async advance(ms: number): Promise<void> {
    await flush();
    const end = this.now + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.live && t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      due.live = false;
      this.now = due.at;
      due.fn();
      await flush();
    }
    this.now = end;
  }
}
const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

function setup(
  acctTimeoutS = 3,
  counters: AcctCounters = { rxBytes: 0, txBytes: 0, rxPackets: 0, txPackets: 0 },
  interim: { interimDefaultS?: number; interimJitterMs?: () => number } = {},
) {
  const t = new FakeTime();
  const tr = new HeldTransport();
  const failures: string[] = [];
  const c = { ...counters };
  const acct = new SessionAccounting({
    transport: tr,
    scheduler: { after: t.after },
    clock: { monotonic: () => t.now, wallSeconds: () => 1_700_000_000 + t.now / 1000 },
    nas: { identifier: 'nas1', ipAddress: '203.0.113.1' },
    acctTimeoutS,
    counters: () => c,
    onFailure: (r) => failures.push(r),
    log: () => undefined,
    ...interim,
  });
  return { t, tr, failures, acct, c };
}

test('Start, Interim-Updates at the interval, Stop with cause, time and counters', async () => {
  const { t, tr, acct, c } = setup();
  acct.start(SESSION, 60);
  assert.equal(tr.status(0), 1, 'Start');
  tr.answer(0);
  await flush();
  await t.advance(59_999);
  assert.equal(tr.requests.length, 1);
  await t.advance(1);
  assert.equal(tr.status(1), 3, 'Interim-Update after 60 s');
  Object.assign(c, { rxBytes: 1000, txBytes: 2000, rxPackets: 10, txPackets: 20 });
  tr.answer(1);
  await t.advance(60_000);
  assert.equal(tr.status(2), 3);
  assert.equal(intOf(tr.requests[2]!.req, ATTR.ACCT_SESSION_TIME), 120);
  assert.equal(intOf(tr.requests[2]!.req, ATTR.ACCT_INPUT_OCTETS), 1000);
  tr.answer(2);
  await t.advance(5000);
  const stopped = acct.stop('user-request');
  await flush();
  const stop = tr.requests[3]!.req;
  assert.equal(tr.status(3), 2);
  assert.equal(intOf(stop, ATTR.ACCT_TERMINATE_CAUSE), 1);
  assert.equal(intOf(stop, ATTR.ACCT_SESSION_TIME), 125);
  assert.equal(intOf(stop, ATTR.ACCT_OUTPUT_OCTETS), 2000);
  assert.equal(intOf(stop, ATTR.ACCT_OUTPUT_PACKETS), 20);
  tr.answer(3);
  await stopped;
  await t.advance(600_000);
  assert.equal(tr.requests.length, 4, 'nothing after Stop');
  assert.equal(acct.stop('admin-reset'), stopped, 'Stop only once');
  for (const r of tr.requests) {
    assert.equal(r.req.code, CODE.ACCOUNTING_REQUEST);
    assert.equal(textValue(r.req.attributes.find((a) => a.type === ATTR.ACCT_SESSION_ID)?.value), 'abc000001', 'same Acct-Session-Id');
    assert.equal(String(r.req.attributes.find((a) => a.type === ATTR.CLASS)?.value), 'gold', 'Class echoed');
  }
});

test('counters past 4 GiB: octets mod 2^32 plus gigawords', () => {
  const big: AcctCounters = { rxBytes: 5 * 2 ** 32 + 7, txBytes: 2 ** 32, rxPackets: 3, txPackets: 4 };
  const a = accountingAttributes(3, SESSION, {}, big, 10, 1);
  const v = (type: number): number | undefined => intValue(a.find((x) => x.type === type)?.value);
  assert.equal(v(ATTR.ACCT_INPUT_OCTETS), 7);
  assert.equal(v(ATTR.ACCT_INPUT_GIGAWORDS), 5);
  assert.equal(v(ATTR.ACCT_OUTPUT_OCTETS), 0);
  assert.equal(v(ATTR.ACCT_OUTPUT_GIGAWORDS), 1);
  const start = accountingAttributes(1, SESSION, { identifier: 'n' }, big, 0, 1);
  assert.equal(start.some((x) => x.type === ATTR.ACCT_INPUT_OCTETS), false, 'Start carries no counters');
  assert.deepEqual(start.slice(0, 5).map((x) => x.type), [40, 1, 32, 5, 87]);
});

test('terminate causes map to RFC 2866 values', () => {
  const m = Object.fromEntries(['user-request', 'lost-carrier', 'idle-timeout', 'session-timeout', 'admin-reset', 'session-replaced', 'nas-error', 'nas-reboot', 'port-error', 'http-error'].map((c) => [c, terminateCauseCode(c)]));
  assert.deepEqual(m, { 'user-request': 1, 'lost-carrier': 2, 'idle-timeout': 4, 'session-timeout': 5, 'admin-reset': 6, 'session-replaced': 6, 'nas-error': 9, 'nas-reboot': 11, 'port-error': 8, 'http-error': 9 });
});

test('Start unanswered: the session is ended, and no Stop follows', async () => {
  const { tr, acct, failures } = setup();
  acct.start(SESSION, 60);
  tr.answer(0, false);
  await flush();
  assert.deepEqual(failures, ['no RADIUS server answered the Accounting-Start']);
  await acct.stop('nas-error');
  assert.equal(tr.requests.length, 1);
});

test('Stop while the Start is still out: the Stop waits for it, and goes only if it was answered', async () => {
  const { tr, acct } = setup();
  acct.start(SESSION, 60);
  const stopped = acct.stop('lost-carrier');
  await flush();
  assert.equal(tr.requests.length, 1, 'Stop held back');
  tr.answer(0);
  await flush();
  assert.equal(tr.status(1), 2);
  tr.answer(1);
  await stopped;
});

test('acct-timeout: an unanswered Interim-Update ends the session; 0 = never', async () => {
  const { t, tr, acct, failures } = setup(3);
  acct.start(SESSION, 10);
  tr.answer(0);
  await t.advance(10_000);
  const interim = tr.requests[1]!.req;
  assert.equal(interim.deadline, 10_000 + 3000, 'the interim may take acct-timeout seconds');
  tr.answer(1, false);
  await flush();
  assert.deepEqual(failures, ['Interim-Update unanswered for 3 s (acct-timeout)']);
  await t.advance(60_000);
  assert.equal(tr.requests.length, 2, 'no more interims after the failure');
  const stopped = acct.stop('nas-error');
  await flush();
  assert.equal(tr.status(2), 2, 'the Stop is still tried');
  assert.equal(intOf(tr.requests[2]!.req, ATTR.ACCT_TERMINATE_CAUSE), 9);
  tr.answer(2);
  await stopped;

  const z = setup(0);
  z.acct.start(SESSION, 10);
  z.tr.answer(0);
  await z.t.advance(10_000);
  assert.equal(z.tr.requests[1]!.req.deadline, undefined);
  z.tr.answer(1, false);
  await z.t.advance(10_000);
  assert.deepEqual(z.failures, []);
  assert.equal(z.tr.status(2), 3, 'the updates go on');
});

test('CoA can change the interim interval; no interval, no updates', async () => {
  const { t, tr, acct } = setup();
  acct.start(SESSION, undefined);
  tr.answer(0);
  await t.advance(3_600_000);
  assert.equal(tr.requests.length, 1);
  acct.setInterim(30);
  await t.advance(30_000);
  assert.equal(tr.status(1), 3);
});

test('accounting-interim-interval is the period when RADIUS gives none (RADIUS\'s wins); acct-interim-jitter is added to each period', async () => {
  const jitters = [700, 300];
  const { t, tr, acct } = setup(3, undefined, { interimDefaultS: 10, interimJitterMs: () => jitters.shift() ?? 0 });
  acct.start(SESSION, undefined);
  tr.answer(0);
  await t.advance(10_699);
  assert.equal(tr.requests.length, 1, 'not before 10 s + the first jitter');
  await t.advance(1);
  assert.equal(tr.status(1), 3);
  tr.answer(1);
  await t.advance(10_299);
  assert.equal(tr.requests.length, 2);
  await t.advance(1);
  assert.equal(tr.status(2), 3, 'the next period has its own jitter');
  const own = setup(3, undefined, { interimDefaultS: 10 });
  own.acct.start(SESSION, 60);
  own.tr.answer(0);
  await own.t.advance(59_999);
  assert.equal(own.tr.requests.length, 1, 'Acct-Interim-Interval from RADIUS overrides the default');
  await own.t.advance(1);
  assert.equal(own.tr.status(1), 3);
});
