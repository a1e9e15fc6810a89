/**
 * What PAP and the CHAP family share: the Code/Id/Length/Data packet codec, the CHAP value codec, and
 * the CHAP authenticator engine (challenge, retransmission, one outstanding verification, success
 * replay). Each CHAP variant plugs in a `ChapVariant` that knows only its own value format and texts.
 */
import type { AuthAccept, AuthRequest, AuthResult } from '../../auth/backend.js';
import { Reader } from '../../common/bytes.js';
import { DecodeError } from '../../common/errors.js';
import { TimerTable, type Millis } from '../../common/time.js';
import type { AuthEvent, Authenticator, AuthenticatorOptions } from './authenticator.js';

export const PROTO_PAP = 0xc023;
export const PROTO_CHAP = 0xc223;

export const CHAP_CHALLENGE = 1;
export const CHAP_RESPONSE = 2;
export const CHAP_SUCCESS = 3;
export const CHAP_FAILURE = 4;

export const DEFAULT_RESTART_MS = 3000;
export const DEFAULT_MAX_CHALLENGES = 10;
export const DEFAULT_TIMEOUT_MS = 30000;

export const SUCCESS_TEXT = 'Authentication succeeded';
export const TIMEOUT_TEXT = 'Authentication timed out';
export const NO_ANSWER_REASON = 'peer did not answer the challenge';
export const TIMEOUT_REASON = 'authentication timed out';

export interface AuthPacket {
  readonly code: number;
  readonly id: number;
  readonly data: Buffer;
}

export function encodePacket(code: number, id: number, data: Buffer): Buffer {
  const out = Buffer.alloc(4 + data.length);
  out[0] = code;
  out[1] = id;
  out.writeUInt16BE(out.length, 2);
  data.copy(out, 4);
  return out;
}

/**
 * Code/Id/Length/Data; bytes past Length are link padding (RFC 1661 §5) and dropped. A Length below 4
 * or beyond the packet means malformed: undefined, so the caller discards it silently.
 */
export function decodePacket(packet: Buffer): AuthPacket | undefined {
  return tryDecode(() => {
    const r = new Reader(packet, 'auth packet');
    const code = r.u8();
    const id = r.u8();
    const len = r.u16();
    if (len < 4) throw new DecodeError('auth packet: length below 4');
    return { code, id, data: r.take(len - 4) };
  });
}

/** Runs a decoder; a DecodeError becomes undefined (silent discard), anything else is a bug. */
export function tryDecode<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch (e) {
    if (e instanceof DecodeError) return undefined;
    throw e;
  }
}

/** CHAP Challenge/Response data: Value-Size(1) Value Name. */
export function encodeChapValue(value: Buffer, name: string): Buffer {
  return Buffer.concat([Buffer.from([value.length]), value, Buffer.from(name, 'utf8')]);
}

export interface ChapValue {
  readonly value: Buffer;
  /** Decoded as UTF-8 (RADIUS User-Name and our config are UTF-8). */
  readonly name: string;
}

export function decodeChapValue(data: Buffer): ChapValue | undefined {
  return tryDecode(() => {
    const r = new Reader(data, 'chap value');
    const value = Buffer.from(r.take(r.u8()));
    return { value, name: r.rest().toString('utf8') };
  });
}

/** A deadline that is set and has passed. */
export const due = (at: Millis | undefined, now: Millis): boolean => at !== undefined && at <= now;

export const upperHex = (b: Buffer): string => b.toString('hex').toUpperCase();

/** What distinguishes CHAP-MD5, MS-CHAPv1 and MS-CHAPv2. */
export interface ChapVariant {
  readonly challengeSize: number;
  /**
   * A Response value for the outstanding challenge → the backend request; `{refuse}` to fail it without
   * asking (e.g. LM-only MS-CHAPv1); undefined when malformed (discarded).
   */
  parseResponse(
    id: number,
    challenge: Buffer,
    response: ChapValue,
  ): AuthRequest | { readonly refuse: string } | undefined;
  /** Success message text, or undefined if the accept lacks what the variant needs (then: failure). */
  successMessage(accept: AuthAccept): string | undefined;
  failureMessage(msChapError: number, message: string, random: (n: number) => Buffer): string;
}

type ChapState = 'idle' | 'challenged' | 'verifying' | 'succeeded' | 'failed';
type ChapTimer = 'restart' | 'overall';

export class ChapAuthenticator implements Authenticator {
  readonly protocol = PROTO_CHAP;
  private state: ChapState = 'idle';
  private readonly timers = new TimerTable<ChapTimer>();
  private readonly restartMs: number;
  private readonly maxChallenges: number;
  private readonly timeoutMs: number;
  private id = 0;
  private challenge: Buffer = Buffer.alloc(0);
  private challengePacket: Buffer = Buffer.alloc(0);
  private challengesSent = 0;
  private username: string | undefined;
  /** The verdict packet (Success or Failure), replayed to a duplicate Response. */
  private verdict: Buffer | undefined;

  constructor(
    private readonly variant: ChapVariant,
    private readonly opts: AuthenticatorOptions,
  ) {
    this.restartMs = opts.restartMs ?? DEFAULT_RESTART_MS;
    this.maxChallenges = opts.maxChallenges ?? DEFAULT_MAX_CHALLENGES;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  start(now: Millis): AuthEvent[] {
    if (this.state !== 'idle') return [];
    this.id = this.opts.random(1)[0]!;
    this.challenge = Buffer.from(this.opts.random(this.variant.challengeSize));
    this.challengePacket = encodePacket(
      CHAP_CHALLENGE,
      this.id,
      encodeChapValue(this.challenge, this.opts.serverName),
    );
    this.state = 'challenged';
    this.timers.set('overall', now + this.timeoutMs);
    return [this.sendChallenge(now)];
  }

  handle(_now: Millis, packet: Buffer): AuthEvent[] {
    const p = decodePacket(packet);
    if (p === undefined || p.code !== CHAP_RESPONSE || p.id !== this.id) return [];
    switch (this.state) {
      case 'challenged':
        return this.onResponse(p);
      case 'succeeded':
      case 'failed':
        // The peer may have lost our verdict: repeat it, but decide nothing again.
        return this.verdict ? [{ type: 'send', packet: this.verdict }] : [];
      default:
        return []; // idle, or a retransmitted Response while the backend is busy
    }
  }

  backendResult(_now: Millis, result: AuthResult): AuthEvent[] {
    if (this.state !== 'verifying') return [];
    if (!result.ok) return this.fail(result.msChapError, result.message, result.reason, result.username);
    const text = this.variant.successMessage(result);
    if (text === undefined) {
      return this.fail(691, 'Authentication failed', 'backend gave no authenticator response', result.username);
    }
    this.state = 'succeeded';
    this.timers.clearAll();
    this.verdict = encodePacket(CHAP_SUCCESS, this.id, Buffer.from(text, 'utf8'));
    return [
      { type: 'send', packet: this.verdict },
      { type: 'success', result },
    ];
  }

  handleTimeout(now: Millis): AuthEvent[] {
    if (this.state !== 'challenged' && this.state !== 'verifying') return [];
    const silent = this.state === 'challenged';
    if (due(this.timers.get('overall'), now)) {
      return this.fail(691, TIMEOUT_TEXT, silent ? NO_ANSWER_REASON : TIMEOUT_REASON, this.username);
    }
    if (!silent || !due(this.timers.get('restart'), now)) return [];
    if (this.challengesSent >= this.maxChallenges) return this.fail(691, TIMEOUT_TEXT, NO_ANSWER_REASON, undefined);
    return [this.sendChallenge(now)];
  }

  nextDeadline(): Millis | undefined {
    return this.timers.next();
  }

  private sendChallenge(now: Millis): AuthEvent {
    this.challengesSent++;
    this.timers.set('restart', now + this.restartMs);
    return { type: 'send', packet: this.challengePacket };
  }

  private onResponse(p: AuthPacket): AuthEvent[] {
    const value = decodeChapValue(p.data);
    if (value === undefined) return [];
    const parsed = this.variant.parseResponse(p.id, this.challenge, value);
    if (parsed === undefined) return [];
    this.username = value.name;
    if ('refuse' in parsed) return this.fail(691, 'Authentication failed', parsed.refuse, value.name);
    this.state = 'verifying';
    this.timers.clear('restart');
    return [{ type: 'verify', request: parsed }];
  }

  private fail(code: number, message: string, reason: string, username: string | undefined): AuthEvent[] {
    this.state = 'failed';
    this.timers.clearAll();
    const text = this.variant.failureMessage(code, message, this.opts.random);
    this.verdict = encodePacket(CHAP_FAILURE, this.id, Buffer.from(text, 'utf8'));
    return [
      { type: 'send', packet: this.verdict },
      { type: 'failure', username, reason },
    ];
  }
}
