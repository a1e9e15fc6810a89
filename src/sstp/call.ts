/**
 * SstpCall: the one MS-SSTP call machine both roles run (§3.1 common details), sans-I/O: bytes,
 * timeouts and `now` go in; packets to send, PPP frames and lifecycle signals come out of `poll()`.
 * A role — server (server.ts) or client (client.ts) — adds only what differs: how the call is set
 * up (Connect Request/Ack/Nak, the HTTP exchange on the client), the crypto binding, and which
 * PPP frames and echoes it lets through before Call Connected.
 *
 * What the core does for both (sstp.md §4, §6):
 * - framing (§3.1.5.1: a delineation error closes at once, nothing sent), data vs control dispatch;
 * - data: empty packets ignored; once connected every frame goes to the fast lane (`dataSink`) or
 *   out as 'ppp'; before, only what the role lets through;
 * - Echo-Request/Response and the hello timer (§3.1.2.3): any received packet restarts it, a silent
 *   interval sends an Echo-Request, a second one closes without a message;
 * - Call Abort (status info, T1 3 s / T2 1 s) and Call Disconnect / Disconnect-Ack (T1 5 s / T2 1 s),
 *   the QUIET states that ignore everything but those, and the final close;
 * - the negotiation timer, from the role's start to Call Connected.
 * Every way the call ends gives exactly one 'closed', always the last event.
 */
import { DecodeError } from '../common/errors.js';
import { TimerTable, type Millis } from '../common/time.js';
import { SstpFramer } from './framer.js';
import {
  AttributeId,
  type ControlPacket,
  HEADER_LEN,
  MessageType,
  Status,
  callAbort,
  callDisconnect,
  callDisconnectAck,
  dataPacket,
  decodeControl,
  echoRequest,
  echoResponse,
  firstStatusInfo,
  messageTypeName,
} from './wire.js';

export type SstpLogFields = Record<string, string | number>;

/** The events both roles emit. */
export type SstpCallEvent =
  /** One SSTP packet to write to TLS. */
  | { readonly type: 'send'; readonly bytes: Buffer }
  /** The call is accepted (server: Connect Ack sent; client: Connect Ack received): start PPP (LCP). */
  | { readonly type: 'lower-up' }
  /** A PPP frame as carried (e.g. FF 03 C0 21 …) that passed the state gate; a view into the received chunk. */
  | { readonly type: 'ppp'; readonly frame: Buffer }
  /** Call Connected: the crypto binding was verified (server) or sent (client), or waived: data may flow. */
  | { readonly type: 'connected' }
  /** Close TLS/TCP now (after flushing queued sends). Always the last event. */
  | { readonly type: 'closed'; readonly code: string; readonly reason: string }
  | { readonly type: 'log'; readonly level: 'debug' | 'info' | 'warn'; readonly event: string; readonly fields?: SstpLogFields };

/** The states after Call Connected or a failed setup, the same in both roles (§3.1.1). */
export type SstpTeardownState = 'Call_Abort_Pending' | 'Call_Abort_Timeout_Pending' | 'Call_Disconnect_Ack_Pending' | 'Call_Disconnect_Timeout_Pending';

/** §3.1.2: abort T1/T2 and disconnect T1/T2. */
export const SSTP_TEARDOWN_MS = { abortT1: 3000, abortT2: 1000, disconnectT1: 5000, disconnectT2: 1000 } as const;

/** Close codes (stable) of both roles. Orderly ends have no E_ prefix. */
export const SstpCloseCode = {
  NEGOTIATION_TIMEOUT: 'E_SSTP_NEGOTIATION_TIMEOUT',
  HELLO_TIMEOUT: 'E_SSTP_HELLO_TIMEOUT',
  BAD_CONTROL: 'E_SSTP_BAD_CONTROL',
  UNEXPECTED_MESSAGE: 'E_SSTP_UNEXPECTED_MESSAGE',
  PEER_ABORT: 'E_SSTP_PEER_ABORT',
  LOCAL_ABORT: 'E_SSTP_LOCAL_ABORT',
  DISCONNECT: 'SSTP_DISCONNECT',
  PEER_DISCONNECT: 'SSTP_PEER_DISCONNECT',
  /** Server: the Call Connected's crypto binding did not verify. */
  BINDING_FAILED: 'E_SSTP_BINDING_FAILED',
  /** Server: too many unacceptable Call Connect Requests. */
  CONNECT_RETRIES: 'E_SSTP_CONNECT_RETRIES',
  /** Client: the HTTP response was malformed / not 200 / did not come. */
  HTTP: 'E_SSTP_HTTP',
  HTTP_STATUS: 'E_SSTP_HTTP_STATUS',
  HTTP_TIMEOUT: 'E_SSTP_HTTP_TIMEOUT',
  /** Client: the server refused our Call Connect Request. */
  NAK: 'E_SSTP_NAK',
  /** Client: the server offered no hash we can bind with. */
  HASH_PROTOCOL: 'E_SSTP_HASH_PROTOCOL',
} as const;

/** The role's own state names where MS-SSTP gives each role its own (§3.2.1 / §3.3.1). */
export interface SstpRoleStates<S extends string> {
  readonly initial: S;
  readonly connected: S;
  readonly closed: S;
}

export interface SstpCallTiming {
  /** From the role's start to Call Connected; default 60000. */
  readonly negotiationTimeoutMs?: number;
  /** Default 60000. */
  readonly helloIntervalMs?: number;
}

type TimerKind = 'negotiation' | 'hello' | 'teardown';
type Why = { readonly code: string; readonly reason: string };

const QUIET: ReadonlySet<string> = new Set<SstpTeardownState>([
  'Call_Abort_Pending',
  'Call_Abort_Timeout_Pending',
  'Call_Disconnect_Ack_Pending',
  'Call_Disconnect_Timeout_Pending',
]);

/** `S`: the role's own states (beside the teardown states). */
export abstract class SstpCall<S extends string> {
  protected st: S | SstpTeardownState;
  private readonly framer = new SstpFramer();
  private readonly timers = new TimerTable<TimerKind>();
  private events: SstpCallEvent[] = [];
  private readonly negotiationMs: number;
  private readonly helloMs: number;
  private echoOutstanding = false;
  /** Why we will close when the teardown timer fires. */
  private closeReason: Why = { code: SstpCloseCode.LOCAL_ABORT, reason: '' };

  /**
   * Fast lane for data once the call is connected: each PPP frame, `buf[at, at + length)` of the
   * received chunk (valid during the call, no view made for it), goes here first; frames it returns
   * false for take the 'ppp' event path.
   */
  dataSink: ((now: Millis, buf: Buffer, at: number, length: number) => boolean) | undefined;

  constructor(private readonly states: SstpRoleStates<S>, timing: SstpCallTiming) {
    this.st = states.initial;
    this.negotiationMs = timing.negotiationTimeoutMs ?? 60_000;
    this.helloMs = timing.helloIntervalMs ?? 60_000;
  }

  get state(): S | SstpTeardownState {
    return this.st;
  }
  get connected(): boolean {
    return this.st === this.states.connected;
  }
  get closed(): boolean {
    return this.st === this.states.closed;
  }

  poll(): SstpCallEvent[] {
    const out = this.events;
    this.events = [];
    return out;
  }

  nextDeadline(): Millis | undefined {
    return this.timers.next();
  }

  /** SSTP stream bytes (after the HTTP exchange), any chunking. Never throws on peer input. */
  receive(now: Millis, chunk: Buffer): void {
    if (this.closed) return;
    try {
      this.framer.pushAt(chunk, (buf, at, length) => this.onPacket(now, buf, at, length));
    } catch (e) {
      if (!(e instanceof DecodeError) || this.closed) throw e;
      // §3.1.5.1: delineation failed → close without sending anything.
      this.log('warn', 'framing-error', { code: e.code, message: e.message });
      this.close(e.code, `framing error: ${e.message}`);
    }
  }

  /** Orderly shutdown (PPP finished, admin): Call Disconnect, wait for the ack (T1 5 s), close. */
  disconnect(now: Millis, status: number = Status.NO_ERROR): void {
    if (this.closed || this.quiet) return;
    if (this.beforeCall) return this.close(SstpCloseCode.DISCONNECT, 'local disconnect before SSTP started');
    this.log('info', 'disconnect-sent', { status });
    this.send(callDisconnect(status));
    this.enterTeardown(now, 'Call_Disconnect_Ack_Pending', SSTP_TEARDOWN_MS.disconnectT1, { code: SstpCloseCode.DISCONNECT, reason: 'local disconnect' });
  }

  /** Abnormal shutdown: Call Abort, T1 3 s, close. */
  abort(now: Millis, status: number, reason: string): void {
    if (this.closed || this.quiet) return;
    if (this.beforeCall) return this.close(SstpCloseCode.LOCAL_ABORT, reason);
    this.abortWith(now, status, AttributeId.NO_ERROR, SstpCloseCode.LOCAL_ABORT, reason);
  }

  /** Data packet for a PPP frame; gating outbound IP before 'connected' is the caller's job. */
  encodeData(frame: Buffer): Buffer {
    return dataPacket(frame);
  }

  handleTimeout(now: Millis): void {
    for (const kind of this.timers.expired(now)) {
      if (this.closed) return;
      if (kind === 'negotiation') this.negotiationTimeout(now);
      else if (kind === 'hello') this.helloTimeout(now);
      else this.close(this.closeReason.code, this.closeReason.reason);
    }
  }

  // ---- for the roles ----------------------------------------------------------------------------

  /**
   * A control message only the role handles (Connect Request/Ack/Nak, Call Connected), outside the
   * QUIET states. False = not acceptable here: the core aborts (§3.1.5.1).
   */
  protected abstract roleControl(now: Millis, p: ControlPacket, raw: Buffer): boolean;
  /** A non-empty PPP frame before Call Connected (in any state): whether it goes to PPP. */
  protected abstract passesBeforeConnected(frame: Buffer): boolean;
  /** An Echo-Request (answered) / Echo-Response (ignored) outside the QUIET states; false = abort. */
  protected abstract takesEcho(request: boolean): boolean;
  /** The SSTP call has not begun (client: HTTP exchange): stopping just closes, nothing to send. */
  protected get beforeCall(): boolean {
    return false;
  }
  /** Wipe what the binding needed (nonce, HLAKs); called whenever the call leaves negotiation. */
  protected forgetSecrets(): void {}

  protected get quiet(): boolean {
    return QUIET.has(this.st);
  }

  /** Starts (or restarts) the negotiation timer. */
  protected armNegotiation(now: Millis): void {
    this.timers.set('negotiation', now + this.negotiationMs);
  }

  /** The negotiation timer ran out. */
  protected negotiationTimeout(now: Millis): void {
    if (this.connected || this.quiet) return;
    this.log('warn', 'negotiation-timeout', { state: this.st });
    this.abortWith(now, Status.NEGOTIATION_TIMEOUT, AttributeId.NO_ERROR, SstpCloseCode.NEGOTIATION_TIMEOUT, `no Call Connected in time (${this.st})`);
  }

  /**
   * The only way into the connected state: the negotiation timer stops, the hello timer starts. The
   * role wipes its secrets itself when it no longer needs them (the server's waiver keeps them).
   */
  protected enterConnected(now: Millis): void {
    this.timers.clear('negotiation');
    this.st = this.states.connected;
    this.heard(now);
    this.emit({ type: 'connected' });
  }

  protected unexpected(now: Millis, p: ControlPacket): void {
    const name = messageTypeName(p.type);
    this.log('warn', 'unexpected-message', { message: name, state: this.st });
    this.abortWith(now, Status.UNACCEPTED_FRAME_RECEIVED, AttributeId.NO_ERROR, SstpCloseCode.UNEXPECTED_MESSAGE, `${name} in ${this.st}`);
  }

  protected abortWith(now: Millis, status: number, attribId: number, code: string, reason: string): void {
    this.log('warn', 'abort-sent', { status, code, reason });
    this.send(callAbort(status, attribId));
    this.enterTeardown(now, 'Call_Abort_Pending', SSTP_TEARDOWN_MS.abortT1, { code, reason });
  }

  protected close(code: string, reason: string): void {
    this.st = this.states.closed;
    this.forgetSecrets();
    this.timers.clearAll();
    this.emit({ type: 'closed', code, reason });
  }

  protected send(bytes: Buffer): void {
    this.events.push({ type: 'send', bytes });
  }

  protected emit(ev: SstpCallEvent): void {
    this.events.push(ev);
  }

  protected log(level: 'debug' | 'info' | 'warn', event: string, fields?: SstpLogFields): void {
    this.events.push(fields ? { type: 'log', level, event, fields } : { type: 'log', level, event });
  }

  // ---- input ------------------------------------------------------------------------------------

  /** One SSTP packet, `buf[at, at + length)`: a data packet goes on without a view of its own. */
  private onPacket(now: Millis, buf: Buffer, at: number, length: number): void {
    if (this.closed) return;
    if (this.connected) this.heard(now);
    if ((buf[at + 1]! & 0x01) === 0) return this.onData(now, buf, at + HEADER_LEN, length - HEADER_LEN);
    const packet = buf.subarray(at, at + length);
    let p: ControlPacket;
    try {
      p = decodeControl(packet);
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      if (this.quiet) return;
      this.log('warn', 'bad-control-packet', { code: e.code, message: e.message });
      this.abortWith(now, Status.INVALID_FRAME_RECEIVED, AttributeId.NO_ERROR, SstpCloseCode.BAD_CONTROL, e.message);
      return;
    }
    this.onControl(now, p, packet);
  }

  private onData(now: Millis, buf: Buffer, at: number, length: number): void {
    if (length === 0) return;
    if (this.connected) {
      if (!this.dataSink?.(now, buf, at, length)) this.emit({ type: 'ppp', frame: buf.subarray(at, at + length) });
      return;
    }
    const frame = buf.subarray(at, at + length);
    if (this.passesBeforeConnected(frame)) this.emit({ type: 'ppp', frame });
  }

  private onControl(now: Millis, p: ControlPacket, raw: Buffer): void {
    const quiet = this.quiet;
    switch (p.type) {
      case MessageType.ECHO_REQUEST:
        if (quiet) return;
        if (this.takesEcho(true)) return this.send(echoResponse());
        return this.unexpected(now, p);
      case MessageType.ECHO_RESPONSE:
        if (quiet || this.takesEcho(false)) return;
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
        // The role's messages, and unknown types: invalid here → abort (§3.1.5.1).
        if (quiet) return;
        if (!this.roleControl(now, p, raw)) this.unexpected(now, p);
    }
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
      code: SstpCloseCode.PEER_ABORT,
      reason: `peer aborted (status ${s?.status ?? 'none'})`,
    });
  }

  private onDisconnect(now: Millis, p: ControlPacket): void {
    if (this.st === 'Call_Abort_Pending' || this.st === 'Call_Abort_Timeout_Pending' || this.st === 'Call_Disconnect_Timeout_Pending') return;
    const s = firstStatusInfo(p);
    this.log('info', 'disconnect-received', { status: s?.status ?? -1 });
    // Crossing disconnects: our T1 gives way to T2, and the close keeps our own reason.
    const ours = this.st === 'Call_Disconnect_Ack_Pending';
    this.send(callDisconnectAck());
    this.enterTeardown(now, 'Call_Disconnect_Timeout_Pending', SSTP_TEARDOWN_MS.disconnectT2,
      ours ? this.closeReason : { code: SstpCloseCode.PEER_DISCONNECT, reason: 'peer disconnected' });
  }

  // ---- timers -----------------------------------------------------------------------------------

  /** §3.1.2.3: an interval of silence → Echo Request; a second one → close without a message. */
  private helloTimeout(now: Millis): void {
    if (!this.connected) return;
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

  private enterTeardown(now: Millis, st: SstpTeardownState, ms: number, why: Why): void {
    this.st = st;
    this.closeReason = why;
    this.forgetSecrets();
    this.timers.clearAll();
    this.timers.set('teardown', now + ms);
  }
}
