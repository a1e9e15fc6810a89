/**
 * The client core against a scripted fake server that behaves like the independent servers do
 * (sstp.md §7, ppp.md, vyos-accel-ppp.md): extra HTTP headers, an SSTP Echo Request before the Call
 * Connect Ack, a SHA-256-only (SoftEther) or SHA-1-only binding request, LCP options to reject, EAP
 * offered first, an early LCP Echo-Request and an Identification packet, accel-ppp's MS-CHAPv2
 * failure text without C=, a Call Disconnect without attributes. Each step is written out as bytes;
 * the server side's checks (binding, NT-Response) use the project's own vector-tested crypto.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientConnection, type ClientAction } from '../../src/client/connection.js';
import { classifyClose } from '../../src/client/errors.js';
import type { AuthProtocol } from '../../src/config/model.js';
import { certHashes, verifyCallConnected } from '../../src/sstp/binding.js';
import { SstpFramer } from '../../src/sstp/framer.js';
import {
  MessageType,
  callConnectAck,
  dataPacket,
  decodePacket,
  echoRequest,
  encodeControl,
  type SstpPacket,
} from '../../src/sstp/wire.js';
import { CODE, decodeCp, decodeOptions, encodeCp, encodeOptions, type CpOption } from '../../src/ppp/cp.js';
import { encodeFrame, parseFrame } from '../../src/ppp/frame.js';
import { generateAuthenticatorResponse, generateNtResponse, mschapV2ServerHlak } from '../../src/crypto/mschap.js';
import { vx } from '../support/vectors.js';
import { hashRandom } from '../support/random.js';

const CERT = vx('sstp_binding_end_to_end', 'cert_der');
const LCP = 0xc021;
const CHAP = 0xc223;
const PAP = 0xc023;
const IPCP = 0x8021;

const opt = (type: number, ...bytes: number[]): CpOption => ({ type, data: Buffer.from(bytes) });

/** The fake server's end of the pipe: parses what the client sent, sends scripted bytes back. */
class Script {
  now = 0;
  readonly client: ClientConnection;
  readonly actions: ClientAction[] = [];
  private readonly framer = new SstpFramer();
  private readonly inbox: SstpPacket[] = [];
  private httpDone = false;
  httpRequest = '';

  constructor(auth: readonly AuthProtocol[] = ['mschap-v2', 'mschap', 'chap', 'pap'], password = 'vyos') {
    this.client = new ClientConnection(
      { host: 'vpn.example', username: 'vyos', password, authMethods: auth, serverCertDer: CERT, random: hashRandom('client') },
      this.now,
    );
    this.client.start(this.now);
    this.collect();
  }

  /** Moves the client's output into the inbox (HTTP first, then SSTP packets). */
  private collect(): void {
    for (const a of this.client.poll()) {
      this.actions.push(a);
      if (a.type !== 'send') continue;
      if (!this.httpDone) {
        this.httpRequest += a.bytes.toString('latin1');
        this.httpDone = true;
        continue;
      }
      this.framer.push(a.bytes, (p) => this.inbox.push(decodePacket(Buffer.from(p))));
    }
  }

  send(bytes: Buffer): void {
    this.client.receive(this.now, bytes);
    this.collect();
  }
  sendPpp(protocol: number, packet: Buffer): void {
    this.send(dataPacket(encodeFrame(protocol, packet)));
  }

  /** The next packet from the client (fails if there is none). */
  next(): SstpPacket {
    const p = this.inbox.shift();
    assert.ok(p, 'the client sent nothing more');
    return p;
  }
  nextControl(type: number): Buffer {
    const p = this.next();
    assert.equal(p.kind, 'control', `expected control 0x${type.toString(16)}, got a data packet`);
    assert.equal(p.kind === 'control' && p.type, type);
    return Buffer.from(p.kind === 'control' ? encodeControl(p.type, p.attributes) : Buffer.alloc(0));
  }
  /** The next PPP packet of `protocol` from the client, skipping other protocols' packets into `skipped`. */
  nextPpp(protocol: number): { code: number; id: number; data: Buffer } {
    for (;;) {
      const p = this.next();
      assert.equal(p.kind, 'data', 'expected a PPP frame');
      if (p.kind !== 'data') continue;
      const f = parseFrame(p.frame);
      if (f.protocol === protocol) return decodeCp(f.info);
      this.skipped.push(f);
    }
  }
  readonly skipped: { protocol: number; info: Buffer }[] = [];
  get pending(): number {
    return this.inbox.length;
  }
  ofType<T extends ClientAction['type']>(t: T): Extract<ClientAction, { type: T }>[] {
    return this.actions.filter((a): a is Extract<ClientAction, { type: T }> => a.type === t);
  }
}

const NONCE = Buffer.alloc(32, 0x4e);

/** HTTP with extra headers, an early Echo Request, then the Ack with `bitmask`. */
function handshake(s: Script, bitmask: number): void {
  assert.match(s.httpRequest, /^SSTP_DUPLEX_POST \/sra_\{BA195980-CD49-458b-9E23-C84EE0ADCD75\}\/ HTTP\/1\.1\r\n/);
  assert.match(s.httpRequest, /\r\nHost: vpn\.example\r\n/);
  // Headers a real server adds (SoftEther, IIS-fronted RRAS); split across two chunks on purpose.
  const http = 'HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\nServer: Microsoft-HTTPAPI/2.0\r\n' +
    'Date: Thu, 09 Nov 2006 00:51:09 GMT\r\nConnection: keep-alive\r\nX-Powered-By: ASP.NET\r\n\r\n';
  s.send(Buffer.from(http.slice(0, 40), 'latin1'));
  s.send(Buffer.from(http.slice(40), 'latin1'));
  s.nextControl(MessageType.CALL_CONNECT_REQUEST);
  s.send(echoRequest()); // before the Ack: answered, not aborted
  s.nextControl(MessageType.ECHO_RESPONSE);
  s.send(callConnectAck(bitmask, NONCE));
}

/** LCP with ACCM/PFC/ACFC/unknown options and EAP first; returns the client's LCP request id. */
function lcp(s: Script, method: AuthProtocol): void {
  const clientReq = s.nextPpp(LCP);
  assert.equal(clientReq.code, CODE.CONF_REQ);
  // An Echo-Request before LCP is open must be dropped silently (RFC 1661 §5.8).
  s.sendPpp(LCP, encodeCp(CODE.ECHO_REQ, 9, Buffer.from([1, 2, 3, 4])));
  const magic = opt(5, 0xde, 0xad, 0xbe, 0xef);
  s.sendPpp(LCP, encodeCp(CODE.CONF_REQ, 1, encodeOptions([opt(1, 0x05, 0xdc), opt(2, 0, 0, 0, 0), opt(3, 0xc2, 0x27), magic, opt(7), opt(8), opt(0x42, 1, 2)])));
  const rej = s.nextPpp(LCP);
  assert.equal(rej.code, CODE.CONF_REJ, 'reject beats nak');
  assert.equal(rej.id, 1);
  assert.deepEqual(decodeOptions(rej.data).map((o) => o.type), [2, 7, 8, 0x42]);
  s.sendPpp(LCP, encodeCp(CODE.CONF_REQ, 2, encodeOptions([opt(1, 0x05, 0xdc), opt(3, 0xc2, 0x27), magic])));
  const nak = s.nextPpp(LCP);
  assert.equal(nak.code, CODE.CONF_NAK, 'EAP is nak-ed with the method we prefer');
  assert.deepEqual(decodeOptions(nak.data), [opt(3, 0xc2, 0x23, 0x81)]);
  const authOpt = { 'mschap-v2': opt(3, 0xc2, 0x23, 0x81), mschap: opt(3, 0xc2, 0x23, 0x80), chap: opt(3, 0xc2, 0x23, 0x05), pap: opt(3, 0xc0, 0x23) }[method];
  const req3 = encodeOptions([opt(1, 0x05, 0xdc), authOpt, magic]);
  s.sendPpp(LCP, encodeCp(CODE.CONF_REQ, 3, req3));
  const ack = s.nextPpp(LCP);
  assert.equal(ack.code, CODE.CONF_ACK);
  assert.deepEqual(ack.data, req3, 'an Ack echoes the request byte for byte');
  s.sendPpp(LCP, encodeCp(CODE.CONF_ACK, clientReq.id, clientReq.data));
  // Windows sends Identification after LCP opens; the client drops it (no Code-Reject).
  s.sendPpp(LCP, encodeCp(12, 3, Buffer.concat([Buffer.from([0xde, 0xad, 0xbe, 0xef]), Buffer.from('MSRASV5.20')])));
}

/** MS-CHAPv2 as the authenticator; returns the server HLAK. */
function mschapV2(s: Script, password = 'vyos', success = true): Buffer | undefined {
  const challenge = Buffer.alloc(16, 0xa5);
  s.sendPpp(CHAP, encodeCp(1, 7, Buffer.concat([Buffer.from([16]), challenge, Buffer.from('srv')])));
  const resp = s.nextPpp(CHAP);
  assert.equal(resp.code, 2);
  assert.equal(resp.id, 7);
  assert.equal(resp.data[0], 49);
  const value = resp.data.subarray(1, 50);
  const peerChallenge = value.subarray(0, 16);
  const nt = value.subarray(24, 48);
  const name = resp.data.subarray(50).toString('utf8');
  assert.equal(name, 'vyos');
  const expected = generateNtResponse(challenge, peerChallenge, 'vyos', password);
  if (!success || !expected.equals(nt)) {
    // accel-ppp's failure text: no C= field (ppp.md §4.4).
    s.sendPpp(CHAP, encodeCp(4, 7, Buffer.from('E=691 R=0 V=3 M=Authentication failure')));
    return undefined;
  }
  const auth = generateAuthenticatorResponse(password, nt, peerChallenge, challenge, 'vyos');
  s.sendPpp(CHAP, encodeCp(3, 7, Buffer.from(`${auth} M=Authentication succeeded`)));
  return mschapV2ServerHlak(password, nt);
}

/** IPCP: the client asks 0.0.0.0 + DNS; we Nak with an address and one DNS, reject the second. */
function ipcp(s: Script): void {
  const req = s.nextPpp(IPCP);
  assert.equal(req.code, CODE.CONF_REQ);
  assert.deepEqual(decodeOptions(req.data).map((o) => o.type), [3, 129, 131]);
  s.sendPpp(IPCP, encodeCp(CODE.CONF_REQ, 1, encodeOptions([opt(3, 198, 51, 100, 1)])));
  s.sendPpp(IPCP, encodeCp(CODE.CONF_REJ, req.id, encodeOptions([opt(131, 0, 0, 0, 0)])));
  const req2 = s.nextPpp(IPCP);
  // The client may answer our request first; collect both.
  const ours = req2.code === CODE.CONF_ACK ? req2 : s.nextPpp(IPCP);
  const again = req2.code === CODE.CONF_REQ ? req2 : s.nextPpp(IPCP);
  assert.equal(ours.code, CODE.CONF_ACK);
  assert.equal(again.code, CODE.CONF_REQ);
  assert.deepEqual(decodeOptions(again.data).map((o) => o.type), [3, 129]);
  s.sendPpp(IPCP, encodeCp(CODE.CONF_NAK, again.id, encodeOptions([opt(3, 198, 51, 100, 7), opt(129, 198, 51, 100, 53)])));
  const req3 = s.nextPpp(IPCP);
  assert.equal(req3.code, CODE.CONF_REQ);
  s.sendPpp(IPCP, encodeCp(CODE.CONF_ACK, req3.id, req3.data));
}

for (const [bitmask, hp, name] of [[2, 2, 'sha256'], [1, 1, 'sha1'], [3, 2, 'sha256']] as const) {
  test(`scripted server, binding request bitmask ${bitmask}: the client answers with ${name} and the link comes up`, () => {
    const s = new Script();
    handshake(s, bitmask);
    lcp(s, 'mschap-v2');
    const hlak = mschapV2(s)!;
    const cc = s.nextControl(MessageType.CALL_CONNECTED);
    const check = verifyCallConnected(cc, { nonce: NONCE, bitmask, certHashes: certHashes(CERT), hlaks: [{ label: 'ms-sstp', key: hlak }] });
    assert.equal(check.ok, true, JSON.stringify(check));
    assert.equal(check.ok && check.proof.hashProtocol, hp);
    ipcp(s);
    const up = s.ofType('up')[0];
    assert.deepEqual(up, { type: 'up', ipv4: '198.51.100.7', peer: '198.51.100.1', dns: ['198.51.100.53'], mtu: 1500, auth: 'mschap-v2', binding: name });
    assert.equal(s.client.up, true);
    // Nothing answered the early LCP Echo-Request or the Identification packet.
    assert.equal(s.skipped.filter((f) => f.protocol === LCP && decodeCp(f.info).code === CODE.ECHO_REP).length, 0);
    assert.equal(s.skipped.filter((f) => f.protocol === LCP && decodeCp(f.info).code === CODE.CODE_REJ).length, 0);
    // An LCP Echo-Request now is answered.
    s.sendPpp(LCP, encodeCp(CODE.ECHO_REQ, 11, Buffer.from([0xde, 0xad, 0xbe, 0xef])));
    const rep = s.nextPpp(LCP);
    assert.equal(rep.code, CODE.ECHO_REP);
    assert.equal(rep.id, 11);
    // SoftEther ends with a Call Disconnect that has no Status Info: acknowledged, closed cleanly.
    s.send(encodeControl(MessageType.CALL_DISCONNECT));
    s.nextControl(MessageType.CALL_DISCONNECT_ACK);
    s.now += 1000;
    s.client.handleTimeout(s.now);
    s.send(Buffer.alloc(0));
    const closed = s.ofType('closed')[0];
    assert.equal(closed?.code, 'SSTP_PEER_DISCONNECT');
  });
}

test('scripted server: accel-ppp style MS-CHAPv2 failure (no C=) is reported with the server text', () => {
  const s = new Script(['mschap-v2'], 'wrong');
  handshake(s, 3);
  lcp(s, 'mschap-v2');
  assert.equal(mschapV2(s, 'vyos'), undefined);
  const failed = s.ofType('auth-failed')[0];
  assert.equal(failed?.message, 'E=691 R=0 V=3 M=Authentication failure');
  // The client ends PPP (Terminate-Request) and then SSTP.
  const term = s.nextPpp(LCP);
  assert.equal(term.code, CODE.TERM_REQ);
  s.sendPpp(LCP, encodeCp(CODE.TERM_ACK, term.id));
  s.nextControl(MessageType.CALL_DISCONNECT);
  s.send(encodeControl(MessageType.CALL_DISCONNECT_ACK));
  const closed = s.ofType('closed')[0];
  assert.ok(closed);
  const err = classifyClose(closed.code, closed.reason, closed.stage, failed.message);
  assert.equal(err.code, 'E_CLIENT_AUTH');
  assert.equal(err.exitCode, 7);
  assert.equal(err.message, 'authentication failed: Authentication failure (error 691)');
});

test('scripted server: PAP, with the client allowing only PAP (require-pap)', () => {
  const s = new Script(['pap']);
  handshake(s, 2);
  const clientReq = s.nextPpp(LCP);
  const magic = opt(5, 1, 2, 3, 4);
  s.sendPpp(LCP, encodeCp(CODE.CONF_REQ, 1, encodeOptions([opt(3, 0xc2, 0x23, 0x81), magic])));
  const nak = s.nextPpp(LCP);
  assert.equal(nak.code, CODE.CONF_NAK);
  assert.deepEqual(decodeOptions(nak.data), [opt(3, 0xc0, 0x23)], 'MS-CHAPv2 refused, PAP suggested');
  const req = encodeOptions([opt(3, 0xc0, 0x23), magic]);
  s.sendPpp(LCP, encodeCp(CODE.CONF_REQ, 2, req));
  assert.equal(s.nextPpp(LCP).code, CODE.CONF_ACK);
  s.sendPpp(LCP, encodeCp(CODE.CONF_ACK, clientReq.id, clientReq.data));
  const pap = s.nextPpp(PAP);
  assert.equal(pap.code, 1);
  const user = pap.data.subarray(1, 1 + pap.data[0]!).toString();
  const pwAt = 1 + pap.data[0]!;
  assert.equal(user, 'vyos');
  assert.equal(pap.data.subarray(pwAt + 1, pwAt + 1 + pap.data[pwAt]!).toString(), 'vyos');
  s.sendPpp(PAP, encodeCp(2, pap.id, Buffer.from([0])));
  const cc = s.nextControl(MessageType.CALL_CONNECTED);
  const check = verifyCallConnected(cc, { nonce: NONCE, bitmask: 2, certHashes: certHashes(CERT), hlaks: [{ label: 'zero', key: Buffer.alloc(32) }] });
  assert.equal(check.ok, true, 'PAP: binding over a zero HLAK');
  ipcp(s);
  assert.equal(s.ofType('up')[0]?.auth, 'pap');
});

test('scripted server: a Call Connect NAK is an SSTP failure (exit 6)', () => {
  const s = new Script();
  s.send(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\n\r\n', 'latin1'));
  s.nextControl(MessageType.CALL_CONNECT_REQUEST);
  s.send(encodeControl(MessageType.CALL_CONNECT_NAK, [{ id: 2, value: Buffer.from([0, 0, 0, 1, 0, 0, 0, 4, 0, 1]) }]));
  s.nextControl(MessageType.CALL_ABORT);
  s.now += 3000;
  s.client.handleTimeout(s.now);
  s.send(Buffer.alloc(0));
  const closed = s.ofType('closed')[0];
  assert.ok(closed);
  const err = classifyClose(closed.code, closed.reason, closed.stage, undefined);
  assert.equal(err.code, 'E_CLIENT_SSTP_NAK');
  assert.equal(err.exitCode, 6);
});

test('scripted server: HTTP 403 is an HTTP failure (exit 5)', () => {
  const s = new Script();
  s.send(Buffer.from('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n', 'latin1'));
  const closed = s.ofType('closed')[0];
  assert.ok(closed);
  const err = classifyClose(closed.code, closed.reason, closed.stage, undefined);
  assert.equal(err.code, 'E_CLIENT_HTTP');
  assert.match(err.message, /HTTP 403/);
  assert.equal(err.exitCode, 5);
});
