/**
 * The RADIUS authentication backend: one PPP verification → one Access-Request (accel-ppp's
 * attributes and order, radius.md §3), the answer → AuthResult. Pure apart from the injected
 * transport (`radius/udp.ts`), so it is tested against scripted servers.
 *
 * - Access-Accept: MS-CHAP2-Success is the client's authenticator response unchanged;
 *   MS-MPPE-Recv-Key ‖ MS-MPPE-Send-Key is the SSTP HLAK (MS-CHAPv2); MS-CHAP-MPPE-Keys gives
 *   PasswordHashHash, from which both MS-CHAPv1 HLAK forms clients use are derived; the
 *   authorization attributes (Framed-IP-Address, Framed-Pool, Framed-IPv6-Pool,
 *   Delegated-IPv6-Prefix-Pool, timeouts, Class, DNS, routes, rate
 *   limit) become `Authorization` fields.
 * - Access-Reject: only its Reply-Message and MS-CHAP-Error are read (for the log and the PPP
 *   failure text); every other attribute is ignored.
 * - Access-Challenge: PPP's PAP/CHAP cannot put a second question to the user, so it is a failure
 *   (logged with its Reply-Message).
 */
import type { RateLimit } from '../config/model.js';
import {
  ATTR,
  FRAMED_PROTOCOL_PPP,
  MS,
  NAS_PORT_TYPE_VIRTUAL,
  SERVICE_TYPE_FRAMED,
  VENDOR_MICROSOFT,
} from '../radius/attributes.js';
import type { AttributeDef } from '../config/radius-dictionary.js';
import type { RadiusOutcome, RadiusTransport, RequestAttribute } from '../radius/client.js';
import type { NasIdentity } from '../radius/accounting.js';
import {
  CODE,
  all,
  attr,
  decryptMppeKey,
  first,
  intAttr,
  intValue,
  ipAttr,
  ipValue,
  revealMsChapMppeKeys,
  textAttr,
  textValue,
  vendorAttributes,
  vsa,
  type RadiusPacket,
} from '../radius/packet.js';
import { parseRateLimit, formatRateLimit } from '../radius/rate-limit.js';
import { HLAK_LEN, mschapV1Hlaks } from '../crypto/mschap.js';
import { DecodeError } from '../common/errors.js';
import type { AuthAccept, AuthBackend, AuthContext, AuthReject, AuthRequest, AuthResult, Authorization, FramedRoute, Hlak, MppeKeys } from './backend.js';
import { MSCHAP_ERROR_AUTH_FAILURE } from './local.js';

export type { NasIdentity };

export interface RadiusRateLimitSource {
  readonly attribute: AttributeDef;
  readonly multiplier: number;
}

export type BackendLog = (level: 'debug' | 'info' | 'warn', event: string, fields: Record<string, string | number>) => void;

export interface RadiusAuthOptions {
  readonly transport: RadiusTransport;
  readonly nas: NasIdentity;
  /** Set when `rate-limit enable`: where the limit is read from. */
  readonly rateLimit?: RadiusRateLimitSource;
  readonly log?: BackendLog;
}

/** 255.255.255.254 = the NAS picks (pool); 255.255.255.255 = the user may choose (we pick too). */
const POOL_ADDRESSES = new Set(['255.255.255.254', '255.255.255.255']);
const FAILED_TEXT = 'Authentication failed';
const SUCCESS_STRING = /^S=[0-9A-Fa-f]{40}( M=.*)?$/s;

/** The attributes accel-ppp puts in every request of a session, in its order. */
export function sessionAttributes(nas: NasIdentity, username: string, ctx: AuthContext): RequestAttribute[] {
  const a: RequestAttribute[] = [textAttr(ATTR.USER_NAME, username)];
  if (nas.identifier !== undefined) a.push(textAttr(ATTR.NAS_IDENTIFIER, nas.identifier));
  if (nas.ipAddress !== undefined) a.push(ipAttr(ATTR.NAS_IP_ADDRESS, nas.ipAddress));
  if (ctx.nasPort !== undefined) a.push(intAttr(ATTR.NAS_PORT, ctx.nasPort));
  if (ctx.nasPortId) a.push(textAttr(ATTR.NAS_PORT_ID, ctx.nasPortId));
  a.push(intAttr(ATTR.NAS_PORT_TYPE, NAS_PORT_TYPE_VIRTUAL), intAttr(ATTR.SERVICE_TYPE, SERVICE_TYPE_FRAMED), intAttr(ATTR.FRAMED_PROTOCOL, FRAMED_PROTOCOL_PPP));
  if (ctx.callingStationId) a.push(textAttr(ATTR.CALLING_STATION_ID, ctx.callingStationId));
  if (ctx.calledStationId) a.push(textAttr(ATTR.CALLED_STATION_ID, ctx.calledStationId));
  a.push(textAttr(ATTR.ACCT_SESSION_ID, ctx.sessionId));
  return a;
}

/** The method-specific part of an Access-Request (radius.md §3). */
export function methodAttributes(req: AuthRequest): RequestAttribute[] {
  switch (req.kind) {
    case 'pap':
      // An empty password still needs one (hidden) block.
      return [{ ...attr(ATTR.USER_PASSWORD, Buffer.from(req.password, 'utf8')), hide: true }];
    case 'chap-md5':
      return [attr(ATTR.CHAP_PASSWORD, Buffer.concat([Buffer.from([req.id]), req.response])), attr(ATTR.CHAP_CHALLENGE, req.challenge)];
    case 'mschap-v1':
      return [
        vsa(VENDOR_MICROSOFT, MS.CHAP_CHALLENGE, req.challenge),
        // Ident, Flags = 1 (use the NT-Response), LM-Response (24 zeros), NT-Response.
        vsa(VENDOR_MICROSOFT, MS.CHAP_RESPONSE, Buffer.concat([Buffer.from([req.id ?? 0, 1]), Buffer.alloc(24), req.ntResponse])),
      ];
    case 'mschap-v2':
      return [
        vsa(VENDOR_MICROSOFT, MS.CHAP_CHALLENGE, req.authenticatorChallenge),
        // Ident, Flags = 0, Peer-Challenge, 8 reserved zeros, NT-Response.
        vsa(VENDOR_MICROSOFT, MS.CHAP2_RESPONSE, Buffer.concat([Buffer.from([req.id, 0]), req.peerChallenge, Buffer.alloc(8), req.ntResponse])),
      ];
  }
}

export class RadiusAuthBackend implements AuthBackend {
  constructor(private readonly opts: RadiusAuthOptions) {}

  async authenticate(req: AuthRequest, ctx: AuthContext): Promise<AuthResult> {
    const attributes = [...sessionAttributes(this.opts.nas, req.username, ctx), ...methodAttributes(req)];
    const outcome = await this.opts.transport.request({ role: 'auth', code: CODE.ACCESS_REQUEST, attributes });
    return this.interpret(req, outcome);
  }

  interpret(req: AuthRequest, outcome: RadiusOutcome): AuthResult {
    if (!outcome.ok) return reject(req.username, `RADIUS: ${outcome.reason}`);
    const reply = outcome.reply;
    const from = `from ${outcome.server}`;
    if (reply.code === CODE.ACCESS_REJECT) return this.rejected(req, reply, from);
    if (reply.code === CODE.ACCESS_CHALLENGE) {
      const msg = textValue(first(reply, ATTR.REPLY_MESSAGE));
      return reject(req.username, `RADIUS Access-Challenge ${from} cannot be answered over PPP${msg ? `: ${msg}` : ''}`);
    }
    let keys: { hlaks: Hlak[]; mppeKeys?: MppeKeys };
    try {
      keys = this.keys(req, outcome);
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      return reject(req.username, `RADIUS Access-Accept ${from} with unreadable MPPE keys: ${e.message}`);
    }
    const accept: AuthAccept = { ok: true, username: req.username, ...keys, ...this.authorization(req.username, reply) };
    if (req.kind !== 'mschap-v2') return accept;
    const success = vendorAttributes(reply, VENDOR_MICROSOFT, MS.CHAP2_SUCCESS)[0]?.value;
    const text = success?.subarray(1).toString('latin1');
    if (text === undefined || !SUCCESS_STRING.test(text)) {
      return reject(req.username, `RADIUS Access-Accept ${from} without a valid MS-CHAP2-Success`);
    }
    return { ...accept, authenticatorResponse: text };
  }

  private rejected(req: AuthRequest, reply: RadiusPacket, from: string): AuthReject {
    const replyMessage = textValue(first(reply, ATTR.REPLY_MESSAGE));
    const msError = vendorAttributes(reply, VENDOR_MICROSOFT, MS.CHAP_ERROR)[0]?.value.subarray(1).toString('latin1');
    const e = msError !== undefined ? /E=(\d+)/.exec(msError) : null;
    const m = msError !== undefined ? /M=(.*)$/s.exec(msError) : null;
    const code = e ? Number(e[1]) : MSCHAP_ERROR_AUTH_FAILURE;
    const why = replyMessage ?? m?.[1] ?? msError;
    return reject(req.username, `RADIUS Access-Reject ${from}${why ? `: ${why}` : ''}`, code, replyMessage ?? m?.[1] ?? FAILED_TEXT);
  }

  /**
   * The SSTP binding keys and, for MS-CHAPv2, the MPPE start keys: MS-MPPE-Send-Key encrypts
   * towards the client (RFC 2548), so it is our send key, and the HLAK is Recv ‖ Send.
   */
  private keys(req: AuthRequest, o: Extract<RadiusOutcome, { ok: true }>): { hlaks: Hlak[]; mppeKeys?: MppeKeys } {
    const zeros = { hlaks: [{ label: 'zero', key: Buffer.alloc(HLAK_LEN) } satisfies Hlak] };
    if (req.kind === 'mschap-v2') {
      const recv = vendorAttributes(o.reply, VENDOR_MICROSOFT, MS.MPPE_RECV_KEY)[0]?.value;
      const send = vendorAttributes(o.reply, VENDOR_MICROSOFT, MS.MPPE_SEND_KEY)[0]?.value;
      if (!recv || !send) {
        this.log('warn', 'radius-no-mppe-keys', { username: req.username, server: o.server });
        return zeros;
      }
      const r = decryptMppeKey(recv, o.secret, o.requestAuthenticator);
      const s = decryptMppeKey(send, o.secret, o.requestAuthenticator);
      if (r.length !== 16 || s.length !== 16) throw new DecodeError(`MPPE keys of ${r.length}/${s.length} bytes (16 expected)`, 'E_RADIUS_DECODE');
      return { hlaks: [{ label: 'ms-sstp', key: Buffer.concat([r, s]) }], mppeKeys: { send: s, recv: r } };
    }
    if (req.kind === 'mschap-v1') {
      const keys = vendorAttributes(o.reply, VENDOR_MICROSOFT, MS.CHAP_MPPE_KEYS)[0]?.value;
      if (!keys) {
        this.log('warn', 'radius-no-mppe-keys', { username: req.username, server: o.server });
        return zeros;
      }
      const hashHash = revealMsChapMppeKeys(keys, o.secret, o.requestAuthenticator).ntKey;
      return { hlaks: mschapV1Hlaks(hashHash, req.challenge, req.ntResponse) };
    }
    return zeros;
  }

  /** Access-Accept attributes → Authorization; what cannot be read is left out and logged. */
  private authorization(username: string, reply: RadiusPacket): Authorization & { staticIp?: string; rateLimit?: RateLimit } {
    const out: { -readonly [K in keyof Authorization]: Authorization[K] } & { staticIp?: string; rateLimit?: RateLimit } = { accounting: true };
    const ip = ipValue(first(reply, ATTR.FRAMED_IP_ADDRESS));
    if (ip !== undefined && !POOL_ADDRESSES.has(ip)) out.staticIp = ip;
    const pool = textValue(first(reply, ATTR.FRAMED_POOL));
    if (pool) out.poolName = pool;
    const pool6 = textValue(first(reply, ATTR.FRAMED_IPV6_POOL));
    if (pool6) out.ipv6PoolName = pool6;
    const dpool6 = textValue(first(reply, ATTR.DELEGATED_IPV6_PREFIX_POOL));
    if (dpool6) out.delegatedIpv6PoolName = dpool6;
    const positive = (type: number): number | undefined => {
      const n = intValue(first(reply, type));
      return n !== undefined && n > 0 ? n : undefined;
    };
    const st = positive(ATTR.SESSION_TIMEOUT);
    if (st !== undefined) out.sessionTimeoutS = st;
    const it = positive(ATTR.IDLE_TIMEOUT);
    if (it !== undefined) out.idleTimeoutS = it;
    const ii = positive(ATTR.ACCT_INTERIM_INTERVAL);
    if (ii !== undefined) out.interimIntervalS = ii;
    const classes = all(reply, ATTR.CLASS);
    if (classes.length > 0) out.classes = classes;
    const dns1 = ipValue(vendorAttributes(reply, VENDOR_MICROSOFT, MS.PRIMARY_DNS_SERVER)[0]?.value);
    const dns2 = ipValue(vendorAttributes(reply, VENDOR_MICROSOFT, MS.SECONDARY_DNS_SERVER)[0]?.value);
    if (dns1 !== undefined || dns2 !== undefined) out.dns = { ...(dns1 ? { primary: dns1 } : {}), ...(dns2 ? { secondary: dns2 } : {}) };
    const routes = all(reply, ATTR.FRAMED_ROUTE).flatMap((v) => {
      const r = parseFramedRoute(v.toString('utf8'));
      if (!r) this.log('warn', 'radius-bad-framed-route', { username, value: v.toString('utf8') });
      return r ? [r] : [];
    });
    if (routes.length > 0) out.routes = routes;
    const limit = this.rateLimit(username, reply);
    if (limit) out.rateLimit = limit;
    return out;
  }

  private rateLimit(username: string, reply: RadiusPacket): RateLimit | undefined {
    const src = this.opts.rateLimit;
    if (!src) return undefined;
    const parsed = parseRateLimit(rateValues(reply, src.attribute), src.attribute, src.multiplier);
    if (parsed === undefined) return undefined;
    if (!parsed.ok) {
      this.log('warn', 'radius-bad-rate-limit', { username, reason: parsed.reason });
      return undefined;
    }
    this.log('debug', 'radius-rate-limit', { username, rateLimit: formatRateLimit(parsed.limit) });
    return parsed.limit;
  }

  private log(level: 'debug' | 'info' | 'warn', event: string, fields: Record<string, string | number>): void {
    this.opts.log?.(level, event, fields);
  }
}

/** The values of a (possibly vendor-specific) attribute in a packet. */
export function rateValues(p: RadiusPacket, def: AttributeDef): Buffer[] {
  return def.vendor === undefined ? all(p, def.type) : vendorAttributes(p, def.vendor, def.type).map((v) => v.value);
}

/** Framed-Route "prefix[/len] [gateway] [metric…]" (RFC 2865 §5.22); the gateway is the peer here. */
export function parseFramedRoute(text: string): FramedRoute | undefined {
  const [dest, , metric] = text.trim().split(/\s+/);
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})(?:\/(\d{1,2}))?$/.exec(dest ?? '');
  if (!m) return undefined;
  const octets = m[1]!.split('.').map(Number);
  const len = m[2] === undefined ? 32 : Number(m[2]);
  if (octets.some((o) => o > 255) || len > 32) return undefined;
  const base = octets.reduce((a, o) => a * 256 + o, 0);
  const size = 2 ** (32 - len);
  const net = base - (base % size);
  const prefix = `${[net >>> 24, (net >>> 16) & 255, (net >>> 8) & 255, net & 255].join('.')}/${len}`;
  const n = metric !== undefined && /^\d+$/.test(metric) ? Number(metric) : undefined;
  return n === undefined ? { prefix } : { prefix, metric: n };
}

function reject(username: string, reason: string, msChapError = MSCHAP_ERROR_AUTH_FAILURE, message = FAILED_TEXT): AuthReject {
  return { ok: false, username, reason, msChapError, message };
}

