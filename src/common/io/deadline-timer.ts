/**
 * The one real timer of an I/O edge that drives a sans-I/O core: the core reports its next deadline
 * (monotonic ms, see common/time.ts), the edge calls `arm()` with it after every input, and `onFire`
 * runs when it is due. Used by the session driver, the client socket and the RADIUS UDP client.
 */
import { monotonicNow, type Millis } from '../time.js';

export class DeadlineTimer {
  private timer: NodeJS.Timeout | undefined;
  /** The deadline the armed timer fires for; undefined when none is armed. */
  private at: Millis | undefined;

  constructor(
    private readonly onFire: () => void,
    private readonly now: () => Millis = monotonicNow,
  ) {}

  /**
   * Arms for `at`; undefined cancels. An earlier deadline replaces the armed timer. A later one
   * (traffic pushed the hello/echo timers out) keeps it: it fires early, the core finds nothing due
   * and the edge arms again. That saves a clearTimeout + setTimeout per received chunk.
   */
  arm(at: Millis | undefined): void {
    if (at === this.at || (at !== undefined && this.at !== undefined && at > this.at)) return;
    this.cancel();
    if (at === undefined) return;
    this.at = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.at = undefined;
      this.onFire();
    }, Math.max(0, at - this.now()));
  }

  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.at = undefined;
  }
}
