/**
 * Dynamic Authorization (RFC 5176) as a pure decision: a Disconnect- or CoA-Request in, what to
 * do and the reply out. The listener (`udp.ts`) carries datagrams and performs the action.
 *
 * 1. Not decodable, not code 40/43, wrong Request Authenticator (wrong secret) or a wrong
 *    Message-Authenticator: dropped without a reply.
 * 2. NAS-Identifier / NAS-IP-Address that are not ours (NAS-IPv6-Address: we have none): NAK 403.
 * 3. Service-Type Authorize-Only: NAK 405 (we do not re-authorize). Attributes we do not act on:
 *    NAK 401. No session identification at all: NAK 402.
 * 4. Sessions matching every identification attribute given (User-Name, Acct-Session-Id,
 *    Framed-IP-Address, Calling-/Called-Station-Id, NAS-Port, NAS-Port-Id, NAS-Port-Type): none → NAK
 *    503, several → NAK 508.
 * 5. Disconnect → ACK, and the session ends with Admin-Reset. CoA → the changes (rate limit,
 *    Session-Timeout, Idle-Timeout, Acct-Interim-Interval, Class) are handed over whole; an
 *    unreadable rate limit is NAK 407 and nothing changes.
 * Every reply carries Proxy-State as received and a Message-Authenticator computed over the
 * request's authenticator (§3.5).
 */
import type { RateLimit } from '../config/model.js';
import type { Millis } from '../common/time.js';
import { DecodeError } from '../common/errors.js';
import { ATTR, ERROR_CAUSE, NAS_PORT_TYPE_VIRTUAL, SERVICE_TYPE_AUTHORIZE_ONLY } from './attributes.js';
import type { AttributeDef } from '../config/radius-dictionary.js';
import type { NasIdentity } from './accounting.js';
import {
  CODE,
  all,
  decodePacket,
  first,
  intAttr,
  intValue,
  ipValue,
  maPlaceholder,
  sealResponse,
  textValue,
  verifyComputedRequest,
  decodeVsa,
  type RadiusAttribute,
  type RadiusPacket,
} from './packet.js';
import { parseRateLimit } from './rate-limit.js';

export interface DaeConfig {
  readonly secret: Buffer;
  readonly nas: NasIdentity;
  /** Set when `rate-limit enable`: the attribute a CoA carries the new limit in. */
  readonly rateLimit?: { readonly attribute: AttributeDef; readonly multiplier: number };
}

/** What DAE can match a live session on. */
export interface DaeSession {
  readonly sid: string;
  readonly username?: string;
  readonly ip?: string;
  readonly callingSid: string;
  readonly calledSid?: string;
  readonly ifname?: string;
  readonly nasPort?: number;
}

export interface CoaChanges {
  readonly rateLimit?: RateLimit;
  readonly sessionTimeoutS?: number;
  readonly idleTimeoutS?: number;
  readonly interimIntervalS?: number;
  readonly classes?: readonly Buffer[];
}

export type DaeDecision =
  | { readonly kind: 'drop'; readonly reason: string }
  /** Answer as is (a NAK). */
  | { readonly kind: 'reply'; readonly reply: Buffer; readonly log: string }
  | { readonly kind: 'disconnect'; readonly session: DaeSession; readonly ack: Buffer }
  /** Apply `changes`, then send `ack`; if applying fails, send `nak(ERROR_CAUSE.RESOURCES_UNAVAILABLE)`. */
  | { readonly kind: 'coa'; readonly session: DaeSession; readonly changes: CoaChanges; readonly ack: Buffer; readonly nak: (cause: number) => Buffer };

const IDENTIFICATION = new Set<number>([
  ATTR.USER_NAME,
  ATTR.NAS_PORT,
  ATTR.FRAMED_IP_ADDRESS,
  ATTR.CALLED_STATION_ID,
  ATTR.CALLING_STATION_ID,
  ATTR.ACCT_SESSION_ID,
  ATTR.NAS_PORT_TYPE,
  ATTR.NAS_PORT_ID,
]);
const NAS_ATTRS = new Set<number>([ATTR.NAS_IP_ADDRESS, ATTR.NAS_IDENTIFIER, ATTR.NAS_IPV6_ADDRESS]);
const HARMLESS = new Set<number>([ATTR.MESSAGE_AUTHENTICATOR, ATTR.EVENT_TIMESTAMP, ATTR.PROXY_STATE, ATTR.SERVICE_TYPE, ATTR.STATE, ATTR.REPLY_MESSAGE]);
const COA_CHANGES = new Set<number>([ATTR.SESSION_TIMEOUT, ATTR.IDLE_TIMEOUT, ATTR.ACCT_INTERIM_INTERVAL, ATTR.CLASS]);

export function decideDae(bytes: Buffer, cfg: DaeConfig, sessions: () => readonly DaeSession[]): DaeDecision {
  let req: RadiusPacket;
  try {
    req = decodePacket(bytes);
  } catch (e) {
    if (!(e instanceof DecodeError)) throw e;
    return { kind: 'drop', reason: e.message };
  }
  if (req.code !== CODE.DISCONNECT_REQUEST && req.code !== CODE.COA_REQUEST) return { kind: 'drop', reason: `code ${req.code} is not a Disconnect- or CoA-Request` };
  const v = verifyComputedRequest(bytes, cfg.secret);
  if (!v.authenticator) return { kind: 'drop', reason: 'wrong Request Authenticator (shared secret?)' };
  if (v.messageAuthenticator === 'invalid') return { kind: 'drop', reason: 'wrong Message-Authenticator' };

  const isCoa = req.code === CODE.COA_REQUEST;
  const reply = (ok: boolean, cause?: number): Buffer => seal(req, cfg.secret, ok, cause);
  const nak = (cause: number, why: string): DaeDecision => ({ kind: 'reply', reply: reply(false, cause), log: `${why} (Error-Cause ${cause})` });

  const nasProblem = checkNas(req, cfg.nas);
  if (nasProblem) return nak(ERROR_CAUSE.NAS_IDENTIFICATION_MISMATCH, nasProblem);
  if (intValue(first(req, ATTR.SERVICE_TYPE)) === SERVICE_TYPE_AUTHORIZE_ONLY) return nak(ERROR_CAUSE.UNSUPPORTED_SERVICE, 'Authorize-Only is not supported');
  const unsupported = req.attributes.find((a) => !IDENTIFICATION.has(a.type) && !NAS_ATTRS.has(a.type) && !HARMLESS.has(a.type) && !(isCoa && isChange(a, cfg)));
  if (unsupported) return nak(ERROR_CAUSE.UNSUPPORTED_ATTRIBUTE, `attribute ${unsupported.type} is not supported here`);
  if (!req.attributes.some((a) => IDENTIFICATION.has(a.type))) return nak(ERROR_CAUSE.MISSING_ATTRIBUTE, 'no session identification attribute');

  const hits = sessions().filter((s) => matches(req, s));
  if (hits.length === 0) return nak(ERROR_CAUSE.SESSION_CONTEXT_NOT_FOUND, 'no such session');
  if (hits.length > 1) return nak(ERROR_CAUSE.MULTIPLE_SESSION_SELECTION_UNSUPPORTED, `${hits.length} sessions match`);
  const session = hits[0]!;
  if (!isCoa) return { kind: 'disconnect', session, ack: reply(true) };

  const changes = coaChanges(req, cfg);
  if ('error' in changes) return nak(ERROR_CAUSE.INVALID_ATTRIBUTE_VALUE, changes.error);
  return { kind: 'coa', session, changes, ack: reply(true), nak: (cause) => reply(false, cause) };
}

function checkNas(req: RadiusPacket, nas: NasIdentity): string | undefined {
  const id = textValue(first(req, ATTR.NAS_IDENTIFIER));
  if (id !== undefined && id !== nas.identifier) return `NAS-Identifier "${id}" is not ours`;
  const ip = first(req, ATTR.NAS_IP_ADDRESS);
  if (ip !== undefined && ipValue(ip) !== nas.ipAddress) return `NAS-IP-Address ${ipValue(ip) ?? '(malformed)'} is not ours`;
  if (first(req, ATTR.NAS_IPV6_ADDRESS) !== undefined) return 'NAS-IPv6-Address is not ours';
  return undefined;
}

function isChange(a: RadiusAttribute, cfg: DaeConfig): boolean {
  if (COA_CHANGES.has(a.type)) return true;
  const def = cfg.rateLimit?.attribute;
  if (!def) return false;
  if (def.vendor === undefined) return a.type === def.type;
  return a.type === ATTR.VENDOR_SPECIFIC && decodeVsa(a.value).some((v) => v.vendor === def.vendor && v.type === def.type);
}

/** Every identification attribute present must fit the session. */
function matches(req: RadiusPacket, s: DaeSession): boolean {
  if (s.username === undefined) return false; // not authenticated yet: nothing to act on
  for (const a of req.attributes) {
    const text = (): string => a.value.toString('utf8');
    switch (a.type) {
      case ATTR.USER_NAME:
        if (text() !== s.username) return false;
        break;
      case ATTR.ACCT_SESSION_ID:
        if (text() !== s.sid) return false;
        break;
      case ATTR.FRAMED_IP_ADDRESS:
        if (ipValue(a.value) === undefined || ipValue(a.value) !== s.ip) return false;
        break;
      case ATTR.CALLING_STATION_ID:
        if (text() !== s.callingSid) return false;
        break;
      case ATTR.CALLED_STATION_ID:
        if (text() !== s.calledSid) return false;
        break;
      case ATTR.NAS_PORT:
        if (intValue(a.value) === undefined || intValue(a.value) !== s.nasPort) return false;
        break;
      case ATTR.NAS_PORT_ID:
        if (text() !== s.ifname) return false;
        break;
      case ATTR.NAS_PORT_TYPE:
        if (intValue(a.value) !== NAS_PORT_TYPE_VIRTUAL) return false;
        break;
    }
  }
  return true;
}

function coaChanges(req: RadiusPacket, cfg: DaeConfig): CoaChanges | { error: string } {
  const out: { -readonly [K in keyof CoaChanges]: CoaChanges[K] } = {};
  const num = (type: number, name: string): number | undefined | { error: string } => {
    const v = first(req, type);
    if (v === undefined) return undefined;
    const n = intValue(v);
    return n === undefined ? { error: `${name} is not a 4-byte integer` } : n;
  };
  for (const [type, name, key] of [
    [ATTR.SESSION_TIMEOUT, 'Session-Timeout', 'sessionTimeoutS'],
    [ATTR.IDLE_TIMEOUT, 'Idle-Timeout', 'idleTimeoutS'],
    [ATTR.ACCT_INTERIM_INTERVAL, 'Acct-Interim-Interval', 'interimIntervalS'],
  ] as const) {
    const n = num(type, name);
    if (typeof n === 'object') return n;
    if (n !== undefined) out[key] = n;
  }
  const classes = all(req, ATTR.CLASS);
  if (classes.length > 0) out.classes = classes;
  const src = cfg.rateLimit;
  if (src) {
    const values =
      src.attribute.vendor === undefined
        ? all(req, src.attribute.type)
        : all(req, ATTR.VENDOR_SPECIFIC)
            .flatMap(decodeVsa)
            .filter((v) => v.vendor === src.attribute.vendor && v.type === src.attribute.type)
            .map((v) => v.value);
    const parsed = parseRateLimit(values, src.attribute, src.multiplier);
    if (parsed && !parsed.ok) return { error: parsed.reason };
    if (parsed?.ok) out.rateLimit = parsed.limit;
  }
  return out;
}

function seal(req: RadiusPacket, secret: Buffer, ok: boolean, cause?: number): Buffer {
  const isCoa = req.code === CODE.COA_REQUEST;
  const code = isCoa ? (ok ? CODE.COA_ACK : CODE.COA_NAK) : ok ? CODE.DISCONNECT_ACK : CODE.DISCONNECT_NAK;
  const attributes: RadiusAttribute[] = [maPlaceholder(), ...all(req, ATTR.PROXY_STATE).map((v) => ({ type: ATTR.PROXY_STATE, value: v }))];
  if (cause !== undefined) attributes.push(intAttr(ATTR.ERROR_CAUSE, cause));
  return sealResponse({ code, identifier: req.identifier, attributes }, req.authenticator, secret);
}

/**
 * Replies by (source, Identifier, Request Authenticator) for a short while, so a retransmitted
 * request gets the same answer instead of a second action (RFC 5176 §2.3). Bounded.
 */
export class DaeReplyCache {
  private readonly entries = new Map<string, { reply: Buffer; until: Millis }>();
  constructor(private readonly ttlMs = 30_000, private readonly max = 1024) {}

  static key(from: string, request: Buffer): string {
    return `${from}|${request[1] ?? ''}|${request.subarray(4, 20).toString('hex')}`;
  }
  get(now: Millis, key: string): Buffer | undefined {
    const e = this.entries.get(key);
    if (e && e.until > now) return e.reply;
    if (e) this.entries.delete(key);
    return undefined;
  }
  set(now: Millis, key: string, reply: Buffer): void {
    if (this.entries.size >= this.max) {
      for (const [k, e] of this.entries) if (e.until <= now) this.entries.delete(k);
      while (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value!);
    }
    this.entries.set(key, { reply, until: now + this.ttlMs });
  }
}
