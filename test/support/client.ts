/**
 * Our own SSTP client over a real TLS socket (the I/O edge around src/client/connection.ts), for
 * loopback tests: no kernel PPP needed, so it runs on the host and in CI where pppd cannot.
 */
import { connect, type TLSSocket } from 'node:tls';
import { randomBytes } from 'node:crypto';
import type { AuthProtocol } from '../../src/config/model.js';
import { ClientConnection, type ClientAction } from '../../src/client/connection.js';
import { monotonicNow } from '../../src/common/time.js';

export interface TestClientOptions {
  readonly host?: string;
  readonly port: number;
  readonly username: string;
  readonly password: string;
  readonly auth?: readonly AuthProtocol[];
  readonly corruptBinding?: boolean;
  readonly timeoutMs?: number;
  /** Every IP packet from the tunnel, as it arrives (a TUN bridge writes it to the kernel). */
  readonly onIp?: (packet: Buffer) => void;
  /** Require MPPE with these CCP bits (e.g. 128-bit stateless). */
  readonly mppe?: { readonly bits: number };
}

export interface UpInfo {
  readonly ipv4: string;
  readonly peer: string;
  readonly dns: readonly string[];
}

export class TestClient {
  private conn!: ClientConnection;
  private socket!: TLSSocket;
  private timer: NodeJS.Timeout | undefined;
  readonly received: Buffer[] = [];
  readonly log: ClientAction[] = [];
  closedWith: { code: string; reason: string } | undefined;
  authFailure: string | undefined;
  private upInfo: UpInfo | undefined;
  private onIp: ((packet: Buffer) => void) | undefined;
  private readonly waiters: (() => void)[] = [];

  static async connect(opts: TestClientOptions): Promise<TestClient> {
    const c = new TestClient();
    await c.start(opts);
    return c;
  }

  get info(): UpInfo | undefined {
    return this.upInfo;
  }

  private start(opts: TestClientOptions): Promise<void> {
    this.onIp = opts.onIp;
    return new Promise((resolve, reject) => {
      const host = opts.host ?? '127.0.0.1';
      this.socket = connect({ host, port: opts.port, rejectUnauthorized: false, servername: 'localhost' });
      this.socket.once('error', (err) => reject(err));
      this.socket.setNoDelay(true);
      this.socket.once('secureConnect', () => {
        const cert = this.socket.getPeerCertificate(false);
        this.conn = new ClientConnection(
          {
            host,
            username: opts.username,
            password: opts.password,
            authMethods: opts.auth ?? ['mschap-v2', 'mschap', 'chap', 'pap'],
            serverCertDer: cert.raw,
            random: randomBytes,
            ...(opts.corruptBinding ? { corruptBinding: true } : {}),
            ...(opts.mppe ? { mppe: opts.mppe } : {}),
          },
          monotonicNow(),
        );
        this.run(() => this.conn.start(monotonicNow()));
      });
      this.socket.on('data', (d: Buffer) => this.run(() => this.conn.receive(monotonicNow(), d)));
      this.socket.on('close', () => this.conn && this.run(() => this.conn.transportClosed(monotonicNow())));
      const deadline = setTimeout(() => reject(new Error(`client: no link within ${opts.timeoutMs ?? 10000} ms`)), opts.timeoutMs ?? 10_000);
      this.waiters.push(() => {
        clearTimeout(deadline);
        if (this.upInfo) resolve();
        else reject(new Error(`client: ${this.authFailure ? `auth failed: ${this.authFailure}` : `closed: ${this.closedWith?.code} ${this.closedWith?.reason}`}`));
      });
    });
  }

  private run(fn: () => void): void {
    fn();
    for (const a of this.conn.poll()) {
      this.log.push(a);
      if (a.type === 'send') {
        if (!this.socket.destroyed) this.socket.write(a.bytes);
      } else if (a.type === 'up') {
        this.upInfo = { ipv4: a.ipv4, peer: a.peer, dns: a.dns };
        this.wake();
      } else if (a.type === 'ip') {
        this.rxBytes += a.packet.length;
        this.rxPackets++;
        this.onIp?.(a.packet);
        if (this.keepPackets) {
          this.received.push(Buffer.from(a.packet));
          this.wake();
        }
      } else if (a.type === 'auth-failed') {
        this.authFailure = a.message;
      } else if (a.type === 'closed') {
        this.closedWith = { code: a.code, reason: a.reason };
        this.socket.end();
        this.wake();
      }
    }
    if (this.timer) clearTimeout(this.timer);
    const at = this.conn.nextDeadline();
    if (at !== undefined) this.timer = setTimeout(() => this.run(() => this.conn.handleTimeout(monotonicNow())), Math.max(0, at - monotonicNow()));
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
    const bytes = this.conn.encodeIp(packet);
    if (!bytes) return false;
    this.socket.write(bytes);
    return true;
  }

  /** Like sendIp, but reports TCP back-pressure: false means wait for `drained()`. */
  sendIpFlow(packet: Buffer): boolean {
    const bytes = this.conn.encodeIp(packet);
    return bytes ? this.socket.write(bytes) : false;
  }

  /** For a TUN bridge: 'dropped' when the packet cannot go (e.g. IPv6 without IPV6CP), 'full' on back-pressure. */
  forward(packet: Buffer): 'sent' | 'full' | 'dropped' {
    const bytes = this.conn.encodeIp(packet);
    if (!bytes) return 'dropped';
    return this.socket.write(bytes) ? 'sent' : 'full';
  }

  drained(): Promise<void> {
    return new Promise((resolve) => this.socket.once('drain', () => resolve()));
  }

  /** Bytes and packets received through the tunnel. */
  rxBytes = 0;
  rxPackets = 0;
  /** Benchmarks set this to count packets without keeping them. */
  keepPackets = true;

  /** Clean goodbye (LCP Terminate + SSTP Call Disconnect) and wait for the close. */
  async close(): Promise<void> {
    if (this.closedWith) return;
    this.run(() => this.conn.close(monotonicNow()));
    await this.waitFor(() => this.closedWith !== undefined, 10_000, 'close').catch(() => undefined);
    this.destroy();
  }

  destroy(): void {
    if (this.timer) clearTimeout(this.timer);
    this.socket.destroy();
  }
}
