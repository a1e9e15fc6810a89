/**
 * Session events for the metrics: authentications by method and result, ends by cause. The
 * counters live in the daemon's metrics registry (src/server/metrics.ts); this subscriber only tells
 * it, once per event. No per-session state.
 */
import type { AuthOutcome, SessionEnd, SessionSubscriber, SubscriberFactory } from '../lifecycle.js';

/** Where the events go (the daemon's Metrics). */
export interface SessionEventSink {
  setup(method: string, result: 'success' | 'failure'): void;
  ended(cause: string): void;
}

export function metricsFeature(sink: SessionEventSink): SubscriberFactory {
  const subscriber: SessionSubscriber = {
    authResult: (_ctx, o: AuthOutcome) => sink.setup(o.method, o.ok ? 'success' : 'failure'),
    ended: (_ctx, end: SessionEnd) => sink.ended(end.cause),
  };
  return () => subscriber;
}
