/// <reference path="./vendor.d.ts" />
/**
 * MD4 and DES, the two primitives MS-CHAP needs that Node 20's OpenSSL refuses without
 * --openssl-legacy-provider: the one place they are sourced (js-md4 and des.js, pure JS). Pure.
 */
import md4lib from 'js-md4';
import desjs from 'des.js';

export function md4(data: Uint8Array): Buffer {
  return Buffer.from(md4lib.arrayBuffer(data));
}

/** 7 key bytes → 8 DES key bytes: each takes 7 bits, shifted left, low bit = odd parity. */
export function desExpandKey(k7: Buffer): Buffer {
  const out = Buffer.alloc(8);
  for (let i = 0; i < 8; i++) {
    let v = 0;
    for (let b = 0; b < 7; b++) {
      const bit = 7 * i + b;
      v = (v << 1) | ((k7[bit >> 3]! >> (7 - (bit & 7))) & 1);
    }
    out[i] = (v << 1) | (popcount7(v) % 2 === 0 ? 1 : 0);
  }
  return out;
}

function popcount7(v: number): number {
  let n = 0;
  for (let x = v; x !== 0; x >>= 1) n += x & 1;
  return n;
}

/** DES-ECB of one 8-byte block under a 7-byte key (RFC 2759 §8.6 DesEncrypt). */
export function desEncrypt(clear8: Buffer, k7: Buffer): Buffer {
  const cipher = desjs.DES.create({ type: 'encrypt', key: desExpandKey(k7), padding: false });
  return Buffer.from(cipher.update(clear8));
}
