/**
 * RADIUS wire codec and its MD5 machinery (RFC 2865 §3/§5, RFC 2866 §3, RFC 2869 §5.14, RFC 3579
 * §3.2, RFC 5176 §3.5, RFC 2548 §2.4). Pure. The decoder trusts nothing: every length is checked
 * and a malformed packet raises DecodeError (`E_RADIUS_DECODE`), which callers treat as "drop".
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { Reader } from '../common/bytes.js';
import { DecodeError, SstpdError } from '../common/errors.js';
import { ATTR } from './attributes.js';

export const CODE = {
  ACCESS_REQUEST: 1,
  ACCESS_ACCEPT: 2,
  ACCESS_REJECT: 3,
  ACCOUNTING_REQUEST: 4,
  ACCOUNTING_RESPONSE: 5,
  ACCESS_CHALLENGE: 11,
  DISCONNECT_REQUEST: 40,
  DISCONNECT_ACK: 41,
  DISCONNECT_NAK: 42,
  COA_REQUEST: 43,
  COA_ACK: 44,
  COA_NAK: 45,
} as const;

export const HEADER_LEN = 20;
export const MAX_PACKET = 4096;
export const AUTH_LEN = 16;
export const MAX_ATTR_VALUE = 253;

export interface RadiusAttribute {
  readonly type: number;
  readonly value: Buffer;
}

export interface RadiusPacket {
  readonly code: number;
  readonly identifier: number;
  readonly authenticator: Buffer;
  readonly attributes: readonly RadiusAttribute[];
}

const decodeFail = (why: string): never => {
  throw new DecodeError(`RADIUS: ${why}`, 'E_RADIUS_DECODE');
};

/**
 * One datagram → packet. Bytes past Length are padding (ignored); a datagram shorter than Length,
 * a Length outside 20..4096, or attributes that do not exactly fill the packet are malformed.
 */
export function decodePacket(data: Buffer): RadiusPacket {
  if (data.length < HEADER_LEN) decodeFail(`datagram of ${data.length} bytes is shorter than the header`);
  const len = data.readUInt16BE(2);
  if (len < HEADER_LEN || len > MAX_PACKET) decodeFail(`length ${len} outside ${HEADER_LEN}..${MAX_PACKET}`);
  if (len > data.length) decodeFail(`length ${len} exceeds the datagram (${data.length} bytes)`);
  const r = new Reader(data.subarray(0, len), 'RADIUS packet');
  const code = r.u8();
  const identifier = r.u8();
  r.u16();
  const authenticator = Buffer.from(r.take(AUTH_LEN));
  const attributes: RadiusAttribute[] = [];
  while (r.remaining > 0) {
    if (r.remaining < 2) decodeFail('truncated attribute header');
    const type = r.u8();
    const alen = r.u8();
    if (alen < 3) decodeFail(`attribute ${type} has length ${alen}`);
    if (alen - 2 > r.remaining) decodeFail(`attribute ${type} overruns the packet`);
    attributes.push({ type, value: Buffer.from(r.take(alen - 2)) });
  }
  return { code, identifier, authenticator, attributes };
}

export function encodePacket(p: RadiusPacket): Buffer {
  if (p.authenticator.length !== AUTH_LEN) throw new SstpdError('E_RADIUS_ENCODE', 'authenticator must be 16 bytes');
  let len = HEADER_LEN;
  for (const a of p.attributes) {
    if (a.value.length < 1 || a.value.length > MAX_ATTR_VALUE) {
      throw new SstpdError('E_RADIUS_ENCODE', `attribute ${a.type}: value of ${a.value.length} bytes`);
    }
    len += 2 + a.value.length;
  }
  if (len > MAX_PACKET) throw new SstpdError('E_RADIUS_ENCODE', `packet of ${len} bytes exceeds ${MAX_PACKET}`);
  const out = Buffer.alloc(len);
  out[0] = p.code;
  out[1] = p.identifier;
  out.writeUInt16BE(len, 2);
  p.authenticator.copy(out, 4);
  let off = HEADER_LEN;
  for (const a of p.attributes) {
    out[off] = a.type;
    out[off + 1] = a.value.length + 2;
    a.value.copy(out, off + 2);
    off += 2 + a.value.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Attribute values

export const attr = (type: number, value: Buffer): RadiusAttribute => ({ type, value });
export const textAttr = (type: number, s: string): RadiusAttribute => attr(type, Buffer.from(s, 'utf8'));
export function intAttr(type: number, n: number): RadiusAttribute {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return attr(type, b);
}
export function ipAttr(type: number, ip: string): RadiusAttribute {
  return attr(type, Buffer.from(ip.split('.').map(Number)));
}

export function first(p: RadiusPacket, type: number): Buffer | undefined {
  return p.attributes.find((a) => a.type === type)?.value;
}
export function all(p: RadiusPacket, type: number): Buffer[] {
  return p.attributes.filter((a) => a.type === type).map((a) => a.value);
}
/** A 4-byte integer attribute; undefined when absent or not 4 bytes long. */
export function intValue(v: Buffer | undefined): number | undefined {
  return v?.length === 4 ? v.readUInt32BE(0) : undefined;
}
export function ipValue(v: Buffer | undefined): string | undefined {
  return v?.length === 4 ? [...v].join('.') : undefined;
}
export function textValue(v: Buffer | undefined): string | undefined {
  return v === undefined ? undefined : v.toString('utf8');
}

// ---------------------------------------------------------------------------------------------
// Vendor-Specific (RFC 2865 §5.26: Vendor-Id(4) then Type(1) Length(1) Value sub-attributes)

export interface VendorAttribute {
  readonly vendor: number;
  readonly type: number;
  readonly value: Buffer;
}

export function vsa(vendor: number, type: number, value: Buffer): RadiusAttribute {
  if (value.length > MAX_ATTR_VALUE - 6) throw new SstpdError('E_RADIUS_ENCODE', `VSA ${vendor}/${type}: value too long`);
  const v = Buffer.alloc(6 + value.length);
  v.writeUInt32BE(vendor, 0);
  v[4] = type;
  v[5] = value.length + 2;
  value.copy(v, 6);
  return attr(ATTR.VENDOR_SPECIFIC, v);
}

/** Sub-attributes of one Vendor-Specific value; a layout we cannot read yields none. */
export function decodeVsa(value: Buffer): VendorAttribute[] {
  if (value.length < 4) return [];
  const vendor = value.readUInt32BE(0);
  const out: VendorAttribute[] = [];
  let off = 4;
  while (off < value.length) {
    if (value.length - off < 2) return [];
    const len = value[off + 1]!;
    if (len < 2 || off + len > value.length) return [];
    out.push({ vendor, type: value[off]!, value: Buffer.from(value.subarray(off + 2, off + len)) });
    off += len;
  }
  return out;
}

export function vendorAttributes(p: RadiusPacket, vendor: number, type?: number): VendorAttribute[] {
  return all(p, ATTR.VENDOR_SPECIFIC)
    .flatMap(decodeVsa)
    .filter((v) => v.vendor === vendor && (type === undefined || v.type === type));
}

// ---------------------------------------------------------------------------------------------
// Authenticators and Message-Authenticator

const md5 = (...parts: Uint8Array[]): Buffer => {
  const h = createHash('md5');
  for (const p of parts) h.update(p);
  return h.digest();
};
const ZERO16 = Buffer.alloc(AUTH_LEN);

function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Offset of the Message-Authenticator value in an encoded packet: -1 when there is none, -2 when
 * one is there with a length other than 18 (itself invalid).
 */
function maOffset(bytes: Buffer): number {
  let off = HEADER_LEN;
  const end = Math.min(bytes.readUInt16BE(2), bytes.length);
  while (off + 2 <= end) {
    const len = bytes[off + 1]!;
    if (len < 2) return -1;
    if (bytes[off] === ATTR.MESSAGE_AUTHENTICATOR) return len === 18 && off + 18 <= end ? off + 2 : -2;
    off += len;
  }
  return -1;
}

/** HMAC-MD5 over the packet with the MA zeroed and `authField` in the Authenticator field. */
function computeMa(bytes: Buffer, authField: Buffer, secret: Buffer, maAt: number): Buffer {
  const copy = Buffer.from(bytes.subarray(0, bytes.readUInt16BE(2)));
  authField.copy(copy, 4);
  ZERO16.copy(copy, maAt);
  return createHmac('md5', secret).update(copy).digest();
}

/** A Message-Authenticator attribute placeholder (16 zeros), filled in when the packet is sealed. */
export const maPlaceholder = (): RadiusAttribute => attr(ATTR.MESSAGE_AUTHENTICATOR, Buffer.alloc(AUTH_LEN));

/**
 * Access-Request: the Authenticator is the random Request Authenticator; the MA (if the packet has
 * the placeholder) is computed over the packet as sent.
 */
export function sealAccessRequest(p: RadiusPacket, secret: Buffer): Buffer {
  const bytes = encodePacket(p);
  const at = maOffset(bytes);
  if (at >= 0) computeMa(bytes, p.authenticator, secret, at).copy(bytes, at);
  return bytes;
}

/**
 * Accounting-, Disconnect- and CoA-Request: MA over the packet with a zero Authenticator, then the
 * Request Authenticator = MD5(Code‖Id‖Len‖0¹⁶‖Attributes‖secret) over the packet with the MA in it.
 */
export function sealComputedRequest(p: Omit<RadiusPacket, 'authenticator'>, secret: Buffer): Buffer {
  const bytes = encodePacket({ ...p, authenticator: ZERO16 });
  const at = maOffset(bytes);
  if (at >= 0) computeMa(bytes, ZERO16, secret, at).copy(bytes, at);
  md5(bytes, secret).copy(bytes, 4);
  return bytes;
}

/**
 * Any reply: MA with the request's authenticator in the Authenticator field, then the Response
 * Authenticator = MD5(Code‖Id‖Len‖RequestAuthenticator‖Attributes‖secret).
 */
export function sealResponse(p: Omit<RadiusPacket, 'authenticator'>, requestAuthenticator: Buffer, secret: Buffer): Buffer {
  const bytes = encodePacket({ ...p, authenticator: requestAuthenticator });
  const at = maOffset(bytes);
  if (at >= 0) computeMa(bytes, requestAuthenticator, secret, at).copy(bytes, at);
  md5(bytes, secret).copy(bytes, 4);
  return bytes;
}

export type MaCheck = 'absent' | 'valid' | 'invalid';

export interface Verification {
  /** The Authenticator field is right for the secret. */
  readonly authenticator: boolean;
  readonly messageAuthenticator: MaCheck;
}

/** A reply against the authenticator of the request it answers. `bytes` must have decoded. */
export function verifyResponse(bytes: Buffer, requestAuthenticator: Buffer, secret: Buffer): Verification {
  const len = bytes.readUInt16BE(2);
  const pkt = Buffer.from(bytes.subarray(0, len));
  const got = Buffer.from(pkt.subarray(4, 20));
  requestAuthenticator.copy(pkt, 4);
  const authenticator = safeEqual(md5(pkt, secret), got);
  return { authenticator, messageAuthenticator: checkMa(bytes, requestAuthenticator, secret) };
}

/** An Accounting-, Disconnect- or CoA-Request (authenticator computed over zeros). */
export function verifyComputedRequest(bytes: Buffer, secret: Buffer): Verification {
  const len = bytes.readUInt16BE(2);
  const pkt = Buffer.from(bytes.subarray(0, len));
  const got = Buffer.from(pkt.subarray(4, 20));
  ZERO16.copy(pkt, 4);
  const authenticator = safeEqual(md5(pkt, secret), got);
  return { authenticator, messageAuthenticator: checkMa(bytes, ZERO16, secret) };
}

/** Access-Request (servers and tests): only the MA can be checked. */
export function verifyAccessRequestMa(bytes: Buffer, secret: Buffer): MaCheck {
  return checkMa(bytes, Buffer.from(bytes.subarray(4, 20)), secret);
}

function checkMa(bytes: Buffer, authField: Buffer, secret: Buffer): MaCheck {
  const at = maOffset(bytes);
  if (at === -1) return 'absent';
  if (at < 0) return 'invalid';
  const got = Buffer.from(bytes.subarray(at, at + AUTH_LEN));
  return safeEqual(computeMa(bytes, authField, secret, at), got) ? 'valid' : 'invalid';
}

// ---------------------------------------------------------------------------------------------
// Hidden values: User-Password (RFC 2865 §5.2), MS-CHAP-MPPE-Keys (RFC 2548 §2.4.1) and
// MS-MPPE-Send/Recv-Key (RFC 2548 §2.4.2) share one MD5 chain.

function xorChain(input: Buffer, secret: Buffer, seed: Buffer, decrypt: boolean): Buffer {
  const out = Buffer.alloc(input.length);
  let prev = seed;
  for (let off = 0; off < input.length; off += 16) {
    const b = md5(secret, prev);
    for (let i = 0; i < 16; i++) out[off + i] = input[off + i]! ^ b[i]!;
    prev = decrypt ? input.subarray(off, off + 16) : out.subarray(off, off + 16);
  }
  return out;
}

const pad16 = (b: Buffer, min = 16): Buffer => {
  const len = Math.max(min, Math.ceil(b.length / 16) * 16);
  const out = Buffer.alloc(len);
  b.copy(out);
  return out;
};

/** User-Password: the password zero-padded to a multiple of 16 (at most 128 bytes). */
export function hidePassword(password: Buffer, secret: Buffer, requestAuthenticator: Buffer): Buffer {
  if (password.length > 128) throw new SstpdError('E_RADIUS_ENCODE', 'User-Password longer than 128 bytes');
  return xorChain(pad16(password), secret, requestAuthenticator, false);
}

export function unhidePassword(hidden: Buffer, secret: Buffer, requestAuthenticator: Buffer): Buffer {
  if (hidden.length === 0 || hidden.length % 16 !== 0 || hidden.length > 128) decodeFail('User-Password is not 16..128 bytes in blocks of 16');
  const p = xorChain(hidden, secret, requestAuthenticator, true);
  let end = p.length;
  while (end > 0 && p[end - 1] === 0) end--;
  return p.subarray(0, end);
}

/** MS-CHAP-MPPE-Keys: 32 bytes (LM-Key 8 ‖ NT-Key 16 ‖ padding) hidden like User-Password. */
export function revealMsChapMppeKeys(value: Buffer, secret: Buffer, requestAuthenticator: Buffer): { lmKey: Buffer; ntKey: Buffer } {
  if (value.length !== 32) decodeFail(`MS-CHAP-MPPE-Keys of ${value.length} bytes (32 expected)`);
  const p = xorChain(value, secret, requestAuthenticator, true);
  return { lmKey: p.subarray(0, 8), ntKey: p.subarray(8, 24) };
}

/** MS-MPPE-Send/Recv-Key: Salt(2, MSB set) ‖ hidden(KeyLength ‖ Key ‖ padding). */
export function encryptMppeKey(key: Buffer, salt: number, secret: Buffer, requestAuthenticator: Buffer): Buffer {
  const s = Buffer.alloc(2);
  s.writeUInt16BE(salt | 0x8000);
  const plain = pad16(Buffer.concat([Buffer.from([key.length]), key]));
  return Buffer.concat([s, xorChain(plain, secret, Buffer.concat([requestAuthenticator, s]), false)]);
}

export function decryptMppeKey(value: Buffer, secret: Buffer, requestAuthenticator: Buffer): Buffer {
  if (value.length < 18 || (value.length - 2) % 16 !== 0) decodeFail(`MPPE key attribute of ${value.length} bytes`);
  if ((value[0]! & 0x80) === 0) decodeFail('MPPE key salt without its high bit');
  const salt = value.subarray(0, 2);
  const p = xorChain(value.subarray(2), secret, Buffer.concat([requestAuthenticator, salt]), true);
  const keyLen = p[0]!;
  if (keyLen === 0 || keyLen > p.length - 1) decodeFail(`MPPE key length ${keyLen} does not fit`);
  return Buffer.from(p.subarray(1, 1 + keyLen));
}

/** CHAP-Password's server-side check value, for fake servers in tests: MD5(Ident ‖ password ‖ challenge). */
export function chapResponse(ident: number, password: Buffer, challenge: Buffer): Buffer {
  return md5(Buffer.from([ident]), password, challenge);
}
