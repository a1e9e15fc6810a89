/**
 * Configured trees → typed `SstpConfig`, schema defaults applied (also inside tag nodes, as VyOS's
 * `with_recursive_defaults` does). It never fails: what is missing becomes an empty string or is
 * left out, and `verify.ts` reports it with the line it concerns.
 *
 * Pool mapping: the 1.3 syntax has one unnamed IPv4 pool (`client-ip-pool subnet X`, multi) and one
 * unnamed IPv6 pool. Each becomes a pool named "default", and `defaultIpv4Pool` (`defaultIpv6Pool`
 * when it has a prefix) names it — what vyos-1x's migration scripts do (sstp 4-to-5: subnets →
 * `client-ip-pool default-range-pool range X` + `default-pool`; 5-to-6 likewise for IPv6, the
 * default only with a prefix). The 1.4 named pools fill the same fields from their own nodes.
 *
 * Nodes new in 1.4 land in optional fields, present only when configured (see model.ts).
 */
import {
  ALL_AUTH_PROTOCOLS,
  type AuthProtocol,
  type ConnectionLimits,
  type ExtendedScripts,
  type Ipv4PoolConfig,
  type Ipv6PoolConfig,
  type LocalUser,
  type MppePolicy,
  type NcpPolicy,
  type PppOptions,
  type RadiusConfig,
  type RadiusServerConfig,
  type SslConfig,
  type SstpConfig,
} from './model.js';
import { resolvePkiMaterial } from './pki.js';
import { schemaAt } from './schema.js';
import { ConfigNode, ConfigTree, PKI_PREFIX } from './tree.js';
import { parseIpv4 } from './values.js';

export const DEFAULT_POOL_NAME = 'default';

export interface BuildOptions {
  /** Maps configured file paths (ssl) to the paths the daemon opens, e.g. relative → config dir. */
  readonly resolvePath?: (path: string) => string;
  /** The `pki` tree (`ssl certificate` / `ca-certificate` refer to it); absent = empty. */
  readonly pki?: ConfigTree;
}

/** Reads values with schema defaults; paths are below `vpn sstp`. */
class Reader {
  constructor(readonly tree: ConfigTree) {}

  str(path: readonly string[]): string | undefined {
    const v = this.tree.value(path);
    if (v !== undefined) return v;
    const s = schemaAt(path);
    return s?.kind === 'leaf' && typeof s.default === 'string' ? s.default : undefined;
  }
  /** Only a configured value, never the default (for the optional 1.4 fields). */
  set(path: readonly string[]): string | undefined {
    return this.tree.value(path);
  }
  /** Numeric leaf; every numeric node we read has a default or is checked before use. */
  num(path: readonly string[]): number {
    return Number(this.str(path) ?? 'NaN');
  }
  optNum(path: readonly string[]): number | undefined {
    const v = this.str(path);
    return v === undefined ? undefined : Number(v);
  }
  /** A configured number (no default); undefined when unset or not a number. */
  setNum(path: readonly string[]): number | undefined {
    const v = this.set(path);
    if (v === undefined || !/^-?[0-9]+(\.[0-9]+)?$/.test(v)) return undefined;
    return Number(v);
  }
  /** `true` when the (valueless) node is configured, else undefined (absent in the model). */
  flag(path: readonly string[]): true | undefined {
    return this.tree.has(path) ? true : undefined;
  }
  list(path: readonly string[]): readonly string[] {
    return this.tree.values(path).map((v) => v.value);
  }
  has(path: readonly string[]): boolean {
    return this.tree.has(path);
  }
  keys(path: readonly string[]): readonly string[] {
    return this.tree.keys(path);
  }
}

/** Copies only defined properties, so absent options stay absent (not `key: undefined`). */
function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

const USERS = ['authentication', 'local-users', 'username'];
const RADIUS = ['authentication', 'radius'];

function buildUser(r: Reader, name: string): LocalUser {
  const at = (...p: string[]): string[] => [...USERS, name, ...p];
  const down = r.optNum(at('rate-limit', 'download'));
  const up = r.optNum(at('rate-limit', 'upload'));
  return defined<LocalUser>({
    name,
    password: r.str(at('password')) ?? '',
    disabled: r.has(at('disable')),
    // VyOS's default "*" means "from the pool"; it is not a configured value here.
    staticIp: r.set(at('static-ip')),
    // A one-way limit is a verify error; the model only carries complete limits.
    rateLimit: down !== undefined && up !== undefined ? { downloadKbit: down, uploadKbit: up } : undefined,
  });
}

function buildRadiusServer(r: Reader, address: string): RadiusServerConfig {
  const at = (p: string): string[] => [...RADIUS, 'server', address, p];
  return defined<RadiusServerConfig>({
    address,
    key: r.str(at('key')) ?? '',
    port: r.num(at('port')),
    acctPort: r.num(at('acct-port')),
    failTime: r.num(at('fail-time')),
    disabled: r.has(at('disable')),
    requireMessageAuthenticator: r.has(at('require-message-authenticator')),
    priority: r.setNum(at('priority')),
    backup: r.flag(at('backup')),
    disableAccounting: r.flag(at('disable-accounting')),
  });
}

function buildRadius(r: Reader): RadiusConfig | undefined {
  if (!r.has(RADIUS)) return undefined;
  const at = (...p: string[]): string[] => [...RADIUS, ...p];
  // The seed: "nas-ip-address … Also DM/CoA server will bind to that address" (when no
  // dynamic-author server is given, the listener binds there; its key is still required).
  const daeServer = r.str(at('dynamic-author', 'server')) ?? (r.has(at('dynamic-author', 'key')) ? r.str(at('nas-ip-address')) : undefined);
  return defined<RadiusConfig>({
    servers: r.keys(at('server')).map((a) => buildRadiusServer(r, a)),
    acctTimeout: r.num(at('acct-timeout')),
    timeout: r.num(at('timeout')),
    maxTry: r.num(at('max-try')),
    nasIdentifier: r.str(at('nas-identifier')),
    nasIpAddress: r.str(at('nas-ip-address')),
    sourceAddress: r.str(at('source-address')),
    dynamicAuthor:
      daeServer === undefined
        ? undefined
        : {
            server: daeServer,
            port: r.num(at('dynamic-author', 'port')),
            key: r.str(at('dynamic-author', 'key')) ?? '',
          },
    rateLimit: defined({
      enabled: r.has(at('rate-limit', 'enable')),
      attribute: r.str(at('rate-limit', 'attribute')) ?? 'Filter-Id',
      vendor: r.str(at('rate-limit', 'vendor')),
      multiplier: r.setNum(at('rate-limit', 'multiplier')),
    }),
    accountingInterimInterval: r.setNum(at('accounting-interim-interval')),
    acctInterimJitter: r.setNum(at('acct-interim-jitter')),
    preallocateVif: r.flag(at('preallocate-vif')),
  });
}

// ---------------------------------------------------------------------------------------------
// Pools

/** The 1.3 unnamed IPv4 pool (`client-ip-pool subnet`), if configured. */
export function legacyIpv4Subnets(t: ConfigTree): readonly string[] {
  return t.isLegacy(['client-ip-pool', 'subnet']) ? t.values(['client-ip-pool', 'subnet']).map((v) => v.value) : [];
}

/** Whether the 1.3 unnamed IPv6 pool (`client-ipv6-pool prefix|delegate`) is configured. */
export function hasLegacyIpv6Pool(t: ConfigTree): boolean {
  return t.isLegacy(['client-ipv6-pool', 'prefix']) || t.isLegacy(['client-ipv6-pool', 'delegate']);
}

function buildIpv4Pools(r: Reader): { pools: Ipv4PoolConfig[]; defaultPool?: string } {
  const legacy = legacyIpv4Subnets(r.tree);
  const named = r.tree.tagKeys(['client-ip-pool']).map((name) =>
    defined<Ipv4PoolConfig>({
      name,
      subnets: r.list(['client-ip-pool', name, 'range']),
      nextPool: r.set(['client-ip-pool', name, 'next-pool']),
    }),
  );
  // A 1.3 pool mixed with named ones is a verify error; the model keeps both so verify can say so.
  const pools = [...(legacy.length > 0 ? [{ name: DEFAULT_POOL_NAME, subnets: legacy }] : []), ...named];
  const defaultPool = r.set(['default-pool']) ?? (legacy.length > 0 ? DEFAULT_POOL_NAME : undefined);
  return defaultPool === undefined ? { pools } : { pools, defaultPool };
}

/** One IPv6 pool's prefixes and delegates, at `base` (the pool node, or `client-ipv6-pool` for 1.3). */
function buildIpv6Pool(r: Reader, name: string, base: readonly string[]): Ipv6PoolConfig {
  const prefixes = r.keys([...base, 'prefix']).map((prefix) => ({ prefix, mask: r.num([...base, 'prefix', prefix, 'mask']) }));
  // A delegate without delegation-prefix is a verify error; it is left out here.
  const delegates = r.keys([...base, 'delegate']).flatMap((prefix) => {
    const len = r.optNum([...base, 'delegate', prefix, 'delegation-prefix']);
    return len === undefined ? [] : [{ prefix, delegationPrefix: len }];
  });
  return { name, prefixes, delegates };
}

function buildIpv6Pools(r: Reader): { pools: Ipv6PoolConfig[]; defaultPool?: string } {
  const pools: Ipv6PoolConfig[] = [];
  let defaultPool = r.set(['default-ipv6-pool']);
  if (hasLegacyIpv6Pool(r.tree)) {
    const p = buildIpv6Pool(r, DEFAULT_POOL_NAME, ['client-ipv6-pool']);
    pools.push(p);
    if (p.prefixes.length > 0) defaultPool ??= DEFAULT_POOL_NAME;
  }
  for (const name of r.tree.tagKeys(['client-ipv6-pool'])) pools.push(buildIpv6Pool(r, name, ['client-ipv6-pool', name]));
  return defaultPool === undefined ? { pools } : { pools, defaultPool };
}

// ---------------------------------------------------------------------------------------------
// PPP options, limits, scripts

/**
 * `ppp-options ipv6` when there is an IPv6 pool: configured, else the default of the syntax in
 * use (1.3 turned IPv6 on with a prefix pool; 1.4+ defaults to deny and leaves the pools unused).
 */
function ipv6Policy(r: Reader): NcpPolicy | undefined {
  const set = r.set(['ppp-options', 'ipv6']) as NcpPolicy | undefined;
  if (set !== undefined) return set;
  if (hasLegacyIpv6Pool(r.tree)) return 'allow';
  return r.tree.tagKeys(['client-ipv6-pool']).length > 0 ? 'deny' : undefined;
}

function buildPpp(r: Reader): PppOptions {
  const at = (p: string): string[] => ['ppp-options', p];
  return defined<PppOptions>({
    lcpEchoInterval: r.num(at('lcp-echo-interval')),
    lcpEchoFailure: r.num(at('lcp-echo-failure')),
    lcpEchoTimeout: r.num(at('lcp-echo-timeout')),
    mppe: r.str(at('mppe')) as MppePolicy | undefined,
    mru: r.setNum(at('mru')),
    minMtu: r.setNum(at('min-mtu')),
    disableCcp: r.flag(at('disable-ccp')),
    interfaceCache: r.setNum(at('interface-cache')),
    ipv4: r.set(at('ipv4')) as NcpPolicy | undefined,
    ipv6: ipv6Policy(r),
    ipv6InterfaceId: r.set(at('ipv6-interface-id')),
    ipv6PeerInterfaceId: r.set(at('ipv6-peer-interface-id')),
    ipv6AcceptPeerInterfaceId: r.flag(at('ipv6-accept-peer-interface-id')),
    ipv6PeerInterfaceIdSecret: r.set(at('ipv6-peer-interface-id-secret')),
  });
}

/** "N/sec" | "N/min" (VyOS's regex; accel-ppp also knows /hour) → count and period. */
export function parseConnectionLimit(v: string): { count: number; periodS: number } | undefined {
  const m = /^([0-9]+)\/(sec|min|hour)$/.exec(v);
  if (m === null) return undefined;
  return { count: Number(m[1]), periodS: m[2] === 'sec' ? 1 : m[2] === 'min' ? 60 : 3600 };
}

function buildLimits(r: Reader): ConnectionLimits | undefined {
  if (!r.has(['limits'])) return undefined;
  const rate = r.set(['limits', 'connection-limit']);
  const int = (p: string): number | undefined => {
    const v = r.set(['limits', p]);
    return v !== undefined && /^[0-9]{1,9}$/.test(v) ? Number(v) : undefined;
  };
  return defined<ConnectionLimits>({
    rate: rate === undefined ? undefined : parseConnectionLimit(rate),
    burst: int('burst'),
    timeoutS: int('timeout'),
  });
}

function buildScripts(r: Reader): ExtendedScripts | undefined {
  if (!r.has(['extended-scripts'])) return undefined;
  const at = (p: string): string[] => ['extended-scripts', p];
  return defined<ExtendedScripts>({
    onPreUp: r.set(at('on-pre-up')),
    onUp: r.set(at('on-up')),
    onDown: r.set(at('on-down')),
    onChange: r.set(at('on-change')),
  });
}

function buildSsl(r: Reader, resolve: (p: string) => string, pki: ConfigTree): SslConfig {
  const file = (p: string): string | undefined => {
    const v = r.str(['ssl', p]);
    return v === undefined ? undefined : resolve(v);
  };
  const hash = (p: string): string | undefined => r.str(['ssl', p])?.replace(/:/g, '').toLowerCase();
  const certName = r.set(['ssl', 'certificate']);
  return defined<SslConfig>({
    certFile: file('cert-file') ?? '',
    keyFile: file('key-file') ?? '',
    caCertFile: file('ca-cert-file'),
    pki: certName === undefined ? undefined : resolvePkiMaterial(pki, certName, r.set(['ssl', 'ca-certificate'])),
    offload: r.has(['ssl', 'offload']),
    certHashSha1: hash('cert-hash-sha1'),
    certHashSha256: hash('cert-hash-sha256'),
  });
}

/** "10-20" (VyOS numeric --allow-range) is read as accel-ppp's atoi does: 10. */
function leadingInt(v: string | undefined): number | undefined {
  const m = v === undefined ? null : /^[0-9]+/.exec(v);
  return m === null ? undefined : Number(m[0]);
}

export function buildConfig(tree: ConfigTree, opts: BuildOptions = {}): SstpConfig {
  const r = new Reader(tree);
  const pki = opts.pki ?? new ConfigTree(new ConfigNode(0), PKI_PREFIX);
  const protocols = r.list(['authentication', 'protocols']) as AuthProtocol[];
  const v4 = buildIpv4Pools(r);
  const v6 = buildIpv6Pools(r);
  const nameServers = r.list(['name-server']);
  const wins = r.list(['wins-server']);
  return defined<SstpConfig>({
    port: r.num(['port']),
    description: r.set(['description']),
    hostName: r.set(['host-name']),
    maxConcurrentSessions: leadingInt(r.set(['max-concurrent-sessions'])),
    limits: buildLimits(r),
    mtu: r.setNum(['mtu']),
    winsServers: wins.length > 0 ? wins : undefined,
    extendedScripts: buildScripts(r),
    shaperFwmark: r.setNum(['shaper', 'fwmark']),
    logLevel: r.setNum(['log', 'level']),
    snmp: r.has(['snmp']) ? { masterAgent: r.has(['snmp', 'master-agent']) } : undefined,
    gatewayAddress: r.str(['gateway-address']),
    ssl: buildSsl(r, opts.resolvePath ?? ((p) => p), pki),
    proxyProtocol: r.has(['proxy-protocol']) ? { trusted: r.list(['proxy-protocol', 'trusted']) } : undefined,
    metrics: r.has(['metrics']) ? { address: r.str(['metrics', 'listen-address']) ?? '127.0.0.1', port: r.num(['metrics', 'port']) } : undefined,
    authMode: r.str(['authentication', 'mode']) as SstpConfig['authMode'],
    authProtocols: protocols.length > 0 ? protocols : [...ALL_AUTH_PROTOCOLS],
    localUsers: new Map(r.keys(USERS).map((name) => [name, buildUser(r, name)])),
    radius: buildRadius(r),
    ipv4Pools: v4.pools,
    defaultIpv4Pool: v4.defaultPool,
    ipv6Pools: v6.pools,
    defaultIpv6Pool: v6.defaultPool,
    nameServers: {
      ipv4: nameServers.filter((a) => parseIpv4(a) !== undefined),
      ipv6: nameServers.filter((a) => parseIpv4(a) === undefined),
    },
    ppp: buildPpp(r),
  });
}
