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
 * the server must end by itself). Every sample: daemon RSS and open fds (/proc), sessions up
 * (`sstpctl show statistics --json`), sessions started/ended (the daemon's log), session interfaces
 * and ifb devices, echo RTT p50/p99 of the window. At the end, with every client gone and the
 * daemon given --settle seconds: interfaces, routes and qdiscs compared with the state before the
 * run. Writes soak-out/soak-<time>.json and .svg, prints a summary; exit 1 on any leak, a dropped
 * long-lived session, a hostile session the server did not end, a churn failure or a daemon exit.
 *
 * Ctrl-C / SIGTERM: the run ends early and is reported; a second one cleans up and exits at once.
 * The namespace (and with it every process started in it), and the temp dir go in every case.
 */
import { execFileSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { summarize, type Summary } from '../src/client/stats.js';
import { generateTestCertificates } from '../src/config/certs.js';
import { createNetns, type Netns } from '../test/support/netns.js';
import { renderChart } from './soak/chart.js';
import { countSessionLinks, kernelState, leaks, linkNames, procStats, type KernelState, type Leaks, type ProcStats } from './soak/system.js';

const ROOT = join(import.meta.dirname, '..', '..');
const DIST = join(import.meta.dirname, '..');
const cliPath = (name: string): string => join(DIST, 'src', 'cli', `${name}.js`);

const { values } = parseArgs({
  options: {
    minutes: { type: 'string' },
    seconds: { type: 'string' },
    concurrency: { type: 'string', default: '30' },
    mix: { type: 'string', default: 'clean:6,drop:3,wrong-password:1' },
    'auth-mix': { type: 'string', default: 'mschap-v2:3,mschap:1,chap:1,pap:1' },
    hold: { type: 'string', default: '2-8' },
    pings: { type: 'string', default: '3' },
    'hostile-every': { type: 'string', default: '3' },
    'probe-ms': { type: 'string', default: '1000' },
    sample: { type: 'string', default: '5' },
    'rate-limit': { type: 'string', default: '10000/5000' },
    settle: { type: 'string', default: '5' },
    out: { type: 'string', default: join(ROOT, 'soak-out') },
    help: { type: 'boolean', short: 'h' },
  },
});

const USAGE = `usage: node dist/bench/soak.js [options]        (root; npm run soak = 10 minutes)
  --minutes N | --seconds N   how long sessions churn (default 10 minutes)
  --concurrency N         churn sessions at a time (default 30)
  --mix MIX               churn kinds (default clean:6,drop:3,wrong-password:1)
  --auth-mix MIX          churn auth methods (default mschap-v2:3,mschap:1,chap:1,pap:1)
  --hold MIN-MAX          seconds an established churn session stays up (default 2-8)
  --pings N               ICMP echoes to the gateway per churn session (default 3)
  --hostile-every S       one hostile session every S seconds (default 3, 0 = none)
  --probe-ms MS           LCP echo probe interval of the long-lived session (default 1000)
  --sample S              sample interval (default 5)
  --rate-limit D/U        kbit/s on every soak user (default 10000/5000; 'none' = no shaper)
  --settle S              wait after the last client before the leak check (default 5)
  --out DIR               where the JSON and SVG go (default soak-out/)`;

if (values.help) {
  process.stdout.write(USAGE + '\n');
  process.exit(0);
}

const num = (text: string, what: string, min: number, max: number): number => {
  const n = Number(text);
  if (!Number.isFinite(n) || n < min || n > max) throw new Error(`${what} must be a number in ${min}..${max}`);
  return n;
};
const DURATION_S = values.seconds !== undefined ? num(values.seconds, '--seconds', 5, 7 * 86_400)
  : num(values.minutes ?? '10', '--minutes', 0.1, 7 * 1440) * 60;
const CONCURRENCY = num(values.concurrency, '--concurrency', 1, 2000);
const SAMPLE_S = num(values.sample, '--sample', 1, 3600);
const SETTLE_S = num(values.settle, '--settle', 0, 600);
const HOLD_MAX_S = Number(values.hold.split('-').at(-1)) || 8;
const RATE = values['rate-limit'] === 'none' ? undefined : /^(\d+)\/(\d+)$/.exec(values['rate-limit']);
if (values['rate-limit'] !== 'none' && !RATE) throw new Error('--rate-limit must be DOWN/UP kbit/s or none');
const PORT = 4443;
const GATEWAY = '198.18.255.254';
const PASSWORD = 'pw';
const HOSTILE_USERS = 4;

type Json = Record<string, unknown>;
const log = (s: string): void => void process.stderr.write(`soak: ${s}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;

// ---- cleanup and signals -----------------------------------------------------------------------

let ns: Netns | undefined;
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

// ---- child processes ---------------------------------------------------------------------------

/**
 * Children get a process group of their own: Ctrl-C in a terminal signals the whole foreground
 * group, and the daemon and clients must not see it (the soak winds them down itself, in order).
 * netns.ts still kills them by pid on exit.
 */
const OWN_GROUP: SpawnOptions = { detached: true, stdio: ['ignore', 'pipe', 'pipe'] };

/** Calls `fn` for each JSON line of a child's stdout (other lines are ignored). */
function jsonLines(child: ChildProcess, fn: (j: Json) => void): void {
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let j: unknown;
    try {
      j = JSON.parse(line);
    } catch {
      return;
    }
    if (j !== null && typeof j === 'object' && !Array.isArray(j)) fn(j as Json);
  });
}

/** The last `max` characters a stream wrote (for failure reports). */
function tail(child: ChildProcess, max = 4000): () => string {
  let text = '';
  child.stderr?.setEncoding('utf8').on('data', (s: string) => void (text = (text + s).slice(-max)));
  return () => text;
}

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

// ---- what the run collects ---------------------------------------------------------------------

/** Counters from the daemon's JSON log; nothing is kept per line. */
class DaemonLog {
  listening = false;
  started = 0;
  up = 0;
  ended = 0;
  authFailed = 0;
  readonly downCauses: Record<string, number> = {};
  /** warn and error lines by event name. */
  readonly warnings: Record<string, number> = {};
  readonly errors: Record<string, number> = {};
  readonly lastErrors: string[] = [];

  onLine(j: Json): void {
    const msg = String(j['msg'] ?? '');
    if (msg === 'listening') this.listening = true;
    else if (msg === 'session-start') this.started++;
    else if (msg === 'session-up') this.up++;
    else if (msg === 'session-down') {
      this.ended++;
      const cause = String(j['cause'] ?? '?');
      this.downCauses[cause] = (this.downCauses[cause] ?? 0) + 1;
    } else if (msg === 'auth-failed') this.authFailed++;
    const level = String(j['level'] ?? '');
    if (level === 'warn') this.warnings[msg] = (this.warnings[msg] ?? 0) + 1;
    if (level === 'error' || level === 'fatal') {
      this.errors[msg] = (this.errors[msg] ?? 0) + 1;
      this.lastErrors.push(JSON.stringify(j));
      if (this.lastErrors.length > 20) this.lastErrors.shift();
    }
  }
}

/** What the agent reports: the long-lived session and the hostile sessions. */
class AgentLog {
  longUp: Json | undefined;
  longDown: Json | undefined;
  longClosedClean: boolean | undefined;
  done = false;
  /** RTTs since the last sample, and all of them. */
  window: number[] = [];
  readonly allRtt: number[] = [];
  rttLost = 0;
  readonly hostile = { total: 0, endedByServer: 0, notEnded: 0, setupFailed: 0, garbageBursts: 0, garbageSurvived: 0, garbageEnded: 0 };
  readonly hostileKinds: Record<string, number> = {};
  readonly hostileEndMs: number[] = [];
  readonly problems: string[] = [];

  onLine(j: Json): void {
    switch (j['event']) {
      case 'long-up':
        this.longUp = j;
        break;
      case 'long-down':
        this.longDown = j;
        break;
      case 'long-closed':
        this.longClosedClean = j['clean'] === true;
        break;
      case 'rtt':
        this.window.push(Number(j['ms']));
        this.allRtt.push(Number(j['ms']));
        break;
      case 'rtt-lost':
        this.rttLost++;
        break;
      case 'hostile':
        this.onHostile(j);
        break;
      case 'done':
        this.done = true;
        break;
    }
  }

  private onHostile(j: Json): void {
    const h = this.hostile;
    h.total++;
    const outcome = String(j['outcome']);
    const kind = String(j['kind'] ?? 'ppp-garbage');
    if (outcome === 'setup-failed') {
      h.setupFailed++;
      this.problems.push(`hostile session setup failed: ${String(j['reason'])}`);
      return;
    }
    if (j['garbageSurvived'] !== undefined) {
      h.garbageBursts++;
      if (j['garbageSurvived'] === true) h.garbageSurvived++;
    }
    // Garbage may end its own session (README: a hostile packet ends only its own session); a
    // session that stays but no longer answers an echo is hung.
    if (outcome === 'ended-by-garbage') {
      h.garbageEnded++;
      return;
    }
    if (j['garbageSurvived'] === false) this.problems.push(`a session stayed up but did not answer an LCP echo after PPP garbage`);
    this.hostileKinds[kind] = (this.hostileKinds[kind] ?? 0) + 1;
    if (outcome === 'ended-by-server') {
      h.endedByServer++;
      this.hostileEndMs.push(Number(j['endMs']));
    } else {
      h.notEnded++;
      this.problems.push(`hostile session (${kind}) not ended by the server within 15 s`);
    }
  }
}

interface Sample {
  /** Seconds since the churn started. */
  readonly t: number;
  readonly rssMiB: number | null;
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

// ---- the run -----------------------------------------------------------------------------------

function configText(certs: { serverCert: string; serverKey: string }): string {
  const users = [
    ...Array.from({ length: CONCURRENCY }, (_, i) => `u${i}`),
    'soak-long',
    ...Array.from({ length: HOSTILE_USERS }, (_, i) => `h${i}`),
  ];
  const lines: string[] = [];
  for (const u of users) {
    const at = `set vpn sstp authentication local-users username ${u}`;
    lines.push(`${at} password ${PASSWORD}`);
    if (RATE) lines.push(`${at} rate-limit download ${RATE[1]}`, `${at} rate-limit upload ${RATE[2]}`);
  }
  lines.push(
    `set vpn sstp gateway-address ${GATEWAY}`,
    'set vpn sstp client-ip-pool subnet 198.18.0.0/17',
    'set vpn sstp ppp-options lcp-echo-interval 10',
    `set vpn sstp ssl cert-file ${certs.serverCert}`,
    `set vpn sstp ssl key-file ${certs.serverKey}`,
    `set vpn sstp port ${PORT}`,
  );
  return lines.join('\n') + '\n';
}

async function statistics(nsName: string, stateDir: string): Promise<Json | undefined> {
  try {
    const out = execFileSync('ip', ['netns', 'exec', nsName, process.execPath, cliPath('sstpctl'), '--state-dir', stateDir, 'show', 'statistics', '--json'],
      { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] });
    return JSON.parse(out) as Json;
  } catch {
    return undefined;
  }
}

interface RunResult {
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
  readonly daemonExit: string | undefined;
  readonly problems: string[];
  readonly configLines: string[];
}

async function run(): Promise<RunResult> {
  const problems: string[] = [];
  ns = await createNetns('soak');
  const nsName = ns.name;
  // Thousands of short loopback connections: wide ephemeral range, TIME-WAIT reuse.
  await ns.exec('sysctl', ['-qw', 'net.ipv4.ip_local_port_range=1024 65000', 'net.ipv4.tcp_tw_reuse=1']);
  tempDir = mkdtempSync(join(tmpdir(), 'sstpd-soak-'));
  const certs = await generateTestCertificates(tempDir);
  const conf = configText(certs);
  writeFileSync(join(tempDir, 'sstpd.conf'), conf);
  const stateDir = join(tempDir, 'state');
  mkdirSync(stateDir, { mode: 0o750 });

  const daemonLog = new DaemonLog();
  const daemon = ns.spawn(process.execPath, [cliPath('sstpd'), '--config', join(tempDir, 'sstpd.conf'), '--state-dir', stateDir], OWN_GROUP);
  const daemonErr = tail(daemon);
  let daemonExit: string | undefined;
  daemon.once('exit', (code, sig) => {
    daemonExit = sig ?? `exit code ${code}`;
    wakeStop?.();
  });
  jsonLines(daemon, (j) => daemonLog.onLine(j));
  await waitFor(() => daemonLog.listening || daemonExit !== undefined, 60_000, 'sstpd to listen');
  if (daemonExit) throw new Error(`sstpd exited at start (${daemonExit}): ${daemonErr()}`);
  const pid = daemon.pid!;
  await sleep(2000);
  const before = await kernelState(nsName);
  const procStart = procStats(pid);
  log(`sstpd pid ${pid} in ${nsName}: RSS ${procStart?.rssMiB} MiB, ${procStart?.fds} fds; ${before.links.length} links, ${before.routes.length} routes, ${before.qdiscs.length} qdiscs`);

  const agent = new AgentLog();
  const agentProc = ns.spawn(process.execPath, [join(DIST, 'bench', 'soak', 'agent.js'), '--port', String(PORT), '--password', PASSWORD,
    '--long-user', 'soak-long', '--hostile-user', 'h%d', '--hostile-every', values['hostile-every'], '--probe-ms', values['probe-ms']],
  { ...OWN_GROUP, stdio: ['pipe', 'pipe', 'pipe'] });
  const agentErr = tail(agentProc);
  jsonLines(agentProc, (j) => agent.onLine(j));
  await waitFor(() => agent.longUp !== undefined || agent.longDown !== undefined, 30_000, 'the long-lived session');
  if (!agent.longUp) throw new Error(`the long-lived session did not come up: ${JSON.stringify(agent.longDown)} ${agentErr()}`);

  let churnReport: Json | undefined;
  let churnProgress: Json | null = null;
  const load = ns.spawn(process.execPath, [cliPath('sstp-load'), '--user', 'u%d', '--password', PASSWORD, '--insecure',
    '--duration', String(Math.ceil(DURATION_S)), '-c', String(CONCURRENCY), '--mix', values.mix, '--auth-mix', values['auth-mix'],
    '--hold', values.hold, '--pings', values.pings, '--progress', String(SAMPLE_S), `127.0.0.1:${PORT}`], OWN_GROUP);
  const loadErr = tail(load);
  jsonLines(load, (j) => {
    if (j['event'] === 'progress') churnProgress = j;
    else if (j['event'] === 'report') churnReport = j;
  });
  const t0 = performance.now();
  const tNow = (): number => round((performance.now() - t0) / 1000);
  log(`churning for ${DURATION_S} s: ${CONCURRENCY} at a time, mix ${values.mix}; hostile every ${values['hostile-every']} s; rate limit ${values['rate-limit']}`);

  // Sampler: runs until the final snapshot, so the chart shows the drain too.
  const samples: Sample[] = [];
  let sampling = true;
  const sampleOnce = async (): Promise<void> => {
    const p = procStats(pid);
    const st = await statistics(nsName, stateDir);
    const sess = st?.['sessions'] as Json | undefined;
    const links = countSessionLinks({ links: await linkNames(nsName).catch(() => []), routes: [], qdiscs: [] });
    const w = agent.window.splice(0);
    const rtt = w.length ? summarize(w) : undefined;
    const s: Sample = {
      t: tNow(), rssMiB: p?.rssMiB ?? null, fds: p?.fds ?? null,
      active: sess ? Number(sess['active']) : null, starting: sess ? Number(sess['starting']) : null, finishing: sess ? Number(sess['finishing']) : null,
      started: daemonLog.started, ended: daemonLog.ended, sstpLinks: links.sstp, ifbLinks: links.ifb,
      rttP50Ms: rtt?.p50 ?? null, rttP99Ms: rtt?.p99 ?? null, rttN: w.length, churn: churnProgress,
    };
    samples.push(s);
    log(`${fmtT(s.t)} RSS ${s.rssMiB} MiB, ${s.fds} fds, up ${s.active}, started ${s.started}, ended ${s.ended}, sstp ${s.sstpLinks}, ifb ${s.ifbLinks}, echo RTT p50 ${s.rttP50Ms ?? '-'} ms p99 ${s.rttP99Ms ?? '-'} ms`);
  };
  const sampler = (async () => {
    while (sampling) {
      const at = performance.now();
      await sampleOnce();
      const wait = SAMPLE_S * 1000 - (performance.now() - at);
      if (sampling && wait > 0) await new Promise<void>((r) => setTimeout(r, wait));
    }
  })();

  // The run: until the duration is over, a signal, or the daemon or the long-lived session dies.
  await new Promise<void>((resolve) => {
    const finish = (): void => {
      clearTimeout(timer);
      clearInterval(watch);
      wakeStop = undefined;
      resolve();
    };
    const timer = setTimeout(finish, DURATION_S * 1000);
    const watch = setInterval(() => {
      if (agent.longDown || daemonExit || stopRequested) finish();
    }, 500);
    wakeStop = finish;
  });
  const churnEndT = tNow();
  if (agent.longDown) problems.push(`the long-lived session dropped at ${fmtT(churnEndT)}: ${JSON.stringify(agent.longDown)}`);
  if (daemonExit) problems.push(`sstpd exited during the run (${daemonExit}): ${daemonErr().slice(-500)}`);
  log(`${fmtT(churnEndT)} churn over: waiting for the clients to finish`);

  // Wind down: churn stops by itself at its duration (or now, on SIGTERM); the agent on stdin EOF.
  if (stopRequested || daemonExit) load.kill('SIGTERM');
  agentProc.stdin!.end();
  if (!(await waitExit(load, (HOLD_MAX_S + 60) * 1000))) {
    problems.push('sstp-load did not finish in time (SIGTERM sent)');
    load.kill('SIGTERM');
    if (!(await waitExit(load, 15_000))) load.kill('SIGKILL');
  }
  if (!(await waitExit(agentProc, 30_000))) {
    problems.push('the soak agent did not finish in time');
    agentProc.kill('SIGKILL');
  }
  if (!churnReport) problems.push(`sstp-load gave no report: ${loadErr().slice(-500)}`);
  if (agent.longClosedClean === false) problems.push('the long-lived session did not close cleanly at the end');

  // Every client is gone: the daemon must get back to zero sessions and zero session interfaces.
  if (!daemonExit) {
    await waitFor(() => {
      const last = samples.at(-1);
      return last !== undefined && last.t > tNow() - SAMPLE_S - 1 && last.active === 0 && last.starting === 0 && last.finishing === 0 && last.sstpLinks === 0;
    }, 60_000, 'sessions to drain', 500).catch((e: Error) => problems.push(e.message));
    await sleep(SETTLE_S * 1000);
  }
  sampling = false;
  await sampler;
  await sampleOnce();
  const after = await kernelState(nsName);
  const procEnd = procStats(pid);
  const leaked = leaks(before, after);

  // Done: stop the daemon as an operator would, and see that it exits.
  daemon.kill('SIGTERM');
  if (!(await waitExit(daemon, 20_000))) problems.push('sstpd did not exit within 20 s of SIGTERM');
  else if (daemonExit && !/^exit code 0$|^SIGTERM$/.test(daemonExit)) problems.push(`sstpd exit on SIGTERM: ${daemonExit}`);
  problems.push(...agent.problems);
  return {
    samples, churnEndT, daemonLog, agent, churnReport, before, after, leaks: leaked, procStart, procEnd, daemonExit, problems,
    configLines: conf.trim().split('\n').filter((l) => !l.includes(' ssl ')),
  };
}

const fmtT = (t: number): string => `${Math.floor(t / 60)}:${String(Math.floor(t % 60)).padStart(2, '0')}`;

// ---- report ------------------------------------------------------------------------------------

function machine(): Json {
  const v = (cmd: string, args: string[]): string => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8' }).split('\n')[0]!.trim();
    } catch {
      return 'n/a';
    }
  };
  return {
    cpu: cpus()[0]?.model, cores: cpus().length, memGiB: Math.round(totalmem() / 2 ** 30), kernel: release(), node: process.version,
    openssl: process.versions.openssl, commit: v('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']),
    sstpd: (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version,
  };
}

function minMax(xs: (number | null)[]): { min: number; max: number } {
  const v = xs.filter((x): x is number => x !== null && Number.isFinite(x));
  return { min: v.length ? Math.min(...v) : NaN, max: v.length ? Math.max(...v) : NaN };
}

function summary(r: RunResult): Json {
  const rss = minMax(r.samples.map((s) => s.rssMiB));
  const fds = minMax(r.samples.map((s) => s.fds));
  const up = minMax(r.samples.map((s) => s.active));
  const rtt = summarize(r.agent.allRtt);
  const windowP99 = minMax(r.samples.map((s) => s.rttP99Ms));
  const c = r.churnReport;
  const leakCount = r.leaks.links.length + r.leaks.routes.length + r.leaks.qdiscs.length;
  const notEnded = r.daemonLog.started - r.daemonLog.ended;
  const problems = [...r.problems];
  if (leakCount > 0) problems.push(`leaked kernel objects: ${JSON.stringify(r.leaks)}`);
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
    rssMiB: { start: r.procStart?.rssMiB, end: r.procEnd?.rssMiB, min: rss.min, max: rss.max },
    fds: { start: r.procStart?.fds, end: r.procEnd?.fds, max: fds.max },
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
    leaks: r.leaks,
    kernelBefore: { links: r.before.links.length, routes: r.before.routes.length, qdiscs: r.before.qdiscs.length },
    kernelAfter: { links: r.after.links.length, routes: r.after.routes.length, qdiscs: r.after.qdiscs.length },
    daemonWarnings: r.daemonLog.warnings,
    daemonErrors: r.daemonLog.errors,
    problems,
    pass: problems.length === 0,
  };
}

function table(s: Json, m: Json): string {
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
  const lk = s['leaks'] as Leaks;
  row('churn time', `${fmtT(Number(s['churnS']))} (${CONCURRENCY} at a time, mix ${values.mix}, rate limit ${values['rate-limit']})`);
  row('daemon RSS start / end / max', `${rss['start']} / ${rss['end']} / ${rss['max']} MiB`);
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
  row('leaks: links / routes / qdiscs', `${lk.links.length} / ${lk.routes.length} / ${lk.qdiscs.length}${lk.links.length + lk.routes.length + lk.qdiscs.length ? '  ' + JSON.stringify(lk) : ''}`);
  row('verdict', s['pass'] ? 'PASS' : `FAIL: ${(s['problems'] as string[]).join('; ')}`);
  const head = `sstpd soak, ${m['cores']} x ${m['cpu']}, Linux ${m['kernel']}, node ${m['node']}, commit ${m['commit']}`;
  return [head, ...rows.map(([k, v]) => `${k.padEnd(40)} ${v}`)].join('\n');
}

function chart(r: RunResult, s: Json, m: Json, date: string): string {
  const se = s['sessions'] as Json;
  const lk = s['leaks'] as Leaks;
  const ll = s['longLived'] as Json;
  const pts = (f: (s: Sample) => number | null): [number, number][] => r.samples.map((s) => [s.t, f(s) ?? NaN]);
  const last = r.samples.at(-1)?.t ?? DURATION_S;
  return renderChart({
    title: `sstpd soak: ${fmtT(r.churnEndT)} of churn, ${CONCURRENCY} sessions at a time`,
    subtitle: [
      `${date.slice(0, 16).replace('T', ' ')} UTC, commit ${String(m['commit'])}, ${String(m['cores'])} x ${String(m['cpu'])}, Linux ${String(m['kernel'])}, node ${String(m['node'])}; sampled every ${SAMPLE_S} s`,
      `churn mix ${values.mix}, hold ${values.hold} s, one hostile session every ${values['hostile-every']} s, rate limit ${values['rate-limit']} kbit/s on every user`,
      `sessions started ${String(se['started'])}, ended ${String(se['ended'])}; leaked links/routes/qdiscs ${lk.links.length}/${lk.routes.length}/${lk.qdiscs.length}; long-lived session ${ll['dropped'] ? 'DROPPED' : 'up all run'}; ${s['pass'] ? 'PASS' : 'FAIL'}`,
    ].join('\n'),
    durationS: Math.max(last, 1),
    markers: [{ t: r.churnEndT, label: 'churn ends' }],
    panels: [
      { title: 'Daemon memory', yLabel: 'RSS (MiB)', series: [{ name: 'RSS', color: '#1f77b4', points: pts((s) => s.rssMiB) }] },
      { title: 'Daemon open file descriptors', yLabel: 'open fds', series: [{ name: 'fds', color: '#2ca02c', points: pts((s) => s.fds) }] },
      {
        title: 'Sessions', yLabel: 'sessions', series: [
          { name: 'up (sstpctl)', color: '#9467bd', points: pts((s) => s.active) },
          { name: 'ifb devices', color: '#8c564b', points: pts((s) => s.ifbLinks), dashed: true },
        ],
      },
      {
        title: 'Long-lived session: LCP echo round trip per sample window (log scale)', yLabel: 'echo RTT (ms)', log: true, series: [
          { name: 'p50', color: '#ff7f0e', points: pts((s) => s.rttP50Ms) },
          { name: 'p99', color: '#d62728', points: pts((s) => s.rttP99Ms) },
        ],
      },
    ],
  });
}

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) throw new Error('the soak run needs root (network namespaces, TUN devices, tc)');
  if (!existsSync(cliPath('sstpd'))) throw new Error(`${cliPath('sstpd')} is missing: npm run build:ts first`);
  const date = new Date().toISOString();
  const loadStart = loadavg().map((x) => round(x, 2));
  let r: RunResult;
  try {
    r = await run();
  } finally {
    await ns?.destroy();
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
    tempDir = undefined;
  }
  const m = { ...machine(), loadAvgStart: loadStart, loadAvgEnd: loadavg().map((x) => round(x, 2)) };
  const s = summary(r);
  mkdirSync(values.out, { recursive: true });
  const base = join(values.out, `soak-${date.slice(0, 19).replace(/:/g, '-')}`);
  const doc = {
    date, command: process.argv.slice(2).join(' '), durationS: DURATION_S,
    options: { concurrency: CONCURRENCY, mix: values.mix, authMix: values['auth-mix'], hold: values.hold, pings: values.pings, hostileEveryS: values['hostile-every'], probeMs: values['probe-ms'], sampleS: SAMPLE_S, rateLimit: values['rate-limit'], settleS: SETTLE_S },
    machine: m, summary: s, samples: r.samples, churnReport: r.churnReport, config: r.configLines,
    kernelAfter: r.after, daemonLastErrors: r.daemonLog.lastErrors,
  };
  writeFileSync(`${base}.json`, JSON.stringify(doc, null, 2) + '\n');
  writeFileSync(`${base}.svg`, chart(r, s, m, date));
  process.stdout.write(table(s, m) + '\n');
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
