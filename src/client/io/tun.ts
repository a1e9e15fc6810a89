/**
 * The client's local interface: a TUN device carrying the tunnel's IPv4, optionally moved into
 * another network namespace, with optional routes.
 *
 * Namespaces: the device is created here (where the TLS connection lives) and then moved with
 * `ip link set dev X netns NS`; its file descriptor keeps working across the move, so the TLS socket
 * stays in the caller's namespace while applications in NS use the tunnel. This needs no setns()
 * juggling in a multi-threaded process and no second process. Address, MTU and routes inside NS are
 * set with `ip -n NS`. Closing the fd deletes the interface (and its routes) wherever it is.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { offloadWanted, openTun, type TunDevice } from '../../dataplane/tun.js';
import { configureInterface, FALLBACK_TXQUEUELEN, MIN_MTU } from '../../dataplane/iface.js';
import { MAX_SSTP_MRU } from '../../ppp/lcp/mru.js';
import type { UpInfo } from '../connection.js';
import { ClientError, ClientErrorCode } from '../errors.js';
import type { SstpConnection } from './socket.js';

const execFileAsync = promisify(execFile);

export interface ClientInterfaceOptions {
  /** Interface name or template with %d; default `sstpc%d`. */
  readonly ifname?: string;
  /** Move the interface into this (existing) network namespace. */
  readonly netns?: string;
  /** Route everything through the tunnel (0/1 + 128/1 here, keeping a host route to the server; `default` in a netns). */
  readonly defaultRoute?: boolean;
  /** Further prefixes to route into the tunnel. */
  readonly routes?: readonly string[];
  /** The server's IP address (the TLS peer), pinned to its current path when defaultRoute is set here. */
  readonly serverAddress?: string;
}

/** pppd's fallback remote address when the server does not announce one. */
const FALLBACK_PEER = '10.64.64.64';

async function ip(args: readonly string[]): Promise<string> {
  try {
    return (await execFileAsync('ip', [...args], { timeout: 10_000 })).stdout;
  } catch (e) {
    const err = e as { stderr?: string; message?: string };
    throw new ClientError(ClientErrorCode.TUN, `ip ${args.join(' ')}: ${(err.stderr ?? err.message ?? '').trim()}`, 'up');
  }
}

export class ClientInterface {
  private pinned: string[] | undefined;
  private closing: Promise<void> | undefined;

  private constructor(private readonly tun: TunDevice, readonly name: string, readonly netns: string | undefined) {}

  /**
   * Creates and configures the interface for an established connection and wires the data path:
   * TUN batches → one TLS write each (FQ-CoDel while TCP pushes back: session/outbound.ts), and the
   * packets the connection delivers to `deliver()` → the TUN.
   */
  static async open(conn: SstpConnection, info: UpInfo, opts: ClientInterfaceOptions = {}): Promise<ClientInterface> {
    let tun: TunDevice | undefined;
    const out = conn.outbound((paused) => (paused ? tun?.pause() : tun?.resume()));
    try {
      tun = openTun((b) => out.fromTun(b), { nameTemplate: opts.ifname ?? 'sstpc%d', onError: () => void conn.close() });
    } catch (e) {
      throw new ClientError(ClientErrorCode.TUN, `cannot create the interface: ${e instanceof Error ? e.message : String(e)}`, 'up', undefined, { cause: e });
    }
    const iface = new ClientInterface(tun, tun.name, opts.netns);
    try {
      await iface.configure(info, opts);
    } catch (e) {
      await iface.close();
      throw e instanceof ClientError ? e : new ClientError(ClientErrorCode.TUN, `cannot configure ${tun.name}: ${String(e)}`, 'up', undefined, { cause: e });
    }
    return iface;
  }

  /** A packet from the tunnel to the host (dropped and counted if the kernel queue is full). */
  deliver(packet: Buffer): void {
    this.tun.write(packet);
  }

  get stats(): TunDevice['stats'] {
    return this.tun.stats;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.pinned) await ip(['route', 'del', ...this.pinned]).catch(() => undefined);
      await this.tun.close();
    })();
    return this.closing;
  }

  private async configure(info: UpInfo, opts: ClientInterfaceOptions): Promise<void> {
    const peer = info.peer === '0.0.0.0' || info.peer === info.ipv4 ? FALLBACK_PEER : info.peer;
    const mtu = Math.max(MIN_MTU, Math.min(MAX_SSTP_MRU, info.mtu));
    const ns = opts.netns;
    this.tun.setMtu(mtu);
    if (ns === undefined) {
      try {
        configureInterface(this.name, { local: info.ipv4, peer, mtu });
      } catch (e) {
        throw new ClientError(ClientErrorCode.TUN, e instanceof Error ? e.message : String(e), 'up', undefined, { cause: e });
      }
    } else {
      await ip(['link', 'set', 'dev', this.name, 'netns', ns]);
      await ip(['-n', ns, 'addr', 'add', info.ipv4, 'peer', `${peer}/32`, 'dev', this.name]);
      const qlen = offloadWanted() ? [] : ['txqueuelen', String(FALLBACK_TXQUEUELEN)];
      await ip(['-n', ns, 'link', 'set', 'dev', this.name, 'mtu', String(mtu), ...qlen, 'up']);
    }
    const at = ns === undefined ? [] : ['-n', ns];
    for (const r of opts.routes ?? []) await ip([...at, 'route', 'replace', r, 'dev', this.name]);
    if (!opts.defaultRoute) return;
    if (ns !== undefined) {
      await ip([...at, 'route', 'replace', 'default', 'dev', this.name]);
      return;
    }
    // Here the TLS connection must keep its own path: pin the server, then cover 0/0 with two /1s.
    if (opts.serverAddress) this.pinned = await pinRoute(opts.serverAddress);
    await ip(['route', 'replace', '0.0.0.0/1', 'dev', this.name]);
    await ip(['route', 'replace', '128.0.0.0/1', 'dev', this.name]);
  }
}

/** Adds a /32 for `address` along its current route; returns the args to delete it, or undefined for a local address. */
async function pinRoute(address: string): Promise<string[] | undefined> {
  const out = await ip(['-4', 'route', 'get', address]);
  const via = /\bvia (\S+)/.exec(out)?.[1];
  const dev = /\bdev (\S+)/.exec(out)?.[1];
  if (dev === undefined || dev === 'lo' || /^local /.test(out)) return undefined;
  const spec = [`${address}/32`, ...(via ? ['via', via] : []), 'dev', dev];
  await ip(['route', 'replace', ...spec]);
  return spec;
}
