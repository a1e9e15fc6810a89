/**
 * LCP Magic-Number (type 5, RFC 1661 §6.4): loop detection. Ours is random and non-zero; a peer
 * value equal to ours (a looped-back link, or bad luck) or zero is Nak'd with a fresh random one.
 */
import { u32 } from '../cp.js';
import { ACK, REJECT, nak, type OptionHandler, type OptionVerdict } from '../negotiate.js';
import type { ReplyOutcome } from '../fsm.js';

export const LCP_MAGIC = 5;

export class MagicOption implements OptionHandler {
  readonly type = LCP_MAGIC;
  readonly name = 'magic';
  private ours = 0;
  private peer = 0;
  private asking = true;

  constructor(private readonly random: (n: number) => Buffer) {}

  /** Our magic number; 0 when the option was rejected (RFC 1661: then echoes carry zero). */
  get ourMagic(): number {
    return this.ours;
  }
  get peerMagic(): number {
    return this.peer;
  }

  request(): Buffer | undefined {
    if (!this.asking) return undefined;
    if (this.ours === 0) this.ours = this.fresh(0);
    return u32(this.ours);
  }

  check(data: Buffer): OptionVerdict {
    if (data.length !== 4) return REJECT;
    const v = data.readUInt32BE(0);
    if (v === 0 || v === this.ours) return nak(u32(this.fresh(this.ours)));
    return ACK;
  }

  commit(data: Buffer | undefined): void {
    this.peer = data ? data.readUInt32BE(0) : 0;
  }

  nakked(_data: Buffer): ReplyOutcome {
    // RFC 1661 §6.4: a Nak'd magic number means "choose a different one", not "use mine".
    this.ours = this.fresh(this.ours);
    return 'ok';
  }

  rejected(): ReplyOutcome {
    this.asking = false;
    this.ours = 0;
    return 'ok';
  }

  reset(): void {
    this.asking = true;
    this.ours = 0;
    this.peer = 0;
  }

  /** A random non-zero value different from `avoid`. */
  private fresh(avoid: number): number {
    for (let i = 0; i < 8; i++) {
      const v = this.random(4).readUInt32BE(0);
      if (v !== 0 && v !== avoid) return v;
    }
    return avoid === 1 ? 2 : 1; // a broken random source must not hang the link
  }
}
