/**
 * LCP Maximum-Receive-Unit (type 1, RFC 1661 §6.1). Our value tells the peer how large a frame
 * we accept; the peer's value is how large a frame WE may send (it becomes the session MTU).
 */
import { u16 } from '../cp.js';
import { ACK, REJECT, nak, type OptionHandler, type OptionVerdict } from '../negotiate.js';
import type { ReplyOutcome } from '../fsm.js';

export const LCP_MRU = 1;
/** Largest PPP information field an SSTP packet can carry (4095 − 4 SSTP − 4 PPP header). */
export const MAX_SSTP_MRU = 4087;

export interface MruPolicy {
  /** The MRU we request; undefined = do not send the option (1500 by default). */
  readonly request?: number;
  /** Peer MRU bounds: outside them we Nak with the nearest bound. */
  readonly min: number;
  readonly max: number;
  /**
   * Requests below `min` answered (Nak, then the FSM's Reject after Max-Failure) before the peer
   * counts as insisting (`tooSmall`), so the link ends (`ppp-options min-mtu`). Absent: never.
   */
  readonly maxLowRequests?: number;
}

export class MruOption implements OptionHandler {
  readonly type = LCP_MRU;
  readonly name = 'mru';
  private ours: number | undefined;
  private peer: number;
  private lowRequests = 0;
  private insisted: number | undefined;

  constructor(private readonly policy: MruPolicy) {
    this.ours = policy.request;
    this.peer = this.defaultPeer();
  }

  /** The largest frame the peer accepts (RFC default 1500, capped to our maximum). */
  get peerMru(): number {
    return this.peer;
  }
  get ourMru(): number {
    return this.ours ?? 1500;
  }
  get minPeerMru(): number {
    return this.policy.min;
  }
  /** The MRU below `min` the peer kept asking for past `maxLowRequests` answers; the owner ends the link. */
  get tooSmall(): number | undefined {
    return this.insisted;
  }

  request(): Buffer | undefined {
    return this.ours === undefined ? undefined : u16(this.ours);
  }

  check(data: Buffer): OptionVerdict {
    if (data.length !== 2) return REJECT;
    const v = data.readUInt16BE(0);
    if (v > this.policy.max) return nak(u16(this.policy.max));
    if (v < this.policy.min) {
      this.lowRequests++;
      const limit = this.policy.maxLowRequests;
      if (limit !== undefined && this.lowRequests > limit) this.insisted = v;
      return nak(u16(this.policy.min));
    }
    this.lowRequests = 0;
    return ACK;
  }

  commit(data: Buffer | undefined): void {
    this.peer = data ? data.readUInt16BE(0) : this.defaultPeer();
  }

  nakked(data: Buffer): ReplyOutcome {
    // Any size SSTP can carry is fine for us to receive; otherwise fall back to the default.
    const v = data.length === 2 ? data.readUInt16BE(0) : 0;
    this.ours = v >= this.policy.min && v <= MAX_SSTP_MRU ? v : undefined;
    return 'ok';
  }

  rejected(): ReplyOutcome {
    this.ours = undefined;
    return 'ok';
  }

  reset(): void {
    this.ours = this.policy.request;
    this.peer = this.defaultPeer();
    this.lowRequests = 0;
    this.insisted = undefined;
  }

  private defaultPeer(): number {
    return Math.min(1500, this.policy.max);
  }
}
