/**
 * PppClientLink: the peer (authenticatee) role on the shared link core (link-core.ts), for our own
 * test client and the sstp-connect CLI. What only the client does:
 * - LCP asks only for a magic number (and an MRU if given) and accepts the server's auth method
 *   when allowed, else Naks with our preferred one; the auth peer (ppp/auth/peer.ts) answers it;
 * - the network phase starts as soon as authentication succeeds: IPCP asking for 0.0.0.0 and DNS,
 *   IPV6CP with `ipv6`; with `mppe` (pppd's require-mppe) CCP comes first and the other NCPs wait
 *   until MPPE is up, as pppd does;
 * - it answers echoes; with `echo` it also sends them (pppd's lcp-echo-interval / lcp-echo-failure),
 *   and `probe()` sends one for an RTT sample ('echo-reply').
 */
import type { MppeKeys } from '../../auth/backend.js';
import type { Millis } from '../../common/time.js';
import type { AuthProtocol } from '../../config/model.js';
import type { AuthPeerEvent } from '../auth/peer.js';
import { ClientMppeOption } from '../ccp/mppe-option.js';
import { clientIpcpOptions, type ClientIpcpTable } from '../ipcp/ipcp.js';
import { ClientIidOption, linkLocal } from '../ipv6cp/iid.js';
import { ClientAuthOption } from '../lcp/auth-proto.js';
import type { EchoPolicy } from '../lcp/lcp.js';
import { MAX_SSTP_MRU } from '../lcp/mru.js';
import { PppLinkCore, type AuthRun, type LinkEvent } from './link-core.js';
import { PPP_CCP, PPP_CHAP, PPP_IPCP, PPP_IPV6CP, PPP_PAP, type TerminateCause } from '../protocols.js';

/** Events of the client auth peer (the shape of `AuthPeer` in src/ppp/auth/peer.ts). */
export type ClientAuthEvent = AuthPeerEvent;

/** What the client link needs from an auth peer; `AuthPeer` from src/ppp/auth/peer.ts fits. */
export interface ClientAuthPeer {
  /** PAP: the Authenticate-Request; CHAP variants wait for the Challenge. */
  start?(): ClientAuthEvent[];
  /** One packet (Code/Id/Length/Data) of the auth protocol from the server. */
  handle(packet: Buffer): ClientAuthEvent[];
}

export interface PppClientOptions {
  /** Methods we are willing to run, preferred first (the one we Nak with). */
  readonly authMethods: readonly AuthProtocol[];
  /** The auth peer for the negotiated method (`AuthPeer` in production; scripted peers in tests). */
  readonly makeAuthPeer: (method: AuthProtocol) => ClientAuthPeer;
  readonly random: (n: number) => Buffer;
  /** Our MRU option; absent = do not send one (pppd's default). */
  readonly mru?: number;
  /** Ask for DNS 129/131 (pppd usepeerdns); default true. */
  readonly requestDns?: boolean;
  readonly restartMs?: number;
  readonly maxConfigure?: number;
  /** LCP keepalive we send; absent = answer only. */
  readonly echo?: EchoPolicy;
  /** Run IPV6CP (pppd `+ipv6`). */
  readonly ipv6?: boolean;
  /** Require MPPE with these CCP option bits (pppd `require-mppe-128` = S|H); absent = no CCP. */
  readonly mppe?: { readonly bits: number };
  /** No data moves until the owner sets `gate.lowerVerified` (SSTP: Call Connected sent). */
  readonly awaitLowerVerification?: boolean;
}

export type PppClientEvent =
  | LinkEvent
  | { readonly type: 'authenticated'; readonly hlak: Buffer }
  | { readonly type: 'auth-failed'; readonly message: string }
  | { readonly type: 'ipcp-up'; readonly local: string; readonly peer: string; readonly dns: readonly string[] }
  | { readonly type: 'ipv6cp-up'; readonly local: string; readonly peer: string | undefined }
  | { readonly type: 'mppe-up' }
  | { readonly type: 'finished'; readonly reason: string }
  /** The peer answered an Echo-Request (ours from `probe()` or the keepalive). */
  | { readonly type: 'echo-reply'; readonly id: number };

type ClientEvent = Exclude<PppClientEvent, LinkEvent>;

export class PppClientLink extends PppLinkCore<ClientEvent> {
  private readonly ipcpTable: ClientIpcpTable;
  private readonly makeAuthPeer: (method: AuthProtocol) => ClientAuthPeer;
  private mppeKeys: MppeKeys | undefined;

  constructor(opts: PppClientOptions) {
    const ipcp = clientIpcpOptions(opts.requestDns ?? true);
    super({
      random: opts.random,
      mru: { request: opts.mru, min: 64, max: MAX_SSTP_MRU },
      auth: new ClientAuthOption(opts.authMethods),
      echo: opts.echo,
      fsm: { restartMs: opts.restartMs ?? 3000, maxConfigure: opts.maxConfigure ?? 10 },
      ipcp: ipcp.handlers,
      ipv6cp: opts.ipv6 ? new ClientIidOption(opts.random) : undefined,
      mppe: opts.mppe && { option: new ClientMppeOption(opts.mppe.bits), required: true, peer: 'server' },
      awaitLowerVerification: opts.awaitLowerVerification,
    });
    this.ipcpTable = ipcp;
    this.makeAuthPeer = opts.makeAuthPeer;
  }

  /** End the link: LCP Terminate-Request, then 'finished'. */
  close(now: Millis, reason: string): void {
    this.terminate(now, 'user-request', reason);
  }

  /** Sends one LCP Echo-Request (RTT probe); its Identifier, or undefined when LCP is not Opened. */
  probe(): number | undefined {
    return this.ended ? undefined : this.lcp.probe();
  }

  // ---- role hooks ----

  protected startAuth(now: Millis, method: AuthProtocol | undefined): AuthRun | undefined {
    if (method === undefined) {
      // The server did not ask us to authenticate.
      this.authSucceeded();
      this.network(now);
      return undefined;
    }
    const peer = this.makeAuthPeer(method);
    const protocol = method === 'pap' ? PPP_PAP : PPP_CHAP;
    return {
      protocol,
      start: (t) => this.authEvents(t, protocol, peer.start?.() ?? []),
      handle: (t, info) => this.authEvents(t, protocol, peer.handle(info)),
    };
  }

  /** MPPE is up: now the NCPs that waited for it. */
  protected mppeUp(now: Millis): void {
    this.out.push({ type: 'mppe-up' });
    this.openIpNcps(now);
  }

  protected ipcpUpEvent(): ClientEvent {
    const dns = this.ipcpTable.dns.map((d) => d.address).filter((a): a is string => a !== undefined);
    return { type: 'ipcp-up', local: this.ipcpTable.address.local, peer: this.ipcpTable.address.peer, dns };
  }

  protected ipv6cpUpEvent(localIid: Buffer, peerIid: Buffer | undefined): ClientEvent {
    return { type: 'ipv6cp-up', local: linkLocal(localIid), peer: peerIid ? linkLocal(peerIid) : undefined };
  }

  protected finishedEvent(_cause: TerminateCause, reason: string): ClientEvent {
    return { type: 'finished', reason };
  }

  protected override echoReplied(id: number): void {
    this.out.push({ type: 'echo-reply', id });
  }

  private authEvents(now: Millis, protocol: number, events: readonly ClientAuthEvent[]): void {
    for (const ev of events) {
      if (this.ended) return;
      if (ev.type === 'send') this.send(protocol, ev.packet);
      else if (ev.type === 'failure') {
        this.out.push({ type: 'auth-failed', message: ev.message });
        this.terminate(now, 'auth-failed', `authentication failed: ${ev.message}`);
      } else if (this.authSucceeded()) {
        this.mppeKeys = ev.mppeKeys;
        this.out.push({ type: 'authenticated', hlak: ev.hlak });
        this.network(now);
      }
    }
  }

  /** Authenticated: every configured NCP runs; with MPPE required, CCP comes first (as pppd). */
  private network(now: Millis): void {
    if (this.mppe && !this.mppe.start(now, this.mppeKeys, this.authMethod)) return;
    this.enterNetwork(this.ipv6cp ? [PPP_IPCP, PPP_IPV6CP] : [PPP_IPCP]);
    if (this.mppe) this.openNcp(now, PPP_CCP);
    else this.openIpNcps(now);
  }

  private openIpNcps(now: Millis): void {
    this.openNcp(now, PPP_IPCP);
    this.openNcp(now, PPP_IPV6CP);
  }
}

