/**
 * PppLink: the server side of one PPP link, composing LCP → authentication → network (IPCP), as
 * RFC 1661 §3 phases. Sans-I/O: frames, backend answers, addresses and timeouts go in; events come
 * out of `poll()`. Every way the link can end produces exactly one 'finished', preceded by
 * 'ipcp-down' if 'ipcp-up' was emitted.
 *
 * What is processed when (RFC 1661 §3.5, ppp.md §2.1): before LCP is Opened only LCP; before
 * authentication succeeds LCP and the negotiated auth protocol (all else silently dropped); then
 * IPCP once the owner gave addresses (the peer's latest IPCP Configure-Request seen before that is
 * kept and replayed, so pppd need not wait for a retransmission); protocols we do not run are
 * Protocol-Rejected; IPv4 flows only while IPCP is Opened.
 */
import type { AuthAccept, AuthRequest, AuthResult } from '../auth/backend.js';
import { DecodeError, SstpdError } from '../common/errors.js';
import { minDeadline, type Millis } from '../common/time.js';
import type { AuthProtocol } from '../config/model.js';
import type { AuthEvent, Authenticator } from './auth/authenticator.js';
import { CODE } from './cp.js';
import { encodeFrame, parseFrame } from './frame.js';
import type { FinishReason } from './fsm.js';
import { Ipcp, serverIpcpOptions } from './ipcp/ipcp.js';
import type { ServerAddressOption } from './ipcp/address.js';
import type { ServerDnsOption } from './ipcp/dns.js';
import { ServerAuthOption } from './lcp/auth-proto.js';
import { Lcp, type EchoPolicy } from './lcp/lcp.js';
import { MagicOption } from './lcp/magic.js';
import { MruOption } from './lcp/mru.js';
import { REJECTED_LCP_OPTIONS } from './lcp/reject.js';
import {
  PPP_CCP,
  PPP_CHAP,
  PPP_IPCP,
  PPP_IPV4,
  PPP_IPV6CP,
  PPP_LCP,
  PPP_PAP,
  type LogFields,
  type LogLevel,
  type TerminateCause,
} from './protocols.js';

export type { TerminateCause } from './protocols.js';
export type { EchoPolicy } from './lcp/lcp.js';

/** accel-ppp's SSTP `ppp-max-mtu`: the largest MRU we accept from a peer. */
export const MAX_PEER_MRU = 1452;
/** RFC 1661 leaves the minimum to the implementation; accel-ppp and SoftEther use 100. */
export const MIN_PEER_MRU = 100;

export type PppPhase = 'dead' | 'establish' | 'authenticate' | 'network' | 'terminate';

export type PppEvent =
  /** A full frame: FF 03 protocol(2) information. */
  | { readonly type: 'send'; readonly frame: Buffer }
  /** Ask the backend; answer with authResult(). */
  | { readonly type: 'verify'; readonly request: AuthRequest }
  /** The Success packet was already sent; the owner assigns addresses (setAddresses). */
  | { readonly type: 'authenticated'; readonly result: AuthAccept }
  | { readonly type: 'auth-failed'; readonly username: string | undefined; readonly reason: string }
  | { readonly type: 'ipcp-up'; readonly local: string; readonly peer: string; readonly peerMru: number }
  | { readonly type: 'ipcp-down' }
  /** 0x0021: the IP packet, only while IPCP is Opened. A view into the received frame. */
  | { readonly type: 'data'; readonly protocol: number; readonly payload: Buffer }
  /** The link is dead; emitted once; the owner ends the session. */
  | { readonly type: 'finished'; readonly cause: TerminateCause; readonly reason: string }
  | { readonly type: 'log'; readonly level: LogLevel; readonly event: string; readonly fields?: LogFields };

export interface PppLinkOptions {
  /** The MRU we request, ≤ 1452 (larger values are capped). */
  readonly mru: number;
  /** Allowed methods in offer order, strongest first: mschap-v2, mschap, chap, pap. Not empty. */
  readonly authProtocols: readonly AuthProtocol[];
  readonly makeAuthenticator: (method: AuthProtocol) => Authenticator;
  readonly echo: EchoPolicy;
  /** Name servers for IPCP 129/131, ≤ 2 IPv4. */
  readonly dns: readonly string[];
  readonly random: (n: number) => Buffer;
  /** From LCP Opened to authentication success; default 30000. */
  readonly authTimeoutMs?: number;
  /** Default 10. */
  readonly maxConfigure?: number;
  /** Default 3000. */
  readonly restartMs?: number;
  /** Default 5. */
  readonly maxFailure?: number;
  /** Control protocols we do not run and Protocol-Reject; default IPV6CP and CCP. */
  readonly rejectProtocols?: readonly number[];
}

const DEFAULT_REJECTED: readonly number[] = [PPP_IPV6CP, PPP_CCP];

const LCP_FINISH: Readonly<Record<FinishReason, readonly [TerminateCause, string]>> = {
  timeout: ['lost-carrier', 'LCP negotiation timed out'],
  rejected: ['nas-error', 'peer rejected LCP'],
  'peer-terminated': ['user-request', 'peer terminated the link'],
  closed: ['nas-error', 'LCP closed'],
};

export class PppLink {
  private readonly out: PppEvent[] = [];
  private readonly lcp: Lcp;
  private readonly ipcp: Ipcp;
  private readonly authOption: ServerAuthOption;
  private readonly address: ServerAddressOption;
  private readonly dnsOptions: readonly ServerDnsOption[];
  private readonly rejectProtocols: ReadonlySet<number>;
  private readonly authTimeoutMs: number;
  private ph: PppPhase = 'dead';
  private auth: Authenticator | undefined;
  private authDeadline: Millis | undefined;
  private authenticated = false;
  private addresses: { readonly local: string; readonly peer: string } | undefined;
  private ipUp = false;
  private heldIpcp: Buffer | undefined;
  private ending: { readonly cause: TerminateCause; readonly reason: string } | undefined;
  private done = false;

  constructor(private readonly opts: PppLinkOptions) {
    if (opts.authProtocols.length === 0) throw new SstpdError('E_PPP_CONFIG', 'PPP link needs at least one authentication protocol');
    const fsm = { restartMs: opts.restartMs ?? 3000, maxConfigure: opts.maxConfigure ?? 10, maxFailure: opts.maxFailure ?? 5 };
    this.authTimeoutMs = opts.authTimeoutMs ?? 30000;
    this.rejectProtocols = new Set(opts.rejectProtocols ?? DEFAULT_REJECTED);

    const mru = new MruOption({ request: Math.min(opts.mru, MAX_PEER_MRU), min: MIN_PEER_MRU, max: MAX_PEER_MRU });
    const magic = new MagicOption(opts.random);
    this.authOption = new ServerAuthOption(opts.authProtocols);
    const log = this.log.bind(this);
    this.lcp = new Lcp(
      { handlers: [mru, this.authOption, magic, ...REJECTED_LCP_OPTIONS], mru, magic, echo: opts.echo, fsm },
      {
        send: (p) => this.send(PPP_LCP, p),
        up: (now) => this.lcpUp(now),
        down: (now) => this.lcpDown(now),
        finished: (_now, why) => this.lcpFinished(why),
        peerTerminated: (now) => this.abort(now, 'user-request', 'peer terminated the link'),
        failed: (now, cause, reason) => (cause === 'lost-carrier' ? this.abort(now, cause, reason) : this.close(now, cause, reason)),
        protocolRejected: (now, protocol) => this.protocolRejected(now, protocol),
        log,
      },
    );

    const table = serverIpcpOptions(opts.dns, fsm.maxFailure);
    this.address = table.address;
    this.dnsOptions = table.dns;
    this.ipcp = new Ipcp(
      table.handlers,
      {
        send: (p) => this.send(PPP_IPCP, p),
        up: () => this.ipcpUp(),
        down: () => this.ipcpDown(),
        finished: (now, why) => this.close(now, why === 'peer-terminated' ? 'user-request' : 'nas-error', `IPCP finished (${why})`),
        failed: (now, reason) => this.close(now, 'nas-error', reason),
        log,
      },
      { ...fsm, peerMru: () => this.lcp.peerMru },
    );
  }

  get phase(): PppPhase {
    return this.ph;
  }
  /** The largest frame the peer accepts (LCP MRU; 1452 when it did not say). */
  get peerMru(): number {
    return this.lcp.peerMru;
  }
  /** IPv4 may flow (IPCP Opened). */
  get ipOpen(): boolean {
    return this.ipUp;
  }

  // ---- inputs ----

  /** SSTP accepted the call: LCP starts negotiating. */
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
    this.receiveSafely(() => {
      const { protocol, info } = parseFrame(frame);
      this.dispatch(now, protocol, info);
    });
  }

  /** A frame was received outside `receive` (data fast lane): keeps the adaptive keepalive fed. */
  activity(now: Millis): void {
    this.lcp.activity(now);
  }

  /** The backend's answer to the last 'verify'. */
  authResult(now: Millis, result: AuthResult): void {
    if (this.done || !this.auth || this.authenticated) return;
    this.authEvents(now, this.auth, this.auth.backendResult(now, result));
  }

  /**
   * After 'authenticated': enter the Network phase and start IPCP with these addresses; `dns`, when
   * given, replaces the configured name servers for this link (slot by slot, ≤ 2).
   */
  setAddresses(now: Millis, local: string, peer: string, dns?: readonly (string | undefined)[]): void {
    if (this.done || !this.authenticated || this.ph !== 'authenticate') {
      this.log('warn', 'ppp-addresses-ignored', { phase: this.ph });
      return;
    }
    try {
      this.address.configure(local, peer);
    } catch (e) {
      if (!(e instanceof RangeError)) throw e;
      return this.close(now, 'nas-error', e.message);
    }
    if (dns) this.dnsOptions.forEach((o, i) => o.configure(dns[i]));
    this.addresses = { local, peer };
    this.ph = 'network';
    this.ipcp.fsm.open(now);
    this.ipcp.fsm.up(now);
    const held = this.heldIpcp;
    this.heldIpcp = undefined;
    if (held) this.receiveSafely(() => this.ipcp.receive(now, held));
  }

  /** End the link: LCP Terminate-Request (restart timer, Max-Terminate), then 'finished'. */
  close(now: Millis, cause: TerminateCause, reason: string): void {
    if (this.done || this.ending) return;
    this.ending = { cause, reason };
    this.log('info', 'ppp-close', { cause, reason });
    this.ph = 'terminate';
    this.lcp.fsm.close(now);
    // Nothing to say to the peer when LCP was not negotiating: finished at once.
    const s = this.lcp.fsm.state;
    if (s !== 'closing' && s !== 'stopping') this.finish(cause, reason);
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
    if (!this.done && this.auth) this.authEvents(now, this.auth, this.auth.handleTimeout(now));
    if (!this.done && !this.authenticated && this.authDeadline !== undefined && now >= this.authDeadline) {
      this.authDeadline = undefined;
      const reason = 'authentication timed out';
      this.out.push({ type: 'auth-failed', username: undefined, reason });
      this.close(now, 'auth-failed', reason);
    }
  }

  nextDeadline(): Millis | undefined {
    if (this.done) return undefined;
    return minDeadline(this.lcp.nextDeadline(), this.ipcp.fsm.nextDeadline(), this.auth?.nextDeadline(), this.authDeadline);
  }

  poll(): PppEvent[] {
    return this.out.splice(0, this.out.length);
  }

  // ---- demultiplexing ----

  private dispatch(now: Millis, protocol: number, info: Buffer): void {
    if (protocol === PPP_LCP) return this.lcp.receive(now, info);
    if (!this.lcp.opened || this.ph === 'terminate') return;
    const auth = this.auth;
    if (auth && protocol === auth.protocol) return this.authEvents(now, auth, auth.handle(now, info));
    if (!this.authenticated) return; // Authenticate phase: everything else is silently discarded
    if (this.rejectProtocols.has(protocol)) return this.lcp.protocolReject(protocol, info);
    switch (protocol) {
      case PPP_IPCP:
        if (this.ph === 'network') return this.ipcp.receive(now, info);
        // Authenticated, addresses not given yet: keep the latest request for replay.
        if (info[0] === CODE.CONF_REQ) this.heldIpcp = Buffer.from(info);
        return;
      case PPP_IPV4:
        if (this.ipUp) this.out.push({ type: 'data', protocol, payload: info });
        return;
      case PPP_PAP:
      case PPP_CHAP:
        return; // an auth protocol we did not negotiate: stray, not unknown
      default:
        return this.lcp.protocolReject(protocol, info);
    }
  }

  private receiveSafely(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      this.log('debug', 'ppp-malformed', { error: e.message });
    }
  }

  // ---- layer signals ----

  private lcpUp(now: Millis): void {
    const method = this.authOption.method!;
    this.ph = 'authenticate';
    this.authenticated = false;
    this.log('info', 'lcp-opened', { auth: method, peerMru: this.lcp.peerMru });
    const auth = this.opts.makeAuthenticator(method);
    this.auth = auth;
    this.authDeadline = now + this.authTimeoutMs;
    this.authEvents(now, auth, auth.start(now));
  }

  /** LCP left Opened (closing, renegotiating, transport gone): everything above it stops. */
  private lcpDown(now: Millis): void {
    this.ipcp.stop(now);
    this.auth = undefined;
    this.authDeadline = undefined;
    this.authenticated = false;
    this.heldIpcp = undefined;
    if (this.ph !== 'terminate') this.ph = 'establish';
  }

  private authEvents(now: Millis, auth: Authenticator, events: readonly AuthEvent[]): void {
    for (const ev of events) {
      if (this.done) return;
      switch (ev.type) {
        case 'send':
          this.send(auth.protocol, ev.packet);
          break;
        case 'verify':
          this.out.push({ type: 'verify', request: ev.request });
          break;
        case 'success':
          if (this.auth !== auth || this.authenticated) break;
          this.authenticated = true;
          this.authDeadline = undefined;
          this.log('info', 'ppp-authenticated', { username: ev.result.username });
          this.out.push({ type: 'authenticated', result: ev.result });
          break;
        case 'failure':
          if (this.auth !== auth) break;
          this.out.push({ type: 'auth-failed', username: ev.username, reason: ev.reason });
          this.close(now, 'auth-failed', ev.reason);
          break;
      }
    }
  }

  private ipcpUp(): void {
    if (!this.addresses || !this.authenticated) return; // cannot happen: IPCP starts in setAddresses
    this.ipUp = true;
    this.out.push({ type: 'ipcp-up', local: this.addresses.local, peer: this.addresses.peer, peerMru: this.lcp.peerMru });
  }

  private ipcpDown(): void {
    if (!this.ipUp) return;
    this.ipUp = false;
    this.out.push({ type: 'ipcp-down' });
  }

  private protocolRejected(now: Millis, protocol: number): void {
    if (protocol !== PPP_IPCP) return;
    // IPCP is our only network protocol: without it the link has no purpose.
    this.ipcp.stop(now);
    this.close(now, 'nas-error', 'peer rejected IPCP');
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
    this.ipcpDown();
    this.ph = 'dead';
    this.auth = undefined;
    this.authDeadline = undefined;
    this.log('info', 'ppp-finished', { cause, reason });
    this.out.push({ type: 'finished', cause, reason });
  }

  private send(protocol: number, packet: Buffer): void {
    this.out.push({ type: 'send', frame: encodeFrame(protocol, packet) });
  }

  private log(level: LogLevel, event: string, fields?: LogFields): void {
    this.out.push(fields ? { type: 'log', level, event, fields } : { type: 'log', level, event });
  }
}
