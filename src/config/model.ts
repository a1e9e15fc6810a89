/**
 * The typed, validated configuration: what the rest of the daemon consumes. Built from the VyOS
 * `set vpn sstp ...` tree by `build.ts`; the 1.3 syntax of the seed maps onto it today, and the
 * 1.4+ syntax (named pools, pki) is meant to map onto the same shape later, as vyos-1x's
 * migration scripts do. Everything is readonly: a live session keeps the generation it started with.
 */
export type AuthProtocol = 'pap' | 'chap' | 'mschap' | 'mschap-v2';
export const ALL_AUTH_PROTOCOLS: readonly AuthProtocol[] = ['pap', 'chap', 'mschap', 'mschap-v2'];

export interface RateLimit {
  /** kbit/s towards the client. */
  readonly downloadKbit: number;
  /** kbit/s from the client. */
  readonly uploadKbit: number;
}

export interface LocalUser {
  readonly name: string;
  readonly password: string;
  readonly disabled: boolean;
  /** Dotted IPv4; absent = take from the pool. */
  readonly staticIp?: string;
  readonly rateLimit?: RateLimit;
}

/** An IPv4 pool; the 1.3 syntax has one unnamed pool (`client-ip-pool subnet`), named here "default". */
export interface Ipv4PoolConfig {
  readonly name: string;
  /** CIDR strings as configured, e.g. "192.0.2.0/25". */
  readonly subnets: readonly string[];
  readonly nextPool?: string;
}

export interface Ipv6PoolConfig {
  readonly name: string;
  readonly prefixes: readonly { readonly prefix: string; readonly mask: number }[];
  readonly delegates: readonly { readonly prefix: string; readonly delegationPrefix: number }[];
}

export interface RadiusServerConfig {
  readonly address: string;
  readonly key: string;
  readonly port: number;
  readonly acctPort: number;
  readonly failTime: number;
  readonly disabled: boolean;
  /** Access replies must carry a Message-Authenticator (else: required once the server sent one). */
  readonly requireMessageAuthenticator: boolean;
}

export interface RadiusConfig {
  readonly servers: readonly RadiusServerConfig[];
  readonly acctTimeout: number;
  readonly timeout: number;
  readonly maxTry: number;
  readonly nasIdentifier?: string;
  readonly nasIpAddress?: string;
  readonly sourceAddress?: string;
  readonly dynamicAuthor?: { readonly server: string; readonly port: number; readonly key: string };
  readonly rateLimit: { readonly enabled: boolean; readonly attribute: string; readonly vendor?: string };
}

export type MppePolicy = 'require' | 'prefer' | 'deny';

export interface PppOptions {
  /** Seconds between LCP Echo-Requests; 0 = off. VyOS default 30. */
  readonly lcpEchoInterval: number;
  /** Unanswered echoes before the link is dropped. VyOS default 3. */
  readonly lcpEchoFailure: number;
  /** Adaptive echo: seconds without any peer activity before the link is dropped; 0 = off. */
  readonly lcpEchoTimeout: number;
  /** Absent = do not ask, accept if the client asks (the seed's default behaviour). */
  readonly mppe?: MppePolicy;
}

export interface SslConfig {
  /** Empty when not configured (allowed with `offload` and both hashes). */
  readonly certFile: string;
  readonly keyFile: string;
  readonly caCertFile?: string;
  /** TLS is terminated by a proxy in front: this listener takes plain HTTP (sstpd extension). */
  readonly offload: boolean;
  /** With `offload`: the presented certificate's hashes, lower-case hex without colons. */
  readonly certHashSha1?: string;
  readonly certHashSha256?: string;
}

/** PROXY protocol on the listener (sstpd extension). */
export interface ProxyProtocolConfig {
  /** Addresses and prefixes a PROXY header is accepted from; empty = any. */
  readonly trusted: readonly string[];
}

export interface SstpConfig {
  readonly port: number;
  readonly gatewayAddress?: string;
  readonly ssl: SslConfig;
  readonly proxyProtocol?: ProxyProtocolConfig;
  /** The Prometheus endpoint (sstpd extension); absent = off. */
  readonly metrics?: { readonly address: string; readonly port: number };
  readonly authMode: 'local' | 'radius';
  /** In the order configured (VyOS `multi` keeps insertion order). */
  readonly authProtocols: readonly AuthProtocol[];
  readonly localUsers: ReadonlyMap<string, LocalUser>;
  readonly radius?: RadiusConfig;
  readonly ipv4Pools: readonly Ipv4PoolConfig[];
  readonly defaultIpv4Pool?: string;
  readonly ipv6Pools: readonly Ipv6PoolConfig[];
  readonly nameServers: { readonly ipv4: readonly string[]; readonly ipv6: readonly string[] };
  readonly ppp: PppOptions;
}
