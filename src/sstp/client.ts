/**
 * A modest MS-SSTP client state machine (§3.2), sans-I/O: our test peer, the load generator and
 * the future sstp-connect. Same shape as SstpServer: inputs in, events out of `poll()`.
 *
 *   httpRequest(host) → bytes to write after TLS; receive(): HTTP 200 → Call Connect Request →
 *   Connect Ack ('connect-ack': start PPP) → sendCallConnected(hlak, cert) after PPP auth →
 *   Client_Call_Connected.
 */
import { DecodeError, SstpdError } from '../common/errors.js';
import { TimerTable, type Millis } from '../common/time.js';
import { buildCallConnected, certHashes, chooseHashProtocol } from './binding.js';
import { SstpFramer } from './framer.js';
import { HttpResponseReader, SSTP_CONTENT_LENGTH, sstpRequest } from './http.js';
import { SSTP_TEARDOWN_MS } from './server.js';
import {
  AttributeId,
  type ControlPacket,
  HEADER_LEN,
  MessageType,
  Status,
  callAbort,
  callConnectRequest,
  callDisconnect,
  callDisconnectAck,
  dataPacket,
  decodeControl,
  decodeCryptoBindingRequest,
  echoRequest,
  echoResponse,
  firstStatusInfo,
  messageTypeName,
} from './wire.js';

export type SstpClientEvent =
  | { readonly type: 'send'; readonly bytes: Buffer }
  /** Call Connect Ack received: start PPP. */
  | { readonly type: 'connect-ack'; readonly bitmask: number; readonly nonce: Buffer }
  | { readonly type: 'ppp'; readonly frame: Buffer }
  /** Close TLS/TCP now. Always the last event. */
  | { readonly type: 'closed'; readonly code: string; readonly reason: string }
  | {
      readonly type: 'log';
      readonly level: 'debug' | 'info' | 'warn';
      readonly event: string;
      readonly fields?: Record<string, string | number>;
    };

export interface SstpClientOptions {
  readonly random: (n: number) => Buffer;
  /** HTTP 200 wait, then Connect Ack wait, then until Call Connected is sent; default 60000 each. */
  readonly negotiationTimeoutMs?: number;
  readonly helloIntervalMs?: number;
}

export type SstpClientState =
  | 'Client_Http_Pending'
  | 'Client_Http_Response_Pending'
  | 'Client_Connect_Request_Sent'
  | 'Client_Connect_Ack_Received'
  | 'Client_Call_Connected'
  | 'Call_Abort_Pending'
  | 'Call_Abort_Timeout_Pending'
  | 'Call_Disconnect_Ack_Pending'
  | 'Call_Disconnect_Timeout_Pending'
  | 'Client_Call_Disconnected';

const QUIET: ReadonlySet<SstpClientState> = new Set<SstpClientState>([
  'Call_Abort_Pending',
  'Call_Abort_Timeout_Pending',
  'Call_Disconnect_Ack_Pending',
  'Call_Disconnect_Timeout_Pending',
]);

type TimerKind = 'negotiation' | 'hello' | 'teardown';
type Log = Extract<SstpClientEvent, { type: 'log' }>;
type Why = { code: string; reason: string };

/** A GUID in braces, upper-case, from 16 random bytes (SSTPCORRELATIONID). */
function guid(b: Buffer): string {
  const h = b.toString('hex').toUpperCase();
  return `{${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}}`;
}

export class SstpClient {
  private st: SstpClientState = 'Client_Http_Pending';
  private readonly http = new HttpResponseReader();
  private readonly framer = new SstpFramer();
  private readonly timers = new TimerTable<TimerKind>();
  private events: SstpClientEvent[] = [];
  private readonly negotiationMs: number;
  private readonly helloMs: number;
  private ack: { bitmask: number; nonce: Buffer } | undefined;
  private echoOutstanding = false;
  private closeReason: Why = { code: 'E_SSTP_LOCAL_ABORT', reason: '' };

  constructor(private readonly opts: SstpClientOptions, _now: Millis) {
    this.negotiationMs = opts.negotiationTimeoutMs ?? 60_000;
    this.helloMs = opts.helloIntervalMs ?? 60_000;
  }

  get state(): SstpClientState {
    return this.st;
  }
  get connected(): boolean {
    return this.st === 'Client_Call_Connected';
  }
  get closed(): boolean {
    return this.st === 'Client_Call_Disconnected';
  }

  poll(): SstpClientEvent[] {
    const out = this.events;
    this.events = [];
    return out;
  }
  nextDeadline(): Millis | undefined {
    return this.timers.next();
  }

  /** The SSTP_DUPLEX_POST request to write once TLS is up; starts the 60 s wait for the 200. */
  httpRequest(now: Millis, host: string, correlationGuid?: string): Buffer {
    if (this.st !== 'Client_Http_Pending') throw new SstpdError('E_SSTP_STATE', 'sstp client: request already sent');
    this.st = 'Client_Http_Response_Pending';
    this.timers.set('negotiation', now + this.negotiationMs);
    return sstpRequest(host, correlationGuid ?? guid(this.opts.random(16)));
  }

  /** Bytes from TLS: the HTTP response first, then the SSTP stream. Never throws on peer input. */
  receive(now: Millis, chunk: Buffer): void {
    if (this.closed) return;
    if (this.st === 'Client_Http_Response_Pending') {
      const r = this.http.feed(chunk);
      if (r.kind === 'need-more') return;
      if (r.kind === 'error') return this.close('E_SSTP_HTTP', r.reason);
      const { status, headers } = r.response;
      if (status !== 200) return this.close('E_SSTP_HTTP_STATUS', `server answered HTTP ${status}`);
      const cl = headers.get('content-length');
      if (cl !== undefined && cl !== SSTP_CONTENT_LENGTH) return this.close('E_SSTP_HTTP', `Content-Length ${cl}`);
      this.send(callConnectRequest());
      this.st = 'Client_Connect_Request_Sent';
      this.timers.set('negotiation', now + this.negotiationMs);
      chunk = r.rest;
      if (chunk.length === 0) return;
    }
    if (this.st === 'Client_Http_Pending') throw new SstpdError('E_SSTP_STATE', 'sstp client: receive before httpRequest');
    try {
      this.framer.push(chunk, (p) => this.onPacket(now, p));
    } catch (e) {
      if (!(e instanceof DecodeError) || this.closed) throw e;
      this.log('warn', 'framing-error', { code: e.code, message: e.message });
      this.close(e.code, `framing error: ${e.message}`);
    }
  }

  /**
   * PPP authentication done: send Call Connected with the strongest offered hash (SHA-256 when the
   * bitmask has it, SHA-1 when only that is offered). `certDer` is the server certificate seen in
   * TLS. Returns the hash protocol used (1 SHA-1, 2 SHA-256), undefined if none could be.
   * Once the binding was sent or the call is ending it is a no-op (undefined): PPP may finish
   * authenticating in the very chunk whose bad SSTP packet aborted the call, or re-authenticate later.
   */
  sendCallConnected(now: Millis, hlak: Buffer, certDer: Buffer): number | undefined {
    if (this.st !== 'Client_Connect_Ack_Received' || !this.ack) {
      if (this.st === 'Client_Call_Connected' || this.closed || QUIET.has(this.st)) return undefined;
      throw new SstpdError('E_SSTP_STATE', `sstp client: Call Connected in ${this.st}`);
    }
    const hp = chooseHashProtocol(this.ack.bitmask);
    if (hp === undefined) {
      this.abortWith(now, Status.VALUE_NOT_SUPPORTED, AttributeId.CRYPTO_BINDING_REQ, 'E_SSTP_HASH_PROTOCOL',
        `no supported hash in bitmask ${this.ack.bitmask}`);
      return undefined;
    }
    const hashes = certHashes(certDer);
    this.send(buildCallConnected(hp, this.ack.nonce, hp === 2 ? hashes.sha256 : hashes.sha1, hlak));
    this.ack = undefined;
    this.st = 'Client_Call_Connected';
    this.timers.clear('negotiation');
    this.heard(now);
    return hp;
  }

  encodeData(frame: Buffer): Buffer {
    return dataPacket(frame);
  }

  disconnect(now: Millis, status: number = Status.NO_ERROR): void {
    if (this.closed || QUIET.has(this.st)) return;
    if (this.st === 'Client_Http_Pending' || this.st === 'Client_Http_Response_Pending') {
      return this.close('SSTP_DISCONNECT', 'local disconnect before SSTP started');
    }
    this.send(callDisconnect(status));
    this.enterTeardown(now, 'Call_Disconnect_Ack_Pending', SSTP_TEARDOWN_MS.disconnectT1, {
      code: 'SSTP_DISCONNECT',
      reason: 'local disconnect',
    });
  }

  abort(now: Millis, status: number, reason: string): void {
    if (this.closed || QUIET.has(this.st)) return;
    if (this.st === 'Client_Http_Pending' || this.st === 'Client_Http_Response_Pending') return this.close('E_SSTP_LOCAL_ABORT', reason);
    this.abortWith(now, status, AttributeId.NO_ERROR, 'E_SSTP_LOCAL_ABORT', reason);
  }

  handleTimeout(now: Millis): void {
    for (const kind of this.timers.expired(now)) {
      if (this.closed) return;
      if (kind === 'teardown') this.close(this.closeReason.code, this.closeReason.reason);
      else if (kind === 'hello') this.onHelloTimeout(now);
      else if (this.st === 'Client_Http_Response_Pending') this.close('E_SSTP_HTTP_TIMEOUT', 'no HTTP response in time');
      else if (!QUIET.has(this.st) && this.st !== 'Client_Call_Connected') {
        this.abortWith(now, Status.NEGOTIATION_TIMEOUT, AttributeId.NO_ERROR, 'E_SSTP_NEGOTIATION_TIMEOUT', 'negotiation timed out');
      }
    }
  }

  // ---- input ------------------------------------------------------------------------------------

  /**
   * Fast lane for data: when set, every data packet's PPP frame (a view into the received chunk,
   * valid during the call) goes here instead of becoming a 'ppp' event. The owner returns false for
   * frames it does not handle itself (control protocols), which then take the event path.
   */
  dataSink: ((frame: Buffer) => boolean) | undefined;

  private onPacket(now: Millis, packet: Buffer): void {
    if (this.closed) return;
    if (this.st === 'Client_Call_Connected') this.heard(now);
    if ((packet[1]! & 0x01) === 0) {
      if (this.dataSink && this.st === 'Client_Call_Connected' && this.dataSink(packet.subarray(HEADER_LEN))) return;
      const frame = packet.subarray(HEADER_LEN);
      const open = this.st === 'Client_Connect_Ack_Received' || this.st === 'Client_Call_Connected';
      if (open && frame.length > 0) this.events.push({ type: 'ppp', frame });
      return;
    }
    let p: ControlPacket;
    try {
      p = decodeControl(packet);
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      if (!QUIET.has(this.st)) this.abortWith(now, Status.INVALID_FRAME_RECEIVED, AttributeId.NO_ERROR, 'E_SSTP_BAD_CONTROL', e.message);
      return;
    }
    this.onControl(now, p);
  }

  private onControl(now: Millis, p: ControlPacket): void {
    const quiet = QUIET.has(this.st);
    switch (p.type) {
      case MessageType.CALL_CONNECT_ACK:
        if (quiet) return;
        if (this.st === 'Client_Connect_Request_Sent') return this.onConnectAck(now, p);
        return this.unexpected(now, p);
      case MessageType.CALL_CONNECT_NAK:
        if (quiet) return;
        if (this.st === 'Client_Connect_Request_Sent') {
          // We only ever ask for PPP, so there is nothing to renegotiate.
          return this.abortWith(now, Status.VALUE_NOT_SUPPORTED, AttributeId.ENCAPSULATED_PROTOCOL_ID, 'E_SSTP_NAK',
            'server refused the Call Connect Request');
        }
        return this.unexpected(now, p);
      case MessageType.ECHO_REQUEST:
        // Lenient on purpose: SoftEther-style servers probe from the start; answering costs nothing.
        if (quiet) return;
        return this.send(echoResponse());
      case MessageType.ECHO_RESPONSE:
        if (quiet || this.st === 'Client_Connect_Ack_Received' || this.st === 'Client_Call_Connected') return;
        return this.unexpected(now, p);
      case MessageType.CALL_ABORT:
        return this.onAbort(now, p);
      case MessageType.CALL_DISCONNECT:
        return this.onDisconnect(now);
      case MessageType.CALL_DISCONNECT_ACK:
        if (this.st === 'Call_Disconnect_Ack_Pending') return this.close(this.closeReason.code, this.closeReason.reason);
        if (quiet) return;
        return this.unexpected(now, p);
      default:
        if (quiet) return;
        return this.unexpected(now, p);
    }
  }

  private onConnectAck(now: Millis, p: ControlPacket): void {
    const a = p.attributes.length === 1 ? p.attributes[0] : undefined;
    if (!a || a.id !== AttributeId.CRYPTO_BINDING_REQ || a.value.length !== 36) {
      return this.abortWith(now, Status.INVALID_FRAME_RECEIVED, AttributeId.CRYPTO_BINDING_REQ, 'E_SSTP_BAD_CONTROL',
        'Call Connect Ack without a valid Crypto Binding Request');
    }
    const req = decodeCryptoBindingRequest(a.value);
    this.ack = { bitmask: req.bitmask, nonce: Buffer.from(req.nonce) };
    this.st = 'Client_Connect_Ack_Received';
    this.events.push({ type: 'connect-ack', bitmask: req.bitmask, nonce: this.ack.nonce });
  }

  private onAbort(now: Millis, p: ControlPacket): void {
    if (this.st === 'Call_Abort_Timeout_Pending' || this.st === 'Call_Disconnect_Timeout_Pending') return;
    const s = firstStatusInfo(p);
    this.log('warn', 'abort-received', { status: s?.status ?? -1, attribId: s?.attribId ?? -1 });
    if (this.st === 'Call_Abort_Pending') {
      this.st = 'Call_Abort_Timeout_Pending';
      this.timers.set('teardown', now + SSTP_TEARDOWN_MS.abortT2);
      return;
    }
    this.send(callAbort(Status.NO_ERROR));
    this.enterTeardown(now, 'Call_Abort_Timeout_Pending', SSTP_TEARDOWN_MS.abortT2, {
      code: 'E_SSTP_PEER_ABORT',
      reason: `peer aborted (status ${s?.status ?? 'none'})`,
    });
  }

  private onDisconnect(now: Millis): void {
    if (this.st === 'Call_Abort_Pending' || this.st === 'Call_Abort_Timeout_Pending' || this.st === 'Call_Disconnect_Timeout_Pending') {
      return;
    }
    this.log('info', 'disconnect-received');
    const ours = this.st === 'Call_Disconnect_Ack_Pending';
    this.send(callDisconnectAck());
    this.enterTeardown(now, 'Call_Disconnect_Timeout_Pending', SSTP_TEARDOWN_MS.disconnectT2,
      ours ? this.closeReason : { code: 'SSTP_PEER_DISCONNECT', reason: 'peer disconnected' });
  }

  private onHelloTimeout(now: Millis): void {
    if (this.st !== 'Client_Call_Connected') return;
    if (!this.echoOutstanding) {
      this.echoOutstanding = true;
      this.send(echoRequest());
      this.timers.set('hello', now + this.helloMs);
      return;
    }
    this.log('warn', 'hello-timeout');
    this.close('E_SSTP_HELLO_TIMEOUT', 'nothing received for two hello intervals');
  }

  private heard(now: Millis): void {
    this.echoOutstanding = false;
    this.timers.set('hello', now + this.helloMs);
  }

  // ---- helpers ----------------------------------------------------------------------------------

  private unexpected(now: Millis, p: ControlPacket): void {
    const name = messageTypeName(p.type);
    this.log('warn', 'unexpected-message', { message: name, state: this.st });
    this.abortWith(now, Status.UNACCEPTED_FRAME_RECEIVED, AttributeId.NO_ERROR, 'E_SSTP_UNEXPECTED_MESSAGE', `${name} in ${this.st}`);
  }

  private abortWith(now: Millis, status: number, attribId: number, code: string, reason: string): void {
    this.log('warn', 'abort-sent', { status, code, reason });
    this.send(callAbort(status, attribId));
    this.enterTeardown(now, 'Call_Abort_Pending', SSTP_TEARDOWN_MS.abortT1, { code, reason });
  }

  private enterTeardown(now: Millis, st: SstpClientState, ms: number, why: Why): void {
    this.st = st;
    this.closeReason = why;
    this.ack = undefined;
    this.timers.clearAll();
    this.timers.set('teardown', now + ms);
  }

  private close(code: string, reason: string): void {
    this.st = 'Client_Call_Disconnected';
    this.ack = undefined;
    this.timers.clearAll();
    this.events.push({ type: 'closed', code, reason });
  }

  private send(bytes: Buffer): void {
    this.events.push({ type: 'send', bytes });
  }

  private log(level: Log['level'], event: string, fields?: Record<string, string | number>): void {
    this.events.push(fields ? { type: 'log', level, event, fields } : { type: 'log', level, event });
  }
}
