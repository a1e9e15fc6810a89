/**
 * The daemon: one listener (PROXY protocol, TLS or TLS offload: listener.ts), the configuration
 * generations, the session registry, the address book, the control socket and the signals
 * (SIGHUP reload, SIGTERM drain).
 */
import type { Server as NetServer, Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { AddressBook } from '../ip/pool.js';
import { Ipv6PrefixBook } from '../ip/pool6.js';
import { TcShaper, cleanupStaleShapers } from '../dataplane/shaper.js';
import type { Shaper } from '../dataplane/shaper-api.js';
import { SessionRegistry, type SessionInfo } from '../session/registry.js';
import { SessionDriver } from '../session/driver.js';
import { cleanupStaleInterfaces } from '../dataplane/iface.js';
import { InterfaceCache, type InterfaceCacheDeps } from '../dataplane/iface-cache.js';
import { applyLogLevel, type Logger } from '../common/log.js';
import { loadRuntime, warnConfig, type Runtime } from './runtime.js';
import { startControl, type ControlReply, type ControlRequest } from './control.js';
import { ConfigError } from '../common/errors.js';
import type { SessionEnv } from '../session/driver.js';
import { RadiusService, registryTargets } from './radius.js';
import { Listener, type AcceptedConnection, type Balance } from './listener.js';
import { Metrics, type MetricsSources } from './metrics.js';
import { VERSION } from './version.js';
import { addRoute } from '../dataplane/routes.js';
import { rateLimitFeature } from '../session/features/rate-limit.js';
import { framedRoutesFeature, type AddRoute } from '../session/features/framed-routes.js';
import { timeoutsFeature } from '../session/features/timeouts.js';
import { accountingFeature } from '../session/features/accounting.js';
import { metricsFeature } from '../session/features/metrics.js';
import { processQueueBudget } from '../session/queue-budget.js';
import { scriptsFeature } from '../session/features/scripts.js';
import { runScript } from '../dataplane/scripts.js';
import { sessionIdNode } from '../radius/session-id.js';
import { primaryRadius, remoteAdmission, type SharedState, type WorkerPeer } from './worker.js';

/** An extended script that runs longer than this is killed (its session goes on, or is refused for on-pre-up). */
export const SCRIPT_TIMEOUT_MS = 30_000;

/** Component tests: fake TUN devices, interface calls and routes instead of the kernel's. */
export interface SessionIo extends Pick<SessionEnv, 'openTun' | 'configureInterface' | 'ipv6Interface'> {
  readonly addRoute?: AddRoute;
  /** The interface cache's reset steps (fake devices must not reset the host's interfaces). */
  readonly interfaceReset?: InterfaceCacheDeps;
}

export interface DaemonOptions {
  readonly source: { file: string } | { text: string; baseDir: string };
  readonly stateDir: string;
  readonly log: Logger;
  /** Bind address; default all IPv4+IPv6 addresses. */
  readonly host?: string;
  /** Enforces rate limits; without one, a session that must be limited is refused. */
  readonly shaper?: Shaper;
  /** Component tests: fake TUN devices and routes instead of the kernel's. */
  readonly sessionIo?: SessionIo;
  /** A worker process of a primary (src/server/primary.ts): shared state, control, DAE are the primary's. */
  readonly worker?: WorkerRole;
}

export interface WorkerRole {
  readonly slot: number;
  /** How many workers share the node (each keeps its share of `interface-cache`). */
  readonly workers: number;
  readonly peer: WorkerPeer;
  readonly shared: SharedState;
  /** The primary's number for the first generation. */
  readonly generation: number;
  /** `reuseport`: this process binds and accepts on its own socket of the port. */
  readonly balance: Balance;
}

/** A hard cap on simultaneous connections (each costs memory before it authenticates). */
const MAX_CONNECTIONS = 20_000;
/** How long SIGTERM waits for clients to acknowledge the goodbye before exiting anyway. */
const DRAIN_MS = 3_000;
/** How long SIGTERM waits for the Accounting-Off after the Stops (a dead server must not hold the exit). */
export const ACCT_OFF_MS = 5_000;
/** The most SIGTERM waits for Accounting-Stops beyond every server's timeout × max-try. */
const MAX_ACCT_DRAIN_MS = 65_000;

/** How long a clean shutdown waits for its Accounting-Stops: every server's retry budget, bounded. */
export function acctDrainBudgetMs(rt: Runtime): number {
  const r = rt.radius?.client;
  return r ? Math.min(MAX_ACCT_DRAIN_MS, r.timeoutMs * r.maxTry * Math.max(1, r.servers.length) + 1000) : 10_000;
}

export class Daemon {
  private runtime!: Runtime;
  /** What sessions accepted now get: the current generation's policy, backend and features. */
  private sessionEnv!: SessionEnv;
  private listener: Listener | undefined;
  private controlServer: NetServer | undefined;
  readonly registry = new SessionRegistry();
  private addresses!: AddressBook;
  private prefixes!: Ipv6PrefixBook;
  private readonly shaper = new TcShaper();
  /** `ppp-options interface-cache`: one cache for every generation (a reload resizes it). */
  private readonly interfaceCache: InterfaceCache;
  private readonly startedAt = Date.now();
  private readonly sockets = new Set<Socket>();
  private readonly counters = { accepted: 0, tlsFailed: 0, proxyRefused: 0, limitRefused: 0, sessionsEnded: 0 };
  private stopping = false;
  /** The logger's level as made (CLI: $SSTPD_LOG_LEVEL or info): what a config without `log level` gets. */
  private readonly baseLogLevel: string;
  private readonly radius: RadiusService;

  /** Prometheus metrics; the endpoint serves only when the configuration asks for it. */
  readonly metrics: Metrics;

  constructor(private readonly opts: DaemonOptions) {
    this.baseLogLevel = opts.log.level;
    this.interfaceCache = new InterfaceCache(0, opts.sessionIo?.interfaceReset);
    const w = opts.worker;
    this.radius = new RadiusService(registryTargets(this.registry), opts.log, w ? { via: primaryRadius(w.peer), dae: false } : {});
    this.metrics = new Metrics(
      {
        version: VERSION,
        sessions: () => this.sessions(),
        endedTraffic: () => this.registry.endedTraffic(),
        drops: () => this.registry.dropTotals(),
        connections: () => ({ open: this.sockets.size, accepted: this.counters.accepted, tlsFailed: this.counters.tlsFailed, proxyRefused: this.counters.proxyRefused }),
        pools: () => (opts.worker ? [] : poolMetrics(this.addresses, this.prefixes)),
        // A worker's pools and RADIUS traffic are the primary's: it reports them.
        radius: () => (this.runtime?.radius && !opts.worker ? this.radius : undefined),
        queueBudget: processQueueBudget,
      },
      opts.log,
    );
  }

  get log(): Logger {
    return this.opts.log;
  }

  /** Builds the first generation; throws ConfigError before anything binds. */
  async start(): Promise<void> {
    const w = this.opts.worker;
    this.runtime = await loadRuntime(this.opts.source, { radius: this.radius, log: this.log, ...(w ? { generation: w.generation } : {}) });
    applyLogLevel(this.log, this.runtime.config.logLevel, this.baseLogLevel);
    this.shaper.setFwmark(this.runtime.config.shaperFwmark);
    await this.radius.configure(this.runtime.radius);
    this.setBooks(this.runtime);
    this.sessionEnv = this.envFor(this.runtime);
    void this.interfaceCache.resize(this.cacheShare(this.runtime));
    if (w) {
      // The primary cleaned up before it started the workers, and owns the control socket.
      await this.listen(this.runtime);
      this.log.info({ port: this.runtime.config.port, generation: this.runtime.generation }, 'worker-listening');
      return;
    }
    const removed = [...(await cleanupStaleInterfaces('sstp')), ...(await cleanupStaleShapers('sstp').catch(() => []))];
    if (removed.length > 0) this.log.info({ removed }, 'stale-interfaces-removed');
    this.controlServer = await startControl(this.opts.stateDir, (req) => this.control(req));
    await this.listen(this.runtime);
    await this.metrics.serve(this.runtime.config.metrics);
    // The back end may still hold sessions of an earlier run that ended without Stops (a crash).
    if (this.runtime.radius) void this.radius.accountingOnOff(this.runtime.radius, true);
    this.log.info(
      { port: this.runtime.config.port, generation: this.runtime.generation, auth: this.runtime.config.authMode, users: this.runtime.config.localUsers.size },
      'listening',
    );
    if (!this.opts.worker) warnConfig(this.log, this.runtime);
  }

  /**
   * `interface-cache N` is the node's total (accel-ppp's unit-cache is one for all its threads):
   * each worker keeps its share, since a worker's interfaces die with it.
   */
  private cacheShare(rt: Runtime): number {
    const n = rt.config.ppp.interfaceCache ?? 0;
    const w = this.opts.worker;
    return w ? Math.ceil(n / w.workers) : n;
  }

  /** The pools: this process's own, or (a worker) the primary's behind reservations. */
  private setBooks(rt: Runtime): void {
    const shared = this.opts.worker?.shared;
    if (shared) {
      shared.configure(rt);
      this.addresses = shared.addresses;
      this.prefixes = shared.prefixes;
    } else if (this.addresses) {
      this.addresses.reconfigure(rt.pools, rt.config.defaultIpv4Pool);
      this.prefixes.reconfigure(rt.ipv6Pools);
    } else {
      this.addresses = new AddressBook(rt.pools, rt.config.defaultIpv4Pool);
      this.prefixes = new Ipv6PrefixBook(rt.ipv6Pools);
    }
  }

  private async listen(rt: Runtime): Promise<void> {
    const w = this.opts.worker;
    const listener = new Listener(
      rt.listener,
      this.log,
      this.counters,
      (c) => this.accept(c),
      MAX_CONNECTIONS,
      () => this.registry.startingCount(),
      w ? remoteAdmission(w.peer) : undefined,
    );
    await listener.listen(rt.config.port, this.opts.host, w?.balance === 'reuseport');
    this.listener?.close();
    this.listener = listener;
  }

  private accept(c: AcceptedConnection): void {
    const socket = c.socket;
    if (this.stopping) return void socket.destroy();
    this.sockets.add(socket);
    socket.once('close', () => {
      this.sockets.delete(socket);
      this.counters.sessionsEnded++;
    });
    new SessionDriver(socket, this.sessionEnv, c);
  }

  /**
   * A generation's session environment. Its features are what every session runs, in this order:
   * the rate limit first (a CoA it refuses changes nothing else; it must hold before traffic),
   * then Framed-Route, Session-/Idle-Timeout, RADIUS accounting for a RADIUS generation, and the
   * metrics' session events.
   */
  private envFor(rt: Runtime): SessionEnv {
    const { addRoute: fakeRoute, interfaceReset: _reset, ...io } = this.opts.sessionIo ?? {};
    return {
      generation: rt.generation,
      policy: rt.policy,
      auth: rt.auth,
      addresses: this.addresses,
      prefixes: this.prefixes,
      registry: this.registry,
      log: this.log,
      // cluster13: session ids carry the NAS identity, so nodes sharing a RADIUS back end never collide.
      ...(rt.radius ? { sidNode: sessionIdNode(rt.radius.nas) } : {}),
      interfaceCache: this.interfaceCache,
      ...io,
      ...(this.opts.worker ? { shared: this.opts.worker.shared } : {}),
      features: [
        rateLimitFeature(this.opts.shaper ?? this.shaper),
        framedRoutesFeature(fakeRoute ?? addRoute),
        timeoutsFeature(),
        ...(rt.config.extendedScripts
          ? [scriptsFeature(rt.config.extendedScripts, rt.policy.gateway, (path, args, env) => runScript(path, args, env, SCRIPT_TIMEOUT_MS))]
          : []),
        ...(rt.radius ? [accountingFeature(this.radius.accountingFor(rt.radius))] : []),
        metricsFeature(this.metrics),
      ],
    };
  }

  /**
   * SIGHUP: build the next generation beside the current one; keep the current one on error. A
   * worker is given the text the primary validated, and its generation number.
   */
  async reload(from?: { readonly source: DaemonOptions['source']; readonly generation: number }): Promise<boolean> {
    let next: Runtime;
    try {
      next = await loadRuntime(from?.source ?? this.opts.source, { radius: this.radius, log: this.log, ...(from ? { generation: from.generation } : {}) });
      await this.radius.configure(next.radius);
    } catch (err) {
      const reason = err instanceof ConfigError ? err.message : String(err);
      this.log.error({ reason }, 'config-reload-failed');
      return false;
    }
    try {
      if (next.config.port !== this.runtime.config.port) await this.listen(next);
      // New connections get the new certificate and PROXY settings; live sessions keep theirs.
      else this.listener?.setPolicy(next.listener);
    } catch (err) {
      this.log.error({ reason: `cannot apply: ${String(err)}` }, 'config-reload-failed');
      return false;
    }
    try {
      if (!this.opts.worker) await this.metrics.serve(next.config.metrics);
    } catch (err) {
      // The VPN itself is reconfigured; only the metrics endpoint could not move.
      this.log.error({ reason: `metrics endpoint: ${String(err)}` }, 'metrics-error');
    }
    this.setBooks(next);
    this.runtime = next;
    applyLogLevel(this.log, next.config.logLevel, this.baseLogLevel);
    this.shaper.setFwmark(next.config.shaperFwmark);
    this.sessionEnv = this.envFor(next);
    void this.interfaceCache.resize(this.cacheShare(next));
    this.log.info({ generation: next.generation, users: next.config.localUsers.size, port: next.config.port }, this.opts.worker ? 'worker-config-reloaded' : 'config-reloaded');
    if (!this.opts.worker) warnConfig(this.log, next);
    return true;
  }

  /** SIGTERM: every session gets a PPP Terminate and an SSTP Call Disconnect, then we exit. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.listener?.close();
    // Interfaces of the sessions ending now are deleted, not cached; the cached ones go too.
    const uncached = this.interfaceCache.resize(0);
    const live = this.registry.all();
    const released = Promise.all(live.map((s) => s.terminate('nas-reboot', 'server shutting down')));
    const deadline = Date.now() + DRAIN_MS;
    while (this.sockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const s of this.sockets) s.destroy();
    await Promise.all([released, uncached]);
    // No Accounting-Stop is lost on a clean shutdown: wait for them (bounded by the retry budget).
    const unanswered = await this.radius.drainStops(acctDrainBudgetMs(this.runtime));
    if (unanswered > 0) this.log.warn({ unanswered }, 'acct-stops-lost');
    // After the Stops: the NAS is going away cleanly, nothing of it is left open (the primary's, with workers).
    if (this.runtime.radius && !this.opts.worker) await this.radius.accountingOnOff(this.runtime.radius, false, ACCT_OFF_MS);
    this.radius.close();
    this.controlServer?.close();
    await this.metrics.close();
    this.log.info({ sessions: live.length }, this.opts.worker ? 'worker-stopped' : 'stopped');
  }

  /** Connections not handed on yet plus sessions not active yet (what max-concurrent-sessions counts). */
  startingCount(): number {
    return (this.listener?.pendingCount ?? 0) + this.registry.startingCount();
  }

  sessions(): SessionInfo[] {
    return this.registry.all().map((s) => s.info());
  }

  /** An sstpctl request (a worker gets them from the primary, which merges the answers). */
  async control(req: ControlRequest): Promise<ControlReply> {
    const args = req.args ?? [];
    switch (req.cmd) {
      case 'show-sessions':
        return { ok: true, data: this.sessions() };
      case 'show-statistics':
        return { ok: true, data: this.statistics() };
      case 'terminate': {
        const [by, value] = args;
        if (by !== 'username' && by !== 'ifname' && by !== 'sid' && by !== 'ip' && by !== 'all') {
          return { ok: false, error: 'terminate: expected username|ifname|sid|ip <value> or all' };
        }
        if (by !== 'all' && value === undefined) return { ok: false, error: `terminate ${by}: value missing` };
        const hit = this.registry.find(by, value);
        for (const s of hit) s.terminate('admin-reset', `terminated by operator (${by}${value ? ' ' + value : ''})`);
        return { ok: true, data: { terminated: hit.map((s) => s.sid) } };
      }
      case 'set-rate-limit':
        return this.setRateLimit(args);
      case 'reload':
        return (await this.reload()) ? { ok: true, data: { generation: this.runtime.generation } } : { ok: false, error: 'reload failed; see the log' };
      default:
        return { ok: false, error: `unknown command ${req.cmd}` };
    }
  }

  /** `set rate-limit BY VALUE DOWN/UP|none`: the operator's way into the path RADIUS CoA uses. */
  private async setRateLimit(args: readonly string[]): Promise<ControlReply> {
    const [by, value, limit] = args;
    if ((by !== 'username' && by !== 'ifname' && by !== 'sid' && by !== 'ip') || value === undefined || limit === undefined) {
      return { ok: false, error: 'set rate-limit: expected username|ifname|sid|ip <value> <down>/<up>|none' };
    }
    const m = /^(\d+)\/(\d+)$/.exec(limit);
    const kbit = (x: string): number => Number(x);
    if (limit !== 'none' && (!m || [m[1]!, m[2]!].some((x) => kbit(x) < 1 || kbit(x) > 10_000_000))) {
      return { ok: false, error: `set rate-limit: "${limit}" is not <down>/<up> in kbit/s (1..10000000) or none` };
    }
    const rate = m ? { downloadKbit: kbit(m[1]!), uploadKbit: kbit(m[2]!) } : undefined;
    const hit = this.registry.find(by, value);
    try {
      await Promise.all(hit.map((s) => s.setRateLimit(rate)));
    } catch (err) {
      return { ok: false, error: `set rate-limit: ${err instanceof Error ? err.message : String(err)}` };
    }
    return { ok: true, data: { changed: hit.map((s) => s.sid) } };
  }

  statistics(): Record<string, unknown> {
    const all = this.sessions();
    const mem = process.memoryUsage();
    const cpu = process.cpuUsage();
    const up = (Date.now() - this.startedAt) / 1000;
    return {
      uptimeS: Math.round(up),
      cpuPercent: Math.round(((cpu.user + cpu.system) / 1e6 / Math.max(up, 1)) * 1000) / 10,
      rssKiB: Math.round(mem.rss / 1024),
      virtKiB: virtualKiB(),
      heapUsedKiB: Math.round(mem.heapUsed / 1024),
      generation: this.runtime.generation,
      sessions: {
        starting: all.filter((s) => s.state === 'starting').length,
        active: all.filter((s) => s.state === 'active').length,
        finishing: all.filter((s) => s.state === 'finishing').length,
      },
      connections: { open: this.sockets.size, accepted: this.counters.accepted, tlsFailed: this.counters.tlsFailed, proxyRefused: this.counters.proxyRefused },
      /** Data packets dropped by the sessions' data gates since start (forged source, MPPE rules, …). */
      drops: this.registry.dropTotals(),
    };
  }
}

/** Pool sizes and use for the metrics. */
export function poolMetrics(addresses: AddressBook | undefined, prefixes: Ipv6PrefixBook | undefined): ReturnType<MetricsSources['pools']> {
  return [
    ...(addresses?.poolStats() ?? []).map((p) => ({ family: 'ipv4' as const, ...p })),
    ...(prefixes?.poolStats() ?? []).map((p) => ({ family: 'ipv6' as const, ...p })),
  ];
}

/** The process's virtual size (accel-cmd shows rss/virt), from /proc; 0 where there is none. */
function virtualKiB(): number {
  try {
    const m = /^VmSize:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}
