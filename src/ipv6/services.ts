/**
 * The IPv6 services of one session, run on the session's own IPv6 stream (ppp.md §9): what the
 * client sends to a router or DHCPv6 server on the link is answered here, in user space, instead
 * of through kernel sockets on the TUN device. Router Solicitations get an RA, DHCPv6 (UDP 547 to
 * ff02::1:2 or to our link-local) gets the DHCPv6 server; RAs and Redirects *from* the client are
 * dropped (a client is never our router). Everything else goes on to the kernel.
 */
import type { Millis } from '../common/time.js';
import { formatPrefix6, type Prefix6 } from '../ip/ipv6-addr.js';
import { Dhcpv6Server, type PrefixSource } from './dhcpv6.js';
import { ICMP6_RA, ICMP6_REDIRECT, ICMP6_RS, RouterAdvertiser, isValidRouterSolicitation } from './nd.js';
import { ALL_DHCP, NH_ICMPV6, NH_UDP, buildIpv6Packet, buildUdp, checksumOk, parseIpv6Packet, parseUdp } from './packet.js';

export const DHCP6_SERVER_PORT = 547;
export const DHCP6_CLIENT_PORT = 546;

export interface Ipv6ServicesConfig {
  /** fe80::<our IPV6CP interface id>: the source of everything we send. */
  readonly linkLocal: Buffer;
  /** The session's prefix (from `client-ipv6-pool prefix`), announced by RA. */
  readonly prefix: Prefix6;
  readonly mtu: number;
  readonly dns: readonly Buffer[];
  readonly serverDuid: Buffer;
  /** The delegate pool bound to this session; absent without `client-ipv6-pool delegate`. */
  readonly delegation?: PrefixSource;
  readonly random: (n: number) => Buffer;
}

export type Ipv6ServiceEvent =
  /** An IPv6 packet for the client. */
  | { readonly type: 'packet'; readonly packet: Buffer }
  | { readonly type: 'pd-bound'; readonly prefix: Prefix6 }
  | { readonly type: 'pd-released'; readonly prefix: Prefix6 }
  | { readonly type: 'log'; readonly level: 'debug' | 'info'; readonly event: string; readonly fields: Record<string, string | number> };

export class Ipv6Services {
  private readonly ra: RouterAdvertiser;
  private readonly dhcp: Dhcpv6Server;
  private readonly out: Ipv6ServiceEvent[] = [];

  constructor(private readonly cfg: Ipv6ServicesConfig, now: Millis) {
    this.ra = new RouterAdvertiser(
      { source: cfg.linkLocal, prefix: cfg.prefix, mtu: cfg.mtu, dns: cfg.dns, otherConfig: cfg.dns.length > 0 },
      cfg.random,
      now,
    );
    this.dhcp = new Dhcpv6Server({ serverDuid: cfg.serverDuid, dns: cfg.dns, ...(cfg.delegation ? { prefixes: cfg.delegation } : {}) });
  }

  /** The prefix delegated to the client, once committed. */
  get delegatedPrefix(): Prefix6 | undefined {
    return this.dhcp.committed ? this.dhcp.delegated : undefined;
  }

  /** An IPv6 packet from the client: true when it was for us (answered or dropped), false = kernel's. */
  intercept(now: Millis, packet: Buffer): boolean {
    const pkt = parseIpv6Packet(packet);
    if (!pkt) return false;
    if (pkt.nextHeader === NH_ICMPV6 && pkt.payload.length >= 4) {
      const type = pkt.payload[0];
      if (type === ICMP6_RS) {
        if (isValidRouterSolicitation(pkt) && this.ra.solicited(now, Buffer.from(pkt.src))) this.flushRa();
        return true;
      }
      if (type === ICMP6_RA || type === ICMP6_REDIRECT) {
        this.log('debug', 'ipv6-client-router-message-dropped', { icmpType: type });
        return true;
      }
      return false;
    }
    if (pkt.nextHeader !== NH_UDP) return false;
    const udp = parseUdp(pkt.payload);
    if (!udp || udp.dstPort !== DHCP6_SERVER_PORT) return false;
    if (!pkt.dst.equals(ALL_DHCP) && !pkt.dst.equals(this.cfg.linkLocal)) return false;
    if (!checksumOk(pkt)) return true;
    this.dhcpv6(Buffer.from(pkt.src), udp.srcPort, udp.data);
    return true;
  }

  handleTimeout(now: Millis): void {
    this.ra.handleTimeout(now);
    this.flushRa();
  }

  nextDeadline(): Millis | undefined {
    return this.ra.nextDeadline();
  }

  poll(): Ipv6ServiceEvent[] {
    return this.out.splice(0, this.out.length);
  }

  /** The session is over: stop advertising, give a delegated prefix back to its pool. */
  close(): void {
    this.ra.stop();
    this.dhcp.close();
  }

  private dhcpv6(src: Buffer, srcPort: number, data: Buffer): void {
    for (const ev of this.dhcp.handle(data)) {
      switch (ev.type) {
        case 'reply': {
          const udp = buildUdp(DHCP6_SERVER_PORT, srcPort || DHCP6_CLIENT_PORT, ev.message);
          this.out.push({ type: 'packet', packet: buildIpv6Packet(this.cfg.linkLocal, src, NH_UDP, 255, udp) });
          break;
        }
        case 'bound':
          this.log('info', 'dhcpv6-pd-bound', { prefix: formatPrefix6(ev.prefix) });
          this.out.push({ type: 'pd-bound', prefix: ev.prefix });
          break;
        case 'released':
          this.log('info', 'dhcpv6-pd-released', { prefix: formatPrefix6(ev.prefix) });
          this.out.push({ type: 'pd-released', prefix: ev.prefix });
          break;
        case 'ignored':
          this.log('debug', 'dhcpv6-ignored', { reason: ev.reason });
          break;
      }
    }
  }

  private flushRa(): void {
    for (const p of this.ra.poll()) this.out.push({ type: 'packet', packet: p });
  }

  private log(level: 'debug' | 'info', event: string, fields: Record<string, string | number>): void {
    this.out.push({ type: 'log', level, event, fields });
  }
}
