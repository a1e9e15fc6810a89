/**
 * The TUN edge of the data path: one non-persistent `sstpN` device per session.
 *
 * Host → client packets arrive in batches (one call per event-loop wake-up, up to 64 packets), as
 * views into a slab that is reused for the next batch: a handler must consume or copy them before
 * it returns. Each packet has `TUN_HEADROOM` (8) writable bytes in front of it, so the SSTP header
 * (4) and PPP `FF 03` + protocol (4) can be written in place, making one contiguous frame. Note that
 * `socket.write()` keeps a reference while an earlier write is still in flight, so frames handed to a
 * socket must be copied: the session copies a whole batch into one buffer (session/data-path.ts).
 *
 * Closing deletes the interface; the kernel needs ~20 ms for that, so the fd is closed off the event
 * loop and `close()` resolves when the interface (and its peer route) is gone.
 *
 * Client → host packets go through `write()`: one non-blocking write, `false` (and a count) when
 * the kernel queue is full, never a wait.
 *
 * Offload (on by default where the kernel has it; SSTPD_TUN_OFFLOAD=0 turns it off): the device is
 * opened with a virtio-net header and TSO/USO, so the kernel hands over 64 KB super-packets, which
 * the addon cuts to the session MTU (`setMtu`) before the batch is delivered: one read per 64 KB
 * instead of one per packet. On the way in, `write()` copies the packet into a queue written at
 * the end of the event-loop turn (or when full) by one native call, which joins consecutive TCP
 * segments of a flow into one GRO super-packet: one write per run instead of one per packet.
 */
import { loadNative, type NativeErrnoError, type NativePoller, type NativeTun } from '../../native/index.js';
import { SstpdError } from '../common/errors.js';

/** Writable bytes before every packet of a batch. */
export const TUN_HEADROOM = 8;
/** Packets per batch from the native poller (with offload, the segments of its last read may exceed it). */
export const TUN_BATCH = 64;

/** Offload unless SSTPD_TUN_OFFLOAD=0 (tests of the fallback, or a kernel that misbehaves). */
export function offloadWanted(): boolean {
  return process.env['SSTPD_TUN_OFFLOAD'] !== '0';
}

/**
 * Packets read in one wake-up. Packet i is `slab[offsets[i] .. offsets[i] + lengths[i])`, and
 * `slab[offsets[i] - TUN_HEADROOM .. offsets[i])` is free for headers. Valid only during the call.
 */
export interface PacketBatch {
  readonly count: number;
  readonly slab: Buffer;
  readonly offsets: Uint32Array;
  readonly lengths: Uint32Array;
}

export type BatchHandler = (batch: PacketBatch) => void;

/** Packet i of a batch as a view (allocates a Buffer header; the fast path uses offsets directly). */
export function batchPacket(batch: PacketBatch, i: number): Buffer {
  const off = batch.offsets[i] ?? 0;
  return batch.slab.subarray(off, off + (batch.lengths[i] ?? 0));
}

/** Packet i with its headroom in front: `view[0..8)` is the headroom, `view[8..)` the packet. */
export function batchFrame(batch: PacketBatch, i: number): Buffer {
  const off = batch.offsets[i] ?? 0;
  return batch.slab.subarray(off - TUN_HEADROOM, off + (batch.lengths[i] ?? 0));
}

/** Counters, from the device's point of view: read = host → client, written = client → host. */
export interface TunStats {
  readPackets: number;
  readBytes: number;
  readBatches: number;
  writtenPackets: number;
  writtenBytes: number;
  /** Writes refused because the kernel queue was full (packet dropped). */
  writeDropped: number;
  /** Packets the kernel refused (EINVAL: not an IP packet it takes), dropped. */
  writeRefused: number;
  /** Packets longer than the native read size (4096) or, with offload, the MTU: dropped. */
  readTruncated: number;
  /** Offload: super-packets read and cut (their segments count in readPackets). */
  readSuperPackets: number;
  /** Offload: packets with a virtio header that made no sense, dropped. */
  readRefused: number;
  /** write()/writev() calls that reached the kernel (fewer than packets when segments coalesce). */
  writeCalls: number;
}

export interface TunDevice {
  readonly name: string;
  readonly closed: boolean;
  readonly stats: Readonly<TunStats>;
  /** The device carries virtio headers (segmentation and GRO in the addon). */
  readonly offload: boolean;
  /**
   * Sends one IP packet to the host; false when dropped (queue full or device closed). With
   * offload it is queued (a copy) until the end of the event-loop turn, and a full kernel queue
   * shows in `stats.writeDropped` only.
   */
  write(packet: Buffer): boolean;
  /** The session MTU: no packet delivered to the handler is longer (offload cuts to fit). */
  setMtu(mtu: number): void;
  /** Stop delivering batches (socket back-pressure); the kernel queues, then drops. */
  pause(): void;
  resume(): void;
  /**
   * Stops reading at once and deletes the interface with its address and routes. Resolves when the
   * kernel is done (closing a TUN takes it ~20 ms, spent off the event loop); never rejects.
   * Idempotent: every call returns the same promise.
   */
  close(): Promise<void>;
  /**
   * Interface cache (absent: this device cannot be cached). Called once the interface is down:
   * stops reading and discards what the kernel still queues for it. The fd stays open.
   */
  park?(): void;
  /** Interface cache: a parked device starts over for another session (counters from zero, its handler). */
  reuse?(onPackets: BatchHandler, onError?: (err: TunError) => void): void;
}

/** TUN failures; `errno` carries the system error name, e.g. 'EPERM', when there was one. */
export class TunError extends SstpdError {
  readonly errno: string | undefined;
  constructor(code: 'E_TUN_OPEN' | 'E_TUN_CONFIGURE' | 'E_TUN_IO', message: string, cause?: unknown) {
    super(code, message, { cause });
    this.errno = errnoOf(cause);
  }
}

function errnoOf(e: unknown): string | undefined {
  const code = (e as NativeErrnoError | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export interface OpenTunOptions {
  /** Interface name; `%d` lets the kernel pick the first free number. Default `sstp%d`. */
  readonly nameTemplate?: string;
  /** A read error stopped the device. Without a handler the error is thrown (uncaught). */
  readonly onError?: (err: TunError) => void;
  /** Ask for offload (default: `offloadWanted()`); the device says in `offload` whether it got it. */
  readonly offload?: boolean;
}

function newStats(): TunStats {
  return {
    readPackets: 0,
    readBytes: 0,
    readBatches: 0,
    writtenPackets: 0,
    writtenBytes: 0,
    writeDropped: 0,
    writeRefused: 0,
    readTruncated: 0,
    readSuperPackets: 0,
    readRefused: 0,
    writeCalls: 0,
  };
}

/**
 * Packets written with offload wait here until the end of the event-loop turn, so runs of TCP
 * segments from several TLS records can be joined. One queue for all devices of the thread: a
 * write to another device first sends what the previous one queued (order per device is kept).
 */
class WriteQueue {
  private readonly buf = Buffer.allocUnsafe(TUN_BATCH * 4096);
  private readonly offsets = new Uint32Array(TUN_BATCH);
  private readonly lengths = new Uint32Array(TUN_BATCH);
  private readonly result = new Uint32Array(4);
  private count = 0;
  private used = 0;
  private owner: NativeTunDevice | undefined;
  private scheduled = false;

  /** Queues a copy of `packet` for `dev`; false if it can never fit (longer than the buffer). */
  push(dev: NativeTunDevice, packet: Buffer): boolean {
    if (packet.length === 0 || packet.length > this.buf.length) return false;
    if (this.owner !== dev || this.count === TUN_BATCH || this.used + packet.length > this.buf.length) this.flush();
    this.owner = dev;
    this.offsets[this.count] = this.used;
    this.lengths[this.count] = packet.length;
    packet.copy(this.buf, this.used);
    this.used += packet.length;
    this.count++;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flush();
      });
    }
    return true;
  }

  /** Writes what `dev` has queued now (before its fd closes). */
  flushFor(dev: NativeTunDevice): void {
    if (this.owner === dev) this.flush();
  }

  flush(): void {
    const dev = this.owner;
    const n = this.count;
    this.owner = undefined;
    this.count = 0;
    this.used = 0;
    if (!dev || n === 0) return;
    dev.sent(this.buf, this.offsets, this.lengths, n, this.result);
  }
}

let writeQueue: WriteQueue | undefined;

/** Mutable batch shared by one device's deliveries; handlers see it as a read-only PacketBatch. */
interface MutableBatch {
  count: number;
  slab: Buffer;
  offsets: Uint32Array;
  lengths: Uint32Array;
}

class NativeTunDevice implements TunDevice {
  private counters: TunStats = newStats();
  /** The poller's own counters when the device was last reused (they count since it opened). */
  private nativeBase = { truncated: 0, superPackets: 0, refused: 0 };
  private readonly batch: MutableBatch = {
    count: 0,
    slab: Buffer.alloc(0),
    offsets: new Uint32Array(0),
    lengths: new Uint32Array(0),
  };
  private readonly poller: NativePoller;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly native: NativeTun,
    readonly name: string,
    private readonly fd: number,
    readonly offload: boolean,
    private onPackets: BatchHandler,
    private onError: ((err: TunError) => void) | undefined,
  ) {
    this.poller = new native.TunPoller(
      fd,
      (slab, offsets, lengths, count) => this.deliver(slab, offsets, lengths, count),
      (err) => {
        const e = new TunError('E_TUN_IO', `${name}: ${err.message}`, err);
        if (this.onError) this.onError(e);
        else throw e;
      },
      offload,
    );
  }

  park(): void {
    writeQueue?.flushFor(this);
    this.poller.pause();
    this.poller.drain();
  }

  reuse(onPackets: BatchHandler, onError?: (err: TunError) => void): void {
    this.onPackets = onPackets;
    this.onError = onError;
    this.counters = newStats();
    this.nativeBase = { truncated: this.poller.truncated, superPackets: this.poller.superPackets, refused: this.poller.refused };
    this.poller.resume();
  }

  setMtu(mtu: number): void {
    this.poller.setMtu(mtu);
  }

  get closed(): boolean {
    return this.poller.closed;
  }

  get stats(): Readonly<TunStats> {
    this.counters.readTruncated = this.poller.truncated - this.nativeBase.truncated;
    this.counters.readSuperPackets = this.poller.superPackets - this.nativeBase.superPackets;
    this.counters.readRefused = this.poller.refused - this.nativeBase.refused;
    return this.counters;
  }

  private deliver(slab: Buffer, offsets: Uint32Array, lengths: Uint32Array, count: number): void {
    const b = this.batch;
    b.slab = slab;
    b.offsets = offsets;
    b.lengths = lengths;
    b.count = count;
    let bytes = 0;
    for (let i = 0; i < count; i++) bytes += lengths[i] ?? 0;
    this.counters.readBatches++;
    this.counters.readPackets += count;
    this.counters.readBytes += bytes;
    this.onPackets(b);
  }

  write(packet: Buffer): boolean {
    if (this.poller.closed) return false;
    if (this.offload) {
      if ((writeQueue ??= new WriteQueue()).push(this, packet)) return true;
      this.counters.writeDropped++;
      return false;
    }
    let n: number;
    try {
      n = this.native.write(this.fd, packet, 0, packet.length);
    } catch (e) {
      throw new TunError('E_TUN_IO', `${this.name}: ${messageOf(e)}`, e);
    }
    if (n === -2) {
      this.counters.writeRefused++;
      return false;
    }
    if (n < 0) {
      this.counters.writeDropped++;
      return false;
    }
    this.counters.writtenPackets++;
    this.counters.writtenBytes += n;
    this.counters.writeCalls++;
    return true;
  }

  /** The write queue's flush for this device: one native call for the queued packets. */
  sent(buf: Buffer, offsets: Uint32Array, lengths: Uint32Array, count: number, result: Uint32Array): void {
    if (this.poller.closed) {
      this.counters.writeDropped += count;
      return;
    }
    try {
      this.native.writeBatch(this.fd, buf, offsets, lengths, count, true, result);
    } catch (e) {
      // Not EAGAIN (that is a drop): the device is broken; the session notices on its next read.
      this.counters.writeDropped += count;
      return;
    }
    this.counters.writtenPackets += result[0] ?? 0;
    this.counters.writeDropped += result[1] ?? 0;
    this.counters.writeCalls += result[2] ?? 0;
    this.counters.writtenBytes += result[3] ?? 0;
  }

  pause(): void {
    this.poller.pause();
  }
  resume(): void {
    this.poller.resume();
  }
  close(): Promise<void> {
    // Queued packets go before the fd does (afterwards the number may belong to another file).
    if (!this.closing) writeQueue?.flushFor(this);
    this.closing ??= new Promise<void>((resolve) => this.poller.close(resolve));
    return this.closing;
  }
}

/** Opens a new TUN interface (down, unaddressed) and starts delivering its packets to `onPackets`. */
export function openTun(onPackets: BatchHandler, options: OpenTunOptions = {}): TunDevice {
  const native = loadNative();
  if (native.HEADROOM !== TUN_HEADROOM || native.BATCH !== TUN_BATCH) {
    throw new SstpdError('E_TUN_ADDON', 'native addon layout does not match src/dataplane/tun.ts; rebuild it');
  }
  const template = options.nameTemplate ?? 'sstp%d';
  let opened: { fd: number; name: string; offload: boolean };
  try {
    opened = native.open(template, options.offload ?? offloadWanted());
  } catch (e) {
    throw new TunError('E_TUN_OPEN', `cannot create TUN ${template}: ${messageOf(e)}`, e);
  }
  try {
    return new NativeTunDevice(native, opened.name, opened.fd, opened.offload, onPackets, options.onError);
  } catch (e) {
    // The poller closes the fd itself when it fails to start.
    throw new TunError('E_TUN_OPEN', `cannot poll TUN ${opened.name}: ${messageOf(e)}`, e);
  }
}
