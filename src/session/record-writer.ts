/**
 * Writes SSTP packets to the TLS socket so that a burst never ends in a TLS record that holds more
 * than one packet. Why: sstpc 1.0.18 reads one SSTP packet per readable event; packets left in its
 * OpenSSL buffer wait until more bytes reach the socket. Node coalesces writes made while one is in
 * flight into one SSL_write (one record), so three control packets written in one tick arrived as
 * [p1] [p2 p3] and p3 (a CCP Ack) sat in sstpc for 3 s, until our retransmission pushed it out.
 *
 * So each flush writes all queued packets but the last as one batch (corked: one writev), and the
 * last one alone once that batch is done; nothing else is written meanwhile, so it is a record of its
 * own. Every record before it is followed by unread bytes, which keeps sstpc's reads going. Order is
 * kept (MPPE-encrypted packets must arrive in sequence). Sans-I/O apart from the injected sink.
 */

/** The part of a net/tls socket this needs. */
export interface PacketSink {
  readonly destroyed: boolean;
  cork(): void;
  uncork(): void;
  /** Returns false when the socket's buffer is above its high-water mark. */
  write(chunk: Buffer, cb?: (err?: Error | null) => void): boolean;
  /** Half-close after everything written so far. */
  end(): void;
}

/**
 * Bytes queued while the tail write is in flight; beyond this the owner must stop reading (TUN).
 * Counted in bytes, not packets: every queued byte delays the packets behind it (a ping under a bulk
 * flow, issue 14), and 64 KiB is ~0.5 ms at 1 Gbit/s yet more than one TUN batch, so the reader
 * is not stopped by every batch. (It was 4,096 packets: up to ~6 MB, tens of ms.)
 */
export const RECORD_QUEUE_BYTES = 64 * 1024;

export class RecordWriter {
  private readonly queue: Buffer[] = [];
  private queueBytes = 0;
  private tailInFlight = false;
  /** The owner was told to stop producing (queue long, or the socket above its high-water mark). */
  private paused = false;
  private sinkFull = false;
  private ending = false;

  constructor(private readonly sink: PacketSink, private readonly onBackpressure: (paused: boolean) => void) {}

  /** Packets waiting for the in-flight tail write. */
  get queued(): number {
    return this.queue.length;
  }

  /** Their bytes. */
  get queuedBytes(): number {
    return this.queueBytes;
  }

  /** The owner was told to stop producing and not yet to go on. */
  get pushingBack(): boolean {
    return this.paused;
  }

  /** Queue packets (in order) and write what can be written now. */
  write(packets: readonly Buffer[]): void {
    if (this.sink.destroyed || this.ending) return;
    for (const p of packets) {
      this.queue.push(p);
      this.queueBytes += p.length;
    }
    this.flush();
    this.checkPressure();
  }

  /** End the socket once every queued packet is written; later writes are dropped. */
  end(): void {
    if (this.ending) return;
    this.ending = true;
    this.maybeEnd();
  }

  private maybeEnd(): void {
    if (this.ending && !this.tailInFlight && this.queue.length === 0 && !this.sink.destroyed) this.sink.end();
  }

  /** The socket emitted 'drain'. */
  drained(): void {
    this.sinkFull = false;
    this.checkPressure();
  }

  private flush(): void {
    if (this.tailInFlight || this.queue.length === 0 || this.sink.destroyed) return;
    const tail = this.queue.pop()!;
    const head = this.queue.splice(0, this.queue.length);
    this.queueBytes = 0;
    let ok = true;
    if (head.length > 0) {
      this.sink.cork();
      for (const p of head) ok = this.sink.write(p) && ok;
      this.sink.uncork();
    }
    this.tailInFlight = true;
    ok = this.sink.write(tail, () => this.tailDone()) && ok;
    if (!ok) this.sinkFull = true;
  }

  private tailDone(): void {
    this.tailInFlight = false;
    this.flush();
    this.checkPressure();
    this.maybeEnd();
  }

  private checkPressure(): void {
    const over = this.sinkFull || this.queueBytes >= RECORD_QUEUE_BYTES;
    if (over !== this.paused) {
      this.paused = over;
      this.onBackpressure(over);
    }
  }
}
