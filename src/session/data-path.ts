/**
 * The data path between an IP packet and an SSTP data packet, shared by the server session and
 * our client: one home for framing (headers via `writeDataHeaders`, MPPE encryption) and for the
 * fast lane's frame test. Whether a packet may move at all is the PPP link's DataGate; this module
 * asks it and never decides on its own, so the fast lanes and the event path cannot drift apart.
 */
import { MPPE_OVERHEAD } from '../ppp/mppe-cipher.js';
import type { DataGate } from '../ppp/data-gate.js';
import { PPP_IPV4, PPP_MPPE } from '../ppp/protocols.js';
import { DATA_HEADERS_LEN, MAX_DATA_PAYLOAD, writeDataHeaders } from '../sstp/wire.js';

/** Bytes in front of an IP packet in an SSTP data packet (SSTP header + `FF 03` + protocol). */
export const DATA_HEADROOM = DATA_HEADERS_LEN;
/** The largest IP packet one SSTP data packet carries without MPPE. */
export const MAX_IP_PACKET = MAX_DATA_PAYLOAD;

/**
 * Frames the IP packet at `frame[8..]` for the peer. `frame`'s first 8 bytes are headroom: without
 * MPPE the headers go there and `frame` itself is returned (the caller copies it if the memory is
 * reused); with MPPE the packet is encrypted into a new buffer. Undefined when the gate says the
 * packet may not go now, or it is too large for one SSTP packet (counted as oversize).
 */
export function frameOutbound(gate: DataGate, frame: Buffer): Buffer | undefined {
  const len = frame.length - DATA_HEADROOM;
  if (len <= 0) return undefined;
  const protocol = gate.protocolOut(frame[DATA_HEADROOM]! >> 4);
  if (protocol === 0) return undefined;
  const enc = gate.encryptor;
  if (!enc) {
    if (len > MAX_DATA_PAYLOAD) return void gate.oversize();
    writeDataHeaders(frame, 0, protocol, len);
    return frame;
  }
  const payload = len + MPPE_OVERHEAD;
  if (payload > MAX_DATA_PAYLOAD) return void gate.oversize();
  const out = Buffer.allocUnsafe(DATA_HEADROOM + payload);
  writeDataHeaders(out, 0, PPP_MPPE, payload);
  enc.encryptInto(protocol, frame.subarray(DATA_HEADROOM), out, DATA_HEADROOM);
  return out;
}

/** `frameOutbound` for a packet without headroom: one copy into a fresh buffer first. */
export function frameOutboundCopy(gate: DataGate, packet: Buffer): Buffer | undefined {
  const frame = Buffer.allocUnsafe(DATA_HEADROOM + packet.length);
  packet.copy(frame, DATA_HEADROOM);
  return frameOutbound(gate, frame);
}

/**
 * The inbound fast lane: a PPP frame in our own shape for clear IPv4 (`FF 03 00 21`) is decided
 * here without an event: handed to `sink` (a view, valid during the call) if the gate admits it,
 * else dropped and counted. True = consumed; false = any other frame, which takes the event path
 * (control protocols, IPv6 with its intercepts, MPPE, PFC/ACFC forms).
 */
export function fastLaneIn(gate: DataGate, frame: Buffer, sink: (packet: Buffer) => void): boolean {
  if (frame.length <= 4 || frame[0] !== 0xff || frame[1] !== 0x03 || frame[2] !== 0x00 || frame[3] !== PPP_IPV4) return false;
  const packet = frame.subarray(4);
  if (gate.admitIn(PPP_IPV4, packet, false)) sink(packet);
  return true;
}
