import { TUN_BATCH, TUN_HEADROOM, TunError, type BatchHandler, type TunDevice, type TunStats } from '../../src/dataplane/tun.js';

/**
 * In-memory TunDevice (src/dataplane/tun.ts) for unit and component tests. `inject()` delivers
 * packets as one batch laid out like the native slab (8-byte headroom, 8-aligned); after the handler
 * returns the slab is overwritten with 0xEE, so a consumer that keeps views instead of copying fails
 * its test. While paused, injected packets queue (up to `queueLimit`, then drop) and are delivered on
 * `resume()`.
 */
export class FakeTun implements TunDevice {
  stats: TunStats = {
    readPackets: 0, readBytes: 0, readBatches: 0, writtenPackets: 0, writtenBytes: 0, writeDropped: 0, writeRefused: 0,
    readTruncated: 0, readSuperPackets: 0, readRefused: 0, writeCalls: 0,
  };
  /** Copies of every packet written, in order. */
  readonly written: Buffer[] = [];
  /** Set to make write() behave as if the kernel queue were full. */
  dropWrites = false;
  paused = false;
  closed = false;
  /** Packets that arrived while paused and the ones dropped because the queue was full. */
  readonly queued: Buffer[] = [];
  queueDropped = 0;
  readonly name: string;
  readonly offload = false;
  /** The last MTU set. */
  mtu: number | undefined;
  /** Kernel-like queue bound while paused (a TUN's default txqueuelen is 500). */
  readonly queueLimit: number;
  private onError: ((err: TunError) => void) | undefined;
  private readonly closedPromise = Promise.resolve();

  constructor(
    private onPackets: BatchHandler,
    options: { name?: string; queueLimit?: number; onError?: (err: TunError) => void } = {},
  ) {
    this.name = options.name ?? 'sstp0';
    this.queueLimit = options.queueLimit ?? 500;
    this.onError = options.onError;
  }

  write(packet: Buffer): boolean {
    if (this.closed || this.dropWrites) {
      this.stats.writeDropped++;
      return false;
    }
    this.written.push(Buffer.from(packet));
    this.stats.writtenPackets++;
    this.stats.writtenBytes += packet.length;
    this.stats.writeCalls++;
    return true;
  }

  setMtu(mtu: number): void {
    this.mtu = mtu;
  }

  /** Host → client: delivers now (in batches of TUN_BATCH) or queues while paused. */
  inject(packets: readonly Buffer[]): void {
    if (this.closed) return;
    for (const p of packets) {
      if (this.queued.length >= this.queueLimit) this.queueDropped++;
      else this.queued.push(Buffer.from(p));
    }
    this.flush();
  }

  /** Reports a read error, as the native poller would, and stops delivering. */
  fail(err: TunError = new TunError('E_TUN_IO', `${this.name}: read failed`)): void {
    this.paused = true;
    if (this.onError) this.onError(err);
    else throw err;
  }

  pause(): void {
    this.paused = true;
  }
  resume(): void {
    if (this.closed) return;
    this.paused = false;
    this.flush();
  }
  /** Interface cache: reading stops and what was queued is discarded. */
  park(): void {
    this.paused = true;
    this.parked++;
    this.queued.length = 0;
  }
  /** Interface cache: another session's handler, counters from zero, reading again. */
  reuse(onPackets: BatchHandler, onError?: (err: TunError) => void): void {
    this.onPackets = onPackets;
    this.onError = onError;
    this.stats = { ...this.stats, readPackets: 0, readBytes: 0, readBatches: 0, writtenPackets: 0, writtenBytes: 0, writeDropped: 0, writeRefused: 0, writeCalls: 0 };
    this.resume();
  }
  /** How often the device was parked. */
  parked = 0;

  close(): Promise<void> {
    this.closed = true;
    this.queued.length = 0;
    this.onError = undefined;
    return this.closedPromise;
  }

  private flush(): void {
    while (!this.paused && !this.closed && this.queued.length > 0) {
      this.deliver(this.queued.splice(0, TUN_BATCH));
    }
  }

  private deliver(packets: readonly Buffer[]): void {
    let size = 0;
    for (const p of packets) size += align8(TUN_HEADROOM + p.length);
    const slab = Buffer.alloc(size);
    const offsets = new Uint32Array(packets.length);
    const lengths = new Uint32Array(packets.length);
    let pos = 0;
    packets.forEach((p, i) => {
      offsets[i] = pos + TUN_HEADROOM;
      lengths[i] = p.length;
      p.copy(slab, pos + TUN_HEADROOM);
      pos = align8(pos + TUN_HEADROOM + p.length);
    });
    this.stats.readBatches++;
    this.stats.readPackets += packets.length;
    for (const p of packets) this.stats.readBytes += p.length;
    try {
      this.onPackets({ count: packets.length, slab, offsets, lengths });
    } finally {
      slab.fill(0xee);
    }
  }
}

function align8(n: number): number {
  return (n + 7) & ~7;
}
