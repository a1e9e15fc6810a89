/**
 * Time for the sans-I/O cores. Cores never read a clock: every input carries `now` (monotonic
 * milliseconds) and cores report deadlines, not timers. The driver owns the one real timer.
 */
export type Millis = number;

/** Deadlines by kind; the next wake-up is the minimum. */
export class TimerTable<K extends string> {
  private readonly deadlines = new Map<K, Millis>();

  set(kind: K, at: Millis): void {
    this.deadlines.set(kind, at);
  }
  clear(kind: K): void {
    this.deadlines.delete(kind);
  }
  get(kind: K): Millis | undefined {
    return this.deadlines.get(kind);
  }
  has(kind: K): boolean {
    return this.deadlines.has(kind);
  }
  clearAll(): void {
    this.deadlines.clear();
  }
  next(): Millis | undefined {
    let min: Millis | undefined;
    for (const at of this.deadlines.values()) if (min === undefined || at < min) min = at;
    return min;
  }
  /** Removes and returns the kinds whose deadline is at or before now, earliest first. */
  expired(now: Millis): K[] {
    const out: [K, Millis][] = [];
    for (const [k, at] of this.deadlines) if (at <= now) out.push([k, at]);
    out.sort((a, b) => a[1] - b[1]);
    for (const [k] of out) this.deadlines.delete(k);
    return out.map(([k]) => k);
  }
}

/** Minimum of optional deadlines. */
export function minDeadline(...ds: (Millis | undefined)[]): Millis | undefined {
  let min: Millis | undefined;
  for (const d of ds) if (d !== undefined && (min === undefined || d < min)) min = d;
  return min;
}

/** The one place the monotonic clock is read (drivers only). */
export const monotonicNow = (): Millis => performance.now();
