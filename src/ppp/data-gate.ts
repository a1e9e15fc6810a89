/**
 * The one rule for PPP data (IPv4 0x0021, IPv6 0x0057) in both directions and both roles. The link's
 * event path (after parsing and MPPE decryption) and the owners' fast lanes (frames taken straight
 * from the SSTP framer, packets straight from the TUN) all ask this gate; none keeps a copy of the
 * rule, so a check added here holds everywhere (a fast lane that re-implemented it once let clear
 * IPv4 past `mppe require`).
 *
 * A packet passes only when:
 * - its NCP is Opened (IPCP for IPv4, IPV6CP for IPv6; RFC 1661 §3.5) and the owner does not hold
 *   the session back (`held`: its pre-up hooks, such as an on-pre-up script, have not all finished;
 *   such drops count as `not-open`, since the session is not up yet);
 * - the lower layer vouches for the link (SSTP: Call Connected with a verified crypto binding, or the
 *   zero-key waiver), so no data moves on a call that may be a man in the middle;
 * - MPPE allows it: while the peer encrypts, nothing clear is taken from it; with `require`, nothing
 *   moves before MPPE is up both ways;
 * - inbound, it is a well-formed IP header of its protocol's version whose source address belongs to
 *   the peer (BCP 38 at the edge, when the owner gives a source policy).
 *
 * Drops are counted per reason. The first drop of each reason is reported once (`firstDrop`), so
 * the owner can log it without a line per packet.
 */
import { MPPE_OVERHEAD, type MppeDecryptor, type MppeEncryptor } from './mppe-cipher.js';
import { PPP_IPV4, PPP_IPV6 } from './protocols.js';
import { formatIpv6 } from '../ip/ipv6-addr.js';

export type DropReason = 'not-open' | 'unverified' | 'mppe' | 'malformed' | 'source' | 'oversize';
export const DROP_REASONS: readonly DropReason[] = ['not-open', 'unverified', 'mppe', 'malformed', 'source', 'oversize'];
export type DropCounters = Record<DropReason, number>;
/** The first drop of a reason on this link: what the owner logs (once per reason, not per packet). */
export interface FirstDrop {
  readonly reason: DropReason;
  /** The packet's source address, for inbound drops of a well-formed packet. */
  readonly source?: string;
}

/** Which source addresses the peer may use (implemented in src/ip/source-filter.ts). */
export interface SourcePolicy {
  /** `packet` is a whole IPv4 (version 4) or IPv6 (version 6) packet with a complete fixed header. */
  admits(packet: Buffer): boolean;
}

const NONE: readonly FirstDrop[] = [];
const IPV4_HEADER = 20;
const IPV6_HEADER = 40;

export interface DataGateOptions {
  /** `ppp-options mppe require` (server) / `require-mppe` (client): no data before MPPE both ways. */
  readonly mppeRequired: boolean;
  /** Data waits for the lower layer's word (`lowerVerified`): SSTP's crypto binding. Off for bare PPP. */
  readonly awaitLowerVerification?: boolean;
}

export class DataGate {
  private readonly mppeRequired: boolean;
  ipv4Open = false;
  ipv6Open = false;
  /** The owner holds all data back (the session's pre-up hooks are still running). */
  held = false;
  /** The lower layer's word that data may move (SSTP binding verified or waived). */
  lowerVerified: boolean;
  /** Set while MPPE runs in that direction. */
  encryptor: MppeEncryptor | undefined;
  decryptor: MppeDecryptor | undefined;
  /** Inbound source check; absent = any source (our own client role). */
  sources: SourcePolicy | undefined;
  readonly drops: DropCounters = { 'not-open': 0, unverified: 0, mppe: 0, malformed: 0, source: 0, oversize: 0 };
  /** Drops that were the first of their reason, not yet taken by the owner (at most one per reason). */
  private firsts: FirstDrop[] = [];

  constructor(opts: DataGateOptions) {
    this.mppeRequired = opts.mppeRequired;
    this.lowerVerified = !opts.awaitLowerVerification;
  }

  /** MPPE is required and not yet up both ways: nothing may move. */
  get heldForMppe(): boolean {
    return this.mppeRequired && (this.encryptor === undefined || this.decryptor === undefined);
  }

  /** Bytes each outbound data packet grows by (MPPE header + inner protocol) while MPPE is on. */
  get txOverhead(): number {
    return this.encryptor ? MPPE_OVERHEAD : 0;
  }

  /**
   * A data packet from the peer, after PPP framing (and MPPE, when `encrypted`) was removed. True =
   * pass it up; false = dropped and counted.
   */
  admitIn(protocol: number, packet: Buffer, encrypted: boolean): boolean {
    if (this.held || (protocol === PPP_IPV4 ? !this.ipv4Open : protocol === PPP_IPV6 ? !this.ipv6Open : true)) return this.drop('not-open');
    if (!this.lowerVerified) return this.drop('unverified');
    if ((this.decryptor !== undefined && !encrypted) || this.heldForMppe) return this.drop('mppe');
    const version = packet.length > 0 ? packet[0]! >> 4 : 0;
    const wellFormed = protocol === PPP_IPV4 ? version === 4 && packet.length >= IPV4_HEADER : version === 6 && packet.length >= IPV6_HEADER;
    if (!wellFormed) return this.drop('malformed');
    if (this.sources && !this.sources.admits(packet)) return this.drop('source', packet);
    return true;
  }

  /**
   * The PPP protocol to send an IP packet under (by its version nibble), or 0 when it may not go now:
   * its NCP is not Opened, the session is held, the binding is not verified, or MPPE is required and not up. Not counted:
   * the host's traffic that races link setup or teardown is not the peer's doing.
   */
  protocolOut(versionNibble: number): number {
    const protocol = versionNibble === 4 && this.ipv4Open ? PPP_IPV4 : versionNibble === 6 && this.ipv6Open ? PPP_IPV6 : 0;
    if (protocol === 0 || this.held || !this.lowerVerified || this.heldForMppe) return 0;
    return protocol;
  }

  /** Counts an outbound packet that was too large to frame. */
  oversize(): void {
    this.drop('oversize');
  }

  /** Counts a dropped packet; always false, so callers can `return this.drop(...)`. */
  drop(reason: DropReason, packet?: Buffer): false {
    if (this.drops[reason]++ === 0) this.firsts.push(packet ? { reason, source: sourceOf(packet) } : { reason });
    return false;
  }

  /** The drops that were the first of their reason since the last call (usually none). */
  takeFirstDrops(): readonly FirstDrop[] {
    if (this.firsts.length === 0) return NONE;
    return this.firsts.splice(0);
  }

  /** The link went down: nothing moves until the owner opens it again. */
  close(): void {
    this.ipv4Open = false;
    this.ipv6Open = false;
    this.encryptor = undefined;
    this.decryptor = undefined;
  }
}

/** The source address of a well-formed IPv4 or IPv6 packet, as text. */
function sourceOf(packet: Buffer): string {
  if (packet[0]! >> 4 === 4) return `${packet[12]}.${packet[13]}.${packet[14]}.${packet[15]}`;
  return formatIpv6(packet.subarray(8, 24));
}
