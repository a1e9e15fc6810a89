/**
 * RADIUS attributes by FreeRADIUS dictionary name: the standard ones the NAS reads, built-in vendors,
 * a parser for FreeRADIUS/accel-ppp dictionary files, and the resolution of the configured
 * `rate-limit [vendor X] attribute Y`. Here, below both config and radius, because the commit check
 * (verify.ts) and the daemon's start (server/runtime.ts) resolve the name and src/radius reads by the
 * result; it imports nothing of the project. Pure.
 */

export const VENDOR_MICROSOFT = 311;
export const VENDOR_MIKROTIK = 14988;

export type AttributeKind = 'string' | 'text' | 'integer' | 'ipaddr' | 'date' | 'other';

/** An attribute by name: standard (no vendor) or vendor-specific. */
export interface AttributeDef {
  readonly name: string;
  readonly vendor?: number;
  readonly type: number;
  readonly kind: AttributeKind;
}

const STANDARD: readonly AttributeDef[] = [
  { name: 'User-Name', type: 1, kind: 'text' },
  { name: 'Filter-Id', type: 11, kind: 'text' },
  { name: 'Framed-MTU', type: 12, kind: 'integer' },
  { name: 'Reply-Message', type: 18, kind: 'text' },
  { name: 'Framed-Route', type: 22, kind: 'text' },
  { name: 'Class', type: 25, kind: 'string' },
  { name: 'Session-Timeout', type: 27, kind: 'integer' },
  { name: 'Idle-Timeout', type: 28, kind: 'integer' },
  { name: 'Callback-Id', type: 20, kind: 'text' },
  { name: 'Framed-Pool', type: 88, kind: 'text' },
  { name: 'Acct-Interim-Interval', type: 85, kind: 'integer' },
  { name: 'NAS-Port-Id', type: 87, kind: 'text' },
  { name: 'Connect-Info', type: 77, kind: 'text' },
];

export interface VendorDictionary {
  readonly name: string;
  readonly id: number;
  readonly attributes: readonly AttributeDef[];
}

/** Vendors known without a dictionary file: enough for MS-CHAP and the usual rate-limit VSAs. */
const BUILTIN_VENDORS: readonly VendorDictionary[] = [
  {
    name: 'Microsoft',
    id: VENDOR_MICROSOFT,
    attributes: [
      { name: 'MS-CHAP-Error', vendor: VENDOR_MICROSOFT, type: 2, kind: 'string' },
      { name: 'MS-Primary-DNS-Server', vendor: VENDOR_MICROSOFT, type: 28, kind: 'ipaddr' },
      { name: 'MS-Secondary-DNS-Server', vendor: VENDOR_MICROSOFT, type: 29, kind: 'ipaddr' },
    ],
  },
  {
    name: 'Mikrotik',
    id: VENDOR_MIKROTIK,
    attributes: [
      { name: 'Mikrotik-Recv-Limit', vendor: VENDOR_MIKROTIK, type: 1, kind: 'integer' },
      { name: 'Mikrotik-Xmit-Limit', vendor: VENDOR_MIKROTIK, type: 2, kind: 'integer' },
      { name: 'Mikrotik-Rate-Limit', vendor: VENDOR_MIKROTIK, type: 8, kind: 'text' },
    ],
  },
  {
    name: 'Cisco',
    id: 9,
    attributes: [
      { name: 'Cisco-AVPair', vendor: 9, type: 1, kind: 'text' },
      { name: 'Cisco-Account-Info', vendor: 9, type: 250, kind: 'text' },
    ],
  },
];

const lower = (s: string): string => s.toLowerCase();

/** A standard attribute by its dictionary name (case-insensitive, as FreeRADIUS matches). */
export function standardAttribute(name: string): AttributeDef | undefined {
  return STANDARD.find((a) => lower(a.name) === lower(name));
}

export function builtinVendor(name: string): VendorDictionary | undefined {
  return BUILTIN_VENDORS.find((v) => lower(v.name) === lower(name));
}

export function vendorAttribute(dict: VendorDictionary, name: string): AttributeDef | undefined {
  return dict.attributes.find((a) => lower(a.name) === lower(name));
}

const KINDS: Readonly<Record<string, AttributeKind>> = {
  string: 'string',
  octets: 'string',
  text: 'text',
  integer: 'integer',
  ipaddr: 'ipaddr',
  date: 'date',
};

/**
 * The vendor `name` from a dictionary file in FreeRADIUS/accel-ppp format (`VENDOR name id`,
 * `BEGIN-VENDOR name` … `ATTRIBUTE attr number type` … `END-VENDOR`). Only the RFC 2865 VSA
 * layout (format=1,1) is understood; undefined if the file does not define that vendor.
 */
export function parseVendorDictionary(text: string, name: string): VendorDictionary | undefined {
  let id: number | undefined;
  let inside = false;
  const attributes: AttributeDef[] = [];
  for (const raw of text.split('\n')) {
    const words = raw.replace(/#.*/, '').trim().split(/\s+/);
    const [kw, a, b, c] = words;
    if (kw === 'VENDOR' && a !== undefined && lower(a) === lower(name) && b !== undefined) {
      const format = c ?? 'format=1,1';
      if (/^\d+$/.test(b) && /^format=1,1$/.test(format)) id = Number(b);
    } else if (kw === 'BEGIN-VENDOR' && a !== undefined) {
      inside = lower(a) === lower(name);
    } else if (kw === 'END-VENDOR') {
      inside = false;
    } else if (kw === 'ATTRIBUTE' && inside && id !== undefined && a && b && /^\d+$/.test(b) && Number(b) < 256) {
      attributes.push({ name: a, vendor: id, type: Number(b), kind: KINDS[lower(c ?? '')] ?? 'other' });
    }
  }
  return id === undefined ? undefined : { name, id, attributes };
}

/** Where vendor dictionaries are looked for (accel-ppp's, then FreeRADIUS's), as `dictionary.<vendor>`. */
export const DICTIONARY_DIRS: readonly string[] = ['/usr/share/accel-ppp/radius', '/usr/share/freeradius'];

export type Resolved = { readonly ok: true; readonly def: AttributeDef } | { readonly ok: false; readonly reason: string };

/**
 * The configured rate-limit attribute: a standard one by name, or with `vendor`, that vendor's
 * attribute from the built-in table or its dictionary file (`read` returns a file's text or undefined).
 */
export function resolveRateAttribute(name: string, vendor: string | undefined, read: (path: string) => string | undefined): Resolved {
  if (vendor === undefined) {
    const def = standardAttribute(name);
    if (def) return { ok: true, def };
    return { ok: false, reason: `unknown RADIUS attribute "${name}" (known without a vendor: ${STANDARD.map((a) => a.name).join(', ')})` };
  }
  let dict = builtinVendor(vendor);
  if (!dict || !vendorAttribute(dict, name)) {
    for (const dir of DICTIONARY_DIRS) {
      const text = read(`${dir}/dictionary.${lower(vendor)}`);
      const d = text === undefined ? undefined : parseVendorDictionary(text, vendor);
      if (d && vendorAttribute(d, name)) {
        dict = d;
        break;
      }
      dict ??= d;
    }
  }
  if (!dict) return { ok: false, reason: `unknown RADIUS vendor "${vendor}" (no dictionary.${lower(vendor)} in ${DICTIONARY_DIRS.join(' or ')})` };
  const def = vendorAttribute(dict, name);
  return def ? { ok: true, def } : { ok: false, reason: `vendor "${vendor}" has no attribute "${name}"` };
}
