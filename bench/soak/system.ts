/**
 * What the soak reads off the system: the daemon's memory and descriptors from /proc, and the kernel
 * objects sessions create in the server's namespace (interfaces, routes, qdiscs), as comparable text.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface ProcStats {
  readonly rssMiB: number;
  readonly fds: number;
  /** utime + stime, seconds. */
  readonly cpuS: number;
}

/** RSS (VmRSS), open descriptors and CPU time of a process; undefined once it is gone. */
export function procStats(pid: number): ProcStats | undefined {
  try {
    const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return {
      rssMiB: Math.round((Number(rss) / 1024) * 10) / 10,
      fds: readdirSync(`/proc/${pid}/fd`).length,
      cpuS: (Number(f[11]) + Number(f[12])) / 100,
    };
  } catch {
    return undefined;
  }
}

/** Kernel objects in a namespace, one text line each, so two snapshots can be diffed. */
export interface KernelState {
  readonly links: string[];
  readonly routes: string[];
  readonly qdiscs: string[];
}

async function json(ns: string, cmd: string, args: readonly string[]): Promise<Record<string, unknown>[]> {
  const { stdout } = await execFileAsync('ip', ['netns', 'exec', ns, cmd, ...args], { timeout: 30_000, maxBuffer: 64 << 20 });
  return stdout.trim() ? (JSON.parse(stdout) as Record<string, unknown>[]) : [];
}

const str = (v: unknown): string => (v === undefined ? '-' : String(v));

export async function kernelState(ns: string): Promise<KernelState> {
  const [links, r4, r6, qdiscs] = await Promise.all([
    json(ns, 'ip', ['-j', 'link', 'show']),
    json(ns, 'ip', ['-4', '-j', 'route', 'show', 'table', 'all']),
    json(ns, 'ip', ['-6', '-j', 'route', 'show', 'table', 'all']),
    json(ns, 'tc', ['-j', 'qdisc', 'show']),
  ]);
  return {
    links: links.map((l) => str(l['ifname'])).sort(),
    routes: [...r4, ...r6].map((r) => `${str(r['type'] ?? 'unicast')} ${str(r['dst'])} dev ${str(r['dev'])} table ${str(r['table'] ?? 'main')}`).sort(),
    qdiscs: qdiscs.map((q) => `${str(q['dev'])} ${str(q['kind'])} ${str(q['handle'])} ${q['root'] === true ? 'root' : str(q['parent'])}`).sort(),
  };
}

/** Session interfaces and ifb devices among the links (for the time series). */
export function countSessionLinks(s: KernelState): { sstp: number; ifb: number } {
  return { sstp: s.links.filter((l) => /^sstp\d+$/.test(l)).length, ifb: s.links.filter((l) => l.startsWith('ifb')).length };
}

/** Lines in `after` that `before` did not have (multiset difference). */
export function added(before: readonly string[], after: readonly string[]): string[] {
  const left = new Map<string, number>();
  for (const b of before) left.set(b, (left.get(b) ?? 0) + 1);
  const out: string[] = [];
  for (const a of after) {
    const n = left.get(a) ?? 0;
    if (n > 0) left.set(a, n - 1);
    else out.push(a);
  }
  return out;
}

export interface Leaks {
  readonly links: string[];
  readonly routes: string[];
  readonly qdiscs: string[];
}

export function leaks(before: KernelState, after: KernelState): Leaks {
  return { links: added(before.links, after.links), routes: added(before.routes, after.routes), qdiscs: added(before.qdiscs, after.qdiscs) };
}

/** Only the links: cheap enough to sample every few seconds. */
export async function linkNames(ns: string): Promise<string[]> {
  return (await json(ns, 'ip', ['-j', 'link', 'show'])).map((l) => str(l['ifname']));
}
