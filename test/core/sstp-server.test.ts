/**
 * SstpServer against scripted raw packets, one test per row of the state table (sstp.md §4) that a
 * peer can reach, with a fake clock (deadlines are jumped to, never waited for).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SstpdError } from '../../src/common/errors.js';
import { certHashes } from '../../src/sstp/binding.js';
import { SstpServer, type SstpServerEvent, type SstpServerOptions } from '../../src/sstp/server.js';
import {
  AttributeId,
  MessageType,
  Status,
  callAbort,
  callConnectAck,
  callConnectNak,
  callConnectRequest,
  callDisconnect,
  callDisconnectAck,
  dataPacket,
  decodeControl,
  decodeStatusInfo,
  echoRequest,
  echoResponse,
  encodeControl,
  statusInfoAttr,
} from '../../src/sstp/wire.js';
import { vectors, vx } from '../support/vectors.js';

const E = 'sstp_binding_end_to_end';
const P = 'sstp_packets';
const HASHES = certHashes(vx(E, 'cert_der'));
const NONCE = vx(E, 'nonce');
const HLAK = vx(E, 'hlak_mschapv2');
const e2e = (sub: string, key: string): Buffer =>
  Buffer.from((vectors()[E] as unknown as Record<string, Record<string, string>>)[sub]![key]!, 'hex');
const CC_SHA256 = e2e('sha256', 'call_connected');
const CC_SHA1 = e2e('sha1', 'call_connected');

const LCP = Buffer.from('ff03c0210101000a0506deadbeef', 'hex');
const LCP_NO_ACFC = Buffer.from('c0210101000a0506deadbeef', 'hex');
const IPCP = Buffer.from('ff0380210101000a0306c0a80001', 'hex');
const IPV4 = Buffer.from('ff03002145000014000000004001f96cc0a80001c0a80002', 'hex');
const IPV6_PFC = Buffer.from('ff035760000000', 'hex');
const IPV4_PFC_NO_ACFC = Buffer.from('2145000014', 'hex');

class Harness {
  readonly s: SstpServer;
  now = 0;
  readonly events: SstpServerEvent[] = [];
  constructor(opts: Partial<SstpServerOptions> = {}) {
    const random = (n: number): Buffer => (n === 32 ? Buffer.from(NONCE) : Buffer.alloc(n, 0x5a));
    this.s = new SstpServer({ certHashes: HASHES, random, ...opts }, this.now);
  }
  /** Feed packets; return the new events. */
  in(...packets: Buffer[]): SstpServerEvent[] {
    for (const p of packets) this.s.receive(this.now, p);
    return this.drain();
  }
  drain(): SstpServerEvent[] {
    const ev = this.s.poll();
    this.events.push(...ev);
    return ev;
  }
  /** Move the clock forward by ms, firing every deadline on the way. */
  advance(ms: number): SstpServerEvent[] {
    const end = this.now + ms;
    const out: SstpServerEvent[] = [];
    for (let d = this.s.nextDeadline(); d !== undefined && d <= end; d = this.s.nextDeadline()) {
      this.now = d;
      this.s.handleTimeout(d);
      out.push(...this.drain());
    }
    this.now = end;
    return out;
  }
  /** Connect Request accepted (Call_Connected_Pending). */
  pending(): this {
    this.in(callConnectRequest());
    assert.equal(this.s.state, 'Server_Call_Connected_Pending');
    return this;
  }
  /** All the way to Server_Call_Connected with the SHA-256 vector. */
  connected(): this {
    this.pending();
    this.s.setHlak(this.now, HLAK);
    this.in(CC_SHA256);
    assert.equal(this.s.state, 'Server_Call_Connected');
    this.drain();
    return this;
  }
}

const sends = (ev: SstpServerEvent[]): string[] => ev.flatMap((e) => (e.type === 'send' ? [e.bytes.toString('hex')] : []));
const types = (ev: SstpServerEvent[]): string[] => ev.filter((e) => e.type !== 'log').map((e) => e.type);
const logs = (ev: SstpServerEvent[]): string[] => ev.flatMap((e) => (e.type === 'log' ? [e.event] : []));
const closeOf = (ev: SstpServerEvent[]): { code: string } | undefined => {
  const c = ev.find((e) => e.type === 'closed');
  return c && c.type === 'closed' ? { code: c.code } : undefined;
};
const ppp = (ev: SstpServerEvent[]): string[] => ev.flatMap((e) => (e.type === 'ppp' ? [e.frame.toString('hex')] : []));
/** The single abort sent: [status, attribId]. */
function abortSent(ev: SstpServerEvent[]): [number, number] {
  const aborts = ev.flatMap((e) => (e.type === 'send' ? [decodeControl(e.bytes)] : [])).filter((p) => p.type === MessageType.CALL_ABORT);
  assert.equal(aborts.length, 1, 'exactly one Call Abort');
  const si = decodeStatusInfo(aborts[0]!.attributes[0]!.value);
  return [si.status, si.attribId];
}
const hex = (b: Buffer): string => b.toString('hex');

// ---- Connect Request --------------------------------------------------------------------------

test('CONNECT_REQUEST valid in Connect_Request_Pending → ACK (nonce, bitmask 3) + lower-up', () => {
  const h = new Harness();
  assert.equal(h.s.state, 'Server_Connect_Request_Pending');
  const ev = h.in(callConnectRequest());
  assert.deepEqual(sends(ev), [hex(vx(P, 'call_connect_ack_both_hashes'))]);
  assert.deepEqual(types(ev), ['send', 'lower-up']);
  assert.ok(logs(ev).includes('connect-request'));
  assert.equal(h.s.state, 'Server_Call_Connected_Pending');
  assert.equal(h.s.connected, false);
});

test('hash bitmask option is what the ACK offers', () => {
  const h = new Harness({ hashBitmask: 2 });
  assert.deepEqual(sends(h.in(callConnectRequest())), [hex(callConnectAck(2, NONCE))]);
});

test('CONNECT_REQUEST protocol ≠ PPP → NAK (VALUE_NOT_SUPPORTED + rejected value); stay; 4th bad → ABORT(6)', () => {
  const h = new Harness();
  for (let i = 1; i <= 3; i++) {
    const ev = h.in(callConnectRequest(2));
    assert.deepEqual(sends(ev), [hex(callConnectNak([{ attribId: 1, status: Status.VALUE_NOT_SUPPORTED, value: Buffer.from([0, 2]) }]))]);
    assert.ok(logs(ev).includes('connect-nak'));
    assert.equal(h.s.state, 'Server_Connect_Request_Pending');
  }
  const ev = h.in(callConnectRequest(2));
  assert.deepEqual(abortSent(ev), [Status.RETRY_COUNT_EXCEEDED, AttributeId.ENCAPSULATED_PROTOCOL_ID]);
  assert.equal(h.s.state, 'Call_Abort_Pending');
  assert.equal(closeOf(h.advance(3000))?.code, 'E_SSTP_CONNECT_RETRIES');
});

test('a NAK, then a good request is still accepted', () => {
  const h = new Harness();
  h.in(callConnectRequest(7));
  assert.deepEqual(types(h.in(callConnectRequest())), ['send', 'lower-up']);
});

test('NAK statuses: missing, duplicate, bad length, unknown, not-in-message, nonzero Status Info', () => {
  const nakOf = (pkt: Buffer): [number, number][] => {
    const h = new Harness();
    const [bytes] = sends(h.in(pkt));
    const p = decodeControl(Buffer.from(bytes!, 'hex'));
    assert.equal(p.type, MessageType.CALL_CONNECT_NAK);
    return p.attributes.map((a) => {
      const si = decodeStatusInfo(a.value);
      return [si.attribId, si.status];
    });
  };
  const proto = { id: 1, value: Buffer.from([0, 1]) };
  assert.deepEqual(nakOf(encodeControl(1, [])), [[1, Status.REQUIRED_ATTRIBUTE_MISSING]]);
  assert.deepEqual(nakOf(encodeControl(1, [proto, proto])), [[1, Status.DUPLICATE_ATTRIBUTE]]);
  assert.deepEqual(nakOf(encodeControl(1, [{ id: 1, value: Buffer.from([0, 0, 1]) }])), [[1, Status.INVALID_ATTRIB_VALUE_LENGTH]]);
  assert.deepEqual(nakOf(encodeControl(1, [proto, { id: 0x33, value: Buffer.alloc(0) }])), [[0x33, Status.UNRECOGNIZED_ATTRIBUTE]]);
  assert.deepEqual(nakOf(encodeControl(1, [proto, { id: 4, value: Buffer.alloc(36) }])), [[4, Status.ATTRIB_NOT_SUPPORTED_IN_MSG]]);
  assert.deepEqual(nakOf(encodeControl(1, [proto, statusInfoAttr({ attribId: 0, status: 7 })])), [[2, Status.STATUS_INFO_NOT_SUPPORTED_IN_MSG]]);
  // a Status Info with status 0 is tolerated (§3.3.1.1.1 rejects only a nonzero one)
  const h = new Harness();
  assert.deepEqual(types(h.in(encodeControl(1, [proto, statusInfoAttr({ attribId: 0, status: 0 })]))), ['send', 'lower-up']);
});

test('CONNECT_REQUEST in Call_Connected_Pending / Call_Connected → ABORT(5)', () => {
  const a = new Harness().pending();
  assert.deepEqual(abortSent(a.in(callConnectRequest())), [Status.UNACCEPTED_FRAME_RECEIVED, 0]);
  const b = new Harness().connected();
  assert.deepEqual(abortSent(b.in(callConnectRequest())), [Status.UNACCEPTED_FRAME_RECEIVED, 0]);
});

test('CONNECT_REQUEST, CALL_CONNECTED, ECHO_*, unknown types in QUIET states → ignored', () => {
  const h = new Harness().connected();
  h.s.disconnect(h.now);
  h.drain();
  assert.equal(h.s.state, 'Call_Disconnect_Ack_Pending');
  for (const p of [callConnectRequest(), CC_SHA256, echoRequest(), echoResponse(), callConnectAck(3, NONCE), encodeControl(0x99)]) {
    assert.deepEqual(types(h.in(p)), [], hex(p));
  }
  assert.equal(h.s.state, 'Call_Disconnect_Ack_Pending');
});

test('CONNECT_ACK / CONNECT_NAK received → ABORT', () => {
  assert.deepEqual(abortSent(new Harness().in(callConnectAck(3, NONCE))), [Status.UNACCEPTED_FRAME_RECEIVED, 0]);
  assert.deepEqual(abortSent(new Harness().pending().in(callConnectNak([{ attribId: 1, status: 4 }]))), [5, 0]);
});

test('unknown message type → ABORT; malformed control packet → ABORT(7)', () => {
  assert.deepEqual(abortSent(new Harness().pending().in(encodeControl(0x00ab))), [Status.UNACCEPTED_FRAME_RECEIVED, 0]);
  const bad = Buffer.from(callConnectRequest());
  bad[7] = 3; // NumAttributes lies
  const h = new Harness();
  const ev = h.in(bad);
  assert.deepEqual(abortSent(ev), [Status.INVALID_FRAME_RECEIVED, 0]);
  assert.equal(closeOf(h.advance(3000))?.code, 'E_SSTP_BAD_CONTROL');
});

// ---- Call Connected ---------------------------------------------------------------------------

test('CALL_CONNECTED in Call_Connected_Pending (HLAK known) → verified, connected, hello timer armed', () => {
  const h = new Harness().pending();
  h.s.setHlak(h.now, HLAK);
  assert.deepEqual(types(h.drain()), []);
  const ev = h.in(CC_SHA256);
  assert.deepEqual(types(ev), ['connected']);
  assert.ok(logs(ev).includes('binding-verified'));
  assert.equal(h.s.connected, true);
  assert.equal(h.s.nextDeadline(), h.now + 60_000);
});

test('early CALL_CONNECTED (before the HLAK) is deferred and verified when the HLAK arrives', () => {
  const h = new Harness().pending();
  const ev = h.in(CC_SHA256);
  assert.deepEqual(types(ev), []);
  assert.ok(logs(ev).includes('call-connected-deferred'));
  assert.equal(h.s.connected, false);
  h.s.setHlak(h.now, HLAK);
  assert.deepEqual(types(h.drain()), ['connected']);
});

test('deferred CALL_CONNECTED with a wrong MAC fails when the HLAK arrives', () => {
  const h = new Harness().pending();
  h.in(CC_SHA256);
  h.s.setHlak(h.now, Buffer.alloc(32));
  const ev = h.drain();
  assert.deepEqual(abortSent(ev), [Status.INVALID_FRAME_RECEIVED, AttributeId.CRYPTO_BINDING]);
  assert.ok(!types(ev).includes('connected'));
});

test('a second CALL_CONNECTED while one is deferred → ABORT', () => {
  const h = new Harness().pending();
  h.in(CC_SHA256);
  assert.deepEqual(abortSent(h.in(CC_SHA256)), [Status.UNACCEPTED_FRAME_RECEIVED, AttributeId.CRYPTO_BINDING]);
});

test('binding failures → ABORT(7, CRYPTO_BINDING), close after T1, never connected', () => {
  const flip = (at: number): Buffer => {
    const b = Buffer.from(CC_SHA256);
    b[at]! ^= 0x80;
    return b;
  };
  for (const [name, msg, hlak] of [
    ['nonce', flip(20), HLAK],
    ['cert hash', flip(50), HLAK],
    ['mac', flip(100), HLAK],
    ['hlak', CC_SHA256, Buffer.alloc(32)],
  ] as const) {
    const h = new Harness().pending();
    h.s.setHlak(h.now, hlak);
    const ev = h.in(msg);
    assert.deepEqual(abortSent(ev), [Status.INVALID_FRAME_RECEIVED, AttributeId.CRYPTO_BINDING], name);
    assert.ok(logs(ev).includes('binding-failed'), name);
    const reason = ev.find((e) => e.type === 'log' && e.event === 'binding-failed');
    assert.ok(reason && reason.type === 'log' && typeof reason.fields?.['reason'] === 'string');
    assert.equal(h.s.state, 'Call_Abort_Pending');
    const later = h.advance(3000);
    assert.equal(closeOf(later)?.code, 'E_SSTP_BINDING_FAILED');
    assert.ok(!h.events.some((e) => e.type === 'connected'));
  }
});

test('SHA-1 path: bitmask 1 accepts the SHA-1 message and refuses the SHA-256 one', () => {
  const a = new Harness({ hashBitmask: 1 }).pending();
  a.s.setHlak(a.now, HLAK);
  assert.deepEqual(types(a.in(CC_SHA1)), ['connected']);
  const b = new Harness({ hashBitmask: 1 }).pending();
  b.s.setHlak(b.now, HLAK);
  assert.deepEqual(abortSent(b.in(CC_SHA256)), [7, 3]);
  const c = new Harness({ hashBitmask: 3 }).pending();
  c.s.setHlak(c.now, HLAK);
  assert.deepEqual(types(c.in(CC_SHA1)), ['connected']);
});

test('PAP (zero HLAK) binding', () => {
  const h = new Harness().pending();
  h.s.setHlak(h.now, Buffer.alloc(32));
  assert.deepEqual(types(h.in(e2e('pap_sha256', 'call_connected'))), ['connected']);
});

test('CALL_CONNECTED in Connect_Request_Pending or Call_Connected → ABORT', () => {
  assert.deepEqual(abortSent(new Harness().in(CC_SHA256)), [5, 0]);
  assert.deepEqual(abortSent(new Harness().connected().in(CC_SHA256)), [5, 0]);
});

test('setHlak rejects a wrong length (caller bug) ', () => {
  assert.throws(() => new Harness().pending().s.setHlak(0, Buffer.alloc(16)), (e: unknown) => e instanceof SstpdError && e.code === 'E_SSTP_HLAK');
});

// ---- data packets -----------------------------------------------------------------------------

test('data in Call_Connected_Pending: PPP control frames pass, data frames are dropped', () => {
  const h = new Harness().pending();
  const ev = h.in(...[LCP, LCP_NO_ACFC, IPCP, IPV4, IPV6_PFC, IPV4_PFC_NO_ACFC, Buffer.from('ff03', 'hex'), Buffer.from('ff03c0', 'hex')].map(dataPacket));
  assert.deepEqual(ppp(ev), [hex(LCP), hex(LCP_NO_ACFC), hex(IPCP)]);
});

test('data in Call_Connected: everything passes; empty data packets are ignored', () => {
  const h = new Harness().connected();
  const ev = h.in(...[LCP, IPV4, IPV6_PFC, Buffer.alloc(0)].map(dataPacket));
  assert.deepEqual(ppp(ev), [hex(LCP), hex(IPV4), hex(IPV6_PFC)]);
});

test('data in Connect_Request_Pending and in QUIET states is dropped', () => {
  assert.deepEqual(ppp(new Harness().in(dataPacket(LCP))), []);
  const h = new Harness().connected();
  h.s.abort(h.now, Status.INVALID_FRAME_RECEIVED, 'test');
  h.drain();
  assert.deepEqual(ppp(h.in(dataPacket(LCP), dataPacket(IPV4))), []);
});

test('encodeData frames a PPP frame', () => {
  assert.equal(hex(new Harness().s.encodeData(vx(P, 'data_lcp_echo_request').subarray(4))), hex(vx(P, 'data_lcp_echo_request')));
});

// ---- echo -------------------------------------------------------------------------------------

test('ECHO_REQUEST in Call_Connected → ECHO_RESPONSE; ECHO_RESPONSE → nothing', () => {
  const h = new Harness().connected();
  assert.deepEqual(sends(h.in(echoRequest())), [hex(vx(P, 'echo_response'))]);
  assert.deepEqual(types(h.in(echoResponse())), []);
});

test('ECHO_REQUEST / ECHO_RESPONSE before Call_Connected → ABORT', () => {
  assert.deepEqual(abortSent(new Harness().pending().in(echoRequest())), [5, 0]);
  assert.deepEqual(abortSent(new Harness().in(echoResponse())), [5, 0]);
});

// ---- abort ------------------------------------------------------------------------------------

test('CALL_ABORT in Call_Abort_Pending → T2 (1 s) → close', () => {
  const h = new Harness().pending();
  h.s.abort(h.now, Status.INVALID_FRAME_RECEIVED, 'test');
  assert.deepEqual(sends(h.drain()), [hex(callAbort(7))]);
  assert.deepEqual(types(h.in(callAbort(7))), []);
  assert.equal(h.s.state, 'Call_Abort_Timeout_Pending');
  assert.deepEqual(h.advance(999).filter((e) => e.type === 'closed'), []);
  assert.equal(closeOf(h.advance(1))?.code, 'E_SSTP_LOCAL_ABORT');
  assert.equal(h.s.closed, true);
});

test('Call_Abort_Pending without an answer: close after T1 = 3 s', () => {
  const h = new Harness().pending();
  h.s.abort(h.now, 7, 'x');
  h.drain();
  assert.deepEqual(h.advance(2999), []);
  assert.equal(closeOf(h.advance(1))?.code, 'E_SSTP_LOCAL_ABORT');
});

test('CALL_ABORT in Abort_Timeout_Pending / Disconnect_Timeout_Pending → ignored', () => {
  const a = new Harness().pending();
  a.s.abort(a.now, 7, 'x');
  a.in(callAbort(7));
  assert.deepEqual(types(a.in(callAbort(7))), []);
  assert.equal(a.s.state, 'Call_Abort_Timeout_Pending');
  const d = new Harness().connected();
  d.in(callDisconnect());
  assert.deepEqual(types(d.in(callAbort(7))), []);
  assert.equal(d.s.state, 'Call_Disconnect_Timeout_Pending');
});

test('CALL_ABORT elsewhere → send CALL_ABORT (with Status Info), T2 1 s, close', () => {
  for (const h of [new Harness(), new Harness().pending(), new Harness().connected()]) {
    const ev = h.in(callAbort(Status.INVALID_FRAME_RECEIVED));
    assert.deepEqual(abortSent(ev), [0, 0]);
    assert.ok(logs(ev).includes('abort-received'));
    assert.equal(h.s.state, 'Call_Abort_Timeout_Pending');
    assert.equal(h.s.nextDeadline(), h.now + 1000);
    assert.equal(closeOf(h.advance(1000))?.code, 'E_SSTP_PEER_ABORT');
  }
  // also from Call_Disconnect_Ack_Pending
  const h = new Harness().connected();
  h.s.disconnect(h.now);
  h.drain();
  assert.deepEqual(abortSent(h.in(callAbort(7))), [0, 0]);
  assert.equal(h.s.state, 'Call_Abort_Timeout_Pending');
});

// ---- disconnect -------------------------------------------------------------------------------

test('CALL_DISCONNECT in Call_Connected → DISCONNECT_ACK, close after 1 s', () => {
  const h = new Harness().connected();
  const ev = h.in(callDisconnect());
  assert.deepEqual(sends(ev), [hex(callDisconnectAck())]);
  assert.ok(logs(ev).includes('disconnect-received'));
  assert.equal(h.s.state, 'Call_Disconnect_Timeout_Pending');
  assert.deepEqual(h.advance(999), []);
  assert.equal(closeOf(h.advance(1))?.code, 'SSTP_PEER_DISCONNECT');
});

test('CALL_DISCONNECT in Call_Disconnect_Ack_Pending (crossing) → ACK, T1 replaced by T2', () => {
  const h = new Harness().connected();
  h.s.disconnect(h.now);
  assert.deepEqual(sends(h.drain()), [hex(vx(P, 'call_disconnect_no_error'))]);
  assert.deepEqual(sends(h.in(callDisconnect())), [hex(callDisconnectAck())]);
  assert.equal(h.s.nextDeadline(), h.now + 1000);
  assert.equal(closeOf(h.advance(1000))?.code, 'SSTP_DISCONNECT');
});

test('CALL_DISCONNECT in abort states and Disconnect_Timeout_Pending → ignored', () => {
  const a = new Harness().pending();
  a.s.abort(a.now, 7, 'x');
  a.drain();
  assert.deepEqual(types(a.in(callDisconnect())), []);
  a.in(callAbort(7));
  assert.deepEqual(types(a.in(callDisconnect())), []);
  const d = new Harness().connected();
  d.in(callDisconnect());
  assert.deepEqual(types(d.in(callDisconnect())), []);
});

test('disconnect(): Call Disconnect with Status Info, ACK → close now; no ACK → close after T1 5 s', () => {
  const a = new Harness().connected();
  a.s.disconnect(a.now);
  assert.deepEqual(sends(a.drain()), [hex(vx(P, 'call_disconnect_no_error'))]);
  assert.equal(a.s.state, 'Call_Disconnect_Ack_Pending');
  assert.equal(closeOf(a.in(callDisconnectAck()))?.code, 'SSTP_DISCONNECT');
  const b = new Harness().pending();
  b.s.disconnect(b.now);
  b.drain();
  assert.deepEqual(b.advance(4999), []);
  assert.equal(closeOf(b.advance(1))?.code, 'SSTP_DISCONNECT');
});

test('CALL_DISCONNECT_ACK: ignored in other QUIET states, ABORT elsewhere', () => {
  const a = new Harness().pending();
  a.s.abort(a.now, 7, 'x');
  a.drain();
  assert.deepEqual(types(a.in(callDisconnectAck())), []);
  assert.deepEqual(abortSent(new Harness().connected().in(callDisconnectAck())), [5, 0]);
});

// ---- timers -----------------------------------------------------------------------------------

test('negotiation timeout (from construction) → ABORT status 8, close after T1', () => {
  const h = new Harness().pending();
  assert.deepEqual(h.advance(59_999), []);
  const ev = h.advance(1);
  assert.deepEqual(sends(ev), [hex(vx(P, 'call_abort_negotiation_timeout'))]);
  assert.ok(logs(ev).includes('negotiation-timeout'));
  assert.equal(closeOf(h.advance(3000))?.code, 'E_SSTP_NEGOTIATION_TIMEOUT');
});

test('negotiation timeout also covers a client that never sends Connect Request; configurable', () => {
  const h = new Harness({ negotiationTimeoutMs: 10_000 });
  assert.deepEqual(sends(h.advance(10_000)), [hex(callAbort(8))]);
});

test('no negotiation timeout once connected', () => {
  const h = new Harness().connected();
  h.in(echoRequest());
  h.advance(59_000);
  h.in(echoRequest());
  assert.ok(!logs(h.advance(30_000)).includes('negotiation-timeout'));
});

test('hello: silence → Echo Request; another interval of silence → close without a message', () => {
  const h = new Harness({ helloIntervalMs: 60_000 }).connected();
  assert.deepEqual(h.advance(59_999), []);
  assert.deepEqual(sends(h.advance(1)), [hex(echoRequest())]);
  const ev = h.advance(60_000);
  assert.deepEqual(sends(ev), []);
  assert.equal(closeOf(ev)?.code, 'E_SSTP_HELLO_TIMEOUT');
  assert.ok(logs(ev).includes('hello-timeout'));
});

test('hello: any received packet (data or Echo Response) restarts the timer', () => {
  const h = new Harness().connected();
  h.advance(50_000);
  h.in(dataPacket(LCP));
  assert.deepEqual(h.advance(59_999), []);
  assert.deepEqual(sends(h.advance(1)), [hex(echoRequest())]);
  h.advance(30_000);
  h.in(echoResponse());
  assert.deepEqual(h.advance(59_999), []);
  assert.deepEqual(sends(h.advance(1)), [hex(echoRequest())]);
});

// ---- framing and stickiness -------------------------------------------------------------------

test('framing error → close at once, nothing sent', () => {
  for (const bad of ['20010008', '10010004', '10000002']) {
    const h = new Harness().connected();
    const ev = h.in(Buffer.from(bad, 'hex'));
    assert.deepEqual(sends(ev), []);
    assert.ok(logs(ev).includes('framing-error'));
    assert.equal(closeOf(ev)?.code, bad.startsWith('2') ? 'E_SSTP_VERSION' : 'E_SSTP_LENGTH');
  }
});

test('after close the machine is inert', () => {
  const h = new Harness().connected();
  h.in(Buffer.from('20010008', 'hex'));
  assert.equal(h.s.closed, true);
  assert.equal(h.s.nextDeadline(), undefined);
  h.s.setHlak(h.now, HLAK);
  h.s.disconnect(h.now);
  h.s.abort(h.now, 7, 'x');
  h.s.handleTimeout(h.now + 1e9);
  assert.deepEqual(h.in(echoRequest(), callConnectRequest()), []);
  assert.equal(h.events.filter((e) => e.type === 'closed').length, 1);
});

test('packets in one chunk before a Disconnect Ack are processed; those after are not', () => {
  const h = new Harness().connected();
  h.s.disconnect(h.now);
  h.drain();
  const ev = h.in(Buffer.concat([callDisconnectAck(), echoRequest()]));
  assert.deepEqual(types(ev), ['closed']);
});

// --- Zero-key waiver (sstpc never sends Call Connected after CHAP-MD5) ---

test('zero-key auth: the binding can be waived at IPCP open; data then flows both ways', () => {
  const h = new Harness().pending();
  h.s.setHlak(h.now, Buffer.alloc(32));
  h.drain();
  assert.equal(h.s.waiveZeroKeyBinding(h.now), true);
  assert.deepEqual(types(h.drain()), ['connected']);
  assert.equal(h.s.connected, true);
  assert.deepEqual(types(h.in(dataPacket(IPV4))), ['ppp']);
  // The negotiation timer (60 s) no longer applies; only the hello timer runs.
  h.advance(59_000);
  h.in(dataPacket(IPV4));
  assert.deepEqual(types(h.advance(30_000)), []);
  assert.equal(h.s.state, 'Server_Call_Connected');
});

test('zero-key waiver is refused when MS-CHAP keys exist (binding stays mandatory)', () => {
  const h = new Harness().pending();
  h.s.setHlak(h.now, HLAK);
  h.drain();
  assert.equal(h.s.waiveZeroKeyBinding(h.now), false);
  assert.equal(h.s.connected, false);
  assert.deepEqual(types(h.in(dataPacket(IPV4))), []);
});

test('a Call Connected arriving after the waiver is still verified: good → stays, forged → abort', () => {
  const good = new Harness().pending();
  good.s.setHlak(good.now, Buffer.alloc(32));
  good.s.waiveZeroKeyBinding(good.now);
  good.drain();
  good.in(e2e('pap_sha256', 'call_connected'));
  assert.equal(good.s.connected, true);

  const bad = new Harness().pending();
  bad.s.setHlak(bad.now, Buffer.alloc(32));
  bad.s.waiveZeroKeyBinding(bad.now);
  bad.drain();
  const forged = Buffer.from(e2e('pap_sha256', 'call_connected'));
  forged[100] = forged[100]! ^ 0xff;
  bad.in(forged);
  assert.equal(bad.s.state, 'Call_Abort_Pending');
  assert.equal(bad.s.connected, false);
});
