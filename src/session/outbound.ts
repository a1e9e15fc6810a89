/**
 * The way out of a tunnel, TUN → TLS stream, for both roles (the server's sessions and our client):
 * TUN batches are framed and written while the stream takes them; while it pushes back, packets
 * wait in a per-session FQ-CoDel queue (fq-codel.ts) and go out in its order once the stream
 * drains, so a ping is not stuck behind a bulk flow's backlog (issue 14).
 *
 * The TUN is read on regardless of the stream: its own ring is first in, first out and drops at its
 * end, so the backlog is better held here. With `SSTPD_FQ=0` the old way is back (the stream's
 * back-pressure pauses the TUN reader and the backlog waits in the kernel), for measurements.
 *
 * The server's queues draw from one budget per process (queue-budget.ts), so thousands of
 * backlogged sessions cannot make it hold GBs; our client, one session per process, has its own
 * per-session limit only.
 *
 * Framing is the data path's (data-path.ts, through the role's `frame`): the gate decides, both
 * for a batch straight from the TUN and for packets leaving the queue.
 */
import type { Millis } from '../common/time.js';
import type { FramedCount, SlabPackets } from './data-path.js';
import { DATA_HEADROOM } from './data-path.js';
import { MPPE_OVERHEAD } from '../ppp/mppe-cipher.js';
import { FQ_CODEL_DEFAULTS, FqCodel, type FqCodelOptions, type QueuedPacket } from './fq-codel.js';
import { processQueueBudget, type QueueBudget } from './queue-budget.js';

/** The role's stream writer. */
export interface OutboundSink {
  /** Framed SSTP packets, in order. */
  write(packets: Buffer[]): void;
  /** The stream takes more now (no back-pressure). */
  readonly ready: boolean;
  /** No write handed over still refers to an earlier batch's buffer (it may be filled again). */
  readonly idle: boolean;
}

/** The role's framing of packets for the peer (CallPump.frameBatchOut). */
export type BatchFramer = (batch: SlabPackets, out: Buffer[], reuse?: Buffer) => FramedCount;

export interface OutboundHooks {
  readonly frame: BatchFramer;
  readonly sink: OutboundSink;
  readonly now: () => Millis;
  /** Packets and IP bytes framed for the peer. */
  readonly sent: (packets: number, bytes: number) => void;
  /** Without the queue: stop (true) or resume (false) the TUN reader. */
  readonly pauseReader: (paused: boolean) => void;
}

/** FQ-CoDel unless SSTPD_FQ=0. */
export function fqWanted(): boolean {
  return process.env['SSTPD_FQ'] !== '0';
}

/** The queue's options (null: no queue, SSTPD_FQ=0), drawing from `budget` when one is given. */
export function queueOptions(budget: QueueBudget | undefined): FqCodelOptions | null {
  if (!fqWanted()) return null;
  return budget === undefined ? FQ_CODEL_DEFAULTS : { ...FQ_CODEL_DEFAULTS, budget };
}

/** Packets and IP bytes taken from the queue per framing round: one socket write of ~64 KiB. */
const ROUND_PACKETS = 128;
const ROUND_BYTES = 64 * 1024;

/** The queue's counters, named as `sstpctl show sessions --json` shows them in `dataPath`. */
export interface QueueCounters {
  /** Host → client packets FQ-CoDel dropped (a standing queue above target for an interval). */
  readonly aqmDropped: number;
  /** … or marked CE instead (ECN-capable). */
  readonly aqmMarked: number;
  /** Host → client packets dropped at the session's queue limit or the process's budget (from the fattest flow). */
  readonly queueDropped: number;
  /** IP bytes waiting in the queue for the TLS stream. */
  readonly queuedBytes: number;
  /** Memory the queue holds (the buffers its packets live in); what the process's budget is charged. */
  readonly queueHeldBytes: number;
}

export class OutboundPath {
  private fq: FqCodel | undefined;
  private lastBody: Buffer | undefined;
  private readonly taken: QueuedPacket[] = [];
  private readonly round = { count: 0, slab: Buffer.alloc(0), slabs: [] as Buffer[], offsets: new Uint32Array(ROUND_PACKETS), lengths: new Uint32Array(ROUND_PACKETS) };
  private readerPaused = false;
  /** After close(): nothing is queued any more (a batch the TUN still had is dropped). */
  private closed = false;

  constructor(
    private readonly hooks: OutboundHooks,
    /** null: no queue (SSTPD_FQ=0), back-pressure pauses the TUN reader. Default: the server's. */
    private readonly fqOptions: FqCodelOptions | null = queueOptions(processQueueBudget()),
    private readonly seed = (Math.random() * 0x100000000) >>> 0,
  ) {}

  get stats(): QueueCounters {
    const q = this.fq;
    return { aqmDropped: q?.stats.codelDropped ?? 0, aqmMarked: q?.stats.ecnMarked ?? 0, queueDropped: q?.stats.overlimitDropped ?? 0, queuedBytes: q?.bytes ?? 0, queueHeldBytes: q?.heldBytes ?? 0 };
  }

  /** A TUN batch (its packets are views, valid during the call only). */
  fromTun(batch: SlabPackets): void {
    if (this.closed) return;
    const fq = this.fq;
    if ((fq === undefined || fq.packets === 0) && this.hooks.sink.ready) return this.send(batch);
    if (this.fqOptions === null) {
      // No queue: the reader should be paused by now; what still came is written, never lost.
      return this.send(batch);
    }
    this.enqueue(batch, this.fqOptions);
    this.drain();
  }

  /** The stream takes more again (its 'drain'). */
  drained(): void {
    if (this.fqOptions !== null) return this.drain();
    if (this.readerPaused && this.hooks.sink.ready) {
      this.readerPaused = false;
      this.hooks.pauseReader(false);
    }
  }

  /** Drops everything queued (the link is going down); the bytes go back to the budget. */
  clear(): void {
    this.fq?.clear();
  }

  /**
   * The session is gone: what is queued goes back to the budget, and nothing is queued after (the
   * TUN may still hand over a batch while it closes; queued now, it would never leave the budget).
   */
  close(): void {
    this.closed = true;
    this.clear();
  }

  /**
   * Frames and writes. The last batch's buffer is filled again once the stream is done with it;
   * otherwise `freshBytes` (a queue round's size) gets a buffer of that size, and without it the
   * framing makes a new batch buffer.
   */
  private send(batch: SlabPackets, freshBytes?: number): void {
    const packets: Buffer[] = [];
    const reuse = this.hooks.sink.idle ? this.lastBody : freshBytes !== undefined ? Buffer.allocUnsafe(freshBytes) : undefined;
    const went = this.hooks.frame(batch, packets, reuse);
    if (went.body !== undefined) this.lastBody = went.body;
    if (went.packets > 0) this.hooks.sent(went.packets, went.bytes);
    if (packets.length > 0) this.hooks.sink.write(packets);
    if (this.fqOptions === null && !this.readerPaused && !this.hooks.sink.ready) {
      this.readerPaused = true;
      this.hooks.pauseReader(true);
    }
  }

  /** Copies the batch's packets out of the TUN's slab (reused after this call) into the queue. */
  private enqueue(batch: SlabPackets, options: FqCodelOptions): void {
    const fq = (this.fq ??= new FqCodel(options, this.seed));
    const { count, offsets, lengths } = batch;
    let total = 0;
    for (let i = 0; i < count; i++) total += DATA_HEADROOM + lengths[i]!;
    const chunk = Buffer.allocUnsafe(total);
    const now = this.hooks.now();
    let pos = 0;
    for (let i = 0; i < count; i++) {
      const slab = batch.slabs !== undefined ? batch.slabs[i]! : batch.slab;
      const at = offsets[i]!;
      const len = lengths[i]!;
      slab.copy(chunk, pos + DATA_HEADROOM, at, at + len);
      fq.enqueue(now, chunk, pos + DATA_HEADROOM, len);
      pos += DATA_HEADROOM + len;
    }
  }

  /** While the stream takes more: a round of packets in FQ-CoDel's order, framed, written. */
  private drain(): void {
    const fq = this.fq;
    if (!fq) return;
    const round = this.round;
    while (fq.packets > 0 && this.hooks.sink.ready) {
      const taken = this.taken;
      taken.length = 0;
      const n = fq.dequeue(this.hooks.now(), ROUND_BYTES, ROUND_PACKETS, taken);
      if (n === 0) return;
      round.slabs.length = n;
      let bytes = 0;
      for (let i = 0; i < n; i++) {
        const p = taken[i]!;
        round.slabs[i] = p.buf;
        round.offsets[i] = p.at;
        round.lengths[i] = p.len;
        bytes += p.len;
      }
      round.count = n;
      // A round is ~64 KiB: framed into a buffer of its size, not a fresh 256 KiB batch buffer
      // (the socket still holds the last one while it pushes back).
      this.send(round, bytes + n * (DATA_HEADROOM + MPPE_OVERHEAD));
    }
    this.taken.length = 0;
    this.round.slabs.length = 0;
  }
}
