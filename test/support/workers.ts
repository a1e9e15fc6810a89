/**
 * Helpers of the `sstpd --workers N` integration tests: load held by sstp-load, the sessions by
 * worker, the statistics' worker view, and who listens on a port.
 */
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { distDir, type Daemon, type InteropEnv, type SessionRow } from './daemon.js';

const loadCli = (): string => join(distDir(), 'src', 'cli', 'sstp-load.js');

/** sstp-load holding `n` sessions (users PREFIX0 … PREFIX(n-1)) until killed. */
export function holdSessions(env: InteropEnv, port: number, user: string, n: number): ChildProcess {
  const args = [loadCli(), '--user', `${user}%d`, '--password', 'pw', '--insecure', '-n', String(n), '-c', '50', '--users', String(n),
    '--hold', '600', '--timeout', '120', `127.0.0.1:${port}`];
  return env.ns.spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
}

export function stopLoad(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((r) => {
    p.once('exit', () => r());
    p.kill('SIGKILL');
  });
}

export async function activeRows(d: Daemon): Promise<SessionRow[]> {
  return (await d.sessions()).filter((r) => r.state === 'active');
}

export async function stats(d: Daemon): Promise<{ workers: { pids: (number | null)[]; live: number } }> {
  return (await d.ctlJson(['show', 'statistics'])) as { workers: { pids: (number | null)[]; live: number } };
}

export function byWorker(rows: readonly SessionRow[]): Map<string, SessionRow[]> {
  const m = new Map<string, SessionRow[]>();
  for (const r of rows) m.set(String(r['worker']), [...(m.get(String(r['worker'])) ?? []), r]);
  return m;
}

/** The process ids holding a listening TCP socket on `port` in the namespace, one per socket, sorted. */
export async function listenerPids(env: InteropEnv, port: number): Promise<number[]> {
  const { stdout } = await env.ns.exec('ss', ['-Hltnp', `sport = :${port}`]);
  return [...stdout.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1])).sort((a, b) => a - b);
}
