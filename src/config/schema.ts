/**
 * The `vpn sstp` node table in the VyOS 1.3 (equuleus, syntax version 3) shape, plus `port` from
 * 1.4 (T4444). It mirrors vyos-1x `interface-definitions/vpn_sstp.xml.in` and its includes: node
 * kinds, value types, multi-ness, defaults and constraintErrorMessage texts (vyos-accel-ppp.md §1.3).
 * Newer syntax (named pools, pki) will be a second table mapping onto the same model.
 */
import {
  asciiText,
  hexDigest,
  ipAddress,
  ipAddressOrPrefix,
  ipv4Address,
  ipv4Prefix,
  ipv6Prefix,
  nonEmptyText,
  numeric,
  oneOf,
  positive,
  text,
  withMessage,
  type ValueType,
} from './values.js';

/** A plain container (`<node>`): its children are fixed names. */
export interface ContainerNode {
  readonly kind: 'node';
  readonly children: Readonly<Record<string, SchemaNode>>;
}

/** A `<tagNode>`: the next word is a key of type `key`, under which `children` live. */
export interface TagNode {
  readonly kind: 'tag';
  readonly key: ValueType;
  readonly children: Readonly<Record<string, SchemaNode>>;
}

/** A `<leafNode>`: valueless when `type` is absent. */
export interface LeafNode {
  readonly kind: 'leaf';
  readonly type?: ValueType;
  readonly multi?: boolean;
  /** VyOS `<defaultValue>`; for a multi node, the whole default list. */
  readonly default?: string | readonly string[];
}

export type SchemaNode = ContainerNode | TagNode | LeafNode;

const node = (children: Record<string, SchemaNode>): ContainerNode => ({ kind: 'node', children });
const tag = (key: ValueType, children: Record<string, SchemaNode>): TagNode => ({ kind: 'tag', key, children });
const leaf = (type: ValueType, extra: Omit<LeafNode, 'kind' | 'type'> = {}): LeafNode => ({ kind: 'leaf', type, ...extra });
const valueless: LeafNode = { kind: 'leaf' };

const PORT_MESSAGE = 'Port number must be in range 1 to 65535';
const port = (dflt?: string): LeafNode =>
  leaf(numeric(1, 65535, PORT_MESSAGE), dflt === undefined ? {} : { default: dflt });

const rateLimit = numeric(1, 10_000_000);

const localUsers = node({
  username: tag(nonEmptyText, {
    password: leaf(text),
    disable: valueless,
    'static-ip': leaf(ipv4Address),
    'rate-limit': node({ download: leaf(rateLimit), upload: leaf(rateLimit) }),
  }),
});

const radius = node({
  server: tag(ipv4Address, {
    port: port('1812'),
    'acct-port': port('1813'),
    key: leaf(asciiText(1, 128, 'Password must be less then 128 characters')),
    'fail-time': leaf(numeric(0, 600, 'Fail time must be between 0 and 600 seconds'), { default: '0' }),
    disable: valueless,
    // sstpd extension (not in VyOS): BlastRADIUS hardening, as FreeRADIUS's home_server
    // require_message_authenticator = yes. Without it: "auto".
    'require-message-authenticator': valueless,
  }),
  'acct-timeout': leaf(numeric(0, 60, 'Timeout must be between 0 and 60 seconds'), { default: '3' }),
  timeout: leaf(numeric(1, 60, 'Timeout must be between 1 and 60 seconds'), { default: '3' }),
  'max-try': leaf(numeric(1, 20, 'Maximum tries must be between 1 and 20'), { default: '3' }),
  'nas-identifier': leaf(text),
  'nas-ip-address': leaf(ipv4Address),
  'source-address': leaf(ipv4Address),
  'dynamic-author': node({
    server: leaf(ipv4Address),
    port: port('1700'),
    key: leaf(text),
  }),
  'rate-limit': node({
    attribute: leaf(text, { default: 'Filter-Id' }),
    enable: valueless,
    vendor: leaf(text),
  }),
});

export const AUTH_PROTOCOL_WORDS = ['pap', 'chap', 'mschap', 'mschap-v2'] as const;

/** The tree below `vpn sstp`. */
export const SSTP_SCHEMA: ContainerNode = node({
  authentication: node({
    'local-users': localUsers,
    protocols: leaf(oneOf(AUTH_PROTOCOL_WORDS), { multi: true, default: AUTH_PROTOCOL_WORDS }),
    mode: leaf(
      oneOf(['local', 'radius'], {
        noauth:
          'Invalid value "noauth": sstpd always authenticates clients (VyOS accepts "noauth" ' +
          'but gives the daemon no password source); use "local" or "radius"',
      }),
      { default: 'local' },
    ),
    radius,
  }),
  'gateway-address': leaf(withMessage(ipv4Address, 'invalid IPv4 address')),
  port: port('443'),
  'client-ip-pool': node({ subnet: leaf(ipv4Prefix, { multi: true }) }),
  'client-ipv6-pool': node({
    prefix: tag(ipv6Prefix, { mask: leaf(numeric(48, 128), { default: '64' }) }),
    delegate: tag(ipv6Prefix, { 'delegation-prefix': leaf(numeric(32, 64)) }),
  }),
  'name-server': leaf(ipAddress, { multi: true }),
  ssl: node({
    'ca-cert-file': leaf(nonEmptyText),
    'cert-file': leaf(nonEmptyText),
    'key-file': leaf(nonEmptyText),
    // sstpd extensions (accel-ppp's ssl=0 / cert-hash-*): TLS is terminated by a proxy in front, which
    // forwards plain HTTP; the crypto binding needs the hash of the certificate the client saw.
    offload: valueless,
    'cert-hash-sha1': leaf(hexDigest(20, 'SHA-1')),
    'cert-hash-sha256': leaf(hexDigest(32, 'SHA-256')),
  }),
  // sstpd extension: the Prometheus endpoint (off unless this node exists).
  metrics: node({ 'listen-address': leaf(ipAddress, { default: '127.0.0.1' }), port: port('9474') }),
  // sstpd extension (accel-ppp's proxy-protocol=1): every connection starts with a PROXY v1/v2 header.
  'proxy-protocol': node({ trusted: leaf(ipAddressOrPrefix, { multi: true }) }),
  'ppp-options': node({
    'lcp-echo-failure': leaf(positive(), { default: '3' }),
    'lcp-echo-interval': leaf(positive(), { default: '30' }),
    // Default 0 = off; like VyOS it cannot be set to 0 explicitly (delete the node instead).
    'lcp-echo-timeout': leaf(positive(), { default: '0' }),
    // No default: absent means "don't ask, accept if the client asks" (the seed's default behaviour).
    mppe: leaf(oneOf(['require', 'prefer', 'deny'])),
  }),
});

/** A child of a container or tag node by name; own properties only (so "constructor" is unknown). */
export function childOf(n: ContainerNode | TagNode, name: string): SchemaNode | undefined {
  return Object.hasOwn(n.children, name) ? n.children[name] : undefined;
}

/**
 * The schema node at a concrete path below `vpn sstp` (tag keys included, e.g.
 * ['authentication','radius','server','192.0.2.1','port']); undefined if the path is not valid.
 */
export function schemaAt(path: readonly string[], root: ContainerNode = SSTP_SCHEMA): SchemaNode | undefined {
  let cur: SchemaNode = root;
  let expectKey = false;
  for (const word of path) {
    if (cur.kind === 'leaf') return undefined;
    if (expectKey) {
      expectKey = false; // the tag key; children are looked up on the same tag node
      continue;
    }
    const next = childOf(cur, word);
    if (next === undefined) return undefined;
    cur = next;
    expectKey = next.kind === 'tag';
  }
  return cur;
}
