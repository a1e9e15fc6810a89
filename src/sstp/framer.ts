/**
 * SSTP stream delineation (§3.1.5.1): TLS bytes in any chunking → whole packets. A packet that lies
 * inside one chunk is handed out as a view of that chunk (no copy); only a packet split across
 * chunks is assembled in its own buffer. At most one partial packet (≤ 4095 bytes) is ever held.
 *
 * A bad version or a length outside [4 (8 for control), 4095] is a framing failure: the stream can
 * no longer be delineated, so the connection must be closed without sending anything. The framer
 * throws a DecodeError then and stays failed (sticky).
 */
import { DecodeError } from '../common/errors.js';
import { HEADER_LEN, readHeader } from './wire.js';

export class SstpFramer {
  /** Bytes of a header split across chunks. */
  private readonly head = Buffer.alloc(HEADER_LEN);
  private headLen = 0;
  /** The packet being assembled once its header is known. */
  private partial: Buffer | undefined;
  private partialLen = 0;
  private failure: DecodeError | undefined;

  /** Bytes held for an incomplete packet (for tests and metrics). */
  get buffered(): number {
    return this.partial ? this.partialLen : this.headLen;
  }
  get failed(): DecodeError | undefined {
    return this.failure;
  }

  /**
   * Delivers each complete packet (header included) to `onPacket`, in order. Views stay valid as
   * long as the caller does not reuse `chunk`. Throws DecodeError on a framing failure, after the
   * packets before it were delivered.
   */
  push(chunk: Buffer, onPacket: (packet: Buffer) => void): void {
    this.pushAt(chunk, (buf, at, length) => onPacket(buf.subarray(at, at + length)));
  }

  /**
   * `push` without a view per packet: each packet is `buf[at, at + length)`. The data path's form:
   * at full speed a Buffer view per packet was a third of what the server allocated.
   */
  pushAt(chunk: Buffer, onPacket: (buf: Buffer, at: number, length: number) => void): void {
    if (this.failure) throw this.failure;
    let off = this.headLen > 0 || this.partial ? this.resume(chunk, onPacket) : 0;
    while (off < chunk.length) {
      const left = chunk.length - off;
      if (left < HEADER_LEN) {
        chunk.copy(this.head, 0, off);
        this.headLen = left;
        return;
      }
      const length = this.packetLength(chunk, off);
      if (left < length) {
        this.startPartial(length, chunk.subarray(off));
        return;
      }
      onPacket(chunk, off, length);
      off += length;
    }
  }

  /** Header check; a failure makes the framer sticky-failed (errors thrown by onPacket do not). */
  private packetLength(buf: Buffer, off: number): number {
    try {
      return readHeader(buf, off).length;
    } catch (e) {
      if (e instanceof DecodeError) this.failure = e;
      throw e;
    }
  }

  /** Completes a header and/or packet carried over from earlier chunks; returns bytes consumed. */
  private resume(chunk: Buffer, onPacket: (buf: Buffer, at: number, length: number) => void): number {
    let off = 0;
    if (!this.partial) {
      const n = Math.min(HEADER_LEN - this.headLen, chunk.length);
      chunk.copy(this.head, this.headLen, 0, n);
      this.headLen += n;
      off = n;
      if (this.headLen < HEADER_LEN) return off;
      const length = this.packetLength(this.head, 0);
      this.headLen = 0;
      this.startPartial(length, this.head);
    }
    const p = this.partial!;
    const n = Math.min(p.length - this.partialLen, chunk.length - off);
    chunk.copy(p, this.partialLen, off, off + n);
    this.partialLen += n;
    off += n;
    if (this.partialLen === p.length) {
      this.partial = undefined;
      this.partialLen = 0;
      onPacket(p, 0, p.length);
    }
    return off;
  }

  private startPartial(length: number, firstBytes: Buffer): void {
    const p = Buffer.allocUnsafe(length);
    firstBytes.copy(p, 0);
    this.partial = p;
    this.partialLen = firstBytes.length;
  }
}
