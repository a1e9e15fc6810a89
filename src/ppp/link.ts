/**
 * PppLink: the server side of one PPP link, composing LCP → authentication → network (IPCP,
 * IPV6CP, CCP/MPPE), as RFC 1661 §3 phases. Sans-I/O: frames, backend answers, addresses and
 * timeouts go in; events come out of `poll()`. Every way the link can end produces exactly one
 * 'finished', preceded by 'ipcp-down' / 'ipv6cp-down' for each '-up' that was emitted.
 *
 * What is processed when (RFC 1661 §3.5, ppp.md §2.1): before LCP is Opened only LCP; before
 * authentication succeeds LCP and the negotiated auth protocol (all else silently dropped); then
 * the NCPs once the owner started the network phase (the peer's latest Configure-Request of each,
 * seen before that, is kept and replayed, so pppd need not wait for a retransmission); protocols
 * we do not run (IPCP without an IPv4 address, IPV6CP without IPv6, CCP with MPPE denied or
 * impossible) are Protocol-Rejected; IPv4/IPv6 flow only while their NCP is Opened.
 *
 * MPPE (RFC 3078) runs in ccp/mppe-link.ts under the configured policy; data frames are decrypted
 * there on the way in and encrypted by the session's data path on the way out. Whether a data packet
 * may pass is decided by the link's DataGate (data-gate.ts), the same gate the session's fast lanes
 * ask: NCP open, binding verified, MPPE rules, source address.
 */
import type { AuthAccept, AuthRequest, AuthResult, MppeKeys } from '../auth/backend.js';
import { DecodeError, SstpdError } from '../common/errors.js';
import { minDeadline, type Millis } from '../common/time.js';
import type { AuthProtocol } from '../config/model.js';
import type { AuthEvent, Authenticator } from './auth/authenticator.js';
import { CODE } from './cp.js';
import { encodeFrame, parseFrame } from './frame.js';
import type { FinishReason } from './fsm.js';
import { Ipcp, serverIpcpOptions } from './ipcp/ipcp.js';
import { serverIpv6cp, type Ipv6cp } from './ipv6cp/ipv6cp.js';
import type { ServerIidOption } from './ipv6cp/iid.js';
import { ServerMppeOption, type MppeMode } from './ccp/mppe-option.js';
import { MPPE_OVERHEAD } from './ccp/mppe-cipher.js';
import { MppeLink } from './ccp/mppe-link.js';
import { DataGate } from './data-gate.js';
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
  PPP_IPV6,
  PPP_IPV6CP,
  PPP_LCP,
  PPP_MPPE,
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
  /** IPV6CP Opened: both interface identifiers (the peer's is absent if it proposed none). */
  | { readonly type: 'ipv6cp-up'; readonly localIid: Buffer; readonly peerIid: Buffer | undefined; readonly peerMru: number }
  | { readonly type: 'ipv6cp-down' }
  /** IPv6 is over for this link (the peer rejected IPV6CP, or it failed): its prefix can go back. */
  | { readonly type: 'ipv6-stopped' }
  /**
   * 0x0021 / 0x0057: an IP packet, only while its NCP is Opened (and MPPE is satisfied). A view into
   * the received frame, or a fresh buffer when it was decrypted.
   */
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
  /** Control protocols we never run and always Protocol-Reject (tests); default none. */
  readonly rejectProtocols?: readonly number[];
  /** IPv6 is configured: IPV6CP runs when `startNetwork` says so; without it 0x8057 is Protocol-Rejected. */
  readonly ipv6?: boolean;
  /**
   * MPPE policy (VyOS `ppp-options mppe`; 'accept' = no option: do not ask, accept if asked).
   * Absent or 'deny': CCP is Protocol-Rejected.
   */
  readonly mppe?: MppeMode | 'deny';
  /** No data moves until the owner sets `gate.lowerVerified` (SSTP: crypto binding verified). */
  readonly awaitLowerVerification?: boolean;
}

/** What the network phase runs; given by the owner once addresses are known. */
export interface NetworkParams {
  /** IPCP with these addresses; absent = no IPv4 for this session (IPCP is Protocol-Rejected). */
  readonly ipv4?: { readonly local: string; readonly peer: string };
  /** Run IPV6CP (the session holds an IPv6 prefix). */
  readonly ipv6?: boolean;
  /** Replaces the configured IPv4 name servers for this link, slot by slot (RADIUS MS-*-DNS-Server). */
  readonly dns?: readonly (string | undefined)[];
}

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
  private readonly ipv6cp: Ipv6cp<ServerIidOption>;
  private readonly mppe: MppeLink | undefined;
  private readonly rejectProtocols: ReadonlySet<number>;
  private readonly authTimeoutMs: number;
  private ph: PppPhase = 'dead';
  private auth: Authenticator | undefined;
  private authDeadline: Millis | undefined;
  private authenticated = false;
  private addresses: { readonly local: string; readonly peer: string } | undefined;
  private ipv6Enabled = false;
  /** Latest Configure-Request per NCP received before the network phase, replayed when it starts. */
  private readonly held = new Map<number, Buffer>();
  /** NCPs whose peer has sent a Configure-Request. */
  private readonly peerSpoke = new Set<number>();
  /**
   * NCPs whose peer had not spoken when CCP opened: a peer that requires MPPE (pppd) starts them
   * only then and discarded our earlier request, so its first request makes us resend ours now.
   */
  private readonly nudgeOnFirstRequest = new Set<number>();
  private mppeKeys: MppeKeys | undefined;
  private ending: { readonly cause: TerminateCause; readonly reason: string } | undefined;
  private done = false;
  /** Whether data may pass, in both directions (the session's fast lanes use the same gate). */
  readonly gate: DataGate;

  constructor(private readonly opts: PppLinkOptions) {
    if (opts.authProtocols.length === 0) throw new SstpdError('E_PPP_CONFIG', 'PPP link needs at least one authentication protocol');
    const fsm = { restartMs: opts.restartMs ?? 3000, maxConfigure: opts.maxConfigure ?? 10, maxFailure: opts.maxFailure ?? 5 };
    this.authTimeoutMs = opts.authTimeoutMs ?? 30000;
    this.rejectProtocols = new Set(opts.rejectProtocols ?? []);
    this.gate = new DataGate({ mppeRequired: opts.mppe === 'require', awaitLowerVerification: opts.awaitLowerVerification ?? false });

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

    this.ipv6cp = serverIpv6cp(
      opts.random,
      {
        send: (p) => this.send(PPP_IPV6CP, p),
        up: () => this.ipv6cpUp(),
        down: () => this.ipv6cpDown(),
        finished: (now, why) => this.ncpGone(now, PPP_IPV6CP, `IPV6CP finished (${why})`),
        failed: (now, reason) => this.ncpGone(now, PPP_IPV6CP, reason),
        log,
      },
      { ...fsm, peerMru: () => this.lcp.peerMru },
    );

    const mode = opts.mppe ?? 'deny';
    if (mode !== 'deny') {
      this.mppe = new MppeLink(
        { option: new ServerMppeOption(mode), required: mode === 'require', silent: mode === 'accept', peer: 'client' },
        this.gate,
        { send: (p) => this.send(PPP_CCP, p), up: () => this.mppeUp(), close: (now, reason) => this.close(now, 'nas-error', reason), log },
        { ...fsm, peerMru: () => this.lcp.peerMru },
      );
    }
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
    return this.gate.ipv4Open;
  }
  /** IPv6 may flow (IPV6CP Opened). */
  get ipv6Open(): boolean {
    return this.gate.ipv6Open;
  }
  /** Data may pass in both directions as far as MPPE goes: always, except with `mppe require` before MPPE is up. */
  get dataAllowed(): boolean {
    return !this.gate.heldForMppe;
  }
  /** MPPE may be negotiated on this link: the session leaves room for its 4 bytes in the MTU. */
  get mppeOverhead(): number {
    return this.mppe ? MPPE_OVERHEAD : 0;
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
    this.startNetwork(now, dns ? { ipv4: { local, peer }, dns } : { ipv4: { local, peer } });
  }

  /**
   * After 'authenticated': enter the Network phase. IPCP runs with the given IPv4 addresses, IPV6CP
   * if asked (and configured), CCP unless MPPE is denied or impossible (no MS-CHAP keys).
   */
  startNetwork(now: Millis, params: NetworkParams): void {
    if (this.done || !this.authenticated || this.ph !== 'authenticate') {
      this.log('warn', 'ppp-addresses-ignored', { phase: this.ph });
      return;
    }
    if (params.ipv4) {
      try {
        this.address.configure(params.ipv4.local, params.ipv4.peer);
      } catch (e) {
        if (!(e instanceof RangeError)) throw e;
        return this.close(now, 'nas-error', e.message);
      }
      this.addresses = params.ipv4;
    }
    if (params.dns) {
      const dns = params.dns;
      this.dnsOptions.forEach((o, i) => o.configure(dns[i]));
    }
    this.ipv6Enabled = (params.ipv6 ?? false) && (this.opts.ipv6 ?? false);
    if (!this.addresses && !this.ipv6Enabled) return this.close(now, 'nas-error', 'no IPv4 address and no IPv6 prefix for this session');
    if (this.mppe && !this.mppe.start(now, this.mppeKeys, this.authOption.method)) return;
    this.ph = 'network';
    if (this.addresses) this.openNcp(now, PPP_IPCP);
    if (this.ipv6Enabled) this.openNcp(now, PPP_IPV6CP);
    if (this.mppe?.running) this.openNcp(now, PPP_CCP);
    this.held.clear();
  }

  private openNcp(now: Millis, protocol: number): void {
    const ncp = protocol === PPP_IPCP ? this.ipcp : protocol === PPP_IPV6CP ? this.ipv6cp : this.mppe!.ccp;
    ncp.fsm.open(now);
    ncp.fsm.up(now);
    const held = this.held.get(protocol);
    if (held) {
      this.peerSpoke.add(protocol);
      this.receiveSafely(() => ncp.receive(now, held));
    }
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
    if (!this.done) this.ipv6cp.fsm.handleTimeout(now);
    if (!this.done) this.mppe?.ccp.handleTimeout(now);
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
    return minDeadline(
      this.lcp.nextDeadline(),
      this.ipcp.fsm.nextDeadline(),
      this.ipv6cp.fsm.nextDeadline(),
      this.mppe?.ccp.nextDeadline(),
      this.auth?.nextDeadline(),
      this.authDeadline,
    );
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
      case PPP_IPV4:
        return this.deliver(protocol, info, false);
      case PPP_IPV6:
        // A protocol we do not run at all is rejected; one not open yet is dropped (RFC 1661 §3.5).
        if (!this.opts.ipv6 || (this.ph === 'network' && !this.ipv6Enabled)) return this.lcp.protocolReject(protocol, info);
        return this.deliver(protocol, info, false);
      case PPP_MPPE: {
        if (!this.mppe) return this.lcp.protocolReject(protocol, info);
        const inner = this.mppe.decrypt(now, info);
        return inner && this.deliver(inner.protocol, inner.payload, true);
      }
      case PPP_IPCP:
      case PPP_IPV6CP:
      case PPP_CCP:
        return this.ncpPacket(now, protocol, info);
      case PPP_PAP:
      case PPP_CHAP:
        return; // an auth protocol we did not negotiate: stray, not unknown
      default:
        return this.lcp.protocolReject(protocol, info);
    }
  }

  /** A control packet of an NCP: run, held until the network phase, or Protocol-Rejected. */
  private ncpPacket(now: Millis, protocol: number, info: Buffer): void {
    const runs = protocol === PPP_IPCP ? true : protocol === PPP_IPV6CP ? this.opts.ipv6 === true : this.mppe !== undefined;
    if (!runs) return this.lcp.protocolReject(protocol, info);
    if (this.ph !== 'network') {
      // Authenticated, network not started yet: keep the latest request for replay.
      if (info[0] === CODE.CONF_REQ) this.held.set(protocol, Buffer.from(info));
      return;
    }
    const ncp = protocol === PPP_IPCP ? (this.addresses ? this.ipcp : undefined) : protocol === PPP_IPV6CP ? (this.ipv6Enabled ? this.ipv6cp : undefined) : this.mppe?.running ? this.mppe.ccp : undefined;
    if (!ncp) return this.lcp.protocolReject(protocol, info);
    if (info[0] === CODE.CONF_REQ && !this.peerSpoke.has(protocol)) {
      this.peerSpoke.add(protocol);
      if (this.nudgeOnFirstRequest.delete(protocol)) ncp.fsm.nudge(now);
    }
    ncp.receive(now, info);
  }

  /** An IP packet from the peer: passed up only if the data gate admits it. */
  private deliver(protocol: number, payload: Buffer, encrypted: boolean): void {
    if (this.gate.admitIn(protocol, payload, encrypted)) this.out.push({ type: 'data', protocol, payload });
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
    this.ipv6cp.stop(now);
    this.mppe?.stop(now);
    this.auth = undefined;
    this.authDeadline = undefined;
    this.authenticated = false;
    this.held.clear();
    this.peerSpoke.clear();
    this.nudgeOnFirstRequest.clear();
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
          this.mppeKeys = ev.result.mppeKeys;
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
    this.gate.ipv4Open = true;
    this.out.push({ type: 'ipcp-up', local: this.addresses.local, peer: this.addresses.peer, peerMru: this.lcp.peerMru });
  }

  private ipcpDown(): void {
    if (!this.gate.ipv4Open) return;
    this.gate.ipv4Open = false;
    this.out.push({ type: 'ipcp-down' });
  }

  private ipv6cpUp(): void {
    if (!this.ipv6Enabled) return;
    this.gate.ipv6Open = true;
    const iid = this.ipv6cp.iid;
    this.out.push({ type: 'ipv6cp-up', localIid: iid.local, peerIid: iid.remote, peerMru: this.lcp.peerMru });
  }

  private ipv6cpDown(): void {
    if (!this.gate.ipv6Open) return;
    this.gate.ipv6Open = false;
    this.out.push({ type: 'ipv6cp-down' });
  }

  /** An NCP finished or failed for good: the link lives on while another network protocol can run. */
  private ncpGone(now: Millis, protocol: number, reason: string): void {
    if (protocol === PPP_IPV6CP) {
      this.ipv6cp.stop(now);
      this.ipv6Enabled = false;
      this.out.push({ type: 'ipv6-stopped' });
    } else {
      this.ipcp.stop(now);
      this.addresses = undefined;
    }
    if (this.addresses || this.ipv6Enabled) {
      this.log('info', 'ncp-stopped', { protocol: protocol === PPP_IPCP ? 'IPCP' : 'IPV6CP', reason });
      return;
    }
    this.close(now, 'nas-error', reason);
  }

  private protocolRejected(now: Millis, protocol: number): void {
    if (protocol === PPP_IPCP) return this.ncpGone(now, PPP_IPCP, 'peer rejected IPCP');
    if (protocol === PPP_IPV6CP) return this.ncpGone(now, PPP_IPV6CP, 'peer rejected IPV6CP');
    if (protocol === PPP_CCP) this.mppe?.gone(now, 'client rejected CCP');
  }

  /** MPPE is on: a peer that requires it (pppd) starts its other NCPs only now (see ncpPacket). */
  private mppeUp(): void {
    for (const p of [PPP_IPCP, PPP_IPV6CP]) if (!this.peerSpoke.has(p)) this.nudgeOnFirstRequest.add(p);
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
    this.ipv6cpDown();
    this.gate.close();
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
