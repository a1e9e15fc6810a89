/**
 * IPv6 prefix pools: `client-ipv6-pool prefix P mask M` hands each session one /M out of P (announced
 * by RA), `delegate P delegation-prefix L` one /L (DHCPv6-PD). Pools can be huge (a /32 cut into
 * /64s is 2^32 prefixes), so nothing is preallocated: the used children are a set of indices and
 * allocation is first-free from a cursor that only moves back on release. Pure and synchronous.
 */
import { bigIntToIpv6, formatPrefix6, ipv6ToBigInt, parsePrefix6, prefixesOverlap, type Prefix6 } from './ipv6-addr.js';
import { pickPool } from './pool.js';

interface Range {
  readonly parent: Prefix6;
  readonly childLen: number;
  readonly base: bigint;
  readonly count: bigint;
  readonly used: Set<bigint>;
  /** No index below this is free. */
  cursor: bigint;
}

export interface PrefixRangeSpec {
  /** The pool prefix, e.g. "2001:db8:100::/40". */
  readonly prefix: string;
  /** Length of each prefix handed out (≥ the pool's). */
  readonly childLen: number;
}

export class Ipv6PrefixPool {
  private readonly ranges: Range[];

  constructor(readonly name: string, specs: readonly PrefixRangeSpec[]) {
    this.ranges = specs.map((s) => {
      const parent = parsePrefix6(s.prefix);
      if (parent === undefined || !Number.isInteger(s.childLen) || s.childLen < parent.len || s.childLen > 128) {
        throw new RangeError(`bad IPv6 pool range ${s.prefix} / ${s.childLen}`);
      }
      return {
        parent,
        childLen: s.childLen,
        base: ipv6ToBigInt(parent.addr),
        count: 1n << BigInt(s.childLen - parent.len),
        used: new Set<bigint>(),
        cursor: 0n,
      };
    });
  }

  get prefixes(): readonly Prefix6[] {
    return this.ranges.map((r) => r.parent);
  }

  get inUse(): number {
    return this.ranges.reduce((n, r) => n + r.used.size, 0);
  }

  /** Child prefixes this pool holds (a float for huge pools: metrics only). */
  get size(): number {
    return this.ranges.reduce((n, r) => n + Number(r.count), 0);
  }

  /** First free child prefix (skipping those `blocked` rejects), or undefined when exhausted. */
  allocate(blocked: (p: Prefix6) => boolean = () => false): Prefix6 | undefined {
    for (const r of this.ranges) {
      // Each step finds a free index or passes a used one; blocked candidates (overlapping pools)
      // get a bounded budget so a huge range cannot stall the daemon.
      let budget = 65_536;
      for (let i = r.cursor; i < r.count; i++) {
        if (r.used.has(i)) {
          if (i === r.cursor) r.cursor = i + 1n;
          continue;
        }
        const p = child(r, i);
        if (blocked(p)) {
          if (--budget <= 0) break;
          continue;
        }
        r.used.add(i);
        if (i === r.cursor) r.cursor = i + 1n;
        return p;
      }
    }
    return undefined;
  }

  /** Marks a prefix taken (a lease that outlived a reload); false if taken already or not ours. */
  claim(p: Prefix6): boolean {
    const at = this.locate(p);
    if (!at || at.r.used.has(at.i)) return false;
    at.r.used.add(at.i);
    return true;
  }

  release(p: Prefix6): void {
    const at = this.locate(p);
    if (!at || !at.r.used.delete(at.i)) return;
    if (at.i < at.r.cursor) at.r.cursor = at.i;
  }

  contains(p: Prefix6): boolean {
    return this.locate(p) !== undefined;
  }

  private locate(p: Prefix6): { r: Range; i: bigint } | undefined {
    for (const r of this.ranges) {
      if (p.len !== r.childLen || !prefixesOverlap(r.parent, p)) continue;
      return { r, i: (ipv6ToBigInt(p.addr) - r.base) >> BigInt(128 - r.childLen) };
    }
    return undefined;
  }
}

function child(r: Range, i: bigint): Prefix6 {
  return { addr: bigIntToIpv6(r.base + (i << BigInt(128 - r.childLen))), len: r.childLen };
}

export type Ipv6PoolKind = 'prefix' | 'delegate';

/** One `client-ipv6-pool NAME`: its prefix ranges (RA) and its delegate ranges (DHCPv6-PD). */
export interface NamedIpv6Pool {
  readonly prefix?: Ipv6PrefixPool;
  readonly delegate?: Ipv6PrefixPool;
}

/** Every IPv6 pool of a generation by name, and `default-ipv6-pool`. */
export interface Ipv6PoolSet {
  readonly pools: ReadonlyMap<string, NamedIpv6Pool>;
  readonly defaultPool?: string;
}

/**
 * The daemon's IPv6 leases: one SLAAC prefix and at most one delegated prefix per session, each
 * from the pool a backend named (RADIUS Framed-IPv6-Pool for the prefix, Delegated-IPv6-Prefix-Pool
 * for the delegation, as accel-ppp's ipv6pool) or else from `default-ipv6-pool` (accel-ppp
 * `ipv6-pool` and `ipv6-pool-delegate`, both set to it by VyOS). VyOS has no `next-pool` for IPv6:
 * an exhausted pool is not followed by another. Ranges may overlap, within a pool, across pools and
 * kinds (VyOS does not forbid it); then no prefix is handed out while it overlaps a live one.
 */
export class Ipv6PrefixBook {
  private readonly leases = new Map<string, { readonly sid: string; readonly kind: Ipv6PoolKind; readonly prefix: Prefix6 }>();
  private overlapping = false;

  constructor(private set: Ipv6PoolSet) {
    this.overlapping = rangesOverlap(set);
  }

  /** Each pool's prefix and delegate ranges' sizes and use (metrics): "NAME" and "NAME-delegate". */
  poolStats(): { readonly name: string; readonly size: number; readonly used: number }[] {
    return [...this.set.pools.values()].flatMap((n) => [n.prefix, n.delegate].flatMap((p) => (p ? [{ name: p.name, size: p.size, used: p.inUse }] : [])));
  }

  /**
   * Whether `lease(kind, name)` is worth trying: a named pool is always tried (so a missing one is
   * reported by name, as for IPv4), else the default pool must have ranges of that kind.
   */
  offers(kind: Ipv6PoolKind, poolName?: string): boolean {
    if (poolName !== undefined) return true;
    const d = this.set.defaultPool;
    return d !== undefined && this.set.pools.get(d)?.[kind] !== undefined;
  }

  /** A new generation's pools; live leases stay valid (re-claimed where they still fit). */
  reconfigure(set: Ipv6PoolSet): void {
    this.set = set;
    this.overlapping = rangesOverlap(set);
    for (const l of this.leases.values()) for (const n of set.pools.values()) n[l.kind]?.claim(l.prefix);
  }

  lease(sid: string, kind: Ipv6PoolKind, poolName?: string): { prefix: Prefix6 } | { error: string } {
    const picked = pickPool(this.set.pools, poolName, this.set.defaultPool, `IPv6 ${kind} pool`);
    if ('error' in picked) return picked;
    const pool = picked.pool[kind];
    if (!pool) return { error: `IPv6 pool "${picked.name}" has no ${kind} ranges` };
    const blocked = this.overlapping ? (p: Prefix6): boolean => [...this.leases.values()].some((l) => prefixesOverlap(l.prefix, p)) : undefined;
    const prefix = pool.allocate(blocked);
    if (!prefix) return { error: `IPv6 ${kind} pool "${picked.name}" is exhausted` };
    this.leases.set(formatPrefix6(prefix), { sid, kind, prefix });
    return { prefix };
  }

  release(sid: string, prefix: Prefix6): void {
    const key = formatPrefix6(prefix);
    const l = this.leases.get(key);
    if (!l || l.sid !== sid) return;
    this.leases.delete(key);
    for (const n of this.set.pools.values()) for (const p of [n.prefix, n.delegate]) if (p?.contains(prefix)) p.release(prefix);
  }

  holderOf(prefix: Prefix6): string | undefined {
    return this.leases.get(formatPrefix6(prefix))?.sid;
  }
}

/** Whether any two ranges of different pools (or kinds) overlap. */
function rangesOverlap(set: Ipv6PoolSet): boolean {
  const all = [...set.pools.values()].flatMap((n) => [n.prefix, n.delegate].filter((p): p is Ipv6PrefixPool => p !== undefined));
  return all.some((a, i) => all.slice(i + 1).some((b) => a.prefixes.some((x) => b.prefixes.some((y) => prefixesOverlap(x, y)))));
}
