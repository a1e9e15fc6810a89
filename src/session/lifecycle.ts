/**
 * The session lifecycle seam (accel-ppp's session events, typed): the features a session runs —
 * accounting, Framed-Route, Session-/Idle-Timeout, the rate-limit shaper, … — subscribe to its
 * events instead of living in the driver. The daemon lists the subscriber factories of a
 * configuration generation (SessionEnv.features); each session makes its own subscribers, so they
 * may keep per-session state. Adding a feature is adding a subscriber, not editing the driver.
 *
 *   accept → HTTP → SSTP → LCP → auth ─→ authResult ─→ authorized ─→ preUp ─→ up ─→ … changed … ─→ down ─→ ended
 *                                        (leases held)   (TUN exists,  (IPv4 up)             (exactly
 *                                                         no traffic)                          once)
 *
 * Hooks run in subscriber order. `down` also runs when an LCP renegotiation takes the interface
 * away; `authorized`, `preUp` and `up` then run again for the new one. Nothing runs after `ended`
 * except a `down` that an operator's terminate releases at once. Sans-I/O: time and timers come
 * through the context, effects (shaper, routes, RADIUS) through the subscriber's factory.
 */
import type { Logger } from 'pino';
import type { AuthAccept } from '../auth/backend.js';
import type { RateLimit } from '../config/model.js';
import type { Prefix6 } from '../ip/ipv6-addr.js';
import type { Millis } from '../common/time.js';
import { SstpdError } from '../common/errors.js';
import type { TerminateCause } from './registry.js';

/** Data counters since the session started; rx = from the client, tx = to it. Live, not copies. */
export interface SessionCounters {
  readonly rxBytes: number;
  readonly txBytes: number;
  readonly rxPackets: number;
  readonly txPackets: number;
}

/** What a subscriber may know about its session; read at any time, it is always current. */
export interface SessionFacts {
  readonly sid: string;
  /** NAS-Port: the session's number since the daemon started. */
  readonly nasPort: number;
  /** The client's address (Calling-Station-Id) and ours it connected to (Called-Station-Id). */
  readonly callingSid: string;
  readonly calledSid: string;
  /** From the first authentication attempt on. */
  readonly username: string | undefined;
  /** The session interface, while it exists. */
  readonly ifname: string | undefined;
  /** The client's IPv4 address, once leased. */
  readonly ipv4: string | undefined;
  /** The session's IPv6 prefix (RA), once leased. */
  readonly ipv6Prefix: Prefix6 | undefined;
  /** The prefix DHCPv6-PD delegated, once the client bound it. */
  readonly delegatedPrefix: Prefix6 | undefined;
  /** The backend's yes and what it decided besides (RADIUS authorization); the latest one. */
  readonly authorization: AuthAccept | undefined;
  /** The bandwidth limit in force: the authorized one, then what CoA or the operator set. */
  readonly rateLimit: RateLimit | undefined;
  counters(): SessionCounters;
}

/** An authentication finished: the method LCP negotiated ('none' when it never got that far). */
export interface AuthOutcome {
  readonly method: string;
  readonly ok: boolean;
  readonly reason?: string;
}

/** How a session ended: `cause` is what accounting reports (Acct-Terminate-Cause). */
export interface SessionEnd {
  readonly cause: string;
  readonly reason: string;
}

/** A change on a live session (RADIUS CoA, `sstpctl set rate-limit`); absent fields stay as they are. */
export interface SessionChange {
  readonly origin: 'coa' | 'operator';
  /** A new bandwidth limit; null removes it. */
  readonly rateLimit?: RateLimit | null;
  /** Restart the Session-/Idle-Timeout from now; 0 removes it. */
  readonly sessionTimeoutS?: number;
  readonly idleTimeoutS?: number;
  readonly interimIntervalS?: number;
  readonly classes?: readonly Buffer[];
}

/** A change's log fields (Class values aside): `rateLimit` as down/up kbit/s. */
export function changeFields(c: Omit<SessionChange, 'origin'>): Record<string, string | number> {
  const f: Record<string, string | number> = {};
  if (c.rateLimit !== undefined) f['rateLimit'] = c.rateLimit ? `${c.rateLimit.downloadKbit}/${c.rateLimit.uploadKbit}` : 'none';
  if (c.sessionTimeoutS !== undefined) f['sessionTimeoutS'] = c.sessionTimeoutS;
  if (c.idleTimeoutS !== undefined) f['idleTimeoutS'] = c.idleTimeoutS;
  if (c.interimIntervalS !== undefined) f['interimIntervalS'] = c.interimIntervalS;
  return f;
}

/** What a subscriber gets with every hook: its session's facts, the session log, time, and the ways to end it. */
export interface SessionContext {
  readonly facts: SessionFacts;
  /** The session's logger (`sid` bound); lines carry `username` themselves, as every session line does. */
  readonly log: Logger;
  /** Monotonic milliseconds. */
  now(): Millis;
  /** Runs fn after ms (a real timer at the edge); the returned function cancels it. */
  after(ms: number, fn: () => void): () => void;
  /**
   * Ends the session as an operator does (`session-terminate` is logged): the resources and the
   * accounting Stop go now, the goodbye on the wire finishes on its own. Ignored once the session is down.
   */
  terminate(cause: TerminateCause, reason: string): void;
  /** Ends the session from inside (a limit ran out): PPP Terminate, then SSTP Call Disconnect; `cause` is what accounting reports. */
  end(cause: TerminateCause, reason: string): void;
}

/**
 * One feature of one session. Every hook is optional. Refusing is part of the contract of `preUp`
 * and `changed` only; any other throw is a bug, logged (`session-bug`): in `authorized` or `up` it
 * ends the session, in `down` or `ended` the other subscribers still run.
 */
export interface SessionSubscriber {
  /** The backend said yes or no (or authentication timed out); before the addresses are leased. */
  authResult?(ctx: SessionContext, outcome: AuthOutcome): void;
  /** Authenticated, and the addresses are leased (again after an LCP renegotiation). */
  authorized?(ctx: SessionContext): void;
  /**
   * The interface exists, no traffic has flowed. Throwing or rejecting (SessionRejected) ends the
   * session with nas-error and the rejection's message, like accel-ppp's pre-up; later subscribers
   * are not called after a synchronous rejection. The session passes no data, its interface gets
   * no addresses and `up` does not run until every subscriber's promise has resolved.
   */
  preUp?(ctx: SessionContext): void | Promise<void>;
  /** IPv4 runs: IPCP opened and the interface has its addresses. (IPv6 alone does not fire it.) */
  up?(ctx: SessionContext): void;
  /** Interface `ifname` is going; it is deleted once every subscriber's promise settled. */
  down?(ctx: SessionContext, ifname: string): void | Promise<void>;
  /** Exactly once, at the earliest of an operator's terminate and the end of the link. */
  ended?(ctx: SessionContext, end: SessionEnd): void;
  /**
   * A change (CoA, operator). A rejection stops the subscribers after this one and reaches the
   * DAE client or the operator; the ones before keep their change, so the one that may fail goes first.
   */
  changed?(ctx: SessionContext, change: SessionChange): void | Promise<void>;
}

/** Made once per session, at accept. */
export type SubscriberFactory = () => SessionSubscriber;

/** A subscriber refuses: the session cannot go up (preUp), the change cannot be made (changed). */
export class SessionRejected extends SstpdError {
  constructor(message: string) {
    super('E_SESSION_REJECTED', message);
  }
}

/** Calls a session's subscribers for each lifecycle event, in their order, with the rules above. */
export class SessionLifecycle {
  private endedWith: SessionEnd | undefined;
  private rejected = false;

  constructor(private readonly ctx: SessionContext, private readonly subscribers: readonly SessionSubscriber[]) {}

  static create(ctx: SessionContext, factories: readonly SubscriberFactory[]): SessionLifecycle {
    return new SessionLifecycle(ctx, factories.map((make) => make()));
  }

  get isEnded(): boolean {
    return this.endedWith !== undefined;
  }

  authResult(outcome: AuthOutcome): void {
    if (this.isEnded) return;
    for (const s of this.subscribers) s.authResult?.(this.ctx, outcome);
  }

  authorized(): void {
    if (this.isEnded) return;
    for (const s of this.subscribers) s.authorized?.(this.ctx);
  }

  /**
   * Starts every subscriber's preUp. False when one refused at once (the session is being ended);
   * true when all are done already; otherwise a promise that settles when every one has finished:
   * true when all let the session go up, false at the first refusal (which ends the session).
   */
  preUp(): boolean | Promise<boolean> {
    if (this.isEnded) return false;
    const pending: Promise<void>[] = [];
    for (const s of this.subscribers) {
      try {
        const p = s.preUp?.(this.ctx);
        if (p) pending.push(p);
      } catch (err) {
        this.refuse(err);
        return false;
      }
    }
    if (pending.length === 0) return true;
    return Promise.all(pending).then(
      () => !this.rejected && !this.isEnded,
      (err: unknown) => {
        this.refuse(err);
        return false;
      },
    );
  }

  up(): void {
    if (this.isEnded) return;
    for (const s of this.subscribers) s.up?.(this.ctx);
  }

  /** Resolves when every subscriber is done with the interface; never rejects. */
  down(ifname: string): Promise<void> {
    const done = this.subscribers.map((s) => this.guard('down', () => s.down?.(this.ctx, ifname)));
    return Promise.all(done).then(() => undefined);
  }

  /** The first call wins; every subscriber hears it even if one of them fails. */
  ended(end: SessionEnd): void {
    if (this.endedWith) return;
    this.endedWith = end;
    for (const s of this.subscribers) void this.guard('ended', () => s.ended?.(this.ctx, end));
  }

  /** One subscriber after the other; the first rejection stops the rest and is rethrown. */
  async changed(change: SessionChange): Promise<void> {
    if (this.isEnded) throw new SessionRejected('the session is ending');
    for (const s of this.subscribers) await s.changed?.(this.ctx, change);
  }

  private refuse(err: unknown): void {
    if (this.rejected || this.isEnded) return;
    this.rejected = true;
    if (!(err instanceof SessionRejected)) this.bug('preUp', err);
    this.ctx.end('nas-error', err instanceof SessionRejected ? err.message : 'internal error');
  }

  /** Runs a hook whose failure must not keep the others from running: logged as the bug it is. */
  private async guard(hook: string, fn: () => void | Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.bug(hook, err);
    }
  }

  private bug(hook: string, err: unknown): void {
    this.ctx.log.error({ username: this.ctx.facts.username, hook, err: err instanceof Error ? err.stack : String(err) }, 'session-bug');
  }
}
