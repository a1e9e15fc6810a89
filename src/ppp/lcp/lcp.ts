/**
 * LCP (RFC 1661 §5–6): the shared automaton with LCP's option table, plus what only LCP does:
 * Protocol-Reject, Echo (keepalive and loop detection), Discard, Identification/Time-Remaining.
 * Used by both the server link and the client link; they differ only in the option table.
 */
import type { Millis } from '../../common/time.js';
import { minDeadline } from '../../common/time.js';
import { CODE, decodeCp, encodeCp, u16, u32, type CpPacket } from '../cp.js';
import { Fsm, type FinishReason, type FsmOptions } from '../fsm.js';
import { resetHandlers, tableCallbacks, type OptionHandler } from '../negotiate.js';
import { PPP_LCP, protocolName, type LogFn, type TerminateCause } from '../protocols.js';
import { NO_COMMON_AUTH } from './auth-proto.js';
import type { MagicOption } from './magic.js';
import type { MruOption } from './mru.js';

export interface EchoPolicy {
  /** Seconds between Echo-Requests while Opened; 0 = no keepalive. */
  readonly intervalS: number;
  /** Classic mode: unanswered requests tolerated; the next silent interval kills the link. */
  readonly failure: number;
  /** > 0: adaptive mode, the link dies after this many seconds without any frame from the peer. */
  readonly timeoutS: number;
}

export interface LcpConfig {
  /** The whole option table (it must contain `mru` and `magic`). */
  readonly handlers: readonly OptionHandler[];
  readonly mru: MruOption;
  readonly magic: MagicOption;
  readonly echo?: EchoPolicy;
  readonly fsm?: FsmOptions;
}

/** What LCP tells the link. */
export interface LcpUpper {
  /** One LCP packet (Code/Id/Length/Data). */
  send(packet: Buffer): void;
  up(now: Millis): void;
  down(now: Millis): void;
  finished(now: Millis, why: FinishReason): void;
  /** The peer's Terminate-Request closed an Opened link (Terminate-Ack already sent). */
  peerTerminated(now: Millis): void;
  /** LCP cannot go on: no common auth, a looped link, a dead keepalive. */
  failed(now: Millis, cause: TerminateCause, reason: string): void;
  /** The peer Protocol-Rejected one of our protocols (other than LCP). */
  protocolRejected(now: Millis, protocol: number): void;
  /** An Echo-Reply from the peer (the client measures keepalive round trips with it). */
  echoReplied?(now: Millis, id: number): void;
  readonly log: LogFn;
}

export class Lcp {
  readonly fsm: Fsm;
  private auxId = 0;
  // keepalive
  private echoAt: Millis | undefined;
  private unanswered = 0;
  private lastActivity: Millis = 0;
  private tickStart: Millis = 0;
  private keepalive: boolean;

  constructor(private readonly cfg: LcpConfig, private readonly upper: LcpUpper) {
    this.keepalive = (cfg.echo?.intervalS ?? 0) > 0;
    this.fsm = new Fsm(
      {
        ...tableCallbacks('lcp', cfg.handlers, upper.log),
        negotiationFailed: (now, reason) => upper.failed(now, reason === NO_COMMON_AUTH ? 'auth-failed' : 'nas-error', reason),
        thisLayerUp: (now) => {
          this.startEcho(now);
          upper.up(now);
        },
        thisLayerDown: (now) => {
          this.echoAt = undefined;
          resetHandlers(cfg.handlers);
          upper.down(now);
        },
        thisLayerStarted: () => resetHandlers(cfg.handlers),
        thisLayerFinished: (now, why) => {
          this.echoAt = undefined;
          upper.finished(now, why);
        },
        peerTerminated: (now) => upper.peerTerminated(now),
        extraCode: (now, pkt) => this.extraCode(now, pkt),
        send: (p) => upper.send(p),
        trace: (ev, from, to) => upper.log('debug', 'lcp-state', { event: ev, from, to }),
      },
      { ...cfg.fsm, peerMru: () => cfg.mru.peerMru },
    );
  }

  get opened(): boolean {
    return this.fsm.opened;
  }
  get peerMru(): number {
    return this.cfg.mru.peerMru;
  }

  /** One LCP information field. Malformed → DecodeError (the link drops the frame). */
  receive(now: Millis, info: Buffer): void {
    const pkt = decodeCp(info);
    if (pkt.code === CODE.CODE_REJ && pkt.data[0] === CODE.ECHO_REQ && this.keepalive) {
      // A peer without Echo would look dead to the keepalive: stop probing rather than drop it.
      this.keepalive = false;
      this.echoAt = undefined;
      this.upper.log('info', 'lcp-echo-rejected');
    }
    this.fsm.receive(now, pkt, info.subarray(0, 4 + pkt.data.length));
  }

  /** Protocol-Reject a frame of a protocol we do not run (only while Opened, RFC 1661 §5.7). */
  protocolReject(protocol: number, info: Buffer): void {
    if (!this.opened) return;
    const room = Math.max(0, this.peerMru - 6);
    this.upper.log('debug', 'lcp-protocol-reject', { protocol: protocolName(protocol) });
    this.upper.send(encodeCp(CODE.PROT_REJ, this.nextAuxId(), Buffer.concat([u16(protocol), info.subarray(0, room)])));
  }

  /** A frame arrived from the peer (any protocol): feeds the adaptive keepalive. */
  activity(now: Millis): void {
    this.lastActivity = now;
  }

  nextDeadline(): Millis | undefined {
    const adaptive = this.echoAt !== undefined && this.timeoutMs > 0 ? this.lastActivity + this.timeoutMs : undefined;
    return minDeadline(this.fsm.nextDeadline(), this.echoAt, adaptive);
  }

  handleTimeout(now: Millis): void {
    this.fsm.handleTimeout(now);
    if (this.echoAt === undefined) return;
    if (this.timeoutMs > 0) this.adaptiveTick(now);
    else if (now >= this.echoAt) this.classicTick(now);
  }

  // ---- LCP-only codes ----

  private extraCode(now: Millis, pkt: CpPacket): boolean {
    switch (pkt.code) {
      case CODE.PROT_REJ:
        this.receiveProtocolReject(now, pkt);
        return true;
      case CODE.ECHO_REQ:
        this.receiveEchoRequest(now, pkt);
        return true;
      case CODE.ECHO_REP:
        this.receiveEchoReply(now, pkt);
        return true;
      case CODE.DISCARD_REQ:
      case CODE.IDENTIFICATION:
      case CODE.TIME_REMAINING:
        // Windows sends Identification ("MSRASV5.20"); like accel-ppp we log and drop it.
        this.upper.log('debug', 'lcp-dropped', { code: pkt.code, text: printable(pkt.data.subarray(4)) });
        return true;
      default:
        return false;
    }
  }

  private receiveProtocolReject(now: Millis, pkt: CpPacket): void {
    if (!this.opened || pkt.data.length < 2) return; // RFC 1661 §5.7: only meaningful while Opened
    const protocol = pkt.data.readUInt16BE(0);
    this.upper.log('info', 'lcp-protocol-rejected', { protocol: protocolName(protocol) });
    if (protocol === PPP_LCP) return this.fsm.rejectReceived(now, true);
    this.fsm.rejectReceived(now, false);
    this.upper.protocolRejected(now, protocol);
  }

  private receiveEchoRequest(now: Millis, pkt: CpPacket): void {
    if (!this.opened || pkt.data.length < 4) return;
    if (this.isOwnMagic(pkt.data)) return this.upper.failed(now, 'port-error', 'looped-back link (echo request carries our magic number)');
    const room = Math.max(0, this.peerMru - 8);
    const reply = Buffer.concat([u32(this.cfg.magic.ourMagic), pkt.data.subarray(4, 4 + room)]);
    this.upper.send(encodeCp(CODE.ECHO_REP, pkt.id, reply));
  }

  private receiveEchoReply(now: Millis, pkt: CpPacket): void {
    if (!this.opened || pkt.data.length < 4) return;
    if (this.isOwnMagic(pkt.data)) return this.upper.failed(now, 'port-error', 'looped-back link (echo reply carries our magic number)');
    this.unanswered = 0;
    this.upper.echoReplied?.(now, pkt.id);
  }

  /** One Echo-Request now, outside the keepalive schedule; returns its Identifier (undefined unless Opened). */
  probe(): number | undefined {
    if (!this.opened) return undefined;
    const id = this.nextAuxId();
    this.upper.send(encodeCp(CODE.ECHO_REQ, id, u32(this.cfg.magic.ourMagic)));
    return id;
  }

  private isOwnMagic(data: Buffer): boolean {
    const ours = this.cfg.magic.ourMagic;
    return ours !== 0 && data.readUInt32BE(0) === ours;
  }

  // ---- keepalive ----

  private get intervalMs(): number {
    return (this.cfg.echo?.intervalS ?? 0) * 1000;
  }
  private get timeoutMs(): number {
    return (this.cfg.echo?.timeoutS ?? 0) * 1000;
  }

  private startEcho(now: Millis): void {
    this.unanswered = 0;
    this.lastActivity = now;
    this.tickStart = now;
    this.echoAt = this.keepalive ? now + this.intervalMs : undefined;
  }

  /** Classic: probe every interval; `failure` unanswered probes plus one more silent interval = dead. */
  private classicTick(now: Millis): void {
    const failure = Math.max(1, this.cfg.echo?.failure ?? 3);
    if (this.unanswered >= failure) return this.dead(now, `no reply to ${this.unanswered} LCP echo requests`);
    this.sendEcho();
    this.unanswered++;
    this.echoAt = now + this.intervalMs;
  }

  /** Adaptive: probe only after a silent interval; dead after timeoutS without any frame. */
  private adaptiveTick(now: Millis): void {
    if (now - this.lastActivity >= this.timeoutMs) {
      return this.dead(now, `no frame from the peer for ${this.cfg.echo?.timeoutS ?? 0} s`);
    }
    if (now < this.echoAt!) return;
    if (this.lastActivity <= this.tickStart) this.sendEcho();
    this.tickStart = now;
    this.echoAt = now + this.intervalMs;
  }

  private sendEcho(): void {
    this.upper.send(encodeCp(CODE.ECHO_REQ, this.nextAuxId(), u32(this.cfg.magic.ourMagic)));
  }

  private dead(now: Millis, reason: string): void {
    this.echoAt = undefined;
    this.upper.failed(now, 'lost-carrier', reason);
  }

  private nextAuxId(): number {
    this.auxId = (this.auxId + 1) & 0xff;
    return this.auxId;
  }
}

/** Identification text for a log line: printable ASCII only, bounded. */
function printable(b: Buffer): string {
  return b.subarray(0, 64).toString('latin1').replace(/[^\x20-\x7e]/g, '.');
}
