/**
 * The loopback test client: a thin layer over the production client (src/client/io/socket.ts) that
 * keeps received packets for assertions and offers waitFor(). No kernel PPP needed, so it runs on the
 * host and in CI where pppd cannot.
 */
import type { AuthProtocol } from '../../src/config/model.js';
import { SstpConnection } from '../../src/client/io/socket.js';
import type { UpInfo } from '../../src/client/connection.js';
import { ClientError } from '../../src/client/errors.js';

export interface TestClientOptions {
  readonly host?: string;
  readonly port: number;
  /** TLS SNI; default "localhost"; `null` sends none. */
  readonly servername?: string | null;
  /** The HTTP Host header; default the host connected to. */
  readonly hostHeader?: string;
  /** Connect from this local address (e.g. another 127.x to look like another client). */
  readonly localAddress?: string;
  readonly username: string;
  readonly password: string;
  readonly auth?: readonly AuthProtocol[];
  readonly corruptBinding?: boolean;
  /** Require MPPE with these CCP bits (pppd's require-mppe-128). */
  readonly mppe?: { readonly bits: number };
  /** Run IPV6CP too (without it the client Protocol-Rejects IPV6CP). */
  readonly ipv6?: boolean;
  readonly timeoutMs?: number;
  /** Every IP packet from the tunnel, as it arrives (a TUN bridge writes it to the kernel). */
  readonly onIp?: (packet: Buffer) => void;
}

export type { UpInfo };

export class TestClient {
  readonly received: Buffer[] = [];
  closedWith: { code: string; reason: string } | undefined;
  authFailure: string | undefined;
  /** Benchmarks set this to count packets without keeping them. */
  keepPackets = true;
  private readonly waiters: (() => void)[] = [];
  private c!: SstpConnection;

  static async connect(opts: TestClientOptions): Promise<TestClient> {
    const t = new TestClient();
    try {
      t.c = await SstpConnection.connect({
        host: opts.host ?? '127.0.0.1',
        port: opts.port,
        ...(opts.servername !== null ? { servername: opts.servername ?? 'localhost' } : {}),
        ...(opts.hostHeader !== undefined ? { hostHeader: opts.hostHeader } : {}),
        ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
        insecure: true,
        username: opts.username,
        password: opts.password,
        auth: opts.auth ?? ['mschap-v2', 'mschap', 'chap', 'pap'],
        setupTimeoutMs: opts.timeoutMs ?? 10_000,
        ...(opts.corruptBinding ? { corruptBinding: true } : {}),
        ...(opts.mppe ? { mppe: opts.mppe } : {}),
        ...(opts.ipv6 ? { ipv6: true } : {}),
        onIp: (p) => {
          opts.onIp?.(p);
          if (!t.keepPackets) return;
          t.received.push(Buffer.from(p));
          t.wake();
        },
      });
    } catch (err) {
      if (err instanceof ClientError && err.code === 'E_CLIENT_AUTH') t.authFailure = err.detail;
      throw new Error(`client: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    void t.c.ended().then((e) => {
      t.closedWith = { code: e.code, reason: e.reason };
      t.wake();
    });
    return t;
  }

  get info(): UpInfo | undefined {
    return this.c.up ? this.c.info : undefined;
  }
  get rxBytes(): number {
    return this.c.stats.rxBytes;
  }
  get rxPackets(): number {
    return this.c.stats.rxPackets;
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves when pred holds (checked on every event), or rejects after timeoutMs. */
  waitFor(pred: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (pred()) {
          clearTimeout(t);
          resolve();
        } else this.waiters.push(check);
      };
      const t = setTimeout(() => reject(new Error(`client: timed out waiting for ${what}`)), timeoutMs);
      check();
    });
  }

  sendIp(packet: Buffer): boolean {
    if (!this.c.up) return false;
    this.c.sendIp(packet);
    return true;
  }

  /** A clear data frame around our data gate (hostile-peer tests): see SstpConnection.sendRawFrame. */
  sendRawFrame(protocol: number, payload: Buffer): boolean {
    return this.c.sendRawFrame(protocol, payload);
  }

  /** Like sendIp, but reports TCP back-pressure: false means wait for `drained()`. */
  sendIpFlow(packet: Buffer): boolean {
    return this.c.sendIp(packet);
  }

  /** For a TUN bridge: 'dropped' when the packet cannot go (e.g. IPv6 without IPV6CP), 'full' on back-pressure. */
  forward(packet: Buffer): 'sent' | 'full' | 'dropped' {
    return this.c.forward(packet);
  }

  drained(): Promise<void> {
    return this.c.drained();
  }

  /** Clean goodbye (LCP Terminate + SSTP Call Disconnect) and wait for the close. */
  async close(): Promise<void> {
    const e = await this.c.close(10_000);
    this.closedWith = { code: e.code, reason: e.reason };
  }

  destroy(): void {
    this.c.destroy();
  }
}
