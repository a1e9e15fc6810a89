/**
 * Per-session rate limits with the kernel's traffic control (the `Shaper` seam). Why the kernel: it
 * shapes where the packets already are, with a queue and hrtimer pacing, at no cost to the event
 * loop; a userspace token bucket would have to hold or drop packets in JS on the hot path.
 *
 *   download (towards the client) = egress of sstpN:  root tbf at the rate
 *   upload   (from the client)    = ingress of sstpN: redirected (u32 match-all + mirred) to an ifb
 *                                   device `ifb-sstpN`, whose egress carries the same kind of tbf
 *
 * tbf, not a policer: these kernels lack act_police, and shaping (queue, then pace) lets TCP settle
 * at the rate, where policing drops bursts and lands below it. Burst = 100 ms at the rate (accel-ppp's
 * burst factor 0.1, ≥ 2 full packets); queue (tbf limit) = 100 ms at the rate more. Rates are kbit/s
 * = 1000 bit/s, as tc and VyOS count them.
 *
 * `shaper fwmark` (accel-ppp `[shaper] fwmark`): downloads carrying that firewall mark bypass the
 * limit, by accel-ppp's means: the egress root is an `htb` whose default class 1:2 (unbounded)
 * holds the tbf (handle 10:), and a filter classifies the marked packets to 1:0, the htb itself,
 * which sends them through its direct queue, unshaped. The filter is u32's `match mark` (these
 * kernels have neither the fw classifier nor prio). Like accel-ppp, only the download side: upload
 * is redirected at ingress, before netfilter marks anything. An interface keeps the layout it was
 * first shaped with until its limit is removed.
 *
 * Changes (RADIUS CoA, sstpctl) replace the qdiscs in place; `apply(ifname, undefined)` removes
 * everything, ifb included, and must run before the session interface is deleted (the driver does).
 */
import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { promisify } from 'node:util';
import type { RateLimit } from '../config/model.js';
import { SstpdError } from '../common/errors.js';
import type { Shaper } from './shaper-api.js';

const execFileAsync = promisify(execFile);

export type CommandRunner = (cmd: string, args: readonly string[]) => Promise<void>;

const defaultRunner: CommandRunner = async (cmd, args) => {
  await execFileAsync(cmd, [...args], { timeout: 10_000 });
};

const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;
const IFB_PREFIX = 'ifb-';
/** Bytes of burst/queue per kbit/s for 100 ms: 1000 bit/s × 0.1 s / 8. */
const BYTES_PER_KBIT_100MS = 12.5;
const MIN_BURST = 2 * 1600;

export class ShaperError extends SstpdError {
  constructor(message: string, cause?: unknown) {
    super('E_SHAPER', message, { cause });
  }
}

/** The ifb device that shapes an interface's ingress; undefined when the name would not fit. */
export function ifbName(ifname: string): string | undefined {
  const n = IFB_PREFIX + ifname;
  return n.length <= 15 ? n : undefined;
}

/** `tbf rate … burst … limit …` arguments for one direction. */
export function tbfArgs(kbit: number): string[] {
  const burst = Math.max(MIN_BURST, Math.ceil(kbit * BYTES_PER_KBIT_100MS));
  return ['tbf', 'rate', `${kbit}kbit`, 'burst', String(burst), 'limit', String(2 * burst)];
}

export class TcShaper implements Shaper {
  /** Interfaces we shaped: whether their ingress redirect is in place, and the fwmark bypass they got. */
  private readonly shaped = new Map<string, { ingress: boolean; egressMark: number | undefined | null }>();
  /** `shaper fwmark` for interfaces shaped from now on (a reload sets it); undefined = none. */
  private fwmark: number | undefined;
  /** One change at a time per interface: tc commands of two applies must not interleave. */
  private readonly chains = new Map<string, Promise<void>>();

  constructor(private readonly run: CommandRunner = defaultRunner) {}

  setFwmark(mark: number | undefined): void {
    this.fwmark = mark;
  }

  apply(ifname: string, limit: RateLimit | undefined): Promise<void> {
    if (!IFNAME.test(ifname)) return Promise.reject(new ShaperError(`invalid interface name ${ifname}`));
    const prev = this.chains.get(ifname) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(() => (limit ? this.set(ifname, limit) : this.remove(ifname)));
    const settled = next.catch(() => undefined);
    this.chains.set(ifname, settled);
    void settled.then(() => {
      if (this.chains.get(ifname) === settled) this.chains.delete(ifname);
    });
    return next;
  }

  private async set(ifname: string, limit: RateLimit): Promise<void> {
    const ifb = ifbName(ifname);
    if (!ifb) throw new ShaperError(`${ifname}: name too long for its ifb device`);
    checkRate(limit.downloadKbit);
    checkRate(limit.uploadKbit);
    // egressMark null = the egress root is not built yet.
    const state = this.shaped.get(ifname) ?? { ingress: false, egressMark: null };
    this.shaped.set(ifname, state);
    try {
      await this.setEgress(ifname, state, limit.downloadKbit);
      if (!state.ingress) {
        await this.ip(['link', 'add', ifb, 'type', 'ifb']).catch((e: unknown) => {
          if (!/File exists/.test(String(e))) throw e;
        });
        await this.ip(['link', 'set', 'dev', ifb, 'up']);
      }
      await this.tc(['qdisc', 'replace', 'dev', ifb, 'root', 'handle', '1:', ...tbfArgs(limit.uploadKbit)]);
      if (!state.ingress) {
        await this.tc(['qdisc', 'replace', 'dev', ifname, 'handle', 'ffff:', 'ingress']);
        await this.tc([
          'filter', 'replace', 'dev', ifname, 'parent', 'ffff:', 'protocol', 'all', 'prio', '1', 'handle', '800::1',
          'u32', 'match', 'u32', '0', '0', 'action', 'mirred', 'egress', 'redirect', 'dev', ifb,
        ]);
        state.ingress = true;
      }
    } catch (e) {
      throw new ShaperError(`${ifname}: cannot set rate limit ${limit.downloadKbit}/${limit.uploadKbit}: ${errText(e)}`, e);
    }
  }

  /** The download tbf: the root, or inside the htb whose direct queue takes the marked packets. */
  private async setEgress(ifname: string, state: { egressMark: number | undefined | null }, kbit: number): Promise<void> {
    if (state.egressMark === undefined || (state.egressMark === null && this.fwmark === undefined)) {
      state.egressMark = undefined;
      await this.tc(['qdisc', 'replace', 'dev', ifname, 'root', 'handle', '1:', ...tbfArgs(kbit)]);
      return;
    }
    if (state.egressMark === null) {
      // htb cannot be "replaced" in place, so the frame is built once; later changes touch the tbf only.
      const mark = this.fwmark!;
      await this.tc(['qdisc', 'replace', 'dev', ifname, 'root', 'handle', '1:', 'htb', 'default', '2']);
      await this.tc(['class', 'replace', 'dev', ifname, 'parent', '1:', 'classid', '1:2', 'htb', 'rate', '10gbit', 'quantum', '1514']);
      await this.tc([
        'filter', 'replace', 'dev', ifname, 'parent', '1:', 'protocol', 'all', 'prio', '1', 'handle', '800::1',
        'u32', 'match', 'mark', String(mark), '0xffffffff', 'classid', '1:0',
      ]);
      state.egressMark = mark;
    }
    await this.tc(['qdisc', 'replace', 'dev', ifname, 'parent', '1:2', 'handle', '10:', ...tbfArgs(kbit)]);
  }

  /** Removes the qdiscs and the ifb; errors about things already gone are ignored. */
  private async remove(ifname: string): Promise<void> {
    const ifb = ifbName(ifname);
    this.shaped.delete(ifname);
    await this.tc(['qdisc', 'del', 'dev', ifname, 'root']).catch(() => undefined);
    await this.tc(['qdisc', 'del', 'dev', ifname, 'ingress']).catch(() => undefined);
    if (ifb) {
      await this.ip(['link', 'del', 'dev', ifb]).catch((e: unknown) => {
        if (!/Cannot find device|does not exist/.test(String(e))) throw new ShaperError(`cannot delete ${ifb}: ${errText(e)}`, e);
      });
    }
  }

  private tc(args: readonly string[]): Promise<void> {
    return this.run('tc', args);
  }
  private ip(args: readonly string[]): Promise<void> {
    return this.run('ip', args);
  }
}

function checkRate(kbit: number): void {
  if (!Number.isInteger(kbit) || kbit < 1 || kbit > 10_000_000) throw new ShaperError(`rate ${kbit} kbit/s outside 1..10000000`);
}

function errText(e: unknown): string {
  const x = e as { stderr?: unknown; message?: unknown };
  const stderr = typeof x.stderr === 'string' ? x.stderr.trim() : '';
  return stderr || (e instanceof Error ? e.message : String(e));
}

/**
 * At daemon start: deletes `ifb-<prefix>N` devices a crashed run left behind (an ifb outlives the
 * process, unlike our TUN devices). Returns their names.
 */
export async function cleanupStaleShapers(prefix = 'sstp', sysfs = '/sys/class/net', run: CommandRunner = defaultRunner): Promise<string[]> {
  const pattern = new RegExp(`^${IFB_PREFIX}${prefix.replace(/[^A-Za-z0-9]/g, '\\$&')}\\d+$`);
  const names = (await readdir(sysfs)).filter((n) => pattern.test(n)).sort();
  for (const n of names) await run('ip', ['link', 'del', 'dev', n]).catch(() => undefined);
  return names;
}
