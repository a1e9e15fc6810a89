/**
 * The TUN edge of the data path: one non-persistent `sstpN` device per session.
 *
 * Host → client packets arrive in batches (one call per event-loop wake-up, up to 64 packets), as
 * views into a slab that is reused for the next batch: a handler must consume or copy them before
 * it returns. Each packet has `TUN_HEADROOM` (8) writable bytes in front of it, so the SSTP header
 * (4) and PPP `FF 03` + protocol (4) can be written in place, making one contiguous frame. Note that
 * `socket.write()` keeps a reference while an earlier write is still in flight, so a frame handed to a
 * socket must be copied (one copy per packet, instead of header assembly plus a copy).
 *
 * Closing deletes the interface; the kernel needs ~20 ms for that, so the fd is closed off the event
 * loop and `close()` resolves when the interface (and its peer route) is gone.
 *
 * Client → host packets go through `write()`: one non-blocking write, `false` (and a count) when
 * the kernel queue is full, never a wait.
 */
import { loadNative, type NativeErrnoError, type NativePoller, type NativeTun } from '../../native/index.js';
import { SstpdError } from '../common/errors.js';

/** Writable bytes before every packet of a batch. */
export const TUN_HEADROOM = 8;
/** Most packets in one batch from the native poller. */
export const TUN_BATCH = 64;

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
  /** Packets longer than the native read size (4096), dropped; only if someone raised the MTU. */
  readTruncated: number;
}

export interface TunDevice {
  readonly name: string;
  readonly closed: boolean;
  readonly stats: Readonly<TunStats>;
  /** Sends one IP packet to the host; false when dropped (queue full or device closed). */
  write(packet: Buffer): boolean;
  /** Stop delivering batches (socket back-pressure); the kernel queues, then drops. */
  pause(): void;
  resume(): void;
  /**
   * Stops reading at once and deletes the interface with its address and routes. Resolves when the
   * kernel is done (closing a TUN takes it ~20 ms, spent off the event loop); never rejects.
   * Idempotent: every call returns the same promise.
   */
  close(): Promise<void>;
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
}

function newStats(): TunStats {
  return {
    readPackets: 0,
    readBytes: 0,
    readBatches: 0,
    writtenPackets: 0,
    writtenBytes: 0,
    writeDropped: 0,
    readTruncated: 0,
  };
}

/** Mutable batch shared by one device's deliveries; handlers see it as a read-only PacketBatch. */
interface MutableBatch {
  count: number;
  slab: Buffer;
  offsets: Uint32Array;
  lengths: Uint32Array;
}

class NativeTunDevice implements TunDevice {
  private readonly counters: TunStats = newStats();
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
    private readonly onPackets: BatchHandler,
    onError: ((err: TunError) => void) | undefined,
  ) {
    this.poller = new native.TunPoller(
      fd,
      (slab, offsets, lengths, count) => this.deliver(slab, offsets, lengths, count),
      (err) => {
        const e = new TunError('E_TUN_IO', `${name}: ${err.message}`, err);
        if (onError) onError(e);
        else throw e;
      },
    );
  }

  get closed(): boolean {
    return this.poller.closed;
  }

  get stats(): Readonly<TunStats> {
    this.counters.readTruncated = this.poller.truncated;
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
    let n: number;
    try {
      n = this.native.write(this.fd, packet, 0, packet.length);
    } catch (e) {
      throw new TunError('E_TUN_IO', `${this.name}: ${messageOf(e)}`, e);
    }
    if (n < 0) {
      this.counters.writeDropped++;
      return false;
    }
    this.counters.writtenPackets++;
    this.counters.writtenBytes += n;
    return true;
  }

  pause(): void {
    this.poller.pause();
  }
  resume(): void {
    this.poller.resume();
  }
  close(): Promise<void> {
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
  let opened: { fd: number; name: string };
  try {
    opened = native.open(template);
  } catch (e) {
    throw new TunError('E_TUN_OPEN', `cannot create TUN ${template}: ${messageOf(e)}`, e);
  }
  try {
    return new NativeTunDevice(native, opened.name, opened.fd, onPackets, options.onError);
  } catch (e) {
    // The poller closes the fd itself when it fails to start.
    throw new TunError('E_TUN_OPEN', `cannot poll TUN ${opened.name}: ${messageOf(e)}`, e);
  }
}
