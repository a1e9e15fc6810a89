/** Minimal IPv4 + ICMP echo builders for data-path tests (the kernel answers echo requests). */
function checksum(b: Buffer): number {
  let sum = 0;
  for (let i = 0; i + 1 < b.length; i += 2) sum += b.readUInt16BE(i);
  if (b.length % 2) sum += b[b.length - 1]! << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return ~sum & 0xffff;
}

const ip4 = (s: string): Buffer => Buffer.from(s.split('.').map(Number));

export function icmpEchoRequest(src: string, dst: string, id: number, seq: number, payload: Buffer): Buffer {
  const icmp = Buffer.alloc(8 + payload.length);
  icmp[0] = 8;
  icmp.writeUInt16BE(id, 4);
  icmp.writeUInt16BE(seq, 6);
  payload.copy(icmp, 8);
  icmp.writeUInt16BE(checksum(icmp), 2);
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + icmp.length, 2);
  ip.writeUInt16BE(seq & 0xffff, 4);
  ip[8] = 64;
  ip[9] = 1;
  ip4(src).copy(ip, 12);
  ip4(dst).copy(ip, 16);
  ip.writeUInt16BE(checksum(ip), 10);
  return Buffer.concat([ip, icmp]);
}

export function parseIcmpEchoReply(p: Buffer): { src: string; id: number; seq: number } | undefined {
  if (p.length < 28 || p[0]! >> 4 !== 4 || p[9] !== 1) return undefined;
  const ihl = (p[0]! & 0x0f) * 4;
  if (p[ihl] !== 0) return undefined;
  return { src: [...p.subarray(12, 16)].join('.'), id: p.readUInt16BE(ihl + 4), seq: p.readUInt16BE(ihl + 6) };
}
