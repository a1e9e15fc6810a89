/**
 * What one session holds on the host: its IPv4 lease, its IPv6 prefix and delegated-prefix leases,
 * and its TUN interface (name, addresses, IPv6 setup and routes). The driver says when; this module
 * knows how, logs what happened and gives everything back exactly once.
 *
 * The interface's name is chosen before authentication (`reserveName`), so the first
 * Access-Request carries NAS-Port-Id, as accel-ppp's does; with `ppp-options interface-cache` that
 * reservation is a cached interface, and an ended session's interface goes back to the cache.
 */
import type { Logger } from 'pino';
import type { AuthAccept } from '../auth/backend.js';
import type { AddressBook } from '../ip/pool.js';
import type { Ipv6PrefixBook } from '../ip/pool6.js';
import { formatPrefix6, type Prefix6 } from '../ip/ipv6-addr.js';
import type { PrefixSource } from '../ipv6/dhcpv6.js';
import { openTun, TunError, type BatchHandler, type TunDevice } from '../dataplane/tun.js';
import { configureInterface, configureIpv6, prepareIpv6, route6, sessionInterfaceNames } from '../dataplane/iface.js';
import type { InterfaceCache } from '../dataplane/iface-cache.js';
import type { SessionAddresses, SessionPolicy } from './session.js';

/** What the network side of a session takes from its configuration generation. */
export interface NetworkEnv {
  readonly policy: Pick<SessionPolicy, 'dns' | 'ipv6' | 'ncp'>;
  readonly addresses: AddressBook;
  /** IPv6 prefix leases (RA prefix, DHCPv6-PD); absent when no IPv6 pool is configured. */
  readonly prefixes?: Ipv6PrefixBook;
  /** Opens the session's TUN device (injectable for component tests). */
  readonly openTun?: typeof openTun;
  readonly configureInterface?: typeof configureInterface;
  /** IPv6 interface setup (injectable for component tests). */
  readonly ipv6Interface?: { readonly prepare: typeof prepareIpv6; readonly configure: typeof configureIpv6; readonly route: typeof route6 };
  /** `ppp-options interface-cache`: the daemon's one cache, shared by every generation. */
  readonly interfaceCache?: InterfaceCache;
}

export interface NetworkHooks {
  /** Packets the host routes to the client. */
  readonly onPackets: BatchHandler;
  /** The interface is going: resolves when whatever sits on it (a shaper) is gone. Never rejects. */
  readonly beforeClose: (ifname: string) => Promise<void>;
  /** For log lines: the session's user. */
  readonly username: () => string | undefined;
}

export class SessionNetwork {
  private device: TunDevice | undefined;
  private ip: string | undefined;
  private prefix: Prefix6 | undefined;
  private delegated: Prefix6 | undefined;
  private delegatedBound = false;
  /** What the session was given after authentication (re-used if LCP renegotiates). */
  private given: SessionAddresses | undefined;
  private closing: Promise<void> | undefined;
  private released: Promise<void> | undefined;
  /** Before the interface is opened: its name, and the cached interface behind it if there is one. */
  private reserved: { readonly name: string; readonly cached?: TunDevice } | undefined;
  /** prepareIpv6 ran on the interface (a cached one gets the defaults back). */
  private ipv6Prepared = false;
  /** The MTU the interface is up at. */
  private mtu: number | undefined;
  /** The interface has its IPv4 addresses (a later configureIpv4 changes them). */
  private ipv4Set = false;

  constructor(private readonly sid: string, private readonly env: NetworkEnv, private readonly log: Logger, private readonly hooks: NetworkHooks) {}

  /** The interface, while it exists (not while it is being closed). */
  get tun(): TunDevice | undefined {
    return this.device;
  }
  /** The interface's name once chosen (NAS-Port-Id): reserved before authentication, then the device's. */
  get ifname(): string | undefined {
    return this.device?.name ?? this.reserved?.name;
  }
  /**
   * Chooses the interface before authentication: a cached interface when there is one, else the
   * next free `sstpN`. Idempotent; the name is given back by `release` if no interface is opened.
   */
  reserveName(): string {
    const known = this.ifname;
    if (known !== undefined) return known;
    const cached = this.env.interfaceCache?.take();
    this.reserved = cached ? { name: cached.name, cached } : { name: sessionInterfaceNames.take() };
    return this.reserved.name;
  }
  get ipv4(): string | undefined {
    return this.ip;
  }
  get ipv6Prefix(): Prefix6 | undefined {
    return this.prefix;
  }
  /** The delegated prefix once DHCPv6 bound it. */
  get delegatedPrefix(): Prefix6 | undefined {
    return this.delegatedBound ? this.delegated : undefined;
  }
  /** What the session holds since its first authentication. */
  get addresses(): SessionAddresses | undefined {
    return this.given;
  }

  /**
   * What the session gets: an IPv4 address when it can have one (static-ip or a pool), an IPv6
   * prefix when IPv6 is configured. One of them is enough; a pool that is exhausted is logged, and
   * the session runs with what is left (pppd goes on when one NCP is Protocol-Rejected).
   */
  lease(result: AuthAccept): SessionAddresses | { readonly error: string } {
    const { addresses, prefixes: book, policy } = this.env;
    let ipv4: string | undefined;
    // `ppp-options ipv4 deny`: IPCP never runs, so no address is taken from a pool.
    if (policy.ncp?.ipv4 !== 'deny' && addresses.offers(result.staticIp, result.poolName)) {
      const lease = addresses.lease(this.sid, result.staticIp, result.poolName);
      if ('error' in lease) this.log.warn({ username: result.username, reason: lease.error }, 'address-unavailable');
      else ipv4 = lease.ip;
    }
    if (policy.ipv6 && book?.offers('prefix', result.ipv6PoolName)) {
      const lease = book.lease(this.sid, 'prefix', result.ipv6PoolName);
      if ('error' in lease) this.log.warn({ username: result.username, reason: lease.error }, 'ipv6-prefix-unavailable');
      else this.prefix = lease.prefix;
    }
    if (ipv4 === undefined && this.prefix === undefined) {
      const error = 'no IPv4 address and no IPv6 prefix available for this session';
      this.log.warn({ username: result.username, reason: error }, 'address-unavailable');
      return { error };
    }
    this.ip = ipv4;
    const dns = result.dns ? [result.dns.primary ?? policy.dns[0], result.dns.secondary ?? policy.dns[1]] : undefined;
    const dpool = result.delegatedIpv6PoolName;
    const delegation = this.prefix && book?.offers('delegate', dpool) ? this.delegationSource(book, dpool) : undefined;
    this.given = {
      ...(ipv4 !== undefined ? { ipv4 } : {}),
      ...(this.prefix ? { ipv6Prefix: this.prefix } : {}),
      ...(delegation ? { delegation } : {}),
      ...(dns ? { dns } : {}),
      ...(result.routes?.length ? { routes: result.routes.map((r) => r.prefix) } : {}),
    };
    return this.given;
  }

  /**
   * Creates the session interface at `mtu`, up, and for an IPv6 session with the IPv6 settings
   * first. Throws when it cannot be made (the session must end).
   */
  open(mtu: number): TunDevice {
    const tun = this.openReserved();
    this.device = tun;
    // New, or back from the cache, where its IPv4 addresses were removed.
    this.ipv4Set = false;
    if (this.prefix) this.prepareIpv6(tun.name);
    (this.env.configureInterface ?? configureInterface)(tun.name, { mtu });
    tun.setMtu(mtu);
    this.mtu = mtu;
    return tun;
  }

  /** IPCP opened: our address, the client's (peer route) and the MTU. Throws on failure. */
  configureIpv4(local: string, peer: string, mtu: number): void {
    if (!this.device) return;
    // Opened at this MTU (the usual case): the link is up as it should be, only the addresses are new.
    const linkUp = mtu === this.mtu;
    const fresh = !this.ipv4Set;
    (this.env.configureInterface ?? configureInterface)(this.device.name, { local, peer, mtu, ...(linkUp ? { linkUp } : {}), ...(fresh ? { fresh } : {}) });
    this.ipv4Set = true;
    this.device.setMtu(mtu);
    this.mtu = mtu;
  }

  /** IPV6CP opened: our link-local address and the session prefix routed to the interface. */
  ipv6Up(linkLocal: string, prefix: string): void {
    const tun = this.device;
    if (!tun) return;
    try {
      (this.env.ipv6Interface?.configure ?? configureIpv6)(tun.name, { linkLocal, prefix });
      this.log.info({ username: this.hooks.username(), ifname: tun.name, ipv6Prefix: prefix, linkLocal }, 'ipv6-up');
    } catch (err) {
      this.log.error({ username: this.hooks.username(), err: String(err) }, 'ipv6-interface-failed');
    }
  }

  /** The client wants no IPv6: its prefix (and any delegated one) go back to the pools now. */
  releaseIpv6(): void {
    const book = this.env.prefixes;
    if (this.prefix) book?.release(this.sid, this.prefix);
    if (this.delegated) book?.release(this.sid, this.delegated);
    this.prefix = undefined;
    this.delegated = undefined;
    this.delegatedBound = false;
    if (this.given) {
      // An LCP renegotiation re-uses the rest as it is: the address, DNS and Framed-Routes.
      const { ipv6Prefix: _prefix, delegation: _delegation, ...rest } = this.given;
      this.given = rest;
    }
  }

  /** A delegated prefix was bound (route it through the interface) or released (remove the route). */
  route6(op: 'add' | 'del', prefix: string): void {
    if (op === 'add') this.delegatedBound = true;
    const tun = this.device;
    if (!tun) return;
    try {
      (this.env.ipv6Interface?.route ?? route6)(tun.name, op, prefix);
      this.log.info({ username: this.hooks.username(), ifname: tun.name, prefix, op }, 'delegated-prefix-route');
    } catch (err) {
      this.log.error({ username: this.hooks.username(), err: String(err) }, 'route6-failed');
    }
  }

  /** Every network protocol is down: the interface goes (after `beforeClose`); its name is free again. */
  close(): Promise<void> {
    const tun = this.device;
    if (!tun) return this.closing ?? Promise.resolve();
    this.device = undefined;
    tun.pause();
    this.closing = this.hooks.beforeClose(tun.name).then(() => this.retire(tun, this.ipv6Prepared));
    return this.closing;
  }

  /** Idempotent; resolves once the interface is gone and the addresses are free again. */
  release(): Promise<void> {
    this.released ??= Promise.all([this.close(), this.unreserve()]).then(() => {
      if (this.ip !== undefined) this.env.addresses.release(this.sid, this.ip);
      if (this.prefix) this.env.prefixes?.release(this.sid, this.prefix);
      if (this.delegated) this.env.prefixes?.release(this.sid, this.delegated);
    });
    return this.released;
  }

  /** The interface back to the cache when it has room, else deleted (its name freed). Never rejects. */
  private async retire(tun: TunDevice, ipv6: boolean): Promise<void> {
    try {
      if (await this.env.interfaceCache?.put(tun, ipv6)) return void this.log.debug({ ifname: tun.name }, 'interface-cached');
    } catch (err) {
      this.log.warn({ ifname: tun.name, err: String(err) }, 'interface-reset-failed');
    }
    try {
      await tun.close();
      sessionInterfaceNames.release(tun.name);
      this.log.debug({ ifname: tun.name }, 'interface-removed');
    } catch (err) {
      this.log.warn({ ifname: tun.name, err: String(err) }, 'interface-remove-failed');
    }
  }

  /** A reservation no interface was opened for: the cached interface or the name goes back. */
  private unreserve(): Promise<void> {
    const r = this.reserved;
    this.reserved = undefined;
    if (!r) return Promise.resolve();
    if (r.cached) return this.retire(r.cached, false);
    sessionInterfaceNames.release(r.name);
    return Promise.resolve();
  }

  /** The reserved interface (a cached one, or a new one under the reserved name), else a new one. */
  private openReserved(): TunDevice {
    const r = this.reserved;
    this.reserved = undefined;
    if (r?.cached?.reuse) {
      r.cached.reuse(this.hooks.onPackets);
      return r.cached;
    }
    const tun = this.openNamed(this.env.openTun ?? openTun, r?.name);
    if (r && tun.name !== r.name) this.log.warn({ ifname: tun.name, reserved: r.name }, 'interface-name-changed');
    return tun;
  }

  /** The delegate pool (`poolName`, else the default), bound to this session: DHCPv6 reserves at most one prefix through it. */
  private delegationSource(book: Ipv6PrefixBook, poolName: string | undefined): PrefixSource {
    return {
      acquire: () => {
        if (this.delegated) return this.delegated;
        const lease = book.lease(this.sid, 'delegate', poolName);
        if ('error' in lease) {
          this.log.warn({ username: this.hooks.username(), reason: lease.error }, 'ipv6-delegate-unavailable');
          return undefined;
        }
        this.delegated = lease.prefix;
        return lease.prefix;
      },
      release: (p) => {
        book.release(this.sid, p);
        if (this.delegated && formatPrefix6(this.delegated) === formatPrefix6(p)) {
          this.delegated = undefined;
          this.delegatedBound = false;
        }
      },
    };
  }

  private prepareIpv6(ifname: string): void {
    this.ipv6Prepared = true;
    try {
      (this.env.ipv6Interface?.prepare ?? prepareIpv6)(ifname);
    } catch (err) {
      // IPv4 still works; IPv6 on this interface will not.
      this.log.error({ username: this.hooks.username(), err: String(err) }, 'ipv6-interface-failed');
    }
  }

  /**
   * Opens the session's TUN under the next free `sstpN` (see InterfaceNames). A name another device
   * already holds (EBUSY for a TUN of another process, EINVAL for another device type) stays taken
   * and the next one is tried; after a few, the kernel picks. `first`: the reserved name.
   */
  private openNamed(open: typeof openTun, first: string | undefined): TunDevice {
    for (let attempt = 0; attempt < 8; attempt++) {
      const name = attempt === 0 && first !== undefined ? first : sessionInterfaceNames.take();
      try {
        return open(this.hooks.onPackets, { nameTemplate: name });
      } catch (err) {
        const inUse = err instanceof TunError && (err.errno === 'EBUSY' || err.errno === 'EINVAL' || err.errno === 'EEXIST');
        if (!inUse) {
          sessionInterfaceNames.release(name);
          throw err;
        }
        this.log.warn({ ifname: name, errno: err.errno }, 'interface-name-in-use');
      }
    }
    return open(this.hooks.onPackets);
  }
}
