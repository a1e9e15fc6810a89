/**
 * CCP (RFC 1962, protocol 0x80FD) carrying only MPPE: the shared automaton with the MPPE option;
 * every compression method (Deflate, BSD, Predictor, MPPC...) is rejected as unknown. Adds the two
 * CCP codes: Reset-Request (14) — the peer lost sync, so our next packet is flushed — answered with
 * a Reset-Ack (15); and our own Reset-Request after loss in stateful mode, repeated every second
 * until the Ack (pppd's RACKTIMEOUT), at most `maxResets` times per episode.
 */
import type { Millis } from '../../common/time.js';
import { encodeCp, type CpPacket } from '../cp.js';
import type { FsmOptions } from '../fsm.js';
import { Ncp, type NcpUpper } from '../ncp.js';
import type { OptionHandler } from '../negotiate.js';

export const CCP_RESET_REQ = 14;
export const CCP_RESET_ACK = 15;
const RESET_RETRY_MS = 1000;
const MAX_RESETS = 10;

export interface CcpUpper extends NcpUpper {
  /** The peer asked us to reset our transmit state (flush the next packet). */
  resetRequested(now: Millis): void;
}

export class Ccp<T extends OptionHandler> extends Ncp {
  private resetId = 0;
  private resetDeadline: Millis | undefined;
  private resetsLeft = 0;

  constructor(readonly mppe: T, private readonly ccpUpper: CcpUpper, fsmOpts: FsmOptions = {}) {
    super('ccp', [mppe], ccpUpper, fsmOpts, (now, packet) => this.extra(now, packet));
  }

  /** Receive side lost sync (stateful MPPE): ask the peer to flush. Repeats until Reset-Ack. */
  requestReset(now: Millis): void {
    if (!this.opened || this.resetDeadline !== undefined) return;
    this.resetsLeft = MAX_RESETS;
    this.resetId = (this.resetId + 1) & 0xff;
    this.sendReset(now);
  }

  handleTimeout(now: Millis): void {
    this.fsm.handleTimeout(now);
    if (this.resetDeadline === undefined || now < this.resetDeadline) return;
    if (!this.opened || this.resetsLeft <= 0) this.resetDeadline = undefined;
    else this.sendReset(now);
  }

  nextDeadline(): Millis | undefined {
    const f = this.fsm.nextDeadline();
    if (this.resetDeadline === undefined) return f;
    return f === undefined ? this.resetDeadline : Math.min(f, this.resetDeadline);
  }

  /** The peer's flushed packet arrived: resync done, stop repeating the Reset-Request. */
  resynced(): void {
    this.resetDeadline = undefined;
  }

  private sendReset(now: Millis): void {
    this.resetsLeft--;
    this.resetDeadline = now + RESET_RETRY_MS;
    this.ccpUpper.send(encodeCp(CCP_RESET_REQ, this.resetId));
  }

  private extra(now: Millis, packet: CpPacket): boolean {
    if (packet.code === CCP_RESET_REQ) {
      if (this.opened) {
        this.ccpUpper.resetRequested(now);
        this.ccpUpper.send(encodeCp(CCP_RESET_ACK, packet.id));
      }
      return true;
    }
    if (packet.code === CCP_RESET_ACK) {
      if (packet.id === this.resetId) this.resetDeadline = undefined;
      return true;
    }
    return false;
  }
}
