/**
 * Load generator: one process drives N SSTP sessions against a server, no TUN. Ramp (connects per
 * second), concurrency (setups in flight), hold (all established sessions kept, with keepalives and
 * optional LCP echo RTT samples), then a clean goodbye for each. Reports the setup rate, setup
 * latency (TCP connect → IPCP open) percentiles and failures by cause.
 */
import { createSecureContext, type SecureContext } from 'node:tls';
import { monotonicNow } from '../../common/time.js';
import type { AuthProtocol } from '../../config/model.js';
import type { EchoPolicy } from '../../ppp/lcp/lcp.js';
import { ClientError } from '../errors.js';
import { summarize, type Summary } from '../stats.js';
import { SstpConnection } from './socket.js';

export interface LoadOptions {
  readonly host: string;
  readonly port: number;
  readonly servername?: string;
  readonly ca?: Buffer;
  readonly insecure?: boolean;
  /** Credentials of session i. */
  readonly credentials: (i: number) => { readonly username: string; readonly password: string };
  /** Auth method of session i is cycle[i % length]. */
  readonly authCycle: readonly AuthProtocol[];
  readonly sessions: number;
  /** Setups in flight at once. */
  readonly concurrency: number;
  /** New connects per second; 0 = as fast as concurrency allows. */
  readonly rate: number;
  /** Seconds to keep every established session after the ramp (0 = close each right after setup). */
  readonly holdS: number;
  /** During the hold, one LCP echo per session, spread over the hold (RTT samples). */
  readonly echoSamples?: boolean;
  readonly lcpEcho?: EchoPolicy;
  readonly setupTimeoutMs?: number;
  /** Source addresses to cycle through (more ephemeral ports for 10k+ sessions on loopback). */
  readonly localAddresses?: readonly string[];
  /** Progress lines (ramp done, hold start/end). */
  readonly onEvent?: (event: string, fields: Record<string, number | string>) => void;
}

export interface LoadReport {
  readonly sessions: number;
  readonly established: number;
  readonly failed: number;
  /** First connect → last setup finished (ok or not), seconds. */
  readonly rampS: number;
  /** Established sessions per second of ramp. */
  readonly setupRate: number;
  readonly setupMs: Summary;
  readonly failures: Record<string, number>;
  /** Sessions that went down during the hold, by cause. */
  readonly lost: Record<string, number>;
  readonly echoRttMs?: Summary;
  readonly echoFailures?: number;
  /** Goodbyes that did not finish cleanly. */
  readonly closeErrors: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function failureKey(err: unknown): string {
  if (err instanceof ClientError) return err.code === 'E_CLIENT_TCP' && err.detail ? `${err.code}:${err.detail}` : err.code;
  return err instanceof Error ? err.message : String(err);
}

function bump(m: Record<string, number>, k: string): void {
  m[k] = (m[k] ?? 0) + 1;
}

export async function runLoad(o: LoadOptions): Promise<LoadReport> {
  const live: SstpConnection[] = [];
  const setupMs: number[] = [];
  const failures: Record<string, number> = {};
  const lost: Record<string, number> = {};
  const closing: Promise<unknown>[] = [];
  let closeErrors = 0;
  let inFlight = 0;
  let wake: (() => void) | undefined;
  const secureContext = createSecureContext(o.ca ? { ca: o.ca } : {});
  const t0 = monotonicNow();

  const close = (c: SstpConnection): void => {
    closing.push(c.close(5000).then((e) => void (e.error && closeErrors++)));
  };

  const one = async (i: number): Promise<void> => {
    try {
      const c = await SstpConnection.connect({
        host: o.host,
        port: o.port,
        ...o.credentials(i),
        auth: [o.authCycle[i % o.authCycle.length]!],
        ...(o.servername !== undefined ? { servername: o.servername } : {}),
        secureContext,
        insecure: o.insecure ?? false,
        requestDns: false,
        ...(o.lcpEcho ? { lcpEcho: o.lcpEcho } : {}),
        setupTimeoutMs: o.setupTimeoutMs ?? 30_000,
        ...(o.localAddresses?.length ? { localAddress: o.localAddresses[i % o.localAddresses.length]! } : {}),
      });
      setupMs.push(c.timings.upMs ?? NaN);
      if (o.holdS > 0) {
        live.push(c);
        void c.ended().then((e) => {
          if (e.error) bump(lost, e.error.code);
        });
      } else close(c);
    } catch (err) {
      bump(failures, failureKey(err));
    }
  };

  // Ramp: start session i no earlier than t0 + i/rate, with at most `concurrency` in flight.
  const running = new Set<Promise<void>>();
  for (let i = 0; i < o.sessions; i++) {
    if (o.rate > 0) {
      const due = t0 + (i * 1000) / o.rate;
      const wait = due - monotonicNow();
      if (wait > 1) await sleep(wait);
    }
    while (inFlight >= o.concurrency) await new Promise<void>((r) => (wake = r));
    inFlight++;
    const p = one(i).finally(() => {
      inFlight--;
      running.delete(p);
      const w = wake;
      wake = undefined;
      w?.();
    });
    running.add(p);
  }
  await Promise.all(running);
  const rampS = (monotonicNow() - t0) / 1000;
  // The causes too, so a run that holds its sessions says why some failed before its report.
  const why = Object.entries(failures).map(([k, n]) => `${k}=${n}`).join(' ');
  o.onEvent?.('ramp-done', { established: setupMs.length, failed: o.sessions - setupMs.length, rampS: Math.round(rampS * 100) / 100, ...(why ? { failures: why } : {}) });

  let echo: { rtt: number[]; failed: number } | undefined;
  if (o.holdS > 0) {
    o.onEvent?.('hold-start', { sessions: live.length, holdS: o.holdS });
    echo = await hold(live, o.holdS * 1000, o.echoSamples ?? false);
    o.onEvent?.('hold-end', { sessions: live.filter((c) => c.up).length });
    // Goodbyes in waves, so 10k Terminate/Disconnect exchanges do not all start in one tick.
    for (let i = 0; i < live.length; i += 500) {
      for (const c of live.slice(i, i + 500)) if (c.up) close(c);
      await sleep(10);
    }
  }
  await Promise.all(closing);
  return {
    sessions: o.sessions,
    established: setupMs.length,
    failed: o.sessions - setupMs.length,
    rampS: Math.round(rampS * 1000) / 1000,
    setupRate: Math.round((setupMs.length / Math.max(rampS, 1e-3)) * 10) / 10,
    setupMs: summarize(setupMs),
    failures,
    lost,
    ...(echo ? { echoRttMs: summarize(echo.rtt), echoFailures: echo.failed } : {}),
    closeErrors,
  };
}

/** Keeps the sessions for `ms`; with samples, probes each once, evenly spread over the first 80 %. */
async function hold(live: readonly SstpConnection[], ms: number, samples: boolean): Promise<{ rtt: number[]; failed: number } | undefined> {
  const end = monotonicNow() + ms;
  if (!samples || live.length === 0) {
    await sleep(ms);
    return undefined;
  }
  const rtt: number[] = [];
  let failed = 0;
  const probes: Promise<void>[] = [];
  const spacing = (ms * 0.8) / live.length;
  const start = monotonicNow();
  for (let i = 0; i < live.length; i++) {
    const due = start + i * spacing;
    const wait = due - monotonicNow();
    if (wait > 1) await sleep(wait);
    const c = live[i]!;
    if (!c.up) continue;
    probes.push(c.probe(5000).then((r) => void rtt.push(r), () => void failed++));
  }
  await Promise.all(probes);
  const left = end - monotonicNow();
  if (left > 0) await sleep(left);
  return { rtt, failed };
}

// ---- churn: continuous session turnover (soak runs) -------------------------------------------

/**
 * What one churn session does: `clean` connects, pings the gateway through the tunnel and says
 * goodbye; `drop` connects and destroys its socket without a goodbye; `wrong-password` must be
 * refused.
 */
export type ChurnKind = 'clean' | 'drop' | 'wrong-password';
export const CHURN_KINDS: readonly ChurnKind[] = ['clean', 'drop', 'wrong-password'];

export interface ChurnOptions {
  readonly host: string;
  readonly port: number;
  readonly servername?: string;
  readonly ca?: Buffer;
  readonly insecure?: boolean;
  /** Credentials of worker w. One user per worker: sstpd keeps one session per user. */
  readonly credentials: (worker: number) => { readonly username: string; readonly password: string };
  readonly authCycle: readonly AuthProtocol[];
  /** Sessions at a time: each worker runs one session after another. */
  readonly workers: number;
  /** No new session starts after this; sessions already up finish their hold. */
  readonly durationS: number;
  /** Each session's kind is drawn at random from this weighted list (e.g. [clean, clean, drop]). */
  readonly mix: readonly ChurnKind[];
  /** An established session stays up a random time in [min, max] seconds. */
  readonly holdS: { readonly min: number; readonly max: number };
  /** ICMP echo requests to the gateway (the server's end of the link) per established session. */
  readonly pings: number;
  /** New sessions per second over all workers; 0 = as fast as the workers go. */
  readonly rate: number;
  readonly lcpEcho?: EchoPolicy;
  readonly setupTimeoutMs?: number;
  readonly localAddresses?: readonly string[];
  /** Seconds between 'progress' events; 0 = none. */
  readonly progressS: number;
  /** Stops early: no new sessions, holds cut short, live sessions closed cleanly. */
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: string, fields: Record<string, number | string>) => void;
}

export interface ChurnCounts {
  /** Sessions started, by kind. */
  readonly attempts: Record<ChurnKind, number>;
  /** Established (clean and drop sessions). */
  established: number;
  /** Established right now. */
  up: number;
  closedClean: number;
  dropped: number;
  /** Wrong passwords refused, as they must be. */
  rejected: number;
  /** Setups that failed unexpectedly (wrong passwords accepted included). */
  failed: number;
  /** Established sessions that went down without us asking. */
  lost: number;
  pingsSent: number;
  pingsAnswered: number;
}

export interface ChurnReport extends ChurnCounts {
  readonly durationS: number;
  readonly setupMs: Summary;
  readonly failures: Record<string, number>;
  readonly lostBy: Record<string, number>;
  /** Clean goodbyes that did not finish cleanly. */
  readonly closeErrors: number;
}

/** Runs `workers` sessions at a time for `durationS`, each of a kind drawn from the mix. */
export function runChurn(o: ChurnOptions): Promise<ChurnReport> {
  return new Churn(o).run();
}

class Churn {
  private readonly counts: ChurnCounts = {
    attempts: { clean: 0, drop: 0, 'wrong-password': 0 },
    established: 0, up: 0, closedClean: 0, dropped: 0, rejected: 0, failed: 0, lost: 0, pingsSent: 0, pingsAnswered: 0,
  };
  private readonly failures: Record<string, number> = {};
  private readonly lostBy: Record<string, number> = {};
  private readonly setupMs: number[] = [];
  private closeErrors = 0;
  private readonly secureContext: SecureContext;
  private readonly t0 = monotonicNow();
  private readonly deadline: number;
  /** Rate: a shared schedule of start times, so the workers together keep to `rate`. */
  private nextStart = this.t0;
  private seq = 0;

  constructor(private readonly o: ChurnOptions) {
    this.secureContext = createSecureContext(o.ca ? { ca: o.ca } : {});
    this.deadline = this.t0 + o.durationS * 1000;
  }

  async run(): Promise<ChurnReport> {
    const o = this.o;
    const progress = o.progressS > 0 ? setInterval(() => o.onEvent?.('progress', churnFields(this.counts, this.t0)), o.progressS * 1000) : undefined;
    try {
      await Promise.all(Array.from({ length: o.workers }, (_, w) => this.worker(w)));
    } finally {
      if (progress) clearInterval(progress);
    }
    return {
      ...this.counts,
      attempts: { ...this.counts.attempts },
      durationS: Math.round((monotonicNow() - this.t0) / 100) / 10,
      setupMs: summarize(this.setupMs),
      failures: this.failures,
      lostBy: this.lostBy,
      closeErrors: this.closeErrors,
    };
  }

  private stopping(): boolean {
    return this.o.signal?.aborted === true || monotonicNow() >= this.deadline;
  }

  private async gate(): Promise<void> {
    if (this.o.rate <= 0) return;
    const at = Math.max(monotonicNow(), this.nextStart);
    this.nextStart = at + 1000 / this.o.rate;
    if (at - monotonicNow() > 1) await sleep(at - monotonicNow());
  }

  private async worker(w: number): Promise<void> {
    while (!this.stopping()) {
      await this.gate();
      if (this.stopping()) return;
      await this.session(w, this.o.mix[Math.floor(Math.random() * this.o.mix.length)]!);
    }
  }

  private async session(w: number, kind: ChurnKind): Promise<void> {
    this.counts.attempts[kind]++;
    const pingId = (this.seq++ * 7919) & 0xffff;
    const c = await this.connect(w, kind, pingId);
    if (!c) return;
    if (kind === 'wrong-password') {
      this.counts.failed++;
      bump(this.failures, 'wrong password accepted');
      c.destroy();
      return;
    }
    this.setupMs.push(c.timings.upMs ?? NaN);
    this.counts.established++;
    this.counts.up++;
    let asked = false;
    let lostCode: string | undefined;
    const ended = c.ended().then((e) => {
      this.counts.up--;
      if (!asked && e.error) lostCode = e.error.code;
    });
    const { min, max } = this.o.holdS;
    await holdWithPings(c, (min + Math.random() * (max - min)) * 1000, this.o.pings, pingId, this.counts, this.o.signal);
    if (!c.up) {
      await ended;
      this.counts.lost++;
      bump(this.lostBy, lostCode ?? 'unknown');
      return;
    }
    asked = true;
    await this.finish(c, kind);
    await ended;
  }

  /** The link up, or undefined when setup failed (a refused wrong password counts as it should). */
  private async connect(w: number, kind: ChurnKind, pingId: number): Promise<SstpConnection | undefined> {
    const o = this.o;
    const cred = o.credentials(w);
    try {
      return await SstpConnection.connect({
        host: o.host,
        port: o.port,
        username: cred.username,
        // A password no user has: the server must refuse it.
        password: kind === 'wrong-password' ? `${cred.password}-wrong` : cred.password,
        auth: [o.authCycle[this.seq % o.authCycle.length]!],
        ...(o.servername !== undefined ? { servername: o.servername } : {}),
        secureContext: this.secureContext,
        insecure: o.insecure ?? false,
        requestDns: false,
        ...(o.lcpEcho ? { lcpEcho: o.lcpEcho } : {}),
        setupTimeoutMs: o.setupTimeoutMs ?? 30_000,
        ...(o.localAddresses?.length ? { localAddress: o.localAddresses[w % o.localAddresses.length]! } : {}),
        onIp: (p) => {
          if (isEchoReply(p, pingId)) this.counts.pingsAnswered++;
        },
      });
    } catch (err) {
      if (kind === 'wrong-password' && err instanceof ClientError && err.code === 'E_CLIENT_AUTH') this.counts.rejected++;
      else {
        this.counts.failed++;
        bump(this.failures, failureKey(err));
      }
      return undefined;
    }
  }

  private async finish(c: SstpConnection, kind: ChurnKind): Promise<void> {
    if (kind === 'drop') {
      c.destroy(); // no LCP Terminate, no Call Disconnect: the server must notice on its own
      this.counts.dropped++;
      return;
    }
    const e = await c.close(5000);
    if (e.error) this.closeErrors++;
    else this.counts.closedClean++;
  }
}

function churnFields(c: ChurnCounts, t0: number): Record<string, number> {
  return {
    t: Math.round((monotonicNow() - t0) / 100) / 10,
    attempts: c.attempts.clean + c.attempts.drop + c.attempts['wrong-password'],
    established: c.established, up: c.up, closedClean: c.closedClean, dropped: c.dropped, rejected: c.rejected,
    failed: c.failed, lost: c.lost, pingsSent: c.pingsSent, pingsAnswered: c.pingsAnswered,
  };
}

/** Holds the session `ms`, sending `pings` echo requests evenly spread; returns early if it ends or on abort. */
async function holdWithPings(c: SstpConnection, ms: number, pings: number, id: number, counts: ChurnCounts, signal: AbortSignal | undefined): Promise<void> {
  const step = ms / (pings + 1);
  for (let k = 0; k <= pings; k++) {
    const until = monotonicNow() + step;
    // Short naps, so an abort or a lost link cuts the hold short without a listener per session.
    while (monotonicNow() < until) {
      if (signal?.aborted || !c.up) return;
      await sleep(Math.min(250, until - monotonicNow()));
    }
    if (k < pings && c.up && c.sendIp(icmpEchoRequest(c.info.ipv4, c.info.peer, id, k))) counts.pingsSent++;
  }
}

function inetChecksum(b: Buffer): number {
  let sum = 0;
  for (let i = 0; i + 1 < b.length; i += 2) sum += b.readUInt16BE(i);
  if (b.length % 2) sum += b[b.length - 1]! << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return ~sum & 0xffff;
}

/** IPv4 + ICMP echo request (the kernel behind the gateway address answers it). */
function icmpEchoRequest(src: string, dst: string, id: number, seq: number): Buffer {
  const p = Buffer.alloc(20 + 8 + 32);
  p[0] = 0x45;
  p.writeUInt16BE(p.length, 2);
  p[8] = 64; // TTL
  p[9] = 1; // ICMP
  Buffer.from(src.split('.').map(Number)).copy(p, 12);
  Buffer.from(dst.split('.').map(Number)).copy(p, 16);
  p.writeUInt16BE(inetChecksum(p.subarray(0, 20)), 10);
  p[20] = 8; // echo request
  p.writeUInt16BE(id, 24);
  p.writeUInt16BE(seq, 26);
  p.writeUInt16BE(inetChecksum(p.subarray(20)), 22);
  return p;
}

function isEchoReply(p: Buffer, id: number): boolean {
  if (p.length < 28 || p[0]! >> 4 !== 4 || p[9] !== 1) return false;
  const ihl = (p[0]! & 0x0f) * 4;
  return p[ihl] === 0 && p.length >= ihl + 8 && p.readUInt16BE(ihl + 4) === id;
}
