/**
 * A test-side SSTP client core (sans-I/O) assembled from the production cores (SstpClient,
 * PppClientLink, AuthPeer) that binds with a chosen HLAK form instead of the one our own client
 * uses. `mppe-keys` is what sstpc does with its pppd plugin (NetworkManager-sstp runs it so): the
 * plugin hands sstpc pppd's mppe_send_key / mppe_recv_key and sstpc's client HLAK is
 * send ‖ recv. pppd sets both to the one RFC 3079 start key for MS-CHAPv1, so the HLAK is that key
 * twice; for MS-CHAPv2 it equals the MS-SSTP form. `sstpc` is plain sstpc (AuthPeer's own HLAK),
 * `zero` a client that sends a zero HLAK whatever the method.
 *
 * Used by the core test (against Session in memory) and, through binding-client-cli.ts, against
 * the real daemon over TLS.
 */
import type { Millis } from '../../src/common/time.js';
import type { AuthProtocol } from '../../src/config/model.js';
import { AuthPeer } from '../../src/ppp/auth/peer.js';
import { PppClientLink, type ClientAuthEvent, type ClientAuthPeer, type PppClientEvent } from '../../src/ppp/link/client-link.js';
import { CallPump } from '../../src/session/pump.js';
import { SstpClient } from '../../src/sstp/client.js';
import { pppDataFrame } from './ppp-fakes.js';

export type ClientHlakForm = 'sstpc' | 'mppe-keys' | 'zero';

export interface BindingClientOptions {
  readonly username: string;
  readonly password: string;
  readonly method: AuthProtocol;
  readonly hlak: ClientHlakForm;
  /** DER of the certificate the server presented (the binding hashes it). */
  readonly certDer: Buffer;
  readonly random: (n: number) => Buffer;
}

export type BindingClientEvent =
  | { readonly type: 'send'; readonly bytes: Buffer }
  | { readonly type: 'up'; readonly ipv4: string; readonly peer: string }
  | { readonly type: 'ip'; readonly packet: Buffer }
  | { readonly type: 'closed'; readonly code: string; readonly reason: string };

/** The auth peer's success event with its HLAK replaced by the chosen form. */
function withForm(ev: ClientAuthEvent, form: ClientHlakForm): ClientAuthEvent {
  if (ev.type !== 'success' || form === 'sstpc') return ev;
  if (form === 'zero') return { ...ev, hlak: Buffer.alloc(32) };
  // The plugin path: pppd's keys from the client's side, send first (sstp-client's CMAC key layout).
  return ev.mppeKeys ? { ...ev, hlak: Buffer.concat([ev.mppeKeys.send, ev.mppeKeys.recv]) } : ev;
}

export class BindingClient {
  private readonly sstp: SstpClient;
  private readonly ppp: PppClientLink;
  private readonly pump: CallPump<PppClientEvent>;
  private readonly out: BindingClientEvent[] = [];
  private done = false;

  constructor(private readonly opts: BindingClientOptions, now: Millis) {
    this.sstp = new SstpClient({ random: opts.random }, now);
    this.ppp = new PppClientLink({
      authMethods: [opts.method],
      random: opts.random,
      makeAuthPeer: (m): ClientAuthPeer => {
        const peer = new AuthPeer(m, { username: opts.username, password: opts.password, random: opts.random });
        return {
          start: () => peer.start().map((e) => withForm(e, opts.hlak)),
          handle: (packet) => peer.handle(packet).map((e) => withForm(e, opts.hlak)),
        };
      },
    });
    this.pump = new CallPump(this.ppp, {
      send: (bytes) => this.out.push({ type: 'send', bytes }),
      log: () => {},
      linkEvent: (t, ev) => this.onPpp(t, ev),
      callClosed: (_t, code, reason) => this.finish(code, reason),
    });
    this.pump.attach(this.sstp);
  }

  start(now: Millis, host: string): void {
    this.out.push({ type: 'send', bytes: this.sstp.httpRequest(now, host) });
  }

  receive(now: Millis, chunk: Buffer): void {
    this.sstp.receive(now, chunk);
    this.pump.run(now);
  }

  handleTimeout(now: Millis): void {
    this.sstp.handleTimeout(now);
    this.ppp.handleTimeout(now);
    this.pump.run(now);
  }

  nextDeadline(): Millis | undefined {
    const d = [this.sstp.nextDeadline(), this.ppp.nextDeadline()].filter((x): x is number => x !== undefined);
    return d.length > 0 ? Math.min(...d) : undefined;
  }

  /** An IPv4 packet into the tunnel, or undefined while IPCP or the binding is not done. */
  encodeIp(packet: Buffer): Buffer | undefined {
    if (!this.sstp.connected) return undefined;
    const frame = pppDataFrame(this.ppp, packet);
    return frame ? this.sstp.encodeData(frame) : undefined;
  }

  close(now: Millis): void {
    this.ppp.close(now, 'user request');
    this.pump.run(now);
  }

  poll(): BindingClientEvent[] {
    return this.out.splice(0);
  }

  private onPpp(now: Millis, ev: PppClientEvent): void {
    if (ev.type === 'authenticated') this.sstp.sendCallConnected(now, ev.hlak, this.opts.certDer);
    else if (ev.type === 'ipcp-up') this.out.push({ type: 'up', ipv4: ev.local, peer: ev.peer });
    else if (ev.type === 'data' && ev.protocol === 0x0021) this.out.push({ type: 'ip', packet: Buffer.from(ev.payload) });
  }

  private finish(code: string, reason: string): void {
    if (this.done) return;
    this.done = true;
    this.out.push({ type: 'closed', code, reason });
  }
}
