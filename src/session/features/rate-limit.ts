/**
 * The per-session bandwidth limit on the session interface (local user `rate-limit`, RADIUS
 * attributes, CoA, `sstpctl set rate-limit`), through the Shaper seam. The limit the session was
 * authorized with must hold before traffic flows: if it cannot, the session ends (preUp). The
 * shaper's helper device (ifb) goes before the interface does (down).
 */
import type { Shaper } from '../../dataplane/shaper-api.js';
import type { RateLimit } from '../../config/model.js';
import { SessionRejected, type SessionChange, type SessionContext, type SessionSubscriber, type SubscriberFactory } from '../lifecycle.js';

const CANNOT_ENFORCE = 'rate limit cannot be enforced';

/** Without a shaper, a session that must be limited is refused and so is a change of limit. */
export function rateLimitFeature(shaper: Shaper | undefined): SubscriberFactory {
  return () => new RateLimitSubscriber(shaper);
}

class RateLimitSubscriber implements SessionSubscriber {
  /** The interface carries a shaper that must go before the interface does. */
  private shapedIfname: string | undefined;

  constructor(private readonly shaper: Shaper | undefined) {}

  preUp(ctx: SessionContext): Promise<void> | undefined {
    const { rateLimit: limit, ifname, username } = ctx.facts;
    if (!limit || ifname === undefined) return undefined;
    if (!this.shaper) {
      ctx.log.error({ username }, 'rate-limit-unavailable');
      throw new SessionRejected(CANNOT_ENFORCE);
    }
    this.shapedIfname = ifname;
    return this.shaper.apply(ifname, limit).catch((err: unknown) => {
      ctx.log.error({ username: ctx.facts.username, err: String(err) }, 'rate-limit-failed');
      throw new SessionRejected(CANNOT_ENFORCE);
    });
  }

  /** Applied at once when the interface exists; otherwise preUp applies it (the session's facts carry it). */
  async changed(ctx: SessionContext, change: SessionChange): Promise<void> {
    if (change.rateLimit === undefined) return;
    if (!this.shaper) throw new SessionRejected('rate limits are not available: no shaper configured');
    const limit = change.rateLimit ?? undefined;
    const ifname = ctx.facts.ifname;
    if (ifname !== undefined) {
      this.shapedIfname = ifname;
      await this.shaper.apply(ifname, limit);
    }
    ctx.log.info({ username: ctx.facts.username, rateLimit: describe(limit) }, 'rate-limit');
  }

  down(ctx: SessionContext, ifname: string): Promise<void> | undefined {
    const shaped = this.shapedIfname === ifname;
    this.shapedIfname = undefined;
    if (!shaped || !this.shaper) return undefined;
    return this.shaper.apply(ifname, undefined).catch((err: unknown) => ctx.log.warn({ ifname, err: String(err) }, 'rate-limit-remove-failed'));
  }
}

function describe(limit: RateLimit | undefined): string {
  return limit ? `${limit.downloadKbit}/${limit.uploadKbit}` : 'none';
}
