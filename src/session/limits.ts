/**
 * Session-Timeout and Idle-Timeout (RADIUS Access-Accept or CoA) as deadlines, sans-I/O. The driver
 * feeds it the session's data-packet count; "idle" means that count did not move. Activity is
 * sampled every eighth of the idle time (at least every second), so an idle session ends between
 * Idle-Timeout and Idle-Timeout + one sample after its last packet, as accel-ppp's periodic check does.
 */
import { minDeadline, type Millis } from '../common/time.js';

export type LimitCause = 'session-timeout' | 'idle-timeout';

export interface LimitSettings {
  readonly sessionTimeoutS?: number;
  readonly idleTimeoutS?: number;
}

export class SessionLimits {
  private sessionEnd: Millis | undefined;
  private idleMs: number | undefined;
  private lastCount = -1;
  private lastActive: Millis = 0;
  private nextSample: Millis | undefined;

  constructor(now: Millis, s: LimitSettings, packets = 0) {
    this.set(now, s, packets);
  }

  /**
   * (Re)starts the given limits from `now`; a 0 removes one, an absent one stays as it is.
   * `packets` is the data-packet count at this moment.
   */
  set(now: Millis, s: LimitSettings, packets = 0): void {
    if (s.sessionTimeoutS !== undefined) this.sessionEnd = s.sessionTimeoutS > 0 ? now + s.sessionTimeoutS * 1000 : undefined;
    if (s.idleTimeoutS !== undefined) {
      this.idleMs = s.idleTimeoutS > 0 ? s.idleTimeoutS * 1000 : undefined;
      this.lastActive = now;
      this.lastCount = packets;
      this.nextSample = this.idleMs === undefined ? undefined : now + this.sampleMs();
    }
  }

  get active(): boolean {
    return this.sessionEnd !== undefined || this.idleMs !== undefined;
  }

  nextDeadline(): Millis | undefined {
    return minDeadline(this.sessionEnd, this.nextSample);
  }

  /** At a deadline (or any time): the limit that ran out, if one did. `packets` = data packets so far, both ways. */
  check(now: Millis, packets: number): LimitCause | undefined {
    if (this.sessionEnd !== undefined && now >= this.sessionEnd) return 'session-timeout';
    if (this.idleMs === undefined || this.nextSample === undefined || now < this.nextSample) return undefined;
    if (packets !== this.lastCount) {
      this.lastCount = packets;
      this.lastActive = now;
    }
    if (now - this.lastActive >= this.idleMs) return 'idle-timeout';
    this.nextSample = Math.min(now + this.sampleMs(), this.lastActive + this.idleMs);
    return undefined;
  }

  private sampleMs(): number {
    return Math.max(1000, Math.floor((this.idleMs ?? 0) / 8));
  }
}
