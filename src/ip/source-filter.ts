/**
 * Source address validation at the edge (BCP 38 / RFC 2827, RFC 3704): a session's client may send
 * only from what it was given. The kernel's rp_filter is no substitute: loose mode passes anything
 * routable, and the kernel does not know a session's RADIUS Framed-Routes.
 *
 * IPv4: the session's address, or inside one of its Framed-Routes (the networks behind the client).
 * IPv6: inside the session's prefix or its delegated prefix, the client's link-local address, or
 * the unspecified address to a link-scope multicast group (DAD and solicitations, which never leave
 * the link).
 *
 * Called for every packet from the client: IPv4 is one 32-bit compare in the common case, and
 * nothing allocates.
 */
import { parseIpv4 } from '../config/values.js';
import { parseAddress6, type Prefix6 } from './ipv6-addr.js';

interface V4Net {
  readonly net: number;
  readonly mask: number;
}

const maskOf = (len: number): number => (len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0);

/** Fits the data gate's SourcePolicy (src/ppp/data-gate.ts). */
export class SourceFilter {
  private v4Host: number | undefined;
  private v4Nets: V4Net[] = [];
  private v6Prefixes: Prefix6[] = [];
  private v6LinkLocal: Buffer | undefined;

  /** The session's IPv4 address (undefined: none). */
  setIpv4(address: string | undefined): void {
    this.v4Host = address === undefined ? undefined : parseIpv4(address);
  }

  /** Networks routed to the client ("a.b.c.d/len", RADIUS Framed-Route); malformed ones are skipped. */
  setIpv4Routes(prefixes: readonly string[]): void {
    this.v4Nets = [];
    for (const p of prefixes) {
      const [addr, lenText] = p.split('/');
      const ip = parseIpv4(addr ?? '');
      const len = lenText === undefined ? 32 : Number(lenText);
      if (ip === undefined || !Number.isInteger(len) || len < 0 || len > 32) continue;
      const mask = maskOf(len);
      this.v4Nets.push({ net: (ip & mask) >>> 0, mask });
    }
  }

  /** Adds an IPv6 prefix the client may send from (the session prefix, a delegated prefix). */
  addIpv6Prefix(prefix: Prefix6): void {
    if (!this.v6Prefixes.some((p) => p.len === prefix.len && p.addr.equals(prefix.addr))) this.v6Prefixes.push(prefix);
  }

  removeIpv6Prefix(prefix: Prefix6): void {
    this.v6Prefixes = this.v6Prefixes.filter((p) => !(p.len === prefix.len && p.addr.equals(prefix.addr)));
  }

  /** The client's link-local address from IPV6CP ("fe80::…"). */
  setIpv6LinkLocal(address: string | undefined): void {
    this.v6LinkLocal = address === undefined ? undefined : parseAddress6(address);
  }

  admits(packet: Buffer): boolean {
    return packet[0]! >> 4 === 4 ? this.admitsV4(packet.readUInt32BE(12)) : this.admitsV6(packet);
  }

  private admitsV4(src: number): boolean {
    if (src === this.v4Host) return true;
    for (const n of this.v4Nets) if (((src & n.mask) >>> 0) === n.net) return true;
    return false;
  }

  private admitsV6(packet: Buffer): boolean {
    for (const p of this.v6Prefixes) if (inPrefix(packet, 8, p)) return true;
    const ll = this.v6LinkLocal;
    if (ll && packet.compare(ll, 0, 16, 8, 24) === 0) return true;
    return isUnspecified(packet, 8) && packet[24] === 0xff && (packet[25]! & 0x0f) === 0x02;
  }
}

/** The 16 bytes at `off` lie inside `p`. */
function inPrefix(buf: Buffer, off: number, p: Prefix6): boolean {
  const whole = p.len >> 3;
  for (let i = 0; i < whole; i++) if (buf[off + i] !== p.addr[i]) return false;
  const bits = p.len & 7;
  if (bits === 0) return true;
  const mask = (0xff << (8 - bits)) & 0xff;
  return (buf[off + whole]! & mask) === (p.addr[whole]! & mask);
}

function isUnspecified(buf: Buffer, off: number): boolean {
  for (let i = 0; i < 16; i++) if (buf[off + i] !== 0) return false;
  return true;
}
