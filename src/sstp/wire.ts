/**
 * MS-SSTP packet codec (§2.2): the 4-byte header, data packets, control packets and their
 * attributes. Numeric types stay open: an unknown message type or attribute id still decodes, so
 * the state machine (not the codec) decides how to react to it.
 */
import { Reader } from '../common/bytes.js';
import { DecodeError, SstpdError } from '../common/errors.js';
import { PPP_HEADER_LEN, writePppHeader } from '../ppp/frame.js';

export const SSTP_VERSION = 0x10;
export const HEADER_LEN = 4;
/** Header + MessageType + NumAttributes. */
export const CONTROL_HEADER_LEN = 8;
export const ATTRIBUTE_HEADER_LEN = 4;
/** The length field has 12 bits. */
export const MAX_PACKET_LEN = 0x0fff;
export const MAX_PPP_FRAME_LEN = MAX_PACKET_LEN - HEADER_LEN;
const LENGTH_MASK = 0x0fff;
export const NONCE_LEN = 32;
/** Cert hash and compound MAC fields are 32 bytes; SHA-1 values are zero-padded. */
export const HASH_FIELD_LEN = 32;
export const CALL_CONNECTED_LEN = 112;
/** Value lengths (attribute length minus the 4-byte attribute header). */
const CRYPTO_BINDING_VALUE_LEN = 100;
const CRYPTO_BINDING_REQ_VALUE_LEN = 36;
const STATUS_INFO_MIN_VALUE_LEN = 8;

/** Decode error codes (stable, used in logs and close reasons). */
export const SstpDecodeCode = {
  VERSION: 'E_SSTP_VERSION',
  LENGTH: 'E_SSTP_LENGTH',
  ATTRIBUTE: 'E_SSTP_ATTRIBUTE',
} as const;

export const MessageType = {
  CALL_CONNECT_REQUEST: 0x0001,
  CALL_CONNECT_ACK: 0x0002,
  CALL_CONNECT_NAK: 0x0003,
  CALL_CONNECTED: 0x0004,
  CALL_ABORT: 0x0005,
  CALL_DISCONNECT: 0x0006,
  CALL_DISCONNECT_ACK: 0x0007,
  ECHO_REQUEST: 0x0008,
  ECHO_RESPONSE: 0x0009,
} as const;

export const AttributeId = {
  NO_ERROR: 0x00,
  ENCAPSULATED_PROTOCOL_ID: 0x01,
  STATUS_INFO: 0x02,
  CRYPTO_BINDING: 0x03,
  CRYPTO_BINDING_REQ: 0x04,
} as const;

export const Status = {
  NO_ERROR: 0,
  DUPLICATE_ATTRIBUTE: 1,
  UNRECOGNIZED_ATTRIBUTE: 2,
  INVALID_ATTRIB_VALUE_LENGTH: 3,
  VALUE_NOT_SUPPORTED: 4,
  UNACCEPTED_FRAME_RECEIVED: 5,
  RETRY_COUNT_EXCEEDED: 6,
  INVALID_FRAME_RECEIVED: 7,
  NEGOTIATION_TIMEOUT: 8,
  ATTRIB_NOT_SUPPORTED_IN_MSG: 9,
  REQUIRED_ATTRIBUTE_MISSING: 10,
  STATUS_INFO_NOT_SUPPORTED_IN_MSG: 11,
} as const;

export const HashProtocol = { SHA1: 0x01, SHA256: 0x02 } as const;
export const ENCAPSULATED_PROTOCOL_PPP = 0x0001;

const messageNames = new Map<number, string>(Object.entries(MessageType).map(([k, v]) => [v, k]));
/** For logs: the spec name, or the number for unknown types. */
export function messageTypeName(type: number): string {
  return messageNames.get(type) ?? `UNKNOWN_0x${type.toString(16).padStart(4, '0')}`;
}

export interface SstpHeader {
  readonly control: boolean;
  /** Total packet length including the header (reserved bits masked off). */
  readonly length: number;
}

/**
 * Reads and validates a header at `offset` (4 bytes must be there). The 7 reserved bits of byte 1
 * and the 4 reserved bits of the length are ignored on receipt, as the spec asks.
 */
export function readHeader(buf: Buffer, offset = 0): SstpHeader {
  if (buf.length - offset < HEADER_LEN) throw new DecodeError('sstp: truncated header', SstpDecodeCode.LENGTH);
  const version = buf[offset]!;
  if (version !== SSTP_VERSION) {
    throw new DecodeError(`sstp: unsupported version 0x${version.toString(16)}`, SstpDecodeCode.VERSION);
  }
  const control = (buf[offset + 1]! & 0x01) === 1;
  const length = buf.readUInt16BE(offset + 2) & LENGTH_MASK;
  const min = control ? CONTROL_HEADER_LEN : HEADER_LEN;
  if (length < min) throw new DecodeError(`sstp: packet length ${length} < ${min}`, SstpDecodeCode.LENGTH);
  return { control, length };
}

function writeHeader(buf: Buffer, control: boolean, length: number): void {
  buf[0] = SSTP_VERSION;
  buf[1] = control ? 1 : 0;
  buf.writeUInt16BE(length, 2);
}

export interface Attribute {
  readonly id: number;
  /** The value after the 4-byte attribute header (a view into the packet when decoded). */
  readonly value: Buffer;
}

export interface DataPacket {
  readonly kind: 'data';
  /** The PPP frame (a view). */
  readonly frame: Buffer;
}
export interface ControlPacket {
  readonly kind: 'control';
  readonly type: number;
  readonly attributes: readonly Attribute[];
}
export type SstpPacket = DataPacket | ControlPacket;

/** Decodes exactly one whole packet; the header length must equal `packet.length`. */
export function decodePacket(packet: Buffer): SstpPacket {
  const h = readHeader(packet);
  if (h.length !== packet.length) {
    throw new DecodeError(`sstp: header length ${h.length} but ${packet.length} bytes`, SstpDecodeCode.LENGTH);
  }
  if (!h.control) return { kind: 'data', frame: packet.subarray(HEADER_LEN) };
  return decodeControlBody(packet);
}

/** Decodes a control packet (whole packet, header included); rejects a data packet. */
export function decodeControl(packet: Buffer): ControlPacket {
  const p = decodePacket(packet);
  if (p.kind !== 'control') throw new DecodeError('sstp: not a control packet', SstpDecodeCode.LENGTH);
  return p;
}

function decodeControlBody(packet: Buffer): ControlPacket {
  const r = new Reader(packet.subarray(HEADER_LEN), 'sstp control');
  const type = r.u16();
  const count = r.u16();
  const attributes: Attribute[] = [];
  while (r.remaining > 0) {
    r.u8(); // reserved
    const id = r.u8();
    const len = r.u16() & LENGTH_MASK;
    if (len < ATTRIBUTE_HEADER_LEN) {
      throw new DecodeError(`sstp: attribute 0x${id.toString(16)} length ${len} < 4`, SstpDecodeCode.ATTRIBUTE);
    }
    if (len - ATTRIBUTE_HEADER_LEN > r.remaining) {
      throw new DecodeError(`sstp: attribute 0x${id.toString(16)} overruns the packet`, SstpDecodeCode.ATTRIBUTE);
    }
    attributes.push({ id, value: r.take(len - ATTRIBUTE_HEADER_LEN) });
  }
  if (attributes.length !== count) {
    throw new DecodeError(`sstp: NumAttributes ${count} but ${attributes.length} present`, SstpDecodeCode.ATTRIBUTE);
  }
  return { kind: 'control', type, attributes };
}

/** Encodes a control packet. Throws (caller bug) if it would exceed 4095 bytes. */
export function encodeControl(type: number, attributes: readonly Attribute[] = []): Buffer {
  let length = CONTROL_HEADER_LEN;
  for (const a of attributes) length += ATTRIBUTE_HEADER_LEN + a.value.length;
  if (length > MAX_PACKET_LEN) throw new SstpdError('E_SSTP_TOO_LONG', `sstp: control packet of ${length} bytes`);
  const buf = Buffer.alloc(length);
  writeHeader(buf, true, length);
  buf.writeUInt16BE(type, 4);
  buf.writeUInt16BE(attributes.length, 6);
  let off = CONTROL_HEADER_LEN;
  for (const a of attributes) {
    buf[off + 1] = a.id;
    buf.writeUInt16BE(ATTRIBUTE_HEADER_LEN + a.value.length, off + 2);
    a.value.copy(buf, off + ATTRIBUTE_HEADER_LEN);
    off += ATTRIBUTE_HEADER_LEN + a.value.length;
  }
  return buf;
}

/** SSTP data header + our PPP header: what precedes every packet on the data path. */
export const DATA_HEADERS_LEN = HEADER_LEN + PPP_HEADER_LEN;
/** The largest PPP information field one SSTP data packet carries (4095 − 8). */
export const MAX_DATA_PAYLOAD = MAX_PACKET_LEN - DATA_HEADERS_LEN;

/**
 * The one writer of a data packet's headers, used by both roles and both paths: SSTP data header
 * (length = 8 + `payloadLen`) and PPP `FF 03 protocol` at `buf[off]`, in front of a payload the
 * caller puts (or already has) at `off + 8`. The caller checks `payloadLen <= MAX_DATA_PAYLOAD`.
 */
export function writeDataHeaders(buf: Buffer, off: number, protocol: number, payloadLen: number): void {
  buf[off] = SSTP_VERSION;
  buf[off + 1] = 0;
  buf.writeUInt16BE(DATA_HEADERS_LEN + payloadLen, off + 2);
  writePppHeader(buf, off + HEADER_LEN, protocol);
}

/** One PPP frame in a data packet. Throws (caller bug) for a frame longer than 4091 bytes. */
export function dataPacket(pppFrame: Buffer): Buffer {
  if (pppFrame.length > MAX_PPP_FRAME_LEN) {
    throw new SstpdError('E_SSTP_TOO_LONG', `sstp: PPP frame of ${pppFrame.length} bytes > ${MAX_PPP_FRAME_LEN}`);
  }
  const buf = Buffer.allocUnsafe(HEADER_LEN + pppFrame.length);
  writeHeader(buf, false, buf.length);
  pppFrame.copy(buf, HEADER_LEN);
  return buf;
}

// ---- attribute values -------------------------------------------------------------------------

export function encapsulatedProtocolAttr(protocolId: number): Attribute {
  const value = Buffer.alloc(2);
  value.writeUInt16BE(protocolId);
  return { id: AttributeId.ENCAPSULATED_PROTOCOL_ID, value };
}

export function decodeEncapsulatedProtocol(value: Buffer): number {
  if (value.length !== 2) {
    throw new DecodeError(`sstp: Encapsulated Protocol ID value of ${value.length} bytes`, SstpDecodeCode.ATTRIBUTE);
  }
  return value.readUInt16BE(0);
}

export interface StatusInfo {
  /** The attribute the status is about (0 = none). */
  readonly attribId: number;
  readonly status: number;
  /** AttribValue: e.g. the rejected value. */
  readonly value?: Buffer;
}

export function statusInfoAttr(s: StatusInfo): Attribute {
  const extra = s.value ?? Buffer.alloc(0);
  const value = Buffer.alloc(STATUS_INFO_MIN_VALUE_LEN + extra.length);
  value[3] = s.attribId;
  value.writeUInt32BE(s.status >>> 0, 4);
  extra.copy(value, STATUS_INFO_MIN_VALUE_LEN);
  return { id: AttributeId.STATUS_INFO, value };
}

export function decodeStatusInfo(value: Buffer): StatusInfo {
  const r = new Reader(value, 'sstp status info');
  r.take(3); // reserved
  const attribId = r.u8();
  const status = r.u32();
  return { attribId, status, value: r.rest() };
}

export interface CryptoBindingRequest {
  readonly bitmask: number;
  readonly nonce: Buffer;
}

export function cryptoBindingReqAttr(bitmask: number, nonce: Buffer): Attribute {
  if (nonce.length !== NONCE_LEN) throw new SstpdError('E_SSTP_NONCE', `sstp: nonce of ${nonce.length} bytes`);
  const value = Buffer.alloc(CRYPTO_BINDING_REQ_VALUE_LEN);
  value[3] = bitmask;
  nonce.copy(value, 4);
  return { id: AttributeId.CRYPTO_BINDING_REQ, value };
}

export function decodeCryptoBindingRequest(value: Buffer): CryptoBindingRequest {
  if (value.length !== CRYPTO_BINDING_REQ_VALUE_LEN) {
    throw new DecodeError(`sstp: Crypto Binding Request value of ${value.length} bytes`, SstpDecodeCode.ATTRIBUTE);
  }
  return { bitmask: value[3]!, nonce: value.subarray(4, 4 + NONCE_LEN) };
}

export interface CryptoBinding {
  readonly hashProtocol: number;
  readonly nonce: Buffer;
  /** 20 (SHA-1) or 32 bytes; padded to 32 on the wire. Decoded: always the 32-byte field. */
  readonly certHash: Buffer;
  readonly mac: Buffer;
}

function padded(b: Buffer, what: string): Buffer {
  if (b.length > HASH_FIELD_LEN) throw new SstpdError('E_SSTP_HASH', `sstp: ${what} of ${b.length} bytes`);
  const out = Buffer.alloc(HASH_FIELD_LEN);
  b.copy(out);
  return out;
}

export function cryptoBindingAttr(b: CryptoBinding): Attribute {
  if (b.nonce.length !== NONCE_LEN) throw new SstpdError('E_SSTP_NONCE', `sstp: nonce of ${b.nonce.length} bytes`);
  const value = Buffer.alloc(CRYPTO_BINDING_VALUE_LEN);
  value[3] = b.hashProtocol;
  b.nonce.copy(value, 4);
  padded(b.certHash, 'cert hash').copy(value, 4 + NONCE_LEN);
  padded(b.mac, 'compound MAC').copy(value, 4 + NONCE_LEN + HASH_FIELD_LEN);
  return { id: AttributeId.CRYPTO_BINDING, value };
}

export function decodeCryptoBinding(value: Buffer): CryptoBinding {
  if (value.length !== CRYPTO_BINDING_VALUE_LEN) {
    throw new DecodeError(`sstp: Crypto Binding value of ${value.length} bytes`, SstpDecodeCode.ATTRIBUTE);
  }
  const certAt = 4 + NONCE_LEN;
  const macAt = certAt + HASH_FIELD_LEN;
  return {
    hashProtocol: value[3]!,
    nonce: value.subarray(4, certAt),
    certHash: value.subarray(certAt, macAt),
    mac: value.subarray(macAt, macAt + HASH_FIELD_LEN),
  };
}

// ---- message builders ---------------------------------------------------------------------------

export const callConnectRequest = (protocolId: number = ENCAPSULATED_PROTOCOL_PPP): Buffer =>
  encodeControl(MessageType.CALL_CONNECT_REQUEST, [encapsulatedProtocolAttr(protocolId)]);

export const callConnectAck = (bitmask: number, nonce: Buffer): Buffer =>
  encodeControl(MessageType.CALL_CONNECT_ACK, [cryptoBindingReqAttr(bitmask, nonce)]);

export function callConnectNak(statusInfos: readonly StatusInfo[]): Buffer {
  if (statusInfos.length === 0) throw new SstpdError('E_SSTP_NAK', 'sstp: a NAK needs at least one Status Info');
  return encodeControl(MessageType.CALL_CONNECT_NAK, statusInfos.map(statusInfoAttr));
}

export const callConnected = (binding: CryptoBinding): Buffer =>
  encodeControl(MessageType.CALL_CONNECTED, [cryptoBindingAttr(binding)]);

export const callAbort = (status: number, attribId: number = AttributeId.NO_ERROR): Buffer =>
  encodeControl(MessageType.CALL_ABORT, [statusInfoAttr({ attribId, status })]);

/** Always carries a Status Info: sstpc aborts on a Call Disconnect without one. */
export const callDisconnect = (status: number = Status.NO_ERROR, attribId: number = AttributeId.NO_ERROR): Buffer =>
  encodeControl(MessageType.CALL_DISCONNECT, [statusInfoAttr({ attribId, status })]);

export const callDisconnectAck = (): Buffer => encodeControl(MessageType.CALL_DISCONNECT_ACK);
export const echoRequest = (): Buffer => encodeControl(MessageType.ECHO_REQUEST);
export const echoResponse = (): Buffer => encodeControl(MessageType.ECHO_RESPONSE);

/** The first Status Info of a control packet, if any decodes (for logging Abort/Disconnect reasons). */
export function firstStatusInfo(p: ControlPacket): StatusInfo | undefined {
  const a = p.attributes.find((x) => x.id === AttributeId.STATUS_INFO);
  if (!a) return undefined;
  try {
    return decodeStatusInfo(a.value);
  } catch (e) {
    if (e instanceof DecodeError) return undefined;
    throw e;
  }
}
