/**
 * Per-connection I/O around a sans-I/O Session: the client socket and its record writer, one timer
 * re-armed to the core's next deadline, the TUN data path, auth backend calls, and the core's
 * actions turned into calls on the session's network (src/session/network.ts) and lifecycle events
 * for its features (src/session/lifecycle.ts). Every way a session can end funnels into
 * `teardown()`, which runs exactly once.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { AuthBackend, AuthAccept } from '../auth/backend.js';
import { monotonicNow } from '../common/time.js';
import { DeadlineTimer } from '../common/io/deadline-timer.js';
import type { Logger } from '../common/log.js';
import { boundTcpQueues } from '../dataplane/tcp-queue.js';
import { readBudget } from '../dataplane/read-budget.js';
import type { PacketBatch } from '../dataplane/tun.js';
import { formatPrefix6 } from '../ip/ipv6-addr.js';
import { peerIidFor } from '../ppp/ipv6cp/iid.js';
import { LiveFacts } from './facts.js';
import { Session, type SessionAction, type SessionPolicy } from './session.js';
import { SessionNetwork, type NetworkEnv } from './network.js';
import { changeFields, SessionLifecycle, type SessionChange, type SessionContext, type SubscriberFactory } from './lifecycle.js';
import type { SessionHandle, SessionInfo, SessionRegistry, TerminateCause } from './registry.js';
import { OutboundPath } from './outbound.js';
import { RecordWriter } from './record-writer.js';
import type { RateLimit } from '../config/model.js';
import type { CoaChanges } from '../radius/dae.js';
import { formatSessionId, sessionIdBoot } from '../radius/session-id.js';

/** What a connection takes from the configuration generation it was accepted under. */
export interface SessionEnv extends NetworkEnv {
  readonly generation: number;
  readonly policy: SessionPolicy;
  readonly auth: AuthBackend;
  readonly registry: SessionRegistry;
  readonly log: Logger;
  /** The features every session runs (rate limit, routes, timeouts, accounting, …), in call order. */
  readonly features: readonly SubscriberFactory[];
  /** Who we are to RADIUS, in session ids (src/radius/session-id.ts); '' or absent without RADIUS. */
  readonly sidNode?: string;
  /** Worker processes: the state the primary keeps for all of them (absent in a single process). */
  readonly shared?: SharedSessionState;
}

/**
 * What a worker's sessions ask of the primary process (src/server/worker.ts): one session per user
 * and the pool leases across every worker. Absent when the daemon runs in one process.
 */
export interface SharedSessionState {
  /**
   * After authentication, before the address is leased: ends the user's sessions in other
   * processes and reserves what the session will lease, so the leasing itself stays synchronous.
   */
  authorizing(sid: string, result: AuthAccept): Promise<void>;
  /** The session's resources are gone (or it ended before `authorizing` finished): reservations and the user's claim go. */
  released(sid: string): void;
}

let nextSid = 1;
const sidBoot = sessionIdBoot(Date.now(), process.pid);

/** Worker processes number their sessions apart (NAS-Port); 1 in a single process. */
export function setSessionNumbering(first: number): void {
  nextSid = first;
}

/** Close a socket that does not finish its TLS shutdown within this time. */
const CLOSE_GRACE_MS = 2000;

export class SessionDriver implements SessionHandle {
  /** NAS-Port: this session's number since the daemon started. */
  readonly nasPort = nextSid++;
  /** Also the Acct-Session-Id: unique across nodes and restarts. */
  readonly sid: string;
  private readonly core: Session;
  private readonly log: Logger;
  private readonly network: SessionNetwork;
  private readonly lifecycle: SessionLifecycle;
  private readonly out: RecordWriter;
  private readonly timer = new DeadlineTimer(() => this.input(() => this.core.handleTimeout(monotonicNow())));
  private readonly startedAt = Date.now();
  private upAt: number | undefined;
  private state: SessionInfo['state'] = 'starting';
  private tornDown = false;
  private authPending = false;
  /** What features and `show sessions` see; its counters are the data path's plain fields. */
  private readonly facts: LiveFacts;
  private readonly stats: LiveFacts['stats'];
  /** The cause an operator, DAE or a limit gave, for accounting (the PPP cause is coarser). */
  private requestedCause: TerminateCause | undefined;
  /**
   * Interface steps (IPv4 addresses and `up`, IPv6 addresses) waiting for the pre-up hooks of the
   * current interface; undefined when nothing is held.
   */
  private heldSteps: (() => void)[] | undefined;
  /** Host → client: TUN batches framed, or queued in FQ-CoDel while the socket pushes back. */
  private readonly outbound: OutboundPath;
  /** See peerIid(); undefined until computed. */
  private ipv6PeerId: Buffer | null | undefined;

  /**
   * `socket` is TLS, or plain HTTP when a proxy in front terminates TLS; `peer`/`local` are the
   * client's real endpoints (from a PROXY header when one was required), not the proxy's.
   */
  constructor(
    private readonly socket: Socket,
    private readonly env: SessionEnv,
    conn: { readonly peer: { readonly address: string; readonly port: number }; readonly local: { readonly address: string } },
  ) {
    this.sid = formatSessionId(env.sidNode ?? '', sidBoot, this.nasPort);
    this.log = env.log.child({ sid: this.sid });
    this.core = new Session(env.policy, randomBytes, monotonicNow(), () => new Date());
    this.core.setIpSink((packet) => this.writeTun(packet));
    this.network = new SessionNetwork(this.sid, env, this.log, {
      onPackets: (batch) => this.fromTun(batch),
      beforeClose: (ifname) => this.lifecycle.down(ifname),
      username: () => this.core.username,
    });
    this.facts = new LiveFacts(this.sid, this.nasPort, conn.peer.address, conn.local.address, this.core, this.network);
    this.stats = this.facts.stats;
    this.lifecycle = SessionLifecycle.create(this.context(), env.features);
    env.registry.add(this);
    this.log.info({ callingSid: conn.peer.address, port: conn.peer.port }, 'session-start');
    socket.setNoDelay(true);
    // Keep the backlog out of the kernel's socket buffers (issue 14: latency under a bulk flow).
    boundTcpQueues(socket);
    // A bulk upload yields the loop every few hundred KiB: the TUN's packets are not held behind it.
    const budget = readBudget(socket);
    socket.on('data', (chunk: Buffer) => {
      budget(chunk.length);
      this.input(() => this.core.receive(monotonicNow(), chunk));
    });
    socket.on('error', (err) => this.log.debug({ err: err.message }, 'socket-error'));
    socket.on('close', () => this.input(() => this.core.transportClosed(monotonicNow())));
    this.out = new RecordWriter(socket, (paused) => {
      if (paused) this.facts.pauses++;
      else this.guard(() => this.outbound.drained());
    });
    this.outbound = this.outboundPath();
    this.facts.outbound = () => this.outbound.stats;
    socket.on('drain', () => this.out.drained());
    this.rearm();
  }

  isStarting(): boolean {
    return this.state === 'starting';
  }

  info(): SessionInfo {
    return this.facts.info({ state: this.state, startedAt: this.startedAt, upAt: this.upAt, generation: this.env.generation });
  }

  setRateLimit(limit: RateLimit | undefined): Promise<void> {
    return this.change({ origin: 'operator', rateLimit: limit ?? null });
  }

  /** RADIUS CoA: the features in order (the rate limit, which may fail, first); a refusal stops the rest. */
  async reauthorize(c: CoaChanges): Promise<void> {
    await this.change({ origin: 'coa', ...c });
    this.log.info({ username: this.core.username, ...changeFields(c) }, 'coa-applied');
  }

  terminate(cause: TerminateCause, reason: string): Promise<void> {
    this.log.info({ username: this.core.username, cause, reason }, 'session-terminate');
    this.end(cause, reason);
    // The Accounting-Stop goes now, not after the goodbye: a shutdown waits for it.
    this.lifecycle.ended({ cause: this.requestedCause ?? cause, reason });
    // Resources go now; the wire goodbye (LCP Terminate, Call Disconnect) finishes on its own.
    return this.releaseResources();
  }

  /** What the features see of this session, and the ways they may end it. */
  private context(): SessionContext {
    return {
      facts: this.facts,
      log: this.log,
      now: monotonicNow,
      after: (ms, fn) => {
        const t = setTimeout(fn, ms);
        return () => clearTimeout(t);
      },
      terminate: (cause, reason) => {
        if (!this.tornDown) void this.terminate(cause, reason);
      },
      end: (cause, reason) => this.end(cause, reason),
    };
  }

  /** PPP Terminate-Request, then SSTP Call Disconnect; `cause` is kept for accounting (PPP's is coarser). */
  private end(cause: TerminateCause, reason: string): void {
    if (this.tornDown) return;
    this.requestedCause ??= cause;
    const pppCause = cause === 'session-replaced' || cause === 'nas-reboot' ? 'admin-reset' : cause;
    this.input(() => this.core.terminate(monotonicNow(), pppCause, reason));
  }

  private async change(c: SessionChange): Promise<void> {
    await this.lifecycle.changed(c);
    if (c.rateLimit !== undefined) this.facts.rateLimit = c.rateLimit ?? undefined;
  }

  /** Runs one input against the core, then executes what it asked for and re-arms the timer. */
  private input(fn: () => void): void {
    try {
      fn();
      this.execute(this.core.poll());
    } catch (err) {
      // A bug, not a peer error (cores never throw for bad input): end this session only.
      this.bug(err);
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
          this.lifecycle.authResult({ method: this.core.authMethod ?? 'none', ok: true });
          this.onAuthenticated(a.result);
          break;
        case 'auth-failed':
          this.log.warn({ username: a.username, reason: a.reason, callingSid: this.facts.callingSid }, 'auth-failed');
          this.lifecycle.authResult({ method: this.core.authMethod ?? 'none', ok: false, reason: a.reason });
          break;
        case 'link-up':
          this.whenUp(a.mtu, () => {
            if (this.configured(() => this.network.configureIpv4(a.local, a.peer, a.mtu))) this.lifecycle.up();
          });
          break;
        case 'ipv6-up':
          this.whenUp(a.mtu, () => this.network.ipv6Up(a.local, a.prefix));
          break;
        case 'route6':
          this.network.route6(a.op, a.prefix);
          break;
        case 'ipv6-released':
          this.network.releaseIpv6();
          break;
        case 'link-down':
          this.heldSteps = undefined;
          this.outbound.clear();
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
    // NAS-Port-Id: the interface name is chosen now, before the first Access-Request (as accel-ppp's).
    const nasPortId = this.tornDown ? this.network.ifname : this.network.reserveName();
    const ctx = { sessionId: this.sid, callingStationId: this.facts.callingSid, calledStationId: this.facts.calledSid, nasPort: this.nasPort };
    this.env.auth.authenticate(a.request, nasPortId !== undefined ? { ...ctx, nasPortId } : ctx).then(
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
    // `single-session replace` is per user name; noauth sessions have none (as in accel-ppp).
    const named = result.username !== '';
    const replaced = (named ? this.env.registry.bindUser(this.sid, result.username) : []).map((old) => {
      this.log.info({ username: result.username, replaced: old.sid }, 'session-replaced');
      return old.terminate('session-replaced', `replaced by session ${this.sid}`);
    });
    // IPCP waits for the address; the old session's interface and lease must be gone first so the
    // same (static) address and its peer route can be reused without a clash.
    const shared = this.env.shared;
    if (replaced.length === 0 && !shared) return this.authorize(result);
    void Promise.all(replaced)
      .then(() => shared?.authorizing(this.sid, result))
      .then(
        () => {
          if (!this.tornDown) this.input(() => this.authorize(result));
          else shared?.released(this.sid);
        },
        (err: unknown) => {
          // The primary is gone or refused: this worker cannot lease safely.
          this.log.error({ username: result.username, err: String(err) }, 'shared-state-failed');
          if (!this.tornDown) this.end('nas-error', 'shared state unavailable');
        },
      );
  }

  /** Leases what the session gets (kept if LCP renegotiates and authenticates again), then IPCP/IPV6CP may run. */
  private authorize(result: AuthAccept): void {
    this.facts.authorization = result;
    let given = this.network.addresses;
    if (!given) {
      const leased = this.network.lease(result);
      if ('error' in leased) return this.end('nas-error', leased.error);
      given = leased;
      this.facts.rateLimit = result.rateLimit;
      const ip6 = given.ipv6Prefix ? { ipv6Prefix: formatPrefix6(given.ipv6Prefix) } : {};
      this.log.info({ username: result.username, ip: given.ipv4, ...ip6 }, 'authenticated');
    }
    this.lifecycle.authorized();
    given = { ...given, ...this.peerIid(given.ipv4) };
    // A new interface will come, and its pre-up hooks must finish before any data moves.
    if (!this.network.tun) this.core.holdData(true);
    this.core.networkAssigned(monotonicNow(), given);
  }

  /** The client's IPV6CP id by `ipv6-peer-interface-id`, fixed for the session on first use (as accel-ppp keeps it). */
  private peerIid(ipv4: string | undefined): { ipv6PeerId?: Buffer | null } {
    const rule = this.env.policy.peerInterfaceId;
    if (!rule) return {};
    if (this.ipv6PeerId === undefined) {
      this.ipv6PeerId = peerIidFor(rule, { ...(ipv4 !== undefined ? { ipv4 } : {}), callingSid: this.facts.callingSid }, randomBytes);
      if (this.ipv6PeerId === null) this.log.warn({ username: this.core.username, rule: rule.mode }, 'ipv6-peer-id-unavailable');
    }
    return { ipv6PeerId: this.ipv6PeerId };
  }

  /** Runs `step` on the session interface once it exists and its pre-up hooks have all finished. */
  private whenUp(mtu: number, step: () => void): void {
    if (!this.ensureTun(mtu)) return;
    if (this.heldSteps) this.heldSteps.push(step);
    else step();
  }

  /**
   * The session interface, created when the first network protocol opens (see SessionNetwork.open),
   * then `preUp`: a feature that cannot do its part before traffic flows ends the session here.
   * While a preUp runs (an on-pre-up script), the session is held: no data either way, no
   * addresses on the interface, no `up` (accel-ppp runs ip-pre-up before the interface goes up).
   * False when there is no interface to go on with.
   */
  private ensureTun(mtu: number): boolean {
    if (this.network.tun) return true;
    if (!this.configured(() => this.network.open(mtu))) return false;
    this.state = 'active';
    this.upAt = Date.now();
    const tun = this.network.tun;
    const ready = this.lifecycle.preUp();
    if (ready === false) return false; // a feature ended the session
    if (ready === true) {
      this.sessionUp(mtu);
      return true;
    }
    // Held since authorize(); again here when only an NCP reopened (no new authorization).
    this.core.holdData(true);
    const steps: (() => void)[] = [];
    this.heldSteps = steps;
    void ready.then((ok) => {
      // Refused (the lifecycle ends the session), or the interface went meanwhile.
      if (!ok || this.tornDown || this.network.tun !== tun || this.heldSteps !== steps) return;
      this.input(() => {
        this.heldSteps = undefined;
        this.sessionUp(mtu);
        for (const step of steps) step();
      });
    });
    return true;
  }

  /** Every pre-up hook let the session go up: data may move. */
  private sessionUp(mtu: number): void {
    this.core.holdData(false);
    const prefix = this.network.ipv6Prefix;
    const ip6 = prefix ? { ipv6Prefix: formatPrefix6(prefix) } : {};
    this.log.info({ username: this.core.username, ifname: this.facts.ifname, ip: this.network.ipv4, ...ip6, gateway: this.env.policy.gateway, mtu }, 'session-up');
  }

  /** Runs an interface step; if it fails the session ends (nas-error) and the answer is false. */
  private configured(step: () => void): boolean {
    try {
      step();
      return true;
    } catch (err) {
      this.log.error({ username: this.core.username, err: String(err) }, 'interface-failed');
      this.end('nas-error', 'cannot create the session interface');
      return false;
    }
  }

  /**
   * Packets the host routes to this client, IPv4 and IPv6. The session core writes the SSTP and
   * PPP headers into the 8 bytes of headroom in front of each packet (or encrypts it with MPPE)
   * and copies them out (the slab is reused for the next batch while the socket may still hold
   * the buffers): packets lying back to back in the slab share one buffer, so a batch costs a few
   * socket writes, not one per packet. While TCP pushes back they wait in FQ-CoDel (outbound.ts).
   */
  private fromTun(batch: PacketBatch): void {
    if (!this.socket.destroyed) this.guard(() => this.outbound.fromTun(batch));
  }

  private outboundPath(): OutboundPath {
    const { socket, out, stats } = this;
    return new OutboundPath({
      frame: (batch, packets, reuse) => this.core.encodeOutboundBatch(batch, packets, reuse),
      sink: {
        write: (packets) => out.write(packets),
        get ready() {
          return !out.pushingBack && !socket.destroyed;
        },
        // Once the socket has taken every byte handed to it and nothing waits in the record writer,
        // no write refers to the last batch's buffer: it is filled again instead of a fresh one
        // (a fresh 256 KiB per batch cost more CPU per GB than the copies it saved).
        get idle() {
          return socket.writableLength === 0 && out.queued === 0;
        },
      },
      now: monotonicNow,
      sent: (packets, bytes) => {
        stats.txPackets += packets;
        stats.txBytes += bytes;
      },
      pauseReader: (paused) => (paused ? this.network.tun?.pause() : this.network.tun?.resume()),
    });
  }

  /** Data path work outside input() (TUN poller, socket drain): a bug there ends this session only. */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.bug(err);
    }
  }

  private writeTun(packet: Buffer): void {
    const tun = this.network.tun;
    if (!tun) return;
    this.stats.rxPackets++;
    this.stats.rxBytes += packet.length;
    tun.write(packet);
  }

  private bug(err: unknown): void {
    this.log.error({ err: err instanceof Error ? err.stack : String(err), username: this.core.username }, 'session-bug');
    this.teardown('nas-error', 'internal error');
    this.socket.destroy();
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
    const shared = this.env.shared;
    return shared ? this.network.release().then(() => shared.released(this.sid)) : this.network.release();
  }

  private teardown(cause: string, reason: string): void {
    if (this.tornDown) return;
    this.tornDown = true;
    // Every byte still queued goes back to the process's budget (queue-budget.ts).
    this.outbound.close();
    void this.releaseResources();
    this.timer.cancel();
    const durationS = Math.round((Date.now() - this.startedAt) / 1000);
    const dropped = Object.values(this.core.drops).reduce((a, b) => a + b, 0);
    this.log.info({ username: this.core.username, ip: this.network.ipv4, cause, reason, durationS, ...this.stats, ...(dropped > 0 ? { drops: { ...this.core.drops } } : {}) }, 'session-down');
    this.lifecycle.ended({ cause: this.requestedCause ?? cause, reason });
  }

  private rearm(): void {
    if (!this.tornDown) this.timer.arm(this.core.nextDeadline());
  }
}
