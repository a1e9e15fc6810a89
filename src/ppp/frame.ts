/**
 * A PPP frame as SSTP carries it (ppp.md §1): no HDLC flag, escaping or FCS. We always send
 * `FF 03` + a 2-byte protocol; on receive we tolerate a missing `FF 03` (ACFC) and a 1-byte
 * protocol (PFC), as sstpc's own parser does.
 */
import { DecodeError } from '../common/errors.js';

export interface PppFrame {
  readonly protocol: number;
  /** The information field, a view into the received buffer. */
  readonly info: Buffer;
}

export function parseFrame(buf: Buffer): PppFrame {
  let pos = 0;
  if (buf.length >= 2 && buf[0] === 0xff && buf[1] === 0x03) pos = 2;
  if (buf.length <= pos) throw new DecodeError('ppp frame: no protocol field', 'E_PPP_FRAME');
  const first = buf[pos]!;
  // An odd first byte can only be a compressed (1-byte) protocol: full protocols have an even high byte.
  if (first & 1) return { protocol: first, info: buf.subarray(pos + 1) };
  if (buf.length < pos + 2) throw new DecodeError('ppp frame: truncated protocol field', 'E_PPP_FRAME');
  return { protocol: buf.readUInt16BE(pos), info: buf.subarray(pos + 2) };
}

/** What we put in front of every information field: `FF 03` + a 2-byte protocol. */
export const PPP_HEADER_LEN = 4;

/** The one writer of our PPP header: `FF 03` + 2-byte protocol at `buf[off]`. */
export function writePppHeader(buf: Buffer, off: number, protocol: number): void {
  buf[off] = 0xff;
  buf[off + 1] = 0x03;
  buf.writeUInt16BE(protocol & 0xffff, off + 2);
}

/** `FF 03` + 2-byte protocol + information. */
export function encodeFrame(protocol: number, info: Buffer): Buffer {
  const out = Buffer.allocUnsafe(PPP_HEADER_LEN + info.length);
  writePppHeader(out, 0, protocol);
  info.copy(out, PPP_HEADER_LEN);
  return out;
}

/** Network control protocols and link protocols (≥ 0x8000) vs network-layer data (RFC 1661 §2). */
export const isControlProtocol = (p: number): boolean => p >= 0x8000;
