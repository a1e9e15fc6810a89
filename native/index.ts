/**
 * Typed loader for the `sstpd_tun` addon (native/tun.cc): the only module that imports the .node file.
 * Loading is lazy, so code that merely imports the data plane (component tests with FakeTun) runs
 * without a built addon.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SstpdError } from '../src/common/errors.js';

/**
 * Called once per wake-up with every packet read in it. `slab`, `offsets` and `lengths` are shared by
 * all TUN devices of the thread and overwritten by the next batch: consume or copy before returning.
 * Packet i is `slab[offsets[i] .. offsets[i] + lengths[i])`; the `HEADROOM` bytes before it are free.
 */
export type NativePacketsHandler = (
  slab: Buffer,
  offsets: Uint32Array,
  lengths: Uint32Array,
  count: number,
) => void;

/** The Error the addon throws or reports: Node-style errno fields (code 'EPERM', errno 1, syscall). */
export interface NativeErrnoError extends Error {
  readonly code?: string;
  readonly errno?: number;
  readonly syscall?: string;
}

export interface NativePoller {
  /** Stop reading (back-pressure); packets wait in the kernel queue, then the kernel drops. */
  pause(): void;
  resume(): void;
  /**
   * Stops polling at once; the fd is closed on the libuv pool (the kernel needs ~20 ms to delete
   * the interface) and `done` runs afterwards. Idempotent: later calls do nothing.
   */
  close(done?: () => void): void;
  readonly closed: boolean;
  /** Packets dropped because they exceeded MAX_PACKET (or, with offload, the MTU set). */
  readonly truncated: number;
  /** Offload: the session MTU that super-packets are cut to fit (0: the kernel's segment size). */
  setMtu(mtu: number): void;
  /** Offload: super-packets read (each cut into several packets of the batch). */
  readonly superPackets: number;
  /** Offload: packets with a virtio header we could not make sense of, dropped. */
  readonly refused: number;
  /** Reads and discards what the kernel still queues (a cached interface, down); the count. */
  drain(): number;
}

export interface NativeTun {
  /**
   * Creates a non-persistent TUN (IFF_TUN | IFF_NO_PI, non-blocking, close-on-exec); `%d` → first
   * free. With `offload`, also IFF_VNET_HDR + TUNSETOFFLOAD (checksum, TSO, USO); `offload` in the
   * answer says whether the kernel took it (if not, the device is a plain one).
   */
  open(nameTemplate: string, offload?: boolean): { fd: number; name: string; offload: boolean };
  /**
   * Address, point-to-point peer (adds the peer/32 route), /32 mask, MTU, and up/down. IPv4 optional.
   * `linkUp`: the link is up at this MTU already, only the addresses are set (mtu, up not needed).
   */
  configure(name: string, opts: { local?: string; peer?: string; mtu?: number; up?: boolean; txqueuelen?: number; linkUp?: boolean; fresh?: boolean }): void;
  /** An IPv6 address (16 bytes) with its prefix length on the interface; an existing one is fine. */
  addAddress6(name: string, address: Uint8Array, prefixLen: number): void;
  /** Adds or deletes a route for prefix/len through the interface (no gateway); idempotent. */
  route6(name: string, add: boolean, prefix: Uint8Array, prefixLen: number): void;
  /**
   * Link down and every IPv4 address removed (down also drops the IPv6 addresses and the routes),
   * on the libuv pool: `done(null)`, or an errno error.
   */
  resetAsync(name: string, done: (err: NativeErrnoError | null) => void): void;
  /** One non-blocking write; bytes written, or -1 when the device queue is full (drop the packet). */
  write(fd: number, buf: Uint8Array, offset: number, length: number): number;
  /**
   * Writes packets `buf[offsets[i] .. + lengths[i])`, i < count <= BATCH. With `offload` (a device
   * opened with it) consecutive TCP segments of one flow go as one GRO super-packet. What the kernel
   * refuses (queue full) is dropped. `result` receives [written, dropped, writes, bytes written].
   */
  writeBatch(fd: number, buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number, offload: boolean, result: Uint32Array): void;
  /**
   * Takes ownership of `fd`; starts polling at once. `onError` follows a read error, after which
   * polling stops. `offload`: the fd was opened with it (reads carry a virtio header).
   */
  TunPoller: new (fd: number, onPackets: NativePacketsHandler, onError: (err: NativeErrnoError) => void, offload?: boolean) => NativePoller;
  /**
   * A TCP socket's queue bounds (src/dataplane/tcp-queue.ts): sets TCP_NOTSENT_LOWAT and/or SO_RCVBUF
   * when given (1..2^31-1), then reads both back: notSentLowat 0 = none on this socket (the sysctl
   * applies); rcvBuf as the kernel reports it (twice the value set). Throws an errno error (EBADF, ENOTSOCK).
   */
  tuneTcp(fd: number, opts: { notSentLowat?: number; rcvBuf?: number }): { notSentLowat: number; rcvBuf: number };
  /** Tests: the offload segmenter on one packet with its 10-byte virtio header; throws when refused. */
  segment(packet: Uint8Array, vnetHdr: Uint8Array, mtu: number): Buffer[];
  /** Tests: what writeBatch would write for these packets (offload), in order. */
  coalesce(packets: readonly Uint8Array[]): { vnetHdr: Buffer; packet: Buffer; count: number }[];
  /**
   * A bound, listening, non-blocking, close-on-exec TCP socket with SO_REUSEADDR and SO_REUSEPORT
   * (each worker process accepts on its own; the kernel spreads connections over the group by
   * 4-tuple hash). `address` '' = every address: [::] with IPV6_V6ONLY off (or 0.0.0.0 without
   * IPv6), as Node binds. Returns the fd (the caller owns it); throws an errno error (EADDRINUSE …).
   */
  reuseportListen(address: string, port: number, backlog: number): number;
  /** Free bytes before each packet in the slab (SSTP header + PPP FF 03 + protocol fit exactly). */
  readonly HEADROOM: number;
  /** Largest packet read; longer ones are dropped and counted in `truncated`. */
  readonly MAX_PACKET: number;
  /** Packets per batch (with offload, a batch may exceed it by the segments of its last read). */
  readonly BATCH: number;
}

const ADDON = join('native', 'build', 'Release', 'sstpd_tun.node');

/** Where the built addon is: $SSTPD_TUN_ADDON, then up from this file (src or dist), then the cwd. */
export function findAddon(): string | undefined {
  const env = process.env['SSTPD_TUN_ADDON'];
  if (env) return existsSync(env) ? env : undefined;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const cand = join(dir, ADDON);
    if (existsSync(cand)) return cand;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  const fromCwd = resolve(process.cwd(), ADDON);
  return existsSync(fromCwd) ? fromCwd : undefined;
}

let loaded: NativeTun | undefined;

/** Loads the addon once; throws `E_TUN_ADDON` when it was not built. */
export function loadNative(): NativeTun {
  if (loaded) return loaded;
  const path = findAddon();
  if (path === undefined) {
    throw new SstpdError(
      'E_TUN_ADDON',
      `native addon ${ADDON} not found; build it with: npx node-gyp rebuild --directory native`,
    );
  }
  const require = createRequire(import.meta.url);
  loaded = require(path) as NativeTun;
  return loaded;
}
