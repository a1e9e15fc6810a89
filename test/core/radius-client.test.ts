/**
 * The RADIUS client core with a fake clock and scripted servers: retries, failover after max-try,
 * fail-time, Acct-Delay-Time, Identifier space, and replies that must be dropped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { RadiusClientCore, chooseServer, type ClientOutput, type RadiusClientConfig, type RadiusOutcome, type RadiusRequest, type RadiusServer } from '../../src/radius/client.js';
import { CODE, first, intValue, textAttr, verifyAccessRequestMa, verifyComputedRequest, unhidePassword } from '../../src/radius/packet.js';
import { ATTR } from '../../src/radius/attributes.js';
import { decoded, replyTo } from '../support/radius-fake.js';

const S1 = Buffer.from('secret-one');
const S2 = Buffer.from('secret-two');
const server = (address: string, secret: Buffer, o: Partial<RadiusServer> = {}): RadiusServer => ({
  address, authPort: 1812, acctPort: 1813, secret, failTimeS: 0, requireMessageAuthenticator: 'auto', ...o,
});
const cfg = (servers: RadiusServer[], o: Partial<RadiusClientConfig> = {}): RadiusClientConfig => ({ servers, timeoutMs: 3000, maxTry: 3, ...o });

type Send = Extract<ClientOutput, { type: 'send' }>;

class Harness {
  readonly core: RadiusClientCore;
  now = 0;
  readonly sends: (Send & { at: number })[] = [];
  readonly done = new Map<number, RadiusOutcome>();
  readonly logs: Extract<ClientOutput, { type: 'log' }>[] = [];
  constructor(config: RadiusClientConfig) {
    this.core = new RadiusClientCore(config, randomBytes);
  }
  private drain(): void {
    for (const o of this.core.poll()) {
      if (o.type === 'send') this.sends.push({ ...o, at: this.now });
      else if (o.type === 'done') this.done.set(o.handle, o.outcome);
      else this.logs.push(o);
    }
  }
  submit(req: RadiusRequest): number {
    const h = this.core.submit(this.now, req);
    this.drain();
    return h;
  }
  auth(user = 'alice', password = 'pw'): number {
    const h = this.core.submit(this.now, {
      role: 'auth',
      code: CODE.ACCESS_REQUEST,
      attributes: [textAttr(ATTR.USER_NAME, user), { ...textAttr(ATTR.USER_PASSWORD, password), hide: true }],
    });
    this.drain();
    return h;
  }
  acct(deadline?: number): number {
    const h = this.core.submit(this.now, {
      role: 'acct',
      code: CODE.ACCOUNTING_REQUEST,
      attributes: [textAttr(ATTR.ACCT_SESSION_ID, 'abc')],
      ...(deadline !== undefined ? { deadline } : {}),
    });
    this.drain();
    return h;
  }
  /** Advances the clock deadline by deadline until `until` (or until nothing is pending). */
  run(until: number): void {
    for (let guard = 0; guard < 10_000; guard++) {
      const d = this.core.nextDeadline();
      if (d === undefined || d > until) break;
      this.now = Math.max(this.now, d);
      this.core.handleTimeout(this.now);
      this.drain();
    }
    this.now = Math.max(this.now, until);
  }
  reply(send: Send, secret: Buffer, o: Parameters<typeof replyTo>[2] = {}, from: { address: string; port: number } = send): void {
    this.core.receive(this.now, from, replyTo(send.bytes, secret, o));
    this.drain();
  }
  raw(from: { address: string; port: number }, bytes: Buffer): void {
    this.core.receive(this.now, from, bytes);
    this.drain();
  }
  last(): Send & { at: number } {
    return this.sends[this.sends.length - 1]!;
  }
}

test('Access-Request: Message-Authenticator first, password hidden per server, reply accepted', () => {
  const h = new Harness(cfg([server('192.0.2.1', S1)]));
  const handle = h.auth('alice', 'arctangent');
  const s = h.last();
  assert.equal(s.address, '192.0.2.1');
  assert.equal(s.port, 1812);
  const req = decoded(s.bytes);
  assert.equal(req.attributes[0]!.type, ATTR.MESSAGE_AUTHENTICATOR);
  assert.equal(verifyAccessRequestMa(s.bytes, S1), 'valid');
  assert.equal(unhidePassword(first(req, ATTR.USER_PASSWORD)!, S1, req.authenticator).toString(), 'arctangent');
  h.reply(s, S1, { attributes: [textAttr(ATTR.FILTER_ID, '1/1')] });
  const out = h.done.get(handle);
  assert.ok(out?.ok);
  assert.equal(out.server, '192.0.2.1');
  assert.deepEqual(out.requestAuthenticator, req.authenticator);
  assert.equal(h.core.outstanding, 0);
});

test('retries reuse the bytes; after max-try timeouts the next server gets a new packet', () => {
  const h = new Harness(cfg([server('192.0.2.1', S1), server('192.0.2.2', S2)], { timeoutMs: 2000, maxTry: 3 }));
  const handle = h.auth();
  h.run(6000);
  const to1 = h.sends.filter((s) => s.address === '192.0.2.1');
  const to2 = h.sends.filter((s) => s.address === '192.0.2.2');
  assert.deepEqual(to1.map((s) => s.at), [0, 2000, 4000], 'timeout × max-try on the first server');
  assert.ok(to1.every((s) => s.bytes.equals(to1[0]!.bytes)), 'a retransmission is the same packet');
  assert.deepEqual(to2.map((s) => s.at), [6000], 'then the second server');
  const r1 = decoded(to1[0]!.bytes);
  const r2 = decoded(to2[0]!.bytes);
  assert.notDeepEqual(r2.authenticator, r1.authenticator, 'new Request Authenticator');
  assert.equal(verifyAccessRequestMa(to2[0]!.bytes, S2), 'valid', 'sealed with the second secret');
  assert.ok(h.logs.some((l) => l.event === 'radius-server-timeout' && l.fields['server'] === '192.0.2.1'));
  h.reply(to2[0]!, S2);
  assert.equal(h.done.get(handle)?.ok, true);
});

test('every server silent: the request fails after servers × max-try × timeout', () => {
  const h = new Harness(cfg([server('192.0.2.1', S1), server('192.0.2.2', S2)], { timeoutMs: 1000, maxTry: 2 }));
  const handle = h.auth();
  h.run(3999);
  assert.equal(h.done.has(handle), false);
  h.run(4000);
  assert.deepEqual(h.done.get(handle), { ok: false, reason: 'no RADIUS server answered' });
  assert.equal(h.sends.length, 4);
});

test('fail-time: a failed server is skipped for that long, then tried first again', () => {
  const h = new Harness(cfg([server('192.0.2.1', S1, { failTimeS: 30 }), server('192.0.2.2', S2)], { timeoutMs: 1000, maxTry: 1 }));
  h.auth();
  h.run(1000);
  h.reply(h.last(), S2);
  // Within fail-time: straight to the second server.
  h.now = 10_000;
  h.auth();
  assert.equal(h.last().address, '192.0.2.2');
  h.reply(h.last(), S2);
  // After it: the first server again.
  h.now = 31_001;
  h.auth();
  assert.equal(h.last().address, '192.0.2.1');
});

test('fail-time 0: the first server is tried first every time', () => {
  const h = new Harness(cfg([server('192.0.2.1', S1), server('192.0.2.2', S2)], { timeoutMs: 1000, maxTry: 1 }));
  h.auth();
  h.run(1000);
  h.reply(h.last(), S2);
  h.now = 1500;
  h.auth();
  assert.equal(h.last().address, '192.0.2.1');
});

test('all servers skipped: they are tried anyway rather than failing at once', () => {
  const h = new Harness(cfg([server('192.0.2.1', S1, { failTimeS: 60 })], { timeoutMs: 1000, maxTry: 1 }));
  const a = h.auth();
  h.run(1000);
  assert.equal(h.done.get(a)?.ok, false);
  h.now = 2000;
  h.auth();
  assert.equal(h.last().address, '192.0.2.1');
});

test('forged or stray replies are dropped; the real one still counts', () => {
  const h = new Harness(cfg([server('192.0.2.1', S1)]));
  const handle = h.auth();
  const s = h.last();
  h.reply(s, S1, {}, { address: '192.0.2.1', port: 1999 }); // wrong source port
  h.reply(s, S1, {}, { address: '192.0.2.9', port: 1812 }); // wrong source address
  h.reply(s, S1, { identifier: (decoded(s.bytes).identifier + 1) & 0xff }); // wrong Identifier
  h.reply(s, Buffer.from('guess'), {}); // wrong secret → wrong Response Authenticator
  h.reply(s, S1, { code: CODE.ACCOUNTING_RESPONSE }); // wrong code
  h.raw(s, Buffer.from([2, decoded(s.bytes).identifier, 0, 30])); // truncated
  const forgedMa = replyTo(s.bytes, S1, { ma: true });
  forgedMa[forgedMa.length - 1]! ^= 1; // break the MA, keep…
  h.raw(s, forgedMa);
  assert.equal(h.done.has(handle), false, 'nothing was trusted');
  const reasons = h.logs.filter((l) => l.event === 'radius-reply-dropped').map((l) => l.fields['reason']);
  assert.ok(reasons.includes('wrong Response Authenticator (shared secret?)'), String(reasons));
  assert.ok(reasons.some((r) => String(r).includes('does not answer')), String(reasons));
  h.reply(s, S1);
  assert.equal(h.done.get(handle)?.ok, true);
});

test('Message-Authenticator "auto": required once the server has sent one; "always": from the start', () => {
  const h = new Harness(cfg([server('192.0.2.1', S1)]));
  const a = h.auth();
  h.reply(h.last(), S1); // stock FreeRADIUS 3.2.1: none
  assert.equal(h.done.get(a)?.ok, true);
  const b = h.auth();
  h.reply(h.last(), S1, { ma: true });
  assert.equal(h.done.get(b)?.ok, true);
  const c = h.auth();
  h.reply(h.last(), S1); // a reply without MA now: could be a BlastRADIUS forgery
  assert.equal(h.done.has(c), false);
  h.reply(h.last(), S1, { ma: true });
  assert.equal(h.done.get(c)?.ok, true);
  // Accounting-Response carries no MA even from 3.2.5: never required there.
  const d = h.acct();
  h.reply(h.last(), S1);
  assert.equal(h.done.get(d)?.ok, true);

  const hard = new Harness(cfg([server('192.0.2.1', S1, { requireMessageAuthenticator: 'always' })]));
  const e = hard.auth();
  hard.reply(hard.last(), S1);
  assert.equal(hard.done.has(e), false);
  hard.reply(hard.last(), S1, { ma: true, code: CODE.ACCESS_REJECT });
  assert.equal(hard.done.get(e)?.ok, true);
});

test('accounting: each retry is a new packet with the delay so far; the deadline ends it', () => {
  const h = new Harness(cfg([server('192.0.2.1', S1)], { timeoutMs: 2000, maxTry: 3 }));
  const handle = h.acct(5000);
  h.run(5000);
  assert.deepEqual(h.done.get(handle), { ok: false, reason: 'no answer within 5 s' });
  assert.deepEqual(h.sends.map((s) => s.at), [0, 2000, 4000]);
  const pkts = h.sends.map((s) => decoded(s.bytes));
  assert.deepEqual(pkts.map((p) => intValue(first(p, ATTR.ACCT_DELAY_TIME))), [0, 2, 4]);
  assert.equal(new Set(pkts.map((p) => p.identifier)).size, 3, 'a new Identifier per changed packet');
  for (const s of h.sends) assert.equal(verifyComputedRequest(s.bytes, S1).authenticator, true);
  assert.equal(h.sends[0]!.port, 1813);
});

test('256 Identifiers per server: the next request waits for one to come free', () => {
  const h = new Harness(cfg([server('192.0.2.1', S1)]));
  const handles = Array.from({ length: 257 }, () => h.auth());
  assert.equal(h.sends.length, 256);
  assert.equal(new Set(h.sends.map((s) => decoded(s.bytes).identifier)).size, 256);
  h.reply(h.sends[0]!, S1);
  assert.equal(h.done.get(handles[0]!)?.ok, true);
  assert.equal(h.sends.length, 257, 'the waiting request went out');
  h.reply(h.last(), S1);
  assert.equal(h.done.get(handles[256]!)?.ok, true);
});

test('a cancelled request is forgotten: its reply is stray, its Identifier free', () => {
  const h = new Harness(cfg([server('192.0.2.1', S1)]));
  const handle = h.auth();
  const s = h.last();
  h.core.cancel(handle);
  h.reply(s, S1);
  assert.equal(h.done.has(handle), false);
  assert.equal(h.core.outstanding, 0);
  assert.equal(h.core.nextDeadline(), undefined);
});

test('reconfigure: new requests use the new servers, the one under way keeps its own', () => {
  const h = new Harness(cfg([server('192.0.2.1', S1)], { timeoutMs: 1000, maxTry: 1 }));
  const a = h.auth();
  h.core.reconfigure(cfg([server('192.0.2.2', S2)], { timeoutMs: 1000, maxTry: 1 }));
  h.auth();
  assert.equal(h.last().address, '192.0.2.2');
  h.run(1000);
  assert.equal(h.done.get(a)?.ok, false);
  assert.equal(h.sends.filter((s) => s.address === '192.0.2.1').length, 1);
});

test('priority (accel-ppp weight): requests in flight are shared by weight; ties go to the first configured', () => {
  const h = new Harness(cfg([server('192.0.2.1', S1), server('192.0.2.2', S2, { weight: 2 })]));
  for (let i = 0; i < 6; i++) h.auth(`u${i}`);
  // Loads per weight: 1 → .1, then .2 (0/2 < 1/1), .2 (1/2 < 1/1), .1 (2/1 = 2/2: not lower), .2, .2 …
  assert.deepEqual(h.sends.map((s) => s.address), ['192.0.2.1', '192.0.2.2', '192.0.2.2', '192.0.2.1', '192.0.2.2', '192.0.2.2']);
  // Answered requests no longer count: with nothing in flight the first configured is chosen again.
  for (const s of [...h.sends]) h.reply(s, s.address === '192.0.2.1' ? S1 : S2);
  h.auth('again');
  assert.equal(h.last().address, '192.0.2.1');
});

test('backup: asked only once every non-backup server failed, whatever the order configured', () => {
  const h = new Harness(cfg([server('192.0.2.9', S2, { backup: true }), server('192.0.2.1', S1, { failTimeS: 30 })], { timeoutMs: 1000, maxTry: 1 }));
  for (let i = 0; i < 3; i++) h.auth(`u${i}`);
  assert.deepEqual(h.sends.map((s) => s.address), ['192.0.2.1', '192.0.2.1', '192.0.2.1'], 'the backup is idle while the other is up, however loaded');
  h.run(1000);
  // The primary timed out: each request moved on to the backup, and new ones go there during fail-time.
  assert.deepEqual(h.sends.slice(3).map((s) => s.address), ['192.0.2.9', '192.0.2.9', '192.0.2.9']);
  h.now = 5000;
  h.auth('during-fail-time');
  assert.equal(h.last().address, '192.0.2.9');
});

test('chooseServer: non-backup first, then load per weight, then configuration order', () => {
  const a: RadiusServer = server('192.0.2.1', S1);
  const b: RadiusServer = server('192.0.2.2', S1, { weight: 10 });
  const c: RadiusServer = server('192.0.2.3', S1, { backup: true, weight: 255 });
  const loads = new Map([[a, 1], [b, 9], [c, 0]]);
  assert.equal(chooseServer([a, b, c], (s) => loads.get(s)!), b, '9/10 < 1/1');
  loads.set(b, 10);
  assert.equal(chooseServer([a, b, c], (s) => loads.get(s)!), a, '10/10 = 1/1: the first configured');
  assert.equal(chooseServer([c], () => 0), c);
  assert.equal(chooseServer([], () => 0), undefined);
});

test('priority: a notice pinned to one server (Accounting-On) does not count as its load', () => {
  const h = new Harness(cfg([server('192.0.2.1', S1), server('192.0.2.2', S2)]));
  h.core.submit(h.now, { role: 'acct', code: CODE.ACCOUNTING_REQUEST, attributes: [textAttr(ATTR.ACCT_SESSION_ID, 'on')], server: '192.0.2.1' });
  h.auth();
  assert.equal(h.last().address, '192.0.2.1', 'still the first configured');
});

test('priority: a session whose accounting a server holds counts against it until its Stop (accel-ppp client count)', () => {
  const h = new Harness(cfg([server('192.0.2.1', S1), server('192.0.2.2', S2, { weight: 2 })]));
  const secretOf = (s: Send): Buffer => (s.address === '192.0.2.1' ? S1 : S2);
  const acct = (id: string, ends = false): Send => {
    h.submit({ role: 'acct', code: CODE.ACCOUNTING_REQUEST, attributes: [textAttr(ATTR.ACCT_SESSION_ID, id)], session: { id, ...(ends ? { ends } : {}) } });
    const send = h.last();
    h.reply(send, secretOf(send));
    return send;
  };
  // Four sessions start: held 1:0 → .2 (0/2 < 1/1), 1:1 → .2 (1/2 < 1/1), 1:2 → .1 (2/2 = 1/1: the first), …
  const starts = ['x1', 'x2', 'x3', 'x4'].map((id) => acct(id).address);
  assert.deepEqual(starts, ['192.0.2.1', '192.0.2.2', '192.0.2.2', '192.0.2.1']);
  // Held 2:2 → per weight 2 vs 1: an Access-Request goes to .2.
  h.auth('new');
  assert.equal(h.last().address, '192.0.2.2');
  h.reply(h.last(), S2);
  // A session's Stop goes to its own server and lets it go: x1 leaves .1, held 1:2 → per weight equal: .1 again.
  assert.equal(acct('x1', true).address, '192.0.2.1');
  h.auth('after-stop');
  assert.equal(h.last().address, '192.0.2.1');
});
