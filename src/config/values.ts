/**
 * Value types of the `vpn sstp` schema, after the validators vyos-1x names in its XML
 * (ipv4-address, ipv4-prefix, ipv6-address, ipv6-prefix, numeric, regex). A type's `check`
 * returns undefined when the value is acceptable, else the reason shown to the operator.
 * Pure: no node:net (its isIP would do, but cores stay free of socket modules).
 */

export interface ValueType {
  /** Short name for messages and docs, e.g. "ipv4-address". */
  readonly name: string;
  check(value: string): string | undefined;
}

// ---------------------------------------------------------------------------------------------
// IPv4

/** Dotted quad → unsigned 32-bit number. Leading zeros are refused (some tools read them as octal). */
export function parseIpv4(s: string): number | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return undefined;
    const octet = Number(p);
    if (octet > 255) return undefined;
    n = n * 256 + octet;
  }
  return n;
}

export function formatIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export interface Ipv4Prefix {
  readonly network: number;
  readonly length: number;
}

/** Network mask of a prefix length as an unsigned 32-bit number. */
function ipv4Mask(length: number): number {
  return length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
}

function parsePrefixLength(s: string, max: number): number | undefined {
  if (!/^(0|[1-9][0-9]{0,2})$/.test(s)) return undefined;
  const n = Number(s);
  return n <= max ? n : undefined;
}

/** "a.b.c.d/len" without checking host bits; `network` keeps the address as written. */
function splitIpv4Prefix(s: string): { addr: number; length: number } | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const addr = parseIpv4(s.slice(0, slash));
  const length = parsePrefixLength(s.slice(slash + 1), 32);
  if (addr === undefined || length === undefined) return undefined;
  return { addr, length };
}

/** A CIDR prefix whose host bits are zero, else undefined. */
export function parseIpv4Prefix(s: string): Ipv4Prefix | undefined {
  const p = splitIpv4Prefix(s);
  if (p === undefined || (p.addr & ~ipv4Mask(p.length)) !== 0) return undefined;
  return { network: p.addr, length: p.length };
}

export function ipv4InPrefix(addr: number, prefix: Ipv4Prefix): boolean {
  const mask = ipv4Mask(prefix.length);
  return ((addr & mask) >>> 0) === prefix.network;
}

// ---------------------------------------------------------------------------------------------
// IPv6

function parseHextets(part: string): number[] | undefined {
  if (part === '') return [];
  const out: number[] = [];
  const groups = part.split(':');
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i]!;
    // An embedded IPv4 address may end the address (::ffff:192.0.2.1).
    if (i === groups.length - 1 && g.includes('.')) {
      const v4 = parseIpv4(g);
      if (v4 === undefined) return undefined;
      out.push(v4 >>> 16, v4 & 0xffff);
      continue;
    }
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    out.push(parseInt(g, 16));
  }
  return out;
}

/** Textual IPv6 address (RFC 4291 §2.2, no zone id) → 16 bytes. */
export function parseIpv6(s: string): Uint8Array | undefined {
  if (s.length === 0 || s.length > 45) return undefined;
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  let words: number[];
  if (halves.length === 2) {
    const head = parseHextets(halves[0]!);
    const tail = parseHextets(halves[1]!);
    if (head === undefined || tail === undefined) return undefined;
    // A tail IPv4 part is only valid at the very end, which parseHextets already ensures;
    // the head must not contain one.
    if (halves[0]!.includes('.')) return undefined;
    const missing = 8 - head.length - tail.length;
    if (missing < 1) return undefined;
    words = [...head, ...new Array<number>(missing).fill(0), ...tail];
  } else {
    const all = parseHextets(s);
    if (all === undefined || all.length !== 8) return undefined;
    words = all;
  }
  const bytes = new Uint8Array(16);
  words.forEach((w, i) => {
    bytes[2 * i] = w >>> 8;
    bytes[2 * i + 1] = w & 255;
  });
  return bytes;
}

export interface Ipv6Prefix {
  readonly network: Uint8Array;
  readonly length: number;
}

function ipv6HostBitsZero(addr: Uint8Array, length: number): boolean {
  for (let bit = length; bit < 128; bit++) {
    if ((addr[bit >> 3]! >> (7 - (bit & 7))) & 1) return false;
  }
  return true;
}

function splitIpv6Prefix(s: string): { addr: Uint8Array; length: number } | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const addr = parseIpv6(s.slice(0, slash));
  const length = parsePrefixLength(s.slice(slash + 1), 128);
  if (addr === undefined || length === undefined) return undefined;
  return { addr, length };
}

export function parseIpv6Prefix(s: string): Ipv6Prefix | undefined {
  const p = splitIpv6Prefix(s);
  if (p === undefined || !ipv6HostBitsZero(p.addr, p.length)) return undefined;
  return { network: p.addr, length: p.length };
}

// ---------------------------------------------------------------------------------------------
// Value types

export const ipv4Address: ValueType = {
  name: 'ipv4-address',
  check: (v) => (parseIpv4(v) === undefined ? `"${v}" is not a valid IPv4 address` : undefined),
};

export const ipv6Address: ValueType = {
  name: 'ipv6-address',
  check: (v) => (parseIpv6(v) === undefined ? `"${v}" is not a valid IPv6 address` : undefined),
};

/** Either family (vyos `ip-address`). */
export const ipAddress: ValueType = {
  name: 'ip-address',
  check: (v) =>
    parseIpv4(v) === undefined && parseIpv6(v) === undefined
      ? `"${v}" is not a valid IPv4 or IPv6 address`
      : undefined,
};

/** An address or a prefix of either family (a host or a network a proxy may connect from). */
export const ipAddressOrPrefix: ValueType = {
  name: 'ip-address|ip-prefix',
  check: (v) =>
    parseIpv4(v) === undefined && parseIpv6(v) === undefined && splitIpv4Prefix(v) === undefined && splitIpv6Prefix(v) === undefined
      ? `"${v}" is not a valid IPv4 or IPv6 address or prefix`
      : undefined,
};

/** A hexadecimal digest of `bytes` bytes (colons between octets allowed, as openssl prints them). */
export function hexDigest(bytes: number, what: string): ValueType {
  const re = new RegExp(`^[0-9a-fA-F]{${2 * bytes}}$`);
  return { name: `hex${bytes * 8}`, check: (v) => (re.test(v.replace(/:/g, '')) ? undefined : `"${v}" is not a ${what} fingerprint (${bytes} bytes in hex)`) };
}

const CIDR_MESSAGE = 'Not a valid CIDR formatted prefix';

/** IPv4 prefix with host bits zero; the reason names the prefix the operator probably meant. */
export const ipv4Prefix: ValueType = {
  name: 'ipv4-prefix',
  check: (v) => {
    const p = splitIpv4Prefix(v);
    if (p === undefined) return CIDR_MESSAGE;
    const network = (p.addr & ipv4Mask(p.length)) >>> 0;
    if (network !== p.addr) {
      return `${CIDR_MESSAGE}: "${v}" has host bits set (did you mean ${formatIpv4(network)}/${p.length}?)`;
    }
    return undefined;
  },
};

export const ipv6Prefix: ValueType = {
  name: 'ipv6-prefix',
  check: (v) => {
    const p = splitIpv6Prefix(v);
    if (p === undefined) return `"${v}" is not a valid IPv6 prefix`;
    if (!ipv6HostBitsZero(p.addr, p.length)) return `"${v}" is not a valid IPv6 prefix: host bits are set`;
    return undefined;
  },
};

/** Any text, including the empty string (VyOS accepts `''`). */
export const text: ValueType = { name: 'text', check: () => undefined };

export const nonEmptyText: ValueType = {
  name: 'text',
  check: (v) => (v.length === 0 ? 'Value must not be empty' : undefined),
};

/** Printable-or-not ASCII of bounded length (vyos `[[:ascii:]]{min,max}`). */
export function asciiText(min: number, max: number, message: string): ValueType {
  const re = new RegExp(`^[\\x00-\\x7f]{${min},${max}}$`);
  return { name: 'ascii', check: (v) => (re.test(v) ? undefined : message) };
}

/**
 * Integer range, inclusive (vyos `numeric --range a-b`); integers only, no sign, no decimals.
 * `message` is the XML constraintErrorMessage when VyOS has one.
 */
export function numeric(min: number, max: number, message?: string): ValueType {
  const msg = message ?? `Value must be an integer between ${min} and ${max}`;
  return {
    name: `numeric ${min}-${max}`,
    check: (v) => {
      if (!/^[0-9]{1,15}$/.test(v)) return msg;
      const n = Number(v);
      return n >= min && n <= max ? undefined : msg;
    },
  };
}

/** vyos `numeric --positive`: an integer greater than zero. */
export function positive(message = 'Value must be a positive integer'): ValueType {
  return numeric(1, Number.MAX_SAFE_INTEGER, message);
}

/**
 * A fixed set of words (vyos `<regex>(a|b|c)</regex>`). `refused` maps words that exist in some
 * VyOS release but that we deliberately reject to the reason why.
 */
export function oneOf(
  words: readonly string[],
  refused: Readonly<Record<string, string>> = {},
): ValueType {
  return {
    name: words.join('|'),
    check: (v) => {
      if (words.includes(v)) return undefined;
      if (Object.hasOwn(refused, v)) return refused[v];
      return `Invalid value "${v}": must be one of ${words.join(', ')}`;
    },
  };
}

/** Replace a type's reason by the node's constraintErrorMessage (VyOS shows only that text). */
export function withMessage(type: ValueType, message: string): ValueType {
  return { name: type.name, check: (v) => (type.check(v) === undefined ? undefined : message) };
}

// ---------------------------------------------------------------------------------------------
// VyOS 1.4+ value types (vyos-1x interface-definitions, vyos-utils validators)

/**
 * A regex constraint as vyos-utils applies it: the whole value must match (`^…$`). `message` is
 * the node's constraintErrorMessage, else a generic text naming the pattern's meaning.
 */
export function fullMatch(name: string, re: RegExp, message: string): ValueType {
  const anchored = new RegExp(`^(?:${re.source})$`, re.flags.replace('g', ''));
  return { name, check: (v) => (anchored.test(v) ? undefined : message) };
}

/** include/constraint/alpha-numeric-hyphen-underscore-dot.xml.i: pool and PKI entry names. */
const NAME_RE = /[-_a-zA-Z0-9][\w\-.+]*/;
export const vyosName: ValueType = fullMatch(
  'name',
  NAME_RE,
  'Name may only contain letters, digits, "-", "_", "." and "+", and must not start with "." or "+"',
);

/**
 * ipaddrcheck --is-ipv4-host: an address with a prefix length that is not the network address of
 * that prefix (any address of a /31 or /32 counts), e.g. 192.0.2.5/24.
 */
export function parseIpv4Host(s: string): { addr: number; length: number } | undefined {
  const p = splitIpv4Prefix(s);
  if (p === undefined) return undefined;
  const network = (p.addr & ipv4Mask(p.length)) >>> 0;
  return p.addr !== network || p.length >= 31 ? p : undefined;
}

/**
 * ipaddrcheck --range-prefix-length M --is-ipv4-range: "a.b.c.d-e.f.g.h", both plain addresses,
 * first ≤ last, the last inside the first's /M. VyOS asks M = 24 for pool ranges, because
 * accel-ppp's range syntax (a.b.c.d-h) only varies the last octet.
 */
export function parseIpv4Range(s: string, maskLength = 24): { first: number; last: number } | undefined {
  if (!/^[0-9.]+-[0-9.]+$/.test(s)) return undefined;
  const [a, b] = s.split('-') as [string, string];
  const first = parseIpv4(a);
  const last = parseIpv4(b);
  if (first === undefined || last === undefined || first > last) return undefined;
  const mask = ipv4Mask(maskLength);
  return ((first & mask) >>> 0) === ((last & mask) >>> 0) ? { first, last } : undefined;
}

/**
 * `client-ip-pool NAME range`: validators ipv4-prefix, ipv4-host, ipv4-range-mask -m 24. The
 * message joins what each validator prints (VyOS shows all of them when every one fails).
 */
export const ipv4PoolRange: ValueType = {
  name: 'ipv4-prefix|ipv4-host|ipv4-range',
  check: (v) =>
    parseIpv4Prefix(v) !== undefined || parseIpv4Host(v) !== undefined || parseIpv4Range(v) !== undefined
      ? undefined
      : `"${v}" is not a valid IPv4 prefix, IPv4 host (address/length) or IPv4 address range within one /24 (a.b.c.d-a.b.c.e)`,
};

/** vyos-utils `numeric --float --range a-b`: a plain decimal number (no exponent) within [a, b]. */
export function decimal(min: number, max: number, message: string): ValueType {
  return {
    name: `numeric ${min}-${max} --float`,
    check: (v) => {
      if (!/^-?[0-9]{1,15}(\.[0-9]{1,15})?$/.test(v)) return message;
      const n = Number(v);
      return n >= min && n <= max ? undefined : message;
    },
  };
}

/** vyos-utils `numeric --allow-range --range a-b`: an integer, or "n-m" with both ends in range. */
export function numericOrRange(min: number, max: number, message: string): ValueType {
  const one = numeric(min, max, message);
  return {
    name: `numeric ${min}-${max} --allow-range`,
    check: (v) => {
      const m = /^([0-9]+)-([0-9]+)$/.exec(v);
      if (m === null) return one.check(v);
      return one.check(m[1]!) ?? one.check(m[2]!);
    },
  };
}

/**
 * vyos-1x `base64` validator: Python's b64decode (non-strict). Whitespace is dropped by VyOS's
 * migration and `set` alike; what remains must be base64 with correct padding.
 */
export function base64(message: string): ValueType {
  return {
    name: 'base64',
    check: (v) => {
      const s = v.replace(/\s+/g, '');
      return /^[A-Za-z0-9+/]*={0,2}$/.test(s) && s.length % 4 === 0 ? undefined : message;
    },
  };
}

/**
 * The addresses a `client-ip-pool` range value spans, ends included: a prefix → the whole prefix;
 * a host a.b.c.d/len → from that address to the end of its prefix (accel-ppp's parse1 starts at
 * the address as written); a.b.c.d-e.f.g.h → both ends. Undefined when it is none of the three.
 */
export function ipv4PoolSpan(v: string): { first: number; last: number } | undefined {
  const r = parseIpv4Range(v);
  if (r !== undefined) return r;
  const p = splitIpv4Prefix(v);
  if (p === undefined) return undefined;
  const broadcast = (p.addr | ~ipv4Mask(p.length)) >>> 0;
  return { first: p.addr, last: broadcast };
}

/**
 * An IPV6CP interface id "a:b:c:d" (`ppp-options ipv6-interface-id`, `ipv6-peer-interface-id`) →
 * 8 bytes: four 16-bit groups written as in an IPv6 address (hex), e.g. "0:0:0:1" → ::1.
 * Undefined for anything else, or for the all-zero id.
 */
export function parseInterfaceId(text: string): Buffer | undefined {
  const groups = text.split(':');
  if (groups.length !== 4 || !groups.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  const iid = Buffer.alloc(8);
  groups.forEach((g, i) => iid.writeUInt16BE(parseInt(g, 16), 2 * i));
  return iid.every((b) => b === 0) ? undefined : iid;
}
