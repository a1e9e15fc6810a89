/**
 * Client-side IPv6 packets for tests: Router Solicitation, ICMPv6 echo, DHCPv6 client messages,
 * and parsers for what the server answers (RA options, DHCPv6 IA_PD / DNS / status).
 */
import { parseAddress6, formatIpv6 } from '../../src/ip/ipv6-addr.js';
import { ALL_DHCP, ALL_ROUTERS, NH_ICMPV6, NH_UDP, buildIpv6Packet, buildUdp, checksumOk, parseIpv6Packet, parseUdp } from '../../src/ipv6/packet.js';
import { MSG, OPT, decodeMessage, encodeMessage, encodeOption, type Dhcpv6Message } from '../../src/ipv6/dhcpv6.js';

export const addr6 = (s: string): Buffer => {
  const a = parseAddress6(s);
  if (!a) throw new Error(`bad IPv6 address ${s}`);
  return a;
};

export function routerSolicitation(src: string, hopLimit = 255): Buffer {
  return buildIpv6Packet(addr6(src), ALL_ROUTERS, NH_ICMPV6, hopLimit, Buffer.from([133, 0, 0, 0, 0, 0, 0, 0]));
}

export function icmp6EchoRequest(src: string, dst: string, id: number, seq: number, payload = Buffer.alloc(16)): Buffer {
  const body = Buffer.alloc(8 + payload.length);
  body[0] = 128;
  body.writeUInt16BE(id, 4);
  body.writeUInt16BE(seq, 6);
  payload.copy(body, 8);
  return buildIpv6Packet(addr6(src), addr6(dst), NH_ICMPV6, 64, body);
}

export function parseIcmp6EchoReply(p: Buffer): { src: string; id: number; seq: number } | undefined {
  const pkt = parseIpv6Packet(p);
  if (!pkt || pkt.nextHeader !== NH_ICMPV6 || pkt.payload[0] !== 129 || !checksumOk(pkt)) return undefined;
  return { src: formatIpv6(pkt.src), id: pkt.payload.readUInt16BE(4), seq: pkt.payload.readUInt16BE(6) };
}

export interface ParsedRa {
  readonly src: string;
  readonly dst: string;
  readonly hopLimit: number;
  readonly routerLifetime: number;
  readonly otherConfig: boolean;
  readonly managed: boolean;
  readonly prefix?: { readonly prefix: string; readonly len: number; readonly onLink: boolean; readonly autonomous: boolean; readonly valid: number; readonly preferred: number };
  readonly mtu?: number;
  readonly rdnss: readonly string[];
  readonly checksumOk: boolean;
}

export function parseRouterAdvertisement(p: Buffer): ParsedRa | undefined {
  const pkt = parseIpv6Packet(p);
  if (!pkt || pkt.nextHeader !== NH_ICMPV6 || pkt.payload[0] !== 134) return undefined;
  const b = pkt.payload;
  let prefix: ParsedRa['prefix'];
  let mtu: number | undefined;
  const rdnss: string[] = [];
  for (let o = 16; o + 2 <= b.length; ) {
    const type = b[o]!;
    const len = b[o + 1]! * 8;
    if (len === 0) break;
    if (type === 3) {
      prefix = {
        prefix: formatIpv6(b.subarray(o + 16, o + 32)),
        len: b[o + 2]!,
        onLink: (b[o + 3]! & 0x80) !== 0,
        autonomous: (b[o + 3]! & 0x40) !== 0,
        valid: b.readUInt32BE(o + 4),
        preferred: b.readUInt32BE(o + 8),
      };
    } else if (type === 5) mtu = b.readUInt32BE(o + 4);
    else if (type === 25) for (let a = o + 8; a + 16 <= o + len; a += 16) rdnss.push(formatIpv6(b.subarray(a, a + 16)));
    o += len;
  }
  return {
    src: formatIpv6(pkt.src),
    dst: formatIpv6(pkt.dst),
    hopLimit: pkt.hopLimit,
    routerLifetime: b.readUInt16BE(6),
    managed: (b[5]! & 0x80) !== 0,
    otherConfig: (b[5]! & 0x40) !== 0,
    ...(prefix ? { prefix } : {}),
    ...(mtu !== undefined ? { mtu } : {}),
    rdnss,
    checksumOk: checksumOk(pkt),
  };
}

export const CLIENT_DUID = Buffer.from('000300010211223344ff', 'hex');

/** A DHCPv6 client message with IA_PD (IAID 1, optionally a ::/len hint) and ORO DNS, from a link-local. */
export function dhcpv6Client(
  type: number,
  src: string,
  o: { xid?: number; serverDuid?: Buffer; iaid?: number; hintLen?: number; rapid?: boolean; iaPd?: boolean; iaNa?: boolean; dst?: Buffer } = {},
): Buffer {
  const xid = Buffer.alloc(3);
  xid.writeUIntBE(o.xid ?? 0x123456, 0, 3);
  const opts: Buffer[] = [encodeOption(OPT.CLIENTID, CLIENT_DUID)];
  if (o.serverDuid) opts.push(encodeOption(OPT.SERVERID, o.serverDuid));
  opts.push(encodeOption(OPT.ELAPSED_TIME, Buffer.alloc(2)));
  opts.push(encodeOption(OPT.ORO, Buffer.from([0, OPT.DNS_SERVERS])));
  if (o.rapid) opts.push(encodeOption(OPT.RAPID_COMMIT, Buffer.alloc(0)));
  if (o.iaPd ?? true) {
    const ia = Buffer.alloc(12);
    ia.writeUInt32BE(o.iaid ?? 1, 0);
    const hint = o.hintLen !== undefined ? [encodeOption(OPT.IAPREFIX, Buffer.concat([Buffer.alloc(8), Buffer.from([o.hintLen]), Buffer.alloc(16)]))] : [];
    opts.push(encodeOption(OPT.IA_PD, Buffer.concat([ia, ...hint])));
  }
  if (o.iaNa) opts.push(encodeOption(OPT.IA_NA, Buffer.alloc(12, 0)));
  const msg = encodeMessage(type, xid, opts);
  return buildIpv6Packet(addr6(src), o.dst ?? ALL_DHCP, NH_UDP, 1, buildUdp(546, 547, msg));
}

export interface ParsedDhcpv6 {
  readonly msg: Dhcpv6Message;
  readonly src: string;
  readonly dst: string;
  readonly dstPort: number;
  readonly serverDuid?: Buffer;
  readonly prefix?: { readonly prefix: string; readonly len: number; readonly preferred: number; readonly valid: number };
  readonly t1?: number;
  readonly t2?: number;
  readonly iaStatus?: number;
  readonly status?: number;
  readonly dns: readonly string[];
  readonly rapidCommit: boolean;
}

export function parseDhcpv6Reply(p: Buffer): ParsedDhcpv6 | undefined {
  const pkt = parseIpv6Packet(p);
  if (!pkt || pkt.nextHeader !== NH_UDP || !checksumOk(pkt)) return undefined;
  const udp = parseUdp(pkt.payload);
  if (!udp || udp.srcPort !== 547) return undefined;
  const msg = decodeMessage(udp.data);
  const get = (code: number): Buffer | undefined => msg.options.find((x) => x.code === code)?.data;
  const dnsList: string[] = [];
  const out: { -readonly [K in keyof ParsedDhcpv6]: ParsedDhcpv6[K] } = {
    msg,
    src: formatIpv6(pkt.src),
    dst: formatIpv6(pkt.dst),
    dstPort: udp.dstPort,
    dns: dnsList,
    rapidCommit: get(OPT.RAPID_COMMIT) !== undefined,
  };
  const sid = get(OPT.SERVERID);
  if (sid) out.serverDuid = sid;
  const status = get(OPT.STATUS_CODE);
  if (status) out.status = status.readUInt16BE(0);
  const dns = get(OPT.DNS_SERVERS);
  if (dns) for (let i = 0; i + 16 <= dns.length; i += 16) dnsList.push(formatIpv6(dns.subarray(i, i + 16)));
  const pd = get(OPT.IA_PD);
  if (pd) {
    out.t1 = pd.readUInt32BE(4);
    out.t2 = pd.readUInt32BE(8);
    for (let o = 12; o + 4 <= pd.length; ) {
      const code = pd.readUInt16BE(o);
      const len = pd.readUInt16BE(o + 2);
      const d = pd.subarray(o + 4, o + 4 + len);
      if (code === OPT.IAPREFIX) out.prefix = { preferred: d.readUInt32BE(0), valid: d.readUInt32BE(4), len: d[8]!, prefix: formatIpv6(d.subarray(9, 25)) };
      if (code === OPT.STATUS_CODE) out.iaStatus = d.readUInt16BE(0);
      o += 4 + len;
    }
  }
  return out;
}

export { MSG };
