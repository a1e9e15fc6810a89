import { DecodeError } from './errors.js';

/**
 * Bounds-checked reader over a Buffer view. Every read checks the remaining length first and
 * throws DecodeError, so a decoder can never read past what the peer actually sent.
 */
export class Reader {
  private pos = 0;
  constructor(private readonly buf: Buffer, private readonly what = 'packet') {}

  get remaining(): number {
    return this.buf.length - this.pos;
  }
  get offset(): number {
    return this.pos;
  }
  private need(n: number): void {
    if (n > this.remaining) {
      throw new DecodeError(`${this.what}: truncated (need ${n} bytes, have ${this.remaining})`);
    }
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  /** A view (no copy) of the next n bytes. */
  take(n: number): Buffer {
    if (n < 0) throw new DecodeError(`${this.what}: negative length`);
    this.need(n);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  /** A sub-reader over the next n bytes (for length-prefixed structures). */
  sub(n: number, what = this.what): Reader {
    return new Reader(this.take(n), what);
  }
  rest(): Buffer {
    return this.take(this.remaining);
  }
  /** Reject trailing bytes where the format forbids them. */
  end(): void {
    if (this.remaining !== 0) throw new DecodeError(`${this.what}: ${this.remaining} trailing bytes`);
  }
}

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
