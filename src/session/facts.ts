/**
 * A session's facts, read live from its parts (the core, its network, the data path's counters):
 * what its features see (SessionFacts) and what `sstpctl show sessions` shows (SessionInfo).
 */
import type { AuthAccept } from '../auth/backend.js';
import type { RateLimit } from '../config/model.js';
import { formatPrefix6, type Prefix6 } from '../ip/ipv6-addr.js';
import type { DropCounters } from '../ppp/data-gate.js';
import type { SessionCounters, SessionFacts } from './lifecycle.js';
import type { SessionNetwork } from './network.js';
import type { QueueCounters } from './outbound.js';
import type { DataPathCounters, SessionInfo } from './registry.js';

/** The parts of the session core the facts read. */
export interface FactsCore {
  readonly username: string | undefined;
  readonly drops: Readonly<DropCounters>;
}

/** What only the driver knows: its state and clock readings. */
export type DriverInfo = Pick<SessionInfo, 'state' | 'startedAt' | 'upAt' | 'generation'>;

export class LiveFacts implements SessionFacts {
  /** The backend's latest yes (set by the driver at each authentication). */
  authorization: AuthAccept | undefined;
  /** The limit in force: the authorized one, then what CoA or the operator set. */
  rateLimit: RateLimit | undefined;
  /** The data path's counters: plain fields, bumped per packet. rx = from the client. */
  readonly stats = { rxBytes: 0, txBytes: 0, rxPackets: 0, txPackets: 0 };
  /** Times the record writer reported socket back-pressure. */
  pauses = 0;
  /** The outbound queue's counters (set by the driver). */
  outbound: (() => QueueCounters) | undefined;

  constructor(
    readonly sid: string,
    readonly nasPort: number,
    readonly callingSid: string,
    readonly calledSid: string,
    private readonly core: FactsCore,
    private readonly network: SessionNetwork,
  ) {}

  get username(): string | undefined {
    return this.core.username;
  }
  get ifname(): string | undefined {
    return this.network.tun?.name;
  }
  get ipv4(): string | undefined {
    return this.network.ipv4;
  }
  get ipv6Prefix(): Prefix6 | undefined {
    return this.network.ipv6Prefix;
  }
  get delegatedPrefix(): Prefix6 | undefined {
    return this.network.delegatedPrefix;
  }

  /** An arrow, so it can be handed on (accounting reads the counters at each request). */
  readonly counters = (): SessionCounters => this.stats;

  info(d: DriverInfo): SessionInfo {
    const p6 = this.ipv6Prefix;
    const dp = this.delegatedPrefix;
    return {
      sid: this.sid,
      username: this.username,
      ifname: this.ifname,
      ip: this.ipv4,
      callingSid: this.callingSid,
      state: d.state,
      startedAt: d.startedAt,
      upAt: d.upAt,
      ...this.stats,
      generation: d.generation,
      rateLimit: this.rateLimit,
      nasPort: this.nasPort,
      calledSid: this.calledSid,
      ip6: p6 ? formatPrefix6(p6) : undefined,
      ip6Dp: dp ? formatPrefix6(dp) : undefined,
      drops: { ...this.core.drops },
      ...(this.network.tun ? { dataPath: this.dataPath() } : {}),
    };
  }

  private dataPath(): DataPathCounters | undefined {
    const tun = this.network.tun;
    if (!tun) return undefined;
    const s = tun.stats;
    return {
      offload: tun.offload,
      tunWriteDropped: s.writeDropped,
      tunReadDropped: s.readTruncated + s.readRefused,
      tunSuperPackets: s.readSuperPackets,
      tunReadBatches: s.readBatches,
      tunWriteCalls: s.writeCalls,
      pauses: this.pauses,
      ...(this.outbound?.() ?? NO_QUEUE),
    };
  }
}

/** A session without an outbound path yet: nothing queued, nothing dropped. */
const NO_QUEUE: QueueCounters = { aqmDropped: 0, aqmMarked: 0, queueDropped: 0, queuedBytes: 0, queueHeldBytes: 0 };
