/**
 * SSTP targets: the HTTP readers (request and response), the SSTP framer and packet codec, and
 * the SSTP server and client state machines.
 */
import { certHashes, buildCallConnected, verifyCallConnected } from '../../../src/sstp/binding.js';
import { SstpFramer } from '../../../src/sstp/framer.js';
import {
  HEADER_BLOCK_MAX,
  HttpRequestReader,
  HttpResponseReader,
  SSTP_METHOD,
  SSTP_URI,
  checkSstpRequest,
  http200,
  httpError,
  sstpRequest,
  type HttpReadResult,
  type HttpResponseReadResult,
} from '../../../src/sstp/http.js';
import { SstpClient, type SstpClientEvent } from '../../../src/sstp/client.js';
import { SstpServer, connectRequestProblems, type SstpServerEvent } from '../../../src/sstp/server.js';
import {
  MessageType,
  callAbort,
  callConnectAck,
  callConnectNak,
  callConnectRequest,
  callDisconnect,
  callDisconnectAck,
  dataPacket,
  decodeControl,
  decodeCryptoBinding,
  decodeCryptoBindingRequest,
  decodeEncapsulatedProtocol,
  decodePacket,
  decodeStatusInfo,
  echoRequest,
  echoResponse,
  encodeControl,
  firstStatusInfo,
  readHeader,
} from '../../../src/sstp/wire.js';
import { check, decodeOnly, mutate, seedOrNoise, split, step, type Episode, type Rng, type Step, type Target } from '../engine.js';

const GROUP = 'sstp';
/** Any bytes do as the "certificate": the binding only hashes them. */
export const CERT = Buffer.from('3082010a0282010100c0ffee' + '5a'.repeat(120), 'hex');
export const HASHES = certHashes(CERT);
const NONCE = Buffer.alloc(32, 0x4e);
const HLAK = Buffer.alloc(32, 0x77);
const CC_SHA256 = buildCallConnected(2, NONCE, HASHES.sha256, HLAK);
const CC_SHA1 = buildCallConnected(1, NONCE, HASHES.sha1, HLAK);
/** The SHA-1 MAC is 20 bytes: the last 12 of its 32-byte field are padding the check may ignore. */
const SHA1_SIGNED = CC_SHA1.subarray(0, CC_SHA1.length - 12);
const genuineCallConnected = (p: Buffer): boolean => p.equals(CC_SHA256) || (p.length === CC_SHA1.length && p.subarray(0, SHA1_SIGNED.length).equals(SHA1_SIGNED));
const LCP_REQ = Buffer.from('ff03c02101010014020600000000050612345678070208 02'.replace(/ /g, ''), 'hex');
const IPV4 = Buffer.from('ff0300214500001c0000000040010000c0000202c0000201', 'hex');

const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');

// ---- HTTP -------------------------------------------------------------------------------------

const REQUESTS = [
  sstpRequest('vpn.example.com', '{2B4A8F3C-1D2E-4F50-8A9B-0C1D2E3F4A5B}'),
  latin1(`sstp_duplex_post ${SSTP_URI.toUpperCase()}?tenantid=x HTTP/1.1\nHost: a\n\n`),
  latin1(`${SSTP_METHOD} ${SSTP_URI} HTTP/1.0\r\nContent-Length: 18446744073709551615\r\nA: b\r\nA: c\r\n\r\n`),
  latin1(`GET ${SSTP_URI} HTTP/1.1\r\nHost: x\r\n\r\n`),
  latin1(`POST /sra HTTP/1.1\r\n\r\n`),
  latin1(`${SSTP_METHOD} ${SSTP_URI} HTTP/2.0\r\n\r\n`),
  latin1(`${SSTP_METHOD}  ${SSTP_URI} HTTP/1.1\r\n folded: x\r\n\r\n`),
];
const RESPONSES = [http200(new Date(0)), httpError(404), httpError(431), latin1('HTTP/1.1 200\nContent-Length: 5\n\n'), latin1('HTTP/1.0 503 Busy\r\nX: y\r\n\r\n')];
const HTTP_TOKENS = ['SSTP_DUPLEX_POST', 'sstp_duplex_post', 'GET', 'POST', 'HEAD', '', SSTP_URI, SSTP_URI.toLowerCase(), `${SSTP_URI}?a=b`, '/', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/1.9', 'http/1.1', 'HTTP/2', ' ', '  ', ':', 'Host', 'Content-Length', '\t'];

/** A request/response-like header block built from HTTP-ish tokens. */
function httpGrammar(rng: Rng, response: boolean): Buffer {
  const eol = (): string => rng.pick(['\r\n', '\n', '\r', '\r\n', '\n\r']);
  const word = (): string => (rng.chance(0.8) ? rng.pick(HTTP_TOKENS) : rng.bytes(rng.length(12)).toString('latin1'));
  let first = response ? `HTTP/1.${rng.int(3)} ${rng.range(0, 999)}${rng.chance(0.7) ? ' ' + word() : ''}` : `${word()} ${word()} ${word()}`;
  if (rng.chance(0.2)) first = [word(), word(), word(), word()].join(' ');
  const lines = [first];
  for (let i = rng.int(8); i > 0; i--) lines.push(rng.chance(0.8) ? `${word()}:${word()}` : word());
  const body = lines.map((l) => l + eol()).join('') + (rng.chance(0.85) ? eol() : '');
  return Buffer.concat([latin1(body), rng.chance(0.5) ? rng.bytes(rng.length(40)) : Buffer.alloc(0)]);
}

interface Summary {
  readonly kind: string;
  readonly text: string;
}

function summarize(r: HttpReadResult | HttpResponseReadResult, restAfter: Buffer): Summary {
  if (r.kind === 'request') {
    return { kind: 'request', text: JSON.stringify({ ...r.request, headers: [...r.request.headers], rest: Buffer.concat([r.rest, restAfter]).toString('hex') }) };
  }
  if (r.kind === 'response') {
    return { kind: 'response', text: JSON.stringify({ ...r.response, headers: [...r.response.headers], rest: Buffer.concat([r.rest, restAfter]).toString('hex') }) };
  }
  return { kind: r.kind, text: JSON.stringify(r) };
}

/** Where an independent reading says the header block ends: the first LF followed by LF or CRLF. */
function blockEnd(stream: Buffer): { line: number; end: number } | undefined {
  const m = /\n\r?\n/.exec(stream.toString('latin1'));
  return m ? { line: m.index, end: m.index + m[0].length } : undefined;
}

/** The SSTP request line, read independently of the reader (method/URI case-insensitive, query ignored). */
function isSstpRequestLine(line: string): boolean {
  const parts = line.split(' ');
  if (parts.length !== 3) return false;
  const [method, uri, version] = parts as [string, string, string];
  const q = uri.indexOf('?');
  return method.toUpperCase() === SSTP_METHOD && (q < 0 ? uri : uri.slice(0, q)).toLowerCase() === SSTP_URI.toLowerCase() && /^HTTP\/1\.[0-9]$/.test(version);
}

class HttpEpisode implements Episode {
  private readonly chunks: Buffer[] = [];
  private response = false;
  step(s: Step): void {
    this.response = s.op === 1;
    this.chunks.push(s.data);
  }
  finish(): void {
    const stream = Buffer.concat(this.chunks);
    const chunked = this.feed(this.chunks);
    const whole = this.feed([stream]);
    check(chunked.text === whole.text, `result depends on chunking: ${chunked.text} vs ${whole.text}`);
    const end = blockEnd(stream);
    if (end && end.end <= HEADER_BLOCK_MAX) {
      check(whole.kind !== 'need-more' && !(whole.kind === 'error' && whole.text.includes('"status":431')), `complete header block not read: ${whole.text}`);
      if (whole.kind === 'request' || whole.kind === 'response') {
        check(whole.text.endsWith(`"rest":"${stream.subarray(end.end).toString('hex')}"}`), 'rest is not the bytes after the header block');
      }
    } else if (stream.length >= HEADER_BLOCK_MAX) {
      check(whole.kind === 'error', `header block over ${HEADER_BLOCK_MAX} bytes not refused: ${whole.kind}`);
    } else {
      check(whole.kind === 'need-more', `incomplete header block gave ${whole.kind}`);
    }
    if (!this.response && whole.kind === 'request') {
      const r = new HttpRequestReader().feed(stream);
      if (r.kind === 'request' && checkSstpRequest(r.request).ok) {
        const line = stream.toString('latin1', 0, end?.line ?? 0).split('\n')[0]!.replace(/\r$/, '');
        check(isSstpRequestLine(line), `accepted as SSTP: ${JSON.stringify(line)}`);
      }
    }
  }
  private feed(chunks: readonly Buffer[]): Summary {
    if (this.response) {
      const rd = new HttpResponseReader();
      let r: HttpResponseReadResult = { kind: 'need-more' };
      let i = 0;
      while (i < chunks.length && r.kind === 'need-more') r = rd.feed(chunks[i++]!);
      return summarize(r, Buffer.concat(chunks.slice(i)));
    }
    const rd = new HttpRequestReader();
    let r: HttpReadResult = { kind: 'need-more' };
    let i = 0;
    while (i < chunks.length && r.kind === 'need-more') r = rd.feed(chunks[i++]!);
    return summarize(r, Buffer.concat(chunks.slice(i)));
  }
}

export const httpTarget: Target = {
  name: 'http',
  group: GROUP,
  about: 'HttpRequestReader / HttpResponseReader: same result for any chunking, block end and 431 as read independently, only SSTP request lines accepted',
  generate(rng) {
    const response = rng.chance(0.3);
    const corpus = response ? RESPONSES : REQUESTS;
    let stream: Buffer;
    const r = rng.int(10);
    if (r < 3) stream = httpGrammar(rng, response);
    else if (r < 4) stream = Buffer.concat([rng.pick(corpus), rng.bytes(rng.range(HEADER_BLOCK_MAX - 300, HEADER_BLOCK_MAX + 300))]);
    else if (r < 5) stream = Buffer.concat([latin1('X'.repeat(rng.range(HEADER_BLOCK_MAX - 4, HEADER_BLOCK_MAX + 1))), latin1('\r\n\r\n')]);
    else stream = Buffer.concat([seedOrNoise(rng, corpus, 200, 10_000), rng.chance(0.5) ? callConnectRequest() : Buffer.alloc(0)]);
    return { steps: split(rng, stream, 10).map((c) => step(c, response ? 1 : 0)), inputs: 1 };
  },
  start: () => new HttpEpisode(),
};

// ---- framer and codec -------------------------------------------------------------------------

function controlPackets(): Buffer[] {
  return [
    callConnectRequest(),
    callConnectAck(3, NONCE),
    callConnectNak([{ attribId: 1, status: 4, value: Buffer.from([0, 2]) }]),
    CC_SHA256,
    CC_SHA1,
    callAbort(7),
    callDisconnect(),
    callDisconnectAck(),
    echoRequest(),
    echoResponse(),
    encodeControl(0x00ff, [{ id: 9, value: Buffer.alloc(3) }]),
  ];
}
const PACKETS = [...controlPackets(), dataPacket(LCP_REQ), dataPacket(IPV4), dataPacket(Buffer.alloc(0))];

function randomPacket(rng: Rng): Buffer {
  if (rng.chance(0.4)) return dataPacket(rng.bytes(rng.length(600)));
  const attrs = [];
  for (let i = rng.int(5); i > 0; i--) attrs.push({ id: rng.chance(0.7) ? rng.int(6) : rng.int(256), value: rng.bytes(rng.chance(0.5) ? rng.pick([2, 8, 36, 100]) : rng.length(120)) });
  return encodeControl(rng.chance(0.8) ? rng.range(0, 10) : rng.int(0x10000), attrs);
}

/** Clears what the decoder ignores (reserved bits), so a re-encoded packet can be compared. */
function canonical(p: Buffer): Buffer {
  const out = Buffer.from(p);
  out[1] = out[1]! & 1;
  out.writeUInt16BE(out.readUInt16BE(2) & 0x0fff, 2);
  for (let off = 8; off + 4 <= out.length; ) {
    out[off] = 0;
    const len = out.readUInt16BE(off + 2) & 0x0fff;
    out.writeUInt16BE(len, off + 2);
    if (len < 4) break;
    off += len;
  }
  return out;
}

function runFramer(chunks: readonly Buffer[]): { packets: Buffer[]; error: string | undefined } {
  const f = new SstpFramer();
  const packets: Buffer[] = [];
  for (const c of chunks) {
    const ok = decodeOnly(() => {
      f.push(c, (p) => packets.push(Buffer.from(p)));
      return true;
    });
    if (!ok) {
      check(f.failed !== undefined, 'framer threw but is not failed');
      return { packets, error: f.failed!.code };
    }
  }
  return { packets, error: undefined };
}

/** Every decoder of wire.ts and the binding verifier on one delineated packet. */
function decodeAll(p: Buffer): void {
  const h = decodeOnly(() => readHeader(p));
  check(h !== undefined && h.length === p.length, 'framer delivered a packet whose header length differs');
  const pkt = decodeOnly(() => decodePacket(p));
  if (!pkt || pkt.kind !== 'control') return;
  check(canonical(encodeControl(pkt.type, pkt.attributes)).equals(canonical(p)), 'control packet does not re-encode to itself');
  firstStatusInfo(pkt);
  connectRequestProblems(pkt);
  for (const a of pkt.attributes) {
    decodeOnly(() => decodeStatusInfo(a.value));
    decodeOnly(() => decodeEncapsulatedProtocol(a.value));
    decodeOnly(() => decodeCryptoBinding(a.value));
    decodeOnly(() => decodeCryptoBindingRequest(a.value));
  }
  if (pkt.type === MessageType.CALL_CONNECTED) {
    const v = verifyCallConnected(p, { nonce: NONCE, bitmask: 3, certHashes: HASHES, hlaks: [{ label: 'fuzz', key: HLAK }] });
    check(!v.ok || genuineCallConnected(p), 'a Call Connected other than the genuine one verified');
  }
  decodeOnly(() => decodeControl(p));
}

class FramerEpisode implements Episode {
  private readonly chunks: Buffer[] = [];
  step(s: Step): void {
    this.chunks.push(s.data);
  }
  finish(): void {
    const whole = runFramer([Buffer.concat(this.chunks)]);
    const chunked = runFramer(this.chunks);
    check(chunked.error === whole.error, `framing error depends on chunking: ${chunked.error} vs ${whole.error}`);
    check(chunked.packets.length === whole.packets.length && chunked.packets.every((p, i) => p.equals(whole.packets[i]!)), 'packets depend on chunking');
    for (const p of whole.packets) decodeAll(p);
  }
}

export const framerTarget: Target = {
  name: 'sstp-framer',
  group: GROUP,
  about: 'SstpFramer + wire.ts decoders + binding verifier: DecodeError only, same packets for any chunking, control packets re-encode to themselves',
  generate(rng) {
    const parts: Buffer[] = [];
    for (let i = rng.range(1, 6); i > 0; i--) {
      const r = rng.int(10);
      parts.push(r < 4 ? rng.pick(PACKETS) : r < 6 ? randomPacket(rng) : mutate(rng, rng.pick(PACKETS), PACKETS));
    }
    let stream: Buffer = Buffer.concat(parts);
    if (rng.chance(0.3)) stream = mutate(rng, stream, PACKETS, 16_384);
    if (rng.chance(0.1)) stream = rng.bytes(rng.length(2000));
    return { steps: split(rng, stream, 12).map((c) => step(c)), inputs: 1 };
  },
  start: () => new FramerEpisode(),
};

// ---- server ---------------------------------------------------------------------------------

/** Steps: 0 = bytes, 1 = clock only, 2 = PPP authenticated (data = the HLAK), 3 = zero-key waiver. */
const SERVER_STREAM = [callConnectRequest(), dataPacket(LCP_REQ), dataPacket(IPV4), CC_SHA256, echoRequest(), dataPacket(IPV4), echoResponse(), callDisconnect()];
const SERVER_CORPUS = [...SERVER_STREAM, ...PACKETS];

/** The protocol of a PPP frame as carried, read independently (FF 03 optional, PFC). */
export function pppProtocol(frame: Buffer): number | undefined {
  const i = frame.length >= 2 && frame[0] === 0xff && frame[1] === 0x03 ? 2 : 0;
  if (frame.length <= i) return undefined;
  if (frame[i]! & 1) return frame[i];
  return frame.length >= i + 2 ? frame.readUInt16BE(i) : undefined;
}

class ServerEpisode implements Episode {
  private readonly s = new SstpServer({ certHashes: HASHES, random: (n) => (n === 32 ? Buffer.from(NONCE) : Buffer.alloc(n, 1)), negotiationTimeoutMs: 60_000, helloIntervalMs: 30_000 }, 0);
  private now = 0;
  private stream = Buffer.alloc(0);
  private hlak: Buffer | undefined;
  private connected = false;
  private closed = false;

  step(st: Step): void {
    this.now += st.dt;
    const d = this.s.nextDeadline();
    if (d !== undefined && d <= this.now) this.s.handleTimeout(this.now);
    if (st.op === 0) {
      this.stream = Buffer.concat([this.stream, st.data]);
      this.s.receive(this.now, st.data);
    } else if (st.op === 2 && st.data.length === 32) {
      const st0 = this.s.state;
      if (st0 === 'Server_Connect_Request_Pending' || st0 === 'Server_Call_Connected_Pending') this.hlak = Buffer.from(st.data);
      this.s.setHlak(this.now, st.data);
    } else if (st.op === 3) {
      const waived = this.s.waiveZeroKeyBinding(this.now);
      check(!waived || (this.hlak !== undefined && this.hlak.every((b) => b === 0)), 'binding waived without a zero HLAK');
    }
    this.events(this.s.poll());
  }

  private events(evs: readonly SstpServerEvent[]): void {
    for (const ev of evs) {
      if (ev.type === 'log') continue;
      check(!this.closed, `event ${ev.type} after close`);
      if (ev.type === 'closed') this.closed = true;
      if (ev.type === 'connected') {
        check(!this.connected, 'connected twice');
        this.connected = true;
        const zero = this.hlak !== undefined && this.hlak.every((b) => b === 0);
        const genuine = this.hlak !== undefined && this.hlak.equals(HLAK) && (this.stream.includes(CC_SHA256) || this.stream.includes(SHA1_SIGNED));
        check(genuine || zero, 'connected without a valid Call Connected for the HLAK');
      }
      if (ev.type === 'ppp' && !this.connected) {
        const p = pppProtocol(ev.frame);
        check(p !== undefined && p >= 0x8000, `PPP data frame (protocol ${p}) passed before the call was connected`);
      }
    }
  }
}

export const sstpServerTarget: Target = {
  name: 'sstp-server',
  group: GROUP,
  about: 'SstpServer: never throws; connected only with the genuine Call Connected (or the zero-key waiver); no PPP data before connected; silence after close',
  generate(rng) {
    const steps: Step[] = [];
    let inputs = 0;
    let cursor = 0;
    if (rng.chance(0.5)) {
      // A clean start (request, LCP, authenticated, maybe the binding), then the noise.
      const k = rng.int(SERVER_STREAM.length + 1);
      for (; cursor < k; cursor++) {
        if (cursor === 3) steps.push(step(HLAK, 2));
        steps.push(step(SERVER_STREAM[cursor]!));
      }
    }
    for (let n = rng.range(1, 24); n > 0; n--) {
      const r = rng.int(12);
      const dt = rng.chance(0.15) ? rng.int(rng.chance(0.8) ? 5000 : 70_000) : 0;
      if (r < 1) steps.push(step(rng.chance(0.7) ? HLAK : rng.chance(0.5) ? Buffer.alloc(32) : rng.bytes(32), 2, dt));
      else if (r < 2) steps.push(step(Buffer.alloc(0), rng.chance(0.5) ? 3 : 1, dt));
      else {
        const next = SERVER_STREAM[cursor++ % SERVER_STREAM.length]!;
        const data = r < 6 ? next : r < 10 ? mutate(rng, next, SERVER_CORPUS) : rng.chance(0.5) ? randomPacket(rng) : rng.bytes(rng.length(200));
        for (const c of rng.chance(0.2) ? split(rng, data, 3) : [data]) steps.push(step(c, 0, dt));
        inputs++;
      }
    }
    return { steps, inputs };
  },
  start: () => new ServerEpisode(),
};

// ---- client ---------------------------------------------------------------------------------

const CLIENT_STREAM = [http200(new Date(0)), callConnectAck(3, NONCE), dataPacket(LCP_REQ), echoRequest(), dataPacket(IPV4), callDisconnect(), callDisconnectAck()];
const CLIENT_CORPUS = [...CLIENT_STREAM, ...PACKETS, ...RESPONSES, callConnectAck(1, NONCE), callConnectAck(0, NONCE)];

/** Steps: 0 = bytes from the server, 1 = clock only, 2 = PPP authenticated (send Call Connected if the state allows). */
class ClientEpisode implements Episode {
  private readonly c = new SstpClient({ random: (n) => Buffer.alloc(n, 3), helloIntervalMs: 30_000 }, 0);
  private now = 0;
  private closed = false;
  private acked = false;

  constructor() {
    this.c.httpRequest(0, 'vpn');
  }

  step(st: Step): void {
    this.now += st.dt;
    const d = this.c.nextDeadline();
    if (d !== undefined && d <= this.now) this.c.handleTimeout(this.now);
    if (st.op === 0) this.c.receive(this.now, st.data);
    else if (st.op === 2 && this.c.state === 'Client_Connect_Ack_Received') this.c.sendCallConnected(this.now, HLAK, CERT);
    this.events(this.c.poll());
  }

  private events(evs: readonly SstpClientEvent[]): void {
    for (const ev of evs) {
      if (ev.type === 'log') continue;
      check(!this.closed, `event ${ev.type} after closed`);
      if (ev.type === 'closed') this.closed = true;
      if (ev.type === 'lower-up') this.acked = true;
      if (ev.type === 'ppp') check(this.acked, 'PPP frame passed before the Call Connect Ack');
      if (ev.type === 'send' && this.acked === false) {
        const type = ev.bytes.length >= 6 && (ev.bytes[1]! & 1) === 1 ? ev.bytes.readUInt16BE(4) : -1;
        check(type !== MessageType.CALL_CONNECTED, 'Call Connected sent before the Ack');
      }
    }
  }
}

export const sstpClientTarget: Target = {
  name: 'sstp-client',
  group: GROUP,
  about: 'SstpClient (HTTP response + SSTP): never throws; no PPP before the Connect Ack; silence after closed',
  generate(rng) {
    const steps: Step[] = [];
    let inputs = 0;
    let cursor = 0;
    if (rng.chance(0.5)) {
      const k = rng.int(CLIENT_STREAM.length + 1);
      for (; cursor < k; cursor++) {
        steps.push(step(CLIENT_STREAM[cursor]!));
        if (cursor === 2) steps.push(step(Buffer.alloc(0), 2));
      }
    }
    for (let n = rng.range(1, 20); n > 0; n--) {
      const r = rng.int(12);
      const dt = rng.chance(0.15) ? rng.int(rng.chance(0.8) ? 5000 : 70_000) : 0;
      if (r < 1) steps.push(step(Buffer.alloc(0), 2, dt));
      else if (r < 2) steps.push(step(Buffer.alloc(0), 1, dt));
      else {
        const next = CLIENT_STREAM[cursor++ % CLIENT_STREAM.length]!;
        const data = r < 6 ? next : r < 10 ? mutate(rng, next, CLIENT_CORPUS) : rng.chance(0.5) ? randomPacket(rng) : rng.bytes(rng.length(200));
        for (const c of rng.chance(0.2) ? split(rng, data, 3) : [data]) steps.push(step(c, 0, dt));
        inputs++;
      }
    }
    return { steps, inputs };
  },
  start: () => new ClientEpisode(),
};

