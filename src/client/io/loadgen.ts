/**
 * Load generator: one process drives N SSTP sessions against a server, no TUN. Ramp (connects per
 * second), concurrency (setups in flight), hold (all established sessions kept, with keepalives and
 * optional LCP echo RTT samples), then a clean goodbye for each. Reports the setup rate, setup
 * latency (TCP connect → IPCP open) percentiles and failures by cause.
 */
import { createSecureContext } from 'node:tls';
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
  o.onEvent?.('ramp-done', { established: setupMs.length, failed: o.sessions - setupMs.length, rampS: Math.round(rampS * 100) / 100 });

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
