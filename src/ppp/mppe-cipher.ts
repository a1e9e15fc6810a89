/**
 * MPPE data encryption (RFC 3078) for one direction of a link: the 2-byte header (flags + 12-bit
 * coherency count), RC4 over protocol ‖ payload, and key changes (RFC 3078 §7.3) — every packet in
 * stateless mode, at each "flag" packet (ccount low byte 0xFF) or after a CCP Reset in stateful mode.
 * Behaviour follows Linux's ppp_mppe (what pppd clients run): the count starts at 4095 so the first
 * packet is 0 and already rekeyed; 40-bit keys carry the D1 26 9E salt, 56-bit keys D1.
 * Sans-I/O and allocation-light: the encryptor writes into a caller's buffer.
 */
import { getNewKeyFromSha, initialSessionKey } from '../crypto/mschap.js';
import { Rc4 } from '../crypto/rc4.js';

export type MppeStrength = 40 | 56 | 128;

export interface MppeDirection {
  readonly strength: MppeStrength;
  /** Stateless ("H" bit): rekey before every packet, losses cost nothing. */
  readonly stateless: boolean;
}

/** Header bits (first byte of the 16-bit header). */
export const MPPE_FLUSHED = 0x80; // A: RC4 tables were reinitialised
export const MPPE_COMPRESSED = 0x20; // C: MPPC (never used here)
export const MPPE_ENCRYPTED = 0x10; // D
const CCOUNT_SPACE = 0x1000;
/** Encrypted frame = 2-byte header + 2-byte protocol + payload. */
export const MPPE_OVERHEAD = 4;
/**
 * A stateless gap larger than this ends the session: over SSTP (TCP) nothing is lost, so a big
 * jump is a broken or hostile peer, and each missed count costs a key change (SHA-1 + 2 RC4 setups).
 */
export const MAX_STATELESS_GAP = 1024;
/** Linux ppp_mppe's "bogon" budget: +100 per bad packet, halved per good one. */
const SANITY_STEP = 100;
const SANITY_MAX = 1600;

const keyLength = (s: MppeStrength): number => (s === 128 ? 16 : 8);

/** One direction's key schedule: the start (master) key and the current session key. */
class KeySchedule {
  readonly rc4 = new Rc4();
  private readonly master: Buffer;
  private session: Buffer;
  private readonly len: number;

  constructor(startKey: Buffer, private readonly strength: MppeStrength) {
    this.len = keyLength(strength);
    if (startKey.length < this.len) throw new RangeError(`MPPE start key has ${startKey.length} bytes, need ${this.len}`);
    this.master = Buffer.from(startKey.subarray(0, this.len));
    this.session = initialSessionKey(this.master, strength);
    this.rc4.setKey(this.session);
  }

  /** RFC 3078 §7.3: interim = SHA(master, session); session = RC4(interim, interim); re-salt; re-key. */
  rekey(): void {
    const interim = getNewKeyFromSha(this.master, this.session, this.len);
    this.rc4.setKey(interim);
    const next = this.rc4.apply(interim);
    salt(next, this.strength);
    this.session = next;
    this.rc4.setKey(next);
  }

  /** Restart the keystream with the current session key (no key change). */
  restart(): void {
    this.rc4.setKey(this.session);
  }
}

function salt(key: Buffer, strength: MppeStrength): void {
  if (strength === 40) key.set([0xd1, 0x26, 0x9e], 0);
  else if (strength === 56) key[0] = 0xd1;
}

/** Sender side: server → client with the server's MasterSendKey. */
export class MppeEncryptor {
  private readonly keys: KeySchedule;
  private ccount = CCOUNT_SPACE - 1;
  private flushNext = false;

  constructor(startKey: Buffer, readonly params: MppeDirection) {
    this.keys = new KeySchedule(startKey, params.strength);
  }

  /** The peer sent a CCP Reset-Request: the next packet is flushed (Linux rekeys; the peer expects it). */
  resetRequested(): void {
    this.flushNext = true;
  }

  /**
   * Encrypts `protocol ‖ payload` into out[off..]: header(2) protocol(2) payload, MPPE_OVERHEAD + payload
   * bytes in all. `payload` may be a view; it is read once.
   */
  encryptInto(protocol: number, payload: Uint8Array, out: Buffer, off: number): void {
    this.ccount = (this.ccount + 1) % CCOUNT_SPACE;
    let bits = MPPE_ENCRYPTED;
    if (this.params.stateless || (this.ccount & 0xff) === 0xff || this.flushNext) {
      this.keys.rekey();
      bits |= MPPE_FLUSHED;
      this.flushNext = false;
    }
    out.writeUInt16BE(((bits << 8) | this.ccount) & 0xffff, off);
    out.writeUInt16BE(protocol, off + 2);
    const rc4 = this.keys.rc4;
    rc4.process(out, off + 2, out, off + 2, 2);
    rc4.process(payload, 0, out, off + 4, payload.length);
  }

  /** The information field of an MPPE frame (protocol 0x00FD) for `payload` of `protocol`. */
  encrypt(protocol: number, payload: Uint8Array): Buffer {
    const out = Buffer.allocUnsafe(MPPE_OVERHEAD + payload.length);
    this.encryptInto(protocol, payload, out, 0);
    return out;
  }
}

export type MppeDecryptResult =
  | { readonly ok: true; readonly protocol: number; readonly payload: Buffer }
  /** Dropped: malformed, or waiting for resync. `resetRequest`: send a CCP Reset-Request (stateful loss). */
  | { readonly ok: false; readonly reason: string; readonly resetRequest?: boolean; readonly fatal?: boolean };

/** Receiver side: client → server with the server's MasterReceiveKey. */
export class MppeDecryptor {
  private readonly keys: KeySchedule;
  private ccount = CCOUNT_SPACE - 1;
  private discarding = false;
  private sanity = 0;

  constructor(startKey: Buffer, readonly params: MppeDirection) {
    this.keys = new KeySchedule(startKey, params.strength);
  }

  /** The information field of a 0x00FD frame → the inner protocol and a fresh payload buffer. */
  decrypt(info: Buffer): MppeDecryptResult {
    if (info.length <= 2) return this.bogon('short MPPE packet');
    const header = info.readUInt16BE(0);
    const bits = header >> 8;
    const ccount = header & 0x0fff;
    const flushed = (bits & MPPE_FLUSHED) !== 0;
    if ((bits & MPPE_ENCRYPTED) === 0 || (bits & MPPE_COMPRESSED) !== 0) return this.bogon('MPPE packet not encrypted or compressed');
    if (this.params.stateless && !flushed) return this.bogon('FLUSHED bit missing in stateless mode');
    if (!this.params.stateless && (ccount & 0xff) === 0xff && !flushed) return this.bogon('FLUSHED bit missing on a flag packet');
    const sync = this.params.stateless ? this.syncStateless(ccount) : this.syncStateful(ccount, flushed);
    if (sync !== undefined) return sync;
    this.sanity >>= 1;
    return this.open(info.subarray(2));
  }

  private syncStateless(ccount: number): MppeDecryptResult | undefined {
    const gap = (ccount - this.ccount + CCOUNT_SPACE) % CCOUNT_SPACE;
    if (gap === 0) return this.bogon(`repeated coherency count ${ccount}`);
    if (gap > MAX_STATELESS_GAP) return { ok: false, reason: `coherency count jumped by ${gap}`, fatal: true };
    for (let n = 0; n < gap; n++) this.keys.rekey();
    this.ccount = ccount;
    // Lost packets resynchronise at once, but count against the peer (SSTP runs over TCP).
    if (gap > 1) this.sanity += SANITY_STEP;
    return undefined;
  }

  /** RFC 3078 §8.2 as Linux does it: on loss discard until a flushed packet, asking for a reset once. */
  private syncStateful(ccount: number, flushed: boolean): MppeDecryptResult | undefined {
    if (!this.discarding) {
      this.ccount = (this.ccount + 1) % CCOUNT_SPACE;
      if (ccount !== this.ccount) {
        this.discarding = true;
        return { ok: false, reason: `packet loss: expected coherency count ${this.ccount}, got ${ccount}`, resetRequest: true };
      }
    } else {
      if (!flushed) return { ok: false, reason: 'waiting for a flushed packet after loss' };
      // One key change for every flag packet (low byte 0xFF) we missed.
      while ((ccount & ~0xff) !== (this.ccount & ~0xff)) {
        this.keys.rekey();
        this.ccount = (this.ccount + 256) % CCOUNT_SPACE;
      }
      this.discarding = false;
      this.ccount = ccount;
    }
    if (flushed) this.keys.rekey();
    return undefined;
  }

  private open(body: Buffer): MppeDecryptResult {
    const plain = this.keys.rc4.apply(body);
    // The encrypted protocol field may itself be compressed to one (odd) byte.
    if ((plain[0]! & 1) === 1) return { ok: true, protocol: plain[0]!, payload: plain.subarray(1) };
    if (plain.length < 2) return this.bogon('MPPE packet without a protocol field');
    return { ok: true, protocol: plain.readUInt16BE(0), payload: plain.subarray(2) };
  }

  private bogon(reason: string): MppeDecryptResult {
    this.sanity += SANITY_STEP;
    return { ok: false, reason, fatal: this.sanity >= SANITY_MAX };
  }

  /** True while packets are dropped until the sender flushes (stateful mode only). */
  get resyncing(): boolean {
    return this.discarding;
  }
}
