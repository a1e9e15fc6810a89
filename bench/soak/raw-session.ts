/**
 * A bare I/O loop around the client core (ClientConnection) that also writes raw bytes on the TLS
 * stream: what a hostile client needs, and what SstpConnection (src/client/io/socket.ts) does not
 * expose. No data path, no back-pressure handling: control traffic and a few frames only.
 *
 *   const s = await RawSession.connect({ host, port, username, password });
 *   await s.probe();           // LCP echo round trip
 *   s.mute(); s.writeRaw(garbage);
 *   await s.closedByServer(10_000);
 */
import { randomBytes } from 'node:crypto';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { ClientConnection } from '../../src/client/connection.js';
import { monotonicNow, type Millis } from '../../src/common/time.js';
import type { AuthProtocol } from '../../src/config/model.js';

export interface RawSessionOptions {
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly password: string;
  readonly auth?: readonly AuthProtocol[];
  readonly setupTimeoutMs?: number;
}

export class RawSession {
  private conn: ClientConnection | undefined;
  private timer: NodeJS.Timeout | undefined;
  private muted = false;
  private closedAt: number | undefined;
  private readonly closeWaiters: (() => void)[] = [];
  private readonly echoWaiters = new Map<number, () => void>();
  private onUp: ((err?: Error) => void) | undefined;
  /** Why the core closed, if it did. */
  closeReason: string | undefined;

  private constructor(private readonly socket: TLSSocket, o: RawSessionOptions) {
    socket.setNoDelay(true);
    socket.once('secureConnect', () => {
      this.conn = new ClientConnection(
        {
          host: o.host,
          username: o.username,
          password: o.password,
          authMethods: o.auth ?? ['mschap-v2'],
          serverCertDer: socket.getPeerCertificate(false).raw,
          random: randomBytes,
          requestDns: false,
          onIp: () => undefined,
        },
        monotonicNow(),
      );
      this.input((now) => this.conn!.start(now));
    });
    socket.on('data', (d: Buffer) => this.input((now) => this.conn!.receive(now, d)));
    socket.on('error', () => undefined); // 'close' follows and says it all
    socket.on('close', () => {
      this.closedAt = monotonicNow();
      if (this.timer) clearTimeout(this.timer);
      this.onUp?.(new Error('connection closed before the link came up'));
      for (const w of this.closeWaiters.splice(0)) w();
    });
  }

  static connect(o: RawSessionOptions): Promise<RawSession> {
    const socket = tlsConnect({ host: o.host, port: o.port, rejectUnauthorized: false });
    const s = new RawSession(socket, o);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => s.onUp?.(new Error('no link within the setup timeout')), o.setupTimeoutMs ?? 30_000);
      s.onUp = (err) => {
        clearTimeout(t);
        s.onUp = undefined;
        if (err) {
          socket.destroy();
          reject(err);
        } else resolve(s);
      };
    });
  }

  get closed(): boolean {
    return this.closedAt !== undefined;
  }

  /** LCP echo round trip in ms; rejects when LCP is not open or no reply comes within timeoutMs. */
  probe(timeoutMs = 5000): Promise<number> {
    let id: number | undefined;
    this.input((now) => (id = this.conn?.probe(now)));
    if (id === undefined) return Promise.reject(new Error('LCP is not open'));
    const sent = monotonicNow();
    const key = id;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.echoWaiters.delete(key);
        reject(new Error('no LCP echo reply'));
      }, timeoutMs);
      this.echoWaiters.set(key, () => {
        clearTimeout(t);
        resolve(monotonicNow() - sent);
      });
    });
  }

  /** From now on the core's output is dropped: the server faces a peer that only misbehaves. */
  mute(): void {
    this.muted = true;
  }

  writeRaw(bytes: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  /** Ms until the server closed the TCP connection, or undefined if it had not within timeoutMs. */
  async closedByServer(timeoutMs: number): Promise<number | undefined> {
    const from = monotonicNow();
    if (this.closedAt === undefined) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, timeoutMs);
        this.closeWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.closedAt === undefined ? undefined : Math.max(0, this.closedAt - from);
  }

  /** Clean goodbye through the core (LCP Terminate, Call Disconnect); the socket goes after graceMs. */
  async close(graceMs = 3000): Promise<void> {
    this.input((now) => this.conn?.close(now));
    if ((await this.closedByServer(graceMs)) === undefined) this.destroy();
  }

  destroy(): void {
    if (this.timer) clearTimeout(this.timer);
    this.socket.destroy();
  }

  private input(fn: (now: Millis) => void): void {
    if (!this.conn) return;
    fn(monotonicNow());
    for (const a of this.conn.poll()) {
      if (a.type === 'send' && !this.muted && !this.socket.destroyed) this.socket.write(a.bytes);
      else if (a.type === 'up') this.onUp?.();
      else if (a.type === 'echo-reply') {
        this.echoWaiters.get(a.id)?.();
        this.echoWaiters.delete(a.id);
      }
      else if (a.type === 'closed') {
        this.closeReason = `${a.code}: ${a.reason}`;
        this.onUp?.(new Error(`closed before the link came up (${this.closeReason})`));
      }
    }
    this.rearm();
  }

  private rearm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const at = this.conn?.nextDeadline();
    if (at === undefined || this.closed) return;
    this.timer = setTimeout(() => this.input((now) => this.conn!.handleTimeout(now)), Math.max(0, at - monotonicNow()));
  }
}
