/**
 * The primary process of `sstpd --workers N` (N ≥ 2): it runs no session. It validates the
 * configuration, starts N worker processes (node:cluster) and keeps what they share whole. The
 * port (listener.ts `Balance`): `reuseport`, each worker binds its own SO_REUSEPORT socket and the
 * kernel spreads connections; `round-robin`, the socket is ours and cluster deals connections out.
 * What they share:
 *   - the IPv4 and IPv6 pools (a worker reserves a session's leases in one round trip),
 *   - one session per user (a claim ends the user's sessions in other workers first),
 *   - admission: max-concurrent-sessions and per-address `limits` over all workers,
 *   - accounting: every Accounting-Request goes out from here, so each session has exactly one
 *     Stop: the worker's, or after the worker died, ours from the last counters it reported,
 *   - the operator's view (sstpctl: fan-out, a `worker` field per session), Disconnect/CoA
 *     (routed to the worker that holds the session; NAK 503 when none does), SIGHUP, SIGTERM.
 * A worker that dies is replaced in its slot; its sessions' leases and claims are freed, and
 * every other worker's sessions go on.
 */
import cluster, { type Worker } from 'node:cluster';
import { createServer, type Server as NetServer } from 'node:net';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { AddressBook } from '../ip/pool.js';
import { Ipv6PrefixBook } from '../ip/pool6.js';
import { formatPrefix6, type Prefix6 } from '../ip/ipv6-addr.js';
import { cleanupStaleInterfaces } from '../dataplane/iface.js';
import { cleanupStaleShapers } from '../dataplane/shaper.js';
import { applyLogLevel, type Logger } from '../common/log.js';
import { monotonicNow } from '../common/time.js';
import { ConfigError } from '../common/errors.js';
import { ACCT_STATUS } from '../radius/attributes.js';
import { CODE } from '../radius/packet.js';
import { acctRequestKind, stopFromStart } from '../radius/acct-recovery.js';
import type { RadiusOutcome, RadiusRequest, RequestAttribute } from '../radius/client.js';
import type { DaeSession } from '../radius/dae.js';
import { loadRuntime, warnConfig, type Runtime } from './runtime.js';
import { withNodeFlags } from '../common/node-flags.js';
import { startControl, type ControlReply, type ControlRequest } from './control.js';
import { RadiusService, type DaeTargets } from './radius.js';
import { Metrics } from './metrics.js';
import { asBuffer } from './worker.js';
import { VERSION } from './version.js';
import { DROP_REASONS, type DropCounters } from '../ppp/data-gate.js';
import { ACCT_OFF_MS, acctDrainBudgetMs, poolMetrics } from './daemon.js';
import { ConnectionRateLimiter } from './admission.js';
import type { Balance } from './listener.js';
import { RpcPeer, isEnvelope, type CallHandlers, type NoteHandlers, type CounterReport, type Envelope, type PrimaryCalls, type PrimaryNotes, type Reservation, type ReserveRequest, type WorkerCalls, type WorkerInit, type WorkerNotes } from './ipc.js';

type PrimaryPeer = RpcPeer<WorkerCalls, WorkerNotes, PrimaryCalls, PrimaryNotes>;

export interface PrimaryOptions {
  readonly source: { file: string } | { text: string; baseDir: string };
  readonly stateDir: string;
  readonly log: Logger;
  readonly host?: string;
  readonly workers: number;
  readonly balance: Balance;
}

/** How long start waits for every worker to listen. */
const START_MS = 30_000;
/** A worker that dies younger than this is restarted only after a pause (no crash loop at full speed). */
const YOUNG_DEATH_MS = 5_000;
const RESTART_PAUSE_MS = 1_000;
/** How long SIGTERM waits for the workers' drain (theirs includes their Accounting-Stops). */
const WORKER_STOP_MS = 80_000;

interface Slot {
  readonly index: number;
  worker?: Worker;
  peer?: PrimaryPeer;
  ready: boolean;
  /** Bumped on every death: an answer that comes back for an older incarnation is stale. */
  incarnation: number;
  bornAt: number;
  /** The worker's connections not active yet, as it last said (max-concurrent-sessions). */
  starting: number;
  /** Set while the worker starts: called by its `ready` note. */
  onReady?: (() => void) | undefined;
}

/** What a session holds from the shared pools, and where it lives. */
interface Holding {
  readonly slot: number;
  readonly ips: Set<string>;
  readonly prefixes: Map<string, Prefix6>;
}

/** A session whose Accounting-Start was answered and whose Stop has not gone yet. */
interface OpenAccounting {
  readonly slot: number;
  readonly start: readonly RequestAttribute[];
  readonly startedAt: number;
}

const zeroCounters = (sid: string): CounterReport => ({ sid, rxBytes: 0, txBytes: 0, rxPackets: 0, txPackets: 0 });


export class Primary {
  private runtime!: Runtime;
  private source!: WorkerInit['source'];
  private addresses!: AddressBook;
  private prefixes!: Ipv6PrefixBook;
  private limiter: ConnectionRateLimiter | undefined;
  private readonly slots: Slot[] = [];
  private readonly holdings = new Map<string, Holding>();
  /** username → sid → slot. */
  private readonly users = new Map<string, Map<string, number>>();
  private readonly userOf = new Map<string, string>();
  private readonly accounting = new Map<string, OpenAccounting>();
  private readonly counters = new Map<string, CounterReport>();
  /** sid → slot, from the last time the workers were asked for their sessions (DAE routing). */
  private readonly owners = new Map<string, number>();
  private readonly stops = new Set<Promise<RadiusOutcome>>();
  private readonly radius: RadiusService;
  private control: NetServer | undefined;
  private stopping = false;
  private readonly baseLogLevel: string;
  private readonly startedAt = Date.now();
  /** Ours (pools, the Stops we send, DAE, this process) plus every worker's, summed per scrape. */
  readonly metrics: Metrics;

  constructor(private readonly opts: PrimaryOptions) {
    this.baseLogLevel = opts.log.level;
    this.radius = new RadiusService(this.daeTargets(), opts.log);
    const radius = this.radius;
    const stops = this.stops;
    this.metrics = new Metrics(
      {
        version: VERSION,
        sessions: () => [],
        endedTraffic: () => ({ rxBytes: 0, txBytes: 0, rxPackets: 0, txPackets: 0 }),
        drops: () => Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as DropCounters,
        connections: () => ({ open: 0, accepted: 0, tlsFailed: 0, proxyRefused: 0 }),
        pools: () => poolMetrics(this.addresses, this.prefixes),
        radius: () =>
          this.runtime?.radius
            ? { serverStats: () => radius.serverStats(), get stopsPending() { return stops.size; }, get stopsLost() { return radius.stopsLost; }, daeVerdicts: radius.daeVerdicts }
            : undefined,
        // The workers hold the sessions and their queues.
        queueBudget: () => undefined,
      },
      opts.log,
      async () => (await this.fanOut('metrics', {})).map((a) => a.res),
    );
  }

  private get log(): Logger {
    return this.opts.log;
  }

  /** Validates, cleans up, starts every worker; throws (ConfigError first) with nothing left running. */
  async start(): Promise<void> {
    this.source = await readSource(this.opts.source);
    this.runtime = await loadRuntime(this.source, { radius: this.radius, log: this.log });
    applyLogLevel(this.log, this.runtime.config.logLevel, this.baseLogLevel);
    await this.radius.configure(this.runtime.radius);
    this.addresses = new AddressBook(this.runtime.pools, this.runtime.config.defaultIpv4Pool);
    this.prefixes = new Ipv6PrefixBook(this.runtime.ipv6Pools);
    this.setLimiter(this.runtime);
    const removed = [...(await cleanupStaleInterfaces('sstp')), ...(await cleanupStaleShapers('sstp').catch(() => []))];
    if (removed.length > 0) this.log.info({ removed }, 'stale-interfaces-removed');
    if (this.opts.balance === 'reuseport') await this.portFree();
    this.control = await startControl(this.opts.stateDir, (req) => this.handleControl(req));
    // Workers run with sstpd's Node flags even when the primary was started without them.
    cluster.setupPrimary({ serialization: 'advanced', execArgv: withNodeFlags() });
    cluster.on('exit', (w, code, signal) => this.onExit(w, code, signal));
    for (let i = 0; i < this.opts.workers; i++) this.slots.push({ index: i, ready: false, incarnation: 0, bornAt: 0, starting: 0 });
    try {
      await Promise.all(this.slots.map((s) => this.fork(s)));
    } catch (err) {
      this.stopping = true;
      for (const s of this.slots) s.worker?.process.kill('SIGKILL');
      this.control.close();
      this.radius.close();
      await this.metrics.close();
      throw err;
    }
    await this.metrics.serve(this.runtime.config.metrics);
    if (this.runtime.radius) void this.radius.accountingOnOff(this.runtime.radius, true);
    this.log.info(
      { port: this.runtime.config.port, generation: this.runtime.generation, auth: this.runtime.config.authMode, users: this.runtime.config.localUsers.size, workers: this.opts.workers, balance: this.opts.balance },
      'listening',
    );
    warnConfig(this.log, this.runtime);
  }

  /**
   * SO_REUSEPORT lets any process of the same user join the port: another sstpd still running would
   * silently take a share of the connections. A plain bind fails while anything listens there, so
   * one is tried (and closed) before the workers bind theirs.
   */
  private portFree(): Promise<void> {
    const probe = createServer();
    const port = this.runtime.config.port;
    return new Promise<void>((resolveFree, rejectBusy) => {
      probe.once('error', (err: NodeJS.ErrnoException) => rejectBusy(new Error(`port ${port} is in use (${err.code ?? err.message})`)));
      probe.listen({ port, host: this.opts.host, exclusive: true }, () => probe.close(() => resolveFree()));
    });
  }

  private setLimiter(rt: Runtime): void {
    const rl = rt.listener.rateLimit;
    if (rl === undefined) this.limiter = undefined;
    else if (this.limiter) this.limiter.setConfig(rl);
    else this.limiter = new ConnectionRateLimiter(rl);
  }

  /** Starts the worker of a slot; resolves once it listens, rejects if it dies first. */
  private fork(slot: Slot): Promise<void> {
    const worker = cluster.fork({ SSTPD_WORKER_SLOT: String(slot.index) });
    slot.worker = worker;
    slot.ready = false;
    slot.starting = 0;
    slot.bornAt = Date.now();
    const send = (m: Envelope): void => {
      if (worker.isConnected()) worker.send(m);
    };
    const peer: PrimaryPeer = new RpcPeer(send, this.calls(slot), this.notes(slot), (reason) => this.log.warn({ worker: slot.index, reason }, 'ipc-bad-message'));
    slot.peer = peer;
    worker.on('message', (m: unknown) => {
      if (isEnvelope(m)) peer.receive(m);
    });
    worker.on('error', (err) => this.log.warn({ worker: slot.index, err: err.message }, 'worker-ipc-error'));
    return new Promise((resolveReady, rejectReady) => {
      const timer = setTimeout(() => rejectReady(new Error(`worker ${slot.index} did not start within ${START_MS / 1000} s`)), START_MS);
      const onExit = (code: number | null, signal: string | null): void => {
        clearTimeout(timer);
        rejectReady(new Error(`worker ${slot.index} exited while starting (${signal ?? `code ${code}`})`));
      };
      worker.once('exit', onExit);
      slot.onReady = (): void => {
        clearTimeout(timer);
        worker.off('exit', onExit);
        resolveReady();
      };
    });
  }

  /** What a worker may ask. */
  private calls(slot: Slot): Partial<CallHandlers<PrimaryCalls>> {
    return {
      hello: () => ({
        slot: slot.index,
        workers: this.opts.workers,
        source: this.source,
        generation: this.runtime.generation,
        balance: this.opts.balance,
        ...(this.opts.host !== undefined ? { host: this.opts.host } : {}),
      }),
      admit: ({ address, starting }) => this.admit(slot, address, starting),
      reserve: async (r) => {
        await this.claim(slot, r.sid, r.username);
        return this.reserve(slot, r);
      },
      radius: ({ req }) => (req.role === 'acct' ? this.account(slot, req) : this.radius.request({ ...req, attributes: req.attributes.map((a) => ({ ...a, value: asBuffer(a.value) })) })),
    };
  }

  private notes(slot: Slot): Partial<NoteHandlers<PrimaryNotes>> {
    return {
      ready: () => {
        slot.ready = true;
        slot.onReady?.();
        slot.onReady = undefined;
      },
      release: ({ sid, ip, prefix }) => this.release(sid, ip, prefix),
      down: ({ sid }) => this.sessionGone(sid),
      report: ({ sessions }) => {
        for (const c of sessions) this.counters.set(c.sid, c);
      },
    };
  }

  // -------------------------------------------------------------------------------------------
  // Shared state

  private async admit(slot: Slot, address: string | undefined, starting: number): Promise<{ refusal?: string }> {
    if (address !== undefined) {
      return this.limiter && !this.limiter.admit(address, monotonicNow()) ? { refusal: 'connection rate limit' } : {};
    }
    const max = this.runtime.listener.maxStarting ?? 0;
    slot.starting = starting;
    const total = (): number => this.slots.reduce((n, s) => n + (s.ready ? s.starting : 0), 0);
    if (max > 0 && total() >= max) {
      // The others' counts are as of their last question (a connection that went since is still
      // in them): ask them now before refusing.
      await Promise.all(
        this.live()
          .filter((s) => s !== slot)
          .map(async (s) => {
            s.starting = await s.peer!.call('starting', {}).catch(() => s.starting);
          }),
      );
      if (total() >= max) return { refusal: `${max} sessions are starting` };
    }
    // Counted now: the worker's next question brings the true figure.
    slot.starting++;
    return {};
  }

  private holding(slot: Slot, sid: string): Holding {
    let h = this.holdings.get(sid);
    if (!h) {
      h = { slot: slot.index, ips: new Set(), prefixes: new Map() };
      this.holdings.set(sid, h);
    }
    return h;
  }

  private reserve(slot: Slot, r: ReserveRequest): Reservation {
    const out: { -readonly [K in keyof Reservation]: Reservation[K] } = {};
    if (r.ipv4) {
      out.ipv4 = this.addresses.lease(r.sid, r.ipv4.staticIp, r.ipv4.poolName);
      if ('ip' in out.ipv4) this.holding(slot, r.sid).ips.add(out.ipv4.ip);
    }
    if (r.ipv6) {
      const v6 = r.ipv6;
      const take = (kind: 'prefix' | 'delegate'): Reservation['prefix'] => {
        const lease = this.prefixes.lease(r.sid, kind, kind === 'prefix' ? v6.poolName : v6.delegatePoolName);
        if ('prefix' in lease) this.holding(slot, r.sid).prefixes.set(formatPrefix6(lease.prefix), lease.prefix);
        return lease;
      };
      const prefix = take('prefix');
      out.prefix = prefix;
      if (prefix && 'prefix' in prefix && r.ipv6.delegate) out.delegate = take('delegate');
    }
    return out;
  }

  private release(sid: string, ip: string | undefined, prefix: Prefix6 | undefined): void {
    const h = this.holdings.get(sid);
    if (ip !== undefined) {
      this.addresses.release(sid, ip);
      h?.ips.delete(ip);
    }
    if (prefix !== undefined) {
      this.prefixes.release(sid, prefix);
      h?.prefixes.delete(formatPrefix6(prefix));
    }
  }

  /** Everything a session held goes back; its user claim goes. Not its accounting: its Stop decides that. */
  private sessionGone(sid: string): void {
    const h = this.holdings.get(sid);
    if (h) {
      for (const ip of h.ips) this.addresses.release(sid, ip);
      for (const p of h.prefixes.values()) this.prefixes.release(sid, p);
      this.holdings.delete(sid);
    }
    const user = this.userOf.get(sid);
    if (user !== undefined) {
      const m = this.users.get(user);
      m?.delete(sid);
      if (m?.size === 0) this.users.delete(user);
      this.userOf.delete(sid);
    }
    this.counters.delete(sid);
    this.owners.delete(sid);
  }

  /** One session per user: the user's sessions in other workers end (and free their leases) first. */
  private async claim(slot: Slot, sid: string, username: string): Promise<void> {
    // noauth sessions have no user name, so nothing to replace (as in one process and accel-ppp).
    if (username === '') return;
    const held = this.users.get(username) ?? new Map<string, number>();
    // Sessions of the same worker are that worker's to replace (its registry does, as in one process).
    const others = [...held].filter(([s, w]) => s !== sid && w !== slot.index);
    held.set(sid, slot.index);
    this.users.set(username, held);
    this.userOf.set(sid, username);
    await Promise.all(
      others.map(([old, w]) =>
        this.slots[w]?.peer?.call('end-session', { sid: old, cause: 'session-replaced', reason: `replaced by session ${sid}` }).catch(() => undefined),
      ),
    );
  }

  /**
   * An Accounting-Request of a worker's session, sent from here. A Stop is the session's one
   * Stop: the open record goes before it is sent, so a worker that dies now gets none from us.
   */
  private async account(slot: Slot, req: RadiusRequest): Promise<RadiusOutcome> {
    const attributes = req.attributes.map((a) => ({ ...a, value: asBuffer(a.value) }));
    const { status, sid } = acctRequestKind(attributes);
    if (status === ACCT_STATUS.STOP && sid !== undefined) this.accounting.delete(sid);
    const incarnation = slot.incarnation;
    const sent = this.radius.request({ ...req, attributes });
    if (status === ACCT_STATUS.STOP) this.trackStop(sent);
    const outcome = await sent;
    if (status === ACCT_STATUS.START && outcome.ok && sid !== undefined) {
      const open: OpenAccounting = { slot: slot.index, start: attributes, startedAt: Date.now() };
      // The worker died while its Start was out: the session is gone already, its Stop goes now.
      if (slot.incarnation !== incarnation) this.lostStop(sid, open, 'nas-error');
      else this.accounting.set(sid, open);
    }
    return outcome;
  }

  private trackStop(p: Promise<RadiusOutcome>): void {
    this.stops.add(p);
    void p.then((o) => {
      this.stops.delete(p);
      if (!o.ok) this.radius.stopsLost++;
    });
  }

  /** The Stop a dead worker could not send: its Start's identity, the last counters it reported. */
  private lostStop(sid: string, open: OpenAccounting, cause: string): void {
    const now = Date.now();
    const attrs = stopFromStart(open.start, this.counters.get(sid) ?? zeroCounters(sid), Math.floor((now - open.startedAt) / 1000), Math.floor(now / 1000), cause);
    if (!attrs) return;
    const username = this.userOf.get(sid);
    this.log.info({ sid, username, cause }, 'acct-stop-for-lost-session');
    // `ends`: the session's hold on a RADIUS server (its weight share) goes with this Stop.
    const sent = this.radius.request({ role: 'acct', code: CODE.ACCOUNTING_REQUEST, attributes: attrs, session: { id: sid, ends: true } });
    this.trackStop(sent);
    void sent.then((o) => {
      if (!o.ok) this.log.warn({ sid, username, reason: o.reason }, 'acct-stop-failed');
    });
  }

  // -------------------------------------------------------------------------------------------
  // Worker death and replacement

  private onExit(worker: Worker, code: number | null, signal: string | null): void {
    const slot = this.slots.find((s) => s.worker === worker);
    if (!slot) return;
    slot.incarnation++;
    slot.ready = false;
    slot.starting = 0;
    slot.peer?.close(`worker ${slot.index} exited`);
    slot.worker = undefined;
    if (this.stopping) return;
    const lost = [...this.holdings].filter(([, h]) => h.slot === slot.index).map(([sid]) => sid);
    const claimed = [...this.userOf.keys()].filter((sid) => this.users.get(this.userOf.get(sid)!)?.get(sid) === slot.index);
    let stopped = 0;
    for (const [sid, open] of [...this.accounting]) {
      if (open.slot !== slot.index) continue;
      this.accounting.delete(sid);
      this.lostStop(sid, open, 'nas-error');
      stopped++;
    }
    const gone = new Set([...lost, ...claimed]);
    for (const sid of gone) this.sessionGone(sid);
    this.log.error({ worker: slot.index, pid: worker.process.pid, code, signal, sessions: gone.size, acctStops: stopped }, 'worker-died');
    const pause = Date.now() - slot.bornAt < YOUNG_DEATH_MS ? RESTART_PAUSE_MS : 0;
    setTimeout(() => {
      if (this.stopping) return;
      this.fork(slot).then(
        () => this.log.info({ worker: slot.index, pid: slot.worker?.process.pid }, 'worker-replaced'),
        (err: unknown) => this.log.error({ worker: slot.index, err: String(err) }, 'worker-restart-failed'),
      );
    }, pause);
  }

  // -------------------------------------------------------------------------------------------
  // Operator: sstpctl, DAE, SIGHUP, SIGTERM

  private live(): Slot[] {
    return this.slots.filter((s) => s.ready && s.peer);
  }

  /** Asks every live worker; a worker that fails to answer counts as having nothing. */
  private async fanOut<K extends keyof WorkerCalls & string>(op: K, body: WorkerCalls[K]['req']): Promise<{ slot: number; res: WorkerCalls[K]['res'] }[]> {
    const answers = await Promise.all(
      this.live().map((s) =>
        s.peer!.call(op, body).then(
          (res) => ({ slot: s.index, res }),
          () => undefined,
        ),
      ),
    );
    return answers.filter((a): a is { slot: number; res: WorkerCalls[K]['res'] } => a !== undefined);
  }

  private daeTargets(): DaeTargets {
    return {
      sessions: async () => {
        const lists = await this.fanOut('dae-sessions', {});
        const all: DaeSession[] = [];
        for (const { slot, res } of lists) {
          for (const s of res) {
            this.owners.set(s.sid, slot);
            all.push(s);
          }
        }
        return all;
      },
      disconnect: (sid, reason) => {
        void this.ownerPeer(sid)?.call('end-session', { sid, cause: 'admin-reset', reason }).catch(() => undefined);
      },
      reauthorize: async (sid, changes) => {
        const peer = this.ownerPeer(sid);
        if (!peer) throw new Error('no worker holds the session');
        await peer.call('coa', { sid, changes });
      },
    };
  }

  private ownerPeer(sid: string): PrimaryPeer | undefined {
    const slot = this.owners.get(sid);
    return slot !== undefined ? this.slots[slot]?.peer : undefined;
  }

  private async handleControl(req: ControlRequest): Promise<ControlReply> {
    switch (req.cmd) {
      case 'reload':
        return (await this.reload()) ? { ok: true, data: { generation: this.runtime.generation } } : { ok: false, error: 'reload failed; see the log' };
      case 'show-sessions': {
        const answers = await this.fanOut('control', req);
        const rows = answers.flatMap(({ slot, res }) => (res.ok && Array.isArray(res.data) ? (res.data as object[]).map((r) => ({ ...r, worker: slot })) : []));
        return { ok: true, data: rows };
      }
      case 'show-statistics':
        return { ok: true, data: await this.statistics(req) };
      case 'terminate':
      case 'set-rate-limit': {
        const answers = await this.fanOut('control', req);
        const refused = answers.find((a) => !a.res.ok);
        if (refused && !refused.res.ok) return refused.res;
        const key = req.cmd === 'terminate' ? 'terminated' : 'changed';
        const hit = answers.flatMap(({ res }) => (res.ok ? ((res.data as Record<string, string[]>)[key] ?? []) : []));
        return { ok: true, data: { [key]: hit } };
      }
      default:
        return { ok: false, error: `unknown command ${req.cmd}` };
    }
  }

  /** Every worker's statistics summed, plus the primary's own memory; uptime and generation are the primary's. */
  private async statistics(req: ControlRequest): Promise<Record<string, unknown>> {
    const answers = await this.fanOut('control', req);
    let sum: Record<string, unknown> = {};
    for (const { res } of answers) if (res.ok) sum = addNumbers(sum, res.data as Record<string, unknown>);
    const mem = process.memoryUsage();
    return {
      ...sum,
      uptimeS: Math.round((Date.now() - this.startedAt) / 1000),
      rssKiB: Number(sum['rssKiB'] ?? 0) + Math.round(mem.rss / 1024),
      generation: this.runtime.generation,
      workers: { configured: this.opts.workers, live: this.live().length, pids: this.workerPids() },
    };
  }

  /** SIGHUP: validate once here; only then does every worker take the same text as the new generation. */
  async reload(): Promise<boolean> {
    let source: WorkerInit['source'];
    let next: Runtime;
    try {
      source = await readSource(this.opts.source);
      next = await loadRuntime(source, { radius: this.radius, log: this.log });
      await this.radius.configure(next.radius);
    } catch (err) {
      const reason = err instanceof ConfigError ? err.message : String(err);
      this.log.error({ reason }, 'config-reload-failed');
      return false;
    }
    this.source = source;
    this.runtime = next;
    this.addresses.reconfigure(next.pools, next.config.defaultIpv4Pool);
    this.prefixes.reconfigure(next.ipv6Pools);
    this.setLimiter(next);
    applyLogLevel(this.log, next.config.logLevel, this.baseLogLevel);
    try {
      await this.metrics.serve(next.config.metrics);
    } catch (err) {
      this.log.error({ reason: `metrics endpoint: ${String(err)}` }, 'metrics-error');
    }
    const answers = await Promise.all(
      this.live().map((s) =>
        s.peer!.call('reload', { source, generation: next.generation }).then(
          () => true,
          (err: unknown) => {
            this.log.error({ worker: s.index, reason: String(err) }, 'worker-reload-failed');
            return false;
          },
        ),
      ),
    );
    this.log.info({ generation: next.generation, users: next.config.localUsers.size, port: next.config.port, workers: answers.filter(Boolean).length }, 'config-reloaded');
    warnConfig(this.log, next);
    return true;
  }

  /** SIGTERM: every worker drains (goodbyes, its Stops through us), then our Stops and Accounting-Off. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    type Stopped = { slot: number; res: WorkerCalls['stop']['res'] }[];
    const answers: Stopped = await Promise.race([this.fanOut('stop', {}), new Promise<Stopped>((r) => setTimeout(() => r([]), WORKER_STOP_MS))]);
    await Promise.all(this.slots.map((s) => waitExit(s.worker, 2_000)));
    const unanswered = await drain(this.stops, acctDrainBudgetMs(this.runtime));
    if (unanswered > 0) this.log.warn({ unanswered }, 'acct-stops-lost');
    if (this.runtime.radius) await this.radius.accountingOnOff(this.runtime.radius, false, ACCT_OFF_MS);
    this.radius.close();
    this.control?.close();
    await this.metrics.close();
    this.log.info({ sessions: answers.reduce((n, a) => n + a.res.sessions, 0), workers: answers.length }, 'stopped');
  }

  /** Each slot's worker process id (null while it is being replaced). */
  workerPids(): (number | null)[] {
    return this.slots.map((s) => s.worker?.process.pid ?? null);
  }
}

/** The configuration as text, read once, so every worker builds the very generation we validated. */
async function readSource(source: PrimaryOptions['source']): Promise<WorkerInit['source']> {
  if ('text' in source) return source;
  let text: string;
  try {
    text = await readFile(source.file, 'utf8');
  } catch (err) {
    throw new ConfigError([{ path: source.file, message: `configuration file cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}` }]);
  }
  return { text, baseDir: dirname(resolve(source.file)) };
}

function waitExit(worker: Worker | undefined, ms: number): Promise<void> {
  if (!worker || worker.isDead()) return Promise.resolve();
  return new Promise((r) => {
    const t = setTimeout(() => {
      worker.process.kill('SIGKILL');
      r();
    }, ms);
    worker.once('exit', () => {
      clearTimeout(t);
      r();
    });
  });
}

async function drain(stops: Set<Promise<unknown>>, ms: number): Promise<number> {
  if (stops.size === 0) return 0;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.allSettled([...stops]), new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
  return stops.size;
}

/** Sums the numbers of two statistics objects, field by field (nested objects too). */
function addNumbers(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    if (typeof v === 'number') out[k] = (typeof cur === 'number' ? cur : 0) + v;
    else if (typeof v === 'object' && v !== null && !Array.isArray(v)) out[k] = addNumbers((cur as Record<string, unknown>) ?? {}, v as Record<string, unknown>);
    else out[k] = v;
  }
  return out;
}
