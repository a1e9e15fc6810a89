/**
 * A reference for the TUN offload tests, written from the RFCs and the Linux GSO/GRO rules rather
 * than from native/offload.cc: Internet checksums, IPv4/IPv6 + TCP/UDP packet builders, the segments
 * the kernel's GSO makes of a super-packet, and the test for whether Linux GRO would let a TCP
 * segment join the group before it.
 */

/** RFC 1071 one's complement sum of 16-bit big-endian words, folded (not inverted). */
export function onesSum(bytes: Uint8Array, start = 0): number {
  let sum = start;
  for (let i = 0; i + 1 < bytes.length; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
  if (bytes.length % 2 === 1) sum += bytes[bytes.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

export const TCP = 6;
export const UDP = 17;
export const FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10, URG = 0x20, ECE = 0x40, CWR = 0x80;

export function isV6(p: Uint8Array): boolean {
  return p[0]! >> 4 === 6;
}
export function l4Offset(p: Uint8Array): number {
  return isV6(p) ? 40 : (p[0]! & 0x0f) * 4;
}

/** Sum of the pseudo header for a transport segment of `l4len` bytes. */
export function pseudoSum(p: Uint8Array, proto: number, l4len: number): number {
  const addrs = isV6(p) ? p.subarray(8, 40) : p.subarray(12, 20);
  return onesSum(Uint8Array.from([0, proto, l4len >> 8, l4len & 0xff]), onesSum(addrs));
}

/** True when the IPv4 header (if any) and the transport checksum of a whole packet verify. */
export function checksumsValid(p: Buffer): boolean {
  const l4 = l4Offset(p);
  const proto = isV6(p) ? p[6]! : p[9]!;
  if (!isV6(p) && onesSum(p.subarray(0, l4)) !== 0xffff) return false;
  return onesSum(p.subarray(l4), pseudoSum(p, proto, p.length - l4)) === 0xffff;
}

export interface FlowSpec {
  readonly v6: boolean;
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  readonly sport: number;
  readonly dport: number;
  readonly ttl: number;
  readonly tos: number;
  readonly df: boolean;
  readonly flowLabel: number;
}

export interface TcpSpec {
  readonly seq: number;
  readonly ack: number;
  readonly flags: number;
  readonly window: number;
  readonly options: Uint8Array;
  readonly id: number;
}

/** A complete IPv4/IPv6 + TCP packet with valid checksums (or the pseudo-header sum only, `partial`). */
export function tcpPacket(f: FlowSpec, t: TcpSpec, payload: Uint8Array, partial = false): Buffer {
  const ipLen = f.v6 ? 40 : 20;
  const th = 20 + t.options.length;
  const p = Buffer.alloc(ipLen + th + payload.length);
  if (f.v6) {
    p.writeUInt32BE(((6 << 28) | (f.tos << 20) | f.flowLabel) >>> 0, 0);
    p.writeUInt16BE(th + payload.length, 4);
    p[6] = TCP;
    p[7] = f.ttl;
    p.set(f.src, 8);
    p.set(f.dst, 24);
  } else {
    p[0] = 0x45;
    p[1] = f.tos;
    p.writeUInt16BE(p.length, 2);
    p.writeUInt16BE(t.id & 0xffff, 4);
    p.writeUInt16BE(f.df ? 0x4000 : 0, 6);
    p[8] = f.ttl;
    p[9] = TCP;
    p.set(f.src, 12);
    p.set(f.dst, 16);
    p.writeUInt16BE(~onesSum(p.subarray(0, 20)) & 0xffff, 10);
  }
  const o = ipLen;
  p.writeUInt16BE(f.sport, o);
  p.writeUInt16BE(f.dport, o + 2);
  p.writeUInt32BE(t.seq >>> 0, o + 4);
  p.writeUInt32BE(t.ack >>> 0, o + 8);
  p[o + 12] = (th / 4) << 4;
  p[o + 13] = t.flags;
  p.writeUInt16BE(t.window, o + 14);
  p.set(t.options, o + 20);
  p.set(payload, o + th);
  const ps = pseudoSum(p, TCP, p.length - o);
  p.writeUInt16BE(partial ? ps : ~onesSum(p.subarray(o), ps) & 0xffff, o + 16);
  return p;
}

/** An IPv4/IPv6 + UDP packet with valid checksums (or the pseudo-header sum only, `partial`). */
export function udpPacket(f: FlowSpec, id: number, payload: Uint8Array, partial = false): Buffer {
  const ipLen = f.v6 ? 40 : 20;
  const p = Buffer.alloc(ipLen + 8 + payload.length);
  if (f.v6) {
    p.writeUInt32BE(((6 << 28) | (f.tos << 20) | f.flowLabel) >>> 0, 0);
    p.writeUInt16BE(8 + payload.length, 4);
    p[6] = UDP;
    p[7] = f.ttl;
    p.set(f.src, 8);
    p.set(f.dst, 24);
  } else {
    p[0] = 0x45;
    p[1] = f.tos;
    p.writeUInt16BE(p.length, 2);
    p.writeUInt16BE(id & 0xffff, 4);
    p.writeUInt16BE(f.df ? 0x4000 : 0, 6);
    p[8] = f.ttl;
    p[9] = UDP;
    p.set(f.src, 12);
    p.set(f.dst, 16);
    p.writeUInt16BE(~onesSum(p.subarray(0, 20)) & 0xffff, 10);
  }
  p.writeUInt16BE(f.sport, ipLen);
  p.writeUInt16BE(f.dport, ipLen + 2);
  p.writeUInt16BE(8 + payload.length, ipLen + 4);
  p.set(payload, ipLen + 8);
  const ps = pseudoSum(p, UDP, p.length - ipLen);
  let c = partial ? ps : ~onesSum(p.subarray(ipLen), ps) & 0xffff;
  if (!partial && c === 0) c = 0xffff;
  p.writeUInt16BE(c, ipLen + 6);
  return p;
}

/** virtio_net_hdr bytes (host order, little-endian here). */
export function vnetHdr(h: { flags: number; gsoType: number; hdrLen: number; gsoSize: number; csumStart: number; csumOffset: number }): Buffer {
  const b = Buffer.alloc(10);
  b[0] = h.flags;
  b[1] = h.gsoType;
  b.writeUInt16LE(h.hdrLen, 2);
  b.writeUInt16LE(h.gsoSize, 4);
  b.writeUInt16LE(h.csumStart, 6);
  b.writeUInt16LE(h.csumOffset, 8);
  return b;
}

/**
 * The packets Linux GSO makes of a TCP super-packet (tcp_gso_segment + inet_gso_segment /
 * ipv6_gso_segment): `seg` payload bytes each, IPv4 ID +1 per segment, FIN/PSH kept on the last
 * segment only, CWR on the first only, full checksums.
 */
export function referenceTcpSegments(f: FlowSpec, t: TcpSpec, payload: Uint8Array, seg: number): Buffer[] {
  const out: Buffer[] = [];
  const n = Math.ceil(payload.length / seg);
  for (let i = 0; i < n; i++) {
    let flags = t.flags;
    if (i < n - 1) flags &= ~(FIN | PSH);
    if (i > 0) flags &= ~CWR;
    const spec = { ...t, seq: (t.seq + i * seg) >>> 0, flags, id: (t.id + i) & 0xffff };
    out.push(tcpPacket(f, spec, payload.subarray(i * seg, Math.min(payload.length, (i + 1) * seg))));
  }
  return out;
}

/** UDP GSO (USO): one datagram per `seg` bytes, IPv4 ID +1 per datagram. */
export function referenceUdpSegments(f: FlowSpec, id: number, payload: Uint8Array, seg: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i * seg < payload.length; i++) out.push(udpPacket(f, id + i, payload.subarray(i * seg, Math.min(payload.length, (i + 1) * seg))));
  return out;
}

/** What one GRO group has seen so far, for `groJoins`. */
export interface GroGroup {
  readonly head: Buffer;
  readonly count: number;
  readonly mss: number;
  readonly total: number;
  readonly nextSeq: number;
  readonly lastId: number;
  readonly idStep: number | undefined;
  readonly closed: boolean;
}

/** The TCP view of a packet Linux GRO would consider at all (exact lengths, data, plain flags, good sums). */
export function groCandidate(p: Buffer): { l4: number; th: number; payload: number } | undefined {
  if (p.length < 40) return undefined;
  const v6 = isV6(p);
  if (v6 ? p[6] !== TCP || p.readUInt16BE(4) !== p.length - 40 : p[0] !== 0x45 || p[9] !== TCP || p.readUInt16BE(2) !== p.length || (p.readUInt16BE(6) & 0x3fff) !== 0) return undefined;
  const l4 = v6 ? 40 : 20;
  const th = (p[l4 + 12]! >> 4) * 4;
  if (th < 20 || l4 + th >= p.length) return undefined;
  const flags = p[l4 + 13]!;
  if (!(flags & ACK) || flags & (SYN | FIN | RST | URG | CWR)) return undefined;
  if (!checksumsValid(p)) return undefined;
  return { l4, th, payload: p.length - l4 - th };
}

export const GRO_MAX_SEGMENTS = 64;

/** May `p` join group `g` (the rules of Linux tcp_gro_receive / inet_gro_receive / ipv6_gro_receive)? */
export function groJoins(g: GroGroup, p: Buffer): boolean {
  const c = groCandidate(p);
  const h = g.head;
  const hc = groCandidate(h);
  if (!c || !hc || g.closed || g.count >= GRO_MAX_SEGMENTS) return false;
  if (c.l4 !== hc.l4 || c.th !== hc.th || c.payload > g.mss) return false;
  if (g.total + c.payload > 65535 + (isV6(p) ? 40 : 0)) return false;
  if (isV6(p)) {
    if (!h.subarray(0, 4).equals(p.subarray(0, 4)) || h[7] !== p[7] || !h.subarray(8, 40).equals(p.subarray(8, 40))) return false;
  } else if (h[1] !== p[1] || (h[6]! & 0x40) !== (p[6]! & 0x40) || h[8] !== p[8] || !h.subarray(12, 20).equals(p.subarray(12, 20))) {
    return false;
  }
  const a = h.subarray(c.l4, c.l4 + c.th);
  const b = p.subarray(c.l4, c.l4 + c.th);
  if (!a.subarray(0, 4).equals(b.subarray(0, 4)) || !a.subarray(8, 13).equals(b.subarray(8, 13)) || !a.subarray(14, 16).equals(b.subarray(14, 16))) return false;
  if (!a.subarray(20).equals(b.subarray(20)) || ((a[13]! ^ b[13]!) & ~PSH) !== 0) return false;
  if (b.readUInt32BE(4) !== g.nextSeq) return false;
  if (!isV6(p)) {
    const step = (p.readUInt16BE(4) - g.lastId) & 0xffff;
    const df = (p[6]! & 0x40) !== 0;
    if (g.idStep === undefined ? !(step === 1 || (df && step === 0)) : step !== g.idStep) return false;
  }
  return true;
}

/** The group state after `p` joined (or started) it. */
export function groAdvance(g: GroGroup | undefined, p: Buffer): GroGroup {
  const c = groCandidate(p);
  const l4 = l4Offset(p);
  const payload = c ? c.payload : 0;
  const seq = p.length >= l4 + 8 ? p.readUInt32BE(l4 + 4) : 0;
  const id = isV6(p) ? 0 : p.readUInt16BE(4);
  const psh = c ? (p[l4 + 13]! & PSH) !== 0 : true;
  if (!g) return { head: p, count: 1, mss: payload, total: p.length, nextSeq: (seq + payload) >>> 0, lastId: id, idStep: undefined, closed: psh || !c };
  return {
    head: g.head,
    count: g.count + 1,
    mss: g.mss,
    total: g.total + payload,
    nextSeq: (seq + payload) >>> 0,
    lastId: id,
    idStep: g.idStep ?? (isV6(p) ? undefined : (id - g.lastId) & 0xffff),
    closed: psh || payload < g.mss,
  };
}
