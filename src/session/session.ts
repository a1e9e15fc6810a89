/**
 * One client connection as a sans-I/O core: the HTTP handshake, then SSTP, then PPP, composed.
 * Bytes, backend answers and timeouts go in; actions come out of `poll()`. The driver
 * (session/driver.ts) owns the socket, the TUN device, the timer and the auth backend.
 *
 * The SSTP↔PPP wiring both roles share is session/pump.ts (lower-up, frames, the data gate's
 * binding flag, finished → disconnect, closed → lower-down, the fast lanes). What only the server
 * adds: the HTTP handshake, PPP authenticated → SSTP gets the HLAKs (and checks a deferred Call
 * Connected), the zero-key waiver when a network protocol opens, address assignment, the IPv6
 * services (RS/DHCPv6) and the interface's up/down.
 */
import type { AuthAccept, AuthRequest, AuthResult } from '../auth/backend.js';
import type { AuthProtocol } from '../config/model.js';
import { minDeadline, type Millis } from '../common/time.js';
import { checkSstpRequest, HttpRequestReader, http200, httpError } from '../sstp/http.js';
import { SstpServer } from '../sstp/server.js';
import { PppLink, type PppEvent, type PppLinkOptions, type TerminateCause as PppTerminateCause } from '../ppp/link/link.js';
import { createAuthenticator } from '../ppp/auth/index.js';
import { linkLocal, type PeerIidRule } from '../ppp/ipv6cp/iid.js';
import type { MppeMode } from '../ppp/ccp/mppe-option.js';
import { formatPrefix6, parseAddress6, type Prefix6 } from '../ip/ipv6-addr.js';
import { Ipv6Services } from '../ipv6/services.js';
import type { PrefixSource } from '../ipv6/dhcpv6.js';
import { SourceFilter } from '../ip/source-filter.js';
import type { DropCounters } from '../ppp/data-gate.js';
import { PPP_IPV4, PPP_IPV6 } from '../ppp/protocols.js';
import { CallPump } from './pump.js';
import type { FramedCount, SlabPackets } from './data-path.js';

/** IPv6 for sessions of this generation (present when `client-ipv6-pool prefix` is configured). */
export interface Ipv6Policy {
  /** IPv6 name servers (≤ 3): RDNSS in RAs, DNS in DHCPv6. */
  readonly dns: readonly string[];
  /** Our DHCPv6 DUID (SERVERID). */
  readonly serverDuid: Buffer;
}

/** The addresses a session was given after authentication (see `networkAssigned`). */
export interface SessionAddresses {
  readonly ipv4?: string;
  readonly ipv6Prefix?: Prefix6;
  /** The delegate pool bound to this session (DHCPv6-PD); absent without a delegate pool. */
  readonly delegation?: PrefixSource;
  /** Replaces the configured IPv4 name servers for this session (RADIUS), slot by slot. */
  readonly dns?: readonly (string | undefined)[];
  /** IPv4 networks routed to the client ("a.b.c.d/len", RADIUS Framed-Route): it may send from them. */
  readonly routes?: readonly string[];
  /**
   * The client's IPV6CP interface id by `ppp-options ipv6-peer-interface-id` (peerIidFor); null:
   * the rule gives none (ipv4-addr without IPv4), so IPV6CP does not run, as accel-ppp stops it.
   */
  readonly ipv6PeerId?: Buffer | null;
}

/** Everything a session needs from its configuration generation, frozen at accept time. */
export interface SessionPolicy {
  readonly authProtocols: readonly AuthProtocol[];
  /** `authentication mode noauth`: no authentication at all (PppLinkOptions.noauth). */
  readonly noauth?: boolean;
  readonly gateway: string;
  readonly dns: readonly string[];
  /** `wins-server` (≤ 2 IPv4), answered in IPCP 130/132; absent or empty: those are rejected. */
  readonly wins?: readonly string[];
  /** The MRU we ask for (`ppp-options mru`, capped at 1452); also caps the interface MTU. */
  readonly mru: number;
  /** The largest client MRU accepted (`mtu`, capped at 1452); absent: 1452. */
  readonly maxPeerMru?: number;
  /** `ppp-options min-mtu`: smaller client MRUs are Nak'd up to it, then refused; absent: 100. */
  readonly minPeerMru?: number;
  readonly echo: { readonly intervalS: number; readonly failure: number; readonly timeoutS: number };
  readonly certHashes: { readonly sha1: Buffer; readonly sha256: Buffer };
  readonly serverName: string;
  /** `host-name`: the HTTP Host header must name this host (the listener checks TLS SNI). */
  readonly hostName?: string;
  /** From accept to SSTP Call Connected verified (covers HTTP + SSTP negotiation), ms. */
  readonly negotiationTimeoutMs: number;
  readonly helloIntervalMs: number;
  /** Absent: IPv6 is not configured (IPV6CP is Protocol-Rejected). */
  readonly ipv6?: Ipv6Policy;
  /** `ppp-options ipv4` / `ipv6` (PppLinkOptions.ncp); absent: IPCP and IPV6CP as before those nodes existed. */
  readonly ncp?: PppLinkOptions['ncp'];
  /** Our IPV6CP interface id (`ppp-options ipv6-interface-id`); absent: random per session. */
  readonly interfaceId?: Buffer;
  /** `ppp-options ipv6-peer-interface-id`; absent: the client keeps its own id unless it clashes. */
  readonly peerInterfaceId?: PeerIidRule;
  /** `ppp-options ipv6-accept-peer-interface-id`. */
  readonly acceptPeerInterfaceId?: boolean;
  /** `ppp-options mppe`; 'accept' is the default (do not ask, accept if asked). Absent = deny. */
  readonly mppe?: MppeMode | 'deny';
}

export type SessionAction =
  | { readonly type: 'send'; readonly bytes: Buffer }
  | { readonly type: 'close'; readonly reason: string }
  | { readonly type: 'authenticate'; readonly request: AuthRequest }
  | { readonly type: 'authenticated'; readonly result: AuthAccept }
  | { readonly type: 'auth-failed'; readonly username: string | undefined; readonly reason: string }
  | { readonly type: 'link-up'; readonly local: string; readonly peer: string; readonly mtu: number }
  /** IPV6CP opened: our and the peer's link-local addresses; route `prefix` to the interface. */
  | { readonly type: 'ipv6-up'; readonly local: string; readonly peer: string | undefined; readonly prefix: string; readonly mtu: number }
  /** Every network protocol is down: the interface goes. */
  | { readonly type: 'link-down' }
  /** IPv6 will not run on this session (the client rejected IPV6CP): its prefixes go back. */
  | { readonly type: 'ipv6-released' }
  /** A delegated prefix was bound (route it via the interface) / released (remove the route). */
  | { readonly type: 'route6'; readonly op: 'add' | 'del'; readonly prefix: string }
  /** An IPv4 or IPv6 packet for the host (the TUN takes both). */
  | { readonly type: 'ip'; readonly packet: Buffer }
  | { readonly type: 'ended'; readonly cause: string; readonly reason: string }
  | { readonly type: 'log'; readonly level: 'debug' | 'info' | 'warn'; readonly event: string; readonly fields?: Record<string, string | number> };

type Phase = 'http' | 'sstp' | 'closed';

export class Session {
  private phase: Phase = 'http';
  private readonly http = new HttpRequestReader();
  private sstp: SstpServer | undefined;
  private readonly ppp: PppLink;
  private readonly pump: CallPump<PppEvent>;
  private readonly out: SessionAction[] = [];
  private readonly httpDeadline: Millis;
  private ipUp = false;
  private ipv6Up = false;
  private prefix: Prefix6 | undefined;
  private delegation: PrefixSource | undefined;
  private v6: Ipv6Services | undefined;
  private mtu = 0;
  private endedEmitted = false;
  private closeEmitted = false;
  private endCause: { cause: string; reason: string } | undefined;
  /** What the client may send from (BCP 38); the PPP link's data gate asks it for every packet. */
  private readonly sources = new SourceFilter();
  username: string | undefined;

  constructor(
    private readonly policy: SessionPolicy,
    private readonly random: (n: number) => Buffer,
    now: Millis,
    /** Wall-clock time for the HTTP Date header (cores never read a clock themselves). */
    private readonly wallClock: () => Date,
  ) {
    this.httpDeadline = now + policy.negotiationTimeoutMs;
    this.ppp = new PppLink({
      mru: policy.mru,
      ...(policy.maxPeerMru !== undefined ? { maxPeerMru: policy.maxPeerMru } : {}),
      ...(policy.minPeerMru !== undefined ? { minPeerMru: policy.minPeerMru } : {}),
      authProtocols: policy.authProtocols,
      ...(policy.noauth ? { noauth: true } : {}),
      makeAuthenticator: (m) => createAuthenticator(m, { random, serverName: policy.serverName }),
      echo: policy.echo,
      dns: policy.dns,
      ...(policy.wins ? { wins: policy.wins } : {}),
      random,
      ipv6: policy.ipv6 !== undefined,
      mppe: policy.mppe ?? 'deny',
      ...(policy.ncp ? { ncp: policy.ncp } : {}),
      ...(policy.interfaceId ? { interfaceId: policy.interfaceId } : {}),
      ...(policy.acceptPeerInterfaceId ? { acceptPeerInterfaceId: true } : {}),
      awaitLowerVerification: true,
    });
    this.ppp.gate.sources = this.sources;
    this.pump = new CallPump(this.ppp, {
      send: (bytes) => this.out.push({ type: 'send', bytes }),
      log: (ev) => this.log(ev.level, ev.event, ev.fields),
      linkEvent: (t, ev) => this.onPpp(t, ev),
      callClosed: (_t, code, reason) => {
        if (this.phase !== 'closed') this.finish(this.endCause?.cause ?? 'port-error', this.endCause?.reason ?? `${code}: ${reason}`);
      },
      drainOthers: () => this.drainV6(),
    });
  }

  /** The authentication method LCP negotiated, once it did. */
  get authMethod(): string | undefined {
    return this.ppp.authMethod;
  }

  /** Data packets dropped by the data gate, by reason. */
  get drops(): Readonly<DropCounters> {
    return this.ppp.gate.drops;
  }

  get closed(): boolean {
    return this.phase === 'closed';
  }

  /** Bytes from the TLS stream. */
  receive(now: Millis, chunk: Buffer): void {
    if (this.phase === 'http') this.receiveHttp(now, chunk);
    else if (this.phase === 'sstp') this.sstp!.receive(now, chunk);
    this.pump.run(now);
  }

  private receiveHttp(now: Millis, chunk: Buffer): void {
    const r = this.http.feed(chunk);
    if (r.kind === 'need-more') return;
    if (r.kind === 'error') return this.httpFail(r.status, r.reason);
    const ok = checkSstpRequest(r.request, this.policy.hostName);
    if (!ok.ok) return this.httpFail(ok.status, ok.reason);
    this.out.push({ type: 'send', bytes: http200(this.wallClock()) });
    this.log('debug', 'http-request', { uri: r.request.uri });
    this.phase = 'sstp';
    this.sstp = new SstpServer(
      {
        certHashes: this.policy.certHashes,
        hashBitmask: 3,
        random: this.random,
        negotiationTimeoutMs: Math.max(1, this.httpDeadline - now),
        helloIntervalMs: this.policy.helloIntervalMs,
      },
      now,
    );
    this.pump.attach(this.sstp);
    if (r.rest.length > 0) this.sstp.receive(now, r.rest);
  }

  /**
   * Data fast lane: while forwarding, clear IPv4 from the client that the data gate admits goes
   * straight to `sink` (a view, valid during the call) instead of becoming an 'ip' action: no
   * objects per packet. Set before the first bytes arrive; other frames take the action path.
   */
  setIpSink(sink: (packet: Buffer) => void): void {
    this.pump.setIpSink(sink);
  }

  private httpFail(status: number, reason: string): void {
    this.log('info', 'http-rejected', { status, reason });
    this.out.push({ type: 'send', bytes: httpError(status) });
    this.finish('http-error', `HTTP ${status}: ${reason}`);
  }

  /** The backend's answer to an 'authenticate' action. */
  authResult(now: Millis, result: AuthResult): void {
    if (this.phase !== 'sstp') return;
    this.ppp.authResult(now, result);
    this.pump.run(now);
  }

  /** The driver leased what this session gets (IPv4 address, IPv6 prefix) after 'authenticated'. */
  networkAssigned(now: Millis, a: SessionAddresses): void {
    if (this.phase !== 'sstp') return;
    this.prefix = a.ipv6Prefix;
    this.delegation = a.delegation;
    this.sources.setIpv4(a.ipv4);
    this.sources.setIpv4Routes(a.routes ?? []);
    if (a.ipv6Prefix) this.sources.addIpv6Prefix(a.ipv6Prefix);
    const ipv4 = a.ipv4 !== undefined ? { local: this.policy.gateway, peer: a.ipv4 } : undefined;
    const ipv6 = a.ipv6Prefix !== undefined && a.ipv6PeerId !== null;
    this.ppp.startNetwork(now, { ...(ipv4 ? { ipv4 } : {}), ipv6, ...(a.ipv6PeerId ? { ipv6PeerId: a.ipv6PeerId } : {}), ...(a.dns ? { dns: a.dns } : {}) });
    this.pump.run(now);
  }

  /**
   * Holds every data packet back, both ways (the driver, while the session's pre-up hooks run), or
   * lets them move again. Control traffic (LCP, NCPs, SSTP) is not affected.
   */
  holdData(held: boolean): void {
    this.ppp.gate.held = held;
  }

  /** The prefix delegated by DHCPv6 and bound, if any. */
  get delegatedPrefix(): Prefix6 | undefined {
    return this.v6?.delegatedPrefix;
  }

  /**
   * The data fast lane, host → client: `frame` is one packet from the TUN with 8 bytes of headroom
   * in front. Returns the SSTP packet to write (a copy: the TUN slab is reused), or undefined when
   * the data gate does not let it go (its NCP is not open, no verified binding, MPPE required but
   * not up, too large) or the call is gone.
   */
  encodeOutbound(frame: Buffer): Buffer | undefined {
    const out = this.pump.frameOut(frame);
    return out === frame ? Buffer.from(frame) : out;
  }

  /**
   * `encodeOutbound` for a whole TUN batch: the SSTP packets to write are appended to `out` (copies,
   * back-to-back packets sharing one buffer, the last packet alone); the counts are what went.
   * `reuse`: the buffer of an earlier batch that nothing references any more (see data-path.ts).
   */
  encodeOutboundBatch(batch: SlabPackets, out: Buffer[], reuse?: Buffer): FramedCount {
    return this.pump.frameBatchOut(batch, out, reuse);
  }

  /** Operator or policy ends the session: PPP Terminate, then SSTP Call Disconnect. */
  terminate(now: Millis, cause: PppTerminateCause, reason: string): void {
    if (this.phase === 'closed') return;
    this.endCause ??= { cause, reason };
    if (this.phase === 'http' || !this.sstp) {
      this.finish(cause, reason);
    } else {
      this.ppp.close(now, cause, reason);
    }
    this.pump.run(now);
  }

  /** TLS/TCP closed under us. */
  transportClosed(now: Millis): void {
    if (this.phase === 'closed') return;
    if (this.phase === 'sstp') this.ppp.lowerDown(now);
    this.pump.run(now);
    this.finish(this.endCause?.cause ?? 'lost-carrier', this.endCause?.reason ?? 'connection closed by peer');
  }

  nextDeadline(): Millis | undefined {
    if (this.phase === 'closed') return undefined;
    if (this.phase === 'http') return this.httpDeadline;
    return minDeadline(this.sstp?.nextDeadline(), this.ppp.nextDeadline(), this.ipv6Up ? this.v6?.nextDeadline() : undefined);
  }

  handleTimeout(now: Millis): void {
    if (this.phase === 'http') {
      if (now >= this.httpDeadline) {
        this.log('info', 'http-timeout');
        this.finish('nas-error', 'no SSTP request before the negotiation timeout');
      }
      return;
    }
    if (this.phase !== 'sstp') return;
    this.sstp!.handleTimeout(now);
    this.ppp.handleTimeout(now);
    if (this.ipv6Up) this.v6?.handleTimeout(now);
    this.pump.run(now);
  }

  poll(): SessionAction[] {
    // Drops are logged once per reason per session: the first one says what happened, the counters the rest.
    for (const d of this.ppp.gate.takeFirstDrops()) this.log('warn', 'data-dropped', d.source !== undefined ? { reason: d.reason, source: d.source } : { reason: d.reason });
    return this.out.splice(0, this.out.length);
  }

  /** The PPP events beyond the shared wiring (pump.ts). */
  private onPpp(now: Millis, ev: PppEvent): void {
    switch (ev.type) {
      case 'verify':
        this.username = ev.request.username;
        this.out.push({ type: 'authenticate', request: ev.request });
        return;
      case 'authenticated':
        this.username = ev.result.username;
        this.sstp?.setHlaks(now, ev.result.hlaks);
        this.out.push({ type: 'authenticated', result: ev.result });
        return;
      case 'auth-failed':
        this.out.push({ type: 'auth-failed', username: ev.username, reason: ev.reason });
        this.endCause ??= { cause: 'auth-failed', reason: ev.reason };
        return;
      case 'ipcp-up':
        this.ipUp = true;
        // PAP/CHAP-MD5 carry no keys; sstpc never sends Call Connected after CHAP-MD5 (see SstpServer).
        if (this.sstp && !this.sstp.connected) this.sstp.waiveZeroKeyBinding(now);
        this.out.push({ type: 'link-up', local: ev.local, peer: ev.peer, mtu: this.linkMtu(ev.peerMru) });
        return;
      case 'ipcp-down':
        this.ipUp = false;
        this.networkDown();
        return;
      case 'ipv6cp-up':
        return this.ipv6cpUp(now, ev.localIid, ev.peerIid, ev.peerMru);
      case 'ipv6cp-down':
        this.ipv6Up = false;
        this.networkDown();
        return;
      case 'ipv6-stopped':
        this.v6?.close();
        this.v6 = undefined;
        if (this.prefix) this.sources.removeIpv6Prefix(this.prefix);
        this.prefix = undefined;
        this.out.push({ type: 'ipv6-released' });
        return;
      case 'data':
        // The link's data gate already admitted it; IPv6 first passes our RS/DHCPv6 services.
        if (ev.protocol === PPP_IPV4 || (ev.protocol === PPP_IPV6 && !this.v6?.intercept(now, ev.payload))) {
          this.out.push({ type: 'ip', packet: ev.payload });
        }
        return;
      case 'finished':
        this.endCause ??= { cause: ev.cause, reason: ev.reason };
        this.allDown();
        // The pump disconnects an open call (the close then ends the session); without one we end here.
        if (!this.pump.open) this.finish(this.endCause.cause, this.endCause.reason);
        return;
    }
  }

  /** The interface MTU: the peer's MRU (less MPPE's 4 bytes when MPPE may run), at most ours. */
  private linkMtu(peerMru: number): number {
    this.mtu = Math.min(peerMru - this.ppp.mppeOverhead, this.policy.mru);
    return this.mtu;
  }

  private ipv6cpUp(now: Millis, localIid: Buffer, peerIid: Buffer | undefined, peerMru: number): void {
    const prefix = this.prefix;
    const policy = this.policy.ipv6;
    if (!prefix || !policy) return; // cannot happen: IPV6CP runs only with a prefix
    this.ipv6Up = true;
    if (this.sstp && !this.sstp.connected) this.sstp.waiveZeroKeyBinding(now);
    const mtu = this.linkMtu(peerMru);
    const local = linkLocal(localIid);
    this.sources.setIpv6LinkLocal(peerIid ? linkLocal(peerIid) : undefined);
    this.v6?.close();
    this.v6 = new Ipv6Services(
      {
        linkLocal: parseAddress6(local)!,
        prefix,
        mtu,
        dns: policy.dns.map((d) => parseAddress6(d)).filter((d): d is Buffer => d !== undefined),
        serverDuid: policy.serverDuid,
        ...(this.delegation ? { delegation: this.delegation } : {}),
        random: this.random,
      },
      now,
    );
    this.out.push({ type: 'ipv6-up', local, peer: peerIid ? linkLocal(peerIid) : undefined, prefix: formatPrefix6(prefix), mtu });
  }

  private drainV6(): boolean {
    const events = this.v6?.poll() ?? [];
    for (const ev of events) this.onV6(ev);
    return events.length > 0;
  }

  private onV6(ev: ReturnType<Ipv6Services['poll']>[number]): void {
    switch (ev.type) {
      case 'packet': {
        const bytes = this.pump.frameOutCopy(ev.packet);
        if (bytes) this.out.push({ type: 'send', bytes });
        return;
      }
      case 'pd-bound':
        this.sources.addIpv6Prefix(ev.prefix);
        this.out.push({ type: 'route6', op: 'add', prefix: formatPrefix6(ev.prefix) });
        return;
      case 'pd-released':
        this.sources.removeIpv6Prefix(ev.prefix);
        this.out.push({ type: 'route6', op: 'del', prefix: formatPrefix6(ev.prefix) });
        return;
      case 'log':
        this.out.push({ type: 'log', level: ev.level, event: ev.event, fields: ev.fields });
        return;
    }
  }

  /** One network protocol went down: the interface goes when none is left. */
  private networkDown(): void {
    if (!this.ipUp && !this.ipv6Up && this.mtu > 0) {
      this.mtu = 0;
      this.out.push({ type: 'link-down' });
    }
  }

  private allDown(): void {
    this.ipUp = false;
    this.ipv6Up = false;
    this.networkDown();
  }

  private finish(cause: string, reason: string): void {
    this.allDown();
    this.v6?.close();
    this.phase = 'closed';
    if (!this.closeEmitted) {
      this.closeEmitted = true;
      this.out.push({ type: 'close', reason });
    }
    if (!this.endedEmitted) {
      this.endedEmitted = true;
      this.out.push({ type: 'ended', cause, reason });
    }
  }

  private log(level: 'debug' | 'info' | 'warn', event: string, fields?: Record<string, string | number>): void {
    this.out.push(fields ? { type: 'log', level, event, fields } : { type: 'log', level, event });
  }
}
