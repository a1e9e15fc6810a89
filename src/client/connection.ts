/**
 * The client side of one SSTP connection as a sans-I/O core: HTTP request, SSTP client, PPP client
 * link and the auth peer, composed the same way the server's Session composes its layers. Used by
 * the `sstp-connect` CLI, the load generator and the test suite's loopback client. The SSTP↔PPP
 * wiring is the server's too (session/pump.ts); what only the client adds: the HTTP request, Call
 * Connected once PPP authenticated (over a zero HLAK when the server ran no authentication), and
 * how far the connection got (`stage`).
 *
 * Control traffic comes out of `poll()` as actions. IPv4 data has a fast lane both ways: received
 * packets go straight to `onIp` (a view, valid during the call), and `frameBatch()` frames TUN
 * batches (headers in the headroom in front of each packet) into one buffer. Both ask the PPP
 * link's data gate, as the server does.
 */
import type { AuthProtocol } from '../config/model.js';
import { minDeadline, type Millis } from '../common/time.js';
import { SstpClient } from '../sstp/client.js';
import { PppClientLink, type PppClientEvent } from '../ppp/link/client-link.js';
import { AuthPeer } from '../ppp/auth/peer.js';
import type { EchoPolicy } from '../ppp/lcp/lcp.js';
import { DATA_HEADROOM, MAX_IP_PACKET, type FramedCount, type SlabPackets } from '../session/data-path.js';
import { CallPump } from '../session/pump.js';
import type { ClientStage } from './errors.js';

export interface ClientConnectionOptions {
  /** The Host header (and the name in logs). */
  readonly host: string;
  readonly username: string;
  readonly password: string;
  /** Methods we accept, preferred first (the one we Nak with). */
  readonly authMethods: readonly AuthProtocol[];
  /** DER of the server certificate the TLS layer saw (crypto binding hashes it). */
  readonly serverCertDer: Buffer;
  readonly random: (n: number) => Buffer;
  readonly requestDns?: boolean;
  /** LCP keepalive we send (pppd lcp-echo-interval/-failure); absent = answer only. */
  readonly lcpEcho?: EchoPolicy;
  /** SSTP: HTTP wait, Connect Ack wait, until Call Connected; default 60 s each. */
  readonly negotiationTimeoutMs?: number;
  /** Send Call Connected with a corrupted MAC (tests of the server's binding check). */
  readonly corruptBinding?: boolean;
  /** Run IPV6CP too. */
  readonly ipv6?: boolean;
  /** Require MPPE with these CCP bits (e.g. 128-bit stateless, as pppd's require-mppe-128). */
  readonly mppe?: { readonly bits: number };
  /** IPv4 packets from the tunnel (fast lane). Without it they come out of poll() as 'ip' actions. */
  readonly onIp?: (packet: Buffer) => void;
}

export interface UpInfo {
  readonly ipv4: string;
  readonly peer: string;
  readonly dns: readonly string[];
  /** The MRU the server asked for: the largest IP packet we may send. */
  readonly mtu: number;
  readonly auth: AuthProtocol | undefined;
  /** Crypto binding hash we used (sha256 / sha1), or 'none' when the server ran no authentication. */
  readonly binding: 'sha256' | 'sha1' | 'none';
}

export type ClientAction =
  | { readonly type: 'send'; readonly bytes: Buffer }
  | ({ readonly type: 'up' } & UpInfo)
  | { readonly type: 'ipv6-up'; readonly local: string; readonly peer: string | undefined }
  | { readonly type: 'mppe-up' }
  | { readonly type: 'auth-failed'; readonly message: string }
  | { readonly type: 'ip'; readonly packet: Buffer }
  | { readonly type: 'echo-reply'; readonly id: number }
  | { readonly type: 'closed'; readonly code: string; readonly reason: string; readonly stage: ClientStage }
  | { readonly type: 'log'; readonly event: string; readonly fields?: Record<string, string | number> };

/** SSTP data header + PPP `FF 03 00 21`: the 8 bytes in front of every IP packet we send. */
export const IP_FRAME_OVERHEAD = DATA_HEADROOM;
export { MAX_IP_PACKET };

export class ClientConnection {
  private readonly sstp: SstpClient;
  private readonly ppp: PppClientLink;
  private readonly pump: CallPump<PppClientEvent>;
  private readonly out: ClientAction[] = [];
  private ipUp = false;
  private ipv6Up = false;
  private done = false;
  private authFailed = false;
  private reached: ClientStage = 'http';
  private bindingHash: UpInfo['binding'] = 'none';
  private upInfo: UpInfo | undefined;

  constructor(private readonly opts: ClientConnectionOptions, now: Millis) {
    this.sstp = new SstpClient(
      { random: opts.random, ...(opts.negotiationTimeoutMs !== undefined ? { negotiationTimeoutMs: opts.negotiationTimeoutMs } : {}) },
      now,
    );
    this.ppp = new PppClientLink({
      authMethods: opts.authMethods,
      makeAuthPeer: (m) => new AuthPeer(m, { username: opts.username, password: opts.password, random: opts.random }),
      random: opts.random,
      requestDns: opts.requestDns ?? true,
      ...(opts.lcpEcho ? { echo: opts.lcpEcho } : {}),
      ...(opts.ipv6 ? { ipv6: true } : {}),
      ...(opts.mppe ? { mppe: opts.mppe } : {}),
      awaitLowerVerification: true,
    });
    this.pump = new CallPump(this.ppp, {
      send: (bytes) => this.out.push({ type: 'send', bytes }),
      log: (ev) => this.out.push(ev.fields ? { type: 'log', event: ev.event, fields: ev.fields } : { type: 'log', event: ev.event }),
      linkEvent: (t, ev) => this.onPpp(t, ev),
      callClosed: (_t, code, reason) => this.finish(code, reason),
      settled: () => this.track(),
    });
    this.pump.attach(this.sstp);
    if (opts.onIp) this.pump.setIpSink(opts.onIp);
  }

  start(now: Millis): void {
    this.out.push({ type: 'send', bytes: this.sstp.httpRequest(now, this.opts.host) });
  }

  receive(now: Millis, chunk: Buffer): void {
    this.sstp.receive(now, chunk);
    this.pump.run(now);
  }

  /** IPCP is open and the crypto binding was sent: IPv4 may flow. */
  get up(): boolean {
    return (this.ipUp || this.ipv6Up) && this.sstp.connected;
  }

  get info(): UpInfo | undefined {
    return this.upInfo;
  }

  /** How far the connection got (for error messages and exit codes). */
  get stage(): ClientStage {
    return this.reached;
  }

  /**
   * An IPv4/IPv6 packet to send through the tunnel: the SSTP bytes (a new buffer), or undefined while
   * the data gate holds it (its NCP not open, Call Connected not sent, MPPE not up, too large).
   */
  encodeIp(packet: Buffer): Buffer | undefined {
    return this.pump.frameOutCopy(packet);
  }

  /**
   * A TUN batch (packets with 8 bytes of headroom) framed into `out`, in one buffer (or `reuse`);
   * packets the data gate holds are left out. See session/data-path.ts.
   */
  frameBatch(batch: SlabPackets, out: Buffer[], reuse?: Buffer): FramedCount {
    return this.pump.frameBatchOut(batch, out, reuse);
  }

  /** One LCP Echo-Request for an RTT sample; the reply comes out as 'echo-reply' with this id. */
  probe(now: Millis): number | undefined {
    const id = this.ppp.probe();
    this.pump.run(now);
    return id;
  }

  /** Test hook into the PPP client (MPPE loss tests). */
  get pppLink(): PppClientLink {
    return this.ppp;
  }

  /** Clean goodbye: LCP Terminate, then SSTP Call Disconnect. */
  close(now: Millis): void {
    this.ppp.close(now, 'user request');
    this.pump.run(now);
  }

  /** TLS/TCP closed under us: reported as such, whatever the layers above make of it. */
  transportClosed(now: Millis): void {
    this.finish('E_TRANSPORT', 'the server closed the connection');
    this.ppp.lowerDown(now);
    this.pump.run(now);
  }

  nextDeadline(): Millis | undefined {
    return this.done ? undefined : minDeadline(this.sstp.nextDeadline(), this.ppp.nextDeadline());
  }

  handleTimeout(now: Millis): void {
    this.sstp.handleTimeout(now);
    this.ppp.handleTimeout(now);
    this.pump.run(now);
  }

  poll(): ClientAction[] {
    return this.out.splice(0, this.out.length);
  }

  /** Remembers the furthest stage reached; a failure is reported against it. */
  private track(): void {
    if (this.done || this.reached === 'up') return;
    const st = this.sstp.state;
    if (st === 'Client_Http_Response_Pending') return;
    if (st === 'Client_Connect_Request_Sent') this.reached = 'sstp';
    const ph = this.ppp.phase;
    if (ph === 'establish' && this.reached !== 'auth' && this.reached !== 'ipcp') this.reached = 'lcp';
    else if (ph === 'authenticate') this.reached = 'auth';
    else if (ph === 'network') this.reached = 'ipcp';
  }

  /** The PPP events beyond the shared wiring (session/pump.ts). */
  private onPpp(now: Millis, ev: PppClientEvent): void {
    switch (ev.type) {
      case 'authenticated': {
        this.reached = 'ipcp';
        const hlak = this.opts.corruptBinding ? Buffer.alloc(32, 0x5a) : ev.hlak;
        const hp = this.sstp.sendCallConnected(now, hlak, this.opts.serverCertDer);
        if (hp !== undefined) this.bindingHash = hp === 2 ? 'sha256' : 'sha1';
        return;
      }
      case 'auth-failed':
        this.authFailed = true;
        this.out.push({ type: 'auth-failed', message: ev.message });
        return;
      case 'ipcp-up':
        this.ipUp = true;
        this.reached = 'up';
        if (!this.sstp.connected && this.sstp.state === 'Client_Connect_Ack_Received') {
          // The server ran no authentication: no keys, so the binding is over a zero HLAK.
          this.sstp.sendCallConnected(now, Buffer.alloc(32), this.opts.serverCertDer);
        }
        this.upInfo = {
          ipv4: ev.local,
          peer: ev.peer,
          dns: ev.dns,
          mtu: this.ppp.peerMru,
          auth: this.ppp.authMethod,
          binding: this.bindingHash,
        };
        this.out.push({ type: 'up', ...this.upInfo });
        return;
      case 'ipcp-down':
        this.ipUp = false;
        return;
      case 'ipv6cp-up':
        this.ipv6Up = true;
        this.out.push({ type: 'ipv6-up', local: ev.local, peer: ev.peer });
        return;
      case 'mppe-up':
        this.out.push({ type: 'mppe-up' });
        return;
      case 'data':
        if (ev.protocol === 0x0021 || ev.protocol === 0x0057) {
          if (this.opts.onIp) this.opts.onIp(ev.payload);
          else this.out.push({ type: 'ip', packet: ev.payload });
        }
        return;
      case 'echo-reply':
        this.out.push({ type: 'echo-reply', id: ev.id });
        return;
      case 'finished':
        // The pump then sends Call Disconnect.
        this.ipUp = false;
        this.ipv6Up = false;
        return;
    }
  }

  private finish(code: string, reason: string): void {
    if (this.done) return;
    this.done = true;
    this.ipUp = false;
    const stage: ClientStage = this.authFailed ? 'auth' : this.reached;
    this.out.push({ type: 'closed', code, reason, stage });
  }
}
