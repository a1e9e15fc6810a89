/**
 * One worker process against one per core, in one run, side by side (root: namespaces, TUN):
 *
 *   npm run bench:workers                       # --runs 1, every figure
 *   node dist/bench/workers.js --runs 2 --sessions 600 --idle 1000 --seconds 5
 *   node dist/bench/workers.js --runs 3 --sessions 500 --only setup --balance reuseport,round-robin
 *
 * For `--workers 1` and `--workers <cores>` once per `--balance` (how the workers share the port),
 * alternately (A B C, A B C, … so load from other work drifts over all alike), on a fresh sstpd
 * each time:
 *   - setup rate: sstp-load, --sessions at 50 in flight, each held 1 s; the server's CPU over the
 *     run (every process: the primary and its workers) per session set up (ms); the spread: the
 *     sessions each worker set up (its `session-up` lines), and the busiest worker's share over
 *     the even share (1 = perfectly even);
 *   - TCP: 4 sessions (sstp-connect, TUN in their own namespaces) each running iperf3 to the server
 *     side at once: total Gbit/s, server CPU seconds per GB moved;
 *   - idle: --idle sessions held: RSS of every server process, and its growth per session.
 * Writes bench/workers-results.json. Every process this starts is killed and every namespace
 * deleted on exit.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs, promisify } from 'node:util';
import { generateTestCertificates } from '../src/config/certs.js';
import { NODE_FLAGS } from '../src/common/node-flags.js';
import { BENCH_GATEWAY, BENCH_PORT, benchConfigLines, loadReport } from './common.js';

type Json = Record<string, unknown>;
const execFileAsync = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
const cli = (name: string): string => join(import.meta.dirname, '..', 'src', 'cli', `${name}.js`);

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '1' },
    sessions: { type: 'string', default: '600' },
    idle: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '5' },
    workers: { type: 'string' },
    balance: { type: 'string', default: 'round-robin,reuseport' },
    /** `setup`: only the setup-rate phase (the spread and setup cost are what --balance changes). */
    only: { type: 'string' },
    out: { type: 'string', default: join(ROOT, 'bench', 'workers-results.json') },
  },
});
const RUNS = Math.max(1, Number(values.runs));
const SETUPS = Number(values.sessions);
const IDLE = Number(values.idle);
const SECONDS = Number(values.seconds);
const WORKERS = Number(values.workers ?? Math.max(2, availableParallelism()));
interface Mode {
  readonly workers: number;
  readonly balance?: string;
}
const MODES: Mode[] = [{ workers: 1 }, ...values.balance!.split(',').map((balance) => ({ workers: WORKERS, balance }))];
const modeName = (m: Mode): string => (m.balance ? `workers=${m.workers} ${m.balance}` : `workers=${m.workers}`);
const SETUP_ONLY = values.only === 'setup';
const PORT = BENCH_PORT;
const GATEWAY = BENCH_GATEWAY;
const TUNNELS = 4;
const tag = `wb${process.pid}`;
const NS = `${tag}-s`;
const namespaces: string[] = [];
const children = new Set<ChildProcess>();
const log = (s: string): void => void process.stderr.write(`bench:workers: ${s}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function cleanup(): void {
  for (const c of children) c.kill('SIGKILL');
  for (const n of namespaces.splice(0)) {
    try {
      execFileSync('ip', ['netns', 'del', n], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));

function addNetns(name: string): void {
  execFileSync('ip', ['netns', 'add', name]);
  namespaces.push(name);
  execFileSync('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
}

function start(ns: string, cmd: string, args: readonly string[]): ChildProcess {
  const c = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(c);
  c.once('exit', () => children.delete(c));
  return c;
}

async function run(ns: string, cmd: string, args: readonly string[], timeoutMs = 600_000): Promise<string> {
  return (await execFileAsync('ip', ['netns', 'exec', ns, cmd, ...args], { timeout: timeoutMs, maxBuffer: 64 << 20 })).stdout;
}

/** Resolves with the first JSON line of `child`'s stdout that `pred` accepts. */
function line(child: ChildProcess, pred: (j: Json) => boolean, timeoutMs: number, what: string): Promise<Json> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what}: timed out`)), timeoutMs);
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (l) => {
      try {
        const j = JSON.parse(l) as Json;
        if (pred(j)) {
          clearTimeout(t);
          rl.removeAllListeners('line');
          child.stdout!.resume();
          resolve(j);
        }
      } catch {
        // not JSON
      }
    });
    child.once('exit', () => reject(new Error(`${what}: exited`)));
  });
}

/** The server's processes: the one we started and its children (the workers). */
function tree(pid: number): number[] {
  const kids = readdirSync(`/proc/${pid}/task`).flatMap((t) => readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
  return [pid, ...kids.flatMap(tree)];
}

/** CPU seconds and RSS (MiB) summed over the server's processes; `ownCpuS` is the first one's (the primary). */
function usage(pid: number): { cpuS: number; rssMiB: number; ownCpuS: number } {
  let cpuS = 0;
  let rssKiB = 0;
  let ownCpuS = 0;
  for (const p of tree(pid)) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cpu = (Number(f[11]) + Number(f[12])) / 100;
      cpuS += cpu;
      if (p === pid) ownCpuS = cpu;
      rssKiB += Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      // a process that just ended
    }
  }
  return { cpuS, ownCpuS, rssMiB: Math.round((rssKiB / 1024) * 10) / 10 };
}

const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;

async function report(text: string): Promise<Json> {
  const rep = loadReport(text);
  if (!rep) throw new Error(`no report from sstp-load: ${text.slice(-300)}`);
  return rep;
}

async function settle(): Promise<void> {
  for (let i = 0; i < 300 && /: sstp\d+/.test(await run(NS, 'ip', ['-o', 'link', 'show'])); i++) await sleep(1000);
}

/** `session-up` lines per worker (the field a worker's log lines carry; one process: 0). */
function countSessionsUp(child: ChildProcess): Map<number, number> {
  const counts = new Map<number, number>();
  createInterface({ input: child.stdout! }).on('line', (l) => {
    if (!l.includes('"session-up"')) return;
    try {
      const w = Number((JSON.parse(l) as Json)['worker'] ?? 0);
      counts.set(w, (counts.get(w) ?? 0) + 1);
    } catch {
      // not JSON
    }
  });
  return counts;
}

/** Each worker's count (slot order), and the busiest one's share over the even share. */
function spread(counts: Map<number, number>, workers: number): Json {
  const per = Array.from({ length: workers }, (_, i) => counts.get(i) ?? 0);
  const total = per.reduce((a, b) => a + b, 0);
  return { perWorker: per, maxOverEven: total > 0 ? round(Math.max(...per) / (total / workers)) : null };
}

async function measure(dir: string, mode: Mode): Promise<Json> {
  const { workers } = mode;
  const users = Math.max(SETUPS, IDLE) + TUNNELS + 10;
  const certs = await generateTestCertificates(dir);
  writeFileSync(join(dir, 'sstpd.conf'), benchConfigLines(users, certs).join('\n') + '\n');
  const d = start(NS, process.execPath, [...NODE_FLAGS, cli('sstpd'), '--config', join(dir, 'sstpd.conf'), '--state-dir', join(dir, 'state'), '--workers', String(workers), ...(mode.balance ? ['--balance', mode.balance] : [])]);
  d.stderr!.on('data', (b: Buffer) => process.stderr.write(b));
  await line(d, (j) => j['msg'] === 'listening', 120_000, 'sstpd start');
  const up = countSessionsUp(d);
  await sleep(1500);
  const pid = d.pid!;
  const fresh = usage(pid);
  const out: Json = { mode: modeName(mode), workers, processes: tree(pid).length, freshRssMiB: fresh.rssMiB };
  const load = (n: number, c: number, hold: number): string[] =>
    [...NODE_FLAGS, cli('sstp-load'), '--user', 'u%d', '--users', String(users), '--password', 'pw', '--insecure', '--source-addresses', '16',
      '--sessions', String(n), '--concurrency', String(c), '--hold', String(hold), `127.0.0.1:${PORT}`];

  log(`${modeName(mode)}: setup, ${SETUPS} sessions, 50 in flight`);
  const u0 = usage(pid);
  up.clear();
  const rep = await report(await run(NS, process.execPath, load(SETUPS, 50, 1)).catch((e: { stdout?: string }) => e.stdout ?? ''));
  const established = Number(rep['established']);
  const u1 = usage(pid);
  const perSetup = (s: number): number => round((s * 1000) / Math.max(1, established));
  out['setup'] = {
    established,
    perSecond: rep['setupRate'],
    p50Ms: (rep['setupMs'] as Json)['p50'],
    serverCpuMsPerSetup: perSetup(u1.cpuS - u0.cpuS),
    // With workers: the primary's part (accept and pass, shared state, accounting); alone: everything.
    firstProcessCpuMsPerSetup: perSetup(u1.ownCpuS - u0.ownCpuS),
    spread: spread(up, workers),
  };
  await settle();
  if (SETUP_ONLY) {
    d.kill('SIGTERM');
    await new Promise((r) => d.once('exit', r));
    return out;
  }

  log(`${modeName(mode)}: TCP, ${TUNNELS} sessions × iperf3 ${SECONDS} s`);
  const tunnels: ChildProcess[] = [];
  const servers: ChildProcess[] = [];
  try {
    for (let i = 0; i < TUNNELS; i++) {
      const ns = `${tag}-c${i}`;
      if (!namespaces.includes(ns)) addNetns(ns);
      const t = start(NS, process.execPath, [...NODE_FLAGS, cli('sstp-connect'), '--user', `u${users - 1 - i}`, '--password', 'pw', '--insecure', '--netns', ns, '--ifname', `wb${i}`, `127.0.0.1:${PORT}`]);
      tunnels.push(t);
      await line(t, (j) => j['state'] === 'up', 60_000, `tunnel ${i}`);
      servers.push(start(NS, 'iperf3', ['-s', '-1', '-p', String(5201 + i)]));
    }
    await sleep(500);
    const t0 = usage(pid).cpuS;
    const results = await Promise.all(tunnels.map((_, i) =>
      run(`${tag}-c${i}`, 'iperf3', ['-c', GATEWAY, '-p', String(5201 + i), '-t', String(SECONDS), '--connect-timeout', '10000', '-J'], (SECONDS + 30) * 1000).then((s) => JSON.parse(s) as Json).catch(() => ({}) as Json)));
    const cpu = usage(pid).cpuS - t0;
    const bytes = results.reduce((n, j) => n + Number(((j['end'] as Json | undefined)?.['sum_received'] as Json | undefined)?.['bytes'] ?? 0), 0);
    out['tcp4'] = { gbit: round((bytes * 8) / 1e9 / SECONDS, 3), serverCpuSPerGB: bytes > 0 ? round(cpu / (bytes / 1e9)) : null };
  } finally {
    for (const c of [...tunnels, ...servers]) c.kill('SIGTERM');
  }
  await settle();

  log(`${modeName(mode)}: idle, ${IDLE} sessions`);
  const idler = start(NS, process.execPath, load(IDLE, 100, 30));
  await line(idler, (j) => j['event'] === 'ramp-done' || j['event'] === 'hold-start' || (j['event'] === 'progress' && Number(j['established']) >= IDLE), 300_000, 'idle ramp').catch(() => undefined);
  await sleep(5000);
  const held = usage(pid);
  out['idle'] = { sessions: IDLE, rssMiB: held.rssMiB, kibPerSession: round(((held.rssMiB - fresh.rssMiB) * 1024) / IDLE, 1), totalKibPerSession: round((held.rssMiB * 1024) / IDLE, 1) };
  idler.kill('SIGKILL');
  d.kill('SIGTERM');
  await new Promise((r) => d.once('exit', r));
  return out;
}

async function main(): Promise<void> {
  addNetns(NS);
  await run(NS, 'sysctl', ['-qw', 'net.ipv4.ip_local_port_range=1024 65000', 'net.ipv4.tcp_tw_reuse=1', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
  const all: Json[] = [];
  for (let r = 0; r < RUNS; r++) {
    for (const m of MODES) {
      const dir = mkdtempSync(join(tmpdir(), 'sstpd-wb-'));
      try {
        all.push({ run: r, load1: round(loadavg()[0]!), ...(await measure(dir, m)) });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  const pick = (m: Mode, path: string): number[] =>
    all.filter((x) => x['mode'] === modeName(m)).map((x) => path.split('.').reduce<unknown>((o, k) => (o as Json | undefined)?.[k], x)).map(Number).filter(Number.isFinite);
  const median = (xs: number[]): number | undefined => {
    const s = [...xs].sort((p, q) => p - q);
    const m = Math.floor(s.length / 2);
    return s.length === 0 ? undefined : s.length % 2 === 1 ? s[m] : round((s[m - 1]! + s[m]!) / 2);
  };
  const rows = ['setup.perSecond', 'setup.p50Ms', 'setup.serverCpuMsPerSetup', 'setup.firstProcessCpuMsPerSetup', 'setup.spread.maxOverEven',
    ...(SETUP_ONLY ? [] : ['tcp4.gbit', 'tcp4.serverCpuSPerGB', 'freshRssMiB', 'idle.rssMiB', 'idle.kibPerSession', 'idle.totalKibPerSession'])];
  // Ratios against the first mode (one process); the --balance modes side by side.
  const names = MODES.map(modeName);
  const lines = [`${'figure'.padEnd(34)}${names.map((n) => n.padEnd(26)).join('')}${names.slice(1).map((n) => `(${n})/(${names[0]})`.padEnd(10)).join(' ')}`];
  const table: Json = {};
  for (const r of rows) {
    const xs = MODES.map((m) => median(pick(m, r)));
    const x = xs[0];
    table[r] = Object.fromEntries(names.map((n, i) => [n, xs[i]]));
    lines.push(`${r.padEnd(34)}${xs.map((v) => String(v ?? '-').padEnd(26)).join('')}${xs.slice(1).map((y) => (x && y ? String(round(y / x)) : '-').padEnd(10)).join(' ')}`);
  }
  lines.push('spread (sessions per worker, each run):');
  for (const m of MODES.slice(1)) lines.push(`  ${modeName(m).padEnd(32)}${all.filter((x) => x['mode'] === modeName(m)).map((x) => JSON.stringify(((x['setup'] as Json)['spread'] as Json)['perWorker'])).join(' ')}`);
  process.stdout.write(lines.join('\n') + '\n');
  writeFileSync(values.out!, JSON.stringify({ cores: availableParallelism(), modes: names, medians: table, runs: all }, null, 2) + '\n');
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    log(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  },
);
