/**
 * A DHCPv6 server for one PPP link (RFC 8415): prefix delegation (IA_PD) from the delegate pool and
 * DNS servers; no addresses (IA_NA gets NoAddrsAvail: addresses come by SLAAC). Solicit → Advertise
 * (or Reply with Rapid Commit), Request/Renew/Rebind → Reply, Release → Reply and the prefix goes
 * back, Information-Request → Reply with DNS. One delegated prefix per session. Sans-I/O: the
 * delegate pool is reached through `PrefixSource` (a pure allocator the driver binds to the session).
 */
import { Reader } from '../common/bytes.js';
import { DecodeError } from '../common/errors.js';
import type { Prefix6 } from '../ip/ipv6-addr.js';

export const MSG = {
  SOLICIT: 1,
  ADVERTISE: 2,
  REQUEST: 3,
  CONFIRM: 4,
  RENEW: 5,
  REBIND: 6,
  REPLY: 7,
  RELEASE: 8,
  DECLINE: 9,
  INFORMATION_REQUEST: 11,
} as const;

export const OPT = {
  CLIENTID: 1,
  SERVERID: 2,
  IA_NA: 3,
  IA_TA: 4,
  IAADDR: 5,
  ORO: 6,
  PREFERENCE: 7,
  ELAPSED_TIME: 8,
  STATUS_CODE: 13,
  RAPID_COMMIT: 14,
  DNS_SERVERS: 23,
  IA_PD: 25,
  IAPREFIX: 26,
} as const;

export const STATUS = { SUCCESS: 0, UNSPEC_FAIL: 1, NO_ADDRS_AVAIL: 2, NO_BINDING: 3, NOT_ON_LINK: 4, USE_MULTICAST: 5, NO_PREFIX_AVAIL: 6 } as const;

export interface Dhcpv6Option {
  readonly code: number;
  readonly data: Buffer;
}

export interface Dhcpv6Message {
  readonly type: number;
  readonly transactionId: Buffer;
  readonly options: readonly Dhcpv6Option[];
}

/** Bounds what a client can make us parse: options per message / per IA. */
const MAX_OPTIONS = 64;
/** RFC 8415 §11.1: a DUID is at most 130 bytes, its 2-byte type included. */
const MAX_DUID_LEN = 130;

export function decodeOptions(data: Buffer): Dhcpv6Option[] {
  const r = new Reader(data, 'dhcpv6 options');
  const out: Dhcpv6Option[] = [];
  while (r.remaining > 0) {
    if (out.length >= MAX_OPTIONS) throw new DecodeError('dhcpv6: too many options', 'E_DHCPV6');
    const code = r.u16();
    const len = r.u16();
    out.push({ code, data: r.take(len) });
  }
  return out;
}

export function decodeMessage(data: Buffer): Dhcpv6Message {
  if (data.length < 4) throw new DecodeError('dhcpv6: message shorter than 4 bytes', 'E_DHCPV6');
  return { type: data[0]!, transactionId: data.subarray(1, 4), options: decodeOptions(data.subarray(4)) };
}

export function encodeOption(code: number, data: Buffer): Buffer {
  const out = Buffer.alloc(4 + data.length);
  out.writeUInt16BE(code, 0);
  out.writeUInt16BE(data.length, 2);
  data.copy(out, 4);
  return out;
}

export function encodeMessage(type: number, transactionId: Buffer, options: readonly Buffer[]): Buffer {
  return Buffer.concat([Buffer.from([type]), transactionId, ...options]);
}

const u32 = (...vs: number[]): Buffer => {
  const b = Buffer.alloc(4 * vs.length);
  vs.forEach((v, i) => b.writeUInt32BE(v >>> 0, 4 * i));
  return b;
};

function statusOption(code: number, text: string): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(code);
  return encodeOption(OPT.STATUS_CODE, Buffer.concat([b, Buffer.from(text, 'utf8')]));
}

/** IA_PD / IA_NA: IAID(4) T1(4) T2(4) options. */
export interface IaOption {
  readonly code: number;
  readonly iaid: number;
}

function decodeIa(o: Dhcpv6Option): IaOption | undefined {
  if ((o.code !== OPT.IA_PD && o.code !== OPT.IA_NA && o.code !== OPT.IA_TA) || o.data.length < 4) return undefined;
  return { code: o.code, iaid: o.data.readUInt32BE(0) };
}

/** Where delegated prefixes come from; bound to one session by the driver. */
export interface PrefixSource {
  /** Reserve a prefix for this session; undefined when the pool is exhausted or absent. */
  acquire(): Prefix6 | undefined;
  /** Give it back. */
  release(prefix: Prefix6): void;
}

export interface Dhcpv6Config {
  /** Our DUID (SERVERID). */
  readonly serverDuid: Buffer;
  readonly dns: readonly Buffer[];
  /** Absent: no delegate pool, IA_PD gets NoPrefixAvail. */
  readonly prefixes?: PrefixSource;
  readonly preferredLifetimeS?: number;
  readonly validLifetimeS?: number;
}

export type Dhcpv6Event =
  /** A DHCPv6 message for the client (the caller wraps it in UDP/IPv6 to the request's source). */
  | { readonly type: 'reply'; readonly message: Buffer }
  /** A delegated prefix was committed (Reply to Request/Renew/Rebind or Rapid Commit): route it. */
  | { readonly type: 'bound'; readonly prefix: Prefix6 }
  /** The client released it: remove the route (the prefix is already back in the pool). */
  | { readonly type: 'released'; readonly prefix: Prefix6 }
  | { readonly type: 'ignored'; readonly reason: string };

interface Binding {
  readonly prefix: Prefix6;
  duid: Buffer | undefined;
  iaid: number | undefined;
  committed: boolean;
}

const DEFAULT_PREFERRED = 604_800;
const DEFAULT_VALID = 2_592_000;

export class Dhcpv6Server {
  private binding: Binding | undefined;
  private readonly preferred: number;
  private readonly valid: number;

  constructor(private readonly cfg: Dhcpv6Config) {
    this.preferred = cfg.preferredLifetimeS ?? DEFAULT_PREFERRED;
    this.valid = cfg.validLifetimeS ?? DEFAULT_VALID;
  }

  /** The delegated prefix this session holds (reserved or committed). */
  get delegated(): Prefix6 | undefined {
    return this.binding?.prefix;
  }
  get committed(): boolean {
    return this.binding?.committed ?? false;
  }

  handle(raw: Buffer): Dhcpv6Event[] {
    let msg: Dhcpv6Message;
    try {
      msg = decodeMessage(raw);
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      return [{ type: 'ignored', reason: e.message }];
    }
    const clientId = find(msg, OPT.CLIENTID);
    const serverId = find(msg, OPT.SERVERID);
    // Echoed in every answer: a longer one could push the answer past the link MTU (RFC 8415 §11.1).
    if (clientId && clientId.length > MAX_DUID_LEN) return ignore(`CLIENTID of ${clientId.length} bytes (a DUID has at most ${MAX_DUID_LEN})`);
    const forUs = serverId !== undefined && serverId.equals(this.cfg.serverDuid);
    switch (msg.type) {
      case MSG.SOLICIT:
        if (!clientId || serverId) return ignore('Solicit without CLIENTID or with SERVERID');
        return this.solicit(msg, clientId);
      case MSG.REQUEST:
      case MSG.RENEW:
        if (!clientId || !forUs) return ignore(`${msg.type === MSG.REQUEST ? 'Request' : 'Renew'} not for this server`);
        return this.assign(msg, clientId, msg.type === MSG.REQUEST);
      case MSG.REBIND:
        if (!clientId || serverId) return ignore('Rebind without CLIENTID or with SERVERID');
        return this.assign(msg, clientId, false);
      case MSG.RELEASE:
        if (!clientId || !forUs) return ignore('Release not for this server');
        return this.release(msg, clientId);
      case MSG.INFORMATION_REQUEST:
        if (serverId && !forUs) return ignore('Information-Request for another server');
        return [this.reply(MSG.REPLY, msg, clientId, [])];
      case MSG.DECLINE:
        if (!clientId || !forUs) return ignore('Decline not for this server');
        return [this.reply(MSG.REPLY, msg, clientId, [statusOption(STATUS.SUCCESS, 'ok')])];
      default:
        // Confirm carries addresses we never gave; Advertise/Reply/relay messages are not for a server.
        return ignore(`message type ${msg.type} not handled`);
    }
  }

  /** The session ends: the prefix goes back to the pool (the interface and its route are gone). */
  close(): void {
    if (this.binding) this.cfg.prefixes?.release(this.binding.prefix);
    this.binding = undefined;
  }

  private solicit(msg: Dhcpv6Message, clientId: Buffer): Dhcpv6Event[] {
    const rapid = find(msg, OPT.RAPID_COMMIT) !== undefined;
    const ias = this.iaAnswers(msg, clientId, rapid);
    const extra = rapid ? [encodeOption(OPT.RAPID_COMMIT, Buffer.alloc(0))] : [encodeOption(OPT.PREFERENCE, Buffer.from([255]))];
    const events: Dhcpv6Event[] = [this.reply(rapid ? MSG.REPLY : MSG.ADVERTISE, msg, clientId, [...extra, ...ias.options])];
    if (ias.bound) events.push({ type: 'bound', prefix: ias.bound });
    return events;
  }

  private assign(msg: Dhcpv6Message, clientId: Buffer, isRequest: boolean): Dhcpv6Event[] {
    const ias = this.iaAnswers(msg, clientId, true, !isRequest);
    const events: Dhcpv6Event[] = [this.reply(MSG.REPLY, msg, clientId, ias.options)];
    if (ias.bound) events.push({ type: 'bound', prefix: ias.bound });
    return events;
  }

  private release(msg: Dhcpv6Message, clientId: Buffer): Dhcpv6Event[] {
    const options: Buffer[] = [statusOption(STATUS.SUCCESS, 'released')];
    const events: Dhcpv6Event[] = [];
    for (const ia of ias(msg)) {
      // Read per IA: a Release naming the same IA_PD twice must give the prefix back only once.
      const b = this.binding;
      if (ia.code === OPT.IA_PD && b && b.iaid === ia.iaid && b.duid?.equals(clientId)) {
        this.cfg.prefixes?.release(b.prefix);
        this.binding = undefined;
        if (b.committed) events.push({ type: 'released', prefix: b.prefix });
      } else {
        options.push(encodeOption(ia.code, Buffer.concat([u32(ia.iaid, 0, 0), statusOption(STATUS.NO_BINDING, 'no binding')])));
      }
    }
    return [this.reply(MSG.REPLY, msg, clientId, options), ...events];
  }

  /**
   * The IA options of an answer. `commit`: the prefix becomes bound (Request, Renew, Rebind, Rapid
   * Commit). `existingOnly`: Renew/Rebind may not create a binding (NoBinding instead).
   */
  private iaAnswers(msg: Dhcpv6Message, clientId: Buffer, commit: boolean, existingOnly = false): { options: Buffer[]; bound?: Prefix6 } {
    const options: Buffer[] = [];
    let bound: Prefix6 | undefined;
    let gavePd = false;
    for (const ia of ias(msg)) {
      if (ia.code !== OPT.IA_PD) {
        options.push(encodeOption(ia.code, Buffer.concat([u32(ia.iaid, 0, 0), statusOption(STATUS.NO_ADDRS_AVAIL, 'addresses come by SLAAC')])));
        continue;
      }
      const b = gavePd ? undefined : this.bindingFor(clientId, ia.iaid, existingOnly);
      if (!b) {
        const [code, text] = existingOnly ? [STATUS.NO_BINDING, 'no binding'] : [STATUS.NO_PREFIX_AVAIL, 'no prefix available'];
        options.push(encodeOption(OPT.IA_PD, Buffer.concat([u32(ia.iaid, 0, 0), statusOption(code, text)])));
        continue;
      }
      gavePd = true;
      if (commit && !b.committed) {
        b.committed = true;
        bound = b.prefix;
      }
      options.push(this.iaPd(ia.iaid, b.prefix));
    }
    return bound ? { options, bound } : { options };
  }

  /** The session's binding for (client, IAID), created from the pool unless `existingOnly`. */
  private bindingFor(clientId: Buffer, iaid: number, existingOnly: boolean): Binding | undefined {
    const b = this.binding;
    if (b) {
      const same = b.duid?.equals(clientId) && b.iaid === iaid;
      // A reservation nobody committed yet may move to another client/IAID on this link.
      if (same || (!b.committed && !existingOnly)) {
        b.duid = Buffer.from(clientId);
        b.iaid = iaid;
        return b;
      }
      return undefined;
    }
    if (existingOnly) return undefined;
    const prefix = this.cfg.prefixes?.acquire();
    if (!prefix) return undefined;
    this.binding = { prefix, duid: Buffer.from(clientId), iaid, committed: false };
    return this.binding;
  }

  private iaPd(iaid: number, p: Prefix6): Buffer {
    const iaprefix = Buffer.alloc(25);
    iaprefix.writeUInt32BE(this.preferred, 0);
    iaprefix.writeUInt32BE(this.valid, 4);
    iaprefix[8] = p.len;
    p.addr.copy(iaprefix, 9);
    const t1 = Math.floor(this.preferred * 0.5);
    const t2 = Math.floor(this.preferred * 0.8);
    return encodeOption(OPT.IA_PD, Buffer.concat([u32(iaid, t1, t2), encodeOption(OPT.IAPREFIX, iaprefix)]));
  }

  private reply(type: number, msg: Dhcpv6Message, clientId: Buffer | undefined, body: readonly Buffer[]): Dhcpv6Event {
    const opts: Buffer[] = [encodeOption(OPT.SERVERID, this.cfg.serverDuid)];
    if (clientId) opts.push(encodeOption(OPT.CLIENTID, clientId));
    opts.push(...body);
    if (this.cfg.dns.length > 0 && requested(msg, OPT.DNS_SERVERS)) opts.push(encodeOption(OPT.DNS_SERVERS, Buffer.concat([...this.cfg.dns])));
    return { type: 'reply', message: encodeMessage(type, msg.transactionId, opts) };
  }
}

function find(msg: Dhcpv6Message, code: number): Buffer | undefined {
  return msg.options.find((o) => o.code === code)?.data;
}

function ias(msg: Dhcpv6Message): IaOption[] {
  return msg.options.map(decodeIa).filter((x): x is IaOption => x !== undefined).slice(0, 8);
}

/** ORO lists option codes (2 bytes each). */
function requested(msg: Dhcpv6Message, code: number): boolean {
  const oro = find(msg, OPT.ORO);
  if (!oro) return false;
  for (let i = 0; i + 1 < oro.length; i += 2) if (oro.readUInt16BE(i) === code) return true;
  return false;
}

const ignore = (reason: string): Dhcpv6Event[] => [{ type: 'ignored', reason }];


