/**
 * The client side of one SSTP connection as a sans-I/O core: HTTP request, SSTP client, PPP client
 * link and the auth peer, composed the same way the server's Session composes its layers. Used by
 * the test suite's loopback client today and by the `sstp-connect` CLI and load generator later.
 */
import type { AuthProtocol } from '../config/model.js';
import { minDeadline, type Millis } from '../common/time.js';
import { SstpClient } from '../sstp/client.js';
import { PppClientLink } from '../ppp/client-link.js';
import { AuthPeer } from '../ppp/auth/peer.js';

export interface ClientConnectionOptions {
  readonly host: string;
  readonly username: string;
  readonly password: string;
  /** Methods we accept, preferred first. */
  readonly authMethods: readonly AuthProtocol[];
  /** DER of the server certificate the TLS layer saw (crypto binding hashes it). */
  readonly serverCertDer: Buffer;
  readonly random: (n: number) => Buffer;
  readonly requestDns?: boolean;
  /** Send Call Connected with a corrupted MAC (tests of the server's binding check). */
  readonly corruptBinding?: boolean;
  /** Run IPV6CP too. */
  readonly ipv6?: boolean;
  /** Require MPPE with these CCP bits (e.g. 128-bit stateless, as pppd's require-mppe-128). */
  readonly mppe?: { readonly bits: number };
}

export type ClientAction =
  | { readonly type: 'send'; readonly bytes: Buffer }
  | { readonly type: 'up'; readonly ipv4: string; readonly peer: string; readonly dns: readonly string[] }
  | { readonly type: 'ipv6-up'; readonly local: string; readonly peer: string | undefined }
  | { readonly type: 'mppe-up' }
  | { readonly type: 'auth-failed'; readonly message: string }
  | { readonly type: 'ip'; readonly packet: Buffer }
  | { readonly type: 'closed'; readonly code: string; readonly reason: string }
  | { readonly type: 'log'; readonly event: string; readonly fields?: Record<string, string | number> };

export class ClientConnection {
  private readonly sstp: SstpClient;
  private readonly ppp: PppClientLink;
  private readonly out: ClientAction[] = [];
  private ipUp = false;
  private ipv6Up = false;
  private done = false;

  constructor(private readonly opts: ClientConnectionOptions, now: Millis) {
    this.sstp = new SstpClient({ random: opts.random }, now);
    this.ppp = new PppClientLink({
      authMethods: opts.authMethods,
      makeAuthPeer: (m) => new AuthPeer(m, { username: opts.username, password: opts.password, random: opts.random }),
      random: opts.random,
      requestDns: opts.requestDns ?? true,
      ...(opts.ipv6 ? { ipv6: true } : {}),
      ...(opts.mppe ? { mppe: opts.mppe } : {}),
    });
  }

  start(now: Millis): void {
    this.out.push({ type: 'send', bytes: this.sstp.httpRequest(now, this.opts.host) });
  }

  receive(now: Millis, chunk: Buffer): void {
    this.sstp.receive(now, chunk);
    this.pump(now);
  }

  get up(): boolean {
    return (this.ipUp || this.ipv6Up) && this.sstp.connected;
  }

  /** An IPv4/IPv6 packet to send through the tunnel: the SSTP bytes, or undefined while it may not go. */
  encodeIp(packet: Buffer): Buffer | undefined {
    if (!this.sstp.connected) return undefined;
    const frame = this.ppp.encodeIp(packet);
    return frame ? this.sstp.encodeData(frame) : undefined;
  }

  /** Test hook into the PPP client (MPPE loss tests). */
  get pppLink(): PppClientLink {
    return this.ppp;
  }

  /** Clean goodbye: LCP Terminate, then SSTP Call Disconnect. */
  close(now: Millis): void {
    this.ppp.close(now, 'user request');
    this.pump(now);
  }

  transportClosed(now: Millis): void {
    this.ppp.lowerDown(now);
    this.pump(now);
    this.finish('E_TRANSPORT', 'connection closed');
  }

  nextDeadline(): Millis | undefined {
    return this.done ? undefined : minDeadline(this.sstp.nextDeadline(), this.ppp.nextDeadline());
  }

  handleTimeout(now: Millis): void {
    this.sstp.handleTimeout(now);
    this.ppp.handleTimeout(now);
    this.pump(now);
  }

  poll(): ClientAction[] {
    return this.out.splice(0, this.out.length);
  }

  private pump(now: Millis): void {
    for (let guard = 0; guard < 1000; guard++) {
      const s = this.sstp.poll();
      const p = this.ppp.poll();
      if (s.length === 0 && p.length === 0) return;
      for (const ev of s) this.onSstp(now, ev);
      for (const ev of p) this.onPpp(now, ev);
    }
    throw new Error('client: SSTP/PPP event loop did not settle');
  }

  private onSstp(now: Millis, ev: ReturnType<SstpClient['poll']>[number]): void {
    switch (ev.type) {
      case 'send':
        this.out.push({ type: 'send', bytes: ev.bytes });
        return;
      case 'connect-ack':
        this.ppp.lowerUp(now);
        return;
      case 'ppp':
        this.ppp.receive(now, ev.frame);
        return;
      case 'closed':
        this.ppp.lowerDown(now);
        this.finish(ev.code, ev.reason);
        return;
      case 'log':
        this.out.push(ev.fields ? { type: 'log', event: ev.event, fields: ev.fields } : { type: 'log', event: ev.event });
        return;
    }
  }

  private onPpp(now: Millis, ev: ReturnType<PppClientLink['poll']>[number]): void {
    switch (ev.type) {
      case 'send':
        if (!this.sstp.closed) this.out.push({ type: 'send', bytes: this.sstp.encodeData(ev.frame) });
        return;
      case 'authenticated': {
        const hlak = this.opts.corruptBinding ? Buffer.alloc(32, 0x5a) : ev.hlak;
        this.sstp.sendCallConnected(now, hlak, this.opts.serverCertDer);
        return;
      }
      case 'auth-failed':
        this.out.push({ type: 'auth-failed', message: ev.message });
        return;
      case 'ipcp-up':
        this.ipUp = true;
        this.out.push({ type: 'up', ipv4: ev.local, peer: ev.peer, dns: ev.dns });
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
        this.out.push({ type: 'ip', packet: ev.payload });
        return;
      case 'finished':
        this.ipUp = false;
        this.ipv6Up = false;
        if (!this.sstp.closed) this.sstp.disconnect(now);
        return;
      case 'log':
        this.out.push(ev.fields ? { type: 'log', event: ev.event, fields: ev.fields } : { type: 'log', event: ev.event });
        return;
    }
  }

  private finish(code: string, reason: string): void {
    if (this.done) return;
    this.done = true;
    this.out.push({ type: 'closed', code, reason });
  }
}
