/**
 * Prometheus metrics (prom-client): what an operator graphs and alerts on. One `sstpd_` prefix,
 * base units, `_total` on counters. No per-user or per-session label anywhere (cardinality: a
 * label value per user would grow without bound); per-session detail stays in `sstpctl`.
 *
 * Most values are read when Prometheus scrapes (`collect`), from the state the daemon keeps anyway
 * (registry, pools, RADIUS client, listener counters): nothing is added to the data path. The only
 * counters kept here are events nothing else counts: setups by method and result, session ends by
 * cause.
 *
 * The HTTP endpoint is off by default; `set vpn sstp metrics listen-address/port` turns it on.
 */
import { createServer, type Server } from 'node:http';
import { AggregatorRegistry, Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from '../common/log.js';
import { DROP_REASONS, type DropCounters } from '../ppp/data-gate.js';
import type { SessionInfo } from '../session/registry.js';
import type { RadiusServerStats } from '../radius/client.js';

/** What the daemon exposes to the collectors, read at scrape time. */
export interface MetricsSources {
  readonly version: string;
  sessions(): readonly SessionInfo[];
  /** Traffic of sessions that are gone (live ones are summed from `sessions()`). */
  endedTraffic(): Readonly<Traffic>;
  /** Data-gate drops since start, ended sessions included. */
  drops(): Readonly<DropCounters>;
  connections(): { readonly open: number; readonly accepted: number; readonly tlsFailed: number; readonly proxyRefused: number };
  pools(): readonly { readonly family: 'ipv4' | 'ipv6'; readonly name: string; readonly size: number; readonly used: number }[];
  radius(): RadiusMetricsSource | undefined;
  /** The outbound queues' process-wide budget (session/queue-budget.ts); none where no session runs. */
  queueBudget(): { readonly used: number; readonly limit: number } | undefined;
}

export interface Traffic {
  rxBytes: number;
  txBytes: number;
  rxPackets: number;
  txPackets: number;
}

export interface RadiusMetricsSource {
  serverStats(): ReadonlyMap<string, Readonly<RadiusServerStats>>;
  readonly stopsPending: number;
  readonly stopsLost: number;
  readonly daeVerdicts: Readonly<Record<string, Readonly<Record<string, number>>>>;
}

export type SetupResult = 'success' | 'failure';

/** A registry's content as prom-client's getMetricsAsJSON gives it (what workers send the primary). */
export type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

export class Metrics {
  readonly registry = new Registry();
  private readonly setups: Counter<'method' | 'result'>;
  private readonly ends: Counter<'cause'>;
  private server: Server | undefined;
  private bound = '';
  /** One pass over the live sessions per scrape (every collector of a scrape runs in one turn). */
  private scraped: { readonly sessions: readonly SessionInfo[]; readonly traffic: Traffic } | undefined;

  /**
   * `workers`: the primary of worker processes adds every worker's metrics to its own on each
   * scrape (summed; prom-client's cluster aggregation, each metric by its `aggregator`).
   */
  constructor(
    private readonly src: MetricsSources,
    private readonly log: Logger,
    private readonly workers?: () => Promise<MetricsJson[]>,
  ) {
    const r = this.registry;
    collectDefaultMetrics({ register: r, prefix: 'sstpd_' });
    // prom-client names these gauges `*_total`, which Prometheus reserves for counters (promtool
    // rejects them); their per-type breakdowns (`sstpd_nodejs_active_handles` …) stay.
    for (const m of ['active_handles_total', 'active_requests_total', 'active_resources_total']) r.removeSingleMetric(`sstpd_nodejs_${m}`);
    new Gauge({ name: 'sstpd_build_info', help: 'Build information (always 1).', labelNames: ['version', 'nodejs'], registers: [r], aggregator: 'first' })
      .labels(src.version, process.version)
      .set(1);
    this.setups = new Counter({ name: 'sstpd_setups_total', help: 'Authentications finished, by method and result.', labelNames: ['method', 'result'], registers: [r] });
    this.ends = new Counter({ name: 'sstpd_session_ends_total', help: 'Sessions ended, by cause (RADIUS Acct-Terminate-Cause names).', labelNames: ['cause'], registers: [r] });
    this.sessionGauges(r);
    this.trafficCounters(r);
    this.connectionCounters(r);
    this.poolGauges(r);
    this.queueGauges(r);
    this.radiusMetrics(r);
  }

  /** An authentication finished (any method, local or RADIUS). */
  setup(method: string, result: SetupResult): void {
    this.setups.labels(method, result).inc();
  }

  /** A session ended with this cause. */
  ended(cause: string): void {
    this.ends.labels(cause).inc();
  }

  /** Serves GET /metrics on address:port; rebinds when they change; undefined stops serving. */
  async serve(at: { readonly address: string; readonly port: number } | undefined): Promise<void> {
    const key = at ? `${at.address}:${at.port}` : '';
    if (key === this.bound) return;
    await this.close();
    if (!at) return;
    const server = createServer((req, res) => {
      if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics\n');
        return;
      }
      this.render().then(
        (text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${String(err)}\n`),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: at.address, port: at.port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.log.error({ err: err.message }, 'metrics-error'));
    this.server = server;
    this.bound = key;
    this.log.info({ address: at.address, port: at.port }, 'metrics-listening');
  }

  /** The exposition text: ours, or with workers ours and theirs summed. */
  private async render(): Promise<string> {
    if (!this.workers) return this.registry.metrics();
    const all = [await this.registry.getMetricsAsJSON(), ...(await this.workers())];
    return AggregatorRegistry.aggregate(all).metrics();
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    this.bound = '';
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }

  /** The live sessions and the traffic totals, read once per scrape and forgotten after it. */
  private scrape(): { readonly sessions: readonly SessionInfo[]; readonly traffic: Traffic } {
    if (this.scraped) return this.scraped;
    const sessions = this.src.sessions();
    const traffic = { ...this.src.endedTraffic() };
    for (const s of sessions) {
      traffic.rxBytes += s.rxBytes;
      traffic.txBytes += s.txBytes;
      traffic.rxPackets += s.rxPackets;
      traffic.txPackets += s.txPackets;
    }
    this.scraped = { sessions, traffic };
    queueMicrotask(() => (this.scraped = undefined));
    return this.scraped;
  }

  private sessionGauges(r: Registry): void {
    const scrape = (): ReturnType<Metrics['scrape']> => this.scrape();
    new Gauge({
      name: 'sstpd_sessions',
      help: 'Sessions by state: starting (not up yet), active (an interface is up), finishing.',
      labelNames: ['state'],
      registers: [r],
      collect() {
        const n = { starting: 0, active: 0, finishing: 0 };
        for (const s of scrape().sessions) n[s.state]++;
        for (const [k, v] of Object.entries(n)) this.labels(k).set(v);
      },
    });
  }

  private trafficCounters(r: Registry): void {
    const src = this.src;
    const total = (): Traffic => this.scrape().traffic;
    // rx = from the clients, tx = to the clients (as sstpctl and RADIUS accounting count).
    const counter = (name: string, help: string, pick: (t: Traffic) => number): void => {
      new Counter({
        name,
        help,
        registers: [r],
        collect() {
          this.reset();
          this.inc(pick(total()));
        },
      });
    };
    counter('sstpd_receive_bytes_total', 'IP bytes received from clients (written to the session interfaces).', (t) => t.rxBytes);
    counter('sstpd_transmit_bytes_total', 'IP bytes sent to clients.', (t) => t.txBytes);
    counter('sstpd_receive_packets_total', 'IP packets received from clients.', (t) => t.rxPackets);
    counter('sstpd_transmit_packets_total', 'IP packets sent to clients.', (t) => t.txPackets);
    new Counter({
      name: 'sstpd_dropped_packets_total',
      help: 'Data packets the data gate dropped, by reason (source = forged source address, mppe = clear IP while MPPE runs, …).',
      labelNames: ['reason'],
      registers: [r],
      collect() {
        this.reset();
        const d = src.drops();
        for (const reason of DROP_REASONS) this.labels(reason).inc(d[reason]);
      },
    });
  }

  private connectionCounters(r: Registry): void {
    const src = this.src;
    new Gauge({ name: 'sstpd_connections_open', help: 'TCP connections open (sessions and handshakes).', registers: [r], collect() {
      this.set(src.connections().open);
    } });
    const counter = (name: string, help: string, pick: (c: ReturnType<MetricsSources['connections']>) => number): void => {
      new Counter({ name, help, registers: [r], collect() {
        this.reset();
        this.inc(pick(src.connections()));
      } });
    };
    counter('sstpd_connections_accepted_total', 'Connections that completed TLS (or came in plain behind a TLS proxy).', (c) => c.accepted);
    counter('sstpd_tls_handshake_failures_total', 'TLS handshakes that failed or timed out.', (c) => c.tlsFailed);
    counter('sstpd_proxy_refused_total', 'Connections refused by the PROXY protocol checks (untrusted source, bad or missing header).', (c) => c.proxyRefused);
  }

  private poolGauges(r: Registry): void {
    const src = this.src;
    new Gauge({ name: 'sstpd_pool_size', help: 'Addresses (IPv4) or prefixes (IPv6) a pool can hand out.', labelNames: ['family', 'pool'], registers: [r], collect() {
      this.reset();
      for (const p of src.pools()) this.labels(p.family, p.name).set(p.size);
    } });
    new Gauge({ name: 'sstpd_pool_used', help: 'Addresses or prefixes of a pool leased to sessions.', labelNames: ['family', 'pool'], registers: [r], collect() {
      this.reset();
      for (const p of src.pools()) this.labels(p.family, p.name).set(p.used);
    } });
  }

  /** With workers, summed: what all of them hold and may hold (the primary has no queues: 0). */
  private queueGauges(r: Registry): void {
    const src = this.src;
    new Gauge({ name: 'sstpd_queue_budget_used_bytes', help: 'Bytes of memory the sessions\' outbound queues (FQ-CoDel) hold, all sessions together: the buffers their packets wait in.', registers: [r], collect() {
      this.set(src.queueBudget()?.used ?? 0);
    } });
    new Gauge({ name: 'sstpd_queue_budget_limit_bytes', help: 'What the outbound queues may hold together (SSTPD_QUEUE_BUDGET per process) before a session drops from its own fattest flow.', registers: [r], collect() {
      this.set(src.queueBudget()?.limit ?? 0);
    } });
  }

  private radiusMetrics(r: Registry): void {
    const src = this.src;
    const perServer = (name: string, help: string, pick: (s: Readonly<RadiusServerStats>) => number): void => {
      new Counter({ name, help, labelNames: ['server'], registers: [r], collect() {
        this.reset();
        for (const [server, s] of src.radius()?.serverStats() ?? []) this.labels(server).inc(pick(s));
      } });
    };
    perServer('sstpd_radius_requests_total', 'RADIUS requests sent to a server (first transmissions).', (s) => s.requests);
    perServer('sstpd_radius_retransmits_total', 'RADIUS retransmissions to a server.', (s) => s.retransmits);
    perServer('sstpd_radius_replies_total', 'Valid RADIUS replies from a server.', (s) => s.replies);
    perServer('sstpd_radius_timeouts_total', 'Requests that ran out of max-try on a server.', (s) => s.timeouts);
    perServer('sstpd_radius_failovers_total', 'Requests moved from a server to the next after a timeout.', (s) => s.failovers);
    perServer('sstpd_radius_replies_dropped_total', 'Replies from a server that were dropped (bad authenticator, unknown Identifier, …).', (s) => s.dropped);
    new Gauge({ name: 'sstpd_accounting_stops_pending', help: 'Accounting-Stop requests not answered yet.', registers: [r], collect() {
      this.set(src.radius()?.stopsPending ?? 0);
    } });
    new Counter({ name: 'sstpd_accounting_stops_lost_total', help: 'Accounting-Stop requests no server answered.', registers: [r], collect() {
      this.reset();
      this.inc(src.radius()?.stopsLost ?? 0);
    } });
    new Counter({ name: 'sstpd_dae_requests_total', help: 'RFC 5176 Disconnect/CoA requests, by kind and verdict (ack, nak, dropped).', labelNames: ['kind', 'verdict'], registers: [r], collect() {
      this.reset();
      for (const [kind, verdicts] of Object.entries(src.radius()?.daeVerdicts ?? {})) {
        for (const [verdict, n] of Object.entries(verdicts)) this.labels(kind, verdict).inc(n);
      }
    } });
  }
}
