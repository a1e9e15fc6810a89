/**
 * The daemon's RADIUS side, which outlives configuration generations: the UDP client (re-bound
 * when `source-address` changes, reconfigured otherwise), per-session accounting with the Stops a
 * clean shutdown waits for, and the Disconnect/CoA listener acting on the session registry.
 */
import { monotonicNow } from '../common/time.js';
import type { Logger } from '../common/log.js';
import type { RadiusRuntime } from './runtime.js';
import type { RadiusOutcome, RadiusRequest, RadiusTransport } from '../radius/client.js';
import { RadiusUdpClient, DaeListener } from '../radius/udp.js';
import { SessionAccounting, accountingOnOffAttributes, type AccountingFactory } from '../radius/accounting.js';
import { CODE } from '../radius/packet.js';
import { randomBytes, randomInt } from 'node:crypto';
import { DaeReplyCache, decideDae, type DaeSession } from '../radius/dae.js';
import { ERROR_CAUSE } from '../radius/attributes.js';
import type { SessionRegistry } from '../session/registry.js';
import type { RadiusServerStats } from '../radius/client.js';
import type { CoaChanges } from '../radius/dae.js';

/**
 * The sessions Disconnect/CoA act on: this process's registry, or (the primary of worker
 * processes) every worker's, asked when a request comes.
 */
export interface DaeTargets {
  sessions(): readonly DaeSession[] | Promise<readonly DaeSession[]>;
  /** Ends the session; false when no process holds it (any more). */
  disconnect(sid: string, reason: string): void;
  /** Rejects (changing nothing) when a change cannot be applied. */
  reauthorize(sid: string, changes: CoaChanges): Promise<void>;
}

/** What DAE can match of the sessions in a registry: only those that are up carry a user name. */
export function daeSessionsOf(registry: SessionRegistry): DaeSession[] {
  return registry.all().map((h) => {
    const i = h.info();
    return {
      sid: i.sid,
      callingSid: i.callingSid,
      // Only sessions that are up are targets (a session still authenticating has no rights yet).
      ...(i.username !== undefined && i.state === 'active' ? { username: i.username } : {}),
      ...(i.ip !== undefined ? { ip: i.ip } : {}),
      ...(i.calledSid !== undefined ? { calledSid: i.calledSid } : {}),
      ...(i.ifname !== undefined ? { ifname: i.ifname } : {}),
      ...(i.nasPort !== undefined ? { nasPort: i.nasPort } : {}),
    };
  });
}

/** DAE on the sessions of this process. */
export function registryTargets(registry: SessionRegistry): DaeTargets {
  return {
    sessions: () => daeSessionsOf(registry),
    disconnect: (sid, reason) => void registry.get(sid)?.terminate('admin-reset', reason),
    reauthorize: async (sid, changes) => {
      const s = registry.get(sid);
      if (!s?.reauthorize) throw new Error('session cannot be changed');
      await s.reauthorize(changes);
    },
  };
}

export interface RadiusServiceOptions {
  /**
   * Worker processes: every request goes out through the primary, so the NAS keeps one view of its
   * servers (failover, fail-time, Identifiers) and the primary alone sends each session's one Stop.
   */
  readonly via?: RadiusTransport;
  /** False in a worker: the primary alone listens for Disconnect/CoA. */
  readonly dae?: boolean;
}

/** What happened to Disconnect/CoA requests since start, by kind and verdict (metrics). */
export type DaeVerdict = 'ack' | 'nak' | 'dropped';
const DAE_KINDS = ['disconnect', 'coa', 'unknown'] as const;
export type DaeKind = (typeof DAE_KINDS)[number];

export class RadiusService implements RadiusTransport {
  private client: RadiusUdpClient | undefined;
  private dae: DaeListener | undefined;
  private daeKey = '';
  private daeConfig: RadiusRuntime | undefined;
  private readonly replies = new DaeReplyCache();
  private readonly stops = new Set<Promise<boolean>>();
  /** Per-server counts of clients replaced by a source-address change, so totals never go back. */
  private readonly carried = new Map<string, RadiusServerStats>();
  /** DAE requests by kind and verdict. */
  readonly daeVerdicts: Record<DaeKind, Record<DaeVerdict, number>> = {
    disconnect: { ack: 0, nak: 0, dropped: 0 },
    coa: { ack: 0, nak: 0, dropped: 0 },
    unknown: { ack: 0, nak: 0, dropped: 0 },
  };
  /** Accounting-Stops given up (no server answered in time, or still out at shutdown). */
  stopsLost = 0;

  constructor(private readonly targets: DaeTargets, private readonly log: Logger, private readonly opts: RadiusServiceOptions = {}) {}

  /** Applies a generation's RADIUS settings (undefined: local mode; live sessions keep the client). */
  async configure(rt: RadiusRuntime | undefined): Promise<void> {
    if (rt && !this.opts.via) await this.configureClient(rt);
    await this.configureDae(rt);
  }

  private async configureClient(rt: RadiusRuntime): Promise<void> {
    if (this.client && this.client.sourceAddress === rt.sourceAddress) return this.client.reconfigure(rt.client);
    const next = await RadiusUdpClient.open(rt.client, rt.sourceAddress, this.log);
    if (this.client) this.carry(this.client.stats);
    this.client?.closeWhenIdle();
    this.client = next;
  }

  private async configureDae(rt: RadiusRuntime | undefined): Promise<void> {
    const want = this.opts.dae === false ? undefined : rt?.dae;
    const key = want ? `${want.address}:${want.port}` : '';
    this.daeConfig = rt;
    if (key === this.daeKey) return;
    this.dae?.close();
    this.dae = undefined;
    this.daeKey = '';
    if (!want) return;
    this.dae = await DaeListener.open(want.address, want.port, (msg, from) => this.onDae(msg, from), this.log);
    this.daeKey = key;
  }

  private carry(stats: ReadonlyMap<string, Readonly<RadiusServerStats>>): void {
    for (const [server, s] of stats) {
      const c = this.carried.get(server) ?? { requests: 0, retransmits: 0, replies: 0, timeouts: 0, failovers: 0, dropped: 0 };
      for (const k of Object.keys(c) as (keyof RadiusServerStats)[]) c[k] += s[k];
      this.carried.set(server, c);
    }
  }

  /** Per RADIUS server, counts since start (metrics). */
  serverStats(): Map<string, RadiusServerStats> {
    const out = new Map<string, RadiusServerStats>();
    for (const [k, v] of this.carried) out.set(k, { ...v });
    for (const [server, s] of this.client?.stats ?? []) {
      const c = out.get(server) ?? { requests: 0, retransmits: 0, replies: 0, timeouts: 0, failovers: 0, dropped: 0 };
      for (const k of Object.keys(c) as (keyof RadiusServerStats)[]) c[k] += s[k];
      out.set(server, c);
    }
    return out;
  }

  /** Accounting-Stops under way (a clean shutdown waits for them). */
  get stopsPending(): number {
    return this.stops.size;
  }

  request(req: RadiusRequest): Promise<RadiusOutcome> {
    if (this.opts.via) return this.opts.via.request(req);
    return this.client ? this.client.request(req) : Promise.resolve({ ok: false, reason: 'RADIUS is not configured' });
  }

  /** Accounting for sessions of a generation: its NAS identity and acct-timeout, our transport. */
  accountingFor(rt: RadiusRuntime): AccountingFactory {
    return (hooks) => {
      const acct = new SessionAccounting({
        transport: this,
        scheduler: {
          after: (ms, fn) => {
            const t = setTimeout(fn, ms);
            return () => clearTimeout(t);
          },
        },
        clock: { monotonic: monotonicNow, wallSeconds: () => Date.now() / 1000 },
        nas: rt.nas,
        acctTimeoutS: rt.acctTimeoutS,
        ...(rt.interimDefaultS !== undefined ? { interimDefaultS: rt.interimDefaultS } : {}),
        ...(rt.interimJitterS !== undefined ? { interimJitterMs: jitterMs(rt.interimJitterS) } : {}),
        trackStop: (p) => {
          this.stops.add(p);
          void p.then((ok) => {
            this.stops.delete(p);
            if (!ok) this.stopsLost++;
          });
        },
        ...hooks,
      });
      return acct;
    };
  }

  /**
   * Accounting-On (`on`, at start) or Accounting-Off (at a clean stop) for this NAS, to every
   * accounting server on its own (each back end must learn it; as accel-ppp does), with the usual
   * retries. A silent server is only logged: this notice does not start its fail-time. Never
   * fails the caller; true when every server answered.
   */
  async accountingOnOff(rt: RadiusRuntime, on: boolean, withinMs?: number): Promise<boolean> {
    const id = randomBytes(8).toString('hex');
    const attributes = accountingOnOffAttributes(on, rt.nas, id, Math.floor(Date.now() / 1000));
    const deadline = withinMs !== undefined ? { deadline: monotonicNow() + withinMs } : {};
    const event = on ? 'acct-on' : 'acct-off';
    const servers = rt.client.servers.filter((s) => s.acctPort > 0);
    const results = await Promise.all(
      servers.map(async (s) => {
        const outcome = await this.request({ role: 'acct', code: CODE.ACCOUNTING_REQUEST, attributes, server: s.address, ...deadline });
        if (outcome.ok) this.log.info({ server: s.address }, event);
        else this.log.warn({ server: s.address, reason: outcome.reason }, `${event}-failed`);
        return outcome.ok;
      }),
    );
    return results.every(Boolean);
  }

  /** Waits for outstanding Accounting-Stops, at most `ms`; returns how many were still out. */
  async drainStops(ms: number): Promise<number> {
    if (this.stops.size === 0) return 0;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((r) => (timer = setTimeout(r, ms)));
    await Promise.race([Promise.allSettled([...this.stops]), timeout]);
    clearTimeout(timer);
    return this.stops.size;
  }

  close(): void {
    this.dae?.close();
    this.dae = undefined;
    this.client?.close();
    this.client = undefined;
  }

  private async onDae(msg: Buffer, from: { address: string; port: number }): Promise<Buffer | undefined> {
    const rt = this.daeConfig;
    if (!rt?.dae) return undefined;
    const src = `${from.address}:${from.port}`;
    const cacheKey = DaeReplyCache.key(src, msg);
    const cached = this.replies.get(monotonicNow(), cacheKey);
    if (cached) return cached;
    const live = await this.targets.sessions();
    const d = decideDae(msg, { secret: rt.dae.secret, nas: rt.nas, ...(rt.rateLimit ? { rateLimit: rt.rateLimit } : {}) }, () => live);
    // RFC 5176 codes: 40 Disconnect-Request, 43 CoA-Request; anything else is counted as unknown.
    const kind: DaeKind = msg[0] === 40 ? 'disconnect' : msg[0] === 43 ? 'coa' : 'unknown';
    const remember = (reply: Buffer, verdict: DaeVerdict): Buffer => {
      this.daeVerdicts[kind][verdict]++;
      this.replies.set(monotonicNow(), cacheKey, reply);
      return reply;
    };
    switch (d.kind) {
      case 'drop':
        this.daeVerdicts[kind].dropped++;
        this.log.warn({ from: src, reason: d.reason }, 'dae-dropped');
        return undefined;
      case 'reply':
        this.log.info({ from: src, reason: d.log }, 'dae-nak');
        return remember(d.reply, 'nak');
      case 'disconnect': {
        this.log.info({ from: src, sid: d.session.sid, username: d.session.username }, 'dae-disconnect');
        this.targets.disconnect(d.session.sid, `Disconnect-Request from ${from.address}`);
        return remember(d.ack, 'ack');
      }
      case 'coa': {
        try {
          await this.targets.reauthorize(d.session.sid, d.changes);
          this.log.info({ from: src, sid: d.session.sid, username: d.session.username }, 'dae-coa');
          return remember(d.ack, 'ack');
        } catch (err) {
          this.log.warn({ from: src, sid: d.session.sid, username: d.session.username, reason: String(err) }, 'dae-coa-failed');
          return remember(d.nak(ERROR_CAUSE.RESOURCES_UNAVAILABLE), 'nak');
        }
      }
    }
  }
}

/** A random 0..jitterS seconds in milliseconds (accel-ppp acct-interim-jitter). */
function jitterMs(jitterS: number): () => number {
  return () => randomInt(jitterS * 1000 + 1);
}
