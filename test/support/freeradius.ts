/**
 * A real FreeRADIUS 3.2 (Debian's `freeradius`) for tests: a minimal generated raddb in a temp dir
 * (clients, a users file with Cleartext-Password for PAP/CHAP/MS-CHAP/MS-CHAPv2, the detail file
 * for accounting), run in the foreground (`freeradius -X -f -d DIR`) on loopback, inside the test's
 * network namespace when one is given, on the ports the test picks.
 *
 *   const fr = await startFreeRadius({ netns, authPort, acctPort, clients: [{ ipaddr: '127.0.0.1', secret: 's' }],
 *                                      users: [{ name: 'alice', password: 'pw', reply: ['Framed-IP-Address = 192.0.2.77'] }] });
 *   ... fr.detail() ...  await fr.stop();
 *
 * `hardened`: the clients must send Message-Authenticator and every reply carries one, as
 * FreeRADIUS ≥ 3.2.5 does by default (3.2.1 sends none unless told, which is the stock variant).
 * `radclient()` runs FreeRADIUS's own client (DM/CoA towards our daemon) in the same namespace.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Netns } from './netns.js';
import { inNetns } from './daemon.js';

export interface FrClient {
  readonly ipaddr: string;
  readonly secret: string;
}

export interface FrUser {
  readonly name: string;
  readonly password: string;
  /** Reply items in users-file syntax, e.g. `Framed-IP-Address = 192.0.2.77`. */
  readonly reply?: readonly string[];
}

export interface FreeRadiusOptions {
  readonly netns?: Netns;
  readonly listen?: string;
  readonly authPort: number;
  readonly acctPort: number;
  readonly clients: readonly FrClient[];
  readonly users: readonly FrUser[];
  readonly hardened?: boolean;
  /** Reply-Message in every Access-Reject (the reason our log must show). */
  readonly rejectMessage?: string;
}

/** One record of the detail file: attribute → value (quotes removed); repeated attributes joined by ",". */
export type DetailRecord = Readonly<Record<string, string>>;

export function freeRadiusUnavailable(): string | undefined {
  return existsSync('/usr/sbin/freeradius') ? undefined : 'freeradius is not installed (apt-get install freeradius freeradius-utils)';
}

const q = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

function radiusdConf(dir: string, o: FreeRadiusOptions): string {
  const listen = o.listen ?? '127.0.0.1';
  const ma = o.hardened ? '\n    update reply {\n      Message-Authenticator := 0x00\n    }' : '';
  const reject = o.rejectMessage ? `\n      update reply {\n        Reply-Message := ${q(o.rejectMessage)}\n      }` : '';
  return `
prefix = /usr
name = freeradius
confdir = ${dir}
logdir = ${dir}/log
radacctdir = ${dir}/acct
run_dir = ${dir}
libdir = /usr/lib/freeradius
pidfile = ${dir}/radiusd.pid
max_request_time = 30
cleanup_delay = 5
max_requests = 1024
hostname_lookups = no
log {
  destination = stderr
  auth = yes
  auth_badpass = yes
  auth_goodpass = yes
}
security {
  allow_core_dumps = no
  max_attributes = 200
  reject_delay = 0
  status_server = no
}
${o.clients
  .map(
    (c, i) => `client c${i} {
  ipaddr = ${c.ipaddr}
  secret = ${q(c.secret)}
  require_message_authenticator = ${o.hardened ? 'yes' : 'no'}
}`,
  )
  .join('\n')}
thread pool {
  start_servers = 1
  max_servers = 4
  min_spare_servers = 1
  max_spare_servers = 4
  max_requests_per_server = 0
}
modules {
  pap {
  }
  chap {
  }
  mschap {
  }
  files {
    filename = ${dir}/users
    acctusersfile = ${dir}/acct_users
  }
  detail {
    filename = ${dir}/acct/detail
    escape_filenames = no
    permissions = 0600
    header = "%t"
    log_packet_header = yes
  }
}
server default {
  listen {
    type = auth
    ipaddr = ${listen}
    port = ${o.authPort}
  }
  listen {
    type = acct
    ipaddr = ${listen}
    port = ${o.acctPort}
  }
  authorize {
    chap
    mschap
    files
    pap
  }
  authenticate {
    Auth-Type PAP {
      pap
    }
    Auth-Type CHAP {
      chap
    }
    Auth-Type MS-CHAP {
      mschap
    }
  }
  accounting {
    detail${ma}
  }
  post-auth {${ma}
    Post-Auth-Type REJECT {${ma.replace(/\n/g, '\n  ')}${reject}
    }
  }
}
`;
}

function usersFile(users: readonly FrUser[]): string {
  return users
    .map((u) => {
      const reply = (u.reply ?? []).map((r) => `\t${r}`).join(',\n');
      return `${q(u.name)}\tCleartext-Password := ${q(u.password)}${reply ? `\n${reply}` : ''}\n`;
    })
    .join('\n');
}

export function parseDetail(text: string): DetailRecord[] {
  const out: DetailRecord[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const rec: Record<string, string> = {};
    for (const line of block.split('\n')) {
      const m = /^\s+([A-Za-z0-9-]+) = (.*)$/.exec(line);
      if (!m) continue;
      const v = m[2]!.replace(/^"(.*)"$/, '$1');
      rec[m[1]!] = rec[m[1]!] === undefined ? v : `${rec[m[1]!]},${v}`;
    }
    if (Object.keys(rec).length > 0) out.push(rec);
  }
  return out;
}

export class FreeRadius {
  private out = '';
  private exited = false;
  private readonly exitWaiters: (() => void)[] = [];

  constructor(
    readonly dir: string,
    readonly opts: FreeRadiusOptions,
    private readonly child: ChildProcess,
  ) {
    const add = (d: Buffer): void => {
      this.out += d.toString();
      if (this.out.length > 4_000_000) this.out = this.out.slice(-2_000_000);
    };
    child.stdout!.on('data', add);
    child.stderr!.on('data', add);
    child.on('exit', () => {
      this.exited = true;
      for (const w of this.exitWaiters.splice(0)) w();
    });
  }

  get output(): string {
    return this.out;
  }
  get detailFile(): string {
    return join(this.dir, 'acct', 'detail');
  }

  async detail(): Promise<DetailRecord[]> {
    try {
      return parseDetail(await readFile(this.detailFile, 'utf8'));
    } catch {
      return [];
    }
  }

  /** Detail records of one Acct-Session-Id, in order. */
  async records(sessionId: string): Promise<DetailRecord[]> {
    return (await this.detail()).filter((r) => r['Acct-Session-Id'] === sessionId);
  }

  async waitReady(timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.out.includes('Ready to process requests')) {
      if (this.exited) throw new Error(`freeradius exited:\n${this.out.slice(-4000)}`);
      if (Date.now() > deadline) throw new Error(`freeradius not ready within ${timeoutMs} ms:\n${this.out.slice(-4000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** radclient in the same namespace: `attrs` one per line or comma-separated. */
  radclient(target: string, type: 'auth' | 'acct' | 'disconnect' | 'coa', secret: string, attrs: string, extra: readonly string[] = ['-t', '2', '-r', '1']): Promise<{ code: number | null; out: string }> {
    const [file, argv] = inNetns(this.opts.netns, 'radclient', ['-x', ...extra, target, type, secret]);
    return new Promise((resolve) => {
      const c = execFile(file, argv, { timeout: 30_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: stdout + stderr }),
      );
      c.stdin!.end(attrs + '\n');
    });
  }

  async stop(): Promise<void> {
    if (!this.exited) {
      this.child.kill('SIGTERM');
      await new Promise<void>((r) => {
        const t = setTimeout(() => {
          this.child.kill('SIGKILL');
          r();
        }, 5000);
        this.exitWaiters.push(() => {
          clearTimeout(t);
          r();
        });
        if (this.exited) r();
      });
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

export async function startFreeRadius(o: FreeRadiusOptions): Promise<FreeRadius> {
  const dir = await mkdtemp(join(tmpdir(), 'sstpd-fr-'));
  await mkdir(join(dir, 'acct'));
  await mkdir(join(dir, 'log'));
  await writeFile(join(dir, 'radiusd.conf'), radiusdConf(dir, o));
  await writeFile(join(dir, 'users'), usersFile(o.users));
  await writeFile(join(dir, 'acct_users'), '');
  const args = ['-X', '-f', '-d', dir];
  const child = o.netns ? o.netns.spawn('freeradius', args, { stdio: ['ignore', 'pipe', 'pipe'] }) : spawn('freeradius', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const fr = new FreeRadius(dir, o, child);
  try {
    await fr.waitReady();
  } catch (e) {
    await fr.stop();
    throw e;
  }
  return fr;
}

/** Runs fn with a started server; prints its log if fn throws; always stops it. */
export async function withFreeRadius<T>(o: FreeRadiusOptions, fn: (fr: FreeRadius) => Promise<T>): Promise<T> {
  const fr = await startFreeRadius(o);
  try {
    return await fn(fr);
  } catch (err) {
    process.stderr.write(`--- freeradius output (tail) ---\n${fr.output.slice(-8000)}\n--- end ---\n`);
    throw err;
  } finally {
    await fr.stop();
  }
}

/** `set vpn sstp authentication radius server 127.0.0.1 …`: a RADIUS server on loopback (key, auth and accounting ports). */
export function radiusServerLines(secret: string, authPort: number, acctPort: number): string[] {
  const at = 'set vpn sstp authentication radius server 127.0.0.1';
  return [`${at} key ${secret}`, `${at} port ${authPort}`, `${at} acct-port ${acctPort}`];
}

/** `authentication mode radius` with that one server (radiusServerLines). */
export function radiusModeLines(secret: string, authPort: number, acctPort: number): string[] {
  return ['set vpn sstp authentication mode radius', ...radiusServerLines(secret, authPort, acctPort)];
}
