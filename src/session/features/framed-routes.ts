/**
 * Routes the backend asks for through the session (RADIUS Framed-Route), added when IPv4 is up on
 * the interface. They go away with the interface, so nothing removes them.
 */
import type { FramedRoute } from '../../auth/backend.js';
import type { SessionContext, SessionSubscriber, SubscriberFactory } from '../lifecycle.js';

/** `ip route add PREFIX dev IF [metric M]` (src/dataplane/routes.ts, or a fake in component tests). */
export type AddRoute = (ifname: string, route: FramedRoute) => Promise<void>;

export function framedRoutesFeature(addRoute: AddRoute): SubscriberFactory {
  // No per-session state: every session shares the one subscriber.
  const subscriber: SessionSubscriber = {
    up(ctx: SessionContext): void {
      const a = ctx.facts.authorization;
      const ifname = ctx.facts.ifname;
      if (!a?.routes || ifname === undefined) return;
      for (const r of a.routes) {
        addRoute(ifname, r).then(
          () => ctx.log.info({ username: a.username, route: r.prefix, ifname }, 'route-added'),
          (err: unknown) => ctx.log.warn({ username: a.username, route: r.prefix, err: String(err) }, 'route-failed'),
        );
      }
    },
  };
  return () => subscriber;
}
