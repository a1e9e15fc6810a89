/**
 * One SSTP client connection over a real TLS socket: the I/O edge around the sans-I/O
 * ClientConnection (src/client/connection.ts). TCP connect, TLS with certificate checks, one timer
 * re-armed to the core's next deadline, and the data path: packets from a TUN batch are framed into
 * one buffer and written with one `socket.write()`; packets from the server go to `onIp` as views.
 *
 *   const c = await SstpConnection.connect({ host, port, username, password, insecure: true });
 *   c.info  // { ipv4, peer, dns, mtu, auth, binding }
 *   await c.close();
 *
 * `connect()` rejects with a ClientError whose code and stage say which layer failed.
 */
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { checkServerIdentity, connect as tlsConnect, type PeerCertificate, type SecureContext, type TLSSocket } from 'node:tls';
import type { AuthProtocol } from '../../config/model.js';
import { monotonicNow, type Millis } from '../../common/time.js';
import { DeadlineTimer } from '../../common/io/deadline-timer.js';
import type { EchoPolicy } from '../../ppp/lcp/lcp.js';
import { ClientConnection, IP_FRAME_OVERHEAD, type ClientAction, type UpInfo } from '../connection.js';
import { writeDataHeaders } from '../../sstp/wire.js';
import { boundTcpQueues } from '../../dataplane/tcp-queue.js';
import { readBudget } from '../../dataplane/read-budget.js';
import { OutboundPath, queueOptions } from '../../session/outbound.js';
import { ClientError, ClientErrorCode, classifyClose, type ClientStage } from '../errors.js';

/**
 * Bytes queued in the socket before the TUN reader pauses. Node's own mark (16 KiB, write() → false)
 * is less than one TUN batch: pausing at it makes the kernel queue overflow and TCP inside the tunnel
 * sees drops. Every byte queued here delays a ping behind a bulk upload (issue 14): 128 KiB (~1 ms
 * at 1 Gbit/s) with TCP_NOTSENT_LOWAT on the socket, where it was 1 MiB plus the kernel's MBs.
 */
export const SEND_BUFFER_LIMIT = 128 * 1024;

export const DEFAULT_AUTH: readonly AuthProtocol[] = ['mschap-v2', 'mschap', 'chap', 'pap'];

export interface SstpConnectOptions {
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly password: string;
  /** Methods we accept, preferred first; default mschap-v2, mschap, chap, pap. */
  readonly auth?: readonly AuthProtocol[];
  /** TLS SNI; default `host` unless it is an IP literal (SNI carries names only). */
  readonly servername?: string;
  /** HTTP Host header; default `host`. */
  readonly hostHeader?: string;
  /** PEM CA certificate(s) to verify the server with; default the system store. */
  readonly ca?: string | Buffer;
  /** Accept any server certificate (the crypto binding still hashes the one presented). */
  readonly insecure?: boolean;
  /** A shared TLS context (the load generator builds one for all sessions: ~0.4 ms saved per connect). */
  readonly secureContext?: SecureContext;
  readonly requestDns?: boolean;
  readonly lcpEcho?: EchoPolicy;
  /** TCP connect → IPCP open; default 30 s. */
  readonly setupTimeoutMs?: number;
  readonly localAddress?: string;
  readonly corruptBinding?: boolean;
  /** Require MPPE with these CCP bits (pppd's require-mppe-128 = 128-bit stateless: 0x01000040). */
  readonly mppe?: { readonly bits: number };
  /** Run IPV6CP too. */
  readonly ipv6?: boolean;
  /** IPv4 packets from the tunnel: views into the received chunk, valid during the call. */
  readonly onIp?: (packet: Buffer) => void;
  /** Protocol events (for --verbose); never per data packet. */
  readonly onLog?: (event: string, fields?: Record<string, string | number>) => void;
}

/** Milliseconds from the start of connect() to each milestone. */
export interface SetupTimings {
  tcpMs?: number;
  tlsMs?: number;
  upMs?: number;
}

/** How a connection ended: `error` undefined = we closed it ourselves. */
export interface EndInfo {
  readonly error: ClientError | undefined;
  readonly code: string;
  readonly reason: string;
}

export class SstpConnection {
  private conn: ClientConnection | undefined;
  private readonly socket: TLSSocket;
  private readonly timer = new DeadlineTimer(() => this.input((now) => this.conn!.handleTimeout(now)));
  private readonly started = monotonicNow();
  readonly timings: SetupTimings = {};
  private stage: ClientStage = 'tcp';
  private authMessage: string | undefined;
  private upInfo: UpInfo | undefined;
  private closing = false;
  private endInfo: EndInfo | undefined;
  private readonly endWaiters: ((e: EndInfo) => void)[] = [];
  private readonly echoWaiters = new Map<number, (rttMs: number) => void>();
  private readonly echoSent = new Map<number, Millis>();
  private setupDone: ((err?: ClientError) => void) | undefined;
  /** Raw control actions, for tests that inspect them (bounded: only control traffic lands here). */
  readonly actions: ClientAction[] = [];
  keepActions = false;
  /** Packets and bytes through the tunnel. */
  readonly stats = { rxPackets: 0, rxBytes: 0, txPackets: 0, txBytes: 0 };

  private constructor(private readonly opts: SstpConnectOptions) {
    const sni = opts.servername ?? (isIP(opts.host) ? undefined : opts.host);
    this.socket = tlsConnect({
      host: opts.host,
      port: opts.port,
      ...(sni !== undefined ? { servername: sni } : {}),
      ...(opts.secureContext !== undefined ? { secureContext: opts.secureContext } : opts.ca !== undefined ? { ca: opts.ca } : {}),
      ...(opts.localAddress !== undefined ? { localAddress: opts.localAddress } : {}),
      rejectUnauthorized: !opts.insecure,
      // Without SNI the name check falls back to the host; with --servername it checks that name.
      ...(opts.servername !== undefined ? { checkServerIdentity: tlsNameCheck(opts.servername) } : {}),
    });
    this.socket.setNoDelay(true);
    this.socket.once('connect', () => {
      // The kernel keeps little unsent: the backlog waits in the TUN (tcp-queue.ts, issue 14).
      boundTcpQueues(this.socket);
      this.timings.tcpMs = monotonicNow() - this.started;
      this.stage = 'tls';
    });
    this.socket.once('secureConnect', () => this.onSecure());
    // A bulk download yields the loop every few hundred KiB (read-budget.ts).
    const budget = readBudget(this.socket);
    this.socket.on('data', (d: Buffer) => {
      budget(d.length);
      this.input((now) => this.conn!.receive(now, d));
    });
    this.socket.on('error', (err) => this.onSocketError(err));
    this.socket.on('close', () => this.onSocketClose());
    this.armSetupTimer(opts.setupTimeoutMs ?? 30_000);
  }

  /** Connects and resolves once IPCP is open; rejects with a ClientError naming the failed layer. */
  static connect(opts: SstpConnectOptions): Promise<SstpConnection> {
    const c = new SstpConnection(opts);
    return new Promise((resolve, reject) => {
      c.setupDone = (err) => {
        c.setupDone = undefined;
        if (err) {
          c.destroy();
          reject(err);
        } else resolve(c);
      };
    });
  }

  get info(): UpInfo {
    if (!this.upInfo) throw new ClientError(ClientErrorCode.PPP, 'link is not up', this.stage);
    return this.upInfo;
  }

  get up(): boolean {
    return this.conn?.up === true && !this.socket.destroyed;
  }

  /** Resolves when the connection is over, however it ended. */
  ended(): Promise<EndInfo> {
    if (this.endInfo) return Promise.resolve(this.endInfo);
    return new Promise((r) => this.endWaiters.push(r));
  }

  /** One IP packet into the tunnel. False: link down, packet too big, or TCP back-pressure. */
  sendIp(packet: Buffer): boolean {
    const buf = this.conn?.encodeIp(packet);
    if (!buf) return false;
    this.stats.txPackets++;
    this.stats.txBytes += packet.length;
    return this.socket.write(buf);
  }

  /**
   * Any IP packet (IPv4 or IPv6, MPPE when on) into the tunnel, for a TUN bridge: 'dropped' when it
   * cannot go (link down, its NCP not open, too large), 'full' on TCP back-pressure.
   */
  forward(packet: Buffer): 'sent' | 'full' | 'dropped' {
    const bytes = this.conn?.encodeIp(packet);
    if (!bytes) return 'dropped';
    this.stats.txPackets++;
    this.stats.txBytes += packet.length;
    return this.socket.write(bytes) ? 'sent' : 'full';
  }

  /**
   * One data packet exactly as given (`FF 03 protocol` + payload, no MPPE), around our own data gate.
   * For hostile-peer tests and the soak run, which must send what a well-behaved client never would
   * (clear IP while MPPE is on, forged source addresses). False once the link is not up.
   */
  sendRawFrame(protocol: number, payload: Buffer): boolean {
    if (!this.conn?.up || this.socket.destroyed) return false;
    const buf = Buffer.allocUnsafe(IP_FRAME_OVERHEAD + payload.length);
    writeDataHeaders(buf, 0, protocol, payload.length);
    payload.copy(buf, IP_FRAME_OVERHEAD);
    return this.socket.write(buf);
  }

  /**
   * The way out for a TUN bridge (client/io/tun.ts): TUN batches framed into one buffer each and
   * written while the socket takes them, FQ-CoDel while it pushes back (session/outbound.ts, the
   * server's own). `pauseReader` is for `SSTPD_FQ=0`, where back-pressure stops the reader instead.
   */
  outbound(pauseReader: (paused: boolean) => void): OutboundPath {
    const socket = this.socket;
    const stats = this.stats;
    const path = new OutboundPath(
      {
        frame: (batch, out, reuse) => {
          const conn = this.conn;
          return conn?.up ? conn.frameBatch(batch, out, reuse) : { packets: 0, bytes: 0 };
        },
        sink: {
          write: (packets) => {
            for (const p of packets) socket.write(p);
          },
          get ready() {
            return socket.writableLength < SEND_BUFFER_LIMIT && !socket.destroyed;
          },
          get idle() {
            return socket.writableLength === 0;
          },
        },
        now: monotonicNow,
        sent: (packets, bytes) => {
          stats.txPackets += packets;
          stats.txBytes += bytes;
        },
        pauseReader,
      },
      // One session per process: its queue's own limit bounds it, no process-wide budget.
      queueOptions(undefined),
    );
    socket.on('drain', () => path.drained());
    return path;
  }

  /** Resolves on the next 'drain' of the socket (after sendIp returned false). */
  drained(): Promise<void> {
    if (this.socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.once('drain', done);
      this.socket.once('close', done);
    });
  }

  /** LCP Echo round trip through the server's PPP stack, in ms; rejects after timeoutMs. */
  probe(timeoutMs = 5000): Promise<number> {
    let id: number | undefined;
    this.input((now) => {
      id = this.conn?.probe(now);
      if (id !== undefined) this.echoSent.set(id, now);
    });
    if (id === undefined) return Promise.reject(new Error('link is not up'));
    const key = id;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.echoWaiters.delete(key);
        this.echoSent.delete(key);
        reject(new Error('no LCP echo reply'));
      }, timeoutMs);
      this.echoWaiters.set(key, (rtt) => {
        clearTimeout(t);
        resolve(rtt);
      });
    });
  }

  /** Clean goodbye (LCP Terminate, SSTP Call Disconnect); destroys the socket after graceMs. */
  async close(graceMs = 5000): Promise<EndInfo> {
    if (!this.endInfo && !this.closing) {
      this.closing = true;
      if (this.conn) this.input((now) => this.conn!.close(now));
      else this.destroy();
    }
    const t = setTimeout(() => this.destroy(), graceMs);
    const end = await this.ended();
    clearTimeout(t);
    return end;
  }

  destroy(): void {
    this.timer.cancel();
    this.socket.destroy();
  }

  // ---- internals --------------------------------------------------------------------------------

  private setupTimer: NodeJS.Timeout | undefined;

  private armSetupTimer(ms: number): void {
    this.setupTimer = setTimeout(() => {
      this.setupDone?.(new ClientError(ClientErrorCode.TIMEOUT, `no link within ${ms} ms (stage ${this.stage})`, this.stage));
    }, ms);
  }

  private clearSetupTimer(): void {
    if (this.setupTimer) clearTimeout(this.setupTimer);
    this.setupTimer = undefined;
  }

  private onSecure(): void {
    this.timings.tlsMs = monotonicNow() - this.started;
    this.stage = 'http';
    // The DER is all the crypto binding needs: getPeerCertificate() would also build the whole
    // certificate object with three fingerprints (38 µs against 10 µs per connection, measured here).
    const certDer = this.socket.getPeerX509Certificate()?.raw ?? Buffer.alloc(0);
    const o = this.opts;
    this.conn = new ClientConnection(
      {
        host: o.hostHeader ?? o.host,
        username: o.username,
        password: o.password,
        authMethods: o.auth ?? DEFAULT_AUTH,
        serverCertDer: certDer,
        random: randomBytes,
        ...(o.requestDns !== undefined ? { requestDns: o.requestDns } : {}),
        ...(o.lcpEcho ? { lcpEcho: o.lcpEcho } : {}),
        ...(o.corruptBinding ? { corruptBinding: true } : {}),
        ...(o.mppe ? { mppe: o.mppe } : {}),
        ...(o.ipv6 ? { ipv6: true } : {}),
        onIp: (p) => {
          this.stats.rxPackets++;
          this.stats.rxBytes += p.length;
          o.onIp?.(p);
        },
      },
      monotonicNow(),
    );
    this.input((now) => this.conn!.start(now));
  }

  private onSocketError(err: Error & { code?: string }): void {
    if (!this.setupDone) return; // after setup the 'close' that follows reports it
    const code = err.code ?? '';
    if (this.stage === 'tcp') {
      this.setupDone(new ClientError(ClientErrorCode.TCP, `TCP: cannot connect to ${this.opts.host}:${this.opts.port}: ${err.message}`, 'tcp', code, { cause: err }));
    } else if (this.stage === 'tls') {
      this.setupDone(new ClientError(ClientErrorCode.TLS, `TLS: ${err.message}`, 'tls', code, { cause: err }));
    }
  }

  private onSocketClose(): void {
    this.timer.cancel();
    if (this.conn) this.input((now) => this.conn!.transportClosed(now));
    if (!this.endInfo) {
      const error = this.closing ? undefined : new ClientError(this.stage === 'tcp' ? ClientErrorCode.TCP : ClientErrorCode.TLS,
        this.stage === 'tcp' ? 'TCP: connection closed' : 'TLS: connection closed during the handshake', this.stage);
      this.end({ error, code: 'E_TRANSPORT', reason: 'connection closed' });
    }
  }

  /** Runs one input against the core, executes its actions and re-arms the timer. */
  private input(fn: (now: Millis) => void): void {
    if (!this.conn) return;
    fn(monotonicNow());
    let corked = false;
    for (const a of this.conn.poll()) {
      if (this.keepActions && a.type !== 'send') this.actions.push(a);
      switch (a.type) {
        case 'send':
          if (this.socket.destroyed) break;
          if (!corked) {
            this.socket.cork();
            corked = true;
          }
          this.socket.write(a.bytes);
          break;
        case 'up':
          this.upInfo = { ipv4: a.ipv4, peer: a.peer, dns: a.dns, mtu: a.mtu, auth: a.auth, binding: a.binding };
          this.timings.upMs = monotonicNow() - this.started;
          this.stage = 'up';
          this.clearSetupTimer();
          this.setupDone?.();
          break;
        case 'auth-failed':
          this.authMessage = a.message;
          this.opts.onLog?.('auth-failed', { message: a.message });
          break;
        case 'echo-reply': {
          const sent = this.echoSent.get(a.id);
          const w = this.echoWaiters.get(a.id);
          this.echoSent.delete(a.id);
          this.echoWaiters.delete(a.id);
          if (sent !== undefined && w) w(monotonicNow() - sent);
          break;
        }
        case 'ip':
          break; // onIp is always set: packets take the fast lane
        case 'log':
          this.opts.onLog?.(a.event, a.fields);
          break;
        case 'closed':
          this.onClosed(a.code, a.reason, a.stage);
          break;
      }
    }
    if (corked) this.socket.uncork();
    this.rearm();
  }

  private onClosed(code: string, reason: string, stage: ClientStage): void {
    const error = this.closing && this.stage === 'up' ? undefined : classifyClose(code, reason, stage, this.authMessage);
    this.end({ error, code, reason });
    if (!this.socket.destroyed) {
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 1000).unref();
    }
  }

  private end(info: EndInfo): void {
    if (this.endInfo) return;
    this.endInfo = info;
    this.clearSetupTimer();
    if (this.setupDone) this.setupDone(info.error ?? new ClientError(ClientErrorCode.PPP, 'closed before the link came up', this.stage));
    for (const w of this.endWaiters.splice(0)) w(info);
  }

  private rearm(): void {
    this.timer.arm(this.endInfo ? undefined : this.conn?.nextDeadline());
  }

}

/** checkServerIdentity against an explicit name (the --servername the user asked to verify). */
function tlsNameCheck(name: string): (host: string, cert: PeerCertificate) => Error | undefined {
  return (_host, cert) => checkServerIdentity(name, cert);
}
