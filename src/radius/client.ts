/**
 * The RADIUS client as a sans-I/O core: the retry and failover table of accel-ppp's `[radius]`
 * (radius.md §9) and the reply checks BlastRADIUS asks for. Requests go in, datagrams and verdicts
 * come out of `poll()`; `now` is an argument and deadlines are reported, never slept on
 * (`udp.ts` is the socket edge).
 *
 * - A request sticks to one server for `maxTry` attempts, `timeoutMs` apart; then it moves to the
 *   next server it has not tried. When none is left it fails.
 * - Which server (accel-ppp radius/serv.c): among those not failed, a non-backup one before any
 *   `backup`; among those, the one with the least load per unit of `weight` (VyOS `priority`,
 *   default 1); ties go to the first configured. Load = requests in flight plus the sessions whose
 *   accounting the server holds (accel-ppp keeps a session's accounting request, and so its
 *   client count, on one server until the Stop). A session's requests go to its server first.
 *   Failed servers only when no other is left.
 * - A server whose request ran out of attempts is dead for its `failTimeS` (0 = never): new
 *   requests skip it while another server is alive, and try it again once the time is up.
 * - A retransmission to the same server reuses the same bytes. A new server is a new packet (new
 *   Identifier; for Access-Request a fresh Request Authenticator and User-Password hiding).
 *   Accounting carries Acct-Delay-Time, so each retry is a new packet with the delay so far.
 * - A reply counts only if it comes from the address and port the request went to, has the
 *   request's Identifier and a fitting code, its Response Authenticator is right, and its
 *   Message-Authenticator is right when present. Access replies must carry one when the server is
 *   `always`, or (`auto`) once that server has sent one. Anything else is dropped and logged.
 */
import { ATTR } from './attributes.js';
import {
  AUTH_LEN,
  CODE,
  attr,
  decodePacket,
  hidePassword,
  intAttr,
  maPlaceholder,
  sealAccessRequest,
  sealComputedRequest,
  verifyResponse,
  type RadiusAttribute,
  type RadiusPacket,
} from './packet.js';
import { DecodeError, SstpdError } from '../common/errors.js';
import type { Millis } from '../common/time.js';

export type RadiusRole = 'auth' | 'acct';
export type MaPolicy = 'auto' | 'always';

export interface RadiusServer {
  readonly address: string;
  readonly authPort: number;
  readonly acctPort: number;
  readonly secret: Buffer;
  /** Seconds a server stays skipped after it failed a request; 0 = never skipped. */
  readonly failTimeS: number;
  readonly requireMessageAuthenticator: MaPolicy;
  /** accel-ppp `weight` (VyOS `priority`, 1-255): the share of requests it takes; default 1. */
  readonly weight?: number;
  /** accel-ppp `backup`: asked only when no non-backup server is left for the request. */
  readonly backup?: boolean;
}

export interface RadiusClientConfig {
  /** Enabled servers, in configuration order. */
  readonly servers: readonly RadiusServer[];
  readonly timeoutMs: number;
  readonly maxTry: number;
}

/** One attribute of a request; `hide` marks User-Password, hidden anew for every packet. */
export interface RequestAttribute extends RadiusAttribute {
  readonly hide?: boolean;
}

export interface RadiusRequest {
  readonly role: RadiusRole;
  readonly code: typeof CODE.ACCESS_REQUEST | typeof CODE.ACCOUNTING_REQUEST;
  readonly attributes: readonly RequestAttribute[];
  /** Give up at this time even if servers are left (accounting's acct-timeout). */
  readonly deadline?: Millis;
  /**
   * Only this server (address), no failover, and its silence does not start its fail-time: for
   * NAS-wide notices every server must get on its own (Accounting-On/Off).
   */
  readonly server?: string;
  /**
   * The session a request is for (its accounting). Once a server answered one of its requests the
   * session counts against that server (accel-ppp's client count, what `weight` divides) and its
   * later requests go there first while it is alive; `ends` (the Stop) lets it go, answered or not.
   */
  readonly session?: { readonly id: string; readonly ends?: boolean };
}

export type RadiusOutcome =
  | {
      readonly ok: true;
      readonly reply: RadiusPacket;
      /** What the reply's hidden attributes (MPPE keys) are keyed on. */
      readonly requestAuthenticator: Buffer;
      readonly secret: Buffer;
      readonly server: string;
    }
  | { readonly ok: false; readonly reason: string };

export type ClientOutput =
  | { readonly type: 'send'; readonly address: string; readonly port: number; readonly bytes: Buffer }
  | { readonly type: 'done'; readonly handle: number; readonly outcome: RadiusOutcome }
  | { readonly type: 'log'; readonly level: 'debug' | 'info' | 'warn'; readonly event: string; readonly fields: Record<string, string | number> };

/** Most requests in flight or waiting for an Identifier; beyond it a request fails at once. */
export const MAX_PENDING = 8192;

const REPLY_CODES: Readonly<Record<number, readonly number[]>> = {
  [CODE.ACCESS_REQUEST]: [CODE.ACCESS_ACCEPT, CODE.ACCESS_REJECT, CODE.ACCESS_CHALLENGE],
  [CODE.ACCOUNTING_REQUEST]: [CODE.ACCOUNTING_RESPONSE],
};

interface ServerState {
  deadUntil: Millis;
  /** `auto`: the server has sent a Message-Authenticator in an Access reply. */
  maSeen: boolean;
}

/** What happened with one server since start (metrics): counts only ever grow. */
export interface RadiusServerStats {
  /** First transmissions (a request's first try on this server). */
  requests: number;
  retransmits: number;
  /** Valid replies taken. */
  replies: number;
  /** A request ran out of max-try on this server. */
  timeouts: number;
  /** A request moved from this server to the next one after a timeout. */
  failovers: number;
  /** Replies dropped (forged, wrong secret, unknown Identifier, missing Message-Authenticator). */
  dropped: number;
}

/** 8-bit Identifiers of one destination (RFC 2865 §3: unique per source, destination). */
class IdSpace {
  private readonly used = new Set<number>();
  private next: number;
  constructor(start: number) {
    this.next = start & 0xff;
  }
  take(): number | undefined {
    if (this.used.size >= 256) return undefined;
    while (this.used.has(this.next)) this.next = (this.next + 1) & 0xff;
    const id = this.next;
    this.used.add(id);
    this.next = (id + 1) & 0xff;
    return id;
  }
  free(id: number): void {
    this.used.delete(id);
  }
  get size(): number {
    return this.used.size;
  }
}

interface Attempt {
  readonly server: RadiusServer;
  readonly port: number;
  readonly id: number;
  readonly bytes: Buffer;
  readonly authenticator: Buffer;
  readonly delayS: number;
}

interface Pending {
  readonly handle: number;
  readonly req: RadiusRequest;
  readonly servers: readonly RadiusServer[];
  readonly firstAt: Millis;
  readonly tried: Set<string>;
  attempt: Attempt | undefined;
  tries: number;
  retryAt: Millis | undefined;
}

const key = (address: string, port: number): string => `${address}:${port}`;

export class RadiusClientCore {
  private config: RadiusClientConfig;
  private readonly state = new Map<string, ServerState>();
  /** Per server address, for metrics; kept across reconfigurations (counters never go back). */
  readonly stats = new Map<string, RadiusServerStats>();
  private readonly ids = new Map<string, IdSpace>();
  private readonly pending = new Map<number, Pending>();
  /** By destination and Identifier, for replies. */
  private readonly inFlight = new Map<string, Pending>();
  /**
   * Session requests in flight per server address: accel-ppp's client count, what `weight` divides.
   * NAS-wide notices sent to every server (Accounting-On/Off) do not count, as in accel-ppp.
   */
  private readonly load = new Map<string, number>();
  /** Session → the server holding its accounting, and how many sessions each server holds. */
  private readonly sessions = new Map<string, string>();
  private readonly held = new Map<string, number>();
  /** Waiting for a free Identifier towards their server. */
  private readonly waiting: Pending[] = [];
  private readonly out: ClientOutput[] = [];
  private nextHandle = 1;
  /** The latest `now` seen, for work that a completion starts (a waiting request's turn). */
  private lastNow: Millis = 0;

  constructor(config: RadiusClientConfig, private readonly random: (n: number) => Buffer) {
    this.config = config;
  }

  /** New requests use the new servers and timers; requests under way finish on their own. */
  reconfigure(config: RadiusClientConfig): void {
    this.config = config;
  }

  get outstanding(): number {
    return this.pending.size;
  }

  submit(now: Millis, req: RadiusRequest): number {
    this.lastNow = now;
    const handle = this.nextHandle++;
    if (this.pending.size >= MAX_PENDING) {
      this.out.push({ type: 'done', handle, outcome: { ok: false, reason: 'too many RADIUS requests outstanding' } });
      return handle;
    }
    const servers = req.server === undefined ? this.config.servers : this.config.servers.filter((s) => s.address === req.server);
    const p: Pending = { handle, req, servers, firstAt: now, tried: new Set(), attempt: undefined, tries: 0, retryAt: undefined };
    this.pending.set(handle, p);
    this.moveOn(now, p, undefined);
    return handle;
  }

  /** Drops a request whose answer nobody wants any more (its session ended). */
  cancel(handle: number): void {
    const p = this.pending.get(handle);
    if (p) this.finish(p, undefined);
  }

  receive(now: Millis, from: { address: string; port: number }, data: Buffer): void {
    this.lastNow = now;
    const id = data.length >= 2 ? data[1]! : -1;
    const p = this.inFlight.get(`${key(from.address, from.port)}#${id}`);
    if (!p || !p.attempt) return this.drop(from, 'no request is waiting for this reply', id, 'debug');
    const a = p.attempt;
    let reply: RadiusPacket;
    try {
      reply = decodePacket(data);
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      return this.drop(from, e.message, id);
    }
    if (!REPLY_CODES[p.req.code]!.includes(reply.code)) return this.drop(from, `code ${reply.code} does not answer code ${p.req.code}`, id);
    const v = verifyResponse(data, a.authenticator, a.server.secret);
    if (!v.authenticator) return this.drop(from, 'wrong Response Authenticator (shared secret?)', id);
    if (v.messageAuthenticator === 'invalid') return this.drop(from, 'wrong Message-Authenticator', id);
    const st = this.serverState(a.server);
    if (p.req.code === CODE.ACCESS_REQUEST) {
      const required = a.server.requireMessageAuthenticator === 'always' || st.maSeen;
      if (v.messageAuthenticator === 'absent' && required) return this.drop(from, 'Message-Authenticator missing', id);
      if (v.messageAuthenticator === 'valid' && !st.maSeen) {
        st.maSeen = true;
        this.log('info', 'radius-ma-required', { server: a.server.address, why: 'the server sends Message-Authenticator' });
      }
    }
    st.deadUntil = 0;
    this.serverStats(a.server.address).replies++;
    const session = p.req.session;
    if (session && !session.ends) this.hold(session.id, a.server.address);
    this.finish(p, { ok: true, reply, requestAuthenticator: a.authenticator, secret: a.server.secret, server: a.server.address });
  }

  handleTimeout(now: Millis): void {
    this.lastNow = now;
    for (const p of [...this.pending.values()]) {
      if (!this.pending.has(p.handle)) continue; // finished meanwhile (a waiting request's turn came)
      if (p.req.deadline !== undefined && now >= p.req.deadline) {
        this.finish(p, { ok: false, reason: `no answer within ${Math.round((p.req.deadline - p.firstAt) / 1000)} s` });
        continue;
      }
      if (p.retryAt === undefined || now < p.retryAt || !p.attempt) continue;
      if (p.tries < this.config.maxTry) this.retransmit(now, p);
      else this.serverFailed(now, p);
    }
  }

  nextDeadline(): Millis | undefined {
    let min: Millis | undefined;
    for (const p of this.pending.values()) {
      for (const d of [p.retryAt, p.req.deadline]) if (d !== undefined && (min === undefined || d < min)) min = d;
    }
    return min;
  }

  poll(): ClientOutput[] {
    return this.out.splice(0, this.out.length);
  }

  // ---- internals ----

  private serverState(s: RadiusServer): ServerState {
    const k = s.address;
    let st = this.state.get(k);
    if (!st) this.state.set(k, (st = { deadUntil: 0, maSeen: false }));
    return st;
  }

  /** The next server for this request (see the rules above): alive ones first, dead ones when none is alive. */
  private pickServer(now: Millis, p: Pending): RadiusServer | undefined {
    const left = p.servers.filter((s) => !p.tried.has(s.address) && this.portOf(s, p.req.role) > 0);
    const alive = left.filter((s) => this.serverState(s).deadUntil <= now);
    const own = p.req.session ? this.sessions.get(p.req.session.id) : undefined;
    const home = own === undefined ? undefined : alive.find((s) => s.address === own);
    return home ?? chooseServer(alive.length > 0 ? alive : left, (s) => (this.load.get(s.address) ?? 0) + (this.held.get(s.address) ?? 0));
  }

  private serverStats(address: string): RadiusServerStats {
    let s = this.stats.get(address);
    if (!s) this.stats.set(address, (s = { requests: 0, retransmits: 0, replies: 0, timeouts: 0, failovers: 0, dropped: 0 }));
    return s;
  }

  private portOf(s: RadiusServer, role: RadiusRole): number {
    return role === 'auth' ? s.authPort : s.acctPort;
  }

  private moveOn(now: Millis, p: Pending, failed: RadiusServer | undefined): void {
    const server = this.pickServer(now, p);
    if (!server) {
      const reason = failed ? 'no RADIUS server answered' : 'no RADIUS server configured for this request';
      return this.finish(p, { ok: false, reason });
    }
    p.tried.add(server.address);
    p.tries = 0;
    this.send(now, p, server);
  }

  private send(now: Millis, p: Pending, server: RadiusServer): void {
    const port = this.portOf(server, p.req.role);
    const dest = key(server.address, port);
    let space = this.ids.get(dest);
    if (!space) this.ids.set(dest, (space = new IdSpace(this.random(1)[0]!)));
    const id = space.take();
    if (id === undefined) {
      // 256 requests already outstanding towards this server: wait for one to finish.
      p.attempt = undefined;
      p.retryAt = undefined;
      p.tried.delete(server.address);
      this.waiting.push(p);
      return;
    }
    const delayS = Math.floor((now - p.firstAt) / 1000);
    let encoded: { bytes: Buffer; authenticator: Buffer };
    try {
      encoded = this.encode(p.req, server.secret, id, delayS);
    } catch (e) {
      // A value the peer chose that RADIUS cannot carry (a 300-byte user name, a 200-byte PAP
      // password): no server could answer it, so the request fails rather than throwing at the caller.
      if (!(e instanceof SstpdError) || e.code !== 'E_RADIUS_ENCODE') throw e;
      space.free(id);
      this.finish(p, { ok: false, reason: `request cannot be encoded: ${e.message}` });
      return this.wakeWaiting();
    }
    const { bytes, authenticator } = encoded;
    p.attempt = { server, port, id, bytes, authenticator, delayS };
    this.inFlight.set(`${dest}#${id}`, p);
    if (p.req.server === undefined) this.load.set(server.address, (this.load.get(server.address) ?? 0) + 1);
    this.transmit(now, p);
  }

  private transmit(now: Millis, p: Pending): void {
    const a = p.attempt!;
    p.tries++;
    p.retryAt = now + this.config.timeoutMs;
    const stats = this.serverStats(a.server.address);
    if (p.tries > 1) stats.retransmits++;
    else stats.requests++;
    this.out.push({ type: 'send', address: a.server.address, port: a.port, bytes: a.bytes });
    this.log('debug', p.tries > 1 ? 'radius-retransmit' : 'radius-send', { server: a.server.address, port: a.port, code: p.req.code, id: a.id, try: p.tries });
  }

  private retransmit(now: Millis, p: Pending): void {
    const a = p.attempt!;
    // Accounting: the delay changed, so this is a new packet (RFC 2866 §5.2: new Identifier).
    if (p.req.code === CODE.ACCOUNTING_REQUEST && Math.floor((now - p.firstAt) / 1000) !== a.delayS) {
      const tries = p.tries;
      this.release(p);
      this.send(now, p, a.server);
      if (p.attempt) p.tries = tries + 1;
      return;
    }
    this.transmit(now, p);
  }

  private serverFailed(now: Millis, p: Pending): void {
    const a = p.attempt!;
    const st = this.serverState(a.server);
    if (a.server.failTimeS > 0 && p.req.server === undefined) st.deadUntil = now + a.server.failTimeS * 1000;
    const stats = this.serverStats(a.server.address);
    stats.timeouts++;
    if (this.pickServer(now, p) !== undefined) stats.failovers++;
    this.log('warn', 'radius-server-timeout', {
      server: a.server.address,
      port: a.port,
      tries: p.tries,
      ...(a.server.failTimeS > 0 ? { skippedForS: a.server.failTimeS } : {}),
    });
    this.release(p);
    this.moveOn(now, p, a.server);
  }

  private encode(req: RadiusRequest, secret: Buffer, id: number, delayS: number): { bytes: Buffer; authenticator: Buffer } {
    if (req.code === CODE.ACCESS_REQUEST) {
      const authenticator = this.random(AUTH_LEN);
      const attributes = [maPlaceholder(), ...req.attributes.map((a) => (a.hide ? attr(a.type, hidePassword(a.value, secret, authenticator)) : a))];
      return { bytes: sealAccessRequest({ code: req.code, identifier: id, authenticator, attributes }, secret), authenticator };
    }
    const attributes = [...req.attributes, intAttr(ATTR.ACCT_DELAY_TIME, delayS)];
    const bytes = sealComputedRequest({ code: req.code, identifier: id, attributes }, secret);
    return { bytes, authenticator: Buffer.from(bytes.subarray(4, 20)) };
  }

  private release(p: Pending): void {
    const a = p.attempt;
    if (!a) return;
    const dest = key(a.server.address, a.port);
    this.inFlight.delete(`${dest}#${a.id}`);
    this.ids.get(dest)?.free(a.id);
    if (p.req.server === undefined) {
      const n = (this.load.get(a.server.address) ?? 1) - 1;
      if (n > 0) this.load.set(a.server.address, n);
      else this.load.delete(a.server.address);
    }
    p.attempt = undefined;
    p.retryAt = undefined;
    this.wakeWaiting();
  }

  private wakeWaiting(): void {
    const w = this.waiting.shift();
    if (w && this.pending.has(w.handle)) this.moveOn(this.lastNow, w, undefined);
  }

  private finish(p: Pending, outcome: RadiusOutcome | undefined): void {
    if (!this.pending.delete(p.handle)) return; // once only
    if (p.req.session?.ends) this.hold(p.req.session.id, undefined);
    const i = this.waiting.indexOf(p);
    if (i >= 0) this.waiting.splice(i, 1);
    this.release(p);
    if (outcome) this.out.push({ type: 'done', handle: p.handle, outcome });
  }

  /** Moves a session's accounting to `address` (undefined: it holds none any more). */
  private hold(id: string, address: string | undefined): void {
    const before = this.sessions.get(id);
    if (before === address) return;
    if (before !== undefined) {
      const n = (this.held.get(before) ?? 1) - 1;
      if (n > 0) this.held.set(before, n);
      else this.held.delete(before);
    }
    if (address === undefined) {
      this.sessions.delete(id);
      return;
    }
    this.sessions.set(id, address);
    this.held.set(address, (this.held.get(address) ?? 0) + 1);
  }

  private drop(from: { address: string; port: number }, reason: string, id: number, level: 'debug' | 'warn' = 'warn'): void {
    // Only configured servers get a row: anyone can send UDP from any address (bounded labels).
    if (this.config.servers.some((sv) => sv.address === from.address)) this.serverStats(from.address).dropped++;
    this.log(level, 'radius-reply-dropped', { from: key(from.address, from.port), id, reason });
  }

  private log(level: 'debug' | 'info' | 'warn', event: string, fields: Record<string, string | number>): void {
    this.out.push({ type: 'log', level, event, fields });
  }
}

/**
 * accel-ppp's choice among candidate servers: non-backup before backup, then the lowest load per
 * weight (load × other's weight < other's load × weight), the first configured on a tie.
 */
export function chooseServer(candidates: readonly RadiusServer[], load: (s: RadiusServer) => number): RadiusServer | undefined {
  let best: RadiusServer | undefined;
  for (const s of candidates) {
    if (best === undefined) {
      best = s;
      continue;
    }
    const backupFirst = Number(s.backup ?? false) - Number(best.backup ?? false);
    if (backupFirst < 0 || (backupFirst === 0 && load(s) * (best.weight ?? 1) < load(best) * (s.weight ?? 1))) best = s;
  }
  return best;
}

/** What the backends need of a RADIUS client: one request, one outcome (udp.ts implements it). */
export interface RadiusTransport {
  request(req: RadiusRequest): Promise<RadiusOutcome>;
}
