/**
 * Per-connection I/O around a sans-I/O Session: the TLS socket, the session's TUN device, one
 * timer re-armed to the core's next deadline, auth backend calls and the address lease. Every
 * way a session can end funnels into `teardown()`, which runs exactly once.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { AuthBackend, AuthAccept } from '../auth/backend.js';
import { monotonicNow } from '../common/time.js';
import type { Logger } from '../server/log.js';
import { batchFrame, TUN_HEADROOM, type PacketBatch } from '../dataplane/tun.js';
import { formatPrefix6 } from '../ip/ipv6-addr.js';
import { Session, type SessionAction, type SessionPolicy } from './session.js';
import { SessionNetwork, type NetworkEnv } from './network.js';
import type { SessionHandle, SessionInfo, SessionRegistry, TerminateCause } from './registry.js';
import { RecordWriter } from './record-writer.js';
import type { Shaper } from '../dataplane/shaper-api.js';
import type { RateLimit } from '../config/model.js';
import { minDeadline } from '../common/time.js';
import { addRoute } from '../dataplane/routes.js';
import type { AccountingFactory, SessionAccounting } from '../radius/accounting.js';
import type { CoaChanges } from '../radius/dae.js';
import { SessionLimits } from './limits.js';

/** What a connection takes from the configuration generation it was accepted under. */
export interface SessionEnv extends NetworkEnv {
  readonly generation: number;
  readonly policy: SessionPolicy;
  readonly auth: AuthBackend;
  readonly registry: SessionRegistry;
  readonly log: Logger;
  /** Enforces rate limits on the session interface; without one, limits are refused. */
  readonly shaper?: Shaper;
  /** RADIUS accounting, for sessions a RADIUS server authorized (absent in local mode). */
  readonly accounting?: AccountingFactory;
  /** Adds a Framed-Route through the session interface (injectable for component tests). */
  readonly addRoute?: typeof addRoute;
}

let nextSid = 1;
const sidPrefix = randomBytes(3).toString('hex');

/** Close a socket that does not finish its TLS shutdown within this time. */
const CLOSE_GRACE_MS = 2000;

export class SessionDriver implements SessionHandle {
  /** NAS-Port: this session's number since the daemon started. */
  readonly nasPort = nextSid++;
  readonly sid = `${sidPrefix}${this.nasPort.toString(16).padStart(6, '0')}`;
  private readonly core: Session;
  private readonly log: Logger;
  private timer: NodeJS.Timeout | undefined;
  private timerAt: number | undefined;
  private readonly network: SessionNetwork;
  /** The interface carries a shaper that must go before the interface does. */
  private shapedIfname: string | undefined;
  private readonly startedAt = Date.now();
  private upAt: number | undefined;
  private state: SessionInfo['state'] = 'starting';
  private tornDown = false;
  private authPending = false;
  private rateLimit: RateLimit | undefined;
  private readonly stats = { rxBytes: 0, txBytes: 0, rxPackets: 0, txPackets: 0 };
  private readonly out: RecordWriter;
  readonly callingSid: string;
  readonly calledSid: string;
  /** What the backend decided besides yes (RADIUS authorization). */
  private authz: AuthAccept | undefined;
  private limits: SessionLimits | undefined;
  private acct: SessionAccounting | undefined;
  /** The cause an operator, DAE or a limit gave, for accounting (the PPP cause is coarser). */
  private requestedCause: TerminateCause | undefined;

  /**
   * `socket` is TLS, or plain HTTP when a proxy in front terminates TLS; `peer`/`local` are the
   * client's real endpoints (from a PROXY header when one was required), not the proxy's.
   */
  constructor(
    private readonly socket: Socket,
    private readonly env: SessionEnv,
    conn: { readonly peer: { readonly address: string; readonly port: number }; readonly local: { readonly address: string } },
  ) {
    this.callingSid = conn.peer.address;
    this.calledSid = conn.local.address;
    this.log = env.log.child({ sid: this.sid });
    this.core = new Session(env.policy, randomBytes, monotonicNow(), () => new Date());
    this.core.setIpSink((packet) => this.writeTun(packet));
    this.network = new SessionNetwork(this.sid, env, this.log, {
      onPackets: (batch) => this.fromTun(batch),
      beforeClose: (ifname) => this.unshape(ifname),
      username: () => this.core.username,
    });
    env.registry.add(this);
    this.log.info({ callingSid: this.callingSid, port: conn.peer.port }, 'session-start');
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.input(() => this.core.receive(monotonicNow(), chunk)));
    socket.on('error', (err) => this.log.debug({ err: err.message }, 'socket-error'));
    socket.on('close', () => this.input(() => this.core.transportClosed(monotonicNow())));
    this.out = new RecordWriter(socket, (paused) => (paused ? this.network.tun?.pause() : this.network.tun?.resume()));
    socket.on('drain', () => this.out.drained());
    this.rearm();
  }

  info(): SessionInfo {
    return {
      sid: this.sid,
      username: this.core.username,
      ifname: this.network.tun?.name,
      ip: this.network.ipv4,
      callingSid: this.callingSid,
      state: this.state,
      startedAt: this.startedAt,
      upAt: this.upAt,
      ...this.stats,
      generation: this.env.generation,
      rateLimit: this.rateLimit,
      nasPort: this.nasPort,
      calledSid: this.calledSid,
      ip6: this.network.ipv6Prefix ? formatPrefix6(this.network.ipv6Prefix) : undefined,
      ip6Dp: this.network.delegatedPrefix ? formatPrefix6(this.network.delegatedPrefix) : undefined,
      drops: { ...this.core.drops },
    };
  }

  async setRateLimit(limit: RateLimit | undefined): Promise<void> {
    if (!this.env.shaper) throw new Error('rate limits are not available: no shaper configured');
    this.rateLimit = limit;
    const tun = this.network.tun;
    if (tun) {
      this.shapedIfname = tun.name;
      await this.env.shaper.apply(tun.name, limit);
    }
    this.log.info({ username: this.core.username, rateLimit: limit ? `${limit.downloadKbit}/${limit.uploadKbit}` : 'none' }, 'rate-limit');
  }

  /** RADIUS CoA: the rate limit first (it may fail), then the rest; nothing changes on failure. */
  async reauthorize(c: CoaChanges): Promise<void> {
    if (c.rateLimit !== undefined) await this.setRateLimit(c.rateLimit);
    const now = monotonicNow();
    if (c.sessionTimeoutS !== undefined || c.idleTimeoutS !== undefined) {
      const limits = { ...(c.sessionTimeoutS !== undefined ? { sessionTimeoutS: c.sessionTimeoutS } : {}), ...(c.idleTimeoutS !== undefined ? { idleTimeoutS: c.idleTimeoutS } : {}) };
      if (this.limits) this.limits.set(now, limits, this.dataPackets());
      else this.limits = new SessionLimits(now, limits, this.dataPackets());
      this.rearm();
    }
    if (c.interimIntervalS !== undefined) this.acct?.setInterim(c.interimIntervalS);
    if (c.classes !== undefined) this.acct?.setClasses(c.classes);
    this.log.info({ username: this.core.username, ...coaFields(c) }, 'coa-applied');
  }

  terminate(cause: TerminateCause, reason: string): Promise<void> {
    this.requestedCause ??= cause;
    const pppCause = cause === 'session-replaced' || cause === 'nas-reboot' ? 'admin-reset' : cause;
    this.log.info({ username: this.core.username, cause, reason }, 'session-terminate');
    this.input(() => this.core.terminate(monotonicNow(), pppCause, reason));
    // The Accounting-Stop goes now, not after the goodbye: a shutdown waits for it.
    void this.acct?.stop(this.requestedCause);
    // Resources go now; the wire goodbye (LCP Terminate, Call Disconnect) finishes on its own.
    return this.releaseResources();
  }

  /** Runs one input against the core, then executes what it asked for and re-arms the timer. */
  private input(fn: () => void): void {
    try {
      fn();
      this.execute(this.core.poll());
    } catch (err) {
      // A bug, not a peer error (cores never throw for bad input): end this session only.
      this.log.error({ err: err instanceof Error ? err.stack : String(err), username: this.core.username }, 'session-bug');
      this.teardown('nas-error', 'internal error');
      this.socket.destroy();
    }
    this.rearm();
  }

  private execute(actions: SessionAction[]): void {
    const sends: Buffer[] = [];
    for (const a of actions) {
      switch (a.type) {
        case 'send':
          sends.push(a.bytes);
          break;
        case 'ip':
          this.writeTun(a.packet);
          break;
        case 'authenticate':
          this.authenticate(a);
          break;
        case 'authenticated':
          this.onAuthenticated(a.result);
          break;
        case 'auth-failed':
          this.log.warn({ username: a.username, reason: a.reason, callingSid: this.callingSid }, 'auth-failed');
          break;
        case 'link-up':
          this.linkUp(a.local, a.peer, a.mtu);
          break;
        case 'ipv6-up':
          this.ipv6Up(a.local, a.prefix, a.mtu);
          break;
        case 'route6':
          this.network.route6(a.op, a.prefix);
          break;
        case 'ipv6-released':
          this.network.releaseIpv6();
          break;
        case 'link-down':
          void this.network.close();
          break;
        case 'close':
          this.out.write(sends.splice(0));
          this.closeSocket();
          break;
        case 'ended':
          this.teardown(a.cause, a.reason);
          break;
        case 'log':
          this.log[a.level]({ username: this.core.username, ...a.fields }, a.event);
          break;
      }
    }
    // Sent in order after the rest (socket closing aside: 'close' ends the socket after its writes).
    if (sends.length > 0) this.out.write(sends);
  }

  private authenticate(a: Extract<SessionAction, { type: 'authenticate' }>): void {
    if (this.authPending) return;
    this.authPending = true;
    const ctx = { sessionId: this.sid, callingStationId: this.callingSid, calledStationId: this.calledSid, nasPort: this.nasPort };
    this.env.auth
      .authenticate(a.request, this.network.tun ? { ...ctx, nasPortId: this.network.tun.name } : ctx)
      .then(
        (result) => {
          this.authPending = false;
          if (!this.tornDown) this.input(() => this.core.authResult(monotonicNow(), result));
        },
        (err: unknown) => {
          this.authPending = false;
          this.log.error({ err: String(err) }, 'auth-backend-error');
          if (!this.tornDown) this.terminate('admin-reset', 'authentication backend error');
        },
      );
  }

  private onAuthenticated(result: AuthAccept): void {
    const replaced = this.env.registry.bindUser(this.sid, result.username).map((old) => {
      this.log.info({ username: result.username, replaced: old.sid }, 'session-replaced');
      return old.terminate('session-replaced', `replaced by session ${this.sid}`);
    });
    // IPCP waits for the address; the old session's interface and lease must be gone first so the
    // same (static) address and its peer route can be reused without a clash.
    if (replaced.length === 0) return this.assignAddress(result);
    void Promise.all(replaced).then(() => {
      if (!this.tornDown) this.input(() => this.assignAddress(result));
    });
  }

  private assignAddress(result: AuthAccept): void {
    this.authz = result;
    // LCP renegotiation re-runs authentication: keep what this session already holds.
    const held = this.network.addresses;
    if (held) return this.core.networkAssigned(monotonicNow(), held);
    const given = this.network.lease(result);
    if ('error' in given) {
      this.input(() => this.core.terminate(monotonicNow(), 'nas-error', given.error));
      return;
    }
    this.rateLimit = result.rateLimit;
    const ip6 = given.ipv6Prefix ? { ipv6Prefix: formatPrefix6(given.ipv6Prefix) } : {};
    this.log.info({ username: result.username, ip: given.ipv4, ...ip6 }, 'authenticated');
    this.core.networkAssigned(monotonicNow(), given);
  }

  private linkUp(local: string, peer: string, mtu: number): void {
    if (!this.ensureTun(mtu)) return;
    try {
      this.network.configureIpv4(local, peer, mtu);
    } catch (err) {
      this.interfaceFailed(err);
      return;
    }
    this.authorizedUp(this.network.tun!.name, peer);
  }

  private ipv6Up(linkLocal: string, prefix: string, mtu: number): void {
    if (this.ensureTun(mtu)) this.network.ipv6Up(linkLocal, prefix);
  }

  /**
   * The session interface, created when the first network protocol opens: MTU, up, and for an
   * IPv6 session the IPv6 settings first. False (and the session ends) when it cannot be made.
   */
  private ensureTun(mtu: number): boolean {
    if (this.network.tun) return true;
    let ifname: string;
    try {
      ifname = this.network.open(mtu).name;
    } catch (err) {
      this.interfaceFailed(err);
      return false;
    }
    this.state = 'active';
    this.upAt = Date.now();
    if (this.rateLimit) this.applyRateLimit(ifname, this.rateLimit);
    const prefix = this.network.ipv6Prefix;
    const ip6 = prefix ? { ipv6Prefix: formatPrefix6(prefix) } : {};
    this.log.info({ username: this.core.username, ifname, ip: this.network.ipv4, ...ip6, gateway: this.env.policy.gateway, mtu }, 'session-up');
    return true;
  }

  /** What the backend's authorization asks for once the link is up: routes, limits, accounting. */
  private authorizedUp(ifname: string, peer: string): void {
    const a = this.authz;
    if (!a) return;
    const add = this.env.addRoute ?? addRoute;
    for (const r of a.routes ?? []) {
      add(ifname, r).then(
        () => this.log.info({ username: a.username, route: r.prefix, ifname }, 'route-added'),
        (err: unknown) => this.log.warn({ username: a.username, route: r.prefix, err: String(err) }, 'route-failed'),
      );
    }
    if (a.sessionTimeoutS !== undefined || a.idleTimeoutS !== undefined) {
      this.limits = new SessionLimits(monotonicNow(), { ...(a.sessionTimeoutS ? { sessionTimeoutS: a.sessionTimeoutS } : {}), ...(a.idleTimeoutS ? { idleTimeoutS: a.idleTimeoutS } : {}) }, this.dataPackets());
    }
    if (a.accounting && this.env.accounting && !this.acct) {
      this.acct = this.env.accounting({
        counters: () => this.stats,
        onFailure: (reason) => {
          if (!this.tornDown) void this.terminate('nas-error', reason);
        },
        log: (level, event, fields) => this.log[level](fields, event),
      });
      this.acct.start(
        {
          sid: this.sid,
          username: a.username,
          nasPort: this.nasPort,
          ifname,
          framedIp: peer,
          callingStationId: this.callingSid,
          calledStationId: this.calledSid,
          ...(a.classes ? { classes: a.classes } : {}),
        },
        a.interimIntervalS,
      );
    }
  }

  private dataPackets(): number {
    return this.stats.rxPackets + this.stats.txPackets;
  }

  /** Session-/Idle-Timeout ran out: end the session with that cause. */
  private checkLimits(now: number): void {
    const cause = this.limits?.check(now, this.dataPackets());
    if (!cause) return;
    this.limits = undefined;
    this.requestedCause ??= cause;
    this.log.info({ username: this.core.username, cause }, 'session-limit');
    this.core.terminate(now, cause, cause === 'session-timeout' ? 'Session-Timeout reached' : 'Idle-Timeout reached');
  }

  private interfaceFailed(err: unknown): void {
    this.log.error({ username: this.core.username, err: String(err) }, 'interface-failed');
    this.input(() => this.core.terminate(monotonicNow(), 'nas-error', 'cannot create the session interface'));
  }

  /**
   * Packets the host routes to this client, IPv4 and IPv6. The session core writes the SSTP and
   * PPP headers into the 8 bytes of headroom in front of each packet (or encrypts it with MPPE)
   * and returns one copy to write (the slab is reused for the next batch while the socket may
   * still hold the buffer). TCP back-pressure pauses the TUN reader until 'drain'.
   */
  private fromTun(batch: PacketBatch): void {
    if (this.socket.destroyed) return;
    const packets: Buffer[] = [];
    try {
      for (let i = 0; i < batch.count; i++) {
        const frame = batchFrame(batch, i);
        const out = this.core.encodeOutbound(frame);
        if (!out) continue;
        this.stats.txPackets++;
        this.stats.txBytes += frame.length - TUN_HEADROOM;
        packets.push(out);
      }
    } catch (err) {
      // Called from the TUN poller, outside input(): a bug here must end this session only.
      this.log.error({ err: err instanceof Error ? err.stack : String(err), username: this.core.username }, 'session-bug');
      this.teardown('nas-error', 'internal error');
      this.socket.destroy();
      return;
    }
    if (packets.length > 0) this.out.write(packets);
  }

  private writeTun(packet: Buffer): void {
    const tun = this.network.tun;
    if (!tun) return;
    this.stats.rxPackets++;
    this.stats.rxBytes += packet.length;
    tun.write(packet);
  }

  /** A limit the session was authorized with must hold before traffic flows; if it cannot, end it. */
  private applyRateLimit(ifname: string, limit: RateLimit): void {
    const shaper = this.env.shaper;
    if (!shaper) {
      this.log.error({ username: this.core.username }, 'rate-limit-unavailable');
      this.input(() => this.core.terminate(monotonicNow(), 'nas-error', 'rate limit cannot be enforced'));
      return;
    }
    this.shapedIfname = ifname;
    shaper.apply(ifname, limit).catch((err: unknown) => {
      this.log.error({ username: this.core.username, err: String(err) }, 'rate-limit-failed');
      if (!this.tornDown) this.input(() => this.core.terminate(monotonicNow(), 'nas-error', 'rate limit cannot be enforced'));
    });
  }

  /** The shaper's helper device (ifb) goes first, while the interface name is still ours. */
  private unshape(ifname: string): Promise<void> {
    const shaper = this.env.shaper;
    const shaped = shaper && this.shapedIfname === ifname;
    this.shapedIfname = undefined;
    if (!shaped) return Promise.resolve();
    return shaper.apply(ifname, undefined).catch((err: unknown) => this.log.warn({ ifname, err: String(err) }, 'rate-limit-remove-failed'));
  }

  private closeSocket(): void {
    if (this.socket.destroyed) return;
    this.out.end();
    setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  /** Idempotent; resolves once the interface is gone and the address is free again. */
  private releaseResources(): Promise<void> {
    this.state = 'finishing';
    this.env.registry.remove(this.sid, this.core.username);
    return this.network.release();
  }

  private teardown(cause: string, reason: string): void {
    if (this.tornDown) return;
    this.tornDown = true;
    void this.releaseResources();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const durationS = Math.round((Date.now() - this.startedAt) / 1000);
    const dropped = Object.values(this.core.drops).reduce((a, b) => a + b, 0);
    this.log.info({ username: this.core.username, ip: this.network.ipv4, cause, reason, durationS, ...this.stats, ...(dropped > 0 ? { drops: { ...this.core.drops } } : {}) }, 'session-down');
    void this.acct?.stop(this.requestedCause ?? cause);
  }

  private rearm(): void {
    if (this.tornDown) return;
    const at = minDeadline(this.core.nextDeadline(), this.limits?.nextDeadline());
    // A later deadline (traffic pushed the hello/echo timers out) keeps the armed timer: it fires
    // early, finds nothing due and re-arms. Saves a clearTimeout + setTimeout per received chunk.
    if (at === this.timerAt || (at !== undefined && this.timerAt !== undefined && at > this.timerAt)) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = at;
    if (at === undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = undefined;
      this.input(() => {
        const now = monotonicNow();
        this.core.handleTimeout(now);
        this.checkLimits(now);
      });
    }, Math.max(0, at - monotonicNow()));
  }
}

function coaFields(c: CoaChanges): Record<string, string | number> {
  const f: Record<string, string | number> = {};
  if (c.rateLimit) f['rateLimit'] = `${c.rateLimit.downloadKbit}/${c.rateLimit.uploadKbit}`;
  if (c.sessionTimeoutS !== undefined) f['sessionTimeoutS'] = c.sessionTimeoutS;
  if (c.idleTimeoutS !== undefined) f['idleTimeoutS'] = c.idleTimeoutS;
  if (c.interimIntervalS !== undefined) f['interimIntervalS'] = c.interimIntervalS;
  return f;
}
