/**
 * The real Linux client: `shared/sstpc-vm/run` boots a QEMU guest running sstpc 1.0.18 + pppd
 * 2.4.9 against our server and ends with one `SSTPC-VM RESULT k=v ...` line (see its README).
 *
 *   const r = await runSstpc({ port, netns, user: 'vyos', password: 'vyos', auth: 'pap', ping: ['peer'] });
 *   const bg = await startSstpc({ ..., exec: [pingLoopExec(120)] });  // runs in the background
 *   const up = await waitSessionUp(daemon, bg, 'vyos');  ...  await bg.kill();
 *
 * Guests are CPU-heavy (TCG, ~10-13 s each), so at most SSTPD_VM_SLOTS (default 2) run at once
 * across every test process: each run holds a slot, a lock file created with O_EXCL. A test that
 * needs two guests at the same time must take both slots up front (withVmSlots(2, ...)) and pass
 * the lease to its runs; taking them one by one could deadlock against another file doing the same.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { sharedDir } from './vectors.js';
import type { Netns } from './netns.js';
import { sleep, type Daemon, type LogEntry } from './daemon.js';

export type ClientAuth = 'pap' | 'chap' | 'mschap' | 'mschap-v2' | 'eap';

export interface SstpcOptions {
  /** The server's port on the namespace's (or host's) loopback; the guest dials 10.0.2.2:port. */
  readonly port?: number;
  /** HOST:PORT as the guest sees it; overrides port. */
  readonly server?: string;
  /** The namespace the server listens in (run's --netns). */
  readonly netns?: Netns | string;
  readonly user: string;
  readonly password: string;
  readonly auth?: ClientAuth;
  /** Each entry becomes one `--pppd "OPTS"`. */
  readonly pppd?: readonly string[];
  readonly pppdFile?: string;
  readonly ping?: readonly string[];
  readonly exec?: readonly string[];
  readonly expectFail?: boolean;
  /**
   * run --timeout (link up deadline), default 75 s (45 s with expectFail): it counts the guest's boot,
   * which under TCG on a loaded machine took 42 s once, and only a run that fails waits it out.
   */
  readonly timeoutS?: number;
  readonly execTimeoutS?: number;
  readonly ca?: string;
  readonly extraArgs?: readonly string[];
  /** Run under a lease already held (withVmSlots); otherwise the run takes one slot itself. */
  readonly lease?: VmLease;
}

export interface SstpcResult {
  /** Exit status of `run` (0 ok, 1 link not up, 4 ping/exec failed, ...); null if killed. */
  readonly exitCode: number | null;
  readonly signal: string | null;
  /** The fields of the final result line; empty if there was none (e.g. the run was killed). */
  readonly result: Readonly<Record<string, string>>;
  /** Everything `run` printed on stdout: guest console, sstpc and pppd logs, the result line. */
  readonly output: string;
  readonly stderr: string;
}

const RESULT_PREFIX = 'SSTPC-VM RESULT ';

/** Parses the last `SSTPC-VM RESULT k=v ...` line of the output. */
export function parseResultLine(output: string): Record<string, string> {
  const line = output
    .split('\n')
    .reverse()
    .find((l) => l.startsWith(RESULT_PREFIX));
  const fields: Record<string, string> = {};
  if (line === undefined) return fields;
  for (const kv of line.slice(RESULT_PREFIX.length).trim().split(/\s+/)) {
    const eq = kv.indexOf('=');
    if (eq > 0) fields[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return fields;
}

/** A run's story for assertion messages: the result line, exit, stderr and the log tail. */
export function describeRun(r: SstpcResult, tailLines = 200): string {
  const lines = r.output.split('\n');
  const resultLine = lines.reverse().find((l) => l.startsWith(RESULT_PREFIX)) ?? '(no result line)';
  const tail = r.output.split('\n').slice(-tailLines).join('\n');
  return (
    `sstpc-vm run: exit ${r.exitCode ?? 'none'}${r.signal ? ` (signal ${r.signal})` : ''}\n${resultLine}\n` +
    `--- run stderr ---\n${r.stderr.slice(-3000)}\n--- last ${tailLines} lines of run output ---\n${tail}\n`
  );
}

/**
 * A guest `--exec` that pings the PPP peer about once a second, for at most maxSeconds, and
 * stops early when ppp0 disappears (the server ended the link). It then prints
 * `ppp0=present|absent`; that text appears only when evaluated, not in the echoed command.
 * Give the run execTimeoutS >= pingLoopTimeout(maxSeconds).
 */
export function pingLoopExec(maxSeconds: number): string {
  return (
    `i=0; while [ $i -lt ${maxSeconds} ] && ip link show ppp0 >/dev/null 2>&1; do ` +
    `ping -c 1 -W 1 "$PPP_REMOTE" >/dev/null 2>&1; sleep 1; i=$((i+1)); done; ` +
    `echo "ppp0=$(ip link show ppp0 >/dev/null 2>&1 && echo present || echo absent)"`
  );
}
/** Each round is a ping (≤ 1 s without reply) plus a 1 s sleep. */
export const pingLoopTimeout = (maxSeconds: number): number => 2 * maxSeconds + 30;

/**
 * An --exec that holds the link until `address` answers a ping through ppp0, which the test makes
 * happen (it adds the address on its side) once it has seen what it waits for. The session then
 * lasts as long as the host needs, whatever the guest's clock does: under TCG on a loaded host a
 * guest's `sleep 5` once ended 0.9 s after the link came up. Prints `released=yes|no` (no: it gave
 * up after `maxRounds` tries). Give the run execTimeoutS >= holdTimeout(maxRounds).
 */
export function holdUntilReachableExec(address: string, maxRounds = 120): string {
  return (
    `ip route add ${address}/32 dev ppp0; i=0; ` +
    `until ping -c 1 -W 1 ${address} >/dev/null 2>&1 || [ $i -ge ${maxRounds} ]; do sleep 0.5; i=$((i+1)); done; ` +
    `echo "released=$([ $i -lt ${maxRounds} ] && echo yes || echo no)"`
  );
}
/** Each round is a ping (≤ 1 s without reply) plus a 0.5 s sleep. */
export const holdTimeout = (maxRounds = 120): number => Math.ceil(1.5 * maxRounds) + 30;

function runArgs(o: SstpcOptions): string[] {
  const server = o.server ?? (o.port !== undefined ? `10.0.2.2:${o.port}` : undefined);
  if (server === undefined) throw new Error('runSstpc: give port or server');
  const a = ['--server', server, '--user', o.user, '--password', o.password];
  if (o.auth) a.push('--auth', o.auth);
  for (const p of o.pppd ?? []) a.push('--pppd', p);
  if (o.pppdFile !== undefined) a.push('--pppd-file', o.pppdFile);
  for (const p of o.ping ?? []) a.push('--ping', p);
  for (const e of o.exec ?? []) a.push('--exec', e);
  if (o.expectFail) a.push('--expect-fail');
  a.push('--timeout', String(o.timeoutS ?? (o.expectFail ? 45 : 75)));
  if (o.execTimeoutS !== undefined) a.push('--exec-timeout', String(o.execTimeoutS));
  if (o.ca !== undefined) a.push('--ca', o.ca);
  if (o.netns !== undefined) a.push('--netns', typeof o.netns === 'string' ? o.netns : o.netns.name);
  a.push(...(o.extraArgs ?? []));
  return a;
}

export const runScript = (): string => join(sharedDir(), 'sstpc-vm', 'run');

// ---------------------------------------------------------------------------------------------
// Runs

const liveRuns = new Set<SstpcRun>();
const heldLeases = new Set<VmLease>();
let exitHookInstalled = false;
/** If a test process dies mid-run: kill the guests' process groups and free our slots. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const r of liveRuns) r.killNow();
    for (const l of heldLeases) l.release();
  });
}

/** One `run` invocation in its own process group (bash, ip netns exec, QEMU). */
export class SstpcRun {
  readonly done: Promise<SstpcResult>;
  private finished = false;
  private stdout = '';
  private stderr = '';

  constructor(
    private readonly child: ChildProcess,
    private readonly workDir: string,
    private readonly ownLease: VmLease | undefined,
  ) {
    child.stdout!.setEncoding('utf8');
    child.stderr!.setEncoding('utf8');
    child.stdout!.on('data', (s: string) => (this.stdout += s));
    child.stderr!.on('data', (s: string) => (this.stderr += s));
    this.done = new Promise((resolveDone) => {
      const finish = (code: number | null, signal: string | null): void => {
        if (this.finished) return;
        this.finished = true;
        liveRuns.delete(this);
        this.ownLease?.release();
        rmSync(this.workDir, { recursive: true, force: true });
        resolveDone({ exitCode: code, signal, result: parseResultLine(this.stdout), output: this.stdout, stderr: this.stderr });
      };
      child.on('error', (err) => {
        this.stderr += `\n(spawn error: ${err.message})`;
        finish(null, null);
      });
      child.on('close', finish);
    });
  }

  get exited(): boolean {
    return this.finished;
  }
  /** Output so far (the guest's console arrives only after it powers off). */
  get outputSoFar(): string {
    return this.stdout;
  }

  /** Ends the whole run (TERM to the group, KILL after 8 s); resolves with what it printed. */
  async kill(): Promise<SstpcResult> {
    if (!this.finished) {
      this.signalGroup('SIGTERM');
      const timer = setTimeout(() => this.signalGroup('SIGKILL'), 8_000);
      try {
        await this.done;
      } finally {
        clearTimeout(timer);
      }
    }
    return this.done;
  }

  killNow(): void {
    if (!this.finished) this.signalGroup('SIGKILL');
    rmSync(this.workDir, { recursive: true, force: true });
  }

  private signalGroup(sig: NodeJS.Signals): void {
    const pid = this.child.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, sig);
    } catch {
      // ESRCH: the group is already gone.
    }
  }
}

/**
 * Starts a run in the background. It takes a VM slot first (unless o.lease is given), so this
 * may wait while other test files' guests run. The run's temp files go to a private TMPDIR that
 * is removed when it ends, even if it had to be killed.
 */
export async function startSstpc(o: SstpcOptions): Promise<SstpcRun> {
  installExitHook();
  const args = [runScript(), ...runArgs(o)];
  const lease = o.lease === undefined ? await acquireVmSlots(1) : undefined;
  let workDir: string;
  try {
    workDir = await mkdtemp(join(tmpdir(), 'sstpd-vm-run-'));
  } catch (err) {
    lease?.release();
    throw err;
  }
  // The copy of shared/ may lack exec bits: call run through bash. detached = own process group.
  const child = spawn('bash', args, {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TMPDIR: workDir },
  });
  const run = new SstpcRun(child, workDir, lease);
  liveRuns.add(run);
  return run;
}

/** Runs the client to the end. */
export async function runSstpc(o: SstpcOptions): Promise<SstpcResult> {
  return (await startSstpc(o)).done;
}

/**
 * Waits for the daemon's `session-up` of username (skipping sids in `exclude`, from line
 * `since`), failing early with the run's output if the run ends first.
 */
export async function waitSessionUp(
  d: Daemon,
  run: SstpcRun,
  username: string,
  opts: { since?: number; exclude?: readonly string[]; timeoutMs?: number } = {},
): Promise<LogEntry> {
  const exclude = opts.exclude ?? [];
  const pred = (e: LogEntry): boolean => e.msg === 'session-up' && e.username === username && !exclude.includes(e.sid ?? '');
  pred.toString = () => `session-up of ${username}${exclude.length ? ` (not ${exclude.join(', ')})` : ''}`;
  const ended = run.done.then((r): never => {
    throw new Error(`the client run ended before ${username}'s session-up was logged:\n${describeRun(r)}`);
  });
  return Promise.race([d.waitForLog(pred, opts.timeoutMs ?? 120_000, opts.since ?? 0), ended]);
}

// ---------------------------------------------------------------------------------------------
// VM slots: a cross-process counting semaphore made of lock files

const slotDir = (): string => process.env['SSTPD_VM_SLOTS_DIR'] ?? join(tmpdir(), 'sstpd-vm-slots');
export const vmSlotCount = (): number => Math.max(1, Number(process.env['SSTPD_VM_SLOTS'] ?? '2') || 2);

/** Creates path exclusively with our pid in it; false if it exists. */
function tryLock(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  writeSync(fd, `${process.pid}\n`);
  closeSync(fd);
  return true;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes a lock whose owner process is gone (a test process that was SIGKILLed). */
function breakIfStale(path: string): void {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch {
    return;
  }
  const pid = Number(text);
  // An empty file is a lock being written right now, not a stale one.
  if (text === '' || !Number.isInteger(pid) || pid <= 0 || pidAlive(pid)) return;
  try {
    unlinkSync(path);
  } catch {
    // Someone else broke it first.
  }
}

export class VmLease {
  private released = false;
  constructor(readonly slots: readonly string[]) {
    heldLeases.add(this);
  }
  get size(): number {
    return this.slots.length;
  }
  release(): void {
    if (this.released) return;
    this.released = true;
    heldLeases.delete(this);
    for (const s of this.slots) rmSync(s, { force: true });
  }
}

/**
 * Takes n slots at once (all or none). A multi-slot waiter first takes the `intent` file, which
 * holds off single-slot takers until it is served, so it cannot starve.
 */
export async function acquireVmSlots(n: number, timeoutMs = 45 * 60_000): Promise<VmLease> {
  const count = vmSlotCount();
  if (n < 1 || n > count) throw new Error(`cannot take ${n} VM slots: there are ${count} (SSTPD_VM_SLOTS)`);
  installExitHook();
  const dir = slotDir();
  mkdirSync(dir, { recursive: true });
  const intent = join(dir, 'intent');
  const slots = Array.from({ length: count }, (_, i) => join(dir, `slot-${i}`));
  const deadline = Date.now() + timeoutMs;
  let holdIntent = false;
  try {
    for (;;) {
      breakIfStale(intent);
      if (n > 1 && !holdIntent) holdIntent = tryLock(intent);
      if (holdIntent || !existsSync(intent)) {
        const got: string[] = [];
        for (const s of slots) {
          if (got.length === n) break;
          breakIfStale(s);
          if (tryLock(s)) got.push(s);
        }
        if (got.length === n) return new VmLease(got);
        for (const s of got) rmSync(s, { force: true });
      }
      if (Date.now() > deadline) throw new Error(`no ${n} free VM slot(s) in ${dir} within ${timeoutMs} ms`);
      await sleep(200 + Math.random() * 400);
    }
  } finally {
    if (holdIntent) rmSync(intent, { force: true });
  }
}

/** Runs fn holding n VM slots; pass the lease to startSstpc/runSstpc inside. */
export async function withVmSlots<T>(n: number, fn: (lease: VmLease) => Promise<T>): Promise<T> {
  const lease = await acquireVmSlots(n);
  try {
    return await fn(lease);
  } finally {
    lease.release();
  }
}

// ---------------------------------------------------------------------------------------------
// Assertions shared by the interop files

/** The run succeeded: link up, every --ping/--exec passed (exit 0). */
export function assertUp(r: SstpcResult, what = 'the client'): void {
  assert.equal(r.exitCode, 0, `${what}: expected the link up and every check passed\n${describeRun(r)}`);
  assert.equal(r.result['ppp'], 'up', `${what}: ppp\n${describeRun(r)}`);
}

/** An --expect-fail run: the link did not come up, and the harness itself worked (exit 0). */
export function assertRefused(r: SstpcResult, what = 'the client'): void {
  assert.equal(r.exitCode, 0, `${what}: expected the link NOT to come up\n${describeRun(r)}`);
  assert.equal(r.result['ppp'], 'down', `${what}: ppp\n${describeRun(r)}`);
}

/** Waits for a background run to end on its own (e.g. after the server dropped its link). */
export async function waitRunEnds(run: SstpcRun, timeoutMs: number, what: string): Promise<SstpcResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: the client run did not end within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([run.done, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
