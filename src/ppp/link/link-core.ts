/**
 * PppLinkCore: the one PPP link both roles run (RFC 1661 §3): phases, LCP, frame dispatch, the NCPs
 * (IPCP, IPV6CP, CCP via mppe-link.ts), the data gate, close / abort / finish and every timer.
 * A role — server (link.ts) or peer (client-link.ts) — adds only what differs: option tables, how
 * authentication runs, when and with what the network phase starts, its up/finished events.
 * Sans-I/O: frames and `now` go in; events come out of `poll()`. Every way the link ends gives
 * exactly one 'finished', after an 'ipcp-down' / 'ipv6cp-down' for each '-up'.
 *
 * What each phase processes (RFC 1661 §3.5):
 * - establish (lowerUp) and terminate (close: Terminate-Request): only LCP;
 * - authenticate (LCP Opened): LCP and the negotiated auth protocol, all else silently dropped;
 *   once authenticated, NCP packets go to the role (the server keeps them to replay);
 * - network (the role starts it): NCPs; IPv4/IPv6 (after MPPE decryption) only through the data
 *   gate (data-gate.ts), which the owners' fast lanes ask too;
 * - a protocol we do not run here (not configured, or refused for this session): Protocol-Reject.
 */
import { DecodeError } from '../../common/errors.js';
import { minDeadline, type Millis } from '../../common/time.js';
import type { AuthProtocol, NcpPolicy } from '../../config/model.js';
import { MPPE_OVERHEAD } from '../mppe-cipher.js';
import { MppeLink, type MppePolicy } from './mppe-link.js';
import { CODE } from '../cp.js';
import { DataGate } from '../data-gate.js';
import { encodeFrame, parseFrame } from '../frame.js';
import type { FinishReason, FsmOptions } from '../fsm.js';
import { Ipcp } from '../ipcp/ipcp.js';
import type { ClientIidOption, ServerIidOption } from '../ipv6cp/iid.js';
import { Ipv6cp } from '../ipv6cp/ipv6cp.js';
import type { ClientAuthOption, ServerAuthOption } from '../lcp/auth-proto.js';
import { Lcp, type EchoPolicy } from '../lcp/lcp.js';
import { MagicOption } from '../lcp/magic.js';
import { MruOption, type MruPolicy } from '../lcp/mru.js';
import { REJECTED_LCP_OPTIONS } from '../lcp/reject.js';
import type { Ncp, NcpUpper } from '../ncp.js';
import type { OptionHandler } from '../negotiate.js';
import {
  PPP_CCP,
  PPP_CHAP,
  PPP_IPCP,
  PPP_IPV4,
  PPP_IPV6,
  PPP_IPV6CP,
  PPP_LCP,
  PPP_MPPE,
  PPP_PAP,
  protocolName,
  type LogFields,
  type LogLevel,
  type TerminateCause,
} from '../protocols.js';

export type PppPhase = 'dead' | 'establish' | 'authenticate' | 'network' | 'terminate';

/** The events both roles emit in the same shape. */
export type LinkEvent =
  /** A full frame: FF 03 protocol(2) information. */
  | { readonly type: 'send'; readonly frame: Buffer }
  /** 0x0021 / 0x0057 the data gate admitted: a view into the received frame, or decrypted into a new buffer. */
  | { readonly type: 'data'; readonly protocol: number; readonly payload: Buffer }
  | { readonly type: 'ipcp-down' }
  | { readonly type: 'ipv6cp-down' }
  /** IPv6 is over for this link (IPV6CP rejected, finished or failed): its prefix can go back. */
  | { readonly type: 'ipv6-stopped' }
  | { readonly type: 'log'; readonly level: LogLevel; readonly event: string; readonly fields?: LogFields };

/** What a role builds the link from. */
export interface LinkParts {
  readonly random: (n: number) => Buffer;
  /** LCP: our MRU and the peer's bounds, the role's Authentication-Protocol option, our keepalive. */
  readonly mru: MruPolicy;
  readonly auth: ServerAuthOption | ClientAuthOption;
  readonly echo?: EchoPolicy;
  /** Restart timer and counters of every automaton on the link. */
  readonly fsm: FsmOptions;
  readonly ipcp: readonly OptionHandler[];
  /** IPV6CP's Interface-Identifier option; absent = IPV6CP is not run (Protocol-Rejected). */
  readonly ipv6cp?: ServerIidOption | ClientIidOption;
  /** MPPE policy; absent = CCP is not run (Protocol-Rejected). */
  readonly mppe?: MppePolicy;
  /** No data moves until the owner sets `gate.lowerVerified` (SSTP: crypto binding). */
  readonly awaitLowerVerification?: boolean;
  /**
   * `ppp-options ipv4` / `ipv6` for the NCPs that run (deny is the owner's: it does not run them):
   * allow = opened only when the peer starts it; prefer = we start it, the link lives on without
   * it; require = we start it, the link ends without it. Absent: we start both; the link ends when
   * IPCP finishes, and lives on when the peer Protocol-Rejects either or IPV6CP finishes.
   */
  readonly ncp?: { readonly ipv4?: NcpPolicy; readonly ipv6?: NcpPolicy };
}

/** One run of the negotiated authentication protocol, as the role drives it. */
export interface AuthRun {
  /** 0xC023 (PAP) or 0xC223 (CHAP family): its frames go to `handle`. */
  readonly protocol: number;
  start(now: Millis): void;
  handle(now: Millis, info: Buffer): void;
  handleTimeout?(now: Millis): void;
  nextDeadline?(): Millis | undefined;
}

const LCP_FINISH: Readonly<Record<FinishReason, readonly [TerminateCause, string]>> = {
  timeout: ['lost-carrier', 'LCP negotiation timed out'],
  rejected: ['nas-error', 'peer rejected LCP'],
  'peer-terminated': ['user-request', 'peer terminated the link'],
  closed: ['nas-error', 'LCP closed'],
};

/** `R`: the role's own events (beside LinkEvent). */
export abstract class PppLinkCore<R extends { readonly type: string }> {
  protected readonly out: (LinkEvent | R)[] = [];
  protected readonly lcp: Lcp;
  private readonly ipcp: Ipcp;
  protected readonly ipv6cp: Ipv6cp<ServerIidOption | ClientIidOption> | undefined;
  protected readonly mppe: MppeLink | undefined;
  /** Whether data may pass, in both directions (the owners' fast lanes ask the same gate). */
  readonly gate: DataGate;
  private readonly authOption: ServerAuthOption | ClientAuthOption;
  private readonly mruOption: MruOption;
  private readonly ncpPolicy: { readonly ipv4?: NcpPolicy; readonly ipv6?: NcpPolicy };
  private ph: PppPhase = 'dead';
  private auth: AuthRun | undefined;
  private authed = false;
  /** The IP NCPs (IPCP, IPV6CP) that run in this network phase. */
  private readonly enabled = new Set<number>();
  private ending: { readonly cause: TerminateCause; readonly reason: string } | undefined;
  private done = false;

  constructor(parts: LinkParts) {
    this.gate = new DataGate({ mppeRequired: parts.mppe?.required ?? false, awaitLowerVerification: parts.awaitLowerVerification ?? false });
    this.authOption = parts.auth;
    const log = this.log.bind(this);
    const mru = new MruOption(parts.mru);
    this.mruOption = mru;
    this.ncpPolicy = parts.ncp ?? {};
    const magic = new MagicOption(parts.random);
    this.lcp = new Lcp(
      { handlers: [mru, parts.auth, magic, ...REJECTED_LCP_OPTIONS], mru, magic, fsm: parts.fsm, echo: parts.echo },
      {
        send: (p) => this.send(PPP_LCP, p),
        up: (now) => this.lcpUp(now),
        down: (now) => this.lcpDown(now),
        finished: (_now, why) => this.lcpFinished(why),
        peerTerminated: (now) => this.abort(now, 'user-request', 'peer terminated the link'),
        // A dead peer gets no Terminate-Request; any other failure closes the link properly.
        failed: (now, cause, reason) => (cause === 'lost-carrier' ? this.abort(now, cause, reason) : this.terminate(now, cause, reason)),
        protocolRejected: (now, protocol) => this.protocolRejected(now, protocol),
        echoReplied: (_now, id) => this.echoReplied(id),
        log,
      },
    );
    const fsm = { ...parts.fsm, peerMru: () => this.lcp.peerMru };
    // IPCP failing ends the link; IPV6CP failing only ends IPv6 (ncpGone).
    const ipcpGone = (now: Millis, reason: string, why?: FinishReason): void =>
      this.policyOf(PPP_IPCP) === 'prefer' || this.policyOf(PPP_IPCP) === 'allow'
        ? this.ncpGone(now, PPP_IPCP, reason)
        : this.terminate(now, why === 'peer-terminated' ? 'user-request' : 'nas-error', reason);
    this.ipcp = new Ipcp(parts.ipcp, this.ncpUpper(PPP_IPCP, ipcpGone), fsm);
    this.ipv6cp = parts.ipv6cp && new Ipv6cp(parts.ipv6cp, this.ncpUpper(PPP_IPV6CP, (now, reason) => this.ncpGone(now, PPP_IPV6CP, reason)), fsm);
    this.mppe =
      parts.mppe &&
      new MppeLink(parts.mppe, this.gate, { send: (p) => this.send(PPP_CCP, p), up: (now) => this.mppeUp(now), close: (now, reason) => this.terminate(now, 'nas-error', reason), log }, fsm);
  }

  get phase(): PppPhase {
    return this.ph;
  }
  /** The largest frame the peer accepts (LCP MRU; 1500, at most our maximum, when it did not say). */
  get peerMru(): number {
    return this.lcp.peerMru;
  }
  /** The negotiated authentication method (once LCP is Opened); undefined = none. */
  get authMethod(): AuthProtocol | undefined {
    return this.authOption.method;
  }
  /** MPPE may be negotiated on this link: owners leave room for its 4 bytes in the MTU. */
  get mppeOverhead(): number {
    return this.mppe ? MPPE_OVERHEAD : 0;
  }

  // ---- inputs ----

  /** The lower layer is up (SSTP call accepted): LCP starts negotiating. */
  lowerUp(now: Millis): void {
    if (this.done || this.ph !== 'dead') return;
    this.ph = 'establish';
    this.lcp.fsm.open(now);
    this.lcp.fsm.up(now);
  }

  /** One PPP frame (FF 03 optional, PFC tolerated). Malformed frames are dropped; never throws on input. */
  receive(now: Millis, frame: Buffer): void {
    if (this.done || this.ph === 'dead') return;
    this.lcp.activity(now);
    this.safely(() => {
      const { protocol, info } = parseFrame(frame);
      this.dispatch(now, protocol, info);
    });
  }

  /** A frame was received outside `receive` (data fast lane): keeps the adaptive keepalive fed. */
  activity(now: Millis): void {
    this.lcp.activity(now);
  }

  /** The transport is gone. A close already under way keeps its cause. */
  lowerDown(now: Millis, cause: TerminateCause = 'lost-carrier', reason = 'transport closed'): void {
    if (this.done) return;
    this.abort(now, this.ending?.cause ?? cause, this.ending?.reason ?? reason);
  }

  handleTimeout(now: Millis): void {
    if (this.done) return;
    this.lcp.handleTimeout(now);
    if (!this.done) this.ipcp.fsm.handleTimeout(now);
    if (!this.done) this.ipv6cp?.fsm.handleTimeout(now);
    if (!this.done) this.mppe?.ccp.handleTimeout(now);
    if (!this.done) this.auth?.handleTimeout?.(now);
  }

  nextDeadline(): Millis | undefined {
    if (this.done) return undefined;
    return minDeadline(this.lcp.nextDeadline(), this.ipcp.fsm.nextDeadline(), this.ipv6cp?.fsm.nextDeadline(), this.mppe?.ccp.nextDeadline(), this.auth?.nextDeadline?.());
  }

  poll(): (LinkEvent | R)[] {
    return this.out.splice(0, this.out.length);
  }

  // ---- for the roles ----

  /** LCP Opened: start authenticating with `method`; undefined = no authentication (the role goes on itself). */
  protected abstract startAuth(now: Millis, method: AuthProtocol | undefined): AuthRun | undefined;
  protected abstract ipcpUpEvent(): R;
  protected abstract ipv6cpUpEvent(localIid: Buffer, peerIid: Buffer | undefined): R;
  protected abstract finishedEvent(cause: TerminateCause, reason: string): R;
  /** MPPE came up (at least one direction). */
  protected abstract mppeUp(now: Millis): void;
  /** An NCP packet after authentication, before the network phase; dropped unless the role keeps it. */
  protected beforeNetwork(_protocol: number, _info: Buffer): void {}
  /** A Configure-Request for a running NCP, just before the NCP takes it. */
  protected configureRequest(_now: Millis, _protocol: number, _ncp: Ncp): void {}
  /** The peer answered an LCP Echo-Request. */
  protected echoReplied(_id: number): void {}

  protected get ended(): boolean {
    return this.done;
  }
  protected get authenticated(): boolean {
    return this.authed;
  }

  /** Authentication succeeded; false when it does not count (already done, or LCP went down meanwhile). */
  protected authSucceeded(): boolean {
    if (this.done || this.authed || this.ph !== 'authenticate') return false;
    this.authed = true;
    return true;
  }

  /** The network phase: `ncps` (IPCP, IPV6CP) run in it, and CCP if MPPE runs. Each opens with `openNcp`. */
  protected enterNetwork(ncps: readonly number[]): void {
    this.ph = 'network';
    this.enabled.clear();
    for (const p of ncps) this.enabled.add(p);
  }

  /** Starts an NCP that runs in this network phase and has not started yet; false = nothing to start. */
  protected openNcp(now: Millis, protocol: number): boolean {
    const ncp = this.ph === 'network' ? this.ncpFor(protocol) : undefined;
    if (!ncp || ncp.fsm.state !== 'initial' || this.passive(protocol)) return false;
    ncp.fsm.open(now);
    ncp.fsm.up(now);
    return true;
  }

  /** A control packet of an NCP as if just received (the server's replay of a held request). */
  protected replayControl(now: Millis, protocol: number, info: Buffer): void {
    this.safely(() => this.control(now, protocol, info));
  }

  /** End the link: LCP Terminate-Request (restart timer, Max-Terminate), then 'finished'. */
  protected terminate(now: Millis, cause: TerminateCause, reason: string): void {
    if (this.done || this.ending) return;
    this.ending = { cause, reason };
    // debug: session-terminate / session-down carry the cause (info lines are per session event, not per protocol step).
    this.log('debug', 'ppp-close', { cause, reason });
    this.ph = 'terminate';
    this.lcp.fsm.close(now);
    // Nothing to say to the peer when LCP was not negotiating: finished at once.
    const s = this.lcp.fsm.state;
    if (s !== 'closing' && s !== 'stopping') this.finish(cause, reason);
  }

  protected send(protocol: number, packet: Buffer): void {
    this.out.push({ type: 'send', frame: encodeFrame(protocol, packet) });
  }

  protected log(level: LogLevel, event: string, fields?: LogFields): void {
    this.out.push(fields ? { type: 'log', level, event, fields } : { type: 'log', level, event });
  }

  // ---- demultiplexing ----

  private dispatch(now: Millis, protocol: number, info: Buffer): void {
    if (protocol === PPP_LCP) return this.lcpReceive(now, info);
    if (!this.lcp.opened || this.ph === 'terminate') return;
    const auth = this.auth;
    if (auth && protocol === auth.protocol) return auth.handle(now, info);
    if (!this.authed) return; // Authenticate phase: everything else is silently discarded
    switch (protocol) {
      case PPP_IPV4:
      case PPP_IPV6:
        // A protocol we do not run is rejected; one not open yet is dropped by the gate.
        if (!this.ncpFor(protocol === PPP_IPV4 ? PPP_IPCP : PPP_IPV6CP)) return this.lcp.protocolReject(protocol, info);
        return this.deliver(protocol, info, false);
      case PPP_MPPE: {
        if (!this.mppe) return this.lcp.protocolReject(protocol, info);
        const inner = this.mppe.decrypt(now, info);
        return inner && this.deliver(inner.protocol, inner.payload, true);
      }
      case PPP_IPCP:
      case PPP_IPV6CP:
      case PPP_CCP:
        return this.control(now, protocol, info);
      case PPP_PAP:
      case PPP_CHAP:
        return; // an auth protocol we did not negotiate: stray, not unknown
      default:
        return this.lcp.protocolReject(protocol, info);
    }
  }

  /** A control packet of an NCP: to the role before the network phase, then to the NCP, or Protocol-Rejected. */
  private lcpReceive(now: Millis, info: Buffer): void {
    this.lcp.receive(now, info);
    const low = this.mruOption.tooSmall;
    // A peer that keeps asking for an MRU below min-mtu after our Naks and Reject cannot be served.
    if (low !== undefined) {
      this.terminate(now, 'nas-error', `peer MRU ${low} is below the minimum ${this.mruOption.minPeerMru}`);
    }
  }

  private control(now: Millis, protocol: number, info: Buffer): void {
    const ncp = this.ncpFor(protocol);
    if (!ncp) return this.lcp.protocolReject(protocol, info);
    if (this.ph !== 'network') return this.beforeNetwork(protocol, info);
    if (info[0] === CODE.CONF_REQ && this.passive(protocol) && ncp.fsm.state === 'initial') {
      // `allow`: the peer started it, so now we negotiate it too.
      ncp.fsm.open(now);
      ncp.fsm.up(now);
    }
    if (info[0] === CODE.CONF_REQ) this.configureRequest(now, protocol, ncp);
    ncp.receive(now, info);
  }

  /** An IP packet from the peer: passed up only if the data gate admits it. */
  private deliver(protocol: number, payload: Buffer, encrypted: boolean): void {
    if (this.gate.admitIn(protocol, payload, encrypted)) this.out.push({ type: 'data', protocol, payload });
  }

  /** The NCP of a control protocol if it is configured and, in the network phase, runs in it (CCP: MPPE not given up). */
  private ncpFor(protocol: number): Ncp | undefined {
    const ncp = protocol === PPP_IPCP ? this.ipcp : protocol === PPP_IPV6CP ? this.ipv6cp : protocol === PPP_CCP ? this.mppe?.ccp : undefined;
    const running = protocol === PPP_CCP ? this.mppe?.running === true : this.enabled.has(protocol);
    return this.ph !== 'network' || running ? ncp : undefined;
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      this.log('debug', 'ppp-malformed', { error: e.message });
    }
  }

  // ---- layer signals ----

  private lcpUp(now: Millis): void {
    const method = this.authOption.method;
    this.ph = 'authenticate';
    this.authed = false;
    this.log('debug', 'lcp-opened', { auth: method ?? 'none', peerMru: this.lcp.peerMru });
    this.auth = this.startAuth(now, method);
    this.auth?.start(now);
  }

  /** LCP left Opened (closing, renegotiating, transport gone): everything above it stops. */
  private lcpDown(now: Millis): void {
    this.ipcp.stop(now);
    this.ipv6cp?.stop(now);
    this.mppe?.stop(now);
    this.enabled.clear();
    this.auth = undefined;
    this.authed = false;
    if (this.ph !== 'terminate') this.ph = 'establish';
  }

  private ncpUpper(protocol: number, gone: (now: Millis, reason: string, why?: FinishReason) => void): NcpUpper {
    return {
      send: (p) => this.send(protocol, p),
      up: () => this.ncpUp(protocol),
      down: () => this.ncpDown(protocol),
      finished: (now, why) => gone(now, `${protocolName(protocol)} finished (${why})`, why),
      failed: (now, reason) => gone(now, reason),
      log: this.log.bind(this),
    };
  }

  private ncpUp(protocol: number): void {
    if (!this.enabled.has(protocol)) return; // cannot happen: an IP NCP opens only in the network phase
    if (protocol === PPP_IPCP) {
      this.gate.ipv4Open = true;
      this.out.push(this.ipcpUpEvent());
    } else if (this.ipv6cp) {
      this.gate.ipv6Open = true;
      this.out.push(this.ipv6cpUpEvent(this.ipv6cp.iid.local, this.ipv6cp.iid.remote));
    }
  }

  private ncpDown(protocol: number): void {
    if (protocol === PPP_IPCP && this.gate.ipv4Open) {
      this.gate.ipv4Open = false;
      this.out.push({ type: 'ipcp-down' });
    } else if (protocol === PPP_IPV6CP && this.gate.ipv6Open) {
      this.gate.ipv6Open = false;
      this.out.push({ type: 'ipv6cp-down' });
    }
  }

  protected policyOf(protocol: number): NcpPolicy | undefined {
    return protocol === PPP_IPCP ? this.ncpPolicy.ipv4 : protocol === PPP_IPV6CP ? this.ncpPolicy.ipv6 : undefined;
  }

  /** An NCP we leave to the peer to start (`allow`). */
  protected passive(protocol: number): boolean {
    return this.policyOf(protocol) === 'allow';
  }

  /** An IP NCP finished or was rejected for good: the link lives on while the other one runs. */
  private ncpGone(now: Millis, protocol: number, reason: string): void {
    (protocol === PPP_IPCP ? this.ipcp : this.ipv6cp)?.stop(now);
    this.enabled.delete(protocol);
    if (protocol === PPP_IPV6CP) this.out.push({ type: 'ipv6-stopped' });
    if (this.enabled.size === 0 || this.policyOf(protocol) === 'require') return this.terminate(now, 'nas-error', reason);
    this.log('info', 'ncp-stopped', { protocol: protocolName(protocol), reason });
  }

  private protocolRejected(now: Millis, protocol: number): void {
    if (protocol === PPP_IPCP || protocol === PPP_IPV6CP) {
      const reason = `peer rejected ${protocolName(protocol)}`;
      return this.policyOf(protocol) === 'require' ? this.terminate(now, 'nas-error', reason) : this.ncpGone(now, protocol, reason);
    }
    if (protocol === PPP_CCP) this.mppe?.rejected(now);
  }

  // ---- endings ----

  private lcpFinished(why: FinishReason): void {
    const [cause, reason] = this.ending ? [this.ending.cause, this.ending.reason] : LCP_FINISH[why];
    this.finish(cause, reason);
  }

  /** End without a Terminate exchange (peer gone, or it terminated itself). */
  private abort(now: Millis, cause: TerminateCause, reason: string): void {
    if (this.done) return;
    this.lcp.fsm.down(now);
    this.finish(cause, reason);
  }

  private finish(cause: TerminateCause, reason: string): void {
    if (this.done) return;
    this.done = true;
    this.ncpDown(PPP_IPCP);
    this.ncpDown(PPP_IPV6CP);
    this.gate.close();
    this.ph = 'dead';
    this.auth = undefined;
    this.log('debug', 'ppp-finished', { cause, reason });
    this.out.push(this.finishedEvent(cause, reason));
  }
}
