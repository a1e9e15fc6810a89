/**
 * RADIUS accounting for one session (RFC 2866, RFC 2869; accel-ppp `radius/acct.c` semantics):
 * Start once the session is up, Interim-Update every interval, Stop on every end with the
 * Acct-Terminate-Cause, the session time and 64-bit counters split into octets and gigawords.
 * The RADIUS client adds Acct-Delay-Time and does the retries and failover.
 *
 * - Start unanswered by every server: the session is ended (NAS-Error), as accel-ppp does.
 * - Interim unanswered for longer than `acct-timeout` seconds: the session is ended (its Stop is
 *   still tried); with acct-timeout 0 the interim is just given up.
 * - Stop is sent only for a session whose Start was answered, and is tried on every server.
 *
 * No clock, timer or socket in here: they come in through `AccountingDeps`, so it runs under a
 * fake clock in tests.
 */
import type { Millis } from '../common/time.js';
import {
  ACCT_AUTHENTIC_RADIUS,
  ACCT_STATUS,
  ATTR,
  FRAMED_PROTOCOL_PPP,
  NAS_PORT_TYPE_VIRTUAL,
  SERVICE_TYPE_FRAMED,
} from './attributes.js';
import type { RadiusTransport, RequestAttribute } from './client.js';
import { CODE, attr, intAttr, ipAttr, textAttr } from './packet.js';

export interface NasIdentity {
  readonly identifier?: string;
  readonly ipAddress?: string;
}

/** What accounting reports about a session; fixed once it is up. */
export interface AcctSession {
  /** Acct-Session-Id: the session id. */
  readonly sid: string;
  readonly username: string;
  readonly nasPort?: number;
  /** NAS-Port-Id: the interface. */
  readonly ifname: string;
  readonly framedIp: string;
  readonly callingStationId: string;
  readonly calledStationId?: string;
  readonly classes?: readonly Buffer[];
}

/** rx = from the client (Acct-Input-*), tx = to the client (Acct-Output-*). */
export interface AcctCounters {
  readonly rxBytes: number;
  readonly txBytes: number;
  readonly rxPackets: number;
  readonly txPackets: number;
}

export interface Scheduler {
  /** Runs fn after ms; the returned function cancels it. */
  after(ms: number, fn: () => void): () => void;
}

export interface AccountingClock {
  /** Monotonic milliseconds. */
  monotonic(): Millis;
  /** Wall clock, seconds since 1970 (Event-Timestamp). */
  wallSeconds(): number;
}

export type AcctLog = (level: 'debug' | 'info' | 'warn', event: string, fields: Record<string, string | number>) => void;

export interface AccountingDeps {
  readonly transport: RadiusTransport;
  readonly scheduler: Scheduler;
  readonly clock: AccountingClock;
  readonly nas: NasIdentity;
  /** Seconds an Interim-Update may stay unanswered before the session ends; 0 = never. */
  readonly acctTimeoutS: number;
  readonly counters: () => AcctCounters;
  /** Accounting cannot be kept: the owner ends the session (NAS-Error). */
  readonly onFailure: (reason: string) => void;
  readonly log: AcctLog;
  /** `accounting-interim-interval`: the period when the Access-Accept gives none. */
  readonly interimDefaultS?: number;
  /** `acct-interim-jitter`: milliseconds added to each interim period (a random 0..jitter s, as accel-ppp). */
  readonly interimJitterMs?: () => number;
  /** Told about every Stop under way, so a shutdown can wait for them; true = answered (or none was due). */
  readonly trackStop?: (stop: Promise<boolean>) => void;
}

/** Acct-Terminate-Cause (RFC 2866 §5.10) for the daemon's end causes. */
const TERMINATE_CAUSES: Readonly<Record<string, number>> = {
  'user-request': 1,
  'lost-carrier': 2,
  'lost-service': 3,
  'idle-timeout': 4,
  'session-timeout': 5,
  'admin-reset': 6,
  'session-replaced': 6,
  'admin-reboot': 7,
  'port-error': 8,
  'nas-error': 9,
  'nas-request': 10,
  'nas-reboot': 11,
  'auth-failed': 17,
};

export function terminateCauseCode(cause: string): number {
  return TERMINATE_CAUSES[cause] ?? TERMINATE_CAUSES['nas-error']!;
}

const GIGA = 2 ** 32;
const split = (n: number): [number, number] => [n % GIGA, Math.floor(n / GIGA)];

type StatusType = (typeof ACCT_STATUS)[keyof typeof ACCT_STATUS];

/** The attributes of one Accounting-Request, in accel-ppp's order (Acct-Delay-Time comes last, from the client). */
export function accountingAttributes(
  status: StatusType,
  s: AcctSession,
  nas: NasIdentity,
  c: AcctCounters,
  sessionTimeS: number,
  eventTimestamp: number,
  cause?: string,
): RequestAttribute[] {
  const a: RequestAttribute[] = [intAttr(ATTR.ACCT_STATUS_TYPE, status), textAttr(ATTR.USER_NAME, s.username)];
  if (nas.identifier !== undefined) a.push(textAttr(ATTR.NAS_IDENTIFIER, nas.identifier));
  if (nas.ipAddress !== undefined) a.push(ipAttr(ATTR.NAS_IP_ADDRESS, nas.ipAddress));
  if (s.nasPort !== undefined) a.push(intAttr(ATTR.NAS_PORT, s.nasPort));
  a.push(textAttr(ATTR.NAS_PORT_ID, s.ifname));
  a.push(intAttr(ATTR.NAS_PORT_TYPE, NAS_PORT_TYPE_VIRTUAL), intAttr(ATTR.SERVICE_TYPE, SERVICE_TYPE_FRAMED), intAttr(ATTR.FRAMED_PROTOCOL, FRAMED_PROTOCOL_PPP));
  if (s.callingStationId) a.push(textAttr(ATTR.CALLING_STATION_ID, s.callingStationId));
  if (s.calledStationId) a.push(textAttr(ATTR.CALLED_STATION_ID, s.calledStationId));
  a.push(textAttr(ATTR.ACCT_SESSION_ID, s.sid), ipAttr(ATTR.FRAMED_IP_ADDRESS, s.framedIp));
  for (const cl of s.classes ?? []) a.push(attr(ATTR.CLASS, cl));
  a.push(intAttr(ATTR.ACCT_AUTHENTIC, ACCT_AUTHENTIC_RADIUS), intAttr(ATTR.EVENT_TIMESTAMP, eventTimestamp));
  if (status !== ACCT_STATUS.START) {
    const [inOct, inGiga] = split(c.rxBytes);
    const [outOct, outGiga] = split(c.txBytes);
    a.push(
      intAttr(ATTR.ACCT_SESSION_TIME, sessionTimeS),
      intAttr(ATTR.ACCT_INPUT_OCTETS, inOct),
      intAttr(ATTR.ACCT_OUTPUT_OCTETS, outOct),
      intAttr(ATTR.ACCT_INPUT_PACKETS, c.rxPackets % GIGA),
      intAttr(ATTR.ACCT_OUTPUT_PACKETS, c.txPackets % GIGA),
      intAttr(ATTR.ACCT_INPUT_GIGAWORDS, inGiga),
      intAttr(ATTR.ACCT_OUTPUT_GIGAWORDS, outGiga),
    );
  }
  if (status === ACCT_STATUS.STOP && cause !== undefined) a.push(intAttr(ATTR.ACCT_TERMINATE_CAUSE, terminateCauseCode(cause)));
  return a;
}

/**
 * Accounting-On (7) when the NAS starts, Accounting-Off (8) when it stops cleanly (RFC 2866 §5.1,
 * as accel-ppp sends them): a back end (FreeRADIUS's SQL `accounting_onoff_query`) then closes
 * every session it still holds open for this NAS, so a crash never leaves ghosts. They carry the
 * NAS identity and no user; Acct-Session-Id is a fresh id, as these events belong to no session.
 */
export function accountingOnOffAttributes(on: boolean, nas: NasIdentity, sessionId: string, eventTimestamp: number): RequestAttribute[] {
  const a: RequestAttribute[] = [intAttr(ATTR.ACCT_STATUS_TYPE, on ? ACCT_STATUS.ACCOUNTING_ON : ACCT_STATUS.ACCOUNTING_OFF)];
  if (nas.identifier !== undefined) a.push(textAttr(ATTR.NAS_IDENTIFIER, nas.identifier));
  if (nas.ipAddress !== undefined) a.push(ipAttr(ATTR.NAS_IP_ADDRESS, nas.ipAddress));
  a.push(textAttr(ATTR.ACCT_SESSION_ID, sessionId), intAttr(ATTR.EVENT_TIMESTAMP, eventTimestamp));
  if (!on) a.push(intAttr(ATTR.ACCT_TERMINATE_CAUSE, terminateCauseCode('nas-reboot')));
  return a;
}

/** What the session driver supplies; the daemon binds transport, NAS identity, timers and clock. */
export interface SessionAccountingHooks {
  readonly counters: () => AcctCounters;
  readonly onFailure: (reason: string) => void;
  readonly log: AcctLog;
}
export type AccountingFactory = (hooks: SessionAccountingHooks) => SessionAccounting;

type Phase = 'idle' | 'starting' | 'up' | 'failed' | 'stopped';

export class SessionAccounting {
  private phase: Phase = 'idle';
  private session: AcctSession | undefined;
  private startedAt: Millis = 0;
  private interimS: number | undefined;
  private cancelTimer: (() => void) | undefined;
  private interimBusy = false;
  private interimsOff = false;
  private started: Promise<void> = Promise.resolve();
  private stopped: Promise<boolean> | undefined;
  private stopDone: Promise<void> | undefined;

  constructor(private readonly deps: AccountingDeps) {}

  /** The session is up: Accounting-Start, then Interim-Updates every `interimS` (RADIUS's, else the configured default). */
  start(session: AcctSession, interimS: number | undefined): void {
    if (this.phase !== 'idle') return;
    this.phase = 'starting';
    this.session = session;
    this.interimS = interimS ?? this.deps.interimDefaultS;
    this.startedAt = this.deps.clock.monotonic();
    this.started = this.send(ACCT_STATUS.START).then((ok) => {
      if (this.phase !== 'starting') return;
      if (!ok) {
        this.phase = 'failed';
        this.deps.onFailure('no RADIUS server answered the Accounting-Start');
        return;
      }
      this.phase = 'up';
      this.schedule();
    });
  }

  /** New Class values to echo from now on (CoA). */
  setClasses(classes: readonly Buffer[]): void {
    if (this.session) this.session = { ...this.session, classes };
  }

  /** A new interval (CoA); undefined stops the updates. */
  setInterim(interimS: number | undefined): void {
    this.interimS = interimS;
    if (this.phase === 'up') this.schedule();
  }

  /** The session ended: Accounting-Stop (once). Resolves when it was answered or given up. */
  stop(cause: string): Promise<void> {
    if (!this.stopped) {
      this.stopped = this.doStop(cause);
      this.stopDone = this.stopped.then(() => undefined);
      this.deps.trackStop?.(this.stopped);
    }
    return this.stopDone!;
  }

  /** True when the Stop was answered or none was due; false when it was given up. */
  private async doStop(cause: string): Promise<boolean> {
    const wasStarting = this.phase === 'starting';
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    if (wasStarting) {
      this.phase = 'stopped';
      await this.started;
      // The Start's outcome is in `started`; a Stop follows only an answered Start.
      if (!this.startAnswered) return true;
    } else {
      const up = this.phase === 'up';
      this.phase = 'stopped';
      if (!up) return true;
    }
    return this.send(ACCT_STATUS.STOP, cause);
  }

  private startAnswered = false;

  private schedule(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    const s = this.interimS;
    if (s === undefined || s <= 0) return;
    this.cancelTimer = this.deps.scheduler.after(s * 1000 + (this.deps.interimJitterMs?.() ?? 0), () => {
      this.cancelTimer = undefined;
      void this.interim();
    });
  }

  private async interim(): Promise<void> {
    if (this.phase !== 'up' || this.interimsOff) return;
    this.schedule();
    if (this.interimBusy) return; // the last one is still being retried
    this.interimBusy = true;
    const timeout = this.deps.acctTimeoutS;
    const ok = await this.send(ACCT_STATUS.INTERIM_UPDATE, undefined, timeout > 0 ? timeout * 1000 : undefined);
    this.interimBusy = false;
    if (!ok && timeout > 0 && this.phase === 'up') {
      // No more updates; the Stop is still tried (the server may be back by then).
      this.interimsOff = true;
      this.cancelTimer?.();
      this.cancelTimer = undefined;
      this.deps.onFailure(`Interim-Update unanswered for ${timeout} s (acct-timeout)`);
    }
  }

  private async send(status: StatusType, cause?: string, withinMs?: number): Promise<boolean> {
    const s = this.session!;
    const now = this.deps.clock.monotonic();
    const attributes = accountingAttributes(
      status,
      s,
      this.deps.nas,
      this.deps.counters(),
      Math.floor((now - this.startedAt) / 1000),
      Math.floor(this.deps.clock.wallSeconds()),
      cause,
    );
    const kind = status === ACCT_STATUS.START ? 'start' : status === ACCT_STATUS.STOP ? 'stop' : 'interim';
    const outcome = await this.deps.transport.request({
      role: 'acct',
      code: CODE.ACCOUNTING_REQUEST,
      attributes,
      ...(withinMs !== undefined ? { deadline: now + withinMs } : {}),
      // The session's accounting stays with one server, which counts it (priority/weight).
      session: { id: s.sid, ...(status === ACCT_STATUS.STOP ? { ends: true } : {}) },
    });
    if (status === ACCT_STATUS.START) this.startAnswered = outcome.ok;
    if (outcome.ok) this.deps.log('debug', `acct-${kind}`, { username: s.username, server: outcome.server });
    else this.deps.log('warn', `acct-${kind}-failed`, { username: s.username, reason: outcome.reason, ...(cause ? { cause } : {}) });
    return outcome.ok;
  }
}
