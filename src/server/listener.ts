/**
 * The TCP listener and what happens to a connection before it is a session:
 *   1. the PROXY protocol header, when configured: only from a trusted proxy, within a timeout,
 *      bounded (src/proxy/header.ts); the client's real address replaces the proxy's;
 *   2. TLS, unless a proxy in front terminates it (`ssl offload`: plain HTTP arrives here);
 *   3. the connection goes to `onConnection` with the peer it stands for.
 * A connection that fails a step is closed before any session exists, and logged once. The policy
 * (certificates, proxy settings) is swapped per configuration generation: connections already
 * accepted keep theirs, new ones get the new one (certificate renewal without dropping sessions).
 */
import cluster from 'node:cluster';
import { lookup } from 'node:dns/promises';
import { BlockList, createServer, isIP, isIPv6, type Server, type Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import type { Logger } from '../common/log.js';
import { ProxyHeaderReader } from '../proxy/header.js';
import { monotonicNow } from '../common/time.js';
import { ConnectionRateLimiter, type RateLimitConfig } from './admission.js';
import { loadNative } from '../../native/index.js';

/** The TLS handshake must finish within this; the SSTP negotiation timer takes over after it. */
export const TLS_HANDSHAKE_TIMEOUT_MS = 30_000;
/** A proxy sends its header at once; a connection that does not is not from one. */
export const PROXY_HEADER_TIMEOUT_MS = 5_000;

export interface ListenerPolicy {
  /** The TLS context for new connections; absent = TLS is terminated in front (plain HTTP here). */
  readonly tls?: SecureContext;
  /** PROXY protocol v1/v2 required on every connection; `trusted` empty = from any address. */
  readonly proxy?: { readonly trusted: readonly string[] };
  /**
   * `host-name`: a client whose TLS SNI (or, TLS offloaded, PROXY v2 AUTHORITY) names another host
   * is refused here with a fatal TLS alert, as accel-ppp's servername callback does. A client that
   * sends no SNI gets through to the HTTP Host check in the session.
   */
  readonly hostName?: string;
  /**
   * `max-concurrent-sessions`: new connections are closed at once while this many are starting
   * (in PROXY/TLS here, or sessions not yet active: `starting` of the constructor). Absent/0: none.
   */
  readonly maxStarting?: number;
  /** `limits`: per client address (the PROXY-resolved one), checked before TLS. */
  readonly rateLimit?: RateLimitConfig;
}

/**
 * How worker processes share the port:
 *   - `round-robin`: node:cluster's; the primary owns the socket, accepts and passes each connection
 *     to the next worker (one extra hop per connection, an even spread);
 *   - `reuseport`: each worker binds its own SO_REUSEPORT socket and accepts itself; the kernel
 *     picks the socket by a hash of the 4-tuple (no hop; the spread is only even on average, and a
 *     worker that dies loses the connections waiting in its accept queue: they are reset).
 */
export type Balance = 'reuseport' | 'round-robin';
export const BALANCES: readonly Balance[] = ['reuseport', 'round-robin'];

/** The kernel's cap applies (net.core.somaxconn); Node's default. */
const BACKLOG = 511;

export interface Endpoint {
  readonly address: string;
  readonly port: number;
}

/** A connection ready for SSTP: TLS done (or offloaded), the client's real address known. */
export interface AcceptedConnection {
  /** A TLSSocket, or the plain socket when TLS is offloaded. */
  readonly socket: Socket;
  /** The client: from the PROXY header when one was required, else the TCP peer. */
  readonly peer: Endpoint;
  /** The address the client connected to (the proxy's destination, or ours). */
  readonly local: Endpoint;
  /** TLS SNI the client sent (or the PROXY v2 AUTHORITY when TLS is offloaded), if any. */
  readonly serverName?: string;
}

/**
 * Worker processes: admission is counted over all workers by the primary. `address` undefined asks
 * about max-concurrent-sessions (`starting` = this process's connections not active yet), an
 * address about its connection rate. Resolves to why the connection is refused, if it is.
 */
export interface AdmissionGate {
  admit(address: string | undefined, starting: number): Promise<string | undefined>;
}

export interface ListenerCounters {
  accepted: number;
  tlsFailed: number;
  proxyRefused: number;
  /** Closed before TLS by max-concurrent-sessions or the per-address limit. */
  limitRefused: number;
}

/** Does a TLS SNI / PROXY AUTHORITY name `hostName`? Case-insensitive, as accel-ppp's strcasecmp. */
export const namesHost = (name: string, hostName: string): boolean => name.toLowerCase() === hostName.toLowerCase();

const plain = (a: string | undefined): string => (a ?? '').replace(/^::ffff:/, '');

/** The trusted proxies: addresses and prefixes (both families), as node's BlockList matches them. */
class AddressMatcher {
  private readonly list = new BlockList();
  readonly empty: boolean;

  constructor(entries: readonly string[]) {
    this.empty = entries.length === 0;
    for (const e of entries) {
      const [addr, len] = e.split('/') as [string, string | undefined];
      const type = isIPv6(addr) ? 'ipv6' : 'ipv4';
      if (len === undefined) this.list.addAddress(addr, type);
      else this.list.addSubnet(addr, Number(len), type);
    }
  }

  matches(address: string): boolean {
    return this.list.check(address, isIPv6(address) ? 'ipv6' : 'ipv4');
  }
}

/** The address to bind: '' for every address, an IP as given, a name resolved as node's listen would. */
async function bindAddress(host: string | undefined): Promise<string> {
  if (host === undefined || host === '') return '';
  return isIP(host) !== 0 ? host : (await lookup(host)).address;
}

/**
 * `server.listen({ fd })` in a cluster worker goes to the primary like a port does (node's
 * listenInCluster): the primary would open *its* descriptor of that number and deal connections out
 * round robin. Only `cluster.isPrimary`, read synchronously inside listen, makes the process listen
 * on the descriptor itself, so it is set for exactly that call.
 */
function listenOnOwnFd(server: Server, fd: number, listening: () => void): void {
  const c = cluster as { isPrimary: boolean };
  const was = c.isPrimary;
  c.isPrimary = true;
  try {
    server.listen({ fd }, listening);
  } finally {
    c.isPrimary = was;
  }
}

export class Listener {
  private server: Server | undefined;
  private policy: ListenerPolicy;
  private trusted!: AddressMatcher;
  private closed = false;
  /** Connections in the PROXY or TLS step: starting, but not yet handed on. */
  private readonly pending = new Set<Socket>();
  private limiter: ConnectionRateLimiter | undefined;

  constructor(
    policy: ListenerPolicy,
    private readonly log: Logger,
    private readonly counters: ListenerCounters,
    private readonly onConnection: (c: AcceptedConnection) => void,
    private readonly maxConnections: number,
    /** Sessions handed on that are not active yet (the daemon's registry knows). */
    private readonly starting: () => number = () => 0,
    private readonly gate?: AdmissionGate,
  ) {
    this.policy = policy;
    this.setPolicy(policy);
  }

  /** Connections in the PROXY or TLS step. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** New connections use this from now on; connections already accepted keep theirs. */
  setPolicy(policy: ListenerPolicy): void {
    this.policy = policy;
    this.trusted = new AddressMatcher(policy.proxy?.trusted ?? []);
    // The addresses counted so far stay counted across a reload; only the numbers change.
    if (policy.rateLimit === undefined) this.limiter = undefined;
    else if (this.limiter) this.limiter.setConfig(policy.rateLimit);
    else this.limiter = new ConnectionRateLimiter(policy.rateLimit);
  }

  /** Why a new connection from `address` is closed at once, if it is (max-starting, then the rate). */
  private refusal(policy: ListenerPolicy, address: string | undefined): string | undefined {
    const max = policy.maxStarting ?? 0;
    if (address === undefined && max > 0 && this.pending.size + this.starting() >= max) return `${max} sessions are starting`;
    if (address !== undefined && this.limiter && !this.limiter.admit(address, monotonicNow())) return 'connection rate limit';
    return undefined;
  }

  /**
   * Runs `next` when the connection may go on, else closes it: checked here, or by the primary of
   * worker processes (a primary that does not answer lets it through rather than stop service).
   */
  private admitThen(socket: Socket, policy: ListenerPolicy, address: string | undefined, logAddress: string, next: () => void): void {
    const gate = this.gate;
    if (!gate) {
      const refused = this.refusal(policy, address);
      return refused === undefined ? next() : this.refuseLimit(socket, logAddress, refused);
    }
    const asked = address === undefined ? (policy.maxStarting ?? 0) > 0 : policy.rateLimit !== undefined;
    if (!asked) return next();
    gate.admit(address, this.pending.size + this.starting()).then(
      (refused) => {
        if (socket.destroyed) return;
        if (refused === undefined) next();
        else this.refuseLimit(socket, logAddress, refused);
      },
      () => !socket.destroyed && next(),
    );
  }

  private refuseLimit(socket: Socket, address: string, reason: string): void {
    this.counters.limitRefused++;
    this.log.info({ callingSid: address, reason }, 'connection-refused');
    socket.destroy();
  }

  /** `reuseport`: a socket of this process's own in the port's SO_REUSEPORT group (see `Balance`). */
  async listen(port: number, host: string | undefined, reuseport = false): Promise<void> {
    const server = createServer({ noDelay: true }, (socket) => this.connection(socket));
    server.maxConnections = this.maxConnections;
    const fd = reuseport ? loadNative().reuseportListen(await bindAddress(host), port, BACKLOG) : undefined;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      const listening = (): void => {
        server.off('error', reject);
        server.on('error', (err) => this.log.error({ err: err.message }, 'listener-error'));
        this.server = server;
        resolve();
      };
      if (fd === undefined) server.listen({ port, host }, listening);
      else listenOnOwnFd(server, fd, listening);
    });
  }

  close(): void {
    this.closed = true;
    this.server?.close();
  }

  private connection(socket: Socket): void {
    if (this.closed) return void socket.destroy();
    // Already reset by the peer (a load balancer's health check connects and resets at once): it
    // has no address left, nothing to refuse or log.
    if (socket.remoteAddress === undefined) return void socket.destroy();
    socket.on('error', () => socket.destroy());
    const policy = this.policy;
    const tcpPeer = { address: plain(socket.remoteAddress), port: socket.remotePort ?? 0 };
    const tcpLocal = { address: plain(socket.localAddress), port: socket.localPort ?? 0 };
    this.admitThen(socket, policy, undefined, tcpPeer.address, () => this.admitted(socket, policy, tcpPeer, tcpLocal));
  }

  private admitted(socket: Socket, policy: ListenerPolicy, tcpPeer: Endpoint, tcpLocal: Endpoint): void {
    this.pending.add(socket);
    socket.once('close', () => this.pending.delete(socket));
    if (!policy.proxy) return this.secure(socket, policy, tcpPeer, tcpLocal, undefined);
    if (!this.trusted.empty && !this.trusted.matches(tcpPeer.address)) {
      return this.refuseProxy(socket, tcpPeer, 'proxy-untrusted', `${tcpPeer.address} is not a trusted proxy`);
    }
    this.readProxyHeader(socket, policy, tcpPeer, tcpLocal);
  }

  /** Reads the PROXY header off the socket, then hands the rest of the stream on. */
  private readProxyHeader(socket: Socket, policy: ListenerPolicy, tcpPeer: Endpoint, tcpLocal: Endpoint): void {
    const reader = new ProxyHeaderReader();
    const timer = setTimeout(() => this.refuseProxy(socket, tcpPeer, 'proxy-header-invalid', 'no PROXY header in time'), PROXY_HEADER_TIMEOUT_MS);
    const onData = (chunk: Buffer): void => {
      const r = reader.feed(chunk);
      if (r.kind === 'need-more') return;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.pause();
      if (r.kind === 'error') return this.refuseProxy(socket, tcpPeer, 'proxy-header-invalid', r.reason);
      const h = r.header;
      // LOCAL (the proxy's health check) and families without addresses keep the TCP endpoints.
      const peer = h.command === 'proxy' && h.source ? h.source : tcpPeer;
      const local = h.command === 'proxy' && h.destination ? h.destination : tcpLocal;
      if (r.rest.length > 0) socket.unshift(r.rest);
      const go = (): void => this.secure(socket, policy, peer, local, h.authority);
      if (h.command === 'proxy' && h.source) this.admitThen(socket, policy, peer.address, peer.address, go);
      else go();
    };
    socket.on('data', onData);
    socket.once('close', () => clearTimeout(timer));
  }

  private refuseProxy(socket: Socket, peer: Endpoint, event: string, reason: string): void {
    this.counters.proxyRefused++;
    this.log.info({ proxy: peer.address, reason }, event);
    socket.destroy();
  }

  /** TLS on the (possibly already read-from) socket, or straight on with plain HTTP when offloaded. */
  private secure(socket: Socket, policy: ListenerPolicy, peer: Endpoint, local: Endpoint, authority: string | undefined): void {
    // Without PROXY the TCP peer is the client: its rate is checked here, still before TLS.
    if (!policy.proxy) return this.admitThen(socket, policy, peer.address, peer.address, () => this.handOn(socket, policy, peer, local, authority));
    this.handOn(socket, policy, peer, local, authority);
  }

  private handOn(socket: Socket, policy: ListenerPolicy, peer: Endpoint, local: Endpoint, authority: string | undefined): void {
    if (!policy.tls) {
      if (authority !== undefined && policy.hostName !== undefined && !namesHost(authority, policy.hostName)) {
        return this.refuseProxy(socket, peer, 'host-name-refused', `PROXY authority ${authority} is not ${policy.hostName}`);
      }
      socket.resume();
      this.pending.delete(socket);
      this.counters.accepted++;
      return this.onConnection({ socket, peer, local, ...(authority !== undefined ? { serverName: authority } : {}) });
    }
    const { tls: context, hostName } = policy;
    const tls = new TLSSocket(socket, {
      isServer: true,
      secureContext: context,
      requestCert: false,
      // Node calls this only when the client sends SNI; an error ends the handshake with an alert.
      ...(hostName !== undefined
        ? {
            SNICallback: (name: string, cb: (err: Error | null, ctx?: SecureContext) => void): void =>
              namesHost(name, hostName) ? cb(null, context) : cb(new Error(`SNI ${name} is not ${hostName}`)),
          }
        : {}),
    });
    const timer = setTimeout(() => fail(new Error('TLS handshake timed out')), TLS_HANDSHAKE_TIMEOUT_MS);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      this.counters.tlsFailed++;
      this.log.info({ callingSid: peer.address, reason: err.message }, 'tls-failed');
      tls.destroy();
      socket.destroy();
    };
    tls.once('error', fail);
    tls.once('secure', () => {
      clearTimeout(timer);
      tls.off('error', fail);
      this.pending.delete(socket);
      this.counters.accepted++;
      const sni = (tls as TLSSocket & { servername?: string | false }).servername;
      this.onConnection({ socket: tls, peer, local, ...(typeof sni === 'string' ? { serverName: sni } : {}) });
    });
    // No resume() of the raw socket here: the TLS layer reads from its handle now, and takes over
    // whatever the PROXY reader pushed back (`unshift`) as its first bytes.
  }
}
