/**
 * The RFC 1661 §4 option negotiation automaton, shared by LCP and every NCP. It knows no
 * options: the owning protocol builds our Configure-Request, classifies the peer's, applies
 * Nak/Reject, and hears the four layer signals. Sans-I/O: `now` is an argument and the restart
 * timer is a deadline (`nextDeadline` / `handleTimeout`).
 *
 * Replies are matched to our outstanding request by Identifier, and a request is answered once:
 * a second Ack/Nak/Reject for the same Identifier is discarded (pppd's `seen_ack`), so a duplicated
 * Ack cannot bounce an Opened link. Retransmissions on the restart timer keep the Identifier.
 */
import type { Millis } from '../common/time.js';
import { CODE, decodeOptions, encodeCp, encodeOptions, type CpOption, type CpPacket } from './cp.js';

export type FsmState =
  | 'initial'
  | 'starting'
  | 'closed'
  | 'stopped'
  | 'closing'
  | 'stopping'
  | 'req-sent'
  | 'ack-rcvd'
  | 'ack-sent'
  | 'opened';

/** How a layer came to finish (the argument of This-Layer-Finished). */
export type FinishReason = 'closed' | 'timeout' | 'peer-terminated' | 'rejected';

export type RequestVerdict =
  | { readonly verdict: 'ack'; readonly options: readonly CpOption[] }
  | { readonly verdict: 'nak' | 'reject'; readonly options: readonly CpOption[] };

/** What applying a Nak or Reject of our request did. */
export type ReplyOutcome = 'ok' | 'invalid' | { readonly fail: string };

export interface FsmHandlers {
  /** Options of a fresh Configure-Request (called for each new Identifier, not for retransmits). */
  buildRequest(): readonly CpOption[];
  /** Classify the peer's Configure-Request; the options are already decoded. */
  checkRequest(options: readonly CpOption[]): RequestVerdict;
  /** The peer Acked our request. */
  acked(options: readonly CpOption[]): void;
  /** The peer Nak'd our request: adjust the next one. */
  nakked(options: readonly CpOption[]): ReplyOutcome;
  /** The peer Rejected options of our request (already checked to be copies of ours). */
  rejected(options: readonly CpOption[]): ReplyOutcome;
  /** Applying a Nak/Reject showed negotiation cannot converge; the owner decides how to close. */
  negotiationFailed(now: Millis, reason: string): void;
  thisLayerUp(now: Millis): void;
  thisLayerDown(now: Millis): void;
  thisLayerStarted(now: Millis): void;
  thisLayerFinished(now: Millis, why: FinishReason): void;
  /** The peer's Terminate-Request took us out of Opened (after the Terminate-Ack is sent). */
  peerTerminated?(now: Millis): void;
  /** Codes above 7 (LCP's Protocol-Reject, Echo, ...). Return false for an unknown code (Code-Reject). */
  extraCode?(now: Millis, packet: CpPacket, raw: Buffer): boolean;
  /** Send one control packet (Code/Id/Length/Data) on this protocol. */
  send(packet: Buffer): void;
  /** Debug trace of transitions; optional. */
  trace?(event: string, from: FsmState, to: FsmState): void;
}

export interface FsmOptions {
  readonly restartMs?: number;
  readonly maxConfigure?: number;
  readonly maxTerminate?: number;
  readonly maxFailure?: number;
  /** Largest packet the peer accepts (bounds Code-Reject copies); read on each use. */
  readonly peerMru?: () => number;
  /**
   * RFC 1661's passive option (pppd's "silent"): on Up wait in Stopped for the peer's
   * Configure-Request instead of sending ours first. CCP uses it when we only answer MPPE.
   */
  readonly silent?: boolean;
}

const TIMER_STATES: ReadonlySet<FsmState> = new Set(['closing', 'stopping', 'req-sent', 'ack-rcvd', 'ack-sent']);
const NEGOTIATING: ReadonlySet<FsmState> = new Set(['req-sent', 'ack-rcvd', 'ack-sent']);

export class Fsm {
  private st: FsmState = 'initial';
  private readonly restartMs: number;
  private readonly maxConfigure: number;
  private readonly maxTerminate: number;
  private readonly maxFailure: number;
  private readonly peerMru: () => number;
  private readonly silent: boolean;
  private restartCount = 0;
  private failures = 0;
  private deadline: Millis | undefined;
  private lastId = 0;
  /** Identifier of our Configure-Request still awaiting a reply, or undefined. */
  private reqId: number | undefined;
  private reqOptions: Buffer = Buffer.alloc(0);
  private termId = 0;
  private termCause: FinishReason = 'closed';

  constructor(private readonly h: FsmHandlers, opts: FsmOptions = {}) {
    this.restartMs = opts.restartMs ?? 3000;
    this.maxConfigure = opts.maxConfigure ?? 10;
    this.maxTerminate = opts.maxTerminate ?? 2;
    this.maxFailure = opts.maxFailure ?? 5;
    this.peerMru = opts.peerMru ?? (() => 1500);
    this.silent = opts.silent ?? false;
  }

  get state(): FsmState {
    return this.st;
  }
  get opened(): boolean {
    return this.st === 'opened';
  }
  nextDeadline(): Millis | undefined {
    return this.deadline;
  }

  // ---- administrative and lower-layer events (RFC 1661 §4.1) ----

  up(now: Millis): void {
    if (this.st === 'initial') this.go('up', 'closed');
    else if (this.st === 'starting' && this.silent) this.go('up', 'stopped');
    else if (this.st === 'starting') {
      this.ircConf();
      this.scr(now, false);
      this.go('up', 'req-sent');
    }
  }

  down(now: Millis): void {
    switch (this.st) {
      case 'closed':
      case 'closing':
        return this.go('down', 'initial');
      case 'stopped':
        this.go('down', 'starting');
        return this.h.thisLayerStarted(now);
      case 'stopping':
      case 'req-sent':
      case 'ack-rcvd':
      case 'ack-sent':
        return this.go('down', 'starting');
      case 'opened':
        this.go('down', 'starting');
        return this.h.thisLayerDown(now);
      default:
        return;
    }
  }

  open(now: Millis): void {
    switch (this.st) {
      case 'initial':
        this.go('open', 'starting');
        return this.h.thisLayerStarted(now);
      case 'closed':
        if (this.silent) return this.go('open', 'stopped');
        this.ircConf();
        this.scr(now, false);
        return this.go('open', 'req-sent');
      case 'closing':
        return this.go('open', 'stopping');
      default:
        return; // starting, stopped, stopping, negotiating, opened: no change (no restart option)
    }
  }

  close(now: Millis): void {
    switch (this.st) {
      case 'starting':
        this.go('close', 'initial');
        return this.h.thisLayerFinished(now, 'closed');
      case 'stopped':
        return this.go('close', 'closed');
      case 'stopping':
        this.termCause = 'closed';
        return this.go('close', 'closing');
      case 'req-sent':
      case 'ack-rcvd':
      case 'ack-sent':
      case 'opened': {
        const wasOpened = this.st === 'opened';
        this.termCause = 'closed';
        this.go('close', 'closing');
        if (wasOpened) this.h.thisLayerDown(now);
        this.restartCount = this.maxTerminate;
        this.str(now);
        return;
      }
      default:
        return; // initial, closed, closing
    }
  }

  /**
   * Resend our outstanding Configure-Request now (same Identifier, counts as a retransmission), if
   * the peer has not answered it. For the peer's first request of a layer: a peer that starts its
   * NCPs late (pppd waits for CCP when it requires MPPE) discarded ours, and waiting for the restart
   * timer would cost 3 s.
   */
  nudge(now: Millis): void {
    if ((this.st === 'req-sent' || this.st === 'ack-sent') && this.reqId !== undefined && this.restartCount > 0) this.scr(now, true);
  }

  handleTimeout(now: Millis): void {
    if (this.deadline === undefined || now < this.deadline) return;
    this.deadline = undefined;
    if (!TIMER_STATES.has(this.st)) return;
    if (this.restartCount > 0) this.timeoutPlus(now);
    else this.timeoutMinus(now);
  }

  private timeoutPlus(now: Millis): void {
    switch (this.st) {
      case 'closing':
      case 'stopping':
        return this.str(now);
      case 'req-sent':
      case 'ack-sent':
        return this.scr(now, true);
      case 'ack-rcvd':
        this.scr(now, true);
        return this.go('TO+', 'req-sent');
      default:
        return;
    }
  }

  private timeoutMinus(now: Millis): void {
    if (this.st === 'closing') {
      this.go('TO-', 'closed');
      return this.h.thisLayerFinished(now, this.termCause);
    }
    const why: FinishReason = this.st === 'stopping' ? this.termCause : 'timeout';
    this.go('TO-', 'stopped');
    this.h.thisLayerFinished(now, why);
  }

  /**
   * A Code-Reject or Protocol-Reject received: RXJ+ when the rejected thing is optional, RXJ-
   * (catastrophic) when this protocol cannot work without it.
   */
  rejectReceived(now: Millis, catastrophic: boolean): void {
    if (!catastrophic) {
      if (this.st === 'ack-rcvd') this.go('RXJ+', 'req-sent');
      return;
    }
    switch (this.st) {
      case 'closed':
      case 'closing':
        this.go('RXJ-', 'closed');
        return this.h.thisLayerFinished(now, 'rejected');
      case 'stopped':
      case 'stopping':
      case 'req-sent':
      case 'ack-rcvd':
      case 'ack-sent':
        this.go('RXJ-', 'stopped');
        return this.h.thisLayerFinished(now, 'rejected');
      case 'opened':
        this.termCause = 'rejected';
        this.go('RXJ-', 'stopping');
        this.h.thisLayerDown(now);
        this.restartCount = this.maxTerminate;
        return this.str(now);
      default:
        return;
    }
  }

  // ---- receive (RFC 1661 §4.1 receive events) ----

  /** One decoded control packet of this protocol; `raw` is the packet bytes (for Code-Reject). */
  receive(now: Millis, pkt: CpPacket, raw: Buffer): void {
    if (this.st === 'initial' || this.st === 'starting') return; // lower layer not up: nothing can arrive
    switch (pkt.code) {
      case CODE.CONF_REQ:
        return this.rcr(now, pkt);
      case CODE.CONF_ACK:
        return this.rca(now, pkt);
      case CODE.CONF_NAK:
      case CODE.CONF_REJ:
        return this.rcn(now, pkt);
      case CODE.TERM_REQ:
        return this.rtr(now, pkt);
      case CODE.TERM_ACK:
        return this.rta(now);
      case CODE.CODE_REJ:
        // Rejecting any of codes 1..7 means the peer cannot run this automaton at all.
        if (pkt.data.length < 1) return;
        return this.rejectReceived(now, pkt.data[0]! >= 1 && pkt.data[0]! <= 7);
      default:
        if (this.h.extraCode?.(now, pkt, raw)) return;
        return this.scj(raw);
    }
  }

  private rcr(now: Millis, pkt: CpPacket): void {
    if (this.st === 'closing' || this.st === 'stopping') return;
    if (this.st === 'closed') return this.sta(pkt.id);
    const opts = decodeOptions(pkt.data); // malformed: DecodeError, the packet is dropped
    if (this.st === 'opened') return this.renegotiate(now, pkt.id, opts);
    const verdict = this.classify(opts);
    const good = verdict.verdict === 'ack';
    switch (this.st) {
      case 'stopped':
        this.ircConf();
        this.scr(now, false);
        this.answer(pkt.id, verdict);
        return this.go(good ? 'RCR+' : 'RCR-', good ? 'ack-sent' : 'req-sent');
      case 'req-sent':
      case 'ack-sent':
        this.answer(pkt.id, verdict);
        return this.go(good ? 'RCR+' : 'RCR-', good ? 'ack-sent' : 'req-sent');
      case 'ack-rcvd':
        this.answer(pkt.id, verdict);
        this.go(good ? 'RCR+' : 'RCR-', good ? 'opened' : 'ack-rcvd');
        if (good) this.h.thisLayerUp(now);
        return;
      default:
        return;
    }
  }

  /** RCR in Opened: tld, scr, sca|scn. Upper layers go down first so the peer's values are judged afresh. */
  private renegotiate(now: Millis, id: number, opts: readonly CpOption[]): void {
    this.h.thisLayerDown(now);
    this.ircConf();
    this.scr(now, false);
    const verdict = this.classify(opts);
    this.answer(id, verdict);
    const good = verdict.verdict === 'ack';
    this.go(good ? 'RCR+' : 'RCR-', good ? 'ack-sent' : 'req-sent');
  }

  private rca(now: Millis, pkt: CpPacket): void {
    if (this.st === 'closed' || this.st === 'stopped') return this.sta(pkt.id);
    if (!NEGOTIATING.has(this.st) && this.st !== 'opened') return;
    // An Ack must answer our outstanding request and echo it byte for byte.
    if (pkt.id !== this.reqId || !pkt.data.equals(this.reqOptions)) return;
    this.reqId = undefined;
    this.h.acked(decodeOptions(pkt.data));
    switch (this.st) {
      case 'req-sent':
        this.ircConf();
        return this.go('RCA', 'ack-rcvd');
      case 'ack-sent':
        this.ircConf();
        this.go('RCA', 'opened');
        return this.h.thisLayerUp(now);
      default:
        return this.crossed(now, 'RCA'); // ack-rcvd, opened: unreachable with one reply per Identifier
    }
  }

  private rcn(now: Millis, pkt: CpPacket): void {
    if (this.st === 'closed' || this.st === 'stopped') return this.sta(pkt.id);
    if (!NEGOTIATING.has(this.st) && this.st !== 'opened') return;
    if (pkt.id !== this.reqId) return;
    const opts = decodeOptions(pkt.data);
    const isReject = pkt.code === CODE.CONF_REJ;
    if (isReject && !this.isCopyOfOurs(opts)) return;
    const outcome = isReject ? this.h.rejected(opts) : this.h.nakked(opts);
    if (outcome === 'invalid') return;
    this.reqId = undefined;
    if (outcome !== 'ok') return this.h.negotiationFailed(now, outcome.fail);
    const ev = isReject ? 'RCJ' : 'RCN';
    switch (this.st) {
      case 'req-sent':
      case 'ack-sent':
        this.ircConf();
        this.scr(now, false);
        return this.go(ev, this.st);
      default:
        return this.crossed(now, ev); // ack-rcvd, opened
    }
  }

  /** RCA/RCN in Ack-Rcvd or Opened: a crossed connection; start over. */
  private crossed(now: Millis, ev: string): void {
    const wasOpened = this.st === 'opened';
    this.go(ev, 'req-sent');
    if (wasOpened) this.h.thisLayerDown(now);
    this.scr(now, false);
  }

  private rtr(now: Millis, pkt: CpPacket): void {
    switch (this.st) {
      case 'ack-rcvd':
      case 'ack-sent':
        this.sta(pkt.id);
        return this.go('RTR', 'req-sent');
      case 'opened':
        this.termCause = 'peer-terminated';
        this.go('RTR', 'stopping');
        this.h.thisLayerDown(now);
        // zrc: wait one restart period for the Terminate-Ack to reach the peer, then finish.
        this.restartCount = 0;
        this.deadline = now + this.restartMs;
        this.sta(pkt.id);
        this.h.peerTerminated?.(now);
        return;
      default:
        return this.sta(pkt.id); // closed, stopped, closing, stopping, req-sent: stay
    }
  }

  private rta(now: Millis): void {
    switch (this.st) {
      case 'closing':
        this.go('RTA', 'closed');
        return this.h.thisLayerFinished(now, this.termCause);
      case 'stopping':
        this.go('RTA', 'stopped');
        return this.h.thisLayerFinished(now, this.termCause);
      case 'ack-rcvd':
        return this.go('RTA', 'req-sent');
      case 'opened':
        this.go('RTA', 'req-sent');
        this.h.thisLayerDown(now);
        return this.scr(now, false);
      default:
        return;
    }
  }

  // ---- actions (RFC 1661 §4.4) ----

  /** Classify, converting a Nak into a Reject once Max-Failure Naks went unanswered by an Ack. */
  private classify(opts: readonly CpOption[]): RequestVerdict {
    const v = this.h.checkRequest(opts);
    if (v.verdict !== 'nak' || this.failures < this.maxFailure) return v;
    const naked = new Set(v.options.map((o) => o.type));
    const asked = opts.filter((o) => naked.has(o.type));
    // Options the peer never asked for (a Nak that prompts for one) cannot be rejected: keep Nak-ing.
    return asked.length > 0 ? { verdict: 'reject', options: asked } : v;
  }

  private answer(id: number, v: RequestVerdict): void {
    const data = encodeOptions(v.options);
    if (v.verdict === 'ack') {
      this.failures = 0;
      this.h.send(encodeCp(CODE.CONF_ACK, id, data));
    } else if (v.verdict === 'nak') {
      this.failures++;
      this.h.send(encodeCp(CODE.CONF_NAK, id, data));
    } else {
      this.h.send(encodeCp(CODE.CONF_REJ, id, data));
    }
  }

  private ircConf(): void {
    this.restartCount = this.maxConfigure;
  }

  private scr(now: Millis, retransmit: boolean): void {
    if (!retransmit || this.reqId === undefined) {
      this.reqId = this.nextId();
      this.reqOptions = encodeOptions(this.h.buildRequest());
    }
    this.restartCount--;
    this.deadline = now + this.restartMs;
    this.h.send(encodeCp(CODE.CONF_REQ, this.reqId, this.reqOptions));
  }

  private str(now: Millis): void {
    this.termId = this.nextId();
    this.restartCount--;
    this.deadline = now + this.restartMs;
    this.h.send(encodeCp(CODE.TERM_REQ, this.termId));
  }

  private sta(id: number): void {
    this.h.send(encodeCp(CODE.TERM_ACK, id));
  }

  private scj(raw: Buffer): void {
    // The rejected packet is copied, truncated so the Code-Reject fits the peer's MRU.
    const room = Math.max(0, this.peerMru() - 4);
    this.h.send(encodeCp(CODE.CODE_REJ, this.nextId(), raw.subarray(0, room)));
  }

  private nextId(): number {
    this.lastId = (this.lastId + 1) & 0xff;
    return this.lastId;
  }

  /** A Configure-Reject must list options exactly as we sent them. */
  private isCopyOfOurs(opts: readonly CpOption[]): boolean {
    if (opts.length === 0) return false;
    const ours = decodeOptions(this.reqOptions);
    return opts.every((o) => ours.some((m) => m.type === o.type && m.data.equals(o.data)));
  }

  private go(event: string, to: FsmState): void {
    const from = this.st;
    this.st = to;
    if (!TIMER_STATES.has(to)) this.deadline = undefined;
    // Max-Failure counts Naks within one negotiation; a fresh one starts from zero.
    if (!NEGOTIATING.has(to) && to !== 'opened') this.failures = 0;
    this.h.trace?.(event, from, to);
  }
}
