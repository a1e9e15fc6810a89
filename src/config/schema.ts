/**
 * The `vpn sstp` node table: the current VyOS tree (syntax version 6: 1.4 sagitta, 1.5 circinus;
 * vyos-1x `interface-definitions/vpn_sstp.xml.in` and its includes) with node kinds, value types,
 * multi-ness, defaults and constraintErrorMessage texts (vyos-accel-ppp.md §1.3), plus the 1.3
 * (equuleus, syntax version 3) nodes it replaced — `client-ip-pool subnet`, the unnamed
 * `client-ipv6-pool`, `ssl *-file` — and sstpd's own extensions. The `pki` subtree VyOS keeps
 * certificates in is a second table (PKI_SCHEMA).
 */
import {
  asciiText,
  base64,
  decimal,
  fullMatch,
  ipv4PoolRange,
  hexDigest,
  ipAddress,
  ipAddressOrPrefix,
  ipv4Address,
  ipv4Prefix,
  ipv6Prefix,
  nonEmptyText,
  numeric,
  numericOrRange,
  oneOf,
  positive,
  text,
  vyosName,
  withMessage,
  type ValueType,
} from './values.js';

/** A plain container (`<node>`): its children are fixed names. */
export interface ContainerNode {
  readonly kind: 'node';
  readonly children: Readonly<Record<string, SchemaNode>>;
}

/**
 * A `<tagNode>`: the next word is a key of type `key`, under which `children` live. `legacy` holds
 * the children the node had in VyOS 1.3, when it was a plain node (`client-ip-pool subnet X`,
 * `client-ipv6-pool prefix P`): a word naming one of them takes that 1.3 meaning unless the word
 * after it is one of the tag's own children (then it is a key, e.g. a pool named "subnet").
 */
export interface TagNode {
  readonly kind: 'tag';
  readonly key: ValueType;
  readonly children: Readonly<Record<string, SchemaNode>>;
  readonly legacy?: Readonly<Record<string, SchemaNode>>;
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
const tag = (key: ValueType, children: Record<string, SchemaNode>, legacy?: Record<string, SchemaNode>): TagNode =>
  legacy === undefined ? { kind: 'tag', key, children } : { kind: 'tag', key, children, legacy };
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
    // 1.4+: accel-ppp's acct-port=0 for this server, its weight= and backup flags.
    'disable-accounting': valueless,
    priority: leaf(numeric(1, 255)),
    backup: valueless,
    // sstpd extension (not in VyOS): BlastRADIUS hardening, as FreeRADIUS's home_server
    // require_message_authenticator = yes. Without it: "auto".
    'require-message-authenticator': valueless,
  }),
  'accounting-interim-interval': leaf(numeric(1, 3600, 'Interval value must be between 1 and 3600 seconds')),
  'acct-interim-jitter': leaf(numeric(1, 60, 'Jitter value must be between 1 and 60 seconds')),
  'acct-timeout': leaf(numeric(0, 60, 'Timeout must be between 0 and 60 seconds'), { default: '3' }),
  timeout: leaf(numeric(1, 60, 'Timeout must be between 1 and 60 seconds'), { default: '3' }),
  'max-try': leaf(numeric(1, 20, 'Maximum tries must be between 1 and 20'), { default: '3' }),
  'nas-identifier': leaf(text),
  'nas-ip-address': leaf(ipv4Address),
  'source-address': leaf(ipv4Address),
  'preallocate-vif': valueless,
  'dynamic-author': node({
    server: leaf(ipv4Address),
    port: port('1700'),
    key: leaf(text),
  }),
  'rate-limit': node({
    attribute: leaf(text, { default: 'Filter-Id' }),
    enable: valueless,
    vendor: leaf(text),
    multiplier: leaf(decimal(0.001, 1000, 'Multiplier needs to be between 0.001 and 1000'), { default: '1' }),
  }),
});

export const AUTH_PROTOCOL_WORDS = ['pap', 'chap', 'mschap', 'mschap-v2'] as const;

/** `ppp-options ipv4|ipv6`: accel-ppp's NCP policies. */
export const NCP_POLICY_WORDS = ['deny', 'allow', 'prefer', 'require'] as const;
const ncpPolicy = withMessage(oneOf(NCP_POLICY_WORDS), 'invalid value');

/** include/accel-ppp/ppp-options-ipv6-interface-id.xml.i (digits only: VyOS's regex refuses hex letters). */
const IID = String.raw`((\d+){1,4}:){3}(\d+){1,4}`;
const iidMessage = (words: string): string => `Invalid value: must be ${words} or an interface id x:x:x:x (digits)`;

/** The 1.3 unnamed `client-ipv6-pool` children; the 1.4 named pools have the same ones. */
const ipv6PoolChildren = (): Record<string, SchemaNode> => ({
  prefix: tag(ipv6Prefix, { mask: leaf(numeric(48, 128), { default: '64' }) }),
  delegate: tag(ipv6Prefix, { 'delegation-prefix': leaf(numeric(32, 64)) }),
});

/** include/accel-ppp/extended-scripts.xml.i: `script` validator (exists, executable) runs in verify. */
const script = leaf(nonEmptyText);

/** The tree below `vpn sstp`. */
export const SSTP_SCHEMA: ContainerNode = node({
  authentication: node({
    'local-users': localUsers,
    protocols: leaf(oneOf(AUTH_PROTOCOL_WORDS), { multi: true, default: AUTH_PROTOCOL_WORDS }),
    // 1.4 added noauth (accel-ppp noauth=1; verify says loudly what it means).
    mode: leaf(oneOf(['local', 'radius', 'noauth']), { default: 'local' }),
    radius,
  }),
  'gateway-address': leaf(withMessage(ipv4Address, 'invalid IPv4 address')),
  port: port('443'),
  // 1.4: named pools (tag); 1.3: `client-ip-pool subnet X` (legacy child of the same word).
  'client-ip-pool': tag(
    vyosName,
    { range: leaf(ipv4PoolRange, { multi: true }), 'next-pool': leaf(vyosName) },
    { subnet: leaf(ipv4Prefix, { multi: true }) },
  ),
  'client-ipv6-pool': tag(vyosName, ipv6PoolChildren(), ipv6PoolChildren()),
  'default-pool': leaf(vyosName),
  'default-ipv6-pool': leaf(vyosName),
  'extended-scripts': node({ 'on-pre-up': script, 'on-up': script, 'on-down': script, 'on-change': script }),
  limits: node({
    'connection-limit': leaf(fullMatch('connection-limit', /[0-9]+\/(min|sec)/, 'illegal value')),
    // VyOS puts no constraint on these two; accel-ppp reads them as numbers (checked in verify).
    burst: leaf(text),
    timeout: leaf(text),
  }),
  'max-concurrent-sessions': leaf(numericOrRange(0, 65535, 'Maximum concurent sessions must be in range 0-65535')),
  mtu: leaf(numeric(68, 1500, 'MTU must be between 68 and 1500'), { default: '1500' }),
  'name-server': leaf(ipAddress, { multi: true }),
  'wins-server': leaf(ipv4Address, { multi: true }),
  'host-name': leaf(fullMatch('host-name', /[A-Za-z0-9][-.A-Za-z0-9]*[A-Za-z0-9]/, 'Host-name must be alphanumeric and can contain hyphens')),
  description: leaf(fullMatch('description', /.{0,255}/, 'Description too long (limit 255 characters)')),
  log: node({ level: leaf(numeric(0, 5), { default: '3' }) }),
  shaper: node({ fwmark: leaf(numeric(1, 2147483647)) }),
  snmp: node({ 'master-agent': valueless }),
  ssl: node({
    // 1.4+: names of `pki ca` / `pki certificate` entries.
    'ca-certificate': leaf(nonEmptyText),
    certificate: leaf(nonEmptyText),
    // 1.3: files (VyOS validated them inside /config/auth; any path here, relative to the config file).
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
    // VyOS's default is "prefer"; sstpd keeps "absent" distinct (don't ask, accept if the client asks),
    // the seed's default behaviour, so no default here.
    mppe: leaf(oneOf(['require', 'prefer', 'deny'])),
    'min-mtu': leaf(numeric(68, 65535)),
    mru: leaf(numeric(68, 65535)),
    'disable-ccp': valueless,
    'interface-cache': leaf(numeric(1, 256000)),
    // No default for ipv4 (accel-ppp: allow); ipv6's VyOS default "deny" is applied in build.
    ipv4: leaf(ncpPolicy),
    ipv6: leaf(ncpPolicy),
    'ipv6-interface-id': leaf(fullMatch('ipv6-interface-id', new RegExp(`random|${IID}`), iidMessage('"random"'))),
    'ipv6-peer-interface-id': leaf(
      fullMatch('ipv6-peer-interface-id', new RegExp(`random|calling-sid|ipv4-addr|${IID}`), iidMessage('"random", "calling-sid", "ipv4-addr"')),
    ),
    'ipv6-accept-peer-interface-id': valueless,
    // Newer VyOS (T8598, 2026): the key of `ipv6-peer-interface-id calling-sid` (16-128 printable, no spaces).
    'ipv6-peer-interface-id-secret': leaf(
      fullMatch('ipv6-peer-interface-id-secret', /[!-~]{16,128}/, 'Secret must be 16 to 128 printable ASCII characters without whitespace'),
    ),
  }),
});

// ---------------------------------------------------------------------------------------------
// pki (vyos-1x interface-definitions/pki.xml.in): only `ca` and `certificate` are read; the other
// subtrees (dh, key-pair, openssh, openvpn, x509) are skipped like any other section.

const privateKey = node({
  key: leaf(base64('Private key is not base64-encoded')),
  'password-protected': valueless,
});
const description = leaf(fullMatch('description', /.{0,255}/, 'Description too long (limit 255 characters)'));

/** The `pki` subtree; `PKI_READ` names the children read, the rest are ignored. */
export const PKI_SCHEMA: ContainerNode = node({
  ca: tag(vyosName, {
    certificate: leaf(base64('Certificate is not base64-encoded')),
    description,
    private: privateKey,
    crl: leaf(base64('CRL is not base64-encoded'), { multi: true }),
    revoke: valueless,
    'system-install': valueless,
  }),
  certificate: tag(vyosName, {
    certificate: leaf(base64('Certificate is not base64-encoded')),
    description,
    private: privateKey,
    revoke: valueless,
    'system-install': valueless,
    acme: node({
      url: leaf(text, { default: 'https://acme-v02.api.letsencrypt.org/directory' }),
      'domain-name': leaf(text, { multi: true }),
      email: leaf(text),
      'listen-address': leaf(ipv4Address),
      'rsa-key-size': leaf(oneOf(['2048', '3072', '4096']), { default: '2048' }),
    }),
  }),
});
export const PKI_READ: ReadonlySet<string> = new Set(['ca', 'certificate']);

/** A child of a container or tag node by name; own properties only (so "constructor" is unknown). */
export function childOf(n: ContainerNode | TagNode, name: string): SchemaNode | undefined {
  return Object.hasOwn(n.children, name) ? n.children[name] : undefined;
}

/**
 * The 1.3 child a tag node's key position may hold instead of a key: `word` names a legacy child
 * and `next` (the word after it, if any) is not one of the tag's own children.
 */
export function legacyChild(n: TagNode, word: string, next: string | undefined): SchemaNode | undefined {
  if (n.legacy === undefined || !Object.hasOwn(n.legacy, word)) return undefined;
  if (next !== undefined && Object.hasOwn(n.children, next)) return undefined;
  return n.legacy[word];
}

/**
 * The schema node at a concrete path below `vpn sstp` (tag keys included, e.g.
 * ['authentication','radius','server','192.0.2.1','port']); undefined if the path is not valid.
 */
export function schemaAt(path: readonly string[], root: ContainerNode = SSTP_SCHEMA): SchemaNode | undefined {
  let cur: SchemaNode = root;
  for (let i = 0; i < path.length; i++) {
    if (cur.kind === 'leaf') return undefined;
    const word = path[i]!;
    if (cur.kind === 'tag') {
      // Either a 1.3 child in the key position, or the key (children follow on the same tag node).
      const legacy = legacyChild(cur, word, path[i + 1]);
      if (legacy !== undefined) {
        cur = legacy;
        continue;
      }
      const next = path[i + 1];
      if (next === undefined) return cur;
      const child = childOf(cur, next);
      if (child === undefined) return undefined;
      cur = child;
      i++;
      continue;
    }
    const next = childOf(cur, word);
    if (next === undefined) return undefined;
    cur = next;
  }
  return cur;
}
