/**
 * SstpClient ↔ SstpServer in memory with a fake clock: HTTP handshake, Connect Request/Ack,
 * PPP control frames, crypto binding, keepalive and teardown, bytes passed as the wire would.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { certHashes } from '../../src/sstp/binding.js';
import { SstpClient, type SstpClientEvent, type SstpClientOptions } from '../../src/sstp/client.js';
import { HttpRequestReader, checkSstpRequest, http200, httpError } from '../../src/sstp/http.js';
import { SstpServer, type SstpServerEvent, type SstpServerOptions } from '../../src/sstp/server.js';
import { MessageType, Status, decodeControl, decodePacket, decodeStatusInfo } from '../../src/sstp/wire.js';
import { vx } from '../support/vectors.js';

const E = 'sstp_binding_end_to_end';
const CERT = vx(E, 'cert_der');
const HLAK = vx(E, 'hlak_mschapv2');
const LCP_REQ = Buffer.from('ff03c0210101000a0506deadbeef', 'hex');
const LCP_ACK = Buffer.from('ff03c0210201000a0506deadbeef', 'hex');
const IPV4 = Buffer.from('ff03002145000014000000004001f96cc0a80001c0a80002', 'hex');

let seed = 1;
const random = (n: number): Buffer => Buffer.alloc(n, seed++ & 0xff);

/** Both cores, a clock, the wire between them; `drop` silences one direction. */
class Pair {
  now = 1000;
  readonly client: SstpClient;
  server: SstpServer | undefined;
  readonly serverEvents: SstpServerEvent[] = [];
  readonly clientEvents: SstpClientEvent[] = [];
  /** Control packet names as they crossed the wire, in order: "C>S CALL_CONNECT_REQUEST". */
  readonly wire: string[] = [];
  dropToServer = false;
  dropToClient = false;
  private readonly http = new HttpRequestReader();

  constructor(private readonly sopts: Partial<SstpServerOptions> = {}, copts: Partial<SstpClientOptions> = {}) {
    this.client = new SstpClient({ random, ...copts }, this.now);
  }

  /** TLS is up: client sends the request; the server side answers like the session would. */
  start(): this {
    this.toServer(this.client.httpRequest(this.now, 'sstp.test.invalid'));
    return this;
  }

  private toServer(bytes: Buffer): void {
    if (this.dropToServer) return;
    if (!this.server) {
      const r = this.http.feed(bytes);
      if (r.kind === 'need-more') return;
      if (r.kind === 'error') return this.client.receive(this.now, httpError(r.status));
      const ok = checkSstpRequest(r.request);
      if (!ok.ok) return this.client.receive(this.now, httpError(ok.status));
      this.server = new SstpServer({ certHashes: certHashes(CERT), random, ...this.sopts }, this.now);
      this.client.receive(this.now, http200(new Date(0)));
      if (r.rest.length > 0) this.server.receive(this.now, r.rest);
      return;
    }
    this.note('C>S', bytes);
    this.server.receive(this.now, bytes);
  }

  private note(dir: string, bytes: Buffer): void {
    const p = decodePacket(bytes);
    if (p.kind === 'control') this.wire.push(`${dir} ${Object.entries(MessageType).find(([, v]) => v === p.type)?.[0] ?? p.type}`);
  }

  /** Move packets both ways until nothing is left to deliver. */
  pump(): void {
    for (let i = 0; i < 100; i++) {
      const ce = this.client.poll();
      const se = this.server?.poll() ?? [];
      if (ce.length === 0 && se.length === 0) return;
      this.clientEvents.push(...ce);
      this.serverEvents.push(...se);
      for (const e of ce) if (e.type === 'send') this.toServer(e.bytes);
      for (const e of se) {
        if (e.type === 'send' && !this.dropToClient) {
          this.note('S>C', e.bytes);
          this.client.receive(this.now, e.bytes);
        }
      }
    }
    assert.fail('pump did not settle');
  }

  /** Jump to each deadline up to now+ms, pumping after each. */
  advance(ms: number): void {
    const end = this.now + ms;
    for (let i = 0; i < 1000; i++) {
      const d = [this.client.nextDeadline(), this.server?.nextDeadline()].filter((x): x is number => x !== undefined);
      const next = d.length ? Math.min(...d) : undefined;
      if (next === undefined || next > end) break;
      this.now = next;
      this.client.handleTimeout(next);
      this.server?.handleTimeout(next);
      this.pump();
    }
    this.now = end;
  }

  /** PPP substitute: one LCP exchange as SSTP data packets, both directions. */
  lcp(): void {
    this.toServer(this.client.encodeData(LCP_REQ));
    this.client.receive(this.now, this.server!.encodeData(LCP_ACK));
    this.pump();
  }

  srv(): SstpServer {
    assert.ok(this.server, 'server exists');
    return this.server;
  }
  serverTypes(): string[] {
    return this.serverEvents.filter((e) => e.type !== 'log' && e.type !== 'send').map((e) => e.type);
  }
  serverClose(): string | undefined {
    const c = this.serverEvents.find((e) => e.type === 'closed');
    return c?.type === 'closed' ? c.code : undefined;
  }
  clientClose(): string | undefined {
    const c = this.clientEvents.find((e) => e.type === 'closed');
    return c?.type === 'closed' ? c.code : undefined;
  }
  serverPpp(): string[] {
    return this.serverEvents.flatMap((e) => (e.type === 'ppp' ? [e.frame.toString('hex')] : []));
  }
  clientPpp(): string[] {
    return this.clientEvents.flatMap((e) => (e.type === 'ppp' ? [e.frame.toString('hex')] : []));
  }
}

/** Through Connect Ack and one LCP exchange. */
function negotiated(sopts: Partial<SstpServerOptions> = {}, copts: Partial<SstpClientOptions> = {}): Pair {
  const p = new Pair(sopts, copts).start();
  p.pump();
  assert.equal(p.srv().state, 'Server_Call_Connected_Pending');
  assert.equal(p.client.state, 'Client_Connect_Ack_Received');
  p.lcp();
  return p;
}

test('full handshake: HTTP, Connect Request/Ack, LCP, HLAK, Call Connected (SHA-256), data both ways', () => {
  const p = negotiated();
  assert.deepEqual(p.wire, ['C>S CALL_CONNECT_REQUEST', 'S>C CALL_CONNECT_ACK']);
  assert.ok(p.clientEvents.some((e) => e.type === 'lower-up'));
  const ack = p.client.bindingRequest;
  assert.ok(ack !== undefined && ack.bitmask === 3 && ack.nonce.length === 32);
  assert.deepEqual(p.serverPpp(), [LCP_REQ.toString('hex')]);
  assert.deepEqual(p.clientPpp(), [LCP_ACK.toString('hex')]);

  // IP before the binding is dropped by the server gate
  p.srv().receive(p.now, p.client.encodeData(IPV4));
  p.pump();
  assert.deepEqual(p.serverPpp(), [LCP_REQ.toString('hex')]);

  p.srv().setHlak(p.now, HLAK);
  p.client.sendCallConnected(p.now, HLAK, CERT);
  p.pump();
  assert.deepEqual(p.serverTypes(), ['lower-up', 'ppp', 'connected']);
  assert.equal(p.srv().connected, true);
  assert.equal(p.client.connected, true);
  const cc = p.serverEvents.find((e) => e.type === 'log' && e.event === 'binding-verified');
  assert.ok(cc?.type === 'log' && cc.fields?.['hashProtocol'] === 2);

  p.srv().receive(p.now, p.client.encodeData(IPV4));
  p.client.receive(p.now, p.srv().encodeData(IPV4));
  p.pump();
  assert.equal(p.serverPpp().at(-1), IPV4.toString('hex'));
  assert.equal(p.clientPpp().at(-1), IPV4.toString('hex'));
});

test('sstpc habit: Call Connected before PPP auth finished is deferred, verified on setHlak', () => {
  const p = negotiated();
  p.client.sendCallConnected(p.now, HLAK, CERT);
  p.pump();
  assert.equal(p.srv().connected, false);
  assert.ok(p.serverEvents.some((e) => e.type === 'log' && e.event === 'call-connected-deferred'));
  p.advance(5000);
  p.srv().setHlak(p.now, HLAK);
  p.pump();
  assert.equal(p.srv().connected, true);
  assert.deepEqual(p.serverTypes(), ['lower-up', 'ppp', 'connected']);
});

test('SHA-1 path: a server offering only SHA-1 gets a SHA-1 binding', () => {
  const p = negotiated({ hashBitmask: 1 });
  p.srv().setHlak(p.now, HLAK);
  p.client.sendCallConnected(p.now, HLAK, CERT);
  p.pump();
  assert.equal(p.srv().connected, true);
  const cc = p.serverEvents.find((e) => e.type === 'log' && e.event === 'binding-verified');
  assert.ok(cc?.type === 'log' && cc.fields?.['hashProtocol'] === 1);
});

test('wrong HLAK / wrong certificate on the client → server aborts, both close, never connected', () => {
  for (const [hlak, cert] of [
    [Buffer.alloc(32), CERT],
    [HLAK, Buffer.concat([CERT, Buffer.from([0])])],
  ] as const) {
    const p = negotiated();
    p.srv().setHlak(p.now, HLAK);
    p.client.sendCallConnected(p.now, hlak, cert);
    p.pump();
    assert.ok(p.wire.includes('S>C CALL_ABORT'));
    assert.equal(p.client.state, 'Call_Abort_Timeout_Pending');
    assert.equal(p.srv().state, 'Call_Abort_Timeout_Pending');
    p.advance(1000);
    assert.equal(p.serverClose(), 'E_SSTP_BINDING_FAILED');
    assert.equal(p.clientClose(), 'E_SSTP_PEER_ABORT');
    assert.ok(!p.serverEvents.some((e) => e.type === 'connected'));
  }
});

test('negotiation timeout: no Call Connected → Call Abort status 8 reaches the client', () => {
  const p = negotiated({}, { negotiationTimeoutMs: 120_000 });
  p.advance(59_999);
  assert.equal(p.srv().state, 'Server_Call_Connected_Pending');
  p.advance(1);
  assert.equal(p.srv().state, 'Call_Abort_Timeout_Pending');
  p.advance(1000);
  const abort = p.clientEvents.find((e) => e.type === 'log' && e.event === 'abort-received');
  assert.ok(abort?.type === 'log' && abort.fields?.['status'] === Status.NEGOTIATION_TIMEOUT);
  assert.equal(p.serverClose(), 'E_SSTP_NEGOTIATION_TIMEOUT');
  assert.equal(p.clientClose(), 'E_SSTP_PEER_ABORT');
});

test('hello: echo answered keeps the call; a silent client is closed after two intervals', () => {
  const p = negotiated();
  p.srv().setHlak(p.now, HLAK);
  p.client.sendCallConnected(p.now, HLAK, CERT);
  p.pump();
  p.advance(10 * 60_000);
  assert.equal(p.srv().connected, true);
  assert.ok(p.wire.filter((w) => w.endsWith('ECHO_REQUEST')).length >= 10);
  assert.ok(p.wire.includes('C>S ECHO_RESPONSE'));

  p.dropToServer = true;
  p.dropToClient = true;
  p.advance(60_000 * 2 + 1);
  assert.equal(p.serverClose(), 'E_SSTP_HELLO_TIMEOUT');
});

test('Call Disconnect from the client → Ack + server close after 1 s; client closes on the Ack', () => {
  const p = negotiated();
  p.srv().setHlak(p.now, HLAK);
  p.client.sendCallConnected(p.now, HLAK, CERT);
  p.pump();
  p.client.disconnect(p.now);
  p.pump();
  assert.deepEqual(p.wire.slice(-2), ['C>S CALL_DISCONNECT', 'S>C CALL_DISCONNECT_ACK']);
  assert.equal(p.clientClose(), 'SSTP_DISCONNECT');
  assert.equal(p.serverClose(), undefined);
  p.advance(999);
  assert.equal(p.serverClose(), undefined);
  p.advance(1);
  assert.equal(p.serverClose(), 'SSTP_PEER_DISCONNECT');
});

test('server disconnect (PPP finished) → Call Disconnect with Status Info → client Ack → server closes', () => {
  const p = negotiated();
  p.srv().disconnect(p.now);
  p.pump();
  const sent = p.serverEvents.find((e) => e.type === 'send' && decodeControl(e.bytes).type === MessageType.CALL_DISCONNECT);
  assert.ok(sent?.type === 'send');
  assert.equal(decodeStatusInfo(decodeControl(sent.bytes).attributes[0]!.value).status, 0);
  assert.equal(p.serverClose(), 'SSTP_DISCONNECT');
  p.advance(1000);
  assert.equal(p.clientClose(), 'SSTP_PEER_DISCONNECT');
});

test('HTTP: a GET is answered 404 and the client closes with the status', () => {
  const p = new Pair();
  const c = p.client;
  c.httpRequest(p.now, 'h');
  const rd = new HttpRequestReader();
  const r = rd.feed(Buffer.from('GET / HTTP/1.1\r\nHost: h\r\n\r\n'));
  assert.ok(r.kind === 'request');
  const check = checkSstpRequest(r.request);
  assert.ok(!check.ok && check.status === 404);
  c.receive(p.now, httpError(check.status));
  const closed = c.poll().find((e) => e.type === 'closed');
  assert.ok(closed?.type === 'closed' && closed.code === 'E_SSTP_HTTP_STATUS');
});

test('client: the 200 and the Connect Ack in one chunk; HTTP timeout without a response', () => {
  const p = new Pair();
  p.client.httpRequest(p.now, 'h');
  const ack = Buffer.from('10010030000200010004002800000003412b489aebd7ecc7d08966f26be7cd72b231a0e9210d7c91b308862b0344c435', 'hex');
  p.client.receive(p.now, Buffer.concat([http200(new Date(0)), ack]));
  const ev = p.client.poll();
  assert.deepEqual(ev.filter((e) => e.type !== 'log').map((e) => e.type), ['send', 'lower-up']);
  assert.equal(p.client.state, 'Client_Connect_Ack_Received');

  const q = new Pair();
  q.client.httpRequest(q.now, 'h');
  q.advance(60_000);
  assert.equal(q.clientClose(), 'E_SSTP_HTTP_TIMEOUT');
});
