/**
 * `extended-scripts on-pre-up | on-up | on-down | on-change` (accel-ppp pppd_compat's ip-pre-up,
 * ip-up, ip-down, ip-change), with pppd_compat's arguments:
 *   interface, tty ("none"), speed ("0"), local IPv4, remote IPv4, ipparam (the calling station)
 * and its environment: PEERNAME, CALLING_SID, CALLED_SID, IPV6_PREFIX and IPV6_DELEGATED_PREFIX
 * when there are, and on-down CONNECT_TIME, BYTES_SENT/RCVD, PACKETS_SENT/RCVD (sent = to the
 * client). pppd's IFNAME, IPLOCAL, IPREMOTE and a PATH are added, so pppd-style scripts work too.
 *
 * A non-zero on-pre-up refuses the session (accel-ppp terminates it); on-down holds the interface
 * until the script is done, as accel-ppp waits for ip-down. Every run is bounded by the runner's
 * timeout and logged once. Scripts run in their own processes: a slow one holds only its session.
 */
import { formatPrefix6 } from '../../ip/ipv6-addr.js';
import { SessionRejected, type SessionContext, type SessionSubscriber, type SubscriberFactory } from '../lifecycle.js';

export interface ScriptRun {
  readonly code: number | null;
  readonly signal: string | null;
  readonly durationMs: number;
  readonly error?: string;
}

/** Runs one script to its end or its time limit (src/dataplane/scripts.ts; a fake in tests). Never rejects. */
export type RunScript = (path: string, args: readonly string[], env: Readonly<Record<string, string>>) => Promise<ScriptRun>;

export interface ScriptsConfig {
  readonly onPreUp?: string;
  readonly onUp?: string;
  readonly onDown?: string;
  readonly onChange?: string;
}

type Hook = 'on-pre-up' | 'on-up' | 'on-down' | 'on-change';

const SCRIPT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export function scriptsFeature(scripts: ScriptsConfig, gateway: string, run: RunScript): SubscriberFactory {
  return () => new ScriptsSubscriber(scripts, gateway, run);
}

class ScriptsSubscriber implements SessionSubscriber {
  private startedAt: number | undefined;
  /**
   * Whether on-pre-up let the session start (true without one). The lifecycle goes on to `up`
   * while it runs; on-up and on-down wait for it and run only after a yes, as pppd_compat's
   * `started` flag decides.
   */
  private started: Promise<boolean> = Promise.resolve(true);

  constructor(
    private readonly scripts: ScriptsConfig,
    private readonly gateway: string,
    private readonly run: RunScript,
  ) {}

  authResult(ctx: SessionContext): void {
    this.startedAt ??= ctx.now();
  }

  preUp(ctx: SessionContext): Promise<void> | void {
    this.startedAt ??= ctx.now();
    const path = this.scripts.onPreUp;
    if (path === undefined) return;
    const run = this.exec(ctx, 'on-pre-up', path);
    this.started = run.then((r) => r.code === 0);
    return run.then((r) => {
      if (r.code !== 0) throw new SessionRejected(`on-pre-up ${path} ${describe(r)}`);
    });
  }

  up(ctx: SessionContext): void {
    const path = this.scripts.onUp;
    if (path !== undefined) void this.started.then((ok) => (ok ? this.exec(ctx, 'on-up', path) : undefined));
  }

  /** The interface is being closed: the facts no longer name it, the hook does. */
  async down(ctx: SessionContext, ifname: string): Promise<void> {
    const path = this.scripts.onDown;
    if (path !== undefined && (await this.started)) await this.exec(ctx, 'on-down', path, ifname);
  }

  changed(ctx: SessionContext): void {
    if (this.scripts.onChange !== undefined) void this.exec(ctx, 'on-change', this.scripts.onChange);
  }

  /** `downIfname`: on-down's interface; it also adds the final counters to the environment. */
  private async exec(ctx: SessionContext, hook: Hook, path: string, downIfname?: string): Promise<ScriptRun> {
    const f = ctx.facts;
    const ifname = downIfname ?? f.ifname ?? '';
    const local = f.ipv4 !== undefined ? this.gateway : '0.0.0.0';
    const remote = f.ipv4 ?? '0.0.0.0';
    const args = [ifname, 'none', '0', local, remote, f.callingSid];
    const r = await this.run(path, args, this.env(ctx, ifname, local, remote, downIfname !== undefined));
    const fields = { username: f.username, script: hook, path, code: r.code, signal: r.signal, durationMs: r.durationMs, ...(r.error ? { error: r.error } : {}) };
    if (r.code === 0) ctx.log.info(fields, 'script-run');
    else ctx.log.warn(fields, 'script-run');
    return r;
  }

  private env(ctx: SessionContext, ifname: string, local: string, remote: string, final: boolean): Record<string, string> {
    const f = ctx.facts;
    const env: Record<string, string> = {
      PEERNAME: f.username ?? '',
      CALLING_SID: f.callingSid,
      CALLED_SID: f.calledSid,
      IFNAME: ifname,
      IPLOCAL: local,
      IPREMOTE: remote,
      PATH: SCRIPT_PATH,
    };
    if (f.ipv6Prefix) env['IPV6_PREFIX'] = formatPrefix6(f.ipv6Prefix);
    if (f.delegatedPrefix) env['IPV6_DELEGATED_PREFIX'] = formatPrefix6(f.delegatedPrefix);
    if (final) {
      const c = f.counters();
      env['CONNECT_TIME'] = String(Math.floor((ctx.now() - (this.startedAt ?? ctx.now())) / 1000));
      env['BYTES_SENT'] = String(c.txBytes);
      env['BYTES_RCVD'] = String(c.rxBytes);
      env['PACKETS_SENT'] = String(c.txPackets);
      env['PACKETS_RCVD'] = String(c.rxPackets);
    }
    return env;
  }
}

const describe = (r: ScriptRun): string =>
  r.error !== undefined ? `failed: ${r.error}` : r.code !== null ? `exited with ${r.code}` : `was killed by ${r.signal ?? 'a signal'}`;
