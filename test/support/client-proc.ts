/**
 * Runs test/support/client-cli.js inside a test's network namespace and talks to it line by line.
 */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import type { Netns } from './netns.js';
import { distDir } from './daemon.js';

export interface ClientEvent {
  readonly event: string;
  readonly [k: string]: unknown;
}

export class ClientProc {
  readonly events: ClientEvent[] = [];
  private readonly waiters: (() => void)[] = [];
  private exited = false;

  constructor(private readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        this.events.push(JSON.parse(line) as ClientEvent);
      } catch {
        this.events.push({ event: 'garbage', line });
      }
      this.wake();
    });
    child.on('exit', () => {
      this.exited = true;
      this.wake();
    });
  }

  static start(
    ns: Netns,
    o: { port: number; user: string; password: string; auth?: string; corruptBinding?: boolean; host?: string; tun?: boolean; mppe?: boolean; servername?: string; noSni?: boolean; hostHeader?: string; localAddress?: string },
  ): ClientProc {
    const args = [join(distDir(), 'test', 'support', 'client-cli.js'), '--port', String(o.port), '--user', o.user, '--password', o.password];
    if (o.auth) args.push('--auth', o.auth);
    if (o.corruptBinding) args.push('--corrupt-binding');
    if (o.host) args.push('--host', o.host);
    if (o.tun) args.push('--tun');
    if (o.mppe) args.push('--mppe');
    if (o.servername) args.push('--servername', o.servername);
    if (o.noSni) args.push('--no-sni');
    if (o.hostHeader) args.push('--host-header', o.hostHeader);
    if (o.localAddress) args.push('--local-address', o.localAddress);
    return new ClientProc(ns.spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] }));
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** The next event named one of `names` after index `since`. */
  next(names: readonly string[], since = 0, timeoutMs = 15_000): Promise<ClientEvent> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`client: no ${names.join('|')} within ${timeoutMs} ms; got ${JSON.stringify(this.events)}`)), timeoutMs);
      const check = (): void => {
        const hit = this.events.slice(since).find((e) => names.includes(e.event));
        if (hit) {
          clearTimeout(t);
          resolve(hit);
        } else if (this.exited) {
          clearTimeout(t);
          reject(new Error(`client exited without ${names.join('|')}; events ${JSON.stringify(this.events)}`));
        } else this.waiters.push(check);
      };
      check();
    });
  }

  send(cmd: string): number {
    const mark = this.events.length;
    this.child.stdin!.write(cmd + '\n');
    return mark;
  }

  async ping(dst: string, how: 'ping' | 'raw-ping' = 'ping'): Promise<boolean> {
    const mark = this.send(`${how} ${dst}`);
    return (await this.next(['pong', 'no-pong'], mark)).event === 'pong';
  }

  /** An echo request from `src` (not ours) to `dst`; resolves once it was sent (its reply is not ours to see). */
  async forgedPing(src: string, dst: string): Promise<void> {
    const mark = this.send(`forged-ping ${src} ${dst}`);
    await this.next(['pong', 'no-pong'], mark);
  }

  async close(): Promise<ClientEvent> {
    const mark = this.send('close');
    return this.next(['closed'], mark);
  }

  kill(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }
}
