/**
 * Live sessions by id, user name, interface and address. Owns the single-session policy
 * (VyOS configures accel-ppp with `single-session=replace`: a user's new session ends the old one).
 */
import type { QueueCounters } from './outbound.js';
import type { RateLimit } from '../config/model.js';
import type { CoaChanges } from '../radius/dae.js';
import { DROP_REASONS, type DropCounters } from '../ppp/data-gate.js';

export interface SessionInfo {
  readonly sid: string;
  readonly username: string | undefined;
  readonly ifname: string | undefined;
  readonly ip: string | undefined;
  readonly callingSid: string;
  readonly state: 'starting' | 'active' | 'finishing';
  readonly startedAt: number; // epoch ms
  readonly upAt: number | undefined; // epoch ms, IPCP opened
  readonly rxBytes: number;
  readonly txBytes: number;
  readonly rxPackets: number;
  readonly txPackets: number;
  readonly generation: number;
  /** With worker processes: the slot of the worker that holds the session (the primary sets it). */
  readonly worker?: number;
  /** The bandwidth limit in force (local user, RADIUS or CoA), if any. */
  readonly rateLimit: RateLimit | undefined;
  /** NAS-Port: the session's number on this server. */
  readonly nasPort?: number;
  /** Our address the client connected to (Called-Station-Id). */
  readonly calledSid?: string;
  /** The session's IPv6 prefix (announced by RA), e.g. "2001:db8:0:1::/64". */
  readonly ip6?: string | undefined;
  /** The prefix delegated by DHCPv6-PD, once bound. */
  readonly ip6Dp?: string | undefined;
  /** Data packets the data gate dropped, by reason (forged source, MPPE rules, …). */
  readonly drops?: Readonly<DropCounters>;
  /** The TUN side of the data path, while the session has an interface. */
  readonly dataPath?: DataPathCounters;
}

/**
 * Where the data path can lose a packet outside the data gate, and how hard it works. Packets the
 * kernel drops from the TUN's own queue while we are paused show in the interface's tx_dropped.
 */
/** A session's data path counters; the outbound queue's (outbound.ts) among them. */
export interface DataPathCounters extends QueueCounters {
  /** The TUN carries virtio headers (segmentation offload and GRO). */
  readonly offload: boolean;
  /** Client → host packets the TUN refused (its queue full): dropped. */
  readonly tunWriteDropped: number;
  /** Host → client packets too long for the session MTU, or with a virtio header that made no sense: dropped. */
  readonly tunReadDropped: number;
  /** Host → client super-packets cut into session-MTU packets. */
  readonly tunSuperPackets: number;
  readonly tunReadBatches: number;
  /** write()/writev() calls for `rxPackets` packets (fewer with GRO). */
  readonly tunWriteCalls: number;
  /** Times the socket pushed back (the queue below holds the backlog; with SSTPD_FQ=0 the TUN reader paused). */
  readonly pauses: number;
}

export type TerminateCause =
  | 'admin-reset'
  | 'user-request'
  | 'lost-carrier'
  | 'session-replaced'
  | 'nas-reboot'
  | 'nas-error'
  | 'session-timeout'
  | 'idle-timeout';

export interface SessionHandle {
  readonly sid: string;
  info(): SessionInfo;
  /** info().state === 'starting' without building the whole info (asked per new connection). */
  isStarting?(): boolean;
  /** Ends the session (PPP terminate + SSTP disconnect); resources are released at once. */
  terminate(cause: TerminateCause, reason: string): Promise<void>;
  /** Changes the session's bandwidth limit (RADIUS CoA, operator); undefined removes it. */
  setRateLimit(limit: RateLimit | undefined): Promise<void>;
  /** RADIUS CoA: all changes or none; rejects (changing nothing) when one cannot be applied. */
  reauthorize?(changes: CoaChanges): Promise<void>;
}

export class SessionRegistry {
  private readonly bySid = new Map<string, SessionHandle>();
  private readonly byUser = new Map<string, Set<string>>();
  /** Drops and traffic of sessions that are gone, so the daemon's totals never go backwards. */
  private readonly endedDrops = zeroDrops();
  private readonly ended = { rxBytes: 0, txBytes: 0, rxPackets: 0, txPackets: 0 };

  add(s: SessionHandle): void {
    this.bySid.set(s.sid, s);
  }

  /** Called when a session authenticated; returns the sessions of the same user it replaces. */
  bindUser(sid: string, username: string): SessionHandle[] {
    const set = this.byUser.get(username) ?? new Set<string>();
    const replaced = [...set].filter((o) => o !== sid).map((o) => this.bySid.get(o)).filter((s): s is SessionHandle => !!s);
    set.add(sid);
    this.byUser.set(username, set);
    return replaced;
  }

  remove(sid: string, username: string | undefined): void {
    const gone = this.bySid.get(sid)?.info();
    if (gone) {
      if (gone.drops) addDrops(this.endedDrops, gone.drops);
      this.ended.rxBytes += gone.rxBytes;
      this.ended.txBytes += gone.txBytes;
      this.ended.rxPackets += gone.rxPackets;
      this.ended.txPackets += gone.txPackets;
    }
    this.bySid.delete(sid);
    if (username !== undefined) {
      const set = this.byUser.get(username);
      set?.delete(sid);
      if (set && set.size === 0) this.byUser.delete(username);
    }
  }

  /** Sessions not active yet (max-concurrent-sessions counts them). */
  startingCount(): number {
    let n = 0;
    for (const s of this.bySid.values()) if (s.isStarting ? s.isStarting() : s.info().state === 'starting') n++;
    return n;
  }

  get(sid: string): SessionHandle | undefined {
    return this.bySid.get(sid);
  }

  all(): SessionHandle[] {
    return [...this.bySid.values()];
  }

  get size(): number {
    return this.bySid.size;
  }

  /**
   * Traffic of sessions already removed, counted when they left the registry. A session's last
   * packets after its resources went (the goodbye) are not in it: the figures are for metrics.
   */
  endedTraffic(): Readonly<{ rxBytes: number; txBytes: number; rxPackets: number; txPackets: number }> {
    return this.ended;
  }

  /** Data-gate drops since start, by reason: sessions that ended plus the live ones. */
  dropTotals(): DropCounters {
    const total = { ...this.endedDrops };
    for (const s of this.bySid.values()) {
      const d = s.info().drops;
      if (d) addDrops(total, d);
    }
    return total;
  }

  /** Matches like accel-ppp's `terminate`: username/ifname/sid/ip stop at... we end every match. */
  find(by: 'username' | 'ifname' | 'sid' | 'ip' | 'all', value?: string): SessionHandle[] {
    if (by === 'all') return this.all();
    if (by === 'sid') {
      const s = value !== undefined ? this.bySid.get(value) : undefined;
      return s ? [s] : [];
    }
    if (by === 'username') {
      const set = value !== undefined ? this.byUser.get(value) : undefined;
      return set ? [...set].map((x) => this.bySid.get(x)).filter((s): s is SessionHandle => !!s) : [];
    }
    return this.all().filter((s) => {
      const i = s.info();
      return by === 'ifname' ? i.ifname === value : i.ip === value;
    });
  }
}

function zeroDrops(): DropCounters {
  return Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as DropCounters;
}

function addDrops(into: DropCounters, d: Readonly<DropCounters>): void {
  for (const r of DROP_REASONS) into[r] += d[r];
}
