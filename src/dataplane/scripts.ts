/**
 * Runs one extended script (VyOS `extended-scripts`, accel-ppp pppd_compat): a child process with
 * exactly the arguments and environment given, no shell, output ignored, killed after `timeoutMs`.
 * Never rejects: a script that cannot start or is killed is a result like any other exit.
 */
import { spawn } from 'node:child_process';
import { monotonicNow } from '../common/time.js';

export interface ScriptResult {
  /** The exit code; null when killed by a signal or never started. */
  readonly code: number | null;
  readonly signal: string | null;
  readonly durationMs: number;
  /** Why it did not start (ENOENT, EACCES …), or that it was killed for taking too long. */
  readonly error?: string;
}

export function runScript(path: string, args: readonly string[], env: Readonly<Record<string, string>>, timeoutMs: number): Promise<ScriptResult> {
  const started = monotonicNow();
  const took = (): number => Math.round(monotonicNow() - started);
  return new Promise((resolve) => {
    let timedOut = false;
    const child = spawn(path, args, { env, stdio: 'ignore', detached: false });
    // spawn's own `timeout` option sends the signal but cannot tell us it did; a timer of ours can.
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      resolve({ code: null, signal: null, durationMs: took(), error: err.message });
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, durationMs: took(), ...(timedOut ? { error: `killed after ${timeoutMs} ms` } : {}) });
    });
  });
}
