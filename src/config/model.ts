/**
 * The typed, validated configuration: what the rest of the daemon consumes. Built from the VyOS
 * `vpn sstp` and `pki` trees by `build.ts`; the 1.3 syntax (equuleus) and the current one (1.4
 * sagitta, 1.5 circinus) map onto the same shape, as vyos-1x's migration scripts map one onto the
 * other. Everything is readonly: a live session keeps the generation it started with.
 *
 * Convention for the nodes VyOS 1.4 added: their field is present only when the node is configured
 * (or, for a few, when another configured node implies it); absent means the VyOS/accel-ppp
 * default written on the field. So a 1.3 configuration yields exactly the model it always did.
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

/**
 * An IPv4 pool: `client-ip-pool NAME` (1.4+), or the 1.3 syntax's one unnamed pool
 * (`client-ip-pool subnet`), named here "default" (VyOS's migration names it default-range-pool).
 */
export interface Ipv4PoolConfig {
  readonly name: string;
  /**
   * The pool's `range` values (1.3: `subnet`) as configured, in order; each is one of the three
   * forms `src/ip/pool.ts` `parsePoolRange` turns into a first-last pair:
   * - a prefix "192.0.2.0/24": every address but network and broadcast (below /31);
   * - a host "192.0.2.5/24" (address/length, VyOS's ipv4-host): from that address to the end of
   *   its prefix, broadcast excluded (accel-ppp starts there too);
   * - a range "192.0.2.10-192.0.2.20" (within one /24): both ends included.
   */
  readonly subnets: readonly string[];
  /**
   * `next-pool`: the pool sessions get an address from when this one is exhausted, and so on down
   * the chain (accel-ppp `next=`). Always names an existing pool; chains never loop (verify).
   */
  readonly nextPool?: string;
}

/**
 * An IPv6 pool: `client-ipv6-pool NAME` (1.4+), or the 1.3 unnamed `client-ipv6-pool`, named
 * here "default" (VyOS's migration names it ipv6-pool).
 */
export interface Ipv6PoolConfig {
  readonly name: string;
  /** `prefix P mask M`: each session gets one /M out of P (SLAAC by RA). */
  readonly prefixes: readonly { readonly prefix: string; readonly mask: number }[];
  /** `delegate P delegation-prefix L`: DHCPv6-PD hands out one /L out of P per session. */
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
  /**
   * `priority` 1-255 (accel-ppp `weight=`): among the servers that are up (backups last), a new
   * request goes to the one with the fewest requests in flight per unit of weight. Absent: weight 1.
   */
  readonly priority?: number;
  /** `backup`: asked only when every non-backup server has failed (accel-ppp `backup`). */
  readonly backup?: boolean;
  /** `disable-accounting`: no accounting to this server (VyOS renders `acct-port=0`). */
  readonly disableAccounting?: boolean;
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
  /**
   * `multiplier` (0.001-1000, VyOS default 1, accel-ppp `rate-multiplier`): the rate read from the
   * attribute is multiplied by it before it is applied. Absent when not configured (= 1).
   */
  readonly rateLimit: { readonly enabled: boolean; readonly attribute: string; readonly vendor?: string; readonly multiplier?: number };
  /**
   * `accounting-interim-interval` s (1-3600): Interim-Update period when the Access-Accept has no
   * Acct-Interim-Interval (which overrides it). Absent: no interim updates unless RADIUS asks.
   */
  readonly accountingInterimInterval?: number;
  /** `acct-interim-jitter` s (1-60): each interim period is moved by a random 0..jitter s. */
  readonly acctInterimJitter?: number;
  /**
   * `preallocate-vif` (accel-ppp `unit-preallocate=1`): the interface exists before authentication,
   * so NAS-Port-Id is in the first Access-Request. sstpd always chooses the interface (a cached one,
   * or its name) before authentication, so the first Access-Request has NAS-Port-Id either way.
   */
  readonly preallocateVif?: boolean;
}

/** accel-ppp's NCP policy (`[ppp] ipv4=` / `ipv6=`). */
export type NcpPolicy = 'deny' | 'allow' | 'prefer' | 'require';

export type MppePolicy = 'require' | 'prefer' | 'deny';

export interface PppOptions {
  /** Seconds between LCP Echo-Requests; 0 = off. VyOS default 30. */
  readonly lcpEchoInterval: number;
  /** Unanswered echoes before the link is dropped. VyOS default 3. */
  readonly lcpEchoFailure: number;
  /** Adaptive echo: seconds without any peer activity before the link is dropped; 0 = off. */
  readonly lcpEchoTimeout: number;
  /** Absent = do not ask, accept if the client asks (the seed's default behaviour; VyOS 1.4's is prefer). */
  readonly mppe?: MppePolicy;
  /**
   * `ppp-options mru` (68-65535): the MRU we ask for. Absent: the SSTP maximum, 1452 (accel-ppp's
   * ppp-max-mtu; any larger value behaves as 1452).
   */
  readonly mru?: number;
  /** `ppp-options min-mtu` (68-65535): a client whose MRU is below this is refused (accel-ppp NAKs up to it). */
  readonly minMtu?: number;
  /** `ppp-options disable-ccp`: CCP is not negotiated at all (accel-ppp `ccp=0`). */
  readonly disableCcp?: boolean;
  /** `ppp-options interface-cache` (1-256000, accel-ppp `unit-cache`): session interfaces kept for reuse. */
  readonly interfaceCache?: number;
  /**
   * `ppp-options ipv4`: who starts IPCP and whether it must succeed — deny: IPCP refused; allow:
   * negotiated if the client starts it; prefer: we start it, the session lives on without it;
   * require: we start it, the session ends without it. Absent: accel-ppp's default, allow.
   */
  readonly ipv4?: NcpPolicy;
  /**
   * `ppp-options ipv6`, same words for IPV6CP. Present whenever an IPv6 pool exists: the configured
   * word, else VyOS's default for the syntax in use — 1.4+ "deny" (the pools then stay unused), 1.3
   * "allow" (1.3 turned IPv6 on when a prefix pool existed). Absent: no IPv6 pool, nothing to offer.
   */
  readonly ipv6?: NcpPolicy;
  /** `ppp-options ipv6-interface-id`: our IPV6CP interface id, "random" or "a:b:c:d". Absent: random. */
  readonly ipv6InterfaceId?: string;
  /**
   * `ppp-options ipv6-peer-interface-id`: the id we give the client — "random", "calling-sid"
   * (derived from the client's address), "ipv4-addr" (from its IPv4 address, accel-ppp `ipv4`)
   * or "a:b:c:d". Absent: the client keeps its own unless it clashes.
   */
  readonly ipv6PeerInterfaceId?: string;
  /** `ppp-options ipv6-accept-peer-interface-id`: the client's proposed id is accepted as is. */
  readonly ipv6AcceptPeerInterfaceId?: boolean;
  /** `ppp-options ipv6-peer-interface-id-secret` (newer VyOS): the key of "calling-sid" ids. */
  readonly ipv6PeerInterfaceIdSecret?: string;
}

/**
 * TLS material from the configuration itself (VyOS 1.4+ `ssl certificate NAME` /
 * `ssl ca-certificate NAME`, naming `pki certificate` / `pki ca` entries, stored there as base64
 * bodies without PEM armour). PEM text, ready for `tls.createSecureContext`.
 */
export interface PkiTlsMaterial {
  /** `ssl certificate`: the `pki certificate` entry's name. */
  readonly certificateName: string;
  /** Its certificate (the leaf), PEM. */
  readonly certPem: string;
  /** Its private key, PEM (PKCS#8 as VyOS stores it; SEC1 or PKCS#1 bodies are wrapped as such). */
  readonly keyPem: string;
  /**
   * The leaf's issuers found among all `pki ca` entries, nearest first (intermediates, then the
   * root when it is there), PEM: sent after the leaf, as OpenSSL's chain building does for accel-ppp.
   */
  readonly chainPem: readonly string[];
  /** `ssl ca-certificate`: the `pki ca` entry's name and certificate (accel-ppp `ssl-ca-file`). */
  readonly caCertificateName?: string;
  readonly caPem?: string;
}

export interface SslConfig {
  /** 1.3 `cert-file`. Empty when not configured (PKI material, or `offload` with both hashes). */
  readonly certFile: string;
  /** 1.3 `key-file`; empty when not configured. */
  readonly keyFile: string;
  readonly caCertFile?: string;
  /** 1.4+ `ssl certificate` / `ca-certificate`: the PKI entries, resolved (absent with the file nodes). */
  readonly pki?: PkiTlsMaterial;
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

/** `limits` (accel-ppp's connlimit module): new connections per client address, before TLS. */
export interface ConnectionLimits {
  /**
   * `connection-limit N/sec|N/min`: once the burst is used up, a new connection from an address is
   * accepted only when periodS/count seconds have passed since its last accepted one. Absent:
   * accel-ppp's default, one per 5 s.
   */
  readonly rate?: { readonly count: number; readonly periodS: number };
  /** `burst`: connections an address may open before the rate applies. Absent: 3. */
  readonly burst?: number;
  /** `timeout` s: an address's count starts over after this long without an accepted connection. Absent: 60. */
  readonly timeoutS?: number;
}

/**
 * `extended-scripts` (accel-ppp's pppd_compat): commands run with pppd's ip-up arguments and
 * environment. Each is the configured text: a path, which VyOS lets carry arguments after it.
 */
export interface ExtendedScripts {
  /** Before the session comes up; a non-zero exit refuses the session (ip-pre-up). */
  readonly onPreUp?: string;
  /** When the session is up (ip-up). */
  readonly onUp?: string;
  /** When it ends (ip-down). */
  readonly onDown?: string;
  /** When its addresses or rate change (ip-change). */
  readonly onChange?: string;
}

export interface SstpConfig {
  readonly port: number;
  /** `description`: free text, no effect. */
  readonly description?: string;
  /**
   * `host-name` (accel-ppp `[sstp] host-name`): a client whose TLS SNI, or without SNI whose HTTP
   * Host (port stripped), names another host is refused; compared case-insensitively.
   */
  readonly hostName?: string;
  /**
   * `max-concurrent-sessions` (accel-ppp `[common] max-starting`): new connections are refused while
   * this many sessions are still starting; 0 = no limit (absent too). VyOS also takes "n-m"; accel-ppp
   * reads the first number, so does this field.
   */
  readonly maxConcurrentSessions?: number;
  readonly limits?: ConnectionLimits;
  /**
   * `mtu` (68-1500, VyOS default 1500, accel-ppp `[ppp] mtu`): the session interface MTU and the
   * most we accept as the client's MRU; SSTP caps it at 1452 (accel-ppp ppp-max-mtu), so only a
   * smaller value changes anything. Absent when not configured.
   */
  readonly mtu?: number;
  /** `wins-server` (at most 2): NBNS servers given in IPCP (options 130/132). */
  readonly winsServers?: readonly string[];
  readonly extendedScripts?: ExtendedScripts;
  /** `shaper fwmark` (1-2147483647): packets carrying this firewall mark bypass the rate limit. */
  readonly shaperFwmark?: number;
  /**
   * `log level` 0-5 (accel-ppp: 0 off, 1 error, 2 warn, 3 info, 4 debug-ish "msg", 5 debug). VyOS's
   * default 3. Absent when not configured.
   */
  readonly logLevel?: number;
  /** `snmp` (`master-agent` or not): accel-ppp's net-snmp agent; sstpd serves `metrics` instead. */
  readonly snmp?: { readonly masterAgent: boolean };
  readonly gatewayAddress?: string;
  readonly ssl: SslConfig;
  readonly proxyProtocol?: ProxyProtocolConfig;
  /** The Prometheus endpoint (sstpd extension); absent = off. */
  readonly metrics?: { readonly address: string; readonly port: number };
  /**
   * `authentication mode`. "noauth" (1.4+): no authentication at all, as accel-ppp's noauth=1 (VyOS
   * renders no noauth for SSTP, so logins fail there); verify notes it loudly.
   */
  readonly authMode: 'local' | 'radius' | 'noauth';
  /** In the order configured (VyOS `multi` keeps insertion order). */
  readonly authProtocols: readonly AuthProtocol[];
  readonly localUsers: ReadonlyMap<string, LocalUser>;
  readonly radius?: RadiusConfig;
  readonly ipv4Pools: readonly Ipv4PoolConfig[];
  /**
   * `default-pool`: where sessions without a static-ip, Framed-IP-Address or Framed-Pool get their
   * address (then along its next-pool chain). The 1.3 unnamed pool is the default. Absent in a 1.4
   * config without default-pool: such sessions get no IPv4 address (VyOS warns).
   */
  readonly defaultIpv4Pool?: string;
  readonly ipv6Pools: readonly Ipv6PoolConfig[];
  /**
   * `default-ipv6-pool`: the pool for the session prefix and for DHCPv6-PD (accel-ppp `ipv6-pool`
   * and `ipv6-pool-delegate`). The 1.3 unnamed pool is the default when it has a prefix (as VyOS's
   * migration does).
   */
  readonly defaultIpv6Pool?: string;
  readonly nameServers: { readonly ipv4: readonly string[]; readonly ipv6: readonly string[] };
  readonly ppp: PppOptions;
}
