/**
 * Admission before TLS, sans-I/O (addresses and `now` in, a verdict out):
 *   - `max-concurrent-sessions` (accel-ppp `[common] max-starting`): no new connection while that
 *     many are still starting (accepted, not yet active); 0 = no limit;
 *   - `limits` (accel-ppp `connlimit`): new connections per client address. Per address: the
 *     first connection opens a window; the next `burst - 1` pass; after that one passes only when
 *     `spacingMs` (period / count) has gone by since the last one that opened or passed after the
 *     burst; `timeoutMs` after that the address starts over. Refused attempts count too, as in
 *     accel-ppp, so an address that keeps hammering stays refused until it pauses.
 */
import type { ConnectionLimits } from '../config/model.js';

export interface RateLimitConfig {
  readonly burst: number;
  readonly spacingMs: number;
  readonly timeoutMs: number;
}

/** accel-ppp connlimit's defaults: burst 3, one per 5 s after it, start over after 60 s. */
export function rateLimitConfig(l: ConnectionLimits): RateLimitConfig {
  const rate = l.rate ?? { count: 1, periodS: 5 };
  return {
    burst: l.burst ?? 3,
    // accel-ppp: time * 1000 / count in integer milliseconds; verify refuses a count of 0.
    spacingMs: Math.floor((rate.periodS * 1000) / Math.max(1, rate.count)),
    timeoutMs: (l.timeoutS ?? 60) * 1000,
  };
}

interface Entry {
  /** When the window opened, or the last connection passed after the burst. */
  since: number;
  /** Attempts after the one that opened the window (refused ones included). */
  count: number;
}

/** Addresses kept at most; beyond it the oldest windows go first (a spoofed flood cannot grow memory). */
export const MAX_TRACKED_ADDRESSES = 100_000;

export class ConnectionRateLimiter {
  /** Insertion order = the order windows were (re)opened or last passed: oldest first. */
  private readonly entries = new Map<string, Entry>();

  constructor(private config: RateLimitConfig) {}

  /** A reload changes the numbers; the addresses seen so far stay counted (as accel-ppp's reload). */
  setConfig(config: RateLimitConfig): void {
    this.config = config;
  }

  get tracked(): number {
    return this.entries.size;
  }

  /** May a new connection from `address` go on at `now` (ms, monotonic)? */
  admit(address: string, now: number): boolean {
    this.expire(now);
    const c = this.config;
    const e = this.entries.get(address);
    if (e === undefined || now - e.since >= c.timeoutMs) {
      this.touch(address, { since: now, count: 0 });
      return true;
    }
    e.count++;
    if (e.count < c.burst) return true;
    if (now - e.since < c.spacingMs) return false;
    this.touch(address, { since: now, count: e.count });
    return true;
  }

  private touch(address: string, e: Entry): void {
    this.entries.delete(address);
    this.entries.set(address, e);
    if (this.entries.size > MAX_TRACKED_ADDRESSES) this.entries.delete(this.entries.keys().next().value!);
  }

  /** Drops windows past their timeout, oldest first, stopping at the first live one. */
  private expire(now: number): void {
    for (const [address, e] of this.entries) {
      if (now - e.since < this.config.timeoutMs) break;
      this.entries.delete(address);
    }
  }
}
