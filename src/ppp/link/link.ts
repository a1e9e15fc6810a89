/**
 * PppLink: the server (authenticator) role on the shared link core (link-core.ts, which holds the
 * phases, dispatch, NCPs, MPPE, data gate and endings). What only the server does:
 * - LCP offers the configured auth methods, strongest first, and caps the peer's MRU at 1452;
 * - authentication asks the owner's backend ('verify' → `authResult`) and gives up after
 *   `authTimeoutMs`; success hands the owner the result ('authenticated');
 * - the owner then starts the network phase with the session's addresses (`startNetwork`): IPCP with
 *   them, IPV6CP if the session has a prefix, CCP under the `ppp-options mppe` policy;
 * - NCP Configure-Requests that arrive between authentication and `startNetwork` are kept and
 *   replayed (so pppd need not wait for a retransmission), and an NCP whose peer had not spoken when
 *   MPPE came up is nudged on its first request (a peer requiring MPPE discarded our earlier one).
 */
import type { AuthAccept, AuthRequest, AuthResult, MppeKeys } from '../../auth/backend.js';
import { SstpdError } from '../../common/errors.js';
import { HLAK_LEN } from '../../crypto/mschap.js';
import { minDeadline, type Millis } from '../../common/time.js';
import type { AuthProtocol, NcpPolicy } from '../../config/model.js';
import type { AuthEvent, Authenticator } from '../auth/authenticator.js';
import { ServerMppeOption, type MppeMode } from '../ccp/mppe-option.js';
import type { ServerAddressOption } from '../ipcp/address.js';
import type { ServerDnsOption } from '../ipcp/dns.js';
import { serverIpcpOptions } from '../ipcp/ipcp.js';
import { ServerIidOption } from '../ipv6cp/iid.js';
import { ServerAuthOption } from '../lcp/auth-proto.js';
import type { EchoPolicy } from '../lcp/lcp.js';
import type { MruPolicy } from '../lcp/mru.js';
import { PppLinkCore, type AuthRun, type LinkEvent } from './link-core.js';
import type { Ncp } from '../ncp.js';
import { PPP_IPCP, PPP_IPV6CP, PPP_CCP, type TerminateCause } from '../protocols.js';
import { CODE } from '../cp.js';

export type { TerminateCause } from '../protocols.js';
export type { EchoPolicy } from '../lcp/lcp.js';
export type { PppPhase } from './link-core.js';

/**
 * accel-ppp's SSTP `ppp-max-mtu` (the seed shows mtu 1452): the MRU the server asks for and the
 * largest peer MRU it accepts. Not the SSTP limit, which is MAX_SSTP_MRU (lcp/mru.ts).
 */
export const PPP_MAX_MTU = 1452;
/** RFC 1661 leaves the minimum to the implementation; accel-ppp and SoftEther use 100. */
export const MIN_PEER_MRU = 100;

export type PppEvent =
  | LinkEvent
  /** Ask the backend; answer with authResult(). */
  | { readonly type: 'verify'; readonly request: AuthRequest }
  /** The Success packet was already sent; the owner assigns addresses (startNetwork). */
  | { readonly type: 'authenticated'; readonly result: AuthAccept }
  | { readonly type: 'auth-failed'; readonly username: string | undefined; readonly reason: string }
  | { readonly type: 'ipcp-up'; readonly local: string; readonly peer: string; readonly peerMru: number }
  /** IPV6CP Opened: both interface identifiers (the peer's is absent if it proposed none). */
  | { readonly type: 'ipv6cp-up'; readonly localIid: Buffer; readonly peerIid: Buffer | undefined; readonly peerMru: number }
  /** The link is dead; emitted once; the owner ends the session. */
  | { readonly type: 'finished'; readonly cause: TerminateCause; readonly reason: string };

type ServerEvent = Exclude<PppEvent, LinkEvent>;

export interface PppLinkOptions {
  /** The MRU we request, ≤ PPP_MAX_MTU (larger values are capped). */
  readonly mru: number;
  /** The largest peer MRU we accept (`mtu`), capped at PPP_MAX_MTU; larger ones are Nak'd to it. Default PPP_MAX_MTU. */
  readonly maxPeerMru?: number;
  /**
   * The smallest peer MRU we accept (`ppp-options min-mtu`; default MIN_PEER_MRU): smaller ones are
   * Nak'd to it, and a peer that still asks for less after Max-Failure Naks is disconnected.
   */
  readonly minPeerMru?: number;
  /** Allowed methods in offer order, strongest first: mschap-v2, mschap, chap, pap. Not empty unless `noauth`. */
  readonly authProtocols: readonly AuthProtocol[];
  /**
   * `authentication mode noauth` (accel-ppp `[auth] noauth=1`): LCP asks for no authentication and
   * the link goes on to the network phase at LCP Opened, with no user name and no keys.
   */
  readonly noauth?: boolean;
  readonly makeAuthenticator: (method: AuthProtocol) => Authenticator;
  readonly echo: EchoPolicy;
  /** Name servers for IPCP 129/131, ≤ 2 IPv4. */
  readonly dns: readonly string[];
  /** WINS servers for IPCP 130/132 (`wins-server`, ≤ 2 IPv4); absent or empty: those options are rejected. */
  readonly wins?: readonly string[];
  readonly random: (n: number) => Buffer;
  /** From LCP Opened to authentication success; default 30000. */
  readonly authTimeoutMs?: number;
  /** Default 10. */
  readonly maxConfigure?: number;
  /** Default 3000. */
  readonly restartMs?: number;
  /** Default 5. */
  readonly maxFailure?: number;
  /** IPv6 is configured: IPV6CP runs when `startNetwork` says so; without it 0x8057 is Protocol-Rejected. */
  readonly ipv6?: boolean;
  /**
   * MPPE policy (VyOS `ppp-options mppe`; 'accept' = no option: do not ask, accept if asked).
   * Absent or 'deny': CCP is Protocol-Rejected.
   */
  readonly mppe?: MppeMode | 'deny';
  /** No data moves until the owner sets `gate.lowerVerified` (SSTP: crypto binding verified). */
  readonly awaitLowerVerification?: boolean;
  /**
   * `ppp-options ipv4` / `ipv6` (accel-ppp's words): deny = that NCP never runs (Protocol-Rejected);
   * allow = run only when the client starts it; prefer = we start it, the session lives on without
   * it; require = we start it, the session ends without it. Absent: see LinkParts.ncp.
   */
  readonly ncp?: { readonly ipv4?: NcpPolicy; readonly ipv6?: NcpPolicy };
  /** Our IPV6CP interface id (`ppp-options ipv6-interface-id` a:b:c:d, 8 bytes); absent: random. */
  readonly interfaceId?: Buffer;
  /** `ppp-options ipv6-accept-peer-interface-id`: the client's own non-zero id is taken. */
  readonly acceptPeerInterfaceId?: boolean;
}

/**
 * The outcome of `noauth`: accel-ppp leaves such a session without a user name (empty in
 * `show sessions`); no MS-CHAP keys, so the SSTP binding uses the zero HLAK and MPPE cannot run.
 */
const NOAUTH_ACCEPT: AuthAccept = { ok: true, username: '', hlaks: [{ label: 'zero', key: Buffer.alloc(HLAK_LEN) }] };

/** What the network phase runs; given by the owner once addresses are known. */
export interface NetworkParams {
  /** IPCP with these addresses; absent = no IPv4 for this session (IPCP is Protocol-Rejected). */
  readonly ipv4?: { readonly local: string; readonly peer: string };
  /** Run IPV6CP (the session holds an IPv6 prefix). */
  readonly ipv6?: boolean;
  /** The peer's interface id by `ppp-options ipv6-peer-interface-id` (see ServerIidOption). */
  readonly ipv6PeerId?: Buffer;
  /** Replaces the configured IPv4 name servers for this link, slot by slot (RADIUS MS-*-DNS-Server). */
  readonly dns?: readonly (string | undefined)[];
}

/** LCP MRU bounds from the options; a min-mtu above the maximum is lowered to it (no empty range). */
function peerMruPolicy(opts: PppLinkOptions, maxFailure: number): MruPolicy {
  const max = Math.min(opts.maxPeerMru ?? PPP_MAX_MTU, PPP_MAX_MTU);
  const min = Math.min(opts.minPeerMru ?? MIN_PEER_MRU, max);
  return { request: Math.min(opts.mru, PPP_MAX_MTU), min, max, maxLowRequests: maxFailure };
}

export class PppLink extends PppLinkCore<ServerEvent> {
  private readonly address: ServerAddressOption;
  private readonly dnsOptions: readonly ServerDnsOption[];
  private readonly iid: ServerIidOption | undefined;
  private authenticator: Authenticator | undefined;
  private mppeKeys: MppeKeys | undefined;
  private addresses: { readonly local: string; readonly peer: string } | undefined;
  /** Latest Configure-Request per NCP received before the network phase, replayed when it starts. */
  private readonly held = new Map<number, Buffer>();
  /** NCPs whose peer has sent a Configure-Request in this network phase. */
  private readonly peerSpoke = new Set<number>();
  /** NCPs whose peer had not spoken when MPPE came up: its first request makes us resend ours. */
  private readonly nudgeOnFirstRequest = new Set<number>();

  constructor(private readonly opts: PppLinkOptions) {
    if (opts.authProtocols.length === 0 && !opts.noauth) throw new SstpdError('E_PPP_CONFIG', 'PPP link needs at least one authentication protocol');
    const fsm = { restartMs: opts.restartMs ?? 3000, maxConfigure: opts.maxConfigure ?? 10, maxFailure: opts.maxFailure ?? 5 };
    const ipcp = serverIpcpOptions(opts.dns, fsm.maxFailure, opts.wins);
    const mppe = opts.mppe ?? 'deny';
    const iid = opts.ipv6 ? new ServerIidOption(opts.random, fsm.maxFailure, opts.interfaceId, opts.acceptPeerInterfaceId) : undefined;
    super({
      random: opts.random,
      mru: peerMruPolicy(opts, fsm.maxFailure),
      auth: new ServerAuthOption(opts.noauth ? [] : opts.authProtocols),
      echo: opts.echo,
      fsm,
      ipcp: ipcp.handlers,
      ipv6cp: iid,
      mppe: mppe === 'deny' ? undefined : { option: new ServerMppeOption(mppe), required: mppe === 'require', silent: mppe === 'accept', peer: 'client' },
      awaitLowerVerification: opts.awaitLowerVerification,
      ...(opts.ncp ? { ncp: opts.ncp } : {}),
    });
    this.address = ipcp.address;
    this.dnsOptions = ipcp.dns;
    this.iid = iid;
  }

  /** The backend's answer to the last 'verify'. */
  authResult(now: Millis, result: AuthResult): void {
    const a = this.authenticator;
    if (this.ended || !a || this.authenticated || this.phase !== 'authenticate') return;
    this.authEvents(now, a.protocol, a.backendResult(now, result));
  }

  /**
   * After 'authenticated': enter the network phase. IPCP runs with the given IPv4 addresses, IPV6CP
   * if asked (and configured), CCP unless MPPE is denied or impossible (no MS-CHAP keys).
   */
  startNetwork(now: Millis, params: NetworkParams): void {
    if (this.ended || !this.authenticated || this.phase !== 'authenticate') {
      this.log('warn', 'ppp-addresses-ignored', { phase: this.phase });
      return;
    }
    if (params.ipv4) {
      try {
        this.address.configure(params.ipv4.local, params.ipv4.peer);
      } catch (e) {
        if (!(e instanceof RangeError)) throw e;
        return this.close(now, 'nas-error', e.message);
      }
    }
    this.addresses = params.ipv4;
    if (params.ipv6PeerId) this.iid?.setPeerId(params.ipv6PeerId);
    const dns = params.dns;
    if (dns) this.dnsOptions.forEach((o, i) => o.configure(dns[i]));
    const v4 = params.ipv4 !== undefined && this.policyOf(PPP_IPCP) !== 'deny';
    const v6 = params.ipv6 === true && this.ipv6cp !== undefined && this.policyOf(PPP_IPV6CP) !== 'deny';
    const ncps = [...(v4 ? [PPP_IPCP] : []), ...(v6 ? [PPP_IPV6CP] : [])];
    if (ncps.length === 0) return this.close(now, 'nas-error', 'no IPv4 address and no IPv6 prefix for this session');
    if (!v4 && this.policyOf(PPP_IPCP) === 'require') return this.close(now, 'nas-error', 'IPv4 is required (ppp-options ipv4 require) but this session has no address');
    if (!v6 && this.policyOf(PPP_IPV6CP) === 'require') return this.close(now, 'nas-error', 'IPv6 is required (ppp-options ipv6 require) but this session has no prefix');
    if (this.mppe && !this.mppe.start(now, this.mppeKeys, this.authMethod)) return;
    this.enterNetwork(ncps);
    this.peerSpoke.clear();
    this.nudgeOnFirstRequest.clear();
    for (const p of [PPP_IPCP, PPP_IPV6CP, PPP_CCP]) {
      const held = this.held.get(p);
      const started = this.openNcp(now, p);
      // A passive (`allow`) NCP starts from the client's request, so a held one is replayed too.
      if (held && (started || this.passive(p))) this.replayControl(now, p, held);
    }
    this.held.clear();
  }

  /** End the link: LCP Terminate-Request (restart timer, Max-Terminate), then 'finished'. */
  close(now: Millis, cause: TerminateCause, reason: string): void {
    this.terminate(now, cause, reason);
  }

  // ---- role hooks ----

  protected startAuth(now: Millis, method: AuthProtocol | undefined): AuthRun | undefined {
    if (method === undefined) {
      // We asked for no method (noauth): nobody to authenticate, the network phase may start.
      this.authEvents(now, 0, [{ type: 'success', result: NOAUTH_ACCEPT }]);
      return undefined;
    }
    const a = this.opts.makeAuthenticator(method);
    this.authenticator = a;
    let deadline: Millis | undefined = now + (this.opts.authTimeoutMs ?? 30000);
    return {
      protocol: a.protocol,
      start: (t) => this.authEvents(t, a.protocol, a.start(t)),
      handle: (t, info) => this.authEvents(t, a.protocol, a.handle(t, info)),
      handleTimeout: (t) => {
        this.authEvents(t, a.protocol, a.handleTimeout(t));
        if (deadline === undefined || t < deadline || this.authenticated || this.ended) return;
        deadline = undefined;
        this.authFailed(t, undefined, 'authentication timed out');
      },
      nextDeadline: () => minDeadline(a.nextDeadline(), this.authenticated ? undefined : deadline),
    };
  }

  protected override beforeNetwork(protocol: number, info: Buffer): void {
    if (info[0] === CODE.CONF_REQ) this.held.set(protocol, Buffer.from(info));
  }

  protected override configureRequest(now: Millis, protocol: number, ncp: Ncp): void {
    if (this.peerSpoke.has(protocol)) return;
    this.peerSpoke.add(protocol);
    if (this.nudgeOnFirstRequest.delete(protocol)) ncp.fsm.nudge(now);
  }

  protected mppeUp(): void {
    for (const p of [PPP_IPCP, PPP_IPV6CP]) if (!this.peerSpoke.has(p)) this.nudgeOnFirstRequest.add(p);
  }

  protected ipcpUpEvent(): ServerEvent {
    const a = this.addresses!; // IPCP runs only with addresses
    return { type: 'ipcp-up', local: a.local, peer: a.peer, peerMru: this.peerMru };
  }

  protected ipv6cpUpEvent(localIid: Buffer, peerIid: Buffer | undefined): ServerEvent {
    return { type: 'ipv6cp-up', localIid, peerIid, peerMru: this.peerMru };
  }

  protected finishedEvent(cause: TerminateCause, reason: string): ServerEvent {
    return { type: 'finished', cause, reason };
  }

  /** `protocol`: the authenticator's (its packets are sent under it). */
  private authEvents(now: Millis, protocol: number, events: readonly AuthEvent[]): void {
    for (const ev of events) {
      if (this.ended) return;
      switch (ev.type) {
        case 'send':
          this.send(protocol, ev.packet);
          break;
        case 'verify':
          this.out.push({ type: 'verify', request: ev.request });
          break;
        case 'success':
          if (!this.authSucceeded()) break;
          this.mppeKeys = ev.result.mppeKeys;
          this.held.clear();
          // debug: the session's `authenticated` line (username, address) follows at info.
          this.log('debug', 'ppp-authenticated', { username: ev.result.username });
          this.out.push({ type: 'authenticated', result: ev.result });
          break;
        case 'failure':
          this.authFailed(now, ev.username, ev.reason);
          break;
      }
    }
  }

  private authFailed(now: Millis, username: string | undefined, reason: string): void {
    this.out.push({ type: 'auth-failed', username, reason });
    this.terminate(now, 'auth-failed', reason);
  }
}

