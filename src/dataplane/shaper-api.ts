/**
 * The seam for per-session bandwidth limits. Local users' `rate-limit`, RADIUS attributes and CoA
 * all end in `Shaper.apply`; the implementation (kernel traffic control on the session interface)
 * lives beside this file. download = towards the client (egress of sstpN), upload = from it.
 */
import type { RateLimit } from '../config/model.js';

export interface Shaper {
  /** Sets, changes or (with undefined) removes the limits on a session interface. */
  apply(ifname: string, limit: RateLimit | undefined): Promise<void>;
}
