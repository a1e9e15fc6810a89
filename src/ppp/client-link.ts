/**
 * PppClientLink: the peer (authenticatee) side of a PPP link, for our own test client and the
 * sstp-connect CLI. Same automaton as the server; LCP asks only for a magic number (and an MRU if
 * given), accepts the server's auth method when allowed (else Naks with our preferred one), runs
 * the auth peer, then IPCP asking for 0.0.0.0 and DNS. It answers echoes; with `echo` it also
 * sends them (pppd's lcp-echo-interval / lcp-echo-failure) and drops a link that stops answering.
 * Optionally IPV6CP (`ipv6`) and MPPE like pppd's `require-mppe-128` (`mppe`): CCP first, the other
 * NCPs once it is up (pppd waits the same way), data encrypted both ways.
 */
import { DecodeError, SstpdError } from '../common/errors.js';
import { minDeadline, type Millis } from '../common/time.js';
import type { AuthProtocol } from '../config/model.js';
import { AuthPeer } from './auth/peer.js';
import { encodeFrame, parseFrame } from './frame.js';
import type { FinishReason } from './fsm.js';
import { clientIpcpOptions, Ipcp, type ClientIpcpTable } from './ipcp/ipcp.js';
import { ClientAuthOption } from './lcp/auth-proto.js';
import { Lcp, type EchoPolicy } from './lcp/lcp.js';
import { MagicOption } from './lcp/magic.js';
import { MAX_SSTP_MRU, MruOption } from './lcp/mru.js';
import { REJECTED_LCP_OPTIONS } from './lcp/reject.js';
import { clientIpv6cp, type Ipv6cp } from './ipv6cp/ipv6cp.js';
import { linkLocal, type ClientIidOption } from './ipv6cp/iid.js';
import { Ccp } from './ccp/ccp.js';
import { ClientMppeOption } from './ccp/mppe-option.js';
import { MPPE_OVERHEAD, MppeDecryptor, MppeEncryptor } from './ccp/mppe-cipher.js';
import { DataGate } from './data-gate.js';
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
} from './protocols.js';

/** Events of the client auth peer (the shape of `AuthPeer` in src/ppp/auth/peer.ts). */
export type ClientAuthEvent =
  | { readonly type: 'send'; readonly packet: Buffer }
  | { readonly type: 'success'; readonly hlak: Buffer; readonly mppeKeys?: { readonly send: Buffer; readonly recv: Buffer } }
  | { readonly type: 'failure'; readonly message: string };

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
  /** Credentials for the default auth peer (`AuthPeer`). */
  readonly credentials?: { readonly username: string; readonly password: string };
  /** Replaces the default `AuthPeer` (tests, scripted peers). One of this or `credentials` is required. */
  readonly makeAuthPeer?: (method: AuthProtocol) => ClientAuthPeer;
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

export type PppClientPhase = 'dead' | 'establish' | 'authenticate' | 'network' | 'terminate';

export type PppClientEvent =
  | { readonly type: 'send'; readonly frame: Buffer }
  | { readonly type: 'authenticated'; readonly hlak: Buffer }
  | { readonly type: 'auth-failed'; readonly message: string }
  | { readonly type: 'ipcp-up'; readonly local: string; readonly peer: string; readonly dns: readonly string[] }
  | { readonly type: 'ipcp-down' }
  | { readonly type: 'ipv6cp-up'; readonly local: string; readonly peer: string | undefined }
  | { readonly type: 'mppe-up' }
  | { readonly type: 'data'; readonly protocol: number; readonly payload: Buffer }
  | { readonly type: 'finished'; readonly reason: string }
  /** The peer answered an Echo-Request (ours from `probe()` or the keepalive). */
  | { readonly type: 'echo-reply'; readonly id: number }
  | { readonly type: 'log'; readonly level: LogLevel; readonly event: string; readonly fields?: LogFields };

export class PppClientLink {
  private readonly out: PppClientEvent[] = [];
  private readonly lcp: Lcp;
  private readonly ipcp: Ipcp;
  private readonly authOption: ClientAuthOption;
  private readonly ipcpTable: ClientIpcpTable;
  private readonly ipv6cp: Ipv6cp<ClientIidOption> | undefined;
  private readonly ccp: Ccp<ClientMppeOption> | undefined;
  private mppeKeys: { readonly send: Buffer; readonly recv: Buffer } | undefined;
  /** Whether data may pass (the same gate the server's link uses); the connection's fast lanes ask it too. */
  readonly gate: DataGate;
  private ph: PppClientPhase = 'dead';
  private peer: ClientAuthPeer | undefined;
  private peerProtocol = 0;
  private authenticated = false;
  private ending: string | undefined;
  private done = false;
  private readonly makeAuthPeer: (method: AuthProtocol) => ClientAuthPeer;

  constructor(opts: PppClientOptions) {
    const creds = opts.credentials;
    if (opts.makeAuthPeer) this.makeAuthPeer = opts.makeAuthPeer;
    else if (creds) this.makeAuthPeer = (m) => new AuthPeer(m, { ...creds, random: opts.random });
    else throw new SstpdError('E_PPP_CONFIG', 'PPP client needs credentials or an auth peer factory');
    const fsm = { restartMs: opts.restartMs ?? 3000, maxConfigure: opts.maxConfigure ?? 10 };
    this.gate = new DataGate({ mppeRequired: opts.mppe !== undefined, awaitLowerVerification: opts.awaitLowerVerification ?? false });
    const mru = new MruOption({ min: 64, max: MAX_SSTP_MRU, ...(opts.mru !== undefined ? { request: opts.mru } : {}) });
    const magic = new MagicOption(opts.random);
    this.authOption = new ClientAuthOption(opts.authMethods);
    const log = this.log.bind(this);
    this.lcp = new Lcp(
      { handlers: [mru, this.authOption, magic, ...REJECTED_LCP_OPTIONS], mru, magic, fsm, ...(opts.echo ? { echo: opts.echo } : {}) },
      {
        send: (p) => this.send(PPP_LCP, p),
        up: (now) => this.lcpUp(now),
        down: (now) => this.lcpDown(now),
        finished: (_now, why) => this.finish(this.ending ?? `LCP finished (${why})`),
        peerTerminated: (now) => this.abort(now, 'peer terminated the link'),
        failed: (now, _cause, reason) => this.close(now, reason),
        protocolRejected: (now, protocol) => {
          if (protocol === PPP_IPCP && this.ipv6cp) this.ipcp.stop(now); // IPv6-only link
          else if (protocol === PPP_IPCP) this.close(now, 'server rejected IPCP');
          else if (protocol === PPP_CCP && this.ccp) this.close(now, 'MPPE required but the server rejected CCP');
          else if (protocol === PPP_IPV6CP) this.ipv6cp?.stop(now);
        },
        echoReplied: (_now, id) => this.out.push({ type: 'echo-reply', id }),
        log,
      },
    );
    this.ipcpTable = clientIpcpOptions(opts.requestDns ?? true);
    this.ipcp = new Ipcp(
      this.ipcpTable.handlers,
      {
        send: (p) => this.send(PPP_IPCP, p),
        up: () => this.ipcpUp(),
        down: () => this.ipcpDown(),
        finished: (now, why: FinishReason) => this.close(now, `IPCP finished (${why})`),
        failed: (now, reason) => this.close(now, reason),
        log,
      },
      { ...fsm, peerMru: () => this.lcp.peerMru },
    );
    const ncpFsm = { ...fsm, peerMru: () => this.lcp.peerMru };
    if (opts.ipv6) {
      this.ipv6cp = clientIpv6cp(
        opts.random,
        {
          send: (p) => this.send(PPP_IPV6CP, p),
          up: () => this.ipv6cpUp(),
          down: () => this.ipv6cpDown(),
          finished: () => this.ipv6cpDown(),
          failed: (now, reason) => this.close(now, reason),
          log,
        },
        ncpFsm,
      );
    }
    if (opts.mppe) {
      this.ccp = new Ccp(
        new ClientMppeOption(opts.mppe.bits),
        {
          send: (p) => this.send(PPP_CCP, p),
          up: (now) => this.ccpUp(now),
          down: () => this.mppeOff(),
          finished: (now, why) => this.close(now, `MPPE required but CCP finished (${why})`),
          failed: (now, reason) => this.close(now, `MPPE required but ${reason}`),
          resetRequested: () => this.gate.encryptor?.resetRequested(),
          log,
        },
        ncpFsm,
      );
    }
  }

  get phase(): PppClientPhase {
    return this.ph;
  }
  get peerMru(): number {
    return this.lcp.peerMru;
  }
  /** The method the server asked for (once LCP is Opened); undefined = no authentication. */
  get authMethod(): AuthProtocol | undefined {
    return this.authOption.method;
  }

  lowerUp(now: Millis): void {
    if (this.done || this.ph !== 'dead') return;
    this.ph = 'establish';
    this.lcp.fsm.open(now);
    this.lcp.fsm.up(now);
  }

  receive(now: Millis, frame: Buffer): void {
    if (this.done || this.ph === 'dead') return;
    this.lcp.activity(now);
    try {
      const { protocol, info } = parseFrame(frame);
      this.dispatch(now, protocol, info);
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      this.log('debug', 'ppp-malformed', { error: e.message });
    }
  }

  /** IPCP is Opened: IPv4 may flow. */
  get ipOpen(): boolean {
    return this.gate.ipv4Open;
  }

  /** Sends one LCP Echo-Request (RTT probe); its Identifier, or undefined when LCP is not Opened. */
  probe(): number | undefined {
    return this.done ? undefined : this.lcp.probe();
  }

  /**
   * An IPv4 or IPv6 packet as a PPP frame (MPPE-encrypted when on), or undefined while the data gate
   * holds it. PPP-level callers (tests) only: the connection frames data through session/data-path.ts.
   */
  encodeIp(packet: Buffer): Buffer | undefined {
    const protocol = this.gate.protocolOut(packet.length > 0 ? packet[0]! >> 4 : 0);
    if (protocol === 0) return undefined;
    const enc = this.gate.encryptor;
    return enc ? encodeFrame(PPP_MPPE, enc.encrypt(protocol, packet)) : encodeFrame(protocol, packet);
  }

  /** Bytes MPPE adds to each data packet while it is on. */
  get mppeOverhead(): number {
    return this.gate.encryptor ? MPPE_OVERHEAD : 0;
  }

  /** Test hook: the receive cipher (to drop or corrupt frames in loss tests). */
  get mppeRx(): MppeDecryptor | undefined {
    return this.gate.decryptor;
  }

  close(now: Millis, reason: string): void {
    if (this.done || this.ending !== undefined) return;
    this.ending = reason;
    this.ph = 'terminate';
    this.lcp.fsm.close(now);
    const s = this.lcp.fsm.state;
    if (s !== 'closing' && s !== 'stopping') this.finish(reason);
  }

  lowerDown(now: Millis, reason = 'transport closed'): void {
    this.abort(now, this.ending ?? reason);
  }

  handleTimeout(now: Millis): void {
    if (this.done) return;
    this.lcp.handleTimeout(now);
    if (!this.done) this.ipcp.fsm.handleTimeout(now);
    if (!this.done) this.ipv6cp?.fsm.handleTimeout(now);
    if (!this.done) this.ccp?.handleTimeout(now);
  }

  nextDeadline(): Millis | undefined {
    if (this.done) return undefined;
    return minDeadline(this.lcp.nextDeadline(), this.ipcp.fsm.nextDeadline(), this.ipv6cp?.fsm.nextDeadline(), this.ccp?.nextDeadline());
  }

  poll(): PppClientEvent[] {
    return this.out.splice(0, this.out.length);
  }

  private dispatch(now: Millis, protocol: number, info: Buffer): void {
    if (protocol === PPP_LCP) return this.lcp.receive(now, info);
    if (!this.lcp.opened || this.ph === 'terminate') return;
    if (this.peer && protocol === this.peerProtocol) return this.authEvents(now, this.peer.handle(info));
    if (this.ph !== 'network') return;
    switch (protocol) {
      case PPP_IPCP:
        return this.ipcp.receive(now, info);
      case PPP_IPV6CP:
        return this.ipv6cp ? this.ipv6cp.receive(now, info) : this.lcp.protocolReject(protocol, info);
      case PPP_CCP:
        return this.ccp ? this.ccp.receive(now, info) : this.lcp.protocolReject(protocol, info);
      case PPP_MPPE: {
        const r = this.gate.decryptor?.decrypt(info);
        if (!r) return void this.gate.drop('mppe');
        if (!r.ok) {
          this.gate.drop('mppe');
          if (r.resetRequest) this.ccp?.requestReset(now);
          return;
        }
        this.ccp?.resynced();
        return this.deliver(r.protocol, r.payload, true);
      }
      case PPP_IPV4:
      case PPP_IPV6:
        return this.deliver(protocol, info, false);
      case PPP_PAP:
      case PPP_CHAP:
        return;
      default:
        return this.lcp.protocolReject(protocol, info);
    }
  }

  private deliver(protocol: number, payload: Buffer, encrypted: boolean): void {
    if (this.gate.admitIn(protocol, payload, encrypted)) this.out.push({ type: 'data', protocol, payload });
  }

  private lcpUp(now: Millis): void {
    const method = this.authOption.method;
    if (method === undefined) return this.network(now); // the server did not ask us to authenticate
    this.ph = 'authenticate';
    this.authenticated = false;
    this.peer = this.makeAuthPeer(method);
    this.peerProtocol = method === 'pap' ? PPP_PAP : PPP_CHAP;
    this.authEvents(now, this.peer.start?.() ?? []);
  }

  private lcpDown(now: Millis): void {
    this.ipcp.stop(now);
    this.ipv6cp?.stop(now);
    this.ccp?.stop(now);
    this.mppeOff();
    this.peer = undefined;
    this.authenticated = false;
    if (this.ph !== 'terminate') this.ph = 'establish';
  }

  private authEvents(now: Millis, events: readonly ClientAuthEvent[]): void {
    const protocol = this.peerProtocol;
    for (const ev of events) {
      if (this.done) return;
      if (ev.type === 'send') this.send(protocol, ev.packet);
      else if (ev.type === 'success') {
        if (this.authenticated || this.ph !== 'authenticate') continue;
        this.authenticated = true;
        this.mppeKeys = ev.mppeKeys;
        this.out.push({ type: 'authenticated', hlak: ev.hlak });
        this.network(now);
      } else {
        this.out.push({ type: 'auth-failed', message: ev.message });
        this.close(now, `authentication failed: ${ev.message}`);
      }
    }
  }

  /** With MPPE required, CCP comes first and the other NCPs wait for it (as pppd does). */
  private network(now: Millis): void {
    this.ph = 'network';
    if (this.ccp) {
      if (!this.mppeKeys) return this.close(now, 'MPPE required but the authentication gave no keys');
      this.ccp.fsm.open(now);
      this.ccp.fsm.up(now);
      return;
    }
    this.startIpNcps(now);
  }

  private startIpNcps(now: Millis): void {
    this.ipcp.fsm.open(now);
    this.ipcp.fsm.up(now);
    this.ipv6cp?.fsm.open(now);
    this.ipv6cp?.fsm.up(now);
  }

  private ccpUp(now: Millis): void {
    const opt = this.ccp!.mppe;
    const keys = this.mppeKeys;
    if (!keys || !opt.rx || !opt.tx) return this.close(now, 'MPPE required but not agreed in both directions');
    const first = !this.gate.encryptor && !this.gate.decryptor && !this.ipcp.fsm.opened;
    this.gate.encryptor = new MppeEncryptor(keys.send, opt.tx);
    this.gate.decryptor = new MppeDecryptor(keys.recv, opt.rx);
    this.out.push({ type: 'mppe-up' });
    if (first && this.ipcp.fsm.state === 'initial') this.startIpNcps(now);
  }

  private ipv6cpUp(): void {
    if (!this.ipv6cp) return;
    this.gate.ipv6Open = true;
    const iid = this.ipv6cp.iid;
    this.out.push({ type: 'ipv6cp-up', local: linkLocal(iid.local), peer: iid.remote ? linkLocal(iid.remote) : undefined });
  }

  private ipv6cpDown(): void {
    this.gate.ipv6Open = false;
  }

  private mppeOff(): void {
    this.gate.encryptor = undefined;
    this.gate.decryptor = undefined;
  }

  private ipcpUp(): void {
    this.gate.ipv4Open = true;
    const dns = this.ipcpTable.dns.map((d) => d.address).filter((a): a is string => a !== undefined);
    this.out.push({ type: 'ipcp-up', local: this.ipcpTable.address.local, peer: this.ipcpTable.address.peer, dns });
  }

  private ipcpDown(): void {
    if (!this.gate.ipv4Open) return;
    this.gate.ipv4Open = false;
    this.out.push({ type: 'ipcp-down' });
  }

  private abort(now: Millis, reason: string): void {
    if (this.done) return;
    this.lcp.fsm.down(now);
    this.finish(reason);
  }

  private finish(reason: string): void {
    if (this.done) return;
    this.done = true;
    this.ipcpDown();
    this.ph = 'dead';
    this.peer = undefined;
    this.out.push({ type: 'finished', reason });
  }

  private send(protocol: number, packet: Buffer): void {
    this.out.push({ type: 'send', frame: encodeFrame(protocol, packet) });
  }

  private log(level: LogLevel, event: string, fields?: LogFields): void {
    this.out.push(fields ? { type: 'log', level, event, fields } : { type: 'log', level, event });
  }
}
