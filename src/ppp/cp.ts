/**
 * The packet format shared by LCP, IPCP, IPV6CP and CCP (RFC 1661 §5): Code, Identifier, Length,
 * Data; and the option TLVs of Configure-* packets (§6). Decoders take views and throw only
 * DecodeError.
 */
import { Reader } from '../common/bytes.js';
import { DecodeError } from '../common/errors.js';

export const CODE = {
  CONF_REQ: 1,
  CONF_ACK: 2,
  CONF_NAK: 3,
  CONF_REJ: 4,
  TERM_REQ: 5,
  TERM_ACK: 6,
  CODE_REJ: 7,
  PROT_REJ: 8,
  ECHO_REQ: 9,
  ECHO_REP: 10,
  DISCARD_REQ: 11,
  IDENTIFICATION: 12,
  TIME_REMAINING: 13,
} as const;

export interface CpPacket {
  readonly code: number;
  readonly id: number;
  /** Data after the 4-byte header, bounded by the Length field. */
  readonly data: Buffer;
}

export interface CpOption {
  readonly type: number;
  /** Value after Type and Length. */
  readonly data: Buffer;
}

/** Bytes after Length are padding (RFC 1661 §5) and are ignored; a Length beyond the frame is an error. */
export function decodeCp(info: Buffer): CpPacket {
  const r = new Reader(info, 'control packet');
  const code = r.u8();
  const id = r.u8();
  const len = r.u16();
  if (len < 4) throw new DecodeError(`control packet: length ${len} < 4`, 'E_PPP_CP');
  if (len > info.length) throw new DecodeError(`control packet: length ${len} > ${info.length} available`, 'E_PPP_CP');
  return { code, id, data: r.take(len - 4) };
}

export function encodeCp(code: number, id: number, data: Buffer = Buffer.alloc(0)): Buffer {
  if (data.length + 4 > 0xffff) throw new RangeError('control packet too long');
  const out = Buffer.allocUnsafe(4 + data.length);
  out[0] = code;
  out[1] = id & 0xff;
  out.writeUInt16BE(4 + data.length, 2);
  data.copy(out, 4);
  return out;
}

export function decodeOptions(data: Buffer): CpOption[] {
  const r = new Reader(data, 'options');
  const out: CpOption[] = [];
  while (r.remaining > 0) {
    const type = r.u8();
    const len = r.u8();
    if (len < 2) throw new DecodeError(`option ${type}: length ${len} < 2`, 'E_PPP_OPTION');
    if (len - 2 > r.remaining) throw new DecodeError(`option ${type}: length ${len} overruns the packet`, 'E_PPP_OPTION');
    out.push({ type, data: r.take(len - 2) });
  }
  return out;
}

export function encodeOptions(opts: readonly CpOption[]): Buffer {
  const parts: Buffer[] = [];
  for (const o of opts) {
    if (o.data.length > 253) throw new RangeError(`option ${o.type} too long`);
    parts.push(Buffer.from([o.type, o.data.length + 2]), o.data);
  }
  return Buffer.concat(parts);
}

export const u16 = (v: number): Buffer => {
  const b = Buffer.allocUnsafe(2);
  b.writeUInt16BE(v & 0xffff);
  return b;
};
export const u32 = (v: number): Buffer => {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(v >>> 0);
  return b;
};

/** Dotted IPv4 ↔ 4 bytes (IPCP addresses). */
export function ipv4Bytes(addr: string): Buffer {
  const parts = addr.split('.');
  if (parts.length !== 4) throw new RangeError(`not an IPv4 address: ${addr}`);
  return Buffer.from(
    parts.map((p) => {
      const n = Number(p);
      if (!/^\d{1,3}$/.test(p) || n > 255) throw new RangeError(`not an IPv4 address: ${addr}`);
      return n;
    }),
  );
}
export const ipv4String = (b: Buffer): string => `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
