/**
 * `ppp-options interface-cache N` (accel-ppp `[ppp] unit-cache`): up to N session interfaces whose
 * session ended are kept, down and empty, and handed to new sessions instead of creating one.
 * Creating a TUN and deleting it (~0.5 ms CPU and ~25 ms of kernel time, RCU waits) is most of
 * what a session setup costs the host; a cached one only needs its address and `up`.
 *
 * Kept: the open fd, the name, the offload setting. Gone before an interface is cached: its link
 * (down), IPv4 and IPv6 addresses and every route through it (a down interface has none), packets
 * the kernel still queued, IPv6 settings a session changed, and (before `put`, by the session's
 * `beforeClose`) whatever sat on it, such as a shaper. Counters start from zero on reuse.
 */
import { resetInterface, restoreIpv6Defaults, sessionInterfaceNames, type InterfaceNames } from './iface.js';
import type { TunDevice } from './tun.js';

export interface InterfaceCacheDeps {
  /** Down, no address (iface.ts resetInterface, off the event loop). */
  readonly reset?: (name: string) => Promise<void>;
  /** The IPv6 settings back to the defaults (iface.ts restoreIpv6Defaults). */
  readonly restoreIpv6?: (name: string) => void;
  /** Where a deleted interface's name goes back (default: the daemon's `sstpN` allocator). */
  readonly names?: InterfaceNames;
}

/** What the cache needs of a device: the optional parking half of TunDevice. */
type Cacheable = TunDevice & Required<Pick<TunDevice, 'park' | 'reuse'>>;

const cacheable = (tun: TunDevice): tun is Cacheable => tun.park !== undefined && tun.reuse !== undefined;

export class InterfaceCache {
  /** Parked devices; taken newest first (its kernel state is the warmest). */
  private readonly parked: Cacheable[] = [];
  /** Devices being reset for the cache: they count against the limit. */
  private resetting = 0;

  constructor(private limit: number, private readonly deps: InterfaceCacheDeps = {}) {}

  get size(): number {
    return this.parked.length;
  }

  get capacity(): number {
    return this.limit;
  }

  /** A configuration reload: the new limit (0: off); interfaces beyond it are deleted. */
  resize(limit: number): Promise<void> {
    this.limit = limit;
    return this.remove(this.parked.splice(limit));
  }

  /** A parked interface for a new session, or undefined (then one is created). */
  take(): Cacheable | undefined {
    return this.parked.pop();
  }

  /**
   * Keeps `tun` after its session ended: false (the caller deletes it) when the cache is full or
   * the device cannot be parked. Nothing of the session is left on a kept one. `ipv6`: the session
   * changed the interface's IPv6 settings. Rejects with TunError when the reset fails (delete it then).
   */
  async put(tun: TunDevice, ipv6: boolean): Promise<boolean> {
    if (this.parked.length + this.resetting >= this.limit || tun.closed || !cacheable(tun)) return false;
    this.resetting++;
    try {
      // Settings first: changing addr_gen_mode makes the kernel add a link-local, which going down removes.
      if (ipv6) (this.deps.restoreIpv6 ?? restoreIpv6Defaults)(tun.name);
      tun.pause();
      await (this.deps.reset ?? resetInterface)(tun.name);
    } finally {
      this.resetting--;
    }
    // Down now: what the kernel still queued for the old session is discarded.
    tun.park();
    if (this.parked.length >= this.limit) return false; // a reload shrank the cache meanwhile
    this.parked.push(tun);
    return true;
  }

  /** Shutdown: every parked interface is deleted; resolves when they are gone. */
  clear(): Promise<void> {
    return this.remove(this.parked.splice(0));
  }

  /** Deletes interfaces (each frees its name once the kernel is done). */
  private async remove(tuns: readonly TunDevice[]): Promise<void> {
    await Promise.all(tuns.map((t) => t.close().then(() => (this.deps.names ?? sessionInterfaceNames).release(t.name))));
  }
}
