/**
 * The socket edge of RADIUS: one UDP socket (bound to `source-address` when configured) driving the
 * client core with one timer, and the Dynamic Authorization listener. Everything protocol-shaped is
 * in the cores; this file moves datagrams and arms timers.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { monotonicNow } from '../common/time.js';
import { DeadlineTimer } from '../common/io/deadline-timer.js';
import type { Logger } from '../common/log.js';
import { RadiusClientCore, type RadiusServerStats, type ClientOutput, type RadiusClientConfig, type RadiusOutcome, type RadiusRequest, type RadiusTransport } from './client.js';
import { randomBytes } from 'node:crypto';

function bindUdp(address: string | undefined, port: number): Promise<Socket> {
  const socket = createSocket('udp4');
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ port, ...(address !== undefined ? { address } : {}), exclusive: true }, () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}

export class RadiusUdpClient implements RadiusTransport {
  private readonly core: RadiusClientCore;
  /** Per-server counts since this client was opened (metrics). */
  get stats(): ReadonlyMap<string, Readonly<RadiusServerStats>> {
    return this.core.stats;
  }
  private readonly waiters = new Map<number, (o: RadiusOutcome) => void>();
  private readonly timer = new DeadlineTimer(() => this.step(() => this.core.handleTimeout(monotonicNow())));
  private closed = false;
  private idleHook: (() => void) | undefined;

  private constructor(
    private readonly socket: Socket,
    config: RadiusClientConfig,
    readonly sourceAddress: string | undefined,
    private readonly log: Logger,
  ) {
    this.core = new RadiusClientCore(config, randomBytes);
    socket.on('message', (msg: Buffer, from: RemoteInfo) => this.step(() => this.core.receive(monotonicNow(), from, msg)));
    socket.on('error', (err) => this.log.warn({ err: err.message }, 'radius-socket-error'));
  }

  static async open(config: RadiusClientConfig, sourceAddress: string | undefined, log: Logger): Promise<RadiusUdpClient> {
    const socket = await bindUdp(sourceAddress, 0);
    const c = new RadiusUdpClient(socket, config, sourceAddress, log);
    const a = socket.address();
    log.info({ source: `${a.address}:${a.port}`, servers: config.servers.map((s) => s.address).join(',') }, 'radius-client');
    return c;
  }

  reconfigure(config: RadiusClientConfig): void {
    this.core.reconfigure(config);
  }

  get outstanding(): number {
    return this.core.outstanding;
  }

  request(req: RadiusRequest): Promise<RadiusOutcome> {
    if (this.closed) return Promise.resolve({ ok: false, reason: 'RADIUS client closed' });
    return new Promise((resolve) => {
      this.step(() => this.waiters.set(this.core.submit(monotonicNow(), req), resolve));
    });
  }

  /** Closes the socket once nothing is outstanding (requests of an older configuration finish first). */
  closeWhenIdle(): void {
    if (this.core.outstanding === 0) return this.close();
    this.idleHook = () => this.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.timer.cancel();
    for (const w of this.waiters.values()) w({ ok: false, reason: 'RADIUS client closed' });
    this.waiters.clear();
    this.socket.close();
  }

  private step(fn: () => void): void {
    fn();
    // submit() may emit 'done' at once; the waiter is set after it returns, so drain after fn.
    queueMicrotask(() => this.drain());
  }

  private drain(): void {
    for (const o of this.core.poll()) this.output(o);
    if (this.core.outstanding === 0 && this.idleHook) this.idleHook();
    this.rearm();
  }

  private output(o: ClientOutput): void {
    switch (o.type) {
      case 'send':
        this.socket.send(o.bytes, o.port, o.address, (err) => {
          if (err) this.log.warn({ server: o.address, err: err.message }, 'radius-send-failed');
        });
        return;
      case 'done': {
        const w = this.waiters.get(o.handle);
        this.waiters.delete(o.handle);
        w?.(o.outcome);
        return;
      }
      case 'log':
        this.log[o.level](o.fields, o.event);
        return;
    }
  }

  private rearm(): void {
    if (!this.closed) this.timer.arm(this.core.nextDeadline());
  }

}

export type DatagramHandler = (msg: Buffer, from: { readonly address: string; readonly port: number }) => Promise<Buffer | undefined>;

/** The Disconnect/CoA listener: one datagram in, at most one reply out to where it came from. */
export class DaeListener {
  private constructor(private readonly socket: Socket, readonly address: string, readonly port: number) {}

  static async open(address: string, port: number, handler: DatagramHandler, log: Logger): Promise<DaeListener> {
    const socket = await bindUdp(address, port);
    socket.on('error', (err) => log.warn({ err: err.message }, 'dae-socket-error'));
    socket.on('message', (msg: Buffer, from: RemoteInfo) => {
      handler(msg, from).then(
        (reply) => {
          if (reply) socket.send(reply, from.port, from.address);
        },
        (err: unknown) => log.error({ err: String(err), from: `${from.address}:${from.port}` }, 'dae-bug'),
      );
    });
    log.info({ address, port }, 'dae-listening');
    return new DaeListener(socket, address, port);
  }

  close(): void {
    this.socket.close();
  }
}
