/**
 * Session-Timeout and Idle-Timeout (RADIUS Access-Accept, CoA) on a live session: SessionLimits
 * (src/session/limits.ts) decides, a timer of the session's context wakes it at its deadlines.
 * "Idle" is read off the session's data-packet counters, which the data path keeps as plain fields.
 */
import { SessionLimits, type LimitSettings } from '../limits.js';
import type { SessionChange, SessionContext, SessionSubscriber, SubscriberFactory } from '../lifecycle.js';

export function timeoutsFeature(): SubscriberFactory {
  return () => new TimeoutsSubscriber();
}

class TimeoutsSubscriber implements SessionSubscriber {
  private limits: SessionLimits | undefined;
  private cancel: (() => void) | undefined;

  /** The authorized limits start when the link is up (again after an LCP renegotiation). */
  up(ctx: SessionContext): void {
    const a = ctx.facts.authorization;
    if (!a || (a.sessionTimeoutS === undefined && a.idleTimeoutS === undefined)) return;
    const s: LimitSettings = { ...(a.sessionTimeoutS ? { sessionTimeoutS: a.sessionTimeoutS } : {}), ...(a.idleTimeoutS ? { idleTimeoutS: a.idleTimeoutS } : {}) };
    this.limits = new SessionLimits(ctx.now(), s, dataPackets(ctx));
    this.arm(ctx);
  }

  /** CoA: the given limits restart from now (0 removes one); the others stay. */
  changed(ctx: SessionContext, c: SessionChange): void {
    if (c.sessionTimeoutS === undefined && c.idleTimeoutS === undefined) return;
    const s: LimitSettings = { ...(c.sessionTimeoutS !== undefined ? { sessionTimeoutS: c.sessionTimeoutS } : {}), ...(c.idleTimeoutS !== undefined ? { idleTimeoutS: c.idleTimeoutS } : {}) };
    const now = ctx.now();
    if (this.limits) this.limits.set(now, s, dataPackets(ctx));
    else this.limits = new SessionLimits(now, s, dataPackets(ctx));
    this.arm(ctx);
  }

  ended(): void {
    this.cancel?.();
    this.cancel = undefined;
    this.limits = undefined;
  }

  private arm(ctx: SessionContext): void {
    this.cancel?.();
    this.cancel = undefined;
    const at = this.limits?.nextDeadline();
    if (at === undefined) return;
    this.cancel = ctx.after(Math.max(0, at - ctx.now()), () => {
      this.cancel = undefined;
      this.check(ctx);
    });
  }

  /** At a deadline: end the session with the limit's cause, or sleep until the next one. */
  private check(ctx: SessionContext): void {
    const cause = this.limits?.check(ctx.now(), dataPackets(ctx));
    if (!cause) return this.arm(ctx);
    this.limits = undefined;
    ctx.log.info({ username: ctx.facts.username, cause }, 'session-limit');
    ctx.end(cause, cause === 'session-timeout' ? 'Session-Timeout reached' : 'Idle-Timeout reached');
  }
}

function dataPackets(ctx: SessionContext): number {
  const c = ctx.facts.counters();
  return c.rxPackets + c.txPackets;
}
