/**
 * Configured tree → typed `SstpConfig`, schema defaults applied (also inside tag nodes, as VyOS's
 * `with_recursive_defaults` does). It never fails: what is missing becomes an empty string or is
 * left out, and `verify.ts` reports it with the line it concerns.
 *
 * Pool mapping: the 1.3 syntax has one unnamed IPv4 pool (`client-ip-pool subnet X`, multi) and one
 * unnamed IPv6 pool. Each becomes a pool named "default", and `defaultIpv4Pool` names it. This is
 * exactly what vyos-1x's migration scripts do (sstp 4-to-5: subnets → `client-ip-pool
 * default-range-pool range X` + `default-pool`; 5-to-6 likewise for IPv6), so the newer named-pool
 * syntax will map onto the same model by filling `ipv4Pools` / `defaultIpv4Pool` from its own nodes.
 */
import {
  ALL_AUTH_PROTOCOLS,
  type AuthProtocol,
  type Ipv4PoolConfig,
  type Ipv6PoolConfig,
  type LocalUser,
  type MppePolicy,
  type PppOptions,
  type RadiusConfig,
  type RadiusServerConfig,
  type SslConfig,
  type SstpConfig,
} from './model.js';
import { schemaAt } from './schema.js';
import type { ConfigTree } from './tree.js';
import { parseIpv4 } from './values.js';

export const DEFAULT_POOL_NAME = 'default';

export interface BuildOptions {
  /** Maps configured file paths (ssl) to the paths the daemon opens, e.g. relative → config dir. */
  readonly resolvePath?: (path: string) => string;
}

/** Reads values with schema defaults; paths are below `vpn sstp`. */
class Reader {
  constructor(private readonly tree: ConfigTree) {}

  str(path: readonly string[]): string | undefined {
    const v = this.tree.value(path);
    if (v !== undefined) return v;
    const s = schemaAt(path);
    return s?.kind === 'leaf' && typeof s.default === 'string' ? s.default : undefined;
  }
  /** Numeric leaf; every numeric node we read has a default or is checked before use. */
  num(path: readonly string[]): number {
    return Number(this.str(path) ?? 'NaN');
  }
  optNum(path: readonly string[]): number | undefined {
    const v = this.str(path);
    return v === undefined ? undefined : Number(v);
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
    staticIp: r.str(at('static-ip')),
    // A one-way limit is a verify error; the model only carries complete limits.
    rateLimit: down !== undefined && up !== undefined ? { downloadKbit: down, uploadKbit: up } : undefined,
  });
}

function buildRadiusServer(r: Reader, address: string): RadiusServerConfig {
  const at = (p: string): string[] => [...RADIUS, 'server', address, p];
  return {
    address,
    key: r.str(at('key')) ?? '',
    port: r.num(at('port')),
    acctPort: r.num(at('acct-port')),
    failTime: r.num(at('fail-time')),
    disabled: r.has(at('disable')),
    requireMessageAuthenticator: r.has(at('require-message-authenticator')),
  };
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
    }),
  });
}

function buildIpv6Pools(r: Reader): Ipv6PoolConfig[] {
  if (!r.has(['client-ipv6-pool'])) return [];
  const prefixes = r.keys(['client-ipv6-pool', 'prefix']).map((prefix) => ({
    prefix,
    mask: r.num(['client-ipv6-pool', 'prefix', prefix, 'mask']),
  }));
  // A delegate without delegation-prefix is a verify error; it is left out here.
  const delegates = r.keys(['client-ipv6-pool', 'delegate']).flatMap((prefix) => {
    const len = r.optNum(['client-ipv6-pool', 'delegate', prefix, 'delegation-prefix']);
    return len === undefined ? [] : [{ prefix, delegationPrefix: len }];
  });
  return [{ name: DEFAULT_POOL_NAME, prefixes, delegates }];
}

function buildPpp(r: Reader): PppOptions {
  const at = (p: string): string[] => ['ppp-options', p];
  return defined<PppOptions>({
    lcpEchoInterval: r.num(at('lcp-echo-interval')),
    lcpEchoFailure: r.num(at('lcp-echo-failure')),
    lcpEchoTimeout: r.num(at('lcp-echo-timeout')),
    mppe: r.str(at('mppe')) as MppePolicy | undefined,
  });
}

function buildSsl(r: Reader, resolve: (p: string) => string): SslConfig {
  const file = (p: string): string | undefined => {
    const v = r.str(['ssl', p]);
    return v === undefined ? undefined : resolve(v);
  };
  const hash = (p: string): string | undefined => r.str(['ssl', p])?.replace(/:/g, '').toLowerCase();
  return defined<SslConfig>({
    certFile: file('cert-file') ?? '',
    keyFile: file('key-file') ?? '',
    caCertFile: file('ca-cert-file'),
    offload: r.has(['ssl', 'offload']),
    certHashSha1: hash('cert-hash-sha1'),
    certHashSha256: hash('cert-hash-sha256'),
  });
}

export function buildConfig(tree: ConfigTree, opts: BuildOptions = {}): SstpConfig {
  const r = new Reader(tree);
  const protocols = r.list(['authentication', 'protocols']) as AuthProtocol[];
  const subnets = r.list(['client-ip-pool', 'subnet']);
  const ipv4Pools: Ipv4PoolConfig[] = subnets.length > 0 ? [{ name: DEFAULT_POOL_NAME, subnets }] : [];
  const nameServers = r.list(['name-server']);
  return defined<SstpConfig>({
    port: r.num(['port']),
    gatewayAddress: r.str(['gateway-address']),
    ssl: buildSsl(r, opts.resolvePath ?? ((p) => p)),
    proxyProtocol: r.has(['proxy-protocol']) ? { trusted: r.list(['proxy-protocol', 'trusted']) } : undefined,
    metrics: r.has(['metrics']) ? { address: r.str(['metrics', 'listen-address']) ?? '127.0.0.1', port: r.num(['metrics', 'port']) } : undefined,
    authMode: r.str(['authentication', 'mode']) as 'local' | 'radius',
    authProtocols: protocols.length > 0 ? protocols : [...ALL_AUTH_PROTOCOLS],
    localUsers: new Map(r.keys(USERS).map((name) => [name, buildUser(r, name)])),
    radius: buildRadius(r),
    ipv4Pools,
    defaultIpv4Pool: ipv4Pools.length > 0 ? DEFAULT_POOL_NAME : undefined,
    ipv6Pools: buildIpv6Pools(r),
    nameServers: {
      ipv4: nameServers.filter((a) => parseIpv4(a) !== undefined),
      ipv6: nameServers.filter((a) => parseIpv4(a) === undefined),
    },
    ppp: buildPpp(r),
  });
}
