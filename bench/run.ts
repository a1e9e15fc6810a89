/**
 * The benchmark suite (root: network namespaces, TUN). One command, bounded in time, loopback and
 * throwaway namespaces only:
 *
 *   npm run bench                         # sstpd, all figures (about 5 minutes on 2 cores)
 *   node dist/bench/run.js --quick        # smaller counts, about 1.5 minutes
 *   node dist/bench/run.js --only setup,latency
 *   node dist/bench/run.js --wait-quiet 600   # first wait (at most 600 s) for a 1-min load below 0.7
 *   node dist/bench/run.js --server 127.0.0.1:443 --user u%d --password p [--ca F | --insecure]
 *        [--server-pid PID] [--target 192.168.30.1]          # any SSTP server, e.g. SoftEther
 *
 * Figures: setup rate and latency at 1/10/100 concurrent connects; idle sessions (1,000 and 10,000)
 * with keepalives: server RSS, CPU %, LCP echo RTT; single-session TCP throughput both ways and 4
 * sessions in parallel (iperf3, client TUN in a namespace); 64-byte UDP packet rate; added latency
 * (ping through the tunnel minus ping over a veth pair). Prints a table, writes bench/results.json.
 *
 * Topology (sstpd): namespace S holds sstpd, the load generator and the iperf3 servers (the "host
 * side" of the tunnel: sstpd's gateway address is local there); namespaces C1..C4 hold the clients'
 * TUN interfaces (sstp-connect runs in S and moves its interface into Ci).
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs, promisify } from 'node:util';
import { generateTestCertificates } from '../src/config/certs.js';
import { summarize } from '../src/client/stats.js';

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
  },
});

const QUICK = values.quick;
const SECONDS = Number(values.seconds ?? (QUICK ? 3 : 5));
const ONLY = new Set((values.only ?? 'setup,idle,throughput,small,latency').split(','));
const IDLE = (values.idle ?? (QUICK ? '1000' : '1000,10000')).split(',').map(Number);
const EXTERNAL = values.server !== undefined;
const PORT = 4443;
const GATEWAY = '198.18.255.254';
const IPERF_BASE = 5201;

type Json = Record<string, unknown>;
const results: Json = {};
const notes: string[] = [];
const log = (s: string): void => void process.stderr.write(`bench: ${s}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---- namespaces and processes ----------------------------------------------------------------

const tag = `sb${process.pid}`;
const NS_S = `${tag}-s`;
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
  constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (l) => {
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
  /** RSS of a freshly started server (sessions' share = RSS − this). */
  readonly startRssMiB?: number;
}

/** The hard open-files limit bounds sessions: sstpd holds 2 fds per session (TLS socket + TUN). */
function fdLimit(): number {
  return Number(execFileSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim()) || 1024;
}

async function startSstpd(dir: string, users: number): Promise<Target> {
  addNetns(NS_S);
  // A bench host, not a router: wide ephemeral port range and TIME-WAIT reuse for 10k loopback
  // connections; sstpd has no IPv6 yet, so no IPv6 autoconfiguration on its interfaces.
  await run(NS_S, 'sysctl', ['-qw', 'net.ipv4.ip_local_port_range=1024 65000', 'net.ipv4.tcp_tw_reuse=1',
    'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
  const certs = await generateTestCertificates(dir);
  const conf = [
    ...Array.from({ length: users }, (_, i) => `set vpn sstp authentication local-users username u${i} password pw`),
    `set vpn sstp gateway-address ${GATEWAY}`,
    'set vpn sstp client-ip-pool subnet 198.18.0.0/17',
    'set vpn sstp ppp-options lcp-echo-interval 10',
    `set vpn sstp ssl cert-file ${certs.serverCert}`,
    `set vpn sstp ssl key-file ${certs.serverKey}`,
    `set vpn sstp port ${PORT}`,
  ];
  writeFileSync(join(dir, 'sstpd.conf'), conf.join('\n') + '\n');
  const d = start(NS_S, process.execPath, [cliPath('sstpd'), '--config', join(dir, 'sstpd.conf'), '--state-dir', join(dir, 'state')]);
  const lines = new Lines(d);
  d.stderr!.on('data', (b: Buffer) => process.stderr.write(b));
  await lines.next((j) => j['msg'] === 'listening', 60_000, 'sstpd start');
  await sleep(1000);
  const idleRss = d.pid !== undefined ? procStat(d.pid).rssMiB : undefined;
  // Nothing else reads the session log; keep the pipe drained.
  setInterval(() => void lines.seen.splice(0), 1000).unref();
  return {
    ns: NS_S,
    host: '127.0.0.1',
    port: PORT,
    user: 'u%d',
    password: 'pw',
    tlsArgs: ['--insecure'],
    pid: d.pid,
    gateway: GATEWAY,
    maxSessions: Math.min(users, Math.floor((fdLimit() - 200) / 2)),
    ...(idleRss !== undefined ? { startRssMiB: idleRss } : {}),
  };
}

function externalTarget(): Target {
  const [host = '', port = '443'] = values.server!.split(':');
  if (values.user === undefined || values.password === undefined) throw new Error('--server needs --user and --password');
  return {
    ns: undefined,
    host,
    port: Number(port),
    user: values.user,
    password: values.password,
    tlsArgs: values.ca !== undefined ? ['--ca', values.ca] : ['--insecure'],
    pid: values['server-pid'] !== undefined ? Number(values['server-pid']) : undefined,
    gateway: values.target,
    maxSessions: 100_000,
  };
}

function procStat(pid: number): { cpuS: number; rssMiB: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(f[11]) + Number(f[12]); // utime + stime
  const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return { cpuS: ticks / 100, rssMiB: Math.round((Number(rss) / 1024) * 10) / 10 };
}

/** Waits until the server holds no session interfaces (teardown of a previous step is done). */
async function settle(t: Target): Promise<void> {
  if (t.ns === undefined) return sleep(2000);
  const deadline = Date.now() + 300_000;
  while (Date.now() < deadline) {
    const links = await run(t.ns, 'ip', ['-o', 'link', 'show']);
    if (!/: sstp\d+/.test(links)) return;
    await sleep(1000);
  }
  log('warning: session interfaces still present after 300 s');
}

// ---- the steps ------------------------------------------------------------------------------

function loadArgs(t: Target, extra: readonly string[]): string[] {
  return [cliPath('sstp-load'), '--user', t.user, '--password', t.password, ...t.tlsArgs, '--source-addresses', '16', ...extra, `${t.host}:${t.port}`];
}

async function setup(t: Target): Promise<void> {
  const plan: [number, number][] = QUICK ? [[1, 50], [10, 200], [100, 500]] : [[1, 100], [10, 500], [100, 2000]];
  const out: Json = {};
  for (const [c, n] of plan) {
    await settle(t);
    log(`setup: ${n} sessions, ${c} concurrent`);
    // Sessions are held past the ramp, so interface teardown (kernel-serialized) is not in the window.
    const text = await run(t.ns, process.execPath, loadArgs(t, ['--sessions', String(Math.min(n, t.maxSessions)), '--concurrency', String(c), '--hold', '1', '--auth-mix', 'mschap-v2']), 600_000).catch((e: { stdout?: string }) => e.stdout ?? '');
    const rep = text.trim().split('\n').map((l) => JSON.parse(l) as Json).find((j) => j['event'] === 'report');
    if (!rep) throw new Error(`setup c=${c}: no report`);
    const ms = rep['setupMs'] as Json;
    out[`c${c}`] = { sessions: n, established: rep['established'], perSecond: rep['setupRate'], p50Ms: ms['p50'], p99Ms: ms['p99'], failures: rep['failures'] };
  }
  results['setup'] = out;
}

async function idle(t: Target): Promise<void> {
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
  results['idle'] = out;
}

interface Tunnel {
  readonly ns: string;
  readonly child: ChildProcess;
  readonly up: Json;
}

async function tunnel(t: Target, i: number): Promise<Tunnel> {
  const ns = nsC(i);
  if (!namespaces.includes(ns)) addNetns(ns);
  const user = t.user.replace('%d', String(90 + i));
  const child = start(t.ns, process.execPath, [cliPath('sstp-connect'), '--user', user, '--password', t.password, ...t.tlsArgs, '--netns', ns, '--ifname', `sstpb${i}`, `${t.host}:${t.port}`]);
  const up = await new Lines(child).next((j) => j['state'] === 'up', 30_000, `tunnel ${i}`);
  return { ns, child, up };
}

async function closeTunnel(tu: Tunnel): Promise<void> {
  tu.child.kill('SIGTERM');
  await new Promise((r) => tu.child.once('exit', r));
}

async function iperf(t: Target, tus: readonly Tunnel[], args: readonly string[]): Promise<Json[]> {
  const target = t.gateway ?? String(tus[0]!.up['peer']);
  const servers = tus.map((_, k) => start(t.ns, 'iperf3', ['-s', '-1', '-p', String(IPERF_BASE + k)]));
  await sleep(500);
  try {
    const outs = await Promise.all(tus.map((tu, k) =>
      run(tu.ns, 'iperf3', ['-c', target, '-p', String(IPERF_BASE + k), '-t', String(SECONDS), '-J', ...args], (SECONDS + 30) * 1000)));
    return outs.map((o) => JSON.parse(o) as Json);
  } finally {
    for (const s of servers) s.kill('SIGKILL');
  }
}

const gbit = (j: Json): number => {
  const end = j['end'] as Json;
  const sum = (end['sum_received'] ?? end['sum']) as Json;
  return Math.round((Number(sum['bits_per_second']) / 1e9) * 1000) / 1000;
};

/** TCP segments the sender retransmitted (iperf3 -J reports them on the sending side). */
const retransmits = (j: Json): number | undefined => {
  const v = ((j['end'] as Json)['sum_sent'] as Json | undefined)?.['retransmits'];
  return typeof v === 'number' ? v : undefined;
};

/** One iperf3 run with the server's CPU seconds per GB moved (when its pid is known) and retransmits. */
async function measured(t: Target, tu: Tunnel, args: readonly string[]): Promise<{ gbit: number; retransmits: number | undefined; cpuSPerGB: number | undefined }> {
  const before = t.pid !== undefined ? procStat(t.pid).cpuS : undefined;
  const j = (await iperf(t, [tu], args))[0]!;
  const cpu = before !== undefined && t.pid !== undefined ? procStat(t.pid).cpuS - before : undefined;
  const bytes = Number(((j['end'] as Json)['sum_received'] as Json | undefined)?.['bytes'] ?? NaN);
  return { gbit: gbit(j), retransmits: retransmits(j), cpuSPerGB: cpu !== undefined && bytes > 0 ? Math.round((cpu / (bytes / 1e9)) * 100) / 100 : undefined };
}

async function throughput(t: Target): Promise<void> {
  await settle(t);
  const one = await tunnel(t, 1);
  try {
    log('throughput: 1 session, client → server');
    const up = await measured(t, one, []);
    log('throughput: 1 session, server → client');
    const down = await measured(t, one, ['-R']);
    results['throughput'] = {
      tcpUpGbit: up.gbit, tcpDownGbit: down.gbit,
      tcpUpRetransmits: up.retransmits, tcpDownRetransmits: down.retransmits,
      tcpUpServerCpuSPerGB: up.cpuSPerGB, tcpDownServerCpuSPerGB: down.cpuSPerGB,
      tunOffload: process.env['SSTPD_TUN_OFFLOAD'] !== '0',
    };
  } finally {
    await closeTunnel(one);
  }
  const four = await Promise.all([1, 2, 3, 4].map((i) => tunnel(t, i)));
  try {
    log('throughput: 4 sessions in parallel, client → server');
    const total = (await iperf(t, four, [])).reduce((s, j) => s + gbit(j), 0);
    (results['throughput'] as Json)['tcpUp4SessionsGbit'] = Math.round(total * 1000) / 1000;
  } finally {
    await Promise.all(four.map(closeTunnel));
  }
}

async function small(t: Target): Promise<void> {
  await settle(t);
  const tu = await tunnel(t, 1);
  try {
    const rate = async (args: string[]): Promise<Json> => {
      const j = (await iperf(t, [tu], ['-u', '-l', '64', '-b', '0', ...args]))[0]!;
      const s = (j['end'] as Json)['sum'] as Json;
      const received = Number(s['packets']) - Number(s['lost_packets']);
      return { sentPps: Math.round(Number(s['packets']) / SECONDS), receivedPps: Math.round(received / SECONDS), lostPercent: Math.round(Number(s['lost_percent']) * 10) / 10 };
    };
    log('small packets: 64-byte UDP, client → server');
    const up = await rate([]);
    log('small packets: 64-byte UDP, server → client');
    const down = await rate(['-R']);
    results['smallPackets'] = { udp64Up: up, udp64Down: down };
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

async function latency(t: Target): Promise<void> {
  await settle(t);
  const tu = await tunnel(t, 1);
  try {
    const target = t.gateway ?? String(tu.up['peer']);
    const count = QUICK ? 100 : 300;
    log('latency: ping through the tunnel and over a veth pair');
    const through = pingTimes(await run(tu.ns, 'ping', ['-c', String(count), '-i', '0.01', target]));
    let base: number[] = [];
    if (t.ns !== undefined) {
      ip(['link', 'add', `${tag}v0`, 'netns', t.ns, 'type', 'veth', 'peer', 'name', `${tag}v1`, 'netns', tu.ns]);
      ip(['-n', t.ns, 'addr', 'add', '198.19.0.1/30', 'dev', `${tag}v0`]);
      ip(['-n', tu.ns, 'addr', 'add', '198.19.0.2/30', 'dev', `${tag}v1`]);
      ip(['-n', t.ns, 'link', 'set', `${tag}v0`, 'up']);
      ip(['-n', tu.ns, 'link', 'set', `${tag}v1`, 'up']);
      await sleep(500);
      base = pingTimes(await run(tu.ns, 'ping', ['-c', String(count), '-i', '0.01', '198.19.0.1']));
    }
    const floor = await echoFloor(t.ns, count);
    const a = summarize(through);
    const b = summarize(base);
    results['latency'] = {
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
    loadAvgAtStart: loadAtStart,
    loadAvgAtEnd: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

function table(m: Json): string {
  const rows: string[] = [`machine: ${m['cores']} x ${m['cpu']}, ${m['memGiB']} GiB, Linux ${m['kernel']}, node ${m['node']}, OpenSSL ${m['openssl']}`, `server: ${m['server']} (commit ${m['commit']})`, ''];
  const row = (k: string, v: unknown): void => void rows.push(`${k.padEnd(44)} ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  const s = results['setup'] as Record<string, Json> | undefined;
  if (s) for (const [k, v] of Object.entries(s)) row(`setup, ${k.slice(1)} concurrent (${v['established']}/${v['sessions']})`, `${v['perSecond']}/s  p50 ${v['p50Ms']} ms  p99 ${v['p99Ms']} ms`);
  const i = results['idle'] as Record<string, Json> | undefined;
  if (i) for (const v of Object.values(i)) row(`idle ${v['sessions']} sessions`, `RSS ${v['serverRssMiB'] ?? '-'} MiB (${v['rssPerSessionKiB'] ?? '-'} KiB/session)  CPU ${v['serverCpuPercent'] ?? '-'} %  echo RTT p50 ${v['echoRttP50Ms']} ms p99 ${v['echoRttP99Ms']} ms`);
  const tp = results['throughput'] as Json | undefined;
  if (tp) {
    const extra = (d: 'Up' | 'Down'): string => `  retransmits ${tp[`tcp${d}Retransmits`] ?? '-'}  server CPU ${tp[`tcp${d}ServerCpuSPerGB`] ?? '-'} s/GB`;
    row(`TCP, 1 session, client → server (offload ${tp['tunOffload'] ? 'on' : 'off'})`, `${tp['tcpUpGbit']} Gbit/s${extra('Up')}`);
    row('TCP, 1 session, server → client', `${tp['tcpDownGbit']} Gbit/s${extra('Down')}`);
    row('TCP, 4 sessions, client → server (sum)', `${tp['tcpUp4SessionsGbit']} Gbit/s`);
  }
  const sp = results['smallPackets'] as Record<string, Json> | undefined;
  if (sp) for (const [k, v] of Object.entries(sp)) row(`UDP 64 B, 1 session, ${k.endsWith('Up') ? 'client → server' : 'server → client'}`, `${v['receivedPps']} packets/s received (${v['lostPercent']} % lost)`);
  const l = results['latency'] as Json | undefined;
  if (l) {
    row('ping RTT p50: tunnel / veth / added', `${l['tunnelP50Us']} / ${l['vethP50Us'] ?? '-'} / ${l['addedP50Us'] ?? '-'} µs`);
    row('floor: Node TCP echo between 2 processes', `p50 ${l['nodeEchoFloorP50Us'] ?? '-'} µs`);
  }
  for (const n of notes) rows.push(`note: ${n}`);
  return rows.join('\n');
}

let loadAtStart: number[] = [];

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
    const t = EXTERNAL ? externalTarget() : await startSstpd(dir, Math.max(maxIdle, 2100, 100));
    const steps: [string, (t: Target) => Promise<void>][] = [['setup', setup], ['idle', idle], ['throughput', throughput], ['small', small], ['latency', latency]];
    for (const [name, fn] of steps) {
      if (!ONLY.has(name)) continue;
      try {
        await fn(t);
      } catch (e) {
        notes.push(`${name} failed: ${e instanceof Error ? e.message : String(e)}`);
        log(`${name} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      }
    }
  } finally {
    cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
  const m = machine();
  process.stdout.write(table(m) + '\n');
  const doc = { date: new Date().toISOString(), durationS: Math.round((Date.now() - started) / 1000), command: process.argv.slice(2).join(' '), machine: m, results, notes };
  writeFileSync(values.out, JSON.stringify(doc, null, 2) + '\n');
  log(`wrote ${values.out}`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
