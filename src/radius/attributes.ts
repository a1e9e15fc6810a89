/**
 * The RADIUS attributes the NAS speaks (RFC 2865, 2866, 2869, 5176; RFC 2548 Microsoft VSAs), by
 * number and by FreeRADIUS dictionary name, plus a parser for FreeRADIUS/accel-ppp dictionary files
 * so `rate-limit vendor X attribute Y` can name any vendor attribute. Pure.
 */
export const ATTR = {
  USER_NAME: 1,
  USER_PASSWORD: 2,
  CHAP_PASSWORD: 3,
  NAS_IP_ADDRESS: 4,
  NAS_PORT: 5,
  SERVICE_TYPE: 6,
  FRAMED_PROTOCOL: 7,
  FRAMED_IP_ADDRESS: 8,
  FRAMED_IP_NETMASK: 9,
  FILTER_ID: 11,
  FRAMED_MTU: 12,
  REPLY_MESSAGE: 18,
  FRAMED_ROUTE: 22,
  STATE: 24,
  CLASS: 25,
  VENDOR_SPECIFIC: 26,
  SESSION_TIMEOUT: 27,
  IDLE_TIMEOUT: 28,
  TERMINATION_ACTION: 29,
  CALLED_STATION_ID: 30,
  CALLING_STATION_ID: 31,
  NAS_IDENTIFIER: 32,
  PROXY_STATE: 33,
  ACCT_STATUS_TYPE: 40,
  ACCT_DELAY_TIME: 41,
  ACCT_INPUT_OCTETS: 42,
  ACCT_OUTPUT_OCTETS: 43,
  ACCT_SESSION_ID: 44,
  ACCT_AUTHENTIC: 45,
  ACCT_SESSION_TIME: 46,
  ACCT_INPUT_PACKETS: 47,
  ACCT_OUTPUT_PACKETS: 48,
  ACCT_TERMINATE_CAUSE: 49,
  ACCT_MULTI_SESSION_ID: 50,
  ACCT_INPUT_GIGAWORDS: 52,
  ACCT_OUTPUT_GIGAWORDS: 53,
  EVENT_TIMESTAMP: 55,
  CHAP_CHALLENGE: 60,
  NAS_PORT_TYPE: 61,
  MESSAGE_AUTHENTICATOR: 80,
  ACCT_INTERIM_INTERVAL: 85,
  NAS_PORT_ID: 87,
  FRAMED_POOL: 88,
  NAS_IPV6_ADDRESS: 95,
  ERROR_CAUSE: 101,
} as const;

export const VENDOR_MICROSOFT = 311;
export const VENDOR_MIKROTIK = 14988;

/** RFC 2548 vendor types (vendor 311). */
export const MS = {
  CHAP_RESPONSE: 1,
  CHAP_ERROR: 2,
  MPPE_ENCRYPTION_POLICY: 7,
  MPPE_ENCRYPTION_TYPES: 8,
  CHAP_DOMAIN: 10,
  CHAP_CHALLENGE: 11,
  CHAP_MPPE_KEYS: 12,
  MPPE_SEND_KEY: 16,
  MPPE_RECV_KEY: 17,
  CHAP2_RESPONSE: 25,
  CHAP2_SUCCESS: 26,
  PRIMARY_DNS_SERVER: 28,
  SECONDARY_DNS_SERVER: 29,
} as const;

export const SERVICE_TYPE_FRAMED = 2;
export const SERVICE_TYPE_AUTHORIZE_ONLY = 17;
export const FRAMED_PROTOCOL_PPP = 1;
export const NAS_PORT_TYPE_VIRTUAL = 5;

/** Acct-Status-Type values (RFC 2866 §5.1). */
export const ACCT_STATUS = { START: 1, STOP: 2, INTERIM_UPDATE: 3, ACCOUNTING_ON: 7, ACCOUNTING_OFF: 8 } as const;
/** Acct-Authentic (RFC 2866 §5.6). */
export const ACCT_AUTHENTIC_RADIUS = 1;

/** Error-Cause values (RFC 5176 §3.5) the DAE listener sends. */
export const ERROR_CAUSE = {
  UNSUPPORTED_ATTRIBUTE: 401,
  MISSING_ATTRIBUTE: 402,
  NAS_IDENTIFICATION_MISMATCH: 403,
  INVALID_REQUEST: 404,
  UNSUPPORTED_SERVICE: 405,
  INVALID_ATTRIBUTE_VALUE: 407,
  SESSION_CONTEXT_NOT_FOUND: 503,
  RESOURCES_UNAVAILABLE: 506,
  MULTIPLE_SESSION_SELECTION_UNSUPPORTED: 508,
} as const;

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
