/**
 * CCP option 18, MPPE (RFC 3078 §2): 32 "supported bits". Each side's Configure-Request says how it
 * wants to *receive*; so the option we Ack sets our transmit direction and the one the peer Acks our
 * receive direction. The initiator offers every key length it supports, the responder Naks with
 * exactly one (the strongest it shares) and the H (stateless) bit if it agrees; pppd behaves so.
 */
import { ACK, REJECT, nak, type OptionHandler, type OptionVerdict } from '../negotiate.js';
import type { ReplyOutcome } from '../fsm.js';
import { u32 } from '../cp.js';
import type { MppeDirection, MppeStrength } from '../mppe-cipher.js';

export const CCP_MPPE = 18;

export const MPPE_BIT_C = 0x00000001; // MPPC compression: never
export const MPPE_BIT_D = 0x00000010; // obsolete
export const MPPE_BIT_L = 0x00000020; // 40-bit
export const MPPE_BIT_S = 0x00000040; // 128-bit
export const MPPE_BIT_M = 0x00000080; // 56-bit
export const MPPE_BIT_H = 0x01000000; // stateless

const STRENGTH_BIT: Readonly<Record<MppeStrength, number>> = { 128: MPPE_BIT_S, 56: MPPE_BIT_M, 40: MPPE_BIT_L };
const ALL_STRENGTHS: readonly MppeStrength[] = [128, 56, 40];
const KNOWN = MPPE_BIT_S | MPPE_BIT_M | MPPE_BIT_L | MPPE_BIT_H;

export function strengthsIn(bits: number): MppeStrength[] {
  return ALL_STRENGTHS.filter((s) => (bits & STRENGTH_BIT[s]) !== 0);
}

export function bitsFor(strengths: readonly MppeStrength[], stateless: boolean): number {
  let b = stateless ? MPPE_BIT_H : 0;
  for (const s of strengths) b |= STRENGTH_BIT[s];
  return b >>> 0;
}

/** A negotiated value: exactly one key length, H or not. */
export function directionOf(bits: number): MppeDirection | undefined {
  const s = strengthsIn(bits);
  if (s.length !== 1 || (bits & ~KNOWN) !== 0) return undefined;
  return { strength: s[0]!, stateless: (bits & MPPE_BIT_H) !== 0 };
}

export function describeMppe(bits: number): string {
  const parts = strengthsIn(bits).map((s) => `${s}-bit`);
  parts.push((bits & MPPE_BIT_H) !== 0 ? 'stateless' : 'stateful');
  if (bits & MPPE_BIT_C) parts.push('mppc');
  return parts.join(' ');
}

/**
 * `require`/`prefer` ask the peer for MPPE; `accept` (the seed's default) does not ask, but offers
 * MPPE back once the peer asked for it, so both directions end up encrypted.
 */
export type MppeMode = 'require' | 'prefer' | 'accept';

/** Our side's MPPE negotiation for one CCP run. `strengths` (strongest first) come from the keys we hold. */
export class ServerMppeOption implements OptionHandler {
  readonly type = CCP_MPPE;
  readonly name = 'mppe';
  private strengths: readonly MppeStrength[] = [];
  private offer = 0;
  private asking = false;
  private peerAsked = false;
  private rxBits: number | undefined;
  private txBits: number | undefined;
  /** Why MPPE did not come about, for the log (the peer rejected or Nak'd it away). */
  refusal: string | undefined;

  constructor(readonly mode: MppeMode) {}

  /** Key lengths our keys allow (MS-CHAPv2: all; MS-CHAPv1: 128 only); empty = MPPE impossible. */
  configure(strengths: readonly MppeStrength[]): void {
    this.strengths = strengths;
    this.reset();
  }

  get possible(): boolean {
    return this.strengths.length > 0;
  }
  /** Our receive direction, once the peer Acked our request with MPPE. */
  get rx(): MppeDirection | undefined {
    return this.rxBits === undefined ? undefined : directionOf(this.rxBits);
  }
  /** Our transmit direction, once we Acked the peer's MPPE request. */
  get tx(): MppeDirection | undefined {
    return this.txBits === undefined ? undefined : directionOf(this.txBits);
  }
  /** We are (still) asking for MPPE or it was agreed: what require/prefer wait for. */
  get wanted(): boolean {
    return this.asking || this.peerAsked;
  }

  request(): Buffer | undefined {
    return this.asking || (this.peerAsked && this.possible) ? u32(this.offer) : undefined;
  }

  check(data: Buffer): OptionVerdict {
    if (data.length !== 4 || !this.possible) return REJECT;
    this.peerAsked = true;
    const bits = data.readUInt32BE(0);
    const offered = strengthsIn(bits).filter((s) => this.strengths.includes(s));
    // The strongest key length we share; with none in common, offer ours and let the peer choose.
    const pick = offered.length > 0 ? [offered[0]!] : [...this.strengths];
    const answer = bitsFor(pick, (bits & MPPE_BIT_H) !== 0);
    return answer === bits >>> 0 ? ACK : nak(u32(answer));
  }

  commit(data: Buffer | undefined): void {
    this.txBits = data && data.length === 4 ? data.readUInt32BE(0) : undefined;
  }

  acked(data: Buffer): void {
    this.rxBits = data.readUInt32BE(0);
  }

  nakked(data: Buffer): ReplyOutcome {
    if (data.length !== 4) return 'invalid';
    const bits = data.readUInt32BE(0);
    const shared = strengthsIn(bits).filter((s) => this.strengths.includes(s));
    if ((bits & (MPPE_BIT_C | MPPE_BIT_D)) !== 0 || shared.length === 0) {
      return this.giveUp(`client suggests MPPE settings we cannot use (${describeMppe(bits)})`);
    }
    this.offer = bitsFor([shared[0]!], (bits & MPPE_BIT_H) !== 0);
    return 'ok';
  }

  rejected(): ReplyOutcome {
    return this.giveUp('client rejected the MPPE option');
  }

  reset(): void {
    this.offer = bitsFor(this.strengths, true);
    this.asking = this.mode !== 'accept' && this.possible;
    this.peerAsked = false;
    this.rxBits = undefined;
    this.txBits = undefined;
  }

  private giveUp(reason: string): ReplyOutcome {
    this.asking = false;
    this.peerAsked = false;
    this.refusal = reason;
    return this.mode === 'require' ? { fail: `MPPE required but ${reason}` } : 'ok';
  }
}

/**
 * The client side (our test client, pppd-like): asks for `want` (e.g. 128-bit stateless), accepts
 * the server's request when it is a single key length it allows.
 */
export class ClientMppeOption implements OptionHandler {
  readonly type = CCP_MPPE;
  readonly name = 'mppe';
  private rxBits: number | undefined;
  private txBits: number | undefined;
  private want: number;

  constructor(private readonly allowed: number) {
    this.want = allowed >>> 0;
  }

  get rx(): MppeDirection | undefined {
    return this.rxBits === undefined ? undefined : directionOf(this.rxBits);
  }
  get tx(): MppeDirection | undefined {
    return this.txBits === undefined ? undefined : directionOf(this.txBits);
  }

  request(): Buffer {
    return u32(this.want);
  }

  check(data: Buffer): OptionVerdict {
    if (data.length !== 4) return REJECT;
    const bits = data.readUInt32BE(0);
    const ours = strengthsIn(this.allowed);
    const shared = strengthsIn(bits).filter((s) => ours.includes(s));
    if (shared.length === 0) return nak(u32(this.allowed));
    const answer = bitsFor([shared[0]!], (this.allowed & MPPE_BIT_H) !== 0);
    return answer === bits >>> 0 ? ACK : nak(u32(answer));
  }

  commit(data: Buffer | undefined): void {
    this.txBits = data && data.length === 4 ? data.readUInt32BE(0) : undefined;
  }

  acked(data: Buffer): void {
    this.rxBits = data.readUInt32BE(0);
  }

  nakked(data: Buffer): ReplyOutcome {
    if (data.length !== 4) return 'invalid';
    const bits = data.readUInt32BE(0);
    const usable = strengthsIn(bits).filter((s) => strengthsIn(this.allowed).includes(s));
    if ((bits & ~KNOWN) !== 0 || usable.length !== 1) return { fail: 'server Nak\'d MPPE with unusable bits' };
    this.want = bits >>> 0;
    return 'ok';
  }

  rejected(): ReplyOutcome {
    return { fail: 'server rejected MPPE' };
  }

  reset(): void {
    this.want = this.allowed >>> 0;
    this.rxBits = undefined;
    this.txBits = undefined;
  }
}
