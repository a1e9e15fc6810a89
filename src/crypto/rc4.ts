/**
 * RC4 (the MPPE stream cipher), hand-written: Node 20's OpenSSL offers rc4 only through the legacy
 * provider, which the daemon does not load. One instance is one keystream; `setKey` restarts it.
 */
export class Rc4 {
  private readonly s = new Uint8Array(256);
  private i = 0;
  private j = 0;

  constructor(key?: Uint8Array) {
    if (key) this.setKey(key);
  }

  /** The key schedule (KSA): a fresh keystream for `key` (1..256 bytes). */
  setKey(key: Uint8Array): void {
    if (key.length === 0 || key.length > 256) throw new RangeError(`RC4 key length ${key.length} outside 1..256`);
    const s = this.s;
    for (let k = 0; k < 256; k++) s[k] = k;
    let j = 0;
    for (let k = 0; k < 256; k++) {
      const t = s[k]!;
      j = (j + t + key[k % key.length]!) & 0xff;
      s[k] = s[j]!;
      s[j] = t;
    }
    this.i = 0;
    this.j = 0;
  }

  /** XORs `len` bytes of keystream over src[srcOff..] into dst[dstOff..]; src and dst may be the same. */
  process(src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number, len: number): void {
    const s = this.s;
    let i = this.i;
    let j = this.j;
    for (let n = 0; n < len; n++) {
      i = (i + 1) & 0xff;
      const si = s[i]!;
      j = (j + si) & 0xff;
      const sj = s[j]!;
      s[i] = sj;
      s[j] = si;
      dst[dstOff + n] = src[srcOff + n]! ^ s[(si + sj) & 0xff]!;
    }
    this.i = i;
    this.j = j;
  }

  /** Convenience: a new buffer with `data` run through the keystream. */
  apply(data: Uint8Array): Buffer {
    const out = Buffer.allocUnsafe(data.length);
    this.process(data, 0, out, 0, data.length);
    return out;
  }
}
