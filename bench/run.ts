/**
 * The benchmark suite (root: network namespaces, TUN). One command, bounded in time, loopback and
 * throwaway namespaces only:
 *
 *   npm run bench                         # sstpd, all figures (about 5 minutes on 2 cores)
 *   node dist/bench/run.js --quick        # smaller counts, about 1.5 minutes
 *   node dist/bench/run.js --only setup,latency
 *   node dist/bench/run.js --wait-quiet 600   # first wait (at most 600 s) for a 1-min load below 0.7
 *   node dist/bench/run.js --server 127.0.0.1:443 --user u%d --password p [--ca F | --insecure]
 *        [--server-pid PID] [--target 192.168.30.1] [--netns NS] [--users N]   # any SSTP server
 *   node dist/bench/run.js --runs 3 --compare 127.0.0.1:8443 [--compare-pid PID] [--compare-netns NS]
 *        # every step run 3 times (min/median/max), alternating with a second server, side by side
 *   node dist/bench/run.js --only setup --runs 3 --interface-cache 1000 --compare-build /work/wt/base
 *        # A/B against another sstpd build (its dist/, started like this one in its own namespace);
 *        # --interface-cache N sets `ppp-options interface-cache N` for this checkout's sstpd
 *   node dist/bench/run.js --workers 2     # sstpd with worker processes (CPU and RSS: the primary and its workers)
 *   node dist/bench/run.js --only setup --profile /tmp/prof   # sstpd runs under node --cpu-prof
 *
 * Figures: setup rate and latency at 1/10/100 concurrent connects; steady churn (sessions set up
 * and closed, 10/100 at a time); idle sessions (1,000 and 10,000)
 * with keepalives: server RSS, CPU %, LCP echo RTT; single-session TCP throughput both ways and 4
 * sessions in parallel (iperf3, client TUN in a namespace); 64-byte UDP packet rate; added latency
 * (ping through the tunnel minus ping over a veth pair); ping RTT while one bulk TCP flow runs
 * (`loaded`); MPPE (128-bit stateless) throughput both ways with server CPU per GB (`mppe`).
 * Prints a table, writes bench/results.json.
 *
 * Topology (sstpd): namespace S holds sstpd, the load generator and the iperf3 servers (the "host
 * side" of the tunnel: sstpd's gateway address is local there); namespaces C1..C4 hold the clients'
 * TUN interfaces (sstp-connect runs in S and moves its interface into Ci).
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs, promisify } from 'node:util';
import { generateTestCertificates } from '../src/config/certs.js';
import { summarize } from '../src/client/stats.js';
import { NODE_FLAGS } from '../src/common/node-flags.js';
import { dataPathDrops, type SessionRow } from '../src/cli/format.js';
import { BENCH_GATEWAY, BENCH_PORT, benchConfigLines, loadReport } from './common.js';

const execFileAsync = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
const DIST = join(import.meta.dirname, '..');
const cliPath = (name: string): string => join(DIST, 'src', 'cli', `${name}.js`);

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    seconds: { type: 'string' },
    idle: { type: 'string' },
    server: { type: 'string' },
    user: { type: 'string' },
    password: { type: 'string' },
    ca: { type: 'string' },
    insecure: { type: 'boolean', default: false },
    'server-pid': { type: 'string' },
    target: { type: 'string' },
    out: { type: 'string', default: join(ROOT, 'bench', 'results.json') },
    'wait-quiet': { type: 'string' },
    netns: { type: 'string' },
    users: { type: 'string' },
    runs: { type: 'string' },
    compare: { type: 'string' },
    'compare-pid': { type: 'string' },
    'compare-netns': { type: 'string' },
    'compare-target': { type: 'string' },
    'compare-user': { type: 'string' },
    'compare-password': { type: 'string' },
    'compare-users': { type: 'string' },
    'compare-build': { type: 'string' },
    'interface-cache': { type: 'string' },
    workers: { type: 'string', default: '1' },
    profile: { type: 'string' },
    'node-flags': { type: 'string' },
    'loaded-rate': { type: 'string' },
    'link-rate': { type: 'string' },
    'tcp-cc': { type: 'string' },
  },
});

const QUICK = values.quick;
const SECONDS = Number(values.seconds ?? (QUICK ? 3 : 5));
const ONLY = new Set((values.only ?? 'setup,churn,idle,throughput,small,latency,loaded,mppe').split(','));
const IDLE = (values.idle ?? (QUICK ? '1000' : '1000,10000')).split(',').map(Number);
const EXTERNAL = values.server !== undefined;
const RUNS = Math.max(1, Number(values.runs ?? 1) || 1);
const PORT = BENCH_PORT;
const GATEWAY = BENCH_GATEWAY;
const IPERF_BASE = 5201;

type Json = Record<string, unknown>;
const results: Json = {};
const notes: string[] = [];
const log = (s: string): void => void process.stderr.write(`bench: ${s}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---- namespaces and processes ----------------------------------------------------------------

/** Node flags for sstpd and our clients, as their commands set them; `--node-flags ''` for an A/B without. */
const nodeFlags: readonly string[] = values['node-flags'] !== undefined ? values['node-flags'].split(/\s+/).filter(Boolean) : NODE_FLAGS;
const tag = `sb${process.pid}`;
const NS_S = `${tag}-s`;
/** The namespace of the second sstpd build (--compare-build). */
const NS_S2 = `${tag}-b`;
const nsC = (i: number): string => `${tag}-c${i}`;
const namespaces: string[] = [];
const children = new Set<ChildProcess>();

function ip(args: readonly string[]): void {
  execFileSync('ip', [...args], { stdio: ['ignore', 'ignore', 'pipe'] });
}

function addNetns(name: string): void {
  ip(['netns', 'add', name]);
  namespaces.push(name);
  ip(['-n', name, 'link', 'set', 'lo', 'up']);
}

/** argv run inside `ns` (or here when ns is undefined). */
const inNs = (ns: string | undefined, cmd: string, args: readonly string[]): [string, string[]] =>
  ns === undefined ? [cmd, [...args]] : ['ip', ['netns', 'exec', ns, cmd, ...args]];

function start(ns: string | undefined, cmd: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const [f, a] = inNs(ns, cmd, args);
  const c = spawn(f, a, { stdio: ['ignore', 'pipe', 'pipe'], env });
  children.add(c);
  c.once('exit', () => children.delete(c));
  return c;
}

async function run(ns: string | undefined, cmd: string, args: readonly string[], timeoutMs = 120_000): Promise<string> {
  const [f, a] = inNs(ns, cmd, args);
  const r = await execFileAsync(f, a, { timeout: timeoutMs, maxBuffer: 64 << 20 });
  return r.stdout;
}

function cleanup(): void {
  for (const c of children) c.kill('SIGKILL');
  for (const n of namespaces.splice(0)) {
    try {
      ip(['netns', 'del', n]);
    } catch {
      // already gone
    }
  }
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));

/** JSON lines of a child's stdout, with a way to wait for one. */
class Lines {
  readonly seen: Json[] = [];
  private waiters: (() => void)[] = [];
  private exited = false;
  private readonly rl: ReturnType<typeof createInterface>;
  constructor(readonly child: ChildProcess) {
    this.rl = createInterface({ input: child.stdout! });
    this.rl.on('line', (l) => {
      try {
        this.seen.push(JSON.parse(l) as Json);
      } catch {
        return;
      }
      for (const w of this.waiters.splice(0)) w();
    });
    child.once('exit', () => {
      this.exited = true;
      for (const w of this.waiters.splice(0)) w();
    });
  }
  /**
   * No more lines wanted: the pipe is only drained. The bench shares the cores with the processes
   * it measures, and parsing sstpd's few log lines per session was CPU taken from them.
   */
  drainOnly(): void {
    this.rl.close();
    this.seen.length = 0;
    this.child.stdout!.on('data', () => undefined).resume();
  }

  async next(pred: (j: Json) => boolean, timeoutMs: number, what: string): Promise<Json> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.seen.find(pred);
      if (hit) return hit;
      if (this.exited) throw new Error(`${what}: process exited (${JSON.stringify(this.seen.slice(-2))})`);
      if (Date.now() > deadline) throw new Error(`${what}: timed out`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 500);
      });
    }
  }
}

// ---- the server under test -------------------------------------------------------------------

interface Target {
  /** Shown in the table: "sstpd" or HOST:PORT. */
  readonly name: string;
  /** Where the clients and the load generator run. */
  readonly ns: string | undefined;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly tlsArgs: readonly string[];
  readonly pid: number | undefined;
  /** An address on the server side that answers ping and runs iperf3 (through the tunnel). */
  readonly gateway: string | undefined;
  readonly maxSessions: number;
  /** How many users exist for the %d pattern: sessions cycle through them. */
  readonly users: number;
  /** Route the gateway through each client's tunnel (it is an address behind the server, not the PPP peer). */
  readonly routeGateway: boolean;
  /** RSS of a freshly started server (sessions' share = RSS − this). */
  readonly startRssMiB?: number;
  /** sstpd's state directory (its control socket): the sessions' drop counters are read there. */
  readonly stateDir?: string;
}

/** The hard open-files limit bounds sessions: sstpd holds 2 fds per session (TLS socket + TUN). */
function fdLimit(): number {
  return Number(execFileSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim()) || 1024;
}

/** An sstpd to start: this checkout's, or another build's dist/ (--compare-build). */
interface SstpdVariant {
  readonly name: string;
  readonly ns: string;
  readonly dist: string;
  readonly interfaceCache?: number;
}

/** sstpd processes this run started: stopped with SIGTERM at the end (a --cpu-prof profile is written then). */
const servers: ChildProcess[] = [];

async function startSstpd(dir: string, users: number, v: SstpdVariant): Promise<Target> {
  const NS_S = v.ns;
  dir = join(dir, v.ns);
  mkdirSync(dir, { recursive: true });
  addNetns(NS_S);
  // A bench host, not a router: wide ephemeral port range and TIME-WAIT reuse for 10k loopback
  // connections; sstpd has no IPv6 yet, so no IPv6 autoconfiguration on its interfaces.
  await run(NS_S, 'sysctl', ['-qw', 'net.ipv4.ip_local_port_range=1024 65000', 'net.ipv4.tcp_tw_reuse=1',
    'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
  const certs = await generateTestCertificates(dir);
  const conf = benchConfigLines(users, certs, v.interfaceCache !== undefined ? [`set vpn sstp ppp-options interface-cache ${v.interfaceCache}`] : []);
  writeFileSync(join(dir, 'sstpd.conf'), conf.join('\n') + '\n');
  const prof = values.profile !== undefined ? ['--cpu-prof', '--cpu-prof-dir', join(values.profile, v.ns)] : [];
  const d = start(NS_S, process.execPath, [...nodeFlags, ...prof, join(v.dist, 'src', 'cli', 'sstpd.js'), '--config', join(dir, 'sstpd.conf'), '--state-dir', join(dir, 'state'), ...workersArgs(v.dist)]);
  servers.push(d);
  const lines = new Lines(d);
  d.stderr!.on('data', (b: Buffer) => process.stderr.write(b));
  await lines.next((j) => j['msg'] === 'listening', 60_000, 'sstpd start');
  await sleep(1000);
  const idleRss = d.pid !== undefined ? procStat(d.pid).rssMiB : undefined;
  // Nothing else reads the session log; keep the pipe drained.
  lines.drainOnly();
  return {
    name: v.name,
    ns: NS_S,
    host: '127.0.0.1',
    port: PORT,
    user: 'u%d',
    password: 'pw',
    tlsArgs: ['--insecure'],
    pid: d.pid,
    gateway: GATEWAY,
    maxSessions: Math.min(users, Math.floor((fdLimit() - 200) / 2)),
    users,
    routeGateway: false,
    ...(idleRss !== undefined ? { startRssMiB: idleRss } : {}),
    stateDir: join(dir, 'state'),
  };
}

interface ExternalOptions {
  readonly server: string;
  readonly user: string | undefined;
  readonly password: string | undefined;
  readonly pid: string | undefined;
  readonly netns: string | undefined;
  readonly target: string | undefined;
  readonly users: string | undefined;
}

/** Another SSTP server, reached from `netns` (or here); its pid (if given) is read for CPU and RSS. */
function externalTarget(o: ExternalOptions): Target {
  const [host = '', port = '443'] = o.server.split(':');
  if (o.user === undefined || o.password === undefined) throw new Error(`${o.server}: needs --user and --password`);
  const users = o.users !== undefined ? Number(o.users) : 100_000;
  if (!Number.isInteger(users) || users < 1) throw new Error(`--users ${o.users}: not a positive integer`);
  if (o.netns !== undefined) ip(['netns', 'exec', o.netns, 'true']); // fails early and clearly when absent
  return {
    name: o.server,
    ns: o.netns,
    host,
    port: Number(port),
    user: o.user,
    password: o.password,
    tlsArgs: values.ca !== undefined ? ['--ca', values.ca] : ['--insecure'],
    pid: o.pid !== undefined ? Number(o.pid) : undefined,
    gateway: o.target,
    maxSessions: 100_000,
    users,
    routeGateway: o.target !== undefined,
  };
}

/**
 * sstpd's worker processes (`--workers`, default 1 here: the single-session figures are per
 * process; `npm run bench:workers` compares 1 against every core). A build from before workers
 * existed gets no flag.
 */
function workersArgs(dist: string): string[] {
  let source = '';
  try {
    source = readFileSync(join(dist, 'src', 'cli', 'sstpd.js'), 'utf8');
  } catch {
    return [];
  }
  return source.includes('--workers') ? ['--workers', String(values.workers)] : [];
}

/** `pid` and every process below it (sstpd's worker processes), from /proc's children lists. */
function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    try {
      for (const task of readdirSync(`/proc/${out[i]}/task`)) {
        const kids = readFileSync(`/proc/${out[i]}/task/${task}/children`, 'utf8').trim();
        if (kids) out.push(...kids.split(' ').map(Number));
      }
    } catch {
      // The process ended between the listing and the read: it has no more CPU to count.
    }
  }
  return out;
}

/** CPU seconds and RSS of the server: the process and its children (a primary and its workers). */
/** CPU seconds of this process's waited-for children (and theirs): /proc/self/stat cutime + cstime. */
function childrenCpuS(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) / 100;
}

function procStat(pid: number): { cpuS: number; rssMiB: number } {
  let ticks = 0;
  let rssKb = 0;
  for (const p of processTree(pid)) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]); // utime + stime
      rssKb += Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      // Gone meanwhile.
    }
  }
  return { cpuS: ticks / 100, rssMiB: Math.round((rssKb / 1024) * 10) / 10 };
}

/**
 * Waits until the server holds no session interfaces that are up (teardown of a previous step is
 * done; interfaces kept by `interface-cache` are down).
 */
async function settle(t: Target): Promise<void> {
  if (t.ns === undefined) return sleep(2000);
  const deadline = Date.now() + 300_000;
  while (Date.now() < deadline) {
    const links = await run(t.ns, 'ip', ['-o', 'link', 'show', 'up']);
    // Any server, not only sstpd: its side of every session's TCP connection is gone (TIME-WAIT aside).
    const conns = await run(t.ns, 'ss', ['-Htn', 'state', 'connected', 'exclude', 'time-wait', `( sport = :${t.port} )`]);
    if (!/: sstp\d+/.test(links) && conns.trim() === '') return;
    await sleep(1000);
  }
  log('warning: session interfaces or connections still present after 300 s');
}

// ---- the steps ------------------------------------------------------------------------------

/** With --profile, sstp-load runs under --cpu-prof too (it shares the cores with the server). */
function loadArgs(t: Target, extra: readonly string[]): string[] {
  const prof = values.profile !== undefined ? ['--cpu-prof', '--cpu-prof-dir', join(values.profile, 'sstp-load')] : [];
  return [...nodeFlags, ...prof, cliPath('sstp-load'), '--user', t.user, '--password', t.password, ...t.tlsArgs, '--source-addresses', '16', ...extra, `${t.host}:${t.port}`];
}

async function setup(t: Target): Promise<Json> {
  const plan: [number, number][] = QUICK ? [[1, 50], [10, 200], [100, 500]] : [[1, 100], [10, 500], [100, 2000]];
  const out: Json = {};
  for (const [c, n] of plan) {
    await settle(t);
    log(`setup: ${n} sessions, ${c} concurrent`);
    // Sessions are held past the ramp, so interface teardown (kernel-serialized) is not in the window.
    const cpu0 = t.pid !== undefined ? procStat(t.pid).cpuS : undefined;
    const load0 = childrenCpuS();
    const text = await run(t.ns, process.execPath, loadArgs(t, ['--sessions', String(Math.min(n, t.maxSessions)), '--users', String(t.users), '--concurrency', String(c), '--hold', '1', '--auth-mix', 'mschap-v2']), 600_000).catch((e: { stdout?: string; message?: string }) => e.stdout ?? '');
    const cpu = cpu0 !== undefined && t.pid !== undefined ? procStat(t.pid).cpuS - cpu0 : undefined;
    const loadCpu = childrenCpuS() - load0;
    const rep = loadReport(text);
    if (!rep) throw new Error(`setup c=${c}: no report from sstp-load`);
    const ms = rep['setupMs'] as Json;
    const established = Number(rep['established']);
    out[`c${c}`] = {
      sessions: Math.min(n, t.maxSessions), established, perSecond: rep['setupRate'], p50Ms: ms['p50'], p99Ms: ms['p99'], failures: rep['failures'],
      // The whole server's CPU over the run (setup, the 1 s hold, teardown) per session set up.
      ...(cpu !== undefined && established > 0 ? { serverCpuMsPerSetup: Math.round((cpu * 1000 / established) * 100) / 100 } : {}),
      // sstp-load's own CPU (it shares the cores): a waited-for child's time, in our cutime/cstime.
      ...(established > 0 ? { loadCpuMsPerSetup: Math.round((loadCpu * 1000 / established) * 100) / 100 } : {}),
    };
  }
  return out;
}

/**
 * Steady churn: c sessions at a time, each set up and closed at once, then the next (sstp-load
 * --duration): sessions end inside the window, so interface deletion (or, with interface-cache,
 * reuse) is part of every figure. Sessions per second and server CPU per session.
 */
async function churn(t: Target): Promise<Json> {
  const out: Json = {};
  for (const c of [10, 100]) {
    await settle(t);
    log(`churn: ${c} at a time for ${SECONDS * 3} s`);
    const cpu0 = t.pid !== undefined ? procStat(t.pid).cpuS : undefined;
    const text = await run(t.ns, process.execPath, loadArgs(t, ['--duration', String(SECONDS * 3), '--concurrency', String(c), '--mix', 'clean:1', '--hold', '0', '--pings', '0', '--progress', '0', '--auth-mix', 'mschap-v2']), 600_000)
      .catch((e: { stdout?: string }) => e.stdout ?? '');
    const cpu = cpu0 !== undefined && t.pid !== undefined ? procStat(t.pid).cpuS - cpu0 : undefined;
    const rep = loadReport(text);
    if (!rep) throw new Error(`churn c=${c}: no report from sstp-load`);
    const established = Number(rep['established']);
    const ms = rep['setupMs'] as Json;
    out[`c${c}`] = {
      established, perSecond: Math.round((established / Number(rep['durationS'])) * 10) / 10, p50Ms: ms['p50'], p99Ms: ms['p99'], failed: rep['failed'],
      ...(cpu !== undefined && established > 0 ? { serverCpuMsPerSession: Math.round((cpu * 1000 / established) * 100) / 100 } : {}),
    };
  }
  return out;
}

async function idle(t: Target): Promise<Json> {
  const out: Json = {};
  for (const want of IDLE) {
    const n = Math.min(want, t.maxSessions);
    if (n < want) notes.push(`idle ${want}: measured ${n} sessions; the hard open-files limit (${fdLimit()}, not raisable here) allows no more (sstpd holds a socket and a TUN fd per session)`);
    await settle(t);
    log(`idle: ${n} sessions`);
    const windowS = QUICK ? 10 : 20;
    const child = start(t.ns, process.execPath, loadArgs(t, ['--sessions', String(n), '--concurrency', '200', '--hold', String(windowS + 8), '--echo-samples', '--timeout', '120', '--auth-mix', 'mschap-v2']));
    const lines = new Lines(child);
    const base = t.pid !== undefined ? procStat(t.pid) : undefined;
    await lines.next((j) => j['event'] === 'hold-start', 900_000, 'idle ramp');
    await sleep(4000);
    const a = t.pid !== undefined ? procStat(t.pid) : undefined;
    const t0 = performance.now();
    await sleep(windowS * 1000);
    const b = t.pid !== undefined ? procStat(t.pid) : undefined;
    const wall = (performance.now() - t0) / 1000;
    const rep = await lines.next((j) => j['event'] === 'report', 900_000, 'idle report');
    const rtt = rep['echoRttMs'] as Json | undefined;
    out[`s${n}`] = {
      sessions: rep['established'],
      requested: want,
      ...(a && b && base
        ? {
            serverRssMiB: b.rssMiB,
            rssPerSessionKiB: Math.round(((b.rssMiB - (t.startRssMiB ?? base.rssMiB)) * 1024) / Math.max(1, Number(rep['established']))),
            serverCpuPercent: Math.round(((b.cpuS - a.cpuS) / wall) * 1000) / 10,
          }
        : {}),
      echoRttP50Ms: rtt?.['p50'],
      echoRttP99Ms: rtt?.['p99'],
      echoSamples: rtt?.['n'],
      lost: rep['lost'],
      failures: rep['failures'],
    };
  }
  return out;
}

interface Tunnel {
  readonly ns: string;
  readonly child: ChildProcess;
  readonly up: Json;
}

async function tunnel(t: Target, i: number, extra: readonly string[] = [], via?: Via): Promise<Tunnel> {
  const ns = nsC(i);
  if (!namespaces.includes(ns)) addNetns(ns);
  const user = t.user.replace('%d', String((90 + i) % t.users));
  const route = t.routeGateway && t.gateway !== undefined ? ['--route', `${t.gateway}/${t.gateway.includes(':') ? 128 : 32}`] : [];
  const child = start(via?.ns ?? t.ns, process.execPath, [...nodeFlags, cliPath('sstp-connect'), '--user', user, '--password', t.password, ...t.tlsArgs, '--netns', ns, '--ifname', `sstpb${i}`, ...route, ...extra, `${via?.host ?? t.host}:${t.port}`]);
  // Its errors (a link that fails during a step) belong in the bench's log.
  child.stderr?.on('data', (b: Buffer) => process.stderr.write(`sstp-connect ${i}: ${b.toString()}`));
  const lines = new Lines(child);
  const up = await lines.next((j) => j['state'] === 'up', 30_000, `tunnel ${i}`);
  child.once('exit', (code, signal) => {
    if (code !== 0 && signal !== 'SIGTERM') log(`tunnel ${i}: sstp-connect exited (${code ?? signal}): ${JSON.stringify(lines.seen.at(-1) ?? {})}`);
  });
  return { ns, child, up };
}

async function closeTunnel(tu: Tunnel): Promise<void> {
  // A client that is already gone (its link failed during a step) has emitted 'exit' already.
  if (tu.child.exitCode !== null || tu.child.signalCode !== null) return;
  const exited = new Promise((r) => tu.child.once('exit', r));
  tu.child.kill('SIGTERM');
  await exited;
}

/** Waits (at most 10 s) until something listens on each TCP port in ns: a fixed 500 ms pause lost the race on a loaded machine. */
async function listening(ns: string | undefined, ports: readonly number[]): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const out = await run(ns, 'ss', ['-Hltn']);
    if (ports.every((p) => new RegExp(`:${p}\\s`).test(out))) return;
    await sleep(50);
  }
}

async function iperf(t: Target, tus: readonly Tunnel[], args: readonly string[]): Promise<Json[]> {
  const target = t.gateway ?? String(tus[0]!.up['peer']);
  const servers = tus.map((_, k) => start(t.ns, 'iperf3', ['-s', '-1', '-p', String(IPERF_BASE + k)]));
  await listening(t.ns, tus.map((_, k) => IPERF_BASE + k));
  try {
    return await Promise.all(tus.map((tu, k) =>
      // A bounded connect: an unreachable target is an error in its row after 10 s, not a 2-minute hang.
      iperfClient(tu.ns, ['-c', target, '-p', String(IPERF_BASE + k), '-t', String(SECONDS), '--connect-timeout', '10000', '-J', ...args])));
  } finally {
    for (const s of servers) s.kill('SIGKILL');
  }
}

/**
 * One iperf3 client run. A failed run (target unreachable, no server, refused) comes back as
 * `{ error }` with iperf3's own text, so the step reports it in its row and the bench goes on.
 */
async function iperfClient(ns: string, args: readonly string[]): Promise<Json> {
  let out: string;
  try {
    out = await run(ns, 'iperf3', args, (SECONDS + 30) * 1000);
  } catch (e) {
    const x = e as { stdout?: string; stderr?: string; killed?: boolean; code?: unknown };
    out = x.stdout ?? '';
    if (out.trim() === '') {
      const why = x.killed === true ? `no result within ${SECONDS + 30} s` : (x.stderr ?? '').trim().split('\n')[0] || `exit ${String(x.code)}`;
      return { error: `iperf3 ${args[1] ?? ''}: ${why}` };
    }
  }
  try {
    const j = JSON.parse(out) as Json;
    if (typeof j['error'] === 'string') return { error: `iperf3: ${j['error']}` };
    return j['end'] === undefined ? { error: 'iperf3: no end report' } : j;
  } catch {
    return { error: `iperf3: unreadable output ${JSON.stringify(out.slice(0, 200))}` };
  }
}

const iperfError = (j: Json): string | undefined => (typeof j['error'] === 'string' ? j['error'] : undefined);

const gbit = (j: Json): number | undefined => {
  const end = j['end'] as Json | undefined;
  const sum = (end?.['sum_received'] ?? end?.['sum']) as Json | undefined;
  const bps = Number(sum?.['bits_per_second']);
  return Number.isFinite(bps) ? Math.round((bps / 1e9) * 1000) / 1000 : undefined;
};

/** TCP segments the sender retransmitted (iperf3 -J reports them on the sending side). */
const retransmits = (j: Json): number | undefined => {
  const v = ((j['end'] as Json | undefined)?.['sum_sent'] as Json | undefined)?.['retransmits'];
  return typeof v === 'number' ? v : undefined;
};

interface Measured {
  readonly gbit?: number;
  readonly retransmits?: number;
  readonly cpuSPerGB?: number;
  /** Packets the server's data path dropped during the run (sstpd only; `sstpctl` counters). */
  readonly drops?: number;
  readonly error?: string;
}

/**
 * Every packet sstpd's data path dropped, summed over its sessions (issue 14 part 2: count every
 * drop where it happens): the TUN refusing a client packet, FQ-CoDel's drops and limit drops.
 * Undefined for another server, or when the control socket does not answer.
 */
async function serverDrops(t: Target): Promise<number | undefined> {
  if (t.stateDir === undefined) return undefined;
  try {
    const out = await run(t.ns, process.execPath, [cliPath('sstpctl'), '--state-dir', t.stateDir, 'show', 'sessions', '--json']);
    const sessions = JSON.parse(out) as Pick<SessionRow, 'dataPath'>[];
    return sessions.reduce((n, s) => n + dataPathDrops(s), 0);
  } catch {
    return undefined;
  }
}

/** One iperf3 run with the server's CPU seconds per GB moved (when its pid is known) and retransmits. */
async function measured(t: Target, tu: Tunnel, args: readonly string[]): Promise<Measured> {
  const dropsBefore = await serverDrops(t);
  const before = t.pid !== undefined ? procStat(t.pid).cpuS : undefined;
  const j = (await iperf(t, [tu], args))[0]!;
  const err = iperfError(j);
  if (err !== undefined) return { error: err };
  const cpu = before !== undefined && t.pid !== undefined ? procStat(t.pid).cpuS - before : undefined;
  const dropsAfter = dropsBefore !== undefined ? await serverDrops(t) : undefined;
  const bytes = Number(((j['end'] as Json)['sum_received'] as Json | undefined)?.['bytes'] ?? NaN);
  const g = gbit(j);
  const r = retransmits(j);
  return {
    ...(g !== undefined ? { gbit: g } : {}),
    ...(r !== undefined ? { retransmits: r } : {}),
    ...(dropsBefore !== undefined && dropsAfter !== undefined ? { drops: dropsAfter - dropsBefore } : {}),
    ...(cpu !== undefined && bytes > 0 ? { cpuSPerGB: Math.round((cpu / (bytes / 1e9)) * 100) / 100 } : {}),
  };
}

async function throughput(t: Target): Promise<Json> {
  await settle(t);
  const out: Json = { tunOffload: process.env['SSTPD_TUN_OFFLOAD'] !== '0' };
  const one = await tunnel(t, 1);
  try {
    log(`throughput (${t.name}): 1 session, client → server`);
    const up = await measured(t, one, []);
    log(`throughput (${t.name}): 1 session, server → client`);
    const down = await measured(t, one, ['-R']);
    Object.assign(out, {
      tcpUpGbit: up.gbit, tcpDownGbit: down.gbit,
      tcpUpRetransmits: up.retransmits, tcpDownRetransmits: down.retransmits,
      tcpUpServerDrops: up.drops, tcpDownServerDrops: down.drops,
      tcpUpServerCpuSPerGB: up.cpuSPerGB, tcpDownServerCpuSPerGB: down.cpuSPerGB,
      ...(up.error !== undefined ? { tcpUpError: up.error } : {}),
      ...(down.error !== undefined ? { tcpDownError: down.error } : {}),
    });
  } finally {
    await closeTunnel(one);
  }
  const four = await Promise.all([1, 2, 3, 4].map((i) => tunnel(t, i)));
  try {
    log(`throughput (${t.name}): 4 sessions in parallel, client → server`);
    const js = await iperf(t, four, []);
    const errors = js.map(iperfError).filter((e): e is string => e !== undefined);
    if (errors.length > 0) out['tcpUp4SessionsError'] = [...new Set(errors)].join('; ');
    else out['tcpUp4SessionsGbit'] = Math.round(js.reduce((s, j) => s + (gbit(j) ?? 0), 0) * 1000) / 1000;
  } finally {
    await Promise.all(four.map(closeTunnel));
  }
  return out;
}

async function small(t: Target): Promise<Json> {
  await settle(t);
  const tu = await tunnel(t, 1);
  try {
    const rate = async (args: string[]): Promise<Json> => {
      const j = (await iperf(t, [tu], ['-u', '-l', '64', '-b', '0', ...args]))[0]!;
      const err = iperfError(j);
      if (err !== undefined) return { error: err };
      const s = (j['end'] as Json)['sum'] as Json;
      const received = Number(s['packets']) - Number(s['lost_packets']);
      return { sentPps: Math.round(Number(s['packets']) / SECONDS), receivedPps: Math.round(received / SECONDS), lostPercent: Math.round(Number(s['lost_percent']) * 10) / 10 };
    };
    log('small packets: 64-byte UDP, client → server');
    const up = await rate([]);
    log('small packets: 64-byte UDP, server → client');
    const down = await rate(['-R']);
    return { udp64Up: up, udp64Down: down };
  } finally {
    await closeTunnel(tu);
  }
}

/** Round trip between two idle Node processes over loopback TCP: the floor for any user-space tunnel. */
async function echoFloor(ns: string | undefined, count: number): Promise<Json | undefined> {
  const script = join(DIST, 'bench', 'echo-floor.js');
  const port = 4999;
  const srv = start(ns, process.execPath, [script, 'server', String(port)]);
  try {
    await new Promise<void>((resolve) => srv.stdout!.once('data', () => resolve()));
    return JSON.parse(await run(ns, process.execPath, [script, 'client', String(port), String(count)], 60_000)) as Json;
  } catch {
    return undefined;
  } finally {
    srv.kill('SIGKILL');
  }
}

function pingTimes(out: string): number[] {
  return [...out.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
}

const VETH_SERVER = '198.19.0.1';

/**
 * A veth pair between the server's and the client's namespaces for the length of `fn`: the
 * baseline a ping through the tunnel is compared with (same namespaces, same CPUs, no tunnel).
 */
async function withVeth<T>(serverNs: string, clientNs: string, fn: () => Promise<T>): Promise<T> {
  ip(['link', 'add', `${tag}v0`, 'netns', serverNs, 'type', 'veth', 'peer', 'name', `${tag}v1`, 'netns', clientNs]);
  try {
    ip(['-n', serverNs, 'addr', 'add', `${VETH_SERVER}/30`, 'dev', `${tag}v0`]);
    ip(['-n', clientNs, 'addr', 'add', '198.19.0.2/30', 'dev', `${tag}v1`]);
    ip(['-n', serverNs, 'link', 'set', `${tag}v0`, 'up']);
    ip(['-n', clientNs, 'link', 'set', `${tag}v1`, 'up']);
    await sleep(500);
    return await fn();
  } finally {
    // The client namespace outlives this step (more runs, a compared server): no pair left behind.
    ip(['-n', clientNs, 'link', 'del', `${tag}v1`]);
  }
}

async function latency(t: Target): Promise<Json> {
  await settle(t);
  const tu = await tunnel(t, 1);
  try {
    const target = t.gateway ?? String(tu.up['peer']);
    const count = QUICK ? 100 : 300;
    log('latency: ping through the tunnel and over a veth pair');
    const through = pingTimes(await run(tu.ns, 'ping', ['-c', String(count), '-i', '0.01', target]));
    const base = t.ns !== undefined ? await withVeth(t.ns, tu.ns, () => run(tu.ns, 'ping', ['-c', String(count), '-i', '0.01', VETH_SERVER]).then(pingTimes)) : [];
    const floor = await echoFloor(t.ns, count);
    const a = summarize(through);
    const b = summarize(base);
    return {
      tunnelP50Us: Math.round(a.p50 * 1000),
      tunnelP99Us: Math.round(a.p99 * 1000),
      ...(base.length ? { vethP50Us: Math.round(b.p50 * 1000), addedP50Us: Math.round((a.p50 - b.p50) * 1000) } : {}),
      samples: through.length,
      nodeEchoFloorP50Us: floor?.['p50Us'],
    };
  } finally {
    await closeTunnel(tu);
  }
}

/** Where a client's TLS socket lives and whom it connects to, when not the server's own namespace. */
interface Via {
  readonly ns: string;
  readonly host: string;
}

const WAN_SERVER = '198.19.9.1';

/**
 * `--link-rate R` (tc rate, e.g. 1gbit): the loaded step's TLS stream crosses an access link of
 * that rate, so the bottleneck is the path and not a process's CPU, and the backlog stands in the
 * sender's queue (sstpd's or our client's), where FQ-CoDel can put a ping first. The client's
 * socket lives in a namespace of its own behind a veth pair (MTU 1500, as on a real link; over
 * loopback, 64 KB segments make every TCP window and shaper quantum 40× coarser), with a TBF
 * per direction (a short router buffer): a reply does not queue behind the other direction's data.
 */
async function withLinkRate<T>(t: Target, fn: (via: Via | undefined) => Promise<T>): Promise<T> {
  const rate = values['link-rate'];
  if (rate === undefined || t.ns === undefined) return fn(undefined);
  const wan = `${tag}-w`;
  if (!namespaces.includes(wan)) addNetns(wan);
  ip(['link', 'add', `${tag}w0`, 'netns', t.ns, 'type', 'veth', 'peer', 'name', `${tag}w1`, 'netns', wan]);
  try {
    ip(['-n', t.ns, 'addr', 'add', `${WAN_SERVER}/30`, 'dev', `${tag}w0`]);
    ip(['-n', wan, 'addr', 'add', '198.19.9.2/30', 'dev', `${tag}w1`]);
    for (const [ns, dev] of [[t.ns, `${tag}w0`], [wan, `${tag}w1`]] as const) {
      ip(['-n', ns, 'link', 'set', dev, 'up']);
      await run(ns, 'tc', ['qdisc', 'replace', 'dev', dev, 'root', 'tbf', 'rate', rate, 'burst', '32kb', 'latency', '1ms']);
      if (values['tcp-cc'] !== undefined) await run(ns, 'sysctl', ['-qw', `net.ipv4.tcp_congestion_control=${values['tcp-cc']}`]);
    }
    return await fn({ ns: wan, host: WAN_SERVER });
  } finally {
    ip(['-n', t.ns, 'link', 'del', `${tag}w0`]);
  }
}

async function loaded(t: Target): Promise<Json> {
  await settle(t);
  return withLinkRate(t, async (via) => {
    const tu = await tunnel(t, 1, [], via);
    try {
      return await loadedRuns(t, tu);
    } finally {
      await closeTunnel(tu);
    }
  });
}

async function loadedRuns(t: Target, tu: Tunnel): Promise<Json> {
  return t.ns !== undefined ? withVeth(t.ns, tu.ns, () => loadedPings(t, tu, true)) : loadedPings(t, tu, false);
}

async function loadedPings(t: Target, tu: Tunnel, vethUp: boolean): Promise<Json> {
  const target = t.gateway ?? String(tu.up['peer']);
  const count = QUICK ? 100 : 300;
  const out: Json = {};
  // Upload: the client's echo requests queue behind the flow; download: the server's replies do.
  for (const [key, args] of [['underUpload', []], ['underDownload', ['-R']]] as const) {
    log(`loaded latency: ping while one bulk TCP flow runs (${key})`);
    const dropsBefore = await serverDrops(t);
    const flow = iperf(t, [tu], [...args, ...(values['loaded-rate'] !== undefined ? ['-b', values['loaded-rate']] : [])]);
    await sleep(1000);
    const ping = (to: string): Promise<number[]> =>
      run(tu.ns, 'ping', ['-c', String(Math.min(count, (SECONDS - 2) * 100)), '-i', '0.01', to]).catch((e: { stdout?: string }) => e.stdout ?? '').then(pingTimes);
    // The same ping over a veth pair at the same time: what the loaded CPUs alone cost a ping.
    const [times, veth] = await Promise.all([ping(target), vethUp ? ping(VETH_SERVER) : Promise.resolve([])]);
    const bulk = (await flow)[0]!;
    const dropsAfter = dropsBefore !== undefined ? await serverDrops(t) : undefined;
    const a = summarize(times);
    const v = summarize(veth);
    out[key] = {
      pingP50Us: Math.round(a.p50 * 1000), pingP99Us: Math.round(a.p99 * 1000), samples: times.length,
      ...(veth.length ? { vethP50Us: Math.round(v.p50 * 1000), vethP99Us: Math.round(v.p99 * 1000) } : {}),
      ...(iperfError(bulk) !== undefined ? { bulkError: iperfError(bulk) } : { bulkGbit: gbit(bulk), bulkRetransmits: retransmits(bulk) }),
      ...(dropsBefore !== undefined && dropsAfter !== undefined ? { serverDrops: dropsAfter - dropsBefore } : {}),
    };
  }
  return out;
}

/** One session with 128-bit stateless MPPE (no offload after encryption): TCP both ways, server CPU per GB. */
async function mppe(t: Target): Promise<Json> {
  await settle(t);
  const tu = await tunnel(t, 1, ['--require-mppe-128']);
  try {
    log(`mppe (${t.name}): 1 session, client → server`);
    const up = await measured(t, tu, []);
    log(`mppe (${t.name}): 1 session, server → client`);
    const down = await measured(t, tu, ['-R']);
    return {
      tcpUpGbit: up.gbit, tcpDownGbit: down.gbit, tcpUpServerCpuSPerGB: up.cpuSPerGB, tcpDownServerCpuSPerGB: down.cpuSPerGB,
      tcpUpRetransmits: up.retransmits, tcpDownRetransmits: down.retransmits,
      ...(up.error !== undefined ? { tcpUpError: up.error } : {}),
      ...(down.error !== undefined ? { tcpDownError: down.error } : {}),
    };
  } finally {
    await closeTunnel(tu);
  }
}

// ---- report ---------------------------------------------------------------------------------

function machine(): Json {
  const v = (cmd: string, args: string[]): string => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8' }).split('\n')[0]!.trim();
    } catch {
      return 'n/a';
    }
  };
  return {
    cpu: cpus()[0]?.model,
    cores: cpus().length,
    memGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    openssl: process.versions.openssl,
    sstpd: (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version,
    commit: v('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']),
    iperf3: v('iperf3', ['--version']),
    server: EXTERNAL ? values.server : 'sstpd (this checkout)',
    ...(values.compare !== undefined ? { compare: values.compare } : {}),
    loadAvgAtStart: loadAtStart,
    loadAvgAtEnd: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

/** A number for the table; '-' when a figure is missing (another server) or undefined across runs. */
function figure(v: unknown): string {
  return typeof v === 'number' && Number.isFinite(v) ? String(v) : '-';
}

function table(m: Json): string {
  const rows: string[] = [`machine: ${m['cores']} x ${m['cpu']}, ${m['memGiB']} GiB, Linux ${m['kernel']}, node ${m['node']}, OpenSSL ${m['openssl']}`, `server: ${m['server']} (commit ${m['commit']})`, ''];
  const row = (k: string, v: unknown): void => void rows.push(`${k.padEnd(44)} ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  const s = results['setup'] as Record<string, Json> | undefined;
  if (s) for (const [k, v] of Object.entries(s)) row(`setup, ${k.slice(1)} concurrent (${v['established']}/${v['sessions']})`, `${v['perSecond']}/s  p50 ${v['p50Ms']} ms  p99 ${v['p99Ms']} ms  server CPU ${v['serverCpuMsPerSetup'] ?? '-'} ms/setup  load generator CPU ${v['loadCpuMsPerSetup'] ?? '-'} ms/setup`);
  const ch = results['churn'] as Record<string, Json> | undefined;
  if (ch) for (const [k, v] of Object.entries(ch)) row(`churn, ${k.slice(1)} at a time (${v['established']} sessions)`, `${v['perSecond']}/s  p50 ${v['p50Ms']} ms  p99 ${v['p99Ms']} ms  server CPU ${v['serverCpuMsPerSession'] ?? '-'} ms/session (set up and closed)`);
  const i = results['idle'] as Record<string, Json> | undefined;
  if (i) for (const v of Object.values(i)) row(`idle ${v['sessions']} sessions`, `RSS ${v['serverRssMiB'] ?? '-'} MiB (${v['rssPerSessionKiB'] ?? '-'} KiB/session)  CPU ${v['serverCpuPercent'] ?? '-'} %  echo RTT p50 ${v['echoRttP50Ms']} ms p99 ${v['echoRttP99Ms']} ms`);
  const tp = results['throughput'] as Json | undefined;
  if (tp) {
    const fig = (d: 'Up' | 'Down'): string => tp[`tcp${d}Error`] !== undefined ? String(tp[`tcp${d}Error`])
      : `${tp[`tcp${d}Gbit`]} Gbit/s  retransmits ${tp[`tcp${d}Retransmits`] ?? '-'}  server drops ${figure(tp[`tcp${d}ServerDrops`])}  server CPU ${tp[`tcp${d}ServerCpuSPerGB`] ?? '-'} s/GB`;
    row(`TCP, 1 session, client → server (offload ${tp['tunOffload'] ? 'on' : 'off'})`, fig('Up'));
    row('TCP, 1 session, server → client', fig('Down'));
    row('TCP, 4 sessions, client → server (sum)', tp['tcpUp4SessionsError'] !== undefined ? String(tp['tcpUp4SessionsError']) : `${tp['tcpUp4SessionsGbit']} Gbit/s`);
  }
  const sp = results['smallPackets'] as Record<string, Json> | undefined;
  if (sp) for (const [k, v] of Object.entries(sp)) row(`UDP 64 B, 1 session, ${k.endsWith('Up') ? 'client → server' : 'server → client'}`, v['error'] !== undefined ? String(v['error']) : `${v['receivedPps']} packets/s received (${v['lostPercent']} % lost)`);
  const l = results['latency'] as Json | undefined;
  if (l) {
    row('ping RTT p50: tunnel / veth / added', `${l['tunnelP50Us']} / ${l['vethP50Us'] ?? '-'} / ${l['addedP50Us'] ?? '-'} µs`);
    row('floor: Node TCP echo between 2 processes', `p50 ${l['nodeEchoFloorP50Us'] ?? '-'} µs`);
  }
  const ld = results['loaded'] as Record<string, Json> | undefined;
  if (ld) {
    for (const [k, v] of Object.entries(ld)) {
      row(`ping RTT, 1 bulk TCP flow ${k === 'underUpload' ? 'client → server' : 'server → client'}`, `p50 ${v['pingP50Us']} µs  p99 ${v['pingP99Us']} µs  (veth at once: p50 ${figure(v['vethP50Us'])} µs  p99 ${figure(v['vethP99Us'])} µs; ${v['samples']} pings; flow ${v['bulkError'] ?? `${v['bulkGbit']} Gbit/s, ${v['bulkRetransmits'] ?? '-'} retransmits, ${figure(v['serverDrops'])} server drops`})`);
    }
  }
  const mp = results['mppe'] as Json | undefined;
  if (mp) {
    const fig = (d: 'Up' | 'Down'): string => mp[`tcp${d}Error`] !== undefined ? String(mp[`tcp${d}Error`])
      : `${mp[`tcp${d}Gbit`]} Gbit/s  retransmits ${mp[`tcp${d}Retransmits`] ?? '-'}  server CPU ${mp[`tcp${d}ServerCpuSPerGB`] ?? '-'} s/GB`;
    row('MPPE-128 TCP, 1 session, client → server', fig('Up'));
    row('MPPE-128 TCP, 1 session, server → client', fig('Down'));
  }
  for (const n of notes) rows.push(`note: ${n}`);
  return rows.join('\n');
}

let loadAtStart: number[] = [];

/** SIGTERM to every sstpd started here, bounded (deleting many cached interfaces takes a while): a clean exit writes the --cpu-prof profile. */
async function stopServers(): Promise<void> {
  await Promise.all(servers.map((d) => new Promise<void>((resolve) => {
    if (d.exitCode !== null || d.signalCode !== null) return resolve();
    const t = setTimeout(resolve, 120_000);
    d.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    d.kill('SIGTERM');
  })));
}

// ---- runs, spread and comparison ------------------------------------------------------------

const STEPS: [string, string, (t: Target) => Promise<Json>][] = [
  ['setup', 'setup', setup], ['churn', 'churn', churn], ['idle', 'idle', idle], ['throughput', 'throughput', throughput],
  ['small', 'smallPackets', small], ['latency', 'latency', latency], ['loaded', 'loaded', loaded], ['mppe', 'mppe', mppe],
];

/** Per result key, per server (in --compare order), the figures of each run. */
const perRun: Record<string, Json[][]> = {};

/**
 * Each step runs --runs times; with --compare the servers take turns within each run (A B, A B …),
 * so slow drift of the shared machine's load hits both alike.
 */
async function runSteps(targets: readonly Target[]): Promise<void> {
  for (const [name, key, fn] of STEPS) {
    if (!ONLY.has(name)) continue;
    const runs: Json[][] = targets.map(() => []);
    for (let r = 0; r < RUNS; r++) {
      for (const [k, t] of targets.entries()) {
        try {
          if (RUNS > 1 || targets.length > 1) log(`${name}: run ${r + 1}/${RUNS}, ${t.name}`);
          runs[k]!.push(await fn(t));
        } catch (e) {
          notes.push(`${name} (${t.name}, run ${r + 1}) failed: ${e instanceof Error ? e.message : String(e)}`);
          log(`${name} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
        }
      }
    }
    perRun[key] = runs;
    if (runs[0]!.length > 0) results[key] = medianOf(runs[0]!);
    if (targets.length > 1 && runs[1]!.length > 0) compared[key] = medianOf(runs[1]!);
  }
  serverNames = targets.map((t) => t.name);
}

const compared: Json = {};
let serverNames: string[] = [];

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : Math.round(((s[m - 1]! + s[m]!) / 2) * 1000) / 1000;
};

/** The runs' figures merged leaf by leaf: numbers become their median, anything else the first run's. */
function medianOf(runs: readonly Json[]): Json {
  const out: Json = {};
  const keys = new Set(runs.flatMap((r) => Object.keys(r)));
  for (const k of keys) {
    const vs = runs.map((r) => r[k]).filter((v) => v !== undefined);
    if (vs.every((v) => typeof v === 'number')) out[k] = median(vs as number[]);
    else if (vs.every((v) => typeof v === 'object' && v !== null && !Array.isArray(v))) out[k] = medianOf(vs as Json[]);
    else out[k] = vs[0];
  }
  return out;
}

/** Every numeric figure of a step as path → one value per run. */
function leaves(runs: readonly Json[]): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const walk = (j: Json, path: string): void => {
    for (const [k, v] of Object.entries(j)) {
      const p = path ? `${path}.${k}` : k;
      if (typeof v === 'number') m.set(p, [...(m.get(p) ?? []), v]);
      else if (typeof v === 'object' && v !== null && !Array.isArray(v)) walk(v as Json, p);
    }
  };
  for (const r of runs) walk(r, '');
  return m;
}

const spreadText = (xs: readonly number[] | undefined): string =>
  xs === undefined || xs.length === 0 ? '-' : xs.length === 1 ? String(xs[0]) : `${median(xs)} [${Math.min(...xs)}–${Math.max(...xs)}]`;

/** The spread table: median [min–max] per figure, and with --compare the second server and the ratio A/B. */
function spreadTable(): string {
  const two = serverNames.length > 1;
  const rows: string[] = ['', `${RUNS} run(s) per figure: median [min–max]${two ? `; A = ${serverNames[0]}, B = ${serverNames[1]}, ratio A/B of the medians` : ''}`];
  const head = `${'figure'.padEnd(46)} ${(two ? 'A' : 'value').padEnd(28)}${two ? ` ${'B'.padEnd(28)} A/B` : ''}`;
  rows.push(head);
  for (const [, key] of STEPS) {
    const runs = perRun[key];
    if (!runs) continue;
    const a = leaves(runs[0] ?? []);
    const b = leaves(runs[1] ?? []);
    for (const p of new Set([...a.keys(), ...b.keys()])) {
      const av = a.get(p);
      const bv = b.get(p);
      const ratio = av?.length && bv?.length && median(bv) !== 0 ? (median(av) / median(bv)).toFixed(2) : '-';
      rows.push(`${`${key}.${p}`.padEnd(46)} ${spreadText(av).padEnd(28)}${two ? ` ${spreadText(bv).padEnd(28)} ${ratio}` : ''}`);
    }
    for (const [k, rs] of runs.entries()) {
      for (const r of rs) for (const e of errorsIn(r)) rows.push(`${key} (${serverNames[k] ?? '?'}): ${e}`);
    }
  }
  return rows.join('\n');
}

/** Error texts (e.g. iperf3's) anywhere in a step's figures. */
function errorsIn(j: Json): string[] {
  return Object.entries(j).flatMap(([k, v]) =>
    typeof v === 'string' && /error$/i.test(k) ? [v] : typeof v === 'object' && v !== null && !Array.isArray(v) ? errorsIn(v as Json) : []);
}

/** Other work on the machine skews every figure: wait (bounded) until the 1-minute load is low. */
async function waitQuiet(maxS: number): Promise<void> {
  const deadline = Date.now() + maxS * 1000;
  while (loadavg()[0]! > 0.7 && Date.now() < deadline) {
    log(`waiting for a quiet machine (load ${loadavg()[0]!.toFixed(2)})`);
    await sleep(15_000);
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the benchmarks need root (network namespaces, TUN devices)');
  if (values['wait-quiet'] !== undefined) await waitQuiet(Number(values['wait-quiet']));
  loadAtStart = loadavg().map((x) => Math.round(x * 100) / 100);
  const dir = mkdtempSync(join(tmpdir(), 'sstpd-bench-'));
  const started = Date.now();
  try {
    const maxIdle = Math.max(...IDLE, 0);
    const t = EXTERNAL
      ? externalTarget({ server: values.server!, user: values.user, password: values.password, pid: values['server-pid'], netns: values.netns, target: values.target, users: values.users })
      : await startSstpd(dir, Math.max(maxIdle, 2100, 100), {
        name: values['interface-cache'] !== undefined ? `sstpd (interface-cache ${values['interface-cache']})` : 'sstpd',
        ns: NS_S,
        dist: DIST,
        ...(values['interface-cache'] !== undefined ? { interfaceCache: Number(values['interface-cache']) } : {}),
      });
    const targets = [t];
    if (values['compare-build'] !== undefined) {
      const other = values['compare-build'];
      targets.push(await startSstpd(dir, Math.max(maxIdle, 2100, 100), { name: `sstpd (${other})`, ns: NS_S2, dist: join(other, 'dist') }));
    } else if (values.compare !== undefined) {
      targets.push(externalTarget({
        server: values.compare,
        user: values['compare-user'] ?? values.user ?? t.user,
        password: values['compare-password'] ?? values.password ?? t.password,
        pid: values['compare-pid'],
        netns: values['compare-netns'] ?? values.netns,
        target: values['compare-target'] ?? values.target,
        users: values['compare-users'] ?? values.users,
      }));
    }
    await runSteps(targets);
  } finally {
    await stopServers();
    cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
  const m = machine();
  process.stdout.write(table(m) + '\n');
  if (RUNS > 1 || serverNames.length > 1) process.stdout.write(spreadTable() + '\n');
  const doc = {
    date: new Date().toISOString(), durationS: Math.round((Date.now() - started) / 1000), command: process.argv.slice(2).join(' '), machine: m,
    runs: RUNS, servers: serverNames, results, ...(serverNames.length > 1 ? { compared } : {}), perRun, notes,
  };
  writeFileSync(values.out, JSON.stringify(doc, null, 2) + '\n');
  log(`wrote ${values.out}`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
