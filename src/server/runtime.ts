/**
 * A configuration generation made real: certificates read, policy frozen, backends built. A new
 * generation is built beside the running one and swapped in only when it is whole (SIGHUP).
 */
import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { X509Certificate, randomBytes } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import type { AuthProtocol, SstpConfig } from '../config/model.js';
import { loadConfigFile, loadConfigText, nodeFileChecker, type ConfigNote, type LoadResult } from '../config/load.js';
import { LocalAuthBackend } from '../auth/local.js';
import type { AuthBackend } from '../auth/backend.js';
import { RadiusAuthBackend, type RadiusRateLimitSource } from '../auth/radius.js';
import type { RadiusClientConfig, RadiusTransport } from '../radius/client.js';
import type { NasIdentity } from '../radius/accounting.js';
import { resolveRateAttribute } from '../config/radius-dictionary.js';
import type { Logger } from '../common/log.js';
import { Ipv4Pool } from '../ip/pool.js';
import { Ipv6PrefixPool, type Ipv6PoolSet, type NamedIpv6Pool } from '../ip/pool6.js';
import { parseIid, type PeerIidRule } from '../ppp/ipv6cp/iid.js';
import { certHashes } from '../sstp/binding.js';
import { PPP_MAX_MTU } from '../ppp/link/link.js';
import type { SessionPolicy } from '../session/session.js';
import { ConfigError } from '../common/errors.js';
import type { ListenerPolicy } from './listener.js';
import { rateLimitConfig } from './admission.js';
import type { CertHashes } from '../sstp/binding.js';

const OFFER_ORDER: readonly AuthProtocol[] = ['mschap-v2', 'mschap', 'chap', 'pap'];

export interface Runtime {
  readonly generation: number;
  readonly config: SstpConfig;
  /** What the listener does with new connections: TLS context (absent when offloaded), PROXY protocol. */
  readonly listener: ListenerPolicy;
  readonly policy: SessionPolicy;
  readonly auth: AuthBackend;
  readonly pools: Map<string, Ipv4Pool>;
  /** `authentication mode radius`: what the RADIUS client, accounting and DAE run with. */
  readonly radius?: RadiusRuntime;
  /** The IPv6 pools by name and `default-ipv6-pool`; none under `ipv6 deny`. */
  readonly ipv6Pools: Ipv6PoolSet;
  /** The commit checks' notes (`sstpd --check` prints them; start and reload log them). */
  readonly notes: readonly ConfigNote[];
}

export interface RadiusRuntime {
  readonly client: RadiusClientConfig;
  readonly sourceAddress?: string;
  readonly nas: NasIdentity;
  readonly acctTimeoutS: number;
  /** `accounting-interim-interval` and `acct-interim-jitter`, seconds. */
  readonly interimDefaultS?: number;
  readonly interimJitterS?: number;
  readonly rateLimit?: RadiusRateLimitSource;
  readonly dae?: { readonly address: string; readonly port: number; readonly secret: Buffer };
}

/** What a generation needs from the daemon: the RADIUS transport outlives generations. */
export interface RuntimeDeps {
  readonly radius?: RadiusTransport;
  readonly log?: Logger;
  /** Worker processes take the primary's generation number (each process would count its own). */
  readonly generation?: number;
}

/** NAS-Identifier when neither it nor nas-ip-address is configured (RFC 2865 wants one of them). */
export const DEFAULT_NAS_IDENTIFIER = 'sstpd';

let generations = 0;

/**
 * Our DHCPv6 server DUID, one per process: DUID-LL (type 3, Ethernet) with a random locally
 * administered address — PPP links have no MAC to derive one from. Clients compare SERVERID only
 * within a session, and sessions end with the process.
 */
const SERVER_DUID = ((): Buffer => {
  const mac = randomBytes(6);
  mac[0] = (mac[0]! & 0xfe) | 0x02;
  return Buffer.concat([Buffer.from([0x00, 0x03, 0x00, 0x01]), mac]);
})();

function buildIpv6Pools(config: SstpConfig): Ipv6PoolSet {
  // `ppp-options ipv6 deny` (VyOS 1.4's default when unset): the pools are not used, IPV6CP is refused.
  if (config.ppp.ipv6 === 'deny') return { pools: new Map() };
  const pools = new Map(
    config.ipv6Pools.map((p) => {
      const specs = p.prefixes.map((x) => ({ prefix: x.prefix, childLen: x.mask }));
      const dspecs = p.delegates.map((x) => ({ prefix: x.prefix, childLen: x.delegationPrefix }));
      const named: NamedIpv6Pool = {
        ...(specs.length > 0 ? { prefix: new Ipv6PrefixPool(p.name, specs) } : {}),
        ...(dspecs.length > 0 ? { delegate: new Ipv6PrefixPool(`${p.name}-delegate`, dspecs) } : {}),
      };
      return [p.name, named] as const;
    }),
  );
  return config.defaultIpv6Pool !== undefined ? { pools, defaultPool: config.defaultIpv6Pool } : { pools };
}

export async function loadRuntime(source: { file: string } | { text: string; baseDir: string }, deps: RuntimeDeps = {}): Promise<Runtime> {
  const res: LoadResult =
    'file' in source ? await loadConfigFile(source.file) : loadConfigText(source.text, { files: nodeFileChecker, baseDir: source.baseDir });
  if (!res.ok) throw new ConfigError(res.issues);
  return buildRuntime(res.config, res.notes, deps);
}

const readText = (path: string): string | undefined => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};

/** The RADIUS side of a generation; ConfigError if the rate-limit attribute cannot be resolved. */
export function buildRadiusRuntime(config: SstpConfig): RadiusRuntime | undefined {
  const r = config.radius;
  if (config.authMode !== 'radius' || r === undefined) return undefined;
  const nas: NasIdentity =
    r.nasIdentifier === undefined && r.nasIpAddress === undefined
      ? { identifier: DEFAULT_NAS_IDENTIFIER }
      : { ...(r.nasIdentifier !== undefined ? { identifier: r.nasIdentifier } : {}), ...(r.nasIpAddress !== undefined ? { ipAddress: r.nasIpAddress } : {}) };
  let rateLimit: RadiusRateLimitSource | undefined;
  if (r.rateLimit.enabled) {
    const res = resolveRateAttribute(r.rateLimit.attribute, r.rateLimit.vendor, readText);
    if (!res.ok) throw new ConfigError([{ path: 'vpn sstp authentication radius rate-limit', message: res.reason }]);
    rateLimit = { attribute: res.def, multiplier: r.rateLimit.multiplier ?? 1 };
  }
  return {
    client: {
      // The client chooses by `backup` and `priority` (accel-ppp `weight`), see radius/client.ts.
      // `disable-accounting` is accel-ppp's acct-port=0: never asked for accounting.
      servers: r.servers
        .filter((s) => !s.disabled)
        .map((s) => ({
          address: s.address,
          authPort: s.port,
          acctPort: s.disableAccounting ? 0 : s.acctPort,
          secret: Buffer.from(s.key, 'utf8'),
          failTimeS: s.failTime,
          requireMessageAuthenticator: s.requireMessageAuthenticator ? 'always' : 'auto',
          ...(s.priority !== undefined ? { weight: s.priority } : {}),
          ...(s.backup ? { backup: true } : {}),
        })),
      timeoutMs: r.timeout * 1000,
      maxTry: r.maxTry,
    },
    ...(r.sourceAddress !== undefined ? { sourceAddress: r.sourceAddress } : {}),
    nas,
    acctTimeoutS: r.acctTimeout,
    ...(r.accountingInterimInterval !== undefined ? { interimDefaultS: r.accountingInterimInterval } : {}),
    ...(r.acctInterimJitter !== undefined ? { interimJitterS: r.acctInterimJitter } : {}),
    ...(rateLimit ? { rateLimit } : {}),
    ...(r.dynamicAuthor ? { dae: { address: r.dynamicAuthor.server, port: r.dynamicAuthor.port, secret: Buffer.from(r.dynamicAuthor.key, 'utf8') } } : {}),
  };
}

function radiusBackend(radius: RadiusRuntime, deps: RuntimeDeps): AuthBackend {
  const transport = deps.radius;
  if (!transport) throw new ConfigError([{ path: 'vpn sstp authentication mode', message: 'RADIUS needs the daemon\'s RADIUS client' }]);
  const log = deps.log;
  return new RadiusAuthBackend({
    transport,
    nas: radius.nas,
    ...(radius.rateLimit ? { rateLimit: radius.rateLimit } : {}),
    ...(log ? { log: (level, event, fields) => log[level](fields, event) } : {}),
  });
}

/**
 * The certificate, key, chain and CA a generation serves: from the configuration's pki entries
 * (1.4+ `ssl certificate` / `ca-certificate`), or read from the 1.3 `ssl *-file` paths.
 */
interface TlsMaterial {
  readonly key: Buffer | string;
  /** The leaf first, then the chain sent after it. */
  readonly cert: Buffer | string;
  readonly ca?: Buffer | string;
  /** The leaf alone (what the crypto binding hashes). */
  readonly leafPem: Buffer | string;
}

async function tlsMaterial(config: SstpConfig): Promise<TlsMaterial> {
  const pki = config.ssl.pki;
  if (pki !== undefined) {
    // The pki issuers go after the leaf (an intermediate found in `pki ca` completes the chain).
    return { key: pki.keyPem, cert: [pki.certPem, ...pki.chainPem].join(''), leafPem: pki.certPem, ...(pki.caPem !== undefined ? { ca: pki.caPem } : {}) };
  }
  const key = await readFile(config.ssl.keyFile);
  const certPem = await readFile(config.ssl.certFile);
  const ca = config.ssl.caCertFile !== undefined ? await readFile(config.ssl.caCertFile) : undefined;
  // The chain we send: the cert file (leaf + any intermediates), then the CA file.
  const cert = ca ? Buffer.concat([certPem, Buffer.from('\n'), ca]) : certPem;
  return { key, cert, leafPem: certPem, ...(ca ? { ca } : {}) };
}

/** The TLS context new connections get; undefined when a proxy in front terminates TLS. */
async function buildTls(config: SstpConfig): Promise<ListenerPolicy['tls']> {
  if (config.ssl.offload) return undefined;
  const { key, cert, ca } = await tlsMaterial(config);
  // Renegotiation is a known attack surface and SSTP never needs it: TLS 1.2 and 1.3 only.
  return createSecureContext({ key, cert, ...(ca ? { ca } : {}), minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3', honorCipherOrder: true });
}

/**
 * The hashes the crypto binding compares: of the certificate the client saw. Ours, or with TLS
 * offloaded the proxy's (its cert-file or pki certificate, or the configured hashes).
 */
async function bindingHashes(config: SstpConfig): Promise<CertHashes> {
  const s = config.ssl;
  if (s.offload && s.certHashSha1 !== undefined && s.certHashSha256 !== undefined) {
    return { sha1: Buffer.from(s.certHashSha1, 'hex'), sha256: Buffer.from(s.certHashSha256, 'hex') };
  }
  const leaf = s.pki !== undefined ? s.pki.certPem : await readFile(s.certFile);
  return certHashes(new X509Certificate(leaf).raw);
}

/**
 * The session policy's PPP part from the `ppp-options`, `mtu` and `wins-server` nodes (accel-ppp's
 * meanings): what the PPP link negotiates, apart from authentication, echo and IPv6 services.
 */
export function pppPolicy(
  config: SstpConfig,
): Pick<SessionPolicy, 'wins' | 'mru' | 'maxPeerMru' | 'minPeerMru' | 'mppe' | 'ncp' | 'interfaceId' | 'peerInterfaceId' | 'acceptPeerInterfaceId'> {
  const { ipv4, ipv6 } = config.ppp;
  // "random" (or absent) leaves the id to each session.
  const interfaceId = config.ppp.ipv6InterfaceId !== undefined ? parseIid(config.ppp.ipv6InterfaceId) : undefined;
  const peerInterfaceId = peerIidRule(config);
  return {
    wins: config.winsServers ?? [],
    // `ppp-options mru` is what we ask for, `mtu` the largest client MRU; SSTP caps both at 1452.
    mru: Math.min(config.ppp.mru ?? PPP_MAX_MTU, PPP_MAX_MTU),
    ...(config.mtu !== undefined ? { maxPeerMru: Math.min(config.mtu, PPP_MAX_MTU) } : {}),
    ...(config.ppp.minMtu !== undefined ? { minPeerMru: config.ppp.minMtu } : {}),
    // `disable-ccp` (accel-ppp ccp=0): CCP is Protocol-Rejected whatever `mppe` says.
    mppe: config.ppp.disableCcp ? 'deny' : (config.ppp.mppe ?? 'accept'),
    // ipv6 deny also leaves IPv6 unconfigured (buildIpv6Pools), so IPV6CP is refused either way.
    ...(ipv4 !== undefined || ipv6 !== undefined ? { ncp: { ...(ipv4 ? { ipv4 } : {}), ...(ipv6 ? { ipv6 } : {}) } } : {}),
    ...(interfaceId ? { interfaceId } : {}),
    ...(peerInterfaceId ? { peerInterfaceId } : {}),
    ...(config.ppp.ipv6AcceptPeerInterfaceId ? { acceptPeerInterfaceId: true } : {}),
  };
}

/**
 * The key of `ipv6-peer-interface-id calling-sid` without `ipv6-peer-interface-id-secret`: one per
 * process, so a client keeps its id while sstpd runs (and across reloads), not across restarts.
 */
const CALLING_SID_KEY = randomBytes(32);

function peerIidRule(config: SstpConfig): PeerIidRule | undefined {
  const v = config.ppp.ipv6PeerInterfaceId;
  if (v === undefined) return undefined;
  if (v === 'random' || v === 'ipv4-addr') return { mode: v };
  if (v === 'calling-sid') {
    const secret = config.ppp.ipv6PeerInterfaceIdSecret;
    return { mode: 'calling-sid', key: secret !== undefined ? Buffer.from(secret, 'utf8') : CALLING_SID_KEY };
  }
  const id = parseIid(v);
  return id ? { mode: 'fixed', id } : undefined;
}

async function buildRuntime(config: SstpConfig, notes: readonly ConfigNote[], deps: RuntimeDeps): Promise<Runtime> {
  const radius = buildRadiusRuntime(config);
  const tls = await buildTls(config);
  const hashes = await bindingHashes(config);
  const gateway = config.gatewayAddress ?? '0.0.0.0';
  // The gateway and every user's static-ip are reserved: a pool never hands them to anyone else.
  const exclude = new Set([gateway, ...[...config.localUsers.values()].flatMap((u) => (u.staticIp ? [u.staticIp] : []))]);
  const pools = new Map(config.ipv4Pools.map((p) => [p.name, new Ipv4Pool(p.name, p.subnets, exclude, p.nextPool)]));
  const ipv6Pools = buildIpv6Pools(config);
  const policy: SessionPolicy = {
    // Offer the strongest allowed method first (accel-ppp offers config order, so VyOS's default
    // list makes it offer PAP first and every binding key zero); clients Nak to what they support.
    authProtocols: OFFER_ORDER.filter((m) => config.authProtocols.includes(m)),
    ...(config.authMode === 'noauth' ? { noauth: true } : {}),
    gateway,
    dns: config.nameServers.ipv4,
    ...pppPolicy(config),
    echo: { intervalS: config.ppp.lcpEchoInterval, failure: config.ppp.lcpEchoFailure, timeoutS: config.ppp.lcpEchoTimeout },
    certHashes: hashes,
    serverName: 'sstpd',
    negotiationTimeoutMs: 60_000,
    helloIntervalMs: 60_000,
    // VyOS 1.3 enables IPv6 on the link when an IPv6 prefix pool exists (RADIUS may name any pool).
    ...([...ipv6Pools.pools.values()].some((p) => p.prefix) ? { ipv6: { dns: config.nameServers.ipv6, serverDuid: SERVER_DUID } } : {}),
  };
  return {
    generation: deps.generation ?? ++generations,
    config,
    listener: {
      ...(tls ? { tls } : {}),
      ...(config.proxyProtocol ? { proxy: { trusted: config.proxyProtocol.trusted } } : {}),
      ...(config.hostName !== undefined ? { hostName: config.hostName } : {}),
      ...(config.maxConcurrentSessions !== undefined ? { maxStarting: config.maxConcurrentSessions } : {}),
      ...(config.limits !== undefined ? { rateLimit: rateLimitConfig(config.limits) } : {}),
    },
    policy: config.hostName !== undefined ? { ...policy, hostName: config.hostName } : policy,
    auth: radius ? radiusBackend(radius, deps) : new LocalAuthBackend(config.localUsers),
    pools,
    ...(radius ? { radius } : {}),
    ipv6Pools,
    notes,
  };
}

/**
 * What `sstpd --check` would warn about, logged each time a generation starts (by the process that
 * owns the node: the single daemon, or the primary of the workers): one `config-note` line per
 * note, and `authentication mode noauth` once more as its own loud line.
 */
export function warnConfig(log: Logger, rt: Runtime): void {
  for (const n of rt.notes) {
    log.warn({ generation: rt.generation, path: n.path, ...(n.line !== undefined ? { line: n.line } : {}), note: n.message }, 'config-note');
  }
  if (rt.config.authMode !== 'noauth') return;
  log.warn(
    { port: rt.config.port, generation: rt.generation, warning: 'NO AUTHENTICATION: every client that reaches the port gets a session and an address' },
    'noauth-enabled',
  );
}
