/**
 * The PROXY protocol header (HAProxy's spec, versions 1 and 2) as a sans-I/O reader: the bytes a
 * trusted proxy puts in front of the client's stream, saying who the client really is.
 *
 * `ProxyHeaderReader.feed(chunk)` collects at most `PROXY_HEADER_MAX` bytes and answers once:
 * need-more, the parsed header with the bytes that followed it (`rest`: the client's TLS or HTTP),
 * or an error with a reason. Nothing in the header is trusted beyond its syntax; whether the proxy
 * itself may speak is the listener's decision (`trusted` addresses).
 *
 * v1: one text line `PROXY TCP4|TCP6|UNKNOWN src dst sport dport\r\n`, at most 107 bytes.
 * v2: a 12-byte signature, version/command, family/transport, a 16-bit length, the addresses, then
 * TLVs (type, 16-bit length, value). LOCAL (health checks from the proxy itself) carries no client.
 */
import { formatIpv6, parseAddress6 } from '../ip/ipv6-addr.js';

/** v1 lines are at most 107 bytes; v2 headers here at most 16 + 4080 (addresses and TLVs). */
export const PROXY_HEADER_MAX = 4096;
const V1_MAX = 107;
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V2_FIXED = 16;
const V1_PREFIX = Buffer.from('PROXY ');

/** PP2_TYPE_* values we name (others are kept as raw TLVs). */
export const Pp2Type = {
  ALPN: 0x01,
  AUTHORITY: 0x02,
  CRC32C: 0x03,
  NOOP: 0x04,
  UNIQUE_ID: 0x05,
  SSL: 0x20,
  NETNS: 0x30,
} as const;

export interface ProxyEndpoint {
  /** Text form: dotted quad or RFC 5952 IPv6. */
  readonly address: string;
  readonly port: number;
}

export interface ProxyTlv {
  readonly type: number;
  readonly value: Buffer;
}

export interface ProxyHeader {
  readonly version: 1 | 2;
  /** 'local': the proxy speaks for itself (health check); use the connection's own addresses. */
  readonly command: 'proxy' | 'local';
  /** 'unknown': v1 UNKNOWN or a v2 family we do not carry (UNSPEC, UNIX): no client address. */
  readonly family: 'tcp4' | 'tcp6' | 'udp4' | 'udp6' | 'unknown';
  readonly source?: ProxyEndpoint;
  readonly destination?: ProxyEndpoint;
  readonly tlvs: readonly ProxyTlv[];
  /** PP2_TYPE_AUTHORITY: the host name the client asked for (TLS SNI), when the proxy sends it. */
  readonly authority?: string;
}

export type ProxyReadResult =
  | { readonly kind: 'need-more' }
  | { readonly kind: 'header'; readonly header: ProxyHeader; readonly rest: Buffer }
  | { readonly kind: 'error'; readonly reason: string };

export class ProxyHeaderReader {
  private buf = Buffer.alloc(0);
  private done = false;

  feed(chunk: Buffer): ProxyReadResult {
    if (this.done) return { kind: 'error', reason: 'header already read' };
    // Keep at most what a header can need; anything past it stays in `chunk` for `rest`.
    this.buf = this.buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buf, chunk]);
    const r = parse(this.buf);
    if (r.kind === 'need-more' && this.buf.length >= PROXY_HEADER_MAX) return this.finish({ kind: 'error', reason: `no complete header in ${PROXY_HEADER_MAX} bytes` });
    if (r.kind !== 'need-more') return this.finish(r);
    return r;
  }

  private finish(r: ProxyReadResult): ProxyReadResult {
    this.done = true;
    this.buf = Buffer.alloc(0);
    return r;
  }
}

/** One parse attempt over everything received so far. */
export function parse(buf: Buffer): ProxyReadResult {
  const sigLen = Math.min(buf.length, V2_SIGNATURE.length);
  if (buf.subarray(0, sigLen).equals(V2_SIGNATURE.subarray(0, sigLen))) {
    return buf.length < V2_FIXED ? NEED_MORE : parseV2(buf);
  }
  const preLen = Math.min(buf.length, V1_PREFIX.length);
  if (buf.subarray(0, preLen).equals(V1_PREFIX.subarray(0, preLen))) {
    return buf.length < V1_PREFIX.length ? NEED_MORE : parseV1(buf);
  }
  return { kind: 'error', reason: 'not a PROXY protocol header' };
}

const NEED_MORE: ProxyReadResult = { kind: 'need-more' };

function parseV1(buf: Buffer): ProxyReadResult {
  const lf = buf.indexOf(0x0a);
  if (lf < 0) return buf.length >= V1_MAX ? { kind: 'error', reason: 'v1 line longer than 107 bytes' } : NEED_MORE;
  if (lf + 1 > V1_MAX) return { kind: 'error', reason: 'v1 line longer than 107 bytes' };
  if (lf === 0 || buf[lf - 1] !== 0x0d) return { kind: 'error', reason: 'v1 line does not end in CRLF' };
  const line = buf.subarray(0, lf - 1).toString('latin1');
  const rest = buf.subarray(lf + 1);
  const parts = line.split(' ');
  if (parts[1] === 'UNKNOWN') return header({ version: 1, command: 'proxy', family: 'unknown', tlvs: [] }, rest);
  if (parts.length !== 6) return { kind: 'error', reason: `v1 line has ${parts.length} fields, expected 6` };
  const [, proto, src, dst, sport, dport] = parts as [string, string, string, string, string, string];
  if (proto !== 'TCP4' && proto !== 'TCP6') return { kind: 'error', reason: `v1 protocol "${proto}" is not TCP4, TCP6 or UNKNOWN` };
  const v4 = proto === 'TCP4';
  const s = v4 ? canonicalIpv4(src) : canonicalIpv6(src);
  const d = v4 ? canonicalIpv4(dst) : canonicalIpv6(dst);
  const sp = port(sport);
  const dp = port(dport);
  if (s === undefined || d === undefined) return { kind: 'error', reason: `v1 address is not ${v4 ? 'IPv4' : 'IPv6'}` };
  if (sp === undefined || dp === undefined) return { kind: 'error', reason: 'v1 port is not 0..65535' };
  return header({ version: 1, command: 'proxy', family: v4 ? 'tcp4' : 'tcp6', source: { address: s, port: sp }, destination: { address: d, port: dp }, tlvs: [] }, rest);
}

function parseV2(buf: Buffer): ProxyReadResult {
  const verCmd = buf[12]!;
  if (verCmd >> 4 !== 2) return { kind: 'error', reason: `v2 version ${verCmd >> 4}` };
  const cmd = verCmd & 0x0f;
  if (cmd > 1) return { kind: 'error', reason: `v2 command ${cmd}` };
  const famProto = buf[13]!;
  const len = buf.readUInt16BE(14);
  if (V2_FIXED + len > PROXY_HEADER_MAX) return { kind: 'error', reason: `v2 header of ${V2_FIXED + len} bytes is over ${PROXY_HEADER_MAX}` };
  if (buf.length < V2_FIXED + len) return NEED_MORE;
  const body = buf.subarray(V2_FIXED, V2_FIXED + len);
  const rest = buf.subarray(V2_FIXED + len);
  const command = cmd === 0 ? 'local' : 'proxy';
  const family = famProto >> 4;
  const transport = famProto & 0x0f;
  const addrLen = family === 1 ? 12 : family === 2 ? 36 : family === 3 ? 216 : 0;
  if (family > 3 || transport > 2) return { kind: 'error', reason: `v2 family/transport 0x${famProto.toString(16)}` };
  if (body.length < addrLen) return { kind: 'error', reason: `v2 address block of ${body.length} bytes, family needs ${addrLen}` };
  const tlvs = parseTlvs(body.subarray(addrLen));
  if (typeof tlvs === 'string') return { kind: 'error', reason: tlvs };
  const authorityTlv = tlvs.find((t) => t.type === Pp2Type.AUTHORITY);
  const authority = authorityTlv ? authorityTlv.value.toString('utf8') : undefined;
  const base = { version: 2 as const, command: command as 'proxy' | 'local', tlvs, ...(authority !== undefined ? { authority } : {}) };
  // LOCAL, UNSPEC and UNIX carry no client we can use: the receiver keeps the connection's addresses.
  if (command === 'local' || (family !== 1 && family !== 2) || transport === 0) return header({ ...base, family: 'unknown' }, rest);
  const ipLen = family === 1 ? 4 : 16;
  const fmt = family === 1 ? formatV4 : formatIpv6;
  const source = { address: fmt(body.subarray(0, ipLen)), port: body.readUInt16BE(2 * ipLen) };
  const destination = { address: fmt(body.subarray(ipLen, 2 * ipLen)), port: body.readUInt16BE(2 * ipLen + 2) };
  const fam = `${transport === 1 ? 'tcp' : 'udp'}${family === 1 ? '4' : '6'}` as ProxyHeader['family'];
  return header({ ...base, family: fam, source, destination }, rest);
}

function parseTlvs(b: Buffer): ProxyTlv[] | string {
  const out: ProxyTlv[] = [];
  let off = 0;
  while (off < b.length) {
    if (off + 3 > b.length) return 'v2 TLV header truncated';
    const type = b[off]!;
    const len = b.readUInt16BE(off + 1);
    if (off + 3 + len > b.length) return `v2 TLV 0x${type.toString(16)} overruns the header`;
    out.push({ type, value: b.subarray(off + 3, off + 3 + len) });
    off += 3 + len;
  }
  return out;
}

function header(h: ProxyHeader, rest: Buffer): ProxyReadResult {
  // `rest` must outlive the reader's buffer: copy it out (it is small: what arrived with the header).
  return { kind: 'header', header: h, rest: Buffer.from(rest) };
}

function port(s: string): number | undefined {
  if (!/^(0|[1-9][0-9]{0,4})$/.test(s)) return undefined;
  const n = Number(s);
  return n <= 65535 ? n : undefined;
}

function canonicalIpv4(s: string): string | undefined {
  const p = s.split('.');
  if (p.length !== 4 || p.some((x) => !/^(0|[1-9][0-9]{0,2})$/.test(x) || Number(x) > 255)) return undefined;
  return s;
}

function canonicalIpv6(s: string): string | undefined {
  const b = parseAddress6(s);
  return b ? formatIpv6(b) : undefined;
}

function formatV4(b: Buffer): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}
