/**
 * IPv6 prefix pools: `client-ipv6-pool prefix P mask M` hands each session one /M out of P (announced
 * by RA), `delegate P delegation-prefix L` one /L (DHCPv6-PD). Pools can be huge (a /32 cut into
 * /64s is 2^32 prefixes), so nothing is preallocated: the used children are a set of indices and
 * allocation is first-free from a cursor that only moves back on release. Pure and synchronous.
 */
import { bigIntToIpv6, formatPrefix6, ipv6ToBigInt, parsePrefix6, prefixesOverlap, type Prefix6 } from './ipv6-addr.js';

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

/**
 * The daemon's IPv6 leases: one SLAAC prefix and at most one delegated prefix per session. The two
 * pools may be configured to overlap (VyOS does not forbid it); then no prefix of one is handed out
 * while it overlaps a live prefix of the other.
 */
export class Ipv6PrefixBook {
  private readonly leases = new Map<string, { readonly sid: string; readonly kind: Ipv6PoolKind; readonly prefix: Prefix6 }>();
  private overlapping = false;

  constructor(private pools: { prefix?: Ipv6PrefixPool; delegate?: Ipv6PrefixPool }) {
    this.overlapping = poolsOverlap(pools);
  }

  /** The prefix and delegate pools' sizes and use (metrics). */
  poolStats(): { readonly name: string; readonly size: number; readonly used: number }[] {
    return (['prefix', 'delegate'] as const).flatMap((k) => {
      const p = this.pools[k];
      return p ? [{ name: p.name, size: p.size, used: p.inUse }] : [];
    });
  }

  get hasPrefixPool(): boolean {
    return this.pools.prefix !== undefined;
  }
  get hasDelegatePool(): boolean {
    return this.pools.delegate !== undefined;
  }

  /** A new generation's pools; live leases stay valid (re-claimed where they still fit). */
  reconfigure(pools: { prefix?: Ipv6PrefixPool; delegate?: Ipv6PrefixPool }): void {
    this.pools = pools;
    this.overlapping = poolsOverlap(pools);
    for (const l of this.leases.values()) pools[l.kind]?.claim(l.prefix);
  }

  lease(sid: string, kind: Ipv6PoolKind): { prefix: Prefix6 } | { error: string } {
    const pool = this.pools[kind];
    if (!pool) return { error: `no IPv6 ${kind} pool configured` };
    const other: Ipv6PoolKind = kind === 'prefix' ? 'delegate' : 'prefix';
    const blocked = this.overlapping
      ? (p: Prefix6): boolean => [...this.leases.values()].some((l) => l.kind === other && prefixesOverlap(l.prefix, p))
      : undefined;
    const prefix = pool.allocate(blocked);
    if (!prefix) return { error: `IPv6 ${kind} pool is exhausted` };
    this.leases.set(formatPrefix6(prefix), { sid, kind, prefix });
    return { prefix };
  }

  release(sid: string, prefix: Prefix6): void {
    const key = formatPrefix6(prefix);
    const l = this.leases.get(key);
    if (!l || l.sid !== sid) return;
    this.leases.delete(key);
    for (const p of [this.pools.prefix, this.pools.delegate]) if (p?.contains(prefix)) p.release(prefix);
  }

  holderOf(prefix: Prefix6): string | undefined {
    return this.leases.get(formatPrefix6(prefix))?.sid;
  }
}

function poolsOverlap(p: { prefix?: Ipv6PrefixPool; delegate?: Ipv6PrefixPool }): boolean {
  if (!p.prefix || !p.delegate) return false;
  return p.prefix.prefixes.some((a) => p.delegate!.prefixes.some((b) => prefixesOverlap(a, b)));
}
