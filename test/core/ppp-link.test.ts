/**
 * PppLink (server) against PppClientLink and against scripted peers (pppd's and Windows' habits),
 * with a fake clock. Authentication uses a small PAP-shaped fake on both sides so these tests do
 * not depend on the real authenticators.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AuthResult } from '../../src/auth/backend.js';
import { PppClientLink, type PppClientEvent, type PppClientOptions } from '../../src/ppp/link/client-link.js';
import { CODE, decodeCp, decodeOptions, encodeCp, encodeOptions, type CpPacket } from '../../src/ppp/cp.js';
import { encodeFrame, parseFrame } from '../../src/ppp/frame.js';
import { PppLink, type PppEvent, type PppLinkOptions } from '../../src/ppp/link/link.js';
import { FakeAuthenticator, FakePeer, ZERO_HLAK, pppDataFrame, setAddresses } from '../support/ppp-fakes.js';
import { seeded } from '../support/random.js';

const h = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const LCP = 0xc021;
const IPCP = 0x8021;

const ACCEPT = (username: string): AuthResult => ({ ok: true, username, hlaks: [{ label: 'zero', key: ZERO_HLAK }] });
const REJECT = (username: string): AuthResult => ({ ok: false, username, reason: 'wrong password', msChapError: 691, message: 'Authentication failed' });

function serverOptions(o: Partial<PppLinkOptions> = {}): PppLinkOptions {
  return {
    mru: 1452,
    authProtocols: ['mschap-v2', 'pap'],
    makeAuthenticator: (m) => new FakeAuthenticator(m),
    echo: { intervalS: 0, failure: 3, timeoutS: 0 },
    dns: ['192.0.2.53', '192.0.2.54'],
    random: seeded(1),
    ...o,
  };
}

// ---------------------------------------------------------------------------------------------
// Pair: server and client joined by in-memory queues; a fake clock that jumps to the next deadline.

class Pair {
  now = 0;
  readonly server: PppLink;
  readonly client: PppClientLink;
  readonly s: PppEvent[] = [];
  readonly c: PppClientEvent[] = [];
  readonly wire: { dir: 's2c' | 'c2s'; at: number; frame: Buffer }[] = [];
  dropC2S = false;
  dropS2C = false;
  password = 'secret';
  autoAddresses = true;

  constructor(so: Partial<PppLinkOptions> = {}, co: Partial<PppClientOptions> & { silentPeer?: boolean } = {}) {
    this.server = new PppLink(serverOptions(so));
    this.client = new PppClientLink({
      authMethods: ['mschap-v2', 'pap'],
      makeAuthPeer: () => new FakePeer({ silent: co.silentPeer ?? false }),
      random: seeded(2),
      ...co,
    });
  }

  start(): this {
    this.server.lowerUp(this.now);
    this.client.lowerUp(this.now);
    this.settle();
    return this;
  }

  settle(): void {
    for (let guard = 0; guard < 10000; guard++) {
      let moved = false;
      for (const ev of this.server.poll()) {
        moved = true;
        this.onServer(ev);
      }
      for (const ev of this.client.poll()) {
        moved = true;
        this.onClient(ev);
      }
      if (!moved) return;
    }
    throw new Error('pair did not settle');
  }

  /** Jump to the earlier deadline and fire it; false when neither side has one. */
  step(): boolean {
    const d = [this.server.nextDeadline(), this.client.nextDeadline()].filter((x): x is number => x !== undefined);
    if (d.length === 0) return false;
    this.now = Math.max(this.now, Math.min(...d));
    this.server.handleTimeout(this.now);
    this.client.handleTimeout(this.now);
    this.settle();
    return true;
  }

  runUntil(done: () => boolean, maxSteps = 500): void {
    this.settle();
    for (let i = 0; i < maxSteps && !done(); i++) if (!this.step()) break;
    assert.ok(done(), 'condition not reached');
  }

  private onServer(ev: PppEvent): void {
    if (ev.type === 'log') return;
    if (ev.type === 'send') {
      this.wire.push({ dir: 's2c', at: this.now, frame: ev.frame });
      if (!this.dropS2C) this.client.receive(this.now, ev.frame);
      return;
    }
    this.s.push(ev);
    if (ev.type === 'verify' && ev.request.kind === 'pap') {
      const r = ev.request.password === this.password ? ACCEPT(ev.request.username) : REJECT(ev.request.username);
      this.server.authResult(this.now, r);
    }
    if (ev.type === 'authenticated' && this.autoAddresses) setAddresses(this.server, this.now, '10.0.0.1', '10.0.0.2');
  }

  private onClient(ev: PppClientEvent): void {
    if (ev.type === 'log') return;
    if (ev.type === 'send') {
      this.wire.push({ dir: 'c2s', at: this.now, frame: ev.frame });
      if (!this.dropC2S) this.server.receive(this.now, ev.frame);
      return;
    }
    this.c.push(ev);
  }

  types(side: 's' | 'c'): string[] {
    return (side === 's' ? this.s : this.c).map((e) => e.type);
  }
  finished(): PppEvent | undefined {
    return this.s.find((e) => e.type === 'finished');
  }
  /** Control packets on the wire, decoded, for one direction and protocol. */
  packets(dir: 's2c' | 'c2s', protocol: number): (CpPacket & { at: number })[] {
    return this.wire
      .filter((w) => w.dir === dir)
      .map((w) => ({ w, f: parseFrame(w.frame) }))
      .filter(({ f }) => f.protocol === protocol)
      .map(({ w, f }) => ({ ...decodeCp(f.info), at: w.at }));
  }
}

// ---------------------------------------------------------------------------------------------
// Scripted peer: drive the server with hand-written frames.

class Script {
  now = 0;
  readonly link: PppLink;
  readonly events: PppEvent[] = [];
  readonly sent: Buffer[] = [];

  constructor(o: Partial<PppLinkOptions> = {}) {
    this.link = new PppLink(serverOptions(o));
    this.link.lowerUp(this.now);
    this.drain();
  }
  drain(): Buffer[] {
    const out: Buffer[] = [];
    for (const ev of this.link.poll()) {
      if (ev.type === 'send') out.push(ev.frame);
      else if (ev.type !== 'log') this.events.push(ev);
    }
    this.sent.push(...out);
    return out;
  }
  /** Feed one frame, return the frames the server sent in answer. */
  feed(protocol: number, packet: Buffer): Buffer[] {
    this.link.receive(this.now, encodeFrame(protocol, packet));
    return this.drain();
  }
  lcpReq(id: number, options: string): Buffer[] {
    return this.feed(LCP, encodeCp(CODE.CONF_REQ, id, h(options)));
  }
  /** The server's latest Configure-Request on a protocol. */
  lastReq(protocol: number): CpPacket {
    const reqs = this.sent.map(parseFrame).filter((f) => f.protocol === protocol).map((f) => decodeCp(f.info)).filter((p) => p.code === CODE.CONF_REQ);
    assert.ok(reqs.length > 0, 'server sent a Configure-Request');
    return reqs.at(-1)!;
  }
  /** The server's latest packet of any code on a protocol. */
  lastSent(protocol: number): CpPacket {
    const all = this.sent.map(parseFrame).filter((f) => f.protocol === protocol).map((f) => decodeCp(f.info));
    assert.ok(all.length > 0, 'server sent a packet');
    return all.at(-1)!;
  }
  ackServer(protocol: number): Buffer[] {
    const r = this.lastReq(protocol);
    return this.feed(protocol, encodeCp(CODE.CONF_ACK, r.id, r.data));
  }
  /** LCP opened with a plain peer request (magic only), auth = the first allowed method. */
  openLcp(): void {
    this.lcpReq(1, '0506 1a2b3c4d');
    this.ackServer(LCP);
    assert.equal(this.link.phase, 'authenticate');
  }
  /** Through fake auth (PAP frame on the negotiated protocol), then addresses. */
  authenticate(withAddresses = true): void {
    const proto = this.lastReq(LCP).data.includes(Buffer.from([0xc0, 0x23])) ? 0xc023 : 0xc223;
    this.feed(proto, encodeCp(1, 1, Buffer.from('\x05alice\x06secret', 'latin1')));
    const v = this.events.find((e) => e.type === 'verify');
    assert.ok(v && v.type === 'verify');
    this.link.authResult(this.now, ACCEPT('alice'));
    this.drain();
    if (withAddresses) {
      setAddresses(this.link, this.now, '10.0.0.1', '10.0.0.2');
      this.drain();
    }
  }
  types(): string[] {
    return this.events.map((e) => e.type);
  }
}

const lcpOut = (frames: Buffer[]): CpPacket[] =>
  frames.map(parseFrame).filter((f) => f.protocol === LCP).map((f) => decodeCp(f.info));

// ---------------------------------------------------------------------------------------------

test('pair: LCP → auth → IPCP in one burst (no retransmission waits), then IPv4 both ways', () => {
  const p = new Pair().start();
  assert.equal(p.now, 0);
  assert.deepEqual(p.types('s'), ['verify', 'authenticated', 'ipcp-up']);
  assert.deepEqual(p.s.at(-1), { type: 'ipcp-up', local: '10.0.0.1', peer: '10.0.0.2', peerMru: 1452 });
  assert.deepEqual(p.types('c'), ['authenticated', 'ipcp-up']);
  assert.deepEqual(p.c.at(-1), { type: 'ipcp-up', local: '10.0.0.2', peer: '10.0.0.1', dns: ['192.0.2.53', '192.0.2.54'] });
  assert.equal(p.server.phase, 'network');
  assert.equal(p.server.peerMru, 1452);

  const first = p.packets('s2c', LCP)[0]!;
  assert.equal(first.code, CODE.CONF_REQ);
  assert.deepEqual(decodeOptions(first.data).map((o) => [o.type, o.data.toString('hex')]).slice(0, 2), [
    [1, '05ac'],
    [3, 'c22381'],
  ]);

  const ip = h('45000014 00000000 40010000 0a000002 0a000001');
  p.server.receive(p.now, pppDataFrame(p.client, ip)!);
  const data = p.server.poll().find((e) => e.type === 'data');
  assert.deepEqual(data, { type: 'data', protocol: 0x21, payload: ip });
  p.client.receive(p.now, encodeFrame(0x21, ip));
  assert.deepEqual(p.client.poll().find((e) => e.type === 'data'), { type: 'data', protocol: 0x21, payload: ip });
});

test("script: pppd's LCP request <asyncmap 0> <magic> <pcomp> <accomp> → ConfRej of 2/7/8, then Ack", () => {
  const s = new Script();
  const req = s.lastReq(LCP);
  assert.equal(req.id, 1);
  const rej = s.lcpReq(1, '0206 00000000 0506 1a2b3c4d 0702 0802');
  assert.deepEqual(rej, [h('ff03 c021 04 01 000e 0206 00000000 0702 0802')]);
  const ack = s.lcpReq(2, '0506 1a2b3c4d');
  assert.deepEqual(ack, [h('ff03 c021 02 02 000a 0506 1a2b3c4d')]);
  s.ackServer(LCP);
  assert.equal(s.link.phase, 'authenticate');
  assert.equal(s.link.peerMru, 1452, 'no MRU option: 1500 capped at 1452');
});

test('script: Windows LCP (MRU 4091, PFC, ACFC, callback, multilink) → Reject 7/8/13/17/19 → Nak MRU 1452 → Ack', () => {
  const s = new Script();
  const rej = lcpOut(s.lcpReq(1, '0104 0ffb 0506 01020304 0702 0802 0d03 06 1104 0640 1303 00'));
  assert.equal(rej.length, 1);
  assert.equal(rej[0]!.code, CODE.CONF_REJ);
  assert.deepEqual(rej[0]!.data, h('0702 0802 0d03 06 1104 0640 1303 00'));
  const nak = lcpOut(s.lcpReq(2, '0104 0ffb 0506 01020304'));
  assert.deepEqual([nak[0]!.code, nak[0]!.id, nak[0]!.data], [CODE.CONF_NAK, 2, h('0104 05ac')]);
  const ack = lcpOut(s.lcpReq(3, '0104 05ac 0506 01020304'));
  assert.equal(ack[0]!.code, CODE.CONF_ACK);
  s.ackServer(LCP);
  assert.equal(s.link.peerMru, 1452);
  // Windows then sends two Identification packets: dropped, no Code-Reject.
  assert.deepEqual(s.feed(LCP, encodeCp(CODE.IDENTIFICATION, 4, Buffer.concat([h('01020304'), Buffer.from('MSRASV5.20')]))), []);
  assert.deepEqual(s.feed(LCP, encodeCp(CODE.TIME_REMAINING, 5, h('01020304 00000010'))), []);
  assert.deepEqual(s.feed(LCP, encodeCp(CODE.DISCARD_REQ, 6, h('01020304'))), []);
  // An unknown code is Code-Rejected with the packet copied.
  const cr = lcpOut(s.feed(LCP, encodeCp(0x20, 7, h('abcd'))));
  assert.deepEqual([cr[0]!.code, cr[0]!.data], [CODE.CODE_REJ, h('20 07 0006 abcd')]);
});

test('script: MRU 1500 (pppd `mru 1500`) is Nak-ed to 1452; MRU 1400 is Acked and becomes peerMru', () => {
  const s = new Script();
  const nak = lcpOut(s.lcpReq(1, '0104 05dc 0506 1a2b3c4d'));
  assert.deepEqual([nak[0]!.code, nak[0]!.data], [CODE.CONF_NAK, h('0104 05ac')]);
  lcpOut(s.lcpReq(2, '0104 0578 0506 1a2b3c4d'));
  s.ackServer(LCP);
  assert.equal(s.link.peerMru, 1400);
});

test('script: mtu (maxPeerMru 1400) Naks a larger client MRU to 1400; without an MRU option the peer MRU is 1400', () => {
  const s = new Script({ maxPeerMru: 1400 });
  const nak = lcpOut(s.lcpReq(1, '0104 05ac 0506 1a2b3c4d'));
  assert.deepEqual([nak[0]!.code, nak[0]!.data], [CODE.CONF_NAK, h('0104 0578')]);
  assert.equal(lcpOut(s.lcpReq(2, '0104 0578 0506 1a2b3c4d'))[0]!.code, CODE.CONF_ACK);
  s.ackServer(LCP);
  assert.equal(s.link.peerMru, 1400);
  const quiet = new Script({ maxPeerMru: 1400 });
  quiet.openLcp();
  assert.equal(quiet.link.peerMru, 1400, 'RFC default 1500, capped at mtu');
  const over = new Script({ maxPeerMru: 9000 });
  assert.deepEqual(lcpOut(over.lcpReq(1, '0104 05dc'))[0]!.data, h('0104 05ac'), 'SSTP caps mtu at 1452');
});

test('script: ppp-options mru 1200 is the MRU we ask for; a value above 1452 asks for 1452', () => {
  assert.deepEqual(new Script({ mru: 1200 }).lastReq(LCP).data.subarray(0, 4), h('0104 04b0'));
  assert.deepEqual(new Script({ mru: 9000 }).lastReq(LCP).data.subarray(0, 4), h('0104 05ac'));
});

test('script: min-mtu 1400: a client MRU of 1300 is Nak-ed to 1400 and Acked once raised; a client that insists is disconnected', () => {
  const ok = new Script({ minPeerMru: 1400, maxFailure: 3 });
  const nak = lcpOut(ok.lcpReq(1, '0104 0514 0506 1a2b3c4d'));
  assert.deepEqual([nak[0]!.code, nak[0]!.data], [CODE.CONF_NAK, h('0104 0578')]);
  assert.equal(lcpOut(ok.lcpReq(2, '0104 0578 0506 1a2b3c4d'))[0]!.code, CODE.CONF_ACK);
  ok.ackServer(LCP);
  assert.equal(ok.link.phase, 'authenticate');
  assert.equal(ok.link.peerMru, 1400);

  const s = new Script({ minPeerMru: 1400, maxFailure: 3 });
  for (let id = 1; id <= 3; id++) {
    const out = lcpOut(s.lcpReq(id, '0104 0514 0506 1a2b3c4d'));
    assert.deepEqual(out.map((p) => p.code), [CODE.CONF_NAK], `request ${id}`);
  }
  // Max-Failure reached: the FSM rejects the option, and the link ends instead of running below min-mtu.
  const last = lcpOut(s.lcpReq(4, '0104 0514 0506 1a2b3c4d'));
  assert.deepEqual(last.map((p) => p.code), [CODE.CONF_REJ, CODE.TERM_REQ]);
  assert.equal(s.link.phase, 'terminate');
  s.feed(LCP, encodeCp(CODE.TERM_ACK, last[1]!.id, Buffer.alloc(0)));
  assert.deepEqual(s.events.at(-1), { type: 'finished', cause: 'nas-error', reason: 'peer MRU 1300 is below the minimum 1400' });
});

test('script: min-mtu above mtu is lowered to it (no empty range)', () => {
  const s = new Script({ minPeerMru: 1452, maxPeerMru: 1300 });
  assert.deepEqual(lcpOut(s.lcpReq(1, '0104 05ac'))[0]!.data, h('0104 0514'));
  assert.equal(lcpOut(s.lcpReq(2, '0104 0514'))[0]!.code, CODE.CONF_ACK);
});

test("script: pppd's IPCP <compress VJ> <addr 0.0.0.0> <ms-dns1/2> → Reject VJ → Nak addr+dns → Ack → ipcp-up", () => {
  const s = new Script();
  s.openLcp();
  s.authenticate();
  const ourReq = s.lastReq(IPCP);
  assert.deepEqual(ourReq.data, h('0306 0a000001'));
  const rej = s.feed(IPCP, encodeCp(CODE.CONF_REQ, 1, h('0206 002d0f01 0306 00000000 8106 00000000 8306 00000000')));
  assert.deepEqual(rej, [h('ff03 8021 04 01 000a 0206 002d0f01')]);
  const nak = s.feed(IPCP, encodeCp(CODE.CONF_REQ, 2, h('0306 00000000 8106 00000000 8306 00000000')));
  assert.deepEqual(nak, [h('ff03 8021 03 02 0016 0306 0a000002 8106 c0000235 8306 c0000236')]);
  const ack = s.feed(IPCP, encodeCp(CODE.CONF_REQ, 3, h('0306 0a000002 8106 c0000235 8306 c0000236')));
  assert.deepEqual(ack, [h('ff03 8021 02 03 0016 0306 0a000002 8106 c0000235 8306 c0000236')]);
  s.ackServer(IPCP);
  assert.deepEqual(s.events.at(-1), { type: 'ipcp-up', local: '10.0.0.1', peer: '10.0.0.2', peerMru: 1452 });
});

test('script: wins-server: Windows\' NBNS requests are Nak-ed to the configured servers, then Acked; without it they are rejected', () => {
  const s = new Script({ wins: ['192.0.2.137', '192.0.2.138'] });
  s.openLcp();
  s.authenticate();
  const nak = s.feed(IPCP, encodeCp(CODE.CONF_REQ, 1, h('0306 00000000 8106 00000000 8206 00000000 8306 00000000 8406 00000000')));
  assert.deepEqual(nak, [h('ff03 8021 03 01 0022 0306 0a000002 8106 c0000235 8206 c0000289 8306 c0000236 8406 c000028a')]);
  const ackReq = h('0306 0a000002 8106 c0000235 8206 c0000289 8306 c0000236 8406 c000028a');
  assert.deepEqual(s.feed(IPCP, encodeCp(CODE.CONF_REQ, 2, ackReq)), [Buffer.concat([h('ff03 8021 02 02 0022'), ackReq])]);
  s.ackServer(IPCP);
  assert.equal(s.events.at(-1)?.type, 'ipcp-up');

  const one = new Script({ wins: ['192.0.2.137'] });
  one.openLcp();
  one.authenticate();
  const rej = one.feed(IPCP, encodeCp(CODE.CONF_REQ, 1, h('0306 0a000002 8206 c0000289 8406 00000000')));
  assert.deepEqual(rej, [h('ff03 8021 04 01 000a 8406 00000000')], 'only the empty secondary slot is rejected');

  const none = new Script();
  none.openLcp();
  none.authenticate();
  const rejAll = none.feed(IPCP, encodeCp(CODE.CONF_REQ, 1, h('0306 0a000002 8206 00000000 8406 00000000')));
  assert.deepEqual(rejAll, [h('ff03 8021 04 01 0010 8206 00000000 8406 00000000')]);
});

test('script: IPV6CP and CCP are Protocol-Rejected once authenticated (silently dropped before)', () => {
  const s = new Script();
  s.openLcp();
  const ipv6cp = encodeCp(CODE.CONF_REQ, 1, h('010a 1122334455667788'));
  const ccp = encodeCp(CODE.CONF_REQ, 1, h('1a04 7800 1804 7800 1503 2f'));
  assert.deepEqual(s.feed(0x8057, ipv6cp), [], 'Authenticate phase: silently discarded');
  s.authenticate(false);
  const pr6 = lcpOut(s.feed(0x8057, ipv6cp));
  assert.deepEqual([pr6[0]!.code, pr6[0]!.data], [CODE.PROT_REJ, Buffer.concat([h('8057'), ipv6cp])]);
  const prc = lcpOut(s.feed(0x80fd, ccp));
  assert.deepEqual([prc[0]!.code, prc[0]!.data], [CODE.PROT_REJ, Buffer.concat([h('80fd'), ccp])]);
  assert.notEqual(pr6[0]!.id, prc[0]!.id);
  const unknown = lcpOut(s.feed(0x0057, h('6000')));
  assert.deepEqual(unknown[0]!.data, h('0057 6000'), 'IPv6 data without IPV6CP: Protocol-Reject');
});

test('script: before LCP is Opened only LCP counts; before auth success NCPs and data are dropped silently', () => {
  const s = new Script();
  assert.deepEqual(s.feed(IPCP, encodeCp(CODE.CONF_REQ, 1, h('0306 00000000'))), []);
  assert.deepEqual(s.feed(0x8057, encodeCp(CODE.CONF_REQ, 1)), [], 'no Protocol-Reject before LCP Opened');
  assert.deepEqual(s.feed(0x0021, h('4500')), []);
  s.openLcp();
  assert.deepEqual(s.feed(IPCP, encodeCp(CODE.CONF_REQ, 1, h('0306 00000000'))), []);
  assert.deepEqual(s.feed(0x0021, h('4500')), []);
  assert.deepEqual(s.types(), []);
});

test('script: an IPCP request seen between auth success and setAddresses is answered at once after it', () => {
  const s = new Script();
  s.openLcp();
  s.authenticate(false);
  assert.equal(s.link.phase, 'authenticate');
  assert.deepEqual(s.feed(IPCP, encodeCp(CODE.CONF_REQ, 9, h('0306 00000000'))), []);
  setAddresses(s.link, s.now, '10.0.0.1', '10.0.0.2');
  const out = s.drain().map(parseFrame).map((f) => decodeCp(f.info));
  assert.deepEqual(out.map((p) => [p.code, p.id]), [[CODE.CONF_REQ, 1], [CODE.CONF_NAK, 9]]);
  assert.equal(s.link.phase, 'network');
});

test('script: setAddresses before authentication is ignored', () => {
  const s = new Script();
  s.openLcp();
  setAddresses(s.link, s.now, '10.0.0.1', '10.0.0.2');
  assert.deepEqual(s.drain(), []);
  assert.equal(s.link.phase, 'authenticate');
});

test('pair: classic echo: requests every interval; after `failure` unanswered, the next silent interval → lost-carrier', () => {
  const p = new Pair({ echo: { intervalS: 30, failure: 3, timeoutS: 0 } }).start();
  const opened = p.now;
  p.dropC2S = true;
  p.runUntil(() => p.finished() !== undefined);
  const echoes = p.packets('s2c', LCP).filter((x) => x.code === CODE.ECHO_REQ);
  assert.deepEqual(echoes.map((e) => e.at - opened), [30000, 60000, 90000]);
  assert.deepEqual(p.finished(), { type: 'finished', cause: 'lost-carrier', reason: 'no reply to 3 LCP echo requests' });
  assert.equal(p.now - opened, 120000);
  assert.deepEqual(p.types('s').slice(-2), ['ipcp-down', 'finished']);
  assert.equal(p.server.nextDeadline(), undefined);
});

test('pair: classic echo answered by the client keeps the link up', () => {
  const p = new Pair({ echo: { intervalS: 30, failure: 3, timeoutS: 0 } }).start();
  for (let i = 0; i < 10; i++) p.step();
  assert.equal(p.finished(), undefined);
  const replies = p.packets('c2s', LCP).filter((x) => x.code === CODE.ECHO_REP);
  assert.equal(replies.length, 10);
  assert.ok(p.now >= 300000);
});

test('pair: adaptive echo: no probe while traffic flows; dead after timeoutS without any frame', () => {
  const p = new Pair({ echo: { intervalS: 10, failure: 3, timeoutS: 25 } }).start();
  const opened = p.now;
  const ip = h('45000014 00000000 40010000 0a000002 0a000001');
  // Traffic every 5 s for a minute: the server never needs to probe.
  for (let t = 5000; t <= 60000; t += 5000) {
    while ((p.server.nextDeadline() ?? Infinity) <= opened + t) p.step();
    p.now = opened + t;
    p.server.receive(p.now, encodeFrame(0x21, ip));
    p.settle();
  }
  assert.equal(p.packets('s2c', LCP).filter((x) => x.code === CODE.ECHO_REQ).length, 0);
  // Then silence from the client: probes after silent intervals, death 25 s after the last frame.
  const last = p.now;
  p.dropC2S = true;
  p.runUntil(() => p.finished() !== undefined);
  const echoes = p.packets('s2c', LCP).filter((x) => x.code === CODE.ECHO_REQ);
  assert.ok(echoes.length >= 1 && echoes.every((e) => e.at > last));
  assert.equal(p.now, last + 25000);
  assert.equal((p.finished() as { cause: string }).cause, 'lost-carrier');
});

test('pair: adaptive echo answered by an idle client keeps the link up', () => {
  const p = new Pair({ echo: { intervalS: 10, failure: 3, timeoutS: 25 } }).start();
  for (let i = 0; i < 20; i++) p.step();
  assert.equal(p.finished(), undefined);
  assert.ok(p.packets('s2c', LCP).filter((x) => x.code === CODE.ECHO_REQ).length >= 5);
});

test('script: echo carrying our own magic number → looped link → close (port-error)', () => {
  const s = new Script();
  s.openLcp();
  const ourMagic = decodeOptions(s.lastReq(LCP).data).find((o) => o.type === 5)!.data;
  // A normal echo is answered with our magic and the same data.
  const rep = lcpOut(s.feed(LCP, encodeCp(CODE.ECHO_REQ, 0x33, Buffer.concat([h('1a2b3c4d'), h('beef')]))));
  assert.deepEqual([rep[0]!.code, rep[0]!.id, rep[0]!.data], [CODE.ECHO_REP, 0x33, Buffer.concat([ourMagic, h('beef')])]);
  const out = lcpOut(s.feed(LCP, encodeCp(CODE.ECHO_REQ, 0x34, ourMagic)));
  assert.equal(out[0]!.code, CODE.TERM_REQ);
  assert.equal(s.link.phase, 'terminate');
  s.feed(LCP, encodeCp(CODE.TERM_ACK, out[0]!.id));
  assert.deepEqual(s.events.at(-1), { type: 'finished', cause: 'port-error', reason: 'looped-back link (echo request carries our magic number)' });
});

test('script: our own Configure-Request looped back is Nak-ed with a different magic number', () => {
  const s = new Script();
  const ours = s.lastReq(LCP);
  // Our auth option would come back too and be rejected (reject beats nak): loop the rest.
  const looped = encodeOptions(decodeOptions(ours.data).filter((o) => o.type !== 3));
  const answer = lcpOut(s.feed(LCP, encodeCp(CODE.CONF_REQ, ours.id, looped)));
  const nak = answer.find((p) => p.code === CODE.CONF_NAK)!;
  const magic = decodeOptions(nak.data).find((o) => o.type === 5)!;
  const ourMagic = decodeOptions(ours.data).find((o) => o.type === 5)!;
  assert.notDeepEqual(magic.data, ourMagic.data);
  assert.notDeepEqual(magic.data, h('00000000'));
});

test('pair: Terminate-Request from the peer → Terminate-Ack, ipcp-down, finished user-request', () => {
  const p = new Pair().start();
  p.client.close(p.now, 'user quit');
  p.settle();
  const acks = p.packets('s2c', LCP).filter((x) => x.code === CODE.TERM_ACK);
  assert.equal(acks.length, 1);
  assert.deepEqual(p.types('s').slice(-2), ['ipcp-down', 'finished']);
  assert.deepEqual(p.finished(), { type: 'finished', cause: 'user-request', reason: 'peer terminated the link' });
  assert.deepEqual(p.c.at(-1), { type: 'finished', reason: 'user quit' });
  assert.equal(p.server.nextDeadline(), undefined);
});

test('pair: admin close → Terminate-Request; the Ack ends it; without an Ack it ends after Max-Terminate', () => {
  const p = new Pair().start();
  p.server.close(p.now, 'admin-reset', 'operator');
  p.settle();
  assert.deepEqual(p.finished(), { type: 'finished', cause: 'admin-reset', reason: 'operator' });
  assert.equal(p.now, 0);

  const q = new Pair().start();
  q.dropS2C = true;
  q.server.close(q.now, 'session-timeout', 'limit');
  q.runUntil(() => q.finished() !== undefined);
  assert.equal(q.packets('s2c', LCP).filter((x) => x.code === CODE.TERM_REQ).length, 2);
  assert.equal(q.now, 6000);
  assert.equal((q.finished() as { cause: string }).cause, 'session-timeout');
});

test('pair: auth-protocol Nak switching: client only does CHAP → server offers mschap-v2, then chap', () => {
  const p = new Pair({ authProtocols: ['mschap-v2', 'mschap', 'chap', 'pap'] }, { authMethods: ['chap'] }).start();
  const auths = p
    .packets('s2c', LCP)
    .filter((x) => x.code === CODE.CONF_REQ)
    .map((r) => decodeOptions(r.data).find((o) => o.type === 3)!.data.toString('hex'));
  assert.deepEqual(auths, ['c22381', 'c22305']);
  assert.ok(p.types('s').includes('ipcp-up'));
  assert.ok(p.packets('c2s', 0xc223).length > 0, 'auth ran on CHAP');
});

test('pair: a Nak suggesting a method we do not allow moves to our next allowed one', () => {
  const p = new Pair({ authProtocols: ['mschap-v2', 'pap'] }, { authMethods: ['mschap', 'pap'] }).start();
  const auths = p.packets('s2c', LCP).filter((x) => x.code === CODE.CONF_REQ).map((r) => decodeOptions(r.data).find((o) => o.type === 3)!.data.toString('hex'));
  assert.deepEqual(auths, ['c22381', 'c023']);
  assert.ok(p.types('s').includes('ipcp-up'));
});

test('pair: no common authentication protocol → Terminate, finished auth-failed', () => {
  const p = new Pair({ authProtocols: ['mschap-v2'] }, { authMethods: ['pap'] }).start();
  assert.deepEqual(p.finished(), { type: 'finished', cause: 'auth-failed', reason: 'no common authentication protocol' });
  assert.ok(!p.types('s').includes('authenticated'));
  assert.equal(p.packets('s2c', LCP).filter((x) => x.code === CODE.TERM_REQ).length, 1);
});

test('script: the peer rejecting the Authentication-Protocol option closes the link', () => {
  const s = new Script();
  const ours = s.lastReq(LCP);
  const auth = decodeOptions(ours.data).find((o) => o.type === 3)!;
  const out = lcpOut(s.feed(LCP, encodeCp(CODE.CONF_REJ, ours.id, Buffer.concat([Buffer.from([3, 2 + auth.data.length]), auth.data]))));
  assert.deepEqual(out.map((p) => p.code), [CODE.TERM_REQ]);
  s.feed(LCP, encodeCp(CODE.TERM_ACK, out[0]!.id));
  assert.deepEqual(s.events.at(-1), { type: 'finished', cause: 'auth-failed', reason: 'no common authentication protocol' });
});

test('pair: wrong password → failure packet, auth-failed, Terminate, finished auth-failed; no ipcp-up', () => {
  const p = new Pair();
  p.password = 'other';
  p.start();
  assert.deepEqual(p.types('s'), ['verify', 'auth-failed', 'finished']);
  assert.deepEqual(p.s[1], { type: 'auth-failed', username: 'alice', reason: 'wrong password' });
  assert.equal((p.finished() as { cause: string }).cause, 'auth-failed');
  assert.ok(p.types('c').includes('auth-failed'));
});

test('pair: a peer that never authenticates fails after authTimeoutMs', () => {
  const p = new Pair({ authTimeoutMs: 20000 }, { silentPeer: true }).start();
  p.runUntil(() => p.finished() !== undefined);
  assert.deepEqual(p.types('s'), ['auth-failed', 'finished']);
  assert.deepEqual(p.s[0], { type: 'auth-failed', username: undefined, reason: 'authentication timed out' });
  assert.equal(p.now, 20000);
});

test('script: a silent peer: 10 LCP Configure-Requests 3 s apart, then finished', () => {
  const s = new Script();
  for (let i = 0; i < 20 && !s.events.some((e) => e.type === 'finished'); i++) {
    s.now = s.link.nextDeadline()!;
    s.link.handleTimeout(s.now);
    s.drain();
  }
  assert.equal(lcpOut(s.sent).filter((p) => p.code === CODE.CONF_REQ).length, 10);
  assert.equal(s.now, 30000);
  assert.deepEqual(s.events, [{ type: 'finished', cause: 'lost-carrier', reason: 'LCP negotiation timed out' }]);
});

test('pair: LCP renegotiation while Opened takes IPCP down and re-runs authentication', () => {
  const p = new Pair().start();
  // The client restarts LCP (as after a lower-layer hiccup).
  p.server.receive(p.now, encodeFrame(LCP, encodeCp(CODE.CONF_REQ, 0x50, h('0506 0badcafe'))));
  const out = p.server.poll();
  assert.deepEqual(out.filter((e) => e.type === 'ipcp-down').length, 1);
  assert.equal(p.server.phase, 'establish');
  const sent = out.filter((e): e is Extract<PppEvent, { type: 'send' }> => e.type === 'send').map((e) => decodeCp(parseFrame(e.frame).info).code);
  assert.deepEqual(sent, [CODE.CONF_REQ, CODE.CONF_ACK]);
});

test('pair: the peer Protocol-Rejecting IPCP ends the link', () => {
  const p = new Pair().start();
  p.server.receive(p.now, encodeFrame(LCP, encodeCp(CODE.PROT_REJ, 9, h('8021 0101 0004'))));
  p.settle();
  p.runUntil(() => p.finished() !== undefined);
  assert.equal((p.finished() as { reason: string }).reason, 'peer rejected IPCP');
});

test('pair: one NCP rule on both sides: the server rejecting the client\'s IPV6CP ends IPv6 only, IPv4 stays up', () => {
  const p = new Pair({}, { ipv6: true }).start();
  assert.deepEqual(p.types('c'), ['authenticated', 'ipv6-stopped', 'ipcp-up']);
  assert.equal(p.client.phase, 'network');
  assert.equal(p.client.gate.ipv4Open, true);
  assert.equal(p.finished(), undefined);
});

test('lowerDown: ipcp-down then exactly one finished, and the link ignores everything afterwards', () => {
  const p = new Pair().start();
  p.server.lowerDown(p.now);
  p.server.lowerDown(p.now);
  p.server.close(p.now, 'admin-reset', 'late');
  p.server.receive(p.now, encodeFrame(LCP, encodeCp(CODE.ECHO_REQ, 1, h('00000000'))));
  p.settle();
  assert.deepEqual(p.types('s').slice(-2), ['ipcp-down', 'finished']);
  assert.equal(p.s.filter((e) => e.type === 'finished').length, 1);
  assert.deepEqual(p.finished(), { type: 'finished', cause: 'lost-carrier', reason: 'transport closed' });
  assert.equal(p.server.nextDeadline(), undefined);
});

test('lowerDown during a close keeps the close cause; close before lowerUp finishes at once', () => {
  const p = new Pair().start();
  p.dropS2C = true;
  p.server.close(p.now, 'admin-reset', 'operator');
  p.server.lowerDown(p.now, 'port-error', 'tls gone');
  p.settle();
  assert.deepEqual(p.finished(), { type: 'finished', cause: 'admin-reset', reason: 'operator' });

  const link = new PppLink(serverOptions());
  link.close(0, 'admin-reset', 'never started');
  assert.deepEqual(link.poll().filter((e) => e.type !== 'log'), [{ type: 'finished', cause: 'admin-reset', reason: 'never started' }]);
});

test('malformed frames are dropped without an answer', () => {
  const s = new Script();
  s.openLcp();
  for (const bad of ['', 'ff03', 'ff03c021 0901 00ff', 'c021 01', 'ff03 c021 01 05 0008 0101 0000']) {
    s.link.receive(s.now, h(bad));
    assert.deepEqual(s.drain(), [], bad);
  }
});

// ---------------------------------------------------------------------------------------------
// ppp-options ipv4 / ipv6: deny, allow, prefer, require (accel-ppp's meaning)

const IPV6CP = 0x8057;
const sentOn = (frames: Buffer[], protocol: number): CpPacket[] =>
  frames.map(parseFrame).filter((f) => f.protocol === protocol).map((f) => decodeCp(f.info));

/** LCP opened, authenticated, network started with IPv4 and IPv6 under the given policy. */
function ncpScript(ncp: NonNullable<PppLinkOptions['ncp']>, params: { ipv4?: boolean; ipv6?: boolean } = {}): { s: Script; started: Buffer[] } {
  const s = new Script({ ipv6: true, ncp });
  s.openLcp();
  s.authenticate(false);
  s.link.startNetwork(s.now, {
    ...(params.ipv4 !== false ? { ipv4: { local: '10.0.0.1', peer: '10.0.0.2' } } : {}),
    ipv6: params.ipv6 !== false,
  });
  return { s, started: s.drain() };
}

function protocolReject(s: Script, protocol: number): Buffer[] {
  const data = Buffer.concat([Buffer.from([protocol >> 8, protocol & 255]), encodeCp(CODE.CONF_REQ, 1, h('0306 0a000001'))]);
  return s.feed(LCP, encodeCp(CODE.PROT_REJ, 42, data));
}

test('ppp-options ipv4 deny: no IPCP from us, the client\'s IPCP is Protocol-Rejected, IPv6 runs', () => {
  const { s, started } = ncpScript({ ipv4: 'deny', ipv6: 'prefer' });
  assert.equal(sentOn(started, IPCP).length, 0);
  assert.equal(sentOn(started, IPV6CP).length, 1);
  const out = sentOn(s.feed(IPCP, encodeCp(CODE.CONF_REQ, 1, h('0306 00000000'))), LCP);
  assert.deepEqual(out.map((p) => [p.code, p.data.readUInt16BE(0)]), [[CODE.PROT_REJ, IPCP]]);
  assert.equal(s.link.phase, 'network');
});

test('ppp-options ipv4 allow: we do not start IPCP, but negotiate it once the client does', () => {
  const { s, started } = ncpScript({ ipv4: 'allow' });
  assert.equal(sentOn(started, IPCP).length, 0, 'no Configure-Request of ours');
  const out = sentOn(s.feed(IPCP, encodeCp(CODE.CONF_REQ, 1, h('0306 00000000'))), IPCP);
  assert.deepEqual(out.map((p) => p.code), [CODE.CONF_REQ, CODE.CONF_NAK]);
  s.feed(IPCP, encodeCp(CODE.CONF_REQ, 2, h('0306 0a000002')));
  s.ackServer(IPCP);
  assert.ok(s.types().includes('ipcp-up'));
});

test('ppp-options ipv4 allow: a client request held from before the network phase is answered when it starts', () => {
  const s = new Script({ ncp: { ipv4: 'allow' } });
  s.openLcp();
  s.authenticate(false);
  s.feed(IPCP, encodeCp(CODE.CONF_REQ, 7, h('0306 00000000')));
  setAddresses(s.link, s.now, '10.0.0.1', '10.0.0.2');
  const out = sentOn(s.drain(), IPCP);
  assert.deepEqual(out.map((p) => [p.code, p.id]), [[CODE.CONF_REQ, out[0]!.id], [CODE.CONF_NAK, 7]]);
});

test('ppp-options ipv4 prefer: we start IPCP; the client rejecting it leaves the session on IPv6', () => {
  const { s, started } = ncpScript({ ipv4: 'prefer', ipv6: 'prefer' });
  assert.equal(sentOn(started, IPCP).length, 1);
  protocolReject(s, IPCP);
  assert.equal(s.link.phase, 'network');
  assert.ok(!s.types().includes('finished'));
});

test('ppp-options ipv4 require: we start IPCP; the client rejecting it ends the session; no address ends it at once', () => {
  const { s, started } = ncpScript({ ipv4: 'require', ipv6: 'prefer' });
  assert.equal(sentOn(started, IPCP).length, 1);
  const out = sentOn(protocolReject(s, IPCP), LCP);
  assert.deepEqual(out.map((p) => p.code), [CODE.TERM_REQ]);
  assert.equal(s.link.phase, 'terminate');

  const none = ncpScript({ ipv4: 'require', ipv6: 'prefer' }, { ipv4: false }).s;
  assert.equal(none.link.phase, 'terminate');
  none.feed(LCP, encodeCp(CODE.TERM_ACK, none.lastSent(LCP).id, Buffer.alloc(0)));
  assert.deepEqual(none.events.at(-1), { type: 'finished', cause: 'nas-error', reason: 'IPv4 is required (ppp-options ipv4 require) but this session has no address' });
});

test('ppp-options ipv6: allow waits for the client, prefer lives on without it, require ends without it, deny rejects it', () => {
  const allow = ncpScript({ ipv6: 'allow' });
  assert.equal(sentOn(allow.started, IPV6CP).length, 0);
  assert.deepEqual(sentOn(allow.s.feed(IPV6CP, encodeCp(CODE.CONF_REQ, 1, h('010a 1122334455667788'))), IPV6CP).map((p) => p.code)[0], CODE.CONF_REQ);

  const prefer = ncpScript({ ipv6: 'prefer' });
  assert.equal(sentOn(prefer.started, IPV6CP).length, 1);
  protocolReject(prefer.s, IPV6CP);
  assert.equal(prefer.s.link.phase, 'network');

  const require = ncpScript({ ipv6: 'require' });
  assert.deepEqual(sentOn(protocolReject(require.s, IPV6CP), LCP).map((p) => p.code), [CODE.TERM_REQ]);
  assert.equal(ncpScript({ ipv6: 'require' }, { ipv6: false }).s.link.phase, 'terminate', 'no prefix: ended at once');

  const deny = ncpScript({ ipv6: 'deny' });
  assert.equal(sentOn(deny.started, IPV6CP).length, 0);
  const pr = sentOn(deny.s.feed(IPV6CP, encodeCp(CODE.CONF_REQ, 1, h('010a 1122334455667788'))), LCP);
  assert.deepEqual(pr.map((p) => p.code), [CODE.PROT_REJ]);
});

test('ppp-options ipv6-interface-id: our IPV6CP request carries the configured id', () => {
  const s = new Script({ ipv6: true, interfaceId: Buffer.from('0000000000000001', 'hex') });
  s.openLcp();
  s.authenticate(false);
  s.link.startNetwork(s.now, { ipv4: { local: '10.0.0.1', peer: '10.0.0.2' }, ipv6: true });
  const req = sentOn(s.drain(), IPV6CP).find((p) => p.code === CODE.CONF_REQ);
  assert.deepEqual(req?.data, h('010a 0000000000000001'));
});
