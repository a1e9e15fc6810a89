/**
 * IPv4 address pool: a bitmap over one or more ranges — CIDR prefixes, hosts (a.b.c.d/len) or
 * a.b.c.d-e.f.g.h ranges, the forms VyOS's `client-ip-pool NAME range` takes. Pure and synchronous;
 * allocation is first-free in configuration order, so a restarted daemon hands out addresses
 * predictably. Network and broadcast addresses of prefixes shorter than /31 are never handed out,
 * nor the excluded ones (the daemon excludes the gateway-address, which may lie inside a range as
 * VyOS allows, and every user's static-ip).
 */
import { ipv4PoolSpan } from '../config/values.js';

export function ipv4ToInt(ip: string): number {
  const parts = ip.split('.');
  if (parts.length !== 4) throw new Error(`not an IPv4 address: ${ip}`);
  let v = 0;
  for (const p of parts) {
    const n = Number(p);
    if (!/^\d{1,3}$/.test(p) || n > 255) throw new Error(`not an IPv4 address: ${ip}`);
    v = v * 256 + n;
  }
  return v;
}

export function intToIpv4(v: number): string {
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
}

export interface Range {
  readonly first: number;
  readonly last: number;
}

export function cidrToRange(cidr: string): Range {
  const [addr, lenStr] = cidr.split('/');
  const len = lenStr === undefined ? 32 : Number(lenStr);
  if (!addr || !Number.isInteger(len) || len < 0 || len > 32) throw new Error(`bad prefix: ${cidr}`);
  const base = ipv4ToInt(addr);
  const size = 2 ** (32 - len);
  const net = base - (base % size);
  if (len < 31) return { first: net + 1, last: net + size - 2 };
  return { first: net, last: net + size - 1 };
}

/**
 * One `range` value → the addresses handed out from it: a prefix → cidrToRange; a host
 * "192.0.2.5/24" → from .5 to the end of the prefix, broadcast excluded below /31 (accel-ppp starts
 * at the address as written, and hands out network and broadcast too — sstpd does not); a range
 * "192.0.2.10-192.0.2.20" → both ends. Throws on anything else (the config layer validated it).
 */
export function parsePoolRange(value: string): Range {
  if (!value.includes('-')) {
    const [addr, len] = value.split('/');
    const base = ipv4ToInt(addr ?? '');
    const size = len === undefined ? 1 : 2 ** (32 - Number(len));
    if (len !== undefined && base % size !== 0) {
      const span = ipv4PoolSpan(value);
      if (span === undefined) throw new Error(`bad pool range: ${value}`);
      return { first: span.first, last: Number(len) < 31 ? span.last - 1 : span.last };
    }
    return cidrToRange(value);
  }
  const span = ipv4PoolSpan(value);
  if (span === undefined) throw new Error(`bad pool range: ${value}`);
  return span;
}

export class Ipv4Pool {
  private readonly ranges: Range[];
  private readonly used: Set<number> = new Set();
  private readonly excluded: ReadonlySet<number>;
  /** Addresses this pool can hand out (excluded ones inside its ranges not counted). */
  readonly size: number;

  /**
   * `ranges`: the pool's `range` values (1.3: `subnet`), in any form parsePoolRange takes.
   * `nextPool`: the pool's `next-pool`, tried by AddressBook.lease when this one is exhausted.
   */
  constructor(
    readonly name: string,
    ranges: readonly string[],
    exclude: ReadonlySet<string> = new Set(),
    readonly nextPool?: string,
  ) {
    this.ranges = ranges.map(parsePoolRange);
    this.excluded = new Set([...exclude].map(ipv4ToInt));
    const inRanges = [...this.excluded].filter((v) => this.ranges.some((r) => v >= r.first && v <= r.last)).length;
    this.size = this.ranges.reduce((n, r) => n + (r.last - r.first + 1), 0) - inRanges;
  }

  contains(ip: string): boolean {
    const v = ipv4ToInt(ip);
    return this.ranges.some((r) => v >= r.first && v <= r.last);
  }

  /** First free address, or undefined when the pool is exhausted. */
  allocate(): string | undefined {
    for (const r of this.ranges) {
      for (let v = r.first; v <= r.last; v++) {
        if (this.used.has(v) || this.excluded.has(v)) continue;
        this.used.add(v);
        return intToIpv4(v);
      }
    }
    return undefined;
  }

  /** Marks an address taken (a lease that outlived a reload); false if it was already taken. */
  claim(ip: string): boolean {
    const v = ipv4ToInt(ip);
    if (this.used.has(v)) return false;
    this.used.add(v);
    return true;
  }

  release(ip: string): void {
    this.used.delete(ipv4ToInt(ip));
  }

  get inUse(): number {
    return this.used.size;
  }
}

/**
 * The pool a session starts from (IPv4 and IPv6 alike): the one a backend named (RADIUS Framed-Pool,
 * Framed-IPv6-Pool, Delegated-IPv6-Prefix-Pool) or else the default one; `what` names the kind in
 * the error ("address pool").
 */
export function pickPool<P>(
  pools: ReadonlyMap<string, P>,
  named: string | undefined,
  defaultName: string | undefined,
  what: string,
): { readonly name: string; readonly pool: P } | { readonly error: string } {
  if (named !== undefined && !pools.has(named)) return { error: `${what} "${named}" does not exist` };
  const name = named ?? defaultName;
  const pool = name !== undefined ? pools.get(name) : undefined;
  return name === undefined || pool === undefined ? { error: `no ${what} configured` } : { name, pool };
}

/**
 * All addresses the daemon hands out: static ones per user and the pools. A lease is the one
 * record of "this address belongs to that session"; releasing it is idempotent.
 */
export class AddressBook {
  private readonly leases = new Map<string, string>(); // ip → session id
  constructor(private pools: Map<string, Ipv4Pool>, private defaultPool: string | undefined) {}

  /** Each pool's size (addresses it can hand out) and how many are leased (metrics). */
  poolStats(): { readonly name: string; readonly size: number; readonly used: number }[] {
    return [...this.pools.values()].map((p) => ({ name: p.name, size: p.size, used: p.inUse }));
  }

  /** Swap in pools of a new configuration generation; live leases stay valid (re-claimed). */
  reconfigure(pools: Map<string, Ipv4Pool>, defaultPool: string | undefined): void {
    this.pools = pools;
    this.defaultPool = defaultPool;
    for (const ip of this.leases.keys()) for (const p of pools.values()) if (p.contains(ip)) p.claim(ip);
  }

  /** Whether `lease` can give a session an IPv4 address at all: a static one, a named pool, or a default pool. */
  offers(staticIp?: string, poolName?: string): boolean {
    // A named pool (RADIUS Framed-Pool) is always tried, so a missing one is reported by name.
    if (staticIp !== undefined || poolName !== undefined) return true;
    const name = poolName ?? this.defaultPool;
    return name !== undefined && this.pools.has(name);
  }

  /**
   * A static address (exclusive) or the next free address of `poolName` (RADIUS Framed-Pool) or
   * else the default pool; an error when none is left or the pool does not exist.
   */
  lease(sessionId: string, staticIp?: string, poolName?: string): { ip: string } | { error: string } {
    if (staticIp) {
      const holder = this.leases.get(staticIp);
      if (holder !== undefined && holder !== sessionId) return { error: `address ${staticIp} is in use by session ${holder}` };
      for (const p of this.pools.values()) if (p.contains(staticIp) && !p.claim(staticIp) && holder === undefined) {
        return { error: `address ${staticIp} is in use` };
      }
      this.leases.set(staticIp, sessionId);
      return { ip: staticIp };
    }
    const picked = pickPool(this.pools, poolName, this.defaultPool, 'address pool');
    if ('error' in picked) return picked;
    const first = picked.pool;
    // Follow the next-pool chain (accel-ppp `next=`) while a pool is exhausted. verify refuses
    // loops; the visited set still guards a chain a reload left half-swapped.
    const tried: string[] = [];
    for (let pool: Ipv4Pool | undefined = first; pool !== undefined && !tried.includes(pool.name); ) {
      tried.push(pool.name);
      const ip = this.allocateFrom(pool);
      if (ip !== undefined) {
        this.leases.set(ip, sessionId);
        return { ip };
      }
      pool = pool.nextPool !== undefined ? this.pools.get(pool.nextPool) : undefined;
    }
    const chain = tried.length > 1 ? ` (next-pool chain ${tried.map((n) => `"${n}"`).join(' → ')})` : '';
    return { error: `address pool "${first.name}" is exhausted${chain}` };
  }

  /** The next address of `pool` no session holds, marked used; undefined when none is left. */
  private allocateFrom(pool: Ipv4Pool): string | undefined {
    // Ranges of different pools may overlap (VyOS does not forbid it): an address another pool
    // already leased stays marked in this one too and is skipped.
    for (let ip = pool.allocate(); ip !== undefined; ip = pool.allocate()) {
      if (!this.leases.has(ip)) return ip;
    }
    return undefined;
  }

  release(sessionId: string, ip: string): void {
    if (this.leases.get(ip) !== sessionId) return;
    this.leases.delete(ip);
    for (const p of this.pools.values()) if (p.contains(ip)) p.release(ip);
  }

  holderOf(ip: string): string | undefined {
    return this.leases.get(ip);
  }
}
