/**
 * Rate limits from RADIUS, read as accel-ppp's shaper reads them (`shaper.c parse_string`; radius.md
 * §8): an integer attribute is kbit/s both ways; a string is `N`, `D/U` (also `D\U`, `D:U`) with an
 * optional unit per number (K ×1, M ×1000, G ×1 000 000, B ×0.001; accel-ppp codes G as ×10⁷, a
 * slip we do not copy), or Cisco style `rate-limit output|input <bps> …` (bps/1000, one direction
 * per attribute). Mikrotik-Rate-Limit is `RX/TX` from the router's side: RX is the client's upload.
 * Pure.
 */
import type { RateLimit } from '../config/model.js';
import { VENDOR_MIKROTIK, type AttributeDef } from '../config/radius-dictionary.js';

export type RateParse = { readonly ok: true; readonly limit: RateLimit } | { readonly ok: false; readonly reason: string };

/** VyOS's range for local users' limits; RADIUS values are held to the same. */
export const MAX_KBIT = 10_000_000;

const UNITS: Readonly<Record<string, number>> = { '': 1, k: 1, m: 1000, g: 1_000_000, b: 0.001 };

function rate(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([kmgb]?)$/i.exec(text.trim());
  if (!m) return undefined;
  const v = Number(m[1]) * UNITS[m[2]!.toLowerCase()]!;
  return Number.isFinite(v) ? v : undefined;
}

const fail = (reason: string): RateParse => ({ ok: false, reason });

function limitOf(down: number | undefined, up: number | undefined, multiplier: number, what: string): RateParse {
  if (down === undefined || up === undefined) return fail(`${what}: needs both a download and an upload rate`);
  const d = Math.round(down * multiplier);
  const u = Math.round(up * multiplier);
  for (const v of [d, u]) {
    if (v < 1 || v > MAX_KBIT) return fail(`${what}: rate ${v} kbit/s is outside 1..${MAX_KBIT}`);
  }
  return { ok: true, limit: { downloadKbit: d, uploadKbit: u } };
}

/** `D/U` or `N`; the direction order is swapped for Mikrotik-Rate-Limit (`RX/TX`). */
function pair(value: string, swapped: boolean): { down?: number; up?: number } | undefined {
  if (/^\d+,/.test(value)) return undefined; // accel-ppp time-range ids: no time ranges here
  const first = value.trim().split(/\s+/)[0] ?? '';
  const parts = first.split(/[/\\:]/);
  if (parts.length === 1) {
    const r = rate(parts[0]!);
    return r === undefined ? undefined : { down: r, up: r };
  }
  if (parts.length !== 2) return undefined;
  const a = rate(parts[0]!);
  const b = rate(parts[1]!);
  if (a === undefined || b === undefined) return undefined;
  return swapped ? { down: b, up: a } : { down: a, up: b };
}

const CISCO = /^rate-limit\s+(input|output)\s+(?:access-group\s+\S+\s+)?(\d+)(?:\s|$)/i;

/**
 * Every value of the configured attribute in one reply (Cisco style spreads the two directions
 * over two attributes); undefined when the reply has none.
 */
export function parseRateLimit(values: readonly Buffer[], def: AttributeDef, multiplier = 1): RateParse | undefined {
  if (values.length === 0) return undefined;
  const what = def.name;
  if (def.kind === 'integer') {
    const v = values[0]!;
    if (v.length !== 4) return fail(`${what}: integer attribute of ${v.length} bytes`);
    const n = v.readUInt32BE(0);
    return limitOf(n, n, multiplier, what);
  }
  let down: number | undefined;
  let up: number | undefined;
  for (const raw of values) {
    const text = raw.toString('utf8').replace(/\0+$/, '');
    const cisco = CISCO.exec(text.trim());
    if (cisco) {
      const kbit = Number(cisco[2]) / 1000;
      if (cisco[1]!.toLowerCase() === 'output') down = kbit;
      else up = kbit;
      continue;
    }
    const p = pair(text, def.vendor === VENDOR_MIKROTIK);
    if (p === undefined) return fail(`${what}: cannot read rate limit "${text}"`);
    down = p.down;
    up = p.up;
  }
  return limitOf(down, up, multiplier, what);
}

export const formatRateLimit = (l: RateLimit): string => `${l.downloadKbit}/${l.uploadKbit}`;
