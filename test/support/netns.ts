/**
 * Throwaway network namespaces for integration tests (needs root and iproute2).
 *
 *   await withNetns(async (ns) => {
 *     await ns.exec('ip', ['link', 'add', 'sstp9', 'type', 'bridge']);
 *     const child = ns.spawn('node', ['server.js']);
 *   });
 *
 * Names are `<prefix>-<pid>-<n>`; `lo` is up inside. destroy() kills what spawn() started and
 * deletes the namespace; a process 'exit' hook does the same for anything a crashed test left.
 */
import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface ExecResult {
  readonly stdout: string;
  readonly stderr: string;
}

export interface Netns {
  readonly name: string;
  /** Runs `ip netns exec NAME cmd args…`; rejects on a non-zero exit (stderr in the message).
   *  A command still running at destroy() is killed (and its promise rejects). */
  exec(cmd: string, args?: readonly string[], opts?: { timeoutMs?: number }): Promise<ExecResult>;
  /** Starts `cmd` inside the namespace; killed by destroy() if still running. */
  spawn(cmd: string, args?: readonly string[], opts?: SpawnOptions): ChildProcess;
  /** Kills spawned processes, then deletes the namespace. Idempotent. */
  destroy(): Promise<void>;
}

/** Why namespaces cannot be used here, or undefined when they can (for `test(..., { skip })`). */
export function netnsUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'iproute2 (`ip`) is not installed';
  }
  return undefined;
}

const live = new Set<NetnsImpl>();
let counter = 0;
let exitHookInstalled = false;

/** Last resort when a test process ends without destroy(): synchronous, best effort. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const ns of live) ns.destroySync();
  });
}

class NetnsImpl implements Netns {
  private readonly children = new Set<ChildProcess>();
  private destroyed = false;

  constructor(readonly name: string) {}

  exec(cmd: string, args: readonly string[] = [], opts: { timeoutMs?: number } = {}): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      const child = execFile(
        'ip',
        ['netns', 'exec', this.name, cmd, ...args],
        { timeout: opts.timeoutMs ?? 30_000, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 },
        (err, stdout, stderr) => {
          if (!err) return resolve({ stdout, stderr });
          const why = stderr.trim() || stdout.trim() || err.message;
          const status = child.exitCode ?? child.signalCode;
          reject(new Error(`[netns ${this.name}] ${cmd} ${args.join(' ')} failed (${String(status)}): ${why}`, { cause: err }));
        },
      );
      this.track(child);
    });
  }

  spawn(cmd: string, args: readonly string[] = [], opts: SpawnOptions = {}): ChildProcess {
    // `ip netns exec` execs the command in place, so the pid is the command's own.
    const child = spawn('ip', ['netns', 'exec', this.name, cmd, ...args], opts);
    this.track(child);
    return child;
  }

  /** Remembers a process until it exits, so destroy() can kill it. */
  private track(child: ChildProcess): void {
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    const exits = [...this.children].map(
      (c) => new Promise<void>((resolve) => {
        if (c.exitCode !== null || c.signalCode !== null) return resolve();
        c.once('exit', () => resolve());
        c.kill('SIGKILL');
      }),
    );
    await Promise.all(exits);
    this.destroyed = true;
    live.delete(this);
    await execFileAsync('ip', ['netns', 'del', this.name]).catch(() => undefined);
  }

  destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const c of this.children) c.kill('SIGKILL');
    try {
      execFileSync('ip', ['netns', 'del', this.name], { stdio: 'ignore' });
    } catch {
      // Nothing more can be done while the process exits.
    }
  }
}

/** Creates a fresh namespace `<prefix>-<pid>-<n>` with `lo` up. */
export async function createNetns(prefix = 'sstpd-t'): Promise<Netns> {
  installExitHook();
  let name: string;
  do name = `${prefix}-${process.pid}-${counter++}`;
  while (existsSync(`/run/netns/${name}`));
  await execFileAsync('ip', ['netns', 'add', name]);
  const ns = new NetnsImpl(name);
  live.add(ns);
  try {
    await ns.exec('ip', ['link', 'set', 'lo', 'up']);
  } catch (e) {
    await ns.destroy();
    throw e;
  }
  return ns;
}

/** Runs `fn` in a fresh namespace and always destroys it afterwards, pass or fail. */
export async function withNetns<T>(fn: (ns: Netns) => Promise<T>, prefix?: string): Promise<T> {
  const ns = await createNetns(prefix);
  try {
    return await fn(ns);
  } finally {
    await ns.destroy();
  }
}
