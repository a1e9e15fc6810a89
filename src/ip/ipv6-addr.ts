/**
 * IPv6 addresses and prefixes as values: 16-byte buffers and bigints, RFC 5952 text. Pure.
 */
import { parseIpv6, parseIpv6Prefix } from '../config/values.js';

export interface Prefix6 {
  /** Network address (host bits zero), 16 bytes. */
  readonly addr: Buffer;
  readonly len: number;
}

export function ipv6ToBigInt(b: Uint8Array): bigint {
  let v = 0n;
  for (let i = 0; i < 16; i++) v = (v << 8n) | BigInt(b[i]!);
  return v;
}

export function bigIntToIpv6(v: bigint): Buffer {
  const out = Buffer.alloc(16);
  let x = v;
  for (let i = 15; i >= 0; i--) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}

/** RFC 5952: lower case, leading zeros dropped, the longest run (≥ 2) of zero groups as "::". */
export function formatIpv6(b: Uint8Array): string {
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push((b[i]! << 8) | b[i + 1]!);
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]): string => xs.map((x) => x.toString(16)).join(':');
  if (bestAt < 0) return hex(g);
  return `${hex(g.slice(0, bestAt))}::${hex(g.slice(bestAt + bestLen))}`;
}

export function parseAddress6(s: string): Buffer | undefined {
  const a = parseIpv6(s);
  return a === undefined ? undefined : Buffer.from(a);
}

export function parsePrefix6(s: string): Prefix6 | undefined {
  const p = parseIpv6Prefix(s);
  return p === undefined ? undefined : { addr: Buffer.from(p.network), len: p.length };
}

export const formatPrefix6 = (p: Prefix6): string => `${formatIpv6(p.addr)}/${p.len}`;

const hostMask = (len: number): bigint => (1n << BigInt(128 - len)) - 1n;

/** True when the two prefixes share any address (one contains the other). */
export function prefixesOverlap(a: Prefix6, b: Prefix6): boolean {
  const len = Math.min(a.len, b.len);
  const m = ~hostMask(len) & ((1n << 128n) - 1n);
  return (ipv6ToBigInt(a.addr) & m) === (ipv6ToBigInt(b.addr) & m);
}

export function prefixContains(outer: Prefix6, inner: Prefix6): boolean {
  return outer.len <= inner.len && prefixesOverlap(outer, inner);
}

/** The address prefix ‖ interface identifier (the low 64 bits), e.g. a SLAAC address. */
export function withInterfaceId(prefix: Prefix6, iid: Buffer): Buffer {
  const out = Buffer.from(prefix.addr);
  iid.copy(out, 8, 0, 8);
  return out;
}

export const isLinkLocal = (a: Uint8Array): boolean => a[0] === 0xfe && (a[1]! & 0xc0) === 0x80;
