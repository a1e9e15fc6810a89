/**
 * A fake SessionContext for lifecycle subscribers: settable facts, a manual clock and timers,
 * captured log lines, and the ends (`terminate` / `end`) the subscriber asked for.
 */
import { pino } from 'pino';
import type { AuthAccept } from '../../src/auth/backend.js';
import type { SessionContext, SessionCounters, SessionFacts } from '../../src/session/lifecycle.js';

export type MutableFacts = { -readonly [K in keyof SessionFacts]: SessionFacts[K] };

export interface FakeSession {
  readonly ctx: SessionContext;
  readonly facts: MutableFacts;
  readonly counters: { rxBytes: number; txBytes: number; rxPackets: number; txPackets: number };
  /** Log lines as JSON objects; `msg` is the event. */
  readonly logs: Record<string, unknown>[];
  /** `terminate:<cause>` for ctx.terminate, `<cause>` for ctx.end. */
  readonly ends: { cause: string; reason: string }[];
  /** Pending timers, by due time. */
  readonly timers: { at: number; fn: () => void }[];
  now: number;
  /** Moves the clock to `to`, running every timer due on the way, in order. */
  advance(to: number): void;
  events(name: string): Record<string, unknown>[];
}

export function accept(extra: Partial<AuthAccept> = {}): AuthAccept {
  return { ok: true, username: 'alice', hlaks: [{ label: 'zero', key: Buffer.alloc(32) }], ...extra };
}

export function fakeSession(facts: Partial<SessionFacts> = {}): FakeSession {
  const logs: Record<string, unknown>[] = [];
  const ends: { cause: string; reason: string }[] = [];
  const timers: { at: number; fn: () => void }[] = [];
  const counters = { rxBytes: 0, txBytes: 0, rxPackets: 0, txPackets: 0 };
  const log = pino({ base: undefined, level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  const f: MutableFacts = {
    sid: 's1',
    nasPort: 1,
    callingSid: '198.51.100.7',
    calledSid: '192.0.2.1',
    username: 'alice',
    ifname: 'sstp0',
    ipv4: '192.0.2.10',
    ipv6Prefix: undefined,
    delegatedPrefix: undefined,
    authorization: undefined,
    rateLimit: undefined,
    counters: (): SessionCounters => counters,
    ...facts,
  };
  const s: FakeSession = {
    facts: f,
    counters,
    logs,
    ends,
    timers,
    now: 0,
    ctx: {
      facts: f,
      log,
      now: () => s.now,
      after: (ms, fn) => {
        const t = { at: s.now + ms, fn };
        timers.push(t);
        return () => {
          const i = timers.indexOf(t);
          if (i >= 0) timers.splice(i, 1);
        };
      },
      terminate: (cause, reason) => void ends.push({ cause: `terminate:${cause}`, reason }),
      end: (cause, reason) => void ends.push({ cause, reason }),
    },
    advance: (to) => {
      for (;;) {
        timers.sort((a, b) => a.at - b.at);
        const next = timers[0];
        if (!next || next.at > to) break;
        timers.shift();
        s.now = Math.max(s.now, next.at);
        next.fn();
      }
      s.now = to;
    },
    events: (name) => logs.filter((l) => l['msg'] === name),
  };
  return s;
}
