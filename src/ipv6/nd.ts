/**
 * Router Advertisements on one PPP link (RFC 4861 §4.2/§6.2, RFC 8106 RDNSS): the server is the
 * router. We answer Router Solicitations at once (unicast to the soliciting link-local), send a few
 * initial RAs once IPV6CP is up, then one every MinRtrAdvInterval..MaxRtrAdvInterval (accel-ppp's
 * defaults: 200..600 s, router lifetime 1800 s, prefix valid 30 days / preferred 7 days).
 * No Source Link-Layer Address option: PPP has no link layer. Sans-I/O: `now` in, packets out.
 */
import type { Millis } from '../common/time.js';
import type { Prefix6 } from '../ip/ipv6-addr.js';
import { ALL_NODES, NH_ICMPV6, UNSPECIFIED, buildIpv6Packet, checksumOk, type Ipv6Packet } from './packet.js';

export const ICMP6_RS = 133;
export const ICMP6_RA = 134;
export const ICMP6_REDIRECT = 137;
const OPT_PREFIX_INFO = 3;
const OPT_MTU = 5;
const OPT_RDNSS = 25;
const PI_ONLINK = 0x80;
const PI_AUTONOMOUS = 0x40;
const RA_OTHER_CONFIG = 0x40;

export interface RaConfig {
  /** Our link-local address (fe80::IID), the RA source. */
  readonly source: Buffer;
  /** The session's prefix; Autonomous (SLAAC) is set only for a /64, as SLAAC needs one. */
  readonly prefix: Prefix6;
  readonly mtu: number;
  /** ≤ 3 IPv6 name servers for RDNSS. */
  readonly dns: readonly Buffer[];
  /** O flag: "other configuration" (DNS) is also available by DHCPv6 Information-Request. */
  readonly otherConfig: boolean;
  readonly maxIntervalS?: number;
  readonly minIntervalS?: number;
  readonly routerLifetimeS?: number;
  readonly validLifetimeS?: number;
  readonly preferredLifetimeS?: number;
}

export const RA_DEFAULTS = {
  maxIntervalS: 600,
  minIntervalS: 200,
  routerLifetimeS: 1800,
  validLifetimeS: 2_592_000,
  preferredLifetimeS: 604_800,
  /** Initial unsolicited RAs after IPV6CP opens, and their spacing (RFC 4861 caps the spacing at 16 s). */
  initialCount: 3,
  initialSpacingMs: 3000,
  firstDelayMs: 500,
} as const;

/** The ICMPv6 body of an RA (checksum left 0; buildIpv6Packet fills it). */
export function buildRouterAdvertisement(c: RaConfig): Buffer {
  const parts: Buffer[] = [];
  const head = Buffer.alloc(16);
  head[0] = ICMP6_RA;
  head[4] = 64; // Cur Hop Limit
  head[5] = c.otherConfig ? RA_OTHER_CONFIG : 0;
  head.writeUInt16BE(c.routerLifetimeS ?? RA_DEFAULTS.routerLifetimeS, 6);
  parts.push(head);

  const pi = Buffer.alloc(32);
  pi[0] = OPT_PREFIX_INFO;
  pi[1] = 4;
  pi[2] = c.prefix.len;
  pi[3] = PI_ONLINK | (c.prefix.len === 64 ? PI_AUTONOMOUS : 0);
  pi.writeUInt32BE(c.validLifetimeS ?? RA_DEFAULTS.validLifetimeS, 4);
  pi.writeUInt32BE(c.preferredLifetimeS ?? RA_DEFAULTS.preferredLifetimeS, 8);
  c.prefix.addr.copy(pi, 16);
  parts.push(pi);

  const mtu = Buffer.alloc(8);
  mtu[0] = OPT_MTU;
  mtu[1] = 1;
  mtu.writeUInt32BE(c.mtu, 4);
  parts.push(mtu);

  if (c.dns.length > 0) {
    const rdnss = Buffer.alloc(8 + 16 * c.dns.length);
    rdnss[0] = OPT_RDNSS;
    rdnss[1] = 1 + 2 * c.dns.length;
    // RFC 8106 §5.1: at least 3 × MaxRtrAdvInterval.
    rdnss.writeUInt32BE(3 * (c.maxIntervalS ?? RA_DEFAULTS.maxIntervalS), 4);
    c.dns.forEach((a, i) => a.copy(rdnss, 8 + 16 * i));
    parts.push(rdnss);
  }
  return Buffer.concat(parts);
}

/** A valid Router Solicitation (RFC 4861 §6.1.1): hop limit 255, code 0, ≥ 8 bytes, checksum. */
export function isValidRouterSolicitation(pkt: Ipv6Packet): boolean {
  const icmp = pkt.payload;
  return (
    pkt.nextHeader === NH_ICMPV6 &&
    icmp.length >= 8 &&
    icmp[0] === ICMP6_RS &&
    icmp[1] === 0 &&
    pkt.hopLimit === 255 &&
    checksumOk(pkt)
  );
}

/** Solicited answers are rate-limited: a hostile client cannot turn RS into an RA flood. */
const RS_BURST = 5;
const RS_REFILL_MS = 1000;

export class RouterAdvertiser {
  private readonly out: Buffer[] = [];
  private next: Millis | undefined;
  private initialLeft: number = RA_DEFAULTS.initialCount;
  private tokens = RS_BURST;
  private refilledAt: Millis;

  constructor(private readonly cfg: RaConfig, private readonly random: (n: number) => Buffer, now: Millis) {
    this.refilledAt = now;
    this.next = now + RA_DEFAULTS.firstDelayMs;
  }

  /** A valid RS from the client: answer now, unicast (or to all nodes if it came from ::). */
  solicited(now: Millis, from: Buffer): boolean {
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens--;
    this.out.push(this.packet(from.equals(UNSPECIFIED) ? ALL_NODES : from));
    return true;
  }

  handleTimeout(now: Millis): void {
    if (this.next === undefined || now < this.next) return;
    this.out.push(this.packet(ALL_NODES));
    if (this.initialLeft > 1) {
      this.initialLeft--;
      this.next = now + RA_DEFAULTS.initialSpacingMs;
    } else {
      this.initialLeft = 0;
      this.next = now + this.periodMs();
    }
  }

  nextDeadline(): Millis | undefined {
    return this.next;
  }

  /** IPv6 packets to send to the client. */
  poll(): Buffer[] {
    return this.out.splice(0, this.out.length);
  }

  stop(): void {
    this.next = undefined;
  }

  private periodMs(): number {
    const min = (this.cfg.minIntervalS ?? RA_DEFAULTS.minIntervalS) * 1000;
    const max = (this.cfg.maxIntervalS ?? RA_DEFAULTS.maxIntervalS) * 1000;
    return min + (this.random(2).readUInt16BE(0) / 0xffff) * (max - min);
  }

  private refill(now: Millis): void {
    const gained = Math.floor((now - this.refilledAt) / RS_REFILL_MS);
    if (gained <= 0) return;
    this.tokens = Math.min(RS_BURST, this.tokens + gained);
    this.refilledAt += gained * RS_REFILL_MS;
  }

  private packet(dst: Buffer): Buffer {
    return buildIpv6Packet(this.cfg.source, dst, NH_ICMPV6, 255, buildRouterAdvertisement(this.cfg));
  }
}
