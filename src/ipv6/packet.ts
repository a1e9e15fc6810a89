/**
 * Just enough IPv6 to answer on a PPP link from user space: the fixed header (no extension headers:
 * what carries one is not ours and goes to the kernel), ICMPv6/UDP with the pseudo-header checksum.
 * Decoders never throw; anything malformed is `undefined` and left to the kernel or dropped.
 */
export const IPV6_HEADER = 40;
export const NH_UDP = 17;
export const NH_ICMPV6 = 58;

export interface Ipv6Packet {
  readonly src: Buffer;
  readonly dst: Buffer;
  readonly nextHeader: number;
  readonly hopLimit: number;
  /** The upper-layer bytes, a view bounded by Payload Length. */
  readonly payload: Buffer;
}

export function parseIpv6Packet(p: Buffer): Ipv6Packet | undefined {
  if (p.length < IPV6_HEADER || p[0]! >> 4 !== 6) return undefined;
  const len = p.readUInt16BE(4);
  if (IPV6_HEADER + len > p.length) return undefined;
  return {
    src: p.subarray(8, 24),
    dst: p.subarray(24, 40),
    nextHeader: p[6]!,
    hopLimit: p[7]!,
    payload: p.subarray(IPV6_HEADER, IPV6_HEADER + len),
  };
}

/** RFC 8200 §8.1 pseudo-header + upper-layer one's-complement sum. `upper`'s checksum field must be 0 or valid. */
export function upperChecksum(src: Uint8Array, dst: Uint8Array, nextHeader: number, upper: Uint8Array): number {
  let sum = 0;
  const add16 = (b: Uint8Array, len: number): void => {
    for (let i = 0; i + 1 < len; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
    if (len & 1) sum += b[len - 1]! << 8;
  };
  add16(src, 16);
  add16(dst, 16);
  sum += (upper.length >>> 16) + (upper.length & 0xffff) + nextHeader;
  add16(upper, upper.length);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** True when the upper-layer checksum (at its usual place) verifies. */
export function checksumOk(pkt: Ipv6Packet): boolean {
  return upperChecksum(pkt.src, pkt.dst, pkt.nextHeader, pkt.payload) === 0;
}

/** An IPv6 packet around `upper`, filling the ICMPv6 (offset 2) or UDP (offset 6) checksum. */
export function buildIpv6Packet(src: Buffer, dst: Buffer, nextHeader: number, hopLimit: number, upper: Buffer): Buffer {
  const out = Buffer.alloc(IPV6_HEADER + upper.length);
  out[0] = 0x60;
  out.writeUInt16BE(upper.length, 4);
  out[6] = nextHeader;
  out[7] = hopLimit;
  src.copy(out, 8);
  dst.copy(out, 24);
  upper.copy(out, IPV6_HEADER);
  const at = nextHeader === NH_ICMPV6 ? 2 : nextHeader === NH_UDP ? 6 : -1;
  if (at >= 0) {
    const body = out.subarray(IPV6_HEADER);
    body.writeUInt16BE(0, at);
    let c = upperChecksum(src, dst, nextHeader, body);
    if (nextHeader === NH_UDP && c === 0) c = 0xffff; // RFC 768: zero means "no checksum"
    body.writeUInt16BE(c, at);
  }
  return out;
}

export interface UdpDatagram {
  readonly srcPort: number;
  readonly dstPort: number;
  readonly data: Buffer;
}

export function parseUdp(payload: Buffer): UdpDatagram | undefined {
  if (payload.length < 8) return undefined;
  const len = payload.readUInt16BE(4);
  if (len < 8 || len > payload.length) return undefined;
  return { srcPort: payload.readUInt16BE(0), dstPort: payload.readUInt16BE(2), data: payload.subarray(8, len) };
}

export function buildUdp(srcPort: number, dstPort: number, data: Buffer): Buffer {
  const out = Buffer.alloc(8 + data.length);
  out.writeUInt16BE(srcPort, 0);
  out.writeUInt16BE(dstPort, 2);
  out.writeUInt16BE(out.length, 4);
  data.copy(out, 8);
  return out;
}

/** ff02::1, all nodes; ff02::2, all routers; ff02::1:2, all DHCP relay agents and servers. */
export const ALL_NODES = Buffer.from('ff020000000000000000000000000001', 'hex');
export const ALL_ROUTERS = Buffer.from('ff020000000000000000000000000002', 'hex');
export const ALL_DHCP = Buffer.from('ff020000000000000000000000010002', 'hex');
export const UNSPECIFIED = Buffer.alloc(16);
