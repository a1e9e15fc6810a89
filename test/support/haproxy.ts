/**
 * A real HAProxy (Debian's `haproxy` package) for the proxy tests: the test writes its config,
 * HAProxy runs in the foreground (`-db`) inside the test's network namespace, and stop() (or the
 * namespace's destroy) ends it. Ready once every frontend port accepts connections.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Netns } from './netns.js';
import { sleep } from './daemon.js';

export interface Haproxy {
  /** HAProxy's output so far (its own log lines, errors). */
  output(): string;
  stop(): Promise<void>;
}

/** `global` + `defaults` every test config starts with; frontends and backends follow. */
export const HAPROXY_HEAD = [
  'global',
  '  maxconn 1000',
  'defaults',
  '  mode tcp',
  '  timeout connect 5s',
  '  timeout client 60s',
  '  timeout server 60s',
  '',
].join('\n');

export async function startHaproxy(ns: Netns, config: string, ports: readonly number[], files: Readonly<Record<string, string>> = {}): Promise<Haproxy> {
  const dir = await mkdtemp(join(tmpdir(), 'sstpd-haproxy-'));
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content, { mode: 0o600 });
  const cfg = join(dir, 'haproxy.cfg');
  await writeFile(cfg, config.replaceAll('@DIR@', dir));
  let out = '';
  const child: ChildProcess = ns.spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await gone;
    }
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`haproxy exited (${child.exitCode}):\n${out}`);
    }
    const listening = (await ns.exec('ss', ['-Hltn'])).stdout;
    if (ports.every((p) => new RegExp(`:${p}\\b`).test(listening))) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`haproxy not listening on ${ports.join(', ')} within 10 s:\n${out}`);
    }
    await sleep(100);
  }
  return { output: () => out, stop };
}
