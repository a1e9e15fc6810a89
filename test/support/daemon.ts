/**
 * Drives the real daemon for integration and interop tests: writes a config and a state dir
 * under a fresh temp dir, runs `dist/src/cli/sstpd.js` (inside a network namespace when given),
 * collects its JSON log lines, and talks to it through `sstpctl` and signals.
 *
 *   await withDaemon({ configText, netns }, async (d) => { ...; await d.waitForLog(isEvent('session-up')) });
 *
 * withDaemon prints the daemon's log to stderr when the body throws, and always stops the
 * daemon and removes its temp dir. Everything here is test-side I/O; no core imports it.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { NODE_FLAGS } from '../../src/common/node-flags.js';
import { createNetns, netnsUnavailable, type Netns } from './netns.js';
import { createCertFixture, type CertFiles, type CertFixture } from './certs-fixture.js';

// ---------------------------------------------------------------------------------------------
// Paths and commands

/** The build the tests drive: `dist/` under the repo root (the cwd of `npm test`), or $SSTPD_DIST. */
export function distDir(): string {
  return resolve(process.env['SSTPD_DIST'] ?? join(process.cwd(), 'dist'));
}
export const sstpdPath = (): string => join(distDir(), 'src', 'cli', 'sstpd.js');
export const sstpctlPath = (): string => join(distDir(), 'src', 'cli', 'sstpctl.js');

export interface CmdResult {
  readonly code: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `cmd args` as argv, prefixed with `ip netns exec NAME` when a namespace is given. */
export function inNetns(netns: Netns | string | undefined, cmd: string, args: readonly string[]): [string, string[]] {
  if (netns === undefined) return [cmd, [...args]];
  const name = typeof netns === 'string' ? netns : netns.name;
  return ['ip', ['netns', 'exec', name, cmd, ...args]];
}

/** Runs a command to completion; never throws on a non-zero exit (the caller asserts on code). */
export function runCommand(
  cmd: string,
  args: readonly string[],
  opts: { netns?: Netns | string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<CmdResult> {
  const [file, argv] = inNetns(opts.netns, cmd, args);
  return new Promise((resolveRun) => {
    execFile(
      file,
      argv,
      { timeout: opts.timeoutMs ?? 30_000, maxBuffer: 64 * 1024 * 1024, env: opts.env ?? process.env },
      (err, stdout, stderr) => {
        // A non-zero exit puts the status in err.code; a spawn failure puts an errno name there.
        const e = err as { code?: unknown; signal?: string | null } | null;
        const code = e === null ? 0 : typeof e.code === 'number' ? e.code : null;
        const extra = e !== null && typeof e.code === 'string' ? `\n(${file}: ${e.code})` : '';
        resolveRun({ code, signal: e?.signal ?? null, stdout, stderr: stderr + extra });
      },
    );
  });
}

/** Polls until check() is true; throws naming what it waited for. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
  intervalMs = 250,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await sleep(intervalMs);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** True if dotted IPv4 `ip` lies in `cidr` (e.g. "192.0.2.0/25"). */
export function inSubnet(ip: string, cidr: string): boolean {
  const [base, lenText] = cidr.split('/');
  const len = Number(lenText ?? '32');
  const a = ipv4ToInt(ip);
  const b = ipv4ToInt(base ?? '');
  if (a === undefined || b === undefined) return false;
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return ((a & mask) >>> 0) === ((b & mask) >>> 0);
}

function ipv4ToInt(ip: string): number | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// Config text

export interface UserSpec {
  readonly name: string;
  readonly password: string;
  readonly disable?: boolean;
  readonly staticIp?: string;
}

export interface SeedConfigOptions {
  readonly port: number;
  readonly certs: CertFiles;
  /** `authentication protocols X` lines; none = the daemon's default (all four). */
  readonly protocols?: readonly string[];
  /** Users besides the seed's vyos/vyos. */
  readonly users?: readonly UserSpec[];
  /** `client-ip-pool subnet`; default the seed's 192.0.2.0/25. */
  readonly poolSubnet?: string;
  /** Further `set vpn sstp ...` lines, appended verbatim. */
  readonly lines?: readonly string[];
}

/** The seed's example config (sstp-readable.rst, "Example"), with our port, certificates and extras. */
export function seedConfig(o: SeedConfigOptions): string {
  const lines = [
    'set vpn sstp authentication local-users username vyos password vyos',
    'set vpn sstp authentication mode local',
    'set vpn sstp gateway-address 192.0.2.254',
    `set vpn sstp client-ip-pool subnet ${o.poolSubnet ?? '192.0.2.0/25'}`,
    'set vpn sstp name-server 10.0.0.1',
    'set vpn sstp name-server 10.0.0.2',
    `set vpn sstp ssl ca-cert-file ${o.certs.caCert}`,
    `set vpn sstp ssl cert-file ${o.certs.serverCert}`,
    `set vpn sstp ssl key-file ${o.certs.serverKey}`,
    `set vpn sstp port ${o.port}`,
  ];
  for (const p of o.protocols ?? []) lines.push(`set vpn sstp authentication protocols ${p}`);
  for (const u of o.users ?? []) {
    const at = `set vpn sstp authentication local-users username ${u.name}`;
    lines.push(`${at} password ${u.password}`);
    if (u.disable) lines.push(`${at} disable`);
    if (u.staticIp !== undefined) lines.push(`${at} static-ip ${u.staticIp}`);
  }
  lines.push(...(o.lines ?? []));
  return lines.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------
// The daemon

/** One parsed log line. pino fields plus whatever the event carries; sid is normalised to a string. */
export interface LogEntry {
  readonly msg: string;
  readonly level?: string | number;
  readonly sid?: string;
  readonly username?: string;
  readonly reason?: string;
  readonly cause?: string;
  readonly ifname?: string;
  readonly ip?: string;
  readonly port?: number;
  /** The line as the daemon wrote it (non-JSON lines keep msg ""). */
  readonly raw: string;
  readonly [key: string]: unknown;
}

/** A row of `sstpctl show sessions --json`. */
export interface SessionRow {
  readonly sid: string;
  readonly ifname: string;
  readonly username: string;
  readonly ip: string;
  readonly callingSid: string;
  readonly state: string;
  readonly uptimeS: number;
  readonly rxBytes: number;
  readonly txBytes: number;
  readonly rxPackets: number;
  readonly txPackets: number;
  readonly [key: string]: unknown;
}

export type LogPredicate = (e: LogEntry) => boolean;

/** Matches event `msg`, and every given field (compared as strings). */
export function isEvent(msg: string, fields: Readonly<Record<string, string | number>> = {}): LogPredicate {
  const pred: LogPredicate = (e) =>
    e.msg === msg && Object.entries(fields).every(([k, v]) => e[k] !== undefined && String(e[k]) === String(v));
  // Shown in timeout messages instead of the closure's source.
  pred.toString = () => `${msg} ${JSON.stringify(fields)}`;
  return pred;
}

export interface DaemonOptions {
  readonly configText: string;
  readonly netns?: Netns;
  readonly extraArgs?: readonly string[];
  /** How long to wait for the `listening` line; default 30 s. */
  readonly startTimeoutMs?: number;
  readonly env?: NodeJS.ProcessEnv;
  /** The sstpd entry point to run (an installed package's); default this build's. */
  readonly bin?: string;
}

interface Waiter {
  readonly pred: LogPredicate;
  readonly resolve: (e: LogEntry) => void;
  readonly reject: (err: Error) => void;
}

const live = new Set<Daemon>();
let exitHookInstalled = false;
/** Last resort if a test process dies with daemons running: kill them, drop their temp dirs. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const d of live) d.killNow();
  });
}

export class Daemon {
  readonly logs: LogEntry[] = [];
  private stderrText = '';
  private exitInfo: { code: number | null; signal: string | null } | undefined;
  private readonly waiters = new Set<Waiter>();
  private readonly exitListeners: (() => void)[] = [];
  private removed = false;
  /** The port from the `listening` line. */
  port = 0;

  constructor(
    readonly dir: string,
    readonly configFile: string,
    readonly stateDir: string,
    readonly netns: Netns | undefined,
    private readonly child: ChildProcess,
  ) {
    createInterface({ input: child.stdout! }).on('line', (line) => this.onLine(line));
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (s: string) => {
      this.stderrText += s;
    });
    child.on('error', (err) => {
      this.stderrText += `\n(spawn error: ${err.message})`;
      this.onExit(null, null);
    });
    child.on('close', (code, signal) => this.onExit(code, signal));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }
  get exited(): boolean {
    return this.exitInfo !== undefined;
  }
  get exitCode(): number | null | undefined {
    return this.exitInfo?.code;
  }
  get stderr(): string {
    return this.stderrText;
  }

  /** Index of the next log line: pass it as `since` to wait only for lines after this point. */
  mark(): number {
    return this.logs.length;
  }

  findLogs(pred: LogPredicate, since = 0): LogEntry[] {
    return this.logs.slice(since).filter(pred);
  }

  /** Resolves with the first line at index >= since matching pred (past lines included). */
  waitForLog(pred: LogPredicate, timeoutMs = 20_000, since = 0): Promise<LogEntry> {
    const hit = this.logs.slice(since).find(pred);
    if (hit) return Promise.resolve(hit);
    if (this.exitInfo) return Promise.reject(this.failure(`daemon had exited (${this.exitText()}) before logging ${String(pred)}`));
    return new Promise((resolveWait, rejectWait) => {
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        rejectWait(this.failure(`no log line ${String(pred)} within ${timeoutMs} ms`));
      }, timeoutMs);
      const w: Waiter = {
        pred,
        resolve: (e) => {
          clearTimeout(timer);
          resolveWait(e);
        },
        reject: (err) => {
          clearTimeout(timer);
          rejectWait(err);
        },
      };
      this.waiters.add(w);
    });
  }

  /** Runs sstpctl against this daemon's state dir (inside its namespace). */
  ctl(args: readonly string[]): Promise<CmdResult> {
    return runCommand(process.execPath, [sstpctlPath(), '--state-dir', this.stateDir, ...args], { netns: this.netns });
  }

  /** sstpctl with --json appended; throws with its output if it fails or prints no JSON. */
  async ctlJson(args: readonly string[]): Promise<unknown> {
    const r = await this.ctl([...args, '--json']);
    if (r.code !== 0) throw new Error(`sstpctl ${args.join(' ')} --json exited ${r.code}: ${r.stderr}${r.stdout}`);
    try {
      return JSON.parse(r.stdout) as unknown;
    } catch {
      throw new Error(`sstpctl ${args.join(' ')} --json printed no JSON: ${r.stdout}`);
    }
  }

  async sessions(): Promise<SessionRow[]> {
    const data = await this.ctlJson(['show', 'sessions']);
    if (!Array.isArray(data)) throw new Error(`show sessions --json: expected an array, got ${JSON.stringify(data)}`);
    return data.map((row: unknown) => {
      const r = row as Record<string, unknown>;
      return { ...r, sid: String(r['sid']) } as SessionRow;
    });
  }

  async session(sid: string): Promise<SessionRow | undefined> {
    return (await this.sessions()).find((s) => s.sid === sid);
  }

  /** Interface names in the daemon's namespace (`ip -j link`). */
  async interfaceNames(): Promise<string[]> {
    const r = await runCommand('ip', ['-j', 'link', 'show'], { netns: this.netns });
    if (r.code !== 0) throw new Error(`ip -j link failed: ${r.stderr}`);
    return (JSON.parse(r.stdout) as { ifname: string }[]).map((l) => l.ifname);
  }

  /** Waits until the session has left `show sessions` and its interface is gone. */
  async waitSessionGone(sid: string, ifname: string, timeoutMs = 10_000): Promise<void> {
    await eventually(async () => (await this.session(sid)) === undefined, timeoutMs, `session ${sid} to leave show sessions`);
    await eventually(async () => !(await this.interfaceNames()).includes(ifname), timeoutMs, `interface ${ifname} to be removed`);
  }

  /**
   * Waits until the session's rx and tx packet counters have both grown past their current
   * values: proof that traffic still flows both ways (e.g. a client pinging the gateway).
   */
  async waitTrafficMoves(sid: string, timeoutMs = 15_000): Promise<SessionRow> {
    const before = await this.session(sid);
    if (!before) throw new Error(`session ${sid} is not listed`);
    let now: SessionRow | undefined = before;
    await eventually(
      async () => {
        now = await this.session(sid);
        if (!now) throw new Error(`session ${sid} disappeared`);
        return now.rxPackets > before.rxPackets && now.txPackets > before.txPackets;
      },
      timeoutMs,
      `rx/tx packets of session ${sid} to grow past ${before.rxPackets}/${before.txPackets}`,
      500,
    );
    return now;
  }

  /** Rewrites the config file and sends SIGHUP; returns mark() from before the signal. */
  async reload(newConfigText: string): Promise<number> {
    await writeFile(this.configFile, newConfigText);
    const since = this.mark();
    this.child.kill('SIGHUP');
    return since;
  }

  /** SIGTERM, wait for exit (SIGKILL after 15 s), remove the temp dir; returns the exit code. */
  async stop(): Promise<number | null> {
    if (!this.exitInfo) {
      this.child.kill('SIGTERM');
      if (!(await this.waitExit(15_000))) {
        this.child.kill('SIGKILL');
        await this.waitExit(5_000);
      }
    }
    if (!this.removed) {
      this.removed = true;
      await rm(this.dir, { recursive: true, force: true });
    }
    live.delete(this);
    return this.exitInfo?.code ?? null;
  }

  /** Synchronous kill + cleanup for the process exit hook. */
  killNow(): void {
    if (!this.exitInfo) this.child.kill('SIGKILL');
    if (!this.removed) rmSync(this.dir, { recursive: true, force: true });
    this.removed = true;
  }

  /** The whole log and stderr, for failure reports. */
  dump(): string {
    const head = `--- sstpd (pid ${this.pid ?? '?'}, ${this.exitInfo ? this.exitText() : 'running'}) log, ${this.logs.length} lines ---\n`;
    return head + this.logs.map((l) => l.raw).join('\n') + `\n--- sstpd stderr ---\n${this.stderrText}\n--- end ---\n`;
  }

  private onLine(line: string): void {
    const e = parseLogLine(line);
    this.logs.push(e);
    for (const w of [...this.waiters]) {
      if (w.pred(e)) {
        this.waiters.delete(w);
        w.resolve(e);
      }
    }
  }

  private onExit(code: number | null, signal: string | null): void {
    if (this.exitInfo) return;
    this.exitInfo = { code, signal };
    for (const w of this.waiters) w.reject(this.failure(`daemon exited (${this.exitText()}) before logging ${String(w.pred)}`));
    this.waiters.clear();
    for (const l of this.exitListeners.splice(0)) l();
  }

  private waitExit(timeoutMs: number): Promise<boolean> {
    if (this.exitInfo) return Promise.resolve(true);
    return new Promise((resolveWait) => {
      const timer = setTimeout(() => resolveWait(false), timeoutMs);
      this.exitListeners.push(() => {
        clearTimeout(timer);
        resolveWait(true);
      });
    });
  }

  private exitText(): string {
    const x = this.exitInfo;
    if (!x) return 'running';
    return x.signal ? `signal ${x.signal}` : `exit code ${x.code}`;
  }

  private failure(what: string): Error {
    const tail = this.logs.slice(-30).map((l) => l.raw).join('\n');
    return new Error(`${what}\n--- last sstpd log lines ---\n${tail}\n--- sstpd stderr ---\n${this.stderrText.slice(-4000)}`);
  }
}

function parseLogLine(line: string): LogEntry {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return { msg: '', raw: line };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { msg: '', raw: line };
  const o = parsed as Record<string, unknown>;
  const entry: Record<string, unknown> = { ...o, msg: typeof o['msg'] === 'string' ? o['msg'] : '', raw: line };
  if (o['sid'] !== undefined && o['sid'] !== null) entry['sid'] = String(o['sid']);
  return entry as LogEntry;
}

/**
 * Starts the daemon and waits for its `listening` line. On failure the error starts with
 * "server did not start" and carries the daemon's output; nothing is left behind.
 */
export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  const bin = opts.bin ?? sstpdPath();
  if (!existsSync(bin)) throw new Error(`server did not start: ${bin} does not exist (build first: npm run build:ts)`);
  installExitHook();
  const dir = await mkdtemp(join(tmpdir(), 'sstpd-it-'));
  const configFile = join(dir, 'sstpd.conf');
  const stateDir = join(dir, 'state');
  await writeFile(configFile, opts.configText);
  await mkdir(stateDir, { mode: 0o750 });
  const [file, argv] = inNetns(opts.netns, process.execPath, [
    ...NODE_FLAGS, bin, '--config', configFile, '--state-dir', stateDir, ...(opts.extraArgs ?? []),
  ]);
  const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
  const d = new Daemon(dir, configFile, stateDir, opts.netns, child);
  live.add(d);
  try {
    const line = await d.waitForLog(isEvent('listening'), opts.startTimeoutMs ?? 30_000);
    d.port = typeof line.port === 'number' ? line.port : Number(line.port);
    return d;
  } catch (err) {
    await d.stop();
    throw new Error(`server did not start: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Runs fn with a started daemon; dumps its log to stderr if fn throws; always stops it. */
export async function withDaemon<T>(opts: DaemonOptions, fn: (d: Daemon) => Promise<T>): Promise<T> {
  const d = await startDaemon(opts);
  try {
    return await fn(d);
  } catch (err) {
    process.stderr.write(d.dump());
    throw err;
  } finally {
    await d.stop();
  }
}

/** `sstpd --check FILE` (no namespace needed). */
export function checkConfig(file: string): Promise<CmdResult> {
  return runCommand(process.execPath, [sstpdPath(), '--check', file]);
}

// ---------------------------------------------------------------------------------------------
// Ports and the per-file environment

/** A free TCP port on the host (bind 0, close). Inside a fresh namespace use InteropEnv.nextPort. */
export function freeHostPort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

/** Why the namespace-based suites cannot run here, or undefined when they can. */
export function rootSkipReason(): string | undefined {
  if (process.env['SSTPD_SKIP_INTEROP'] === '1') return 'SSTPD_SKIP_INTEROP=1';
  return netnsUnavailable();
}

/** One test file's world: its own network namespace (lo up), certificates and port counter. */
export interface InteropEnv {
  readonly ns: Netns;
  readonly certs: CertFixture;
  /** A port not yet handed out in this namespace (the namespace is fresh, so nothing else binds). */
  nextPort(): number;
  cleanup(): Promise<void>;
}

export async function createInteropEnv(prefix: string): Promise<InteropEnv> {
  const certs = await createCertFixture();
  let ns: Netns;
  try {
    ns = await createNetns(prefix);
  } catch (err) {
    await certs.cleanup();
    throw err;
  }
  let port = 20000 + Math.floor(Math.random() * 40000);
  return {
    ns,
    certs,
    nextPort: () => (port = port >= 60000 ? 20000 : port + 1),
    cleanup: async () => {
      try {
        await ns.destroy();
      } finally {
        await certs.cleanup();
      }
    },
  };
}
