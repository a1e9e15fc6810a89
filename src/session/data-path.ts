/**
 * The data path between an IP packet and an SSTP data packet, shared by the server session and
 * our client: one home for framing (headers via `writeDataHeaders`, MPPE encryption) and for the
 * fast lane's frame test. Whether a packet may move at all is the PPP link's DataGate; this module
 * asks it and never decides on its own, so the fast lanes and the event path cannot drift apart.
 */
import { MPPE_OVERHEAD, type MppeEncryptor } from '../ppp/mppe-cipher.js';
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
  const enc = gate.encryptor;
  if (!enc) return frameClearAt(gate, frame, DATA_HEADROOM, len) ? frame : undefined;
  const out = Buffer.allocUnsafe(DATA_HEADROOM + MPPE_OVERHEAD + Math.max(len, 0));
  return frameEncryptedInto(gate, enc, frame, DATA_HEADROOM, len, out, 0) > 0 ? out : undefined;
}

/**
 * The MPPE path: the packet `buf[at .. at + len)` encrypted, with its headers, into `out[pos..]`
 * (room for DATA_HEADROOM + MPPE_OVERHEAD + len); the bytes written, 0 when the gate holds it or
 * it is too large (counted as oversize).
 */
function frameEncryptedInto(gate: DataGate, enc: MppeEncryptor, buf: Buffer, at: number, len: number, out: Buffer, pos: number): number {
  const protocol = protocolOf(gate, buf, at, len);
  if (protocol === 0) return 0;
  const payload = len + MPPE_OVERHEAD;
  if (payload > MAX_DATA_PAYLOAD) {
    gate.oversize();
    return 0;
  }
  writeDataHeaders(out, pos, PPP_MPPE, payload);
  enc.encryptInto(protocol, buf.subarray(at, at + len), out, pos + DATA_HEADROOM);
  return DATA_HEADROOM + payload;
}

/** The PPP protocol the gate sends the packet `buf[at .. at + len)` under; 0 = not now (or empty). */
function protocolOf(gate: DataGate, buf: Buffer, at: number, len: number): number {
  return len > 0 ? gate.protocolOut(buf[at]! >> 4) : 0;
}

/**
 * The clear path: the headers of the packet `buf[at .. at + len)` written in place into the 8
 * bytes before it. False when the gate holds it, or it is too large (counted as oversize).
 */
function frameClearAt(gate: DataGate, buf: Buffer, at: number, len: number): boolean {
  const protocol = protocolOf(gate, buf, at, len);
  if (protocol === 0) return false;
  if (len > MAX_DATA_PAYLOAD) {
    gate.oversize();
    return false;
  }
  writeDataHeaders(buf, at - DATA_HEADROOM, protocol, len);
  return true;
}

/**
 * Packets in a reused slab (the TUN batch shape): packet i is `slab[offsets[i] .. + lengths[i])`
 * with `DATA_HEADROOM` free bytes before it. With `slabs` (packets taken from the FQ-CoDel queue),
 * packet i lives in `slabs[i]` instead.
 */
export interface SlabPackets {
  readonly count: number;
  readonly slab: Buffer;
  readonly slabs?: readonly Buffer[];
  readonly offsets: Uint32Array;
  readonly lengths: Uint32Array;
}

/** What `frameBatchOutbound` framed: packets and their IP bytes (headers not counted). */
export interface FramedCount {
  packets: number;
  bytes: number;
  /** The buffer the packets went into (for `reuse` next time, once the socket is done with it). */
  body?: Buffer;
}

/**
 * Frames every packet of a slab batch that the gate lets go and appends the SSTP packets to `out`,
 * in order, copied out of the slab (which is reused once this returns) into ONE new buffer: one
 * allocation and one socket write for the whole batch instead of one per packet. Without MPPE the
 * headers are written in place and each run of frames lying back to back in the slab is one copy;
 * MPPE encrypts straight into the buffer. `out` gets two views of it: every packet but the last,
 * then the last alone, so a writer that sends the last buffer of a burst by itself (record-writer.ts)
 * still ends the burst with a record holding one packet.
 */
export function frameBatchOutbound(gate: DataGate, batch: SlabPackets, out: Buffer[], reuse?: Buffer): FramedCount {
  const { offsets, lengths, count, slabs } = batch;
  const bound = batchBound(batch, gate.txOverhead);
  const body = reuse !== undefined && reuse.length >= bound ? reuse : Buffer.allocUnsafe(Math.max(bound, BODY_MIN));
  const done: FramedCount = { packets: 0, bytes: 0, body };
  let pos = 0;
  let lastPos = 0;
  let run = batch.slab;
  let runStart = 0;
  let runEnd = -1;
  for (let i = 0; i < count; i++) {
    const slab = slabs !== undefined ? slabs[i]! : batch.slab;
    const at = offsets[i]!;
    const len = lengths[i]!;
    const enc = gate.encryptor;
    if (enc) {
      const n = frameEncryptedInto(gate, enc, slab, at, len, body, pos);
      if (n === 0) continue;
      lastPos = pos;
      pos += n;
    } else {
      if (!frameClearAt(gate, slab, at, len)) continue;
      if (slab !== run || at - DATA_HEADROOM !== runEnd) {
        pos += copyRun(run, runStart, runEnd, body, pos);
        run = slab;
        runStart = at - DATA_HEADROOM;
      }
      runEnd = at + len;
      lastPos = pos + (at - DATA_HEADROOM - runStart);
    }
    done.packets++;
    done.bytes += len;
  }
  pos += copyRun(run, runStart, runEnd, body, pos);
  if (lastPos > 0) out.push(body.subarray(0, lastPos));
  if (pos > lastPos) out.push(body.subarray(lastPos, pos));
  return done;
}

/**
 * A fresh batch buffer is at least this large, so that one can be reused for any later batch (a
 * TUN batch framed is at most ~64 packets + one super-packet's segments, each ≤ 4 KiB).
 */
const BODY_MIN = 256 * 1024;

/** Bytes a batch takes framed at most: every packet with its headers (and MPPE's). */
function batchBound(batch: SlabPackets, overhead: number): number {
  let n = 0;
  for (let i = 0; i < batch.count; i++) n += DATA_HEADROOM + overhead + batch.lengths[i]!;
  return n;
}

/** Copies the run `slab[start .. end)` (none when `end` < 0) to `body[pos..]`; the bytes copied. */
function copyRun(slab: Buffer, start: number, end: number, body: Buffer, pos: number): number {
  return end < 0 ? 0 : slab.copy(body, pos, start, end);
}

/** `frameOutbound` for a packet without headroom: one copy into a fresh buffer first. */
export function frameOutboundCopy(gate: DataGate, packet: Buffer): Buffer | undefined {
  const frame = Buffer.allocUnsafe(DATA_HEADROOM + packet.length);
  packet.copy(frame, DATA_HEADROOM);
  return frameOutbound(gate, frame);
}

/**
 * The inbound fast lane: a PPP frame `buf[at, at + length)` in our own shape for clear IPv4
 * (`FF 03 00 21`) is decided here without an event: handed to `sink` (a view, valid during the
 * call; the only one made per packet) if the gate admits it, else dropped and counted. True =
 * consumed; false = any other frame, which takes the event path (control protocols, IPv6 with its
 * intercepts, MPPE, PFC/ACFC forms).
 */
export function fastLaneIn(gate: DataGate, buf: Buffer, at: number, length: number, sink: (packet: Buffer) => void): boolean {
  if (length <= 4 || buf[at] !== 0xff || buf[at + 1] !== 0x03 || buf[at + 2] !== 0x00 || buf[at + 3] !== PPP_IPV4) return false;
  const packet = buf.subarray(at + 4, at + length);
  if (gate.admitIn(PPP_IPV4, packet, false)) sink(packet);
  return true;
}
