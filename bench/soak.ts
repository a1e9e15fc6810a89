/**
 * Soak run (root): the real daemon (dist/src/cli/sstpd.js: real TLS, real TUN devices, tc rate limits
 * with ifb devices) in a network namespace of its own, under continuous session churn for a bounded
 * time, sampled every few seconds. Not part of `npm test`.
 *
 *   npm run soak                                  # 10 minutes
 *   node dist/bench/soak.js --seconds 60 --concurrency 20
 *
 * In the namespace: sstpd; `sstp-load --duration` (the churn: clean sessions with pings to the
 * gateway, abrupt drops, wrong passwords, `--concurrency` at a time); the soak agent
 * (bench/soak/agent.ts: one long-lived session whose LCP echo RTT is sampled, and hostile sessions
 * the server must end by itself). Every sample: daemon RSS, V8 heap and open fds, sessions up
 * (`sstpctl show statistics --json`), sessions started/ended (the daemon's log), session interfaces
 * and ifb devices, echo RTT p50/p99 of the window. At the end, with every client gone and the
 * daemon given --settle seconds: interfaces, routes, qdiscs and fds compared with the state before
 * the run. Writes soak-out/soak-<time>.json and .svg, prints a summary; exit 1 on any leak, a dropped
 * long-lived session, a hostile session the server did not end, a churn failure, a daemon error
 * line or a daemon exit.
 *
 * Ctrl-C / SIGTERM: the run ends early and is reported; a second one cleans up and exits at once.
 * The namespace (and with it every process started in it) and the temp dir go in every case.
 */
import { execFileSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { summarize } from '../src/client/stats.js';
import { generateTestCertificates } from '../src/config/certs.js';
import { NODE_FLAGS } from '../src/common/node-flags.js';
import { createNetns, type Netns } from '../test/support/netns.js';
import { AgentLog, DaemonLog, jsonLines, tail, type Json } from './soak/logs.js';
import { parseSoakArgs, rateText, type SoakOptions } from './soak/options.js';
import { BENCH_PORT, benchServerLines } from './common.js';
import { chart, fmtT, machine, round, summary, table, type RunResult, type Sample } from './soak/report.js';
import { countSessionLinks, kernelState, leaks, linkNames, procStats } from './soak/system.js';

const ROOT = join(import.meta.dirname, '..', '..');
const DIST = join(import.meta.dirname, '..');
const cliPath = (name: string): string => join(DIST, 'src', 'cli', `${name}.js`);
const PORT = BENCH_PORT;
const PASSWORD = 'pw';
const HOSTILE_USERS = 4;

const log = (s: string): void => void process.stderr.write(`soak: ${s}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---- cleanup and signals -----------------------------------------------------------------------

let tempDir: string | undefined;
let stopRequested = false;
let wakeStop: (() => void) | undefined;

/** netns.ts kills what ns.spawn() started and deletes the namespace on exit; the temp dir is ours. */
process.on('exit', () => {
  if (tempDir) rmSync(tempDir, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (stopRequested) {
      log(`${sig} again: cleaning up and exiting now`);
      process.exit(130);
    }
    stopRequested = true;
    log(`${sig}: ending the run early (again to abort)`);
    wakeStop?.();
  });
}

/**
 * Children get a process group of their own: Ctrl-C in a terminal signals the whole foreground
 * group, and the daemon and clients must not see it (the soak winds them down itself, in order).
 * netns.ts still kills them by pid on exit.
 */
const OWN_GROUP: SpawnOptions = { detached: true, stdio: ['ignore', 'pipe', 'pipe'] };

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

async function waitFor(pred: () => boolean, ms: number, what: string, interval = 200): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(interval);
  }
}

// ---- the run -----------------------------------------------------------------------------------

function configText(o: SoakOptions, certs: { serverCert: string; serverKey: string }): string {
  const users = [
    ...Array.from({ length: o.concurrency }, (_, i) => `u${i}`),
    'soak-long',
    ...Array.from({ length: HOSTILE_USERS }, (_, i) => `h${i}`),
  ];
  const lines: string[] = [];
  for (const u of users) {
    const at = `set vpn sstp authentication local-users username ${u}`;
    lines.push(`${at} password ${PASSWORD}`);
    if (o.rateLimit) lines.push(`${at} rate-limit download ${o.rateLimit.down}`, `${at} rate-limit upload ${o.rateLimit.up}`);
  }
  lines.push(...benchServerLines(certs));
  return lines.join('\n') + '\n';
}

interface Daemon {
  readonly proc: ChildProcess;
  readonly pid: number;
  readonly log: DaemonLog;
  readonly stateDir: string;
  /** Where the heap snapshot goes when asked for (gc-hook.ts). */
  readonly snapshot: string;
  readonly stderr: () => string;
  /** How it exited (signal name or "exit code N"), once it has. */
  exit: string | undefined;
}

async function startDaemon(o: SoakOptions, ns: Netns, dir: string): Promise<{ daemon: Daemon; conf: string }> {
  const conf = configText(o, await generateTestCertificates(dir));
  writeFileSync(join(dir, 'sstpd.conf'), conf);
  const stateDir = join(dir, 'state');
  mkdirSync(stateDir, { mode: 0o750 });
  // bench/soak/gc-hook.ts: SIGUSR2 = full GC (and a heap snapshot when asked), see heapAfterGc().
  const hook = pathToFileURL(join(DIST, 'bench', 'soak', 'gc-hook.js')).href;
  const proc = ns.spawn(process.execPath, [...NODE_FLAGS, '--expose-gc', `--import=${hook}`, cliPath('sstpd'), '--config', join(dir, 'sstpd.conf'), '--state-dir', stateDir],
    { ...OWN_GROUP, env: { ...process.env, SSTPD_SOAK_SNAPSHOT: join(dir, 'end.heapsnapshot') } });
  const d: Daemon = { proc, pid: proc.pid ?? 0, log: new DaemonLog(), stateDir, snapshot: join(dir, 'end.heapsnapshot'), stderr: tail(proc), exit: undefined };
  proc.once('exit', (code, sig) => {
    d.exit = sig ?? `exit code ${code}`;
    wakeStop?.();
  });
  jsonLines(proc, (j) => d.log.onLine(j));
  await waitFor(() => d.log.listening || d.exit !== undefined, 60_000, 'sstpd to listen');
  if (d.exit) throw new Error(`sstpd exited at start (${d.exit}): ${d.stderr()}`);
  return { daemon: d, conf };
}

async function startAgent(o: SoakOptions, ns: Netns): Promise<{ proc: ChildProcess; agent: AgentLog }> {
  const proc = ns.spawn(process.execPath, [join(DIST, 'bench', 'soak', 'agent.js'), '--port', String(PORT), '--password', PASSWORD,
    '--long-user', 'soak-long', '--hostile-user', 'h%d', '--hostile-every', String(o.hostileEveryS), '--probe-ms', String(o.probeMs)],
  { ...OWN_GROUP, stdio: ['pipe', 'pipe', 'pipe'] });
  const agent = new AgentLog();
  const stderr = tail(proc);
  jsonLines(proc, (j) => agent.onLine(j));
  // An agent that dies takes the long-lived session with it.
  proc.once('exit', (code, sig) => {
    if (!agent.done && !agent.longDown) agent.longDown = { event: 'agent-exit', code, signal: sig, stderr: stderr().slice(-500) };
  });
  await waitFor(() => agent.longUp !== undefined || agent.longDown !== undefined, 30_000, 'the long-lived session');
  if (!agent.longUp) throw new Error(`the long-lived session did not come up: ${JSON.stringify(agent.longDown)}`);
  return { proc, agent };
}

interface Churn {
  readonly proc: ChildProcess;
  readonly stderr: () => string;
  report: Json | undefined;
  progress: Json | null;
}

function startChurn(o: SoakOptions, ns: Netns): Churn {
  const proc = ns.spawn(process.execPath, [...NODE_FLAGS, cliPath('sstp-load'), '--user', 'u%d', '--password', PASSWORD, '--insecure',
    '--duration', String(Math.ceil(o.durationS)), '-c', String(o.concurrency), '--mix', o.mix, '--auth-mix', o.authMix,
    '--hold', o.hold, '--pings', String(o.pings), '--progress', String(o.sampleS), `127.0.0.1:${PORT}`], OWN_GROUP);
  const c: Churn = { proc, stderr: tail(proc), report: undefined, progress: null };
  jsonLines(proc, (j) => {
    if (j['event'] === 'progress') c.progress = j;
    else if (j['event'] === 'report') c.report = j;
  });
  return c;
}

function statistics(ns: string, stateDir: string): Json | undefined {
  try {
    const out = execFileSync('ip', ['netns', 'exec', ns, process.execPath, cliPath('sstpctl'), '--state-dir', stateDir, 'show', 'statistics', '--json'],
      { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] });
    return JSON.parse(out) as Json;
  } catch {
    return undefined;
  }
}

/**
 * V8 heap in use right after a full GC, MiB (gc-hook.ts), and a heap snapshot with it when asked.
 * The signal handler runs before the daemon serves the next control request, so the statistics that
 * follow see the collected heap (and a finished snapshot file).
 */
async function heapAfterGc(ns: string, d: Daemon, snapshot = false): Promise<number | undefined> {
  if (snapshot) writeFileSync(`${d.snapshot}.request`, '');
  d.proc.kill('SIGUSR2');
  await sleep(500);
  const st = statistics(ns, d.stateDir);
  return st ? round(Number(st['heapUsedKiB']) / 1024) : undefined;
}

/** Samples every sampleS until stopped; the last sample is always fresh when stop() resolves. */
class Sampler {
  readonly samples: Sample[] = [];
  private running = true;
  private readonly loop: Promise<void>;
  private readonly t0 = performance.now();

  constructor(private readonly o: SoakOptions, private readonly ns: string, private readonly d: Daemon, private readonly agent: AgentLog, private readonly churn: Churn) {
    this.loop = this.run();
  }

  now(): number {
    return round((performance.now() - this.t0) / 1000);
  }

  get last(): Sample | undefined {
    return this.samples.at(-1);
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await this.once();
  }

  private async run(): Promise<void> {
    while (this.running) {
      const at = performance.now();
      await this.once();
      const wait = this.o.sampleS * 1000 - (performance.now() - at);
      if (this.running && wait > 0) await sleep(wait);
    }
  }

  private async once(): Promise<void> {
    const p = procStats(this.d.pid);
    const st = statistics(this.ns, this.d.stateDir);
    const sess = st?.['sessions'] as Json | undefined;
    const links = countSessionLinks({ links: await linkNames(this.ns).catch(() => []), routes: [], qdiscs: [] });
    const w = this.agent.window.splice(0);
    const rtt = w.length ? summarize(w) : undefined;
    const s: Sample = {
      t: this.now(), rssMiB: p?.rssMiB ?? null, heapMiB: st ? round(Number(st['heapUsedKiB']) / 1024) : null, fds: p?.fds ?? null,
      active: sess ? Number(sess['active']) : null, starting: sess ? Number(sess['starting']) : null, finishing: sess ? Number(sess['finishing']) : null,
      started: this.d.log.started, ended: this.d.log.ended, sstpLinks: links.sstp, ifbLinks: links.ifb,
      rttP50Ms: rtt?.p50 ?? null, rttP99Ms: rtt?.p99 ?? null, rttN: w.length, churn: this.churn.progress,
    };
    this.samples.push(s);
    log(`${fmtT(s.t)} RSS ${s.rssMiB} MiB (heap ${s.heapMiB}), ${s.fds} fds, up ${s.active}, started ${s.started}, ended ${s.ended}, `
      + `sstp ${s.sstpLinks}, ifb ${s.ifbLinks}, echo RTT p50 ${s.rttP50Ms ?? '-'} ms p99 ${s.rttP99Ms ?? '-'} ms`);
  }
}

/** Until the duration is over, a signal, or the daemon, the churn or the long-lived session dies. */
function churnPhase(o: SoakOptions, d: Daemon, agent: AgentLog, churn: Churn): Promise<void> {
  return new Promise<void>((resolve) => {
    const finish = (): void => {
      clearTimeout(timer);
      clearInterval(watch);
      wakeStop = undefined;
      resolve();
    };
    const timer = setTimeout(finish, o.durationS * 1000);
    const watch = setInterval(() => {
      if (agent.longDown || d.exit || stopRequested || churn.proc.exitCode !== null || churn.proc.signalCode !== null) finish();
    }, 500);
    wakeStop = finish;
  });
}

/** Churn stops by itself at its duration (or on SIGTERM), the agent on stdin EOF. */
async function windDown(o: SoakOptions, agentProc: ChildProcess, agent: AgentLog, churn: Churn, d: Daemon, problems: string[]): Promise<void> {
  if (stopRequested || d.exit) churn.proc.kill('SIGTERM');
  agentProc.stdin!.end();
  if (!(await waitExit(churn.proc, (o.holdMaxS + 60) * 1000))) {
    problems.push('sstp-load did not finish in time (SIGTERM sent)');
    churn.proc.kill('SIGTERM');
    if (!(await waitExit(churn.proc, 15_000))) churn.proc.kill('SIGKILL');
  }
  if (!(await waitExit(agentProc, 30_000))) {
    problems.push('the soak agent did not finish in time');
    agentProc.kill('SIGKILL');
  }
  if (!churn.report) problems.push(`sstp-load gave no report: ${churn.stderr().slice(-500)}`);
  if (agent.longClosedClean === false) problems.push('the long-lived session did not close cleanly at the end');
}

async function run(o: SoakOptions, ns: Netns, dir: string): Promise<RunResult> {
  const problems: string[] = [];
  // Thousands of short loopback connections: wide ephemeral range, TIME-WAIT reuse.
  await ns.exec('sysctl', ['-qw', 'net.ipv4.ip_local_port_range=1024 65000', 'net.ipv4.tcp_tw_reuse=1']);
  const { daemon: d, conf } = await startDaemon(o, ns, dir);
  await sleep(2000);
  const heapStart = await heapAfterGc(ns.name, d);
  const before = await kernelState(ns.name);
  const procStart = procStats(d.pid);
  log(`sstpd pid ${d.pid} in ${ns.name}: RSS ${procStart?.rssMiB} MiB, ${procStart?.fds} fds; ${before.links.length} links, ${before.routes.length} routes, ${before.qdiscs.length} qdiscs`);
  const { proc: agentProc, agent } = await startAgent(o, ns);
  const churn = startChurn(o, ns);
  const sampler = new Sampler(o, ns.name, d, agent, churn);
  log(`churning for ${o.durationS} s: ${o.concurrency} at a time, mix ${o.mix}; hostile every ${o.hostileEveryS} s; rate limit ${rateText(o)}`);

  await churnPhase(o, d, agent, churn);
  const churnEndT = sampler.now();
  if (agent.longDown) problems.push(`the long-lived session dropped at ${fmtT(churnEndT)}: ${JSON.stringify(agent.longDown)}`);
  if (d.exit) problems.push(`sstpd exited during the run (${d.exit}): ${d.stderr().slice(-500)}`);
  if (churnEndT < o.durationS - 1 && churn.proc.exitCode !== null) problems.push(`sstp-load exited early (code ${churn.proc.exitCode}): ${churn.stderr().slice(-500)}`);
  log(`${fmtT(churnEndT)} churn over: waiting for the clients to finish`);
  await windDown(o, agentProc, agent, churn, d, problems);

  // Every client is gone: the daemon must get back to zero sessions and zero session interfaces.
  if (!d.exit) {
    const drained = (): boolean => {
      const s = sampler.last;
      return s !== undefined && s.t > sampler.now() - o.sampleS - 1 && s.active === 0 && s.starting === 0 && s.finishing === 0 && s.sstpLinks === 0;
    };
    await waitFor(drained, 60_000, 'sessions to drain', 500).catch((e: Error) => problems.push(e.message));
    await sleep(o.settleS * 1000);
  }
  await sampler.stop();
  const after = await kernelState(ns.name);
  const procEnd = procStats(d.pid);
  const heapEnd = d.exit ? undefined : await heapAfterGc(ns.name, d, o.keepHeapSnapshot);
  log(`V8 heap after a full GC: ${heapStart} MiB before the run, ${heapEnd} MiB after it`);

  // Done: stop the daemon as an operator would, and see that it exits.
  const exitedBefore = d.exit !== undefined;
  d.proc.kill('SIGTERM');
  if (!(await waitExit(d.proc, 20_000))) problems.push('sstpd did not exit within 20 s of SIGTERM');
  else if (!exitedBefore && d.exit !== 'SIGTERM' && d.exit !== 'exit code 0') problems.push(`sstpd on SIGTERM: ${d.exit}`);
  problems.push(...agent.problems);
  return {
    samples: sampler.samples, churnEndT, daemonLog: d.log, agent, churnReport: churn.report, before, after,
    leaks: leaks(before, after), procStart, procEnd, heapAfterGcMiB: { start: heapStart, end: heapEnd }, daemonExit: d.exit, problems,
    configLines: conf.trim().split('\n').filter((l) => !l.includes(' ssl ')),
  };
}

/** Other work on the machine skews every figure: wait (bounded) until the 1-minute load is low. */
async function waitQuiet(maxS: number): Promise<void> {
  const deadline = Date.now() + maxS * 1000;
  while (loadavg()[0]! > 0.7 && Date.now() < deadline && !stopRequested) {
    log(`waiting for a quiet machine (load ${loadavg()[0]!.toFixed(2)})`);
    await sleep(15_000);
  }
}

async function main(): Promise<number> {
  const o = parseSoakArgs(process.argv.slice(2), join(ROOT, 'soak-out'));
  if (!o) return 0;
  if (process.getuid?.() !== 0) throw new Error('the soak run needs root (network namespaces, TUN devices, tc)');
  if (!existsSync(cliPath('sstpd'))) throw new Error(`${cliPath('sstpd')} is missing: npm run build:ts first`);
  if (o.waitQuietS > 0) await waitQuiet(o.waitQuietS);
  if (stopRequested) return 130;
  const date = new Date().toISOString();
  const base = join(o.outDir, `soak-${date.slice(0, 19).replace(/:/g, '-')}`);
  const loadStart = loadavg().map((x) => round(x, 2));
  const ns = await createNetns('soak');
  let r: RunResult;
  try {
    tempDir = mkdtempSync(join(tmpdir(), 'sstpd-soak-'));
    r = await run(o, ns, tempDir);
    mkdirSync(o.outDir, { recursive: true });
    const snapshot = join(tempDir, 'end.heapsnapshot');
    if (existsSync(snapshot)) {
      copyFileSync(snapshot, `${base}-end.heapsnapshot`);
      log(`kept the daemon's heap snapshot after the run: ${base}-end.heapsnapshot`);
    }
  } finally {
    await ns.destroy();
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
    tempDir = undefined;
  }
  const m = { ...machine(ROOT), loadAvgStart: loadStart, loadAvgEnd: loadavg().map((x) => round(x, 2)) };
  const s = summary(r);
  const doc = {
    date, command: process.argv.slice(2).join(' '), options: o, machine: m, summary: s, samples: r.samples,
    churnReport: r.churnReport, config: r.configLines, kernelAfter: r.after, daemonLastErrors: r.daemonLog.lastErrors,
  };
  writeFileSync(`${base}.json`, JSON.stringify(doc, null, 2) + '\n');
  writeFileSync(`${base}.svg`, chart(o, r, s, m, date));
  process.stdout.write(table(o, s, m) + '\n');
  log(`wrote ${base}.json and ${base}.svg`);
  return s['pass'] ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);
