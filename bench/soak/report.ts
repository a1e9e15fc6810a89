/**
 * The soak's results: the summary (figures and the verdict), the printed table and the chart.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { summarize, type Summary } from '../../src/client/stats.js';
import { renderChart } from './chart.js';
import type { AgentLog, DaemonLog, Json } from './logs.js';
import { rateText, type SoakOptions } from './options.js';
import type { KernelState, Leaks, ProcStats } from './system.js';

export const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;
export const fmtT = (t: number): string => `${Math.floor(t / 60)}:${String(Math.floor(t % 60)).padStart(2, '0')}`;

export interface Sample {
  /** Seconds since the churn started. */
  readonly t: number;
  readonly rssMiB: number | null;
  /** V8 heap in use (show statistics): JS objects only, without RSS's allocator slack. */
  readonly heapMiB: number | null;
  readonly fds: number | null;
  /** Daemon sessions by state (show statistics). */
  readonly active: number | null;
  readonly starting: number | null;
  readonly finishing: number | null;
  /** Cumulative, from the daemon's log. */
  readonly started: number;
  readonly ended: number;
  readonly sstpLinks: number;
  readonly ifbLinks: number;
  readonly rttP50Ms: number | null;
  readonly rttP99Ms: number | null;
  readonly rttN: number;
  /** The churn generator's own view (its last progress line). */
  readonly churn: Json | null;
}

export interface RunResult {
  readonly samples: Sample[];
  readonly churnEndT: number;
  readonly daemonLog: DaemonLog;
  readonly agent: AgentLog;
  readonly churnReport: Json | undefined;
  readonly before: KernelState;
  readonly after: KernelState;
  readonly leaks: Leaks;
  readonly procStart: ProcStats | undefined;
  readonly procEnd: ProcStats | undefined;
  /** V8 heap right after a full GC, before and after the run. */
  readonly heapAfterGcMiB: { readonly start: number | undefined; readonly end: number | undefined };
  readonly daemonExit: string | undefined;
  readonly problems: string[];
  readonly configLines: string[];
}

export function machine(root: string): Json {
  const v = (cmd: string, args: string[]): string => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8' }).split('\n')[0]!.trim();
    } catch {
      return 'n/a';
    }
  };
  return {
    cpu: cpus()[0]?.model, cores: cpus().length, memGiB: Math.round(totalmem() / 2 ** 30), kernel: release(), node: process.version,
    openssl: process.versions.openssl, commit: v('git', ['-C', root, 'rev-parse', '--short', 'HEAD']),
    sstpd: (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version,
  };
}

function minMax(xs: (number | null)[]): { min: number; max: number } {
  const v = xs.filter((x): x is number => x !== null && Number.isFinite(x));
  return { min: v.length ? Math.min(...v) : NaN, max: v.length ? Math.max(...v) : NaN };
}

/** Slope of the least-squares line through the points (NaN with fewer than 3). */
function slope(points: [number, number | null][]): number {
  const p = points.filter((x): x is [number, number] => x[1] !== null && Number.isFinite(x[1]));
  if (p.length < 3) return NaN;
  const mx = p.reduce((a, [x]) => a + x, 0) / p.length;
  const my = p.reduce((a, [, y]) => a + y, 0) / p.length;
  const num = p.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0);
  const den = p.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  return den > 0 ? num / den : NaN;
}

export function summary(r: RunResult): Json {
  const rss = minMax(r.samples.map((s) => s.rssMiB));
  const fds = minMax(r.samples.map((s) => s.fds));
  const up = minMax(r.samples.map((s) => s.active));
  const rtt = summarize(r.agent.allRtt);
  const windowP99 = minMax(r.samples.map((s) => s.rttP99Ms));
  const c = r.churnReport;
  const leakCount = r.leaks.links.length + r.leaks.routes.length + r.leaks.qdiscs.length;
  const fdGrowth = r.procEnd && r.procStart ? r.procEnd.fds - r.procStart.fds : 0;
  const churning = r.samples.filter((x) => x.t >= Math.min(60, r.churnEndT / 4) && x.t <= r.churnEndT);
  const notEnded = r.daemonLog.started - r.daemonLog.ended;
  const problems = [...r.problems];
  if (leakCount > 0) problems.push(`leaked kernel objects: ${JSON.stringify(r.leaks)}`);
  // Heap still referenced after a full GC, with no session left: a little growth is compiled code and
  // warmed caches; more than 4 MiB and more than 1 KiB per session is sessions being kept.
  const heapGrowth = (r.heapAfterGcMiB.end ?? NaN) - (r.heapAfterGcMiB.start ?? NaN);
  if (heapGrowth > 4 && (heapGrowth * 1024) / Math.max(1, r.daemonLog.started) > 1) {
    problems.push(`V8 heap after a full GC grew ${round(heapGrowth)} MiB over the run (${round((heapGrowth * 1024) / r.daemonLog.started)} KiB per session started): memory is retained`);
  }
  if (fdGrowth > 0) problems.push(`the daemon holds ${fdGrowth} more fds than before the run`);
  if (notEnded !== 0) problems.push(`${notEnded} sessions started but never logged session-down`);
  if (c && (Number(c['failed']) > 0 || Number(c['lost']) > 0 || Number(c['closeErrors']) > 0)) {
    problems.push(`churn: ${String(c['failed'])} failed ${JSON.stringify(c['failures'])}, ${String(c['lost'])} lost ${JSON.stringify(c['lostBy'])}, ${String(c['closeErrors'])} unclean goodbyes`);
  }
  if (Object.keys(r.daemonLog.errors).length > 0) {
    const first = r.daemonLog.lastErrors[0] ? String((JSON.parse(r.daemonLog.lastErrors[0]) as Json)['err'] ?? '').split('\n')[0] : '';
    problems.push(`daemon error lines: ${JSON.stringify(r.daemonLog.errors)}${first ? ` (e.g. ${first})` : ''}`);
  }
  return {
    churnS: r.churnEndT,
    rssMiB: {
      start: r.procStart?.rssMiB, end: r.procEnd?.rssMiB, min: rss.min, max: rss.max,
      // Least-squares trend while churning (the first minute, when caches fill, left out).
      trendMiBPerMin: round(slope(churning.map((x) => [x.t / 60, x.rssMiB])), 2),
      heapTrendMiBPerMin: round(slope(churning.map((x) => [x.t / 60, x.heapMiB])), 2),
    },
    fds: { start: r.procStart?.fds, end: r.procEnd?.fds, max: fds.max },
    heapAfterGcMiB: r.heapAfterGcMiB,
    daemonCpuS: r.procEnd && r.procStart ? round(r.procEnd.cpuS - r.procStart.cpuS) : undefined,
    sessions: {
      started: r.daemonLog.started, up: r.daemonLog.up, ended: r.daemonLog.ended, authFailed: r.daemonLog.authFailed,
      maxUpAtOnce: up.max, downCauses: r.daemonLog.downCauses,
    },
    churn: c ? {
      attempts: c['attempts'], established: c['established'], closedClean: c['closedClean'], dropped: c['dropped'],
      wrongPasswordRefused: c['rejected'], failed: c['failed'], lost: c['lost'], pingsSent: c['pingsSent'], pingsAnswered: c['pingsAnswered'],
      setupMs: c['setupMs'],
    } : undefined,
    hostile: { ...r.agent.hostile, byKind: r.agent.hostileKinds, serverEndMs: summarize(r.agent.hostileEndMs) },
    longLived: {
      setupMs: r.agent.longUp?.['setupMs'], dropped: r.agent.longDown !== undefined, probes: r.agent.allRtt.length,
      probesUnanswered: r.agent.rttLost, echoRttMs: rtt, worstWindowP99Ms: windowP99.max,
    },
    leaks: { ...r.leaks, fdGrowth },
    kernelBefore: { links: r.before.links.length, routes: r.before.routes.length, qdiscs: r.before.qdiscs.length },
    kernelAfter: { links: r.after.links.length, routes: r.after.routes.length, qdiscs: r.after.qdiscs.length },
    daemonWarnings: r.daemonLog.warnings,
    daemonErrors: r.daemonLog.errors,
    problems,
    pass: problems.length === 0,
  };
}

export function table(o: SoakOptions, s: Json, m: Json): string {
  const g = (o: unknown, k: string): unknown => (o as Json | undefined)?.[k];
  const rows: [string, string][] = [];
  const row = (k: string, v: string): void => void rows.push([k, v]);
  const rss = s['rssMiB'] as Json;
  const fds = s['fds'] as Json;
  const se = s['sessions'] as Json;
  const ch = s['churn'] as Json | undefined;
  const h = s['hostile'] as Json;
  const ll = s['longLived'] as Json;
  const rtt = ll['echoRttMs'] as Summary;
  const lk = s['leaks'] as Leaks & { fdGrowth: number };
  row('churn time', `${fmtT(Number(s['churnS']))} (${o.concurrency} at a time, mix ${o.mix}, rate limit ${rateText(o)})`);
  row('daemon RSS start / end / max', `${rss['start']} / ${rss['end']} / ${rss['max']} MiB  (trend while churning ${rss['trendMiBPerMin']} MiB/min, V8 heap ${rss['heapTrendMiBPerMin']} MiB/min)`);
  const hg = s['heapAfterGcMiB'] as RunResult['heapAfterGcMiB'];
  row('daemon V8 heap after full GC start / end', `${hg.start ?? '-'} / ${hg.end ?? '-'} MiB`);
  row('daemon open fds start / end / max', `${fds['start']} / ${fds['end']} / ${fds['max']}`);
  row('daemon CPU time during the run', `${s['daemonCpuS']} s`);
  row('sessions started / up / ended (log)', `${se['started']} / ${se['up']} / ${se['ended']}  (max ${se['maxUpAtOnce']} up at once)`);
  row('session-down causes', JSON.stringify(se['downCauses']));
  if (ch) {
    row('churn: clean / dropped / wrong pw refused', `${ch['closedClean']} / ${ch['dropped']} / ${ch['wrongPasswordRefused']}  (failed ${ch['failed']}, lost ${ch['lost']})`);
    row('churn: pings answered / sent', `${ch['pingsAnswered']} / ${ch['pingsSent']}`);
    row('churn: setup p50 / p99', `${g(ch['setupMs'], 'p50')} / ${g(ch['setupMs'], 'p99')} ms`);
  }
  row('hostile: ended by server / total', `${h['endedByServer']} / ${h['total']}  (not ended ${h['notEnded']}, server end p50 ${g(h['serverEndMs'], 'p50')} ms p99 ${g(h['serverEndMs'], 'p99')} ms)`);
  row('hostile: PPP garbage survived / ended it', `${h['garbageSurvived']} / ${h['garbageEnded']} of ${h['garbageBursts']} bursts`);
  row('long-lived session', `${ll['dropped'] ? 'DROPPED' : 'up all run'}, ${ll['probes']} echo probes, ${ll['probesUnanswered']} unanswered`);
  row('long-lived echo RTT p50 / p99 / max', `${rtt.p50} / ${rtt.p99} / ${rtt.max} ms  (worst window p99 ${ll['worstWindowP99Ms']} ms)`);
  const kernelLeaks = [...lk.links, ...lk.routes, ...lk.qdiscs];
  row('leaks: links / routes / qdiscs / fds', `${lk.links.length} / ${lk.routes.length} / ${lk.qdiscs.length} / ${lk.fdGrowth}${kernelLeaks.length ? `  (${kernelLeaks.slice(0, 5).join(', ')}${kernelLeaks.length > 5 ? ', …' : ''})` : ''}`);
  row('verdict', s['pass'] ? 'PASS' : `FAIL: ${(s['problems'] as string[]).join('; ')}`);
  const head = `sstpd soak, ${m['cores']} x ${m['cpu']}, Linux ${m['kernel']}, node ${m['node']}, commit ${m['commit']}`;
  return [head, ...rows.map(([k, v]) => `${k.padEnd(40)} ${v}`)].join('\n');
}

export function chart(o: SoakOptions, r: RunResult, s: Json, m: Json, date: string): string {
  const se = s['sessions'] as Json;
  const lk = s['leaks'] as Leaks;
  const ll = s['longLived'] as Json;
  const pts = (f: (s: Sample) => number | null): [number, number][] => r.samples.map((s) => [s.t, f(s) ?? NaN]);
  const last = r.samples.at(-1)?.t ?? o.durationS;
  return renderChart({
    title: `sstpd soak: ${fmtT(r.churnEndT)} of churn, ${o.concurrency} sessions at a time`,
    subtitle: [
      `${date.slice(0, 16).replace('T', ' ')} UTC, commit ${String(m['commit'])}, ${String(m['cores'])} x ${String(m['cpu'])}, Linux ${String(m['kernel'])}, node ${String(m['node'])}; sampled every ${o.sampleS} s`,
      `churn mix ${o.mix}, hold ${o.hold} s, one hostile session every ${o.hostileEveryS} s, rate limit ${rateText(o)} on every user`,
      `sessions started ${String(se['started'])}, ended ${String(se['ended'])}; leaked links/routes/qdiscs ${lk.links.length}/${lk.routes.length}/${lk.qdiscs.length}; long-lived session ${ll['dropped'] ? 'DROPPED' : 'up all run'}; ${s['pass'] ? 'PASS' : 'FAIL'}`,
    ].join('\n'),
    durationS: Math.max(last, 1),
    markers: [{ t: r.churnEndT, label: 'churn ends' }],
    panels: [
      {
        title: 'Daemon memory', yLabel: 'memory (MiB)', series: [
          { name: 'RSS', color: '#1f77b4', points: pts((s) => s.rssMiB) },
          { name: 'V8 heap used', color: '#17becf', points: pts((s) => s.heapMiB), dashed: true },
        ],
      },
      { title: 'Daemon open file descriptors', yLabel: 'open fds', series: [{ name: 'fds', color: '#2ca02c', points: pts((s) => s.fds) }] },
      {
        title: 'Sessions', yLabel: 'sessions', series: [
          { name: 'up (sstpctl)', color: '#9467bd', points: pts((s) => s.active) },
          { name: 'ifb devices', color: '#8c564b', points: pts((s) => s.ifbLinks), dashed: true },
        ],
      },
      {
        title: 'Long-lived session: LCP echo RTT per sample window (log scale)', yLabel: 'echo RTT (ms)', log: true, series: [
          { name: 'p50', color: '#ff7f0e', points: pts((s) => s.rttP50Ms) },
          { name: 'p99', color: '#d62728', points: pts((s) => s.rttP99Ms) },
        ],
      },
    ],
  });
}
