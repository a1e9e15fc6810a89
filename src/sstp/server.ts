/**
 * The MS-SSTP server state machine (§3.1.1, §3.3; the table is sstp.md §4), sans-I/O: bytes,
 * timeouts and the HLAK go in; packets to send, PPP frames and lifecycle signals come out of
 * `poll()`. The HTTP handshake is done by the caller; construction = "HTTP request valid, 200
 * sent" (state Server_Connect_Request_Pending).
 */
import { DecodeError, SstpdError } from '../common/errors.js';
import { TimerTable, type Millis } from '../common/time.js';
import { type BindingKey, type BindingVerified, type CertHashes, verifyCallConnected } from './binding.js';
import { SstpFramer } from './framer.js';
import {
  AttributeId,
  type ControlPacket,
  ENCAPSULATED_PROTOCOL_PPP,
  HEADER_LEN,
  MessageType,
  NONCE_LEN,
  Status,
  type StatusInfo,
  callAbort,
  callConnectAck,
  callConnectNak,
  callDisconnect,
  callDisconnectAck,
  dataPacket,
  decodeControl,
  decodeEncapsulatedProtocol,
  decodeStatusInfo,
  echoRequest,
  echoResponse,
  firstStatusInfo,
  messageTypeName,
} from './wire.js';

export type SstpServerEvent =
  /** One SSTP packet to write to TLS. */
  | { readonly type: 'send'; readonly bytes: Buffer }
  /** Call Connect Request accepted: start PPP (LCP). */
  | { readonly type: 'lower-up' }
  /** A PPP frame as carried (e.g. FF 03 C0 21 …) that passed the state gate; a view into the received chunk. */
  | { readonly type: 'ppp'; readonly frame: Buffer }
  /** Crypto binding verified: IP data may flow both ways now. */
  | { readonly type: 'connected' }
  /** Close TLS/TCP now (after flushing queued sends). Always the last event. */
  | { readonly type: 'close'; readonly code: string; readonly reason: string }
  | {
      readonly type: 'log';
      readonly level: 'debug' | 'info' | 'warn';
      readonly event: string;
      readonly fields?: Record<string, string | number>;
    };

export interface SstpServerOptions {
  /** Hashes of the certificate the client sees (ours, or a TLS-terminating proxy's). */
  readonly certHashes: CertHashes;
  /** Hash protocols offered in the Ack: 1 SHA-1, 2 SHA-256, 3 both (default). */
  readonly hashBitmask?: 1 | 2 | 3;
  readonly random: (n: number) => Buffer;
  /** From construction (accept) to a verified Call Connected; default 60000. */
  readonly negotiationTimeoutMs?: number;
  /** Default 60000. */
  readonly helloIntervalMs?: number;
  /** Bad Call Connect Requests answered with a NAK; the next one aborts. Default 3. */
  readonly maxNaks?: number;
}

export type SstpServerState =
  | 'Server_Connect_Request_Pending'
  | 'Server_Call_Connected_Pending'
  | 'Server_Call_Connected'
  | 'Call_Abort_Pending'
  | 'Call_Abort_Timeout_Pending'
  | 'Call_Disconnect_Ack_Pending'
  | 'Call_Disconnect_Timeout_Pending'
  | 'Server_Call_Disconnected';

/** §3.1.2: abort T1/T2 and disconnect T1/T2. */
export const SSTP_TEARDOWN_MS = { abortT1: 3000, abortT2: 1000, disconnectT1: 5000, disconnectT2: 1000 } as const;

/** Close codes (stable). Orderly ends have no E_ prefix. */
export const SstpCloseCode = {
  NEGOTIATION_TIMEOUT: 'E_SSTP_NEGOTIATION_TIMEOUT',
  HELLO_TIMEOUT: 'E_SSTP_HELLO_TIMEOUT',
  BINDING_FAILED: 'E_SSTP_BINDING_FAILED',
  BAD_CONTROL: 'E_SSTP_BAD_CONTROL',
  UNEXPECTED_MESSAGE: 'E_SSTP_UNEXPECTED_MESSAGE',
  CONNECT_RETRIES: 'E_SSTP_CONNECT_RETRIES',
  PEER_ABORT: 'E_SSTP_PEER_ABORT',
  LOCAL_ABORT: 'E_SSTP_LOCAL_ABORT',
  DISCONNECT: 'SSTP_DISCONNECT',
  PEER_DISCONNECT: 'SSTP_PEER_DISCONNECT',
} as const;

type TimerKind = 'negotiation' | 'hello' | 'teardown';
type Log = Extract<SstpServerEvent, { type: 'log' }>;

const QUIET: ReadonlySet<SstpServerState> = new Set<SstpServerState>([
  'Call_Abort_Pending',
  'Call_Abort_Timeout_Pending',
  'Call_Disconnect_Ack_Pending',
  'Call_Disconnect_Timeout_Pending',
]);
/** A NAK lists at most this many problems (keeps it far below 4095 bytes). */
const MAX_NAK_ITEMS = 16;
const HLAK_LEN = 32;

/**
 * Before Call Connected only PPP control frames may pass (§3.3.7.2): protocol ≥ 0x8000 (NCPs, LCP,
 * auth). FF 03 is optional and a compressed (1-byte, PFC) protocol is always < 0x100, i.e. data.
 */
export function isPppControlFrame(frame: Buffer): boolean {
  let i = frame.length >= 2 && frame[0] === 0xff && frame[1] === 0x03 ? 2 : 0;
  if (i + 2 > frame.length) return false;
  const hi = frame[i++]!;
  return (hi & 0x01) === 0 && hi >= 0x80;
}

export class SstpServer {
  private st: SstpServerState = 'Server_Connect_Request_Pending';
  private readonly framer = new SstpFramer();
  private readonly timers = new TimerTable<TimerKind>();
  private events: SstpServerEvent[] = [];
  private readonly bitmask: number;
  private readonly helloMs: number;
  private readonly maxNaks: number;
  private naks = 0;
  private nonce: Buffer | undefined;
  /** Acceptable HLAKs (copies, wiped when no longer needed); undefined until PPP auth finished. */
  private hlaks: BindingKey[] | undefined;
  /** A Call Connected that arrived before PPP auth finished (sstpc sends it early). */
  private deferred: Buffer | undefined;
  /** Entered Call_Connected without a Call Connected (zero-key auth); a late one is still checked. */
  private bindingWaived = false;
  private echoOutstanding = false;
  /** Why we will close when the teardown timer fires. */
  private closeReason: { code: string; reason: string } = { code: SstpCloseCode.LOCAL_ABORT, reason: '' };

  constructor(private readonly opts: SstpServerOptions, now: Millis) {
    this.bitmask = opts.hashBitmask ?? 3;
    this.helloMs = opts.helloIntervalMs ?? 60_000;
    this.maxNaks = opts.maxNaks ?? 3;
    if (opts.certHashes.sha1.length !== 20 || opts.certHashes.sha256.length !== 32) {
      throw new SstpdError('E_SSTP_CERT_HASH', 'sstp: cert hashes must be 20 (SHA-1) and 32 (SHA-256) bytes');
    }
    this.timers.set('negotiation', now + (opts.negotiationTimeoutMs ?? 60_000));
  }

  get state(): SstpServerState {
    return this.st;
  }
  get connected(): boolean {
    return this.st === 'Server_Call_Connected';
  }
  get closed(): boolean {
    return this.st === 'Server_Call_Disconnected';
  }

  poll(): SstpServerEvent[] {
    const out = this.events;
    this.events = [];
    return out;
  }

  nextDeadline(): Millis | undefined {
    return this.timers.next();
  }

  /** SSTP stream bytes (after the HTTP header block), any chunking. Never throws on peer input. */
  receive(now: Millis, chunk: Buffer): void {
    if (this.closed) return;
    try {
      this.framer.push(chunk, (packet) => this.onPacket(now, packet));
    } catch (e) {
      if (!(e instanceof DecodeError) || this.closed) throw e;
      // §3.1.5.1: delineation failed → close without sending anything.
      this.log('warn', 'framing-error', { code: e.code, message: e.message });
      this.close(e.code, `framing error: ${e.message}`);
    }
  }

  /** PPP authentication finished with one HLAK (zeros for PAP/CHAP); see setHlaks. */
  setHlak(now: Millis, hlak: Buffer, label = 'hlak'): void {
    this.setHlaks(now, [{ label, key: hlak }]);
  }

  /**
   * PPP authentication finished: the HLAKs a client may have computed (MS-CHAPv1 has two forms in
   * the wild), tried in order; verifies a deferred Call Connected.
   */
  setHlaks(now: Millis, hlaks: readonly BindingKey[]): void {
    if (hlaks.length === 0) throw new SstpdError('E_SSTP_HLAK', 'sstp: no HLAK given');
    for (const h of hlaks) {
      if (h.key.length !== HLAK_LEN) throw new SstpdError('E_SSTP_HLAK', `sstp: HLAK of ${h.key.length} bytes, need 32`);
    }
    if (this.st !== 'Server_Connect_Request_Pending' && this.st !== 'Server_Call_Connected_Pending') return;
    this.hlaks = hlaks.map((h) => ({ label: h.label, key: Buffer.from(h.key) }));
    const early = this.deferred;
    this.deferred = undefined;
    if (early && this.st === 'Server_Call_Connected_Pending') this.verifyBinding(now, early);
  }

  /**
   * Interop exception for authentication without keys (PAP, CHAP-MD5: the HLAK is all zeros).
   * sstpc 1.0.18 never sends Call Connected after CHAP-MD5 (it only marks authentication done for
   * 49-byte MS-CHAP responses), and with a zero HLAK the Compound MAC can be computed by anyone who
   * sees our certificate, so it proves nothing a zero-key binding could. Waiting for it would only
   * strand such clients until the negotiation timeout. The session calls this when the network layer
   * opens; a Call Connected that still arrives later is verified all the same (mismatch → abort).
   * Returns false (and changes nothing) when the HLAK is not zero: MS-CHAP keys make binding mandatory.
   */
  waiveZeroKeyBinding(now: Millis): boolean {
    const zeroOnly = this.hlaks?.every((h) => h.key.every((b) => b === 0)) === true;
    if (this.st !== 'Server_Call_Connected_Pending' || !zeroOnly) return false;
    this.bindingWaived = true;
    this.timers.clear('negotiation');
    this.st = 'Server_Call_Connected';
    this.heard(now);
    this.log('info', 'binding-waived', { reason: 'zero-key authentication and no Call Connected yet' });
    this.events.push({ type: 'connected' });
    return true;
  }

  /** Orderly shutdown (PPP finished, admin): Call Disconnect, wait for the ack (T1 5 s), close. */
  disconnect(now: Millis, status: number = Status.NO_ERROR): void {
    if (this.closed || QUIET.has(this.st)) return;
    this.log('info', 'disconnect-sent', { status });
    this.send(callDisconnect(status));
    this.enterTeardown(now, 'Call_Disconnect_Ack_Pending', SSTP_TEARDOWN_MS.disconnectT1, {
      code: SstpCloseCode.DISCONNECT,
      reason: 'local disconnect',
    });
  }

  /** Abnormal shutdown: Call Abort, T1 3 s, close. */
  abort(now: Millis, status: number, reason: string): void {
    if (this.closed || QUIET.has(this.st)) return;
    this.abortWith(now, status, AttributeId.NO_ERROR, SstpCloseCode.LOCAL_ABORT, reason);
  }

  /** Data packet for a PPP frame; gating outbound IP before 'connected' is the caller's job. */
  encodeData(frame: Buffer): Buffer {
    return dataPacket(frame);
  }

  handleTimeout(now: Millis): void {
    for (const kind of this.timers.expired(now)) {
      if (this.closed) return;
      if (kind === 'negotiation') this.onNegotiationTimeout(now);
      else if (kind === 'hello') this.onHelloTimeout(now);
      else this.close(this.closeReason.code, this.closeReason.reason);
    }
  }

  // ---- input ------------------------------------------------------------------------------------

  private onPacket(now: Millis, packet: Buffer): void {
    if (this.closed) return;
    if (this.st === 'Server_Call_Connected') this.heard(now);
    if ((packet[1]! & 0x01) === 0) {
      this.onData(now, packet.subarray(HEADER_LEN));
      return;
    }
    let p: ControlPacket;
    try {
      p = decodeControl(packet);
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      if (QUIET.has(this.st)) return;
      this.log('warn', 'bad-control-packet', { code: e.code, message: e.message });
      this.abortWith(now, Status.INVALID_FRAME_RECEIVED, AttributeId.NO_ERROR, SstpCloseCode.BAD_CONTROL, e.message);
      return;
    }
    this.onControl(now, p, packet);
  }

  /**
   * Fast lane for data once the call is connected: each PPP frame (a view into the received chunk,
   * valid during the call) goes here first; frames it returns false for take the 'ppp' event path.
   */
  dataSink: ((now: Millis, frame: Buffer) => boolean) | undefined;

  private onData(now: Millis, frame: Buffer): void {
    if (frame.length === 0) return;
    if (this.st === 'Server_Call_Connected' && this.dataSink?.(now, frame)) return;
    if (this.st === 'Server_Call_Connected' || (this.st === 'Server_Call_Connected_Pending' && isPppControlFrame(frame))) {
      this.events.push({ type: 'ppp', frame });
    }
  }

  private onControl(now: Millis, p: ControlPacket, raw: Buffer): void {
    const quiet = QUIET.has(this.st);
    switch (p.type) {
      case MessageType.CALL_CONNECT_REQUEST:
        if (quiet) return;
        if (this.st === 'Server_Connect_Request_Pending') return this.onConnectRequest(now, p);
        return this.unexpected(now, p);
      case MessageType.CALL_CONNECTED:
        if (quiet) return;
        if (this.st === 'Server_Call_Connected_Pending' || this.bindingWaived) return this.onCallConnected(now, raw);
        return this.unexpected(now, p);
      case MessageType.ECHO_REQUEST:
        if (quiet) return;
        if (this.st === 'Server_Call_Connected') return this.send(echoResponse());
        return this.unexpected(now, p);
      case MessageType.ECHO_RESPONSE:
        if (quiet || this.st === 'Server_Call_Connected') return;
        return this.unexpected(now, p);
      case MessageType.CALL_ABORT:
        return this.onAbort(now, p);
      case MessageType.CALL_DISCONNECT:
        return this.onDisconnect(now, p);
      case MessageType.CALL_DISCONNECT_ACK:
        if (this.st === 'Call_Disconnect_Ack_Pending') return this.close(this.closeReason.code, this.closeReason.reason);
        if (quiet) return;
        return this.unexpected(now, p);
      default:
        // Connect Ack/Nak (server never expects them) and unknown types: invalid → abort (§3.1.5.1).
        if (quiet) return;
        return this.unexpected(now, p);
    }
  }

  private onConnectRequest(now: Millis, p: ControlPacket): void {
    const problems = connectRequestProblems(p);
    this.log('info', 'connect-request', { problems: problems.length });
    if (problems.length === 0) {
      const nonce = this.opts.random(NONCE_LEN);
      if (nonce.length !== NONCE_LEN) throw new SstpdError('E_SSTP_RANDOM', 'sstp: random() returned a short nonce');
      this.nonce = Buffer.from(nonce);
      this.send(callConnectAck(this.bitmask, this.nonce));
      this.st = 'Server_Call_Connected_Pending';
      this.events.push({ type: 'lower-up' });
      return;
    }
    if (this.naks >= this.maxNaks) {
      this.abortWith(now, Status.RETRY_COUNT_EXCEEDED, AttributeId.ENCAPSULATED_PROTOCOL_ID, SstpCloseCode.CONNECT_RETRIES,
        `${this.naks + 1} unacceptable Call Connect Requests`);
      return;
    }
    this.naks++;
    this.log('warn', 'connect-nak', { count: this.naks, statuses: problems.map((s) => `${s.attribId}:${s.status}`).join(',') });
    this.send(callConnectNak(problems.slice(0, MAX_NAK_ITEMS)));
  }

  private onCallConnected(now: Millis, raw: Buffer): void {
    if (this.bindingWaived) return this.verifyLateBinding(now, raw);
    if (this.hlaks) return this.verifyBinding(now, raw);
    if (this.deferred) {
      this.abortWith(now, Status.UNACCEPTED_FRAME_RECEIVED, AttributeId.CRYPTO_BINDING, SstpCloseCode.UNEXPECTED_MESSAGE,
        'second Call Connected before authentication finished');
      return;
    }
    this.deferred = Buffer.from(raw);
    this.log('info', 'call-connected-deferred');
  }

  private verifyBinding(now: Millis, raw: Buffer): void {
    const proof = this.checkBinding(now, raw);
    if (proof) this.enterConnected(now, proof);
  }

  /** A Call Connected after the zero-key waiver: checked once; a second one is a protocol error. */
  private verifyLateBinding(now: Millis, raw: Buffer): void {
    this.bindingWaived = false;
    const proof = this.checkBinding(now, raw);
    if (!proof) return;
    this.forgetSecrets();
    this.log('info', 'binding-verified', { hashProtocol: proof.hashProtocol, hlak: proof.hlak, late: 1 });
  }

  /** §3.3.5.2.3 checks; on failure the call is aborted and undefined returned. */
  private checkBinding(now: Millis, raw: Buffer): BindingVerified | undefined {
    const check = verifyCallConnected(raw, {
      nonce: this.nonce!,
      bitmask: this.bitmask,
      certHashes: this.opts.certHashes,
      hlaks: this.hlaks!,
    });
    if (check.ok) return check.proof;
    this.log('warn', 'binding-failed', { reason: check.reason, hlaks: this.hlaks!.map((h) => h.label).join(',') });
    this.abortWith(now, Status.INVALID_FRAME_RECEIVED, AttributeId.CRYPTO_BINDING, SstpCloseCode.BINDING_FAILED,
      `crypto binding: ${check.reason}`);
    return undefined;
  }

  /** The only way into Server_Call_Connected: it takes the verifier's proof. */
  private enterConnected(now: Millis, proof: BindingVerified): void {
    this.forgetSecrets();
    this.timers.clear('negotiation');
    this.st = 'Server_Call_Connected';
    this.heard(now);
    this.log('info', 'binding-verified', { hashProtocol: proof.hashProtocol, hlak: proof.hlak });
    this.events.push({ type: 'connected' });
  }

  private onAbort(now: Millis, p: ControlPacket): void {
    const s = firstStatusInfo(p);
    if (this.st === 'Call_Abort_Timeout_Pending' || this.st === 'Call_Disconnect_Timeout_Pending') return;
    this.log('warn', 'abort-received', { status: s?.status ?? -1, attribId: s?.attribId ?? -1 });
    if (this.st === 'Call_Abort_Pending') {
      this.st = 'Call_Abort_Timeout_Pending';
      this.timers.set('teardown', now + SSTP_TEARDOWN_MS.abortT2);
      return;
    }
    this.send(callAbort(Status.NO_ERROR));
    this.enterTeardown(now, 'Call_Abort_Timeout_Pending', SSTP_TEARDOWN_MS.abortT2, {
      code: SstpCloseCode.PEER_ABORT,
      reason: `peer aborted (status ${s?.status ?? 'none'})`,
    });
  }

  private onDisconnect(now: Millis, p: ControlPacket): void {
    if (this.st === 'Call_Abort_Pending' || this.st === 'Call_Abort_Timeout_Pending' || this.st === 'Call_Disconnect_Timeout_Pending') {
      return;
    }
    const s = firstStatusInfo(p);
    this.log('info', 'disconnect-received', { status: s?.status ?? -1 });
    const ours = this.st === 'Call_Disconnect_Ack_Pending';
    this.send(callDisconnectAck());
    this.enterTeardown(now, 'Call_Disconnect_Timeout_Pending', SSTP_TEARDOWN_MS.disconnectT2,
      ours ? this.closeReason : { code: SstpCloseCode.PEER_DISCONNECT, reason: 'peer disconnected' });
  }

  // ---- timers -----------------------------------------------------------------------------------

  private onNegotiationTimeout(now: Millis): void {
    if (this.st !== 'Server_Connect_Request_Pending' && this.st !== 'Server_Call_Connected_Pending') return;
    this.log('warn', 'negotiation-timeout', { state: this.st });
    this.abortWith(now, Status.NEGOTIATION_TIMEOUT, AttributeId.NO_ERROR, SstpCloseCode.NEGOTIATION_TIMEOUT,
      'no verified Call Connected in time');
  }

  /** §3.1.2.3: an interval of silence → Echo Request; a second one → close without a message. */
  private onHelloTimeout(now: Millis): void {
    if (this.st !== 'Server_Call_Connected') return;
    if (!this.echoOutstanding) {
      this.echoOutstanding = true;
      this.send(echoRequest());
      this.timers.set('hello', now + this.helloMs);
      return;
    }
    this.log('warn', 'hello-timeout');
    this.close(SstpCloseCode.HELLO_TIMEOUT, 'nothing received for two hello intervals');
  }

  /** Any received packet restarts the hello timer. */
  private heard(now: Millis): void {
    this.echoOutstanding = false;
    this.timers.set('hello', now + this.helloMs);
  }

  // ---- helpers ----------------------------------------------------------------------------------

  private unexpected(now: Millis, p: ControlPacket): void {
    const name = messageTypeName(p.type);
    this.log('warn', 'unexpected-message', { message: name, state: this.st });
    this.abortWith(now, Status.UNACCEPTED_FRAME_RECEIVED, AttributeId.NO_ERROR, SstpCloseCode.UNEXPECTED_MESSAGE,
      `${name} in ${this.st}`);
  }

  private abortWith(now: Millis, status: number, attribId: number, code: string, reason: string): void {
    this.log('warn', 'abort-sent', { status, code, reason });
    this.send(callAbort(status, attribId));
    this.enterTeardown(now, 'Call_Abort_Pending', SSTP_TEARDOWN_MS.abortT1, { code, reason });
  }

  private enterTeardown(now: Millis, st: SstpServerState, ms: number, why: { code: string; reason: string }): void {
    this.st = st;
    this.closeReason = why;
    this.forgetSecrets();
    this.timers.clearAll();
    this.timers.set('teardown', now + ms);
  }

  private close(code: string, reason: string): void {
    this.st = 'Server_Call_Disconnected';
    this.forgetSecrets();
    this.timers.clearAll();
    this.events.push({ type: 'close', code, reason });
  }

  private forgetSecrets(): void {
    for (const h of this.hlaks ?? []) h.key.fill(0);
    this.hlaks = undefined;
    this.nonce = undefined;
    this.deferred = undefined;
  }

  private send(bytes: Buffer): void {
    this.events.push({ type: 'send', bytes });
  }

  private log(level: Log['level'], event: string, fields?: Record<string, string | number>): void {
    this.events.push(fields ? { type: 'log', level, event, fields } : { type: 'log', level, event });
  }
}

/**
 * Why a Call Connect Request is unacceptable (§3.3.5.2.2), one Status Info per problem; empty
 * means accept. Only the Encapsulated Protocol ID (= PPP) belongs there; a Status Info with a
 * zero status is tolerated, as the spec only rejects a nonzero one.
 */
export function connectRequestProblems(p: ControlPacket): StatusInfo[] {
  const out: StatusInfo[] = [];
  let proto: Buffer | undefined;
  for (const a of p.attributes) {
    switch (a.id) {
      case AttributeId.ENCAPSULATED_PROTOCOL_ID:
        if (proto) out.push({ attribId: a.id, status: Status.DUPLICATE_ATTRIBUTE });
        else proto = a.value;
        break;
      case AttributeId.STATUS_INFO:
        if (a.value.length < 8) out.push({ attribId: a.id, status: Status.INVALID_ATTRIB_VALUE_LENGTH });
        else if (decodeStatusInfo(a.value).status !== Status.NO_ERROR) {
          out.push({ attribId: a.id, status: Status.STATUS_INFO_NOT_SUPPORTED_IN_MSG });
        }
        break;
      case AttributeId.CRYPTO_BINDING:
      case AttributeId.CRYPTO_BINDING_REQ:
        out.push({ attribId: a.id, status: Status.ATTRIB_NOT_SUPPORTED_IN_MSG });
        break;
      default:
        out.push({ attribId: a.id, status: Status.UNRECOGNIZED_ATTRIBUTE });
    }
  }
  const id = AttributeId.ENCAPSULATED_PROTOCOL_ID;
  if (!proto) out.push({ attribId: id, status: Status.REQUIRED_ATTRIBUTE_MISSING });
  else if (proto.length !== 2) out.push({ attribId: id, status: Status.INVALID_ATTRIB_VALUE_LENGTH });
  else if (decodeEncapsulatedProtocol(proto) !== ENCAPSULATED_PROTOCOL_PPP) {
    out.push({ attribId: id, status: Status.VALUE_NOT_SUPPORTED, value: Buffer.from(proto) });
  }
  return out;
}
