/**
 * FQ-CoDel for the packets of one tunnel waiting for its TLS stream (issue 14: ping RTT under a
 * bulk flow). Sans-I/O: packets and `now` in, packets in schedule order out.
 *
 * Why in user space: every packet of a session shares one TCP stream, so whatever waits in front
 * of the stream waits first in, first out. The kernel cannot help: a TUN drops at a full ring and
 * never stops its queue, so a qdisc on `sstpN` never holds anything to schedule (and this kernel
 * has no fq_codel). So the reader keeps the TUN's ring empty and the backlog waits here instead,
 * where a new or sparse flow (a ping, a DNS query, a TCP ACK stream) is served before the bulk flow's
 * standing queue, and CoDel keeps that standing queue near `targetMs`.
 *
 * The algorithm is Linux's fq_codel (RFC 8290) with the CoDel control law of RFC 8289: flows hashed
 * into buckets, deficit round robin with a quantum, new flows first, a flow emptied while new
 * passes through the old list once (so a flow cannot stay "new" by sending one packet per round),
 * CoDel per flow with ECN marking of ECT packets instead of a drop, and at the byte limit packets
 * dropped from the head of the fattest flow. Its `memory_limit` is the process-wide budget
 * (queue-budget.ts): over it, the enqueuing queue drops from its fattest flow the same way.
 */
import type { Millis } from '../common/time.js';
import type { QueueBudget } from './queue-budget.js';

export interface FqCodelOptions {
  /** CoDel's acceptable standing queue delay (RFC 8289: 5 ms). */
  readonly targetMs: number;
  /** CoDel's sliding window, about a worst-case RTT (100 ms). */
  readonly intervalMs: number;
  /** Bytes a flow may send per round (one MTU-sized packet). */
  readonly quantum: number;
  /** Hash buckets (flows that share one are scheduled as one). */
  readonly buckets: number;
  /** Queued IP bytes beyond which the fattest flow loses packets: what one session may make us hold. */
  readonly limitBytes: number;
  /** Mark ECN-capable packets CE instead of dropping them. */
  readonly ecn: boolean;
  /**
   * The budget this queue draws from with the others of the process (absent: `limitBytes` alone
   * bounds it). Every byte queued is charged to it, and credited when it leaves or is dropped.
   */
  readonly budget?: QueueBudget;
}

/** Linux fq_codel's defaults, with a per-session byte limit instead of its 32 MB per device. */
export const FQ_CODEL_DEFAULTS: FqCodelOptions = {
  targetMs: 5,
  intervalMs: 100,
  quantum: 1514,
  buckets: 1024,
  limitBytes: 4 * 1024 * 1024,
  ecn: true,
};

/** A queued IP packet: `buf[at .. at + len)`, with 8 writable bytes before it for the headers. */
export interface QueuedPacket {
  readonly buf: Buffer;
  readonly at: number;
  readonly len: number;
  /** Enqueue time. */
  readonly t: Millis;
}

export interface FqCodelStats {
  /** Packets CoDel dropped (standing queue above target for an interval). */
  codelDropped: number;
  /** ECN-capable packets CoDel marked CE instead. */
  ecnMarked: number;
  /** Packets dropped at the byte limit or over the process's budget (from the fattest flow). */
  overlimitDropped: number;
}

const NONE = 0;
const NEW = 1;
const OLD = 2;

class Flow {
  readonly q: QueuedPacket[] = [];
  head = 0;
  bytes = 0;
  deficit = 0;
  next: Flow | undefined = undefined;
  list = NONE;
  // CoDel state (RFC 8289 names).
  count = 0;
  lastCount = 0;
  dropping = false;
  firstAboveTime = 0;
  dropNext = 0;

  get length(): number {
    return this.q.length - this.head;
  }

  push(p: QueuedPacket): void {
    this.q.push(p);
    this.bytes += p.len;
  }

  shift(): QueuedPacket | undefined {
    if (this.head >= this.q.length) return undefined;
    const p = this.q[this.head++]!;
    this.bytes -= p.len;
    if (this.head === this.q.length) {
      this.q.length = 0;
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.q.length) {
      // Amortised compaction: the array does not grow without bound under a standing queue.
      this.q.splice(0, this.head);
      this.head = 0;
    }
    return p;
  }
}

/** A FIFO of flows linked through `next`. */
class FlowList {
  first: Flow | undefined;
  last: Flow | undefined;

  get empty(): boolean {
    return this.first === undefined;
  }

  append(f: Flow, tag: number): void {
    f.next = undefined;
    f.list = tag;
    if (this.last) this.last.next = f;
    else this.first = f;
    this.last = f;
  }

  /** Removes the first flow (the caller knows which it is). */
  popFirst(): void {
    const f = this.first!;
    this.first = f.next;
    if (this.first === undefined) this.last = undefined;
    f.next = undefined;
    f.list = NONE;
  }
}

export class FqCodel {
  /** IP bytes and packets queued. */
  bytes = 0;
  packets = 0;
  readonly stats: FqCodelStats = { codelDropped: 0, ecnMarked: 0, overlimitDropped: 0 };
  private readonly flows: (Flow | undefined)[];
  private readonly newFlows = new FlowList();
  private readonly oldFlows = new FlowList();
  /** Set by `pop`: the packet just taken has waited too long for too long (CoDel). */
  private okToDrop = false;
  /**
   * The buffers queued packets live in (a TUN batch is copied into one), each with the number of
   * packets it still holds: a buffer is memory until its last packet leaves, whatever its others
   * did, so this and not the IP bytes is what the budget is charged.
   */
  private readonly chunks = new Map<Buffer, number>();
  /** Bytes of those buffers: the memory this queue holds. */
  heldBytes = 0;

  /** `seed` perturbs the hash (per session: a peer cannot aim two flows at one bucket). */
  constructor(private readonly opts: FqCodelOptions = FQ_CODEL_DEFAULTS, private readonly seed = 0) {
    this.flows = new Array<Flow | undefined>(opts.buckets);
  }

  /** Queues the IP packet `buf[at .. at + len)` (the buffer is now ours); may drop from the fattest flow. */
  enqueue(now: Millis, buf: Buffer, at: number, len: number): void {
    const idx = flowHash(buf, at, len, this.seed) % this.opts.buckets;
    const flow = (this.flows[idx] ??= new Flow());
    flow.push({ buf, at, len, t: now });
    this.bytes += len;
    this.packets++;
    const live = this.chunks.get(buf);
    this.chunks.set(buf, (live ?? 0) + 1);
    if (live === undefined) {
      this.heldBytes += buf.length;
      this.opts.budget?.charge(buf.length);
    }
    if (flow.list === NONE) {
      this.newFlows.append(flow, NEW);
      flow.deficit = this.opts.quantum;
    }
    while (this.overLimit()) this.dropFromFattest();
  }

  /**
   * Over our own limit, or the process over its budget while we still hold something: only our own
   * packets are ours to drop (down to none, the packet just queued included).
   */
  private overLimit(): boolean {
    if (this.bytes > this.opts.limitBytes) return true;
    const budget = this.opts.budget;
    return budget !== undefined && budget.over && this.bytes > 0;
  }

  /**
   * Appends packets in schedule order to `out` until `maxBytes` IP bytes or `maxPackets` packets
   * have been taken (at least one if any is queued); the number appended.
   */
  dequeue(now: Millis, maxBytes: number, maxPackets: number, out: QueuedPacket[]): number {
    let bytes = 0;
    let n = 0;
    while (n < maxPackets && bytes < maxBytes) {
      const p = this.next(now);
      if (!p) break;
      out.push(p);
      bytes += p.len;
      n++;
    }
    return n;
  }

  /** Forgets everything queued (the session is going); its bytes go back to the budget. */
  clear(): void {
    for (let i = 0; i < this.flows.length; i++) this.flows[i] = undefined;
    this.newFlows.first = this.newFlows.last = undefined;
    this.oldFlows.first = this.oldFlows.last = undefined;
    this.opts.budget?.credit(this.heldBytes);
    this.chunks.clear();
    this.heldBytes = 0;
    this.bytes = 0;
    this.packets = 0;
  }

  /**
   * A packet taken out of its flow (sent or dropped) leaves the counts; the last one out of its
   * buffer gives the buffer back to the budget.
   */
  private forget(p: QueuedPacket): void {
    this.bytes -= p.len;
    this.packets--;
    const live = (this.chunks.get(p.buf) ?? 1) - 1;
    if (live > 0) {
      this.chunks.set(p.buf, live);
      return;
    }
    this.chunks.delete(p.buf);
    this.heldBytes -= p.buf.length;
    this.opts.budget?.credit(p.buf.length);
  }

  /** The DRR scheduler: new flows first, a flow out of deficit goes to the back of the old ones. */
  private next(now: Millis): QueuedPacket | undefined {
    for (;;) {
      const list = this.newFlows.empty ? this.oldFlows : this.newFlows;
      const flow = list.first;
      if (!flow) return undefined;
      if (flow.deficit <= 0) {
        flow.deficit += this.opts.quantum;
        list.popFirst();
        this.oldFlows.append(flow, OLD);
        continue;
      }
      const p = this.codelDequeue(flow, now);
      if (!p) {
        list.popFirst();
        // An emptied new flow passes through the old list once, so that it cannot starve them.
        if (list === this.newFlows && !this.oldFlows.empty) this.oldFlows.append(flow, OLD);
        continue;
      }
      flow.deficit -= p.len;
      return p;
    }
  }

  /** RFC 8289's dequeue for one flow (as Linux's codel_dequeue, ECN marking included). */
  private codelDequeue(f: Flow, now: Millis): QueuedPacket | undefined {
    let p = this.pop(f, now);
    if (!p) {
      f.dropping = false;
      return undefined;
    }
    const interval = this.opts.intervalMs;
    if (f.dropping) {
      if (!this.okToDrop) f.dropping = false;
      while (f.dropping && now >= f.dropNext) {
        f.count++;
        if (this.markCe(p)) {
          f.dropNext = controlLaw(f.dropNext, interval, f.count);
          return p;
        }
        this.stats.codelDropped++;
        const after = this.pop(f, now);
        if (!after) {
          f.dropping = false;
          return undefined;
        }
        p = after;
        if (!this.okToDrop) f.dropping = false;
        else f.dropNext = controlLaw(f.dropNext, interval, f.count);
      }
      return p;
    }
    if (this.okToDrop) {
      if (!this.markCe(p)) {
        this.stats.codelDropped++;
        p = this.pop(f, now);
      }
      f.dropping = true;
      // Re-entering soon after leaving: resume near the previous drop rate (RFC 8289 §5.6).
      const delta = f.count - f.lastCount;
      f.count = delta > 1 && now - f.dropNext < 16 * interval ? delta : 1;
      f.lastCount = f.count;
      f.dropNext = controlLaw(now, interval, f.count);
    }
    return p;
  }

  /** Takes the flow's head packet and decides CoDel's ok-to-drop for it (`okToDrop`). */
  private pop(f: Flow, now: Millis): QueuedPacket | undefined {
    const p = f.shift();
    this.okToDrop = false;
    if (!p) {
      f.firstAboveTime = 0;
      return undefined;
    }
    this.forget(p);
    // Below target, or less than one packet left: no standing queue.
    if (now - p.t < this.opts.targetMs || f.bytes <= this.opts.quantum) {
      f.firstAboveTime = 0;
    } else if (f.firstAboveTime === 0) {
      f.firstAboveTime = now + this.opts.intervalMs;
    } else if (now >= f.firstAboveTime) {
      this.okToDrop = true;
    }
    return p;
  }

  /** ECN: marks an ECN-capable packet CE (true), or says it is not (false: drop it). */
  private markCe(p: QueuedPacket): boolean {
    if (!this.opts.ecn) return false;
    if (!setCe(p.buf, p.at, p.len)) return false;
    this.stats.ecnMarked++;
    return true;
  }

  /**
   * At the byte limit or over the budget: the flow holding the most bytes loses packets from its
   * head, up to half its bytes or 64 packets at once (as fq_codel_drop), so the scan over the
   * buckets is paid per batch.
   */
  private dropFromFattest(): void {
    let fattest: Flow | undefined;
    for (const f of this.flows) if (f && (!fattest || f.bytes > fattest.bytes)) fattest = f;
    if (!fattest || fattest.bytes === 0) {
      // Unreachable while bytes > 0; keeps the caller's loop finite whatever happens.
      this.clear();
      return;
    }
    const threshold = fattest.bytes / 2;
    let dropped = 0;
    for (let i = 0; i < 64 && dropped < threshold; i++) {
      const p = fattest.shift();
      if (!p) break;
      dropped += p.len;
      this.forget(p);
      this.stats.overlimitDropped++;
    }
  }
}

/** The next drop time: t + interval / √count (RFC 8289). */
function controlLaw(t: Millis, interval: number, count: number): Millis {
  return t + interval / Math.sqrt(count);
}

/**
 * Sets CE on an ECT(0)/ECT(1) IPv4 or IPv6 packet (IPv4: header checksum updated as RFC 1624);
 * true if it is CE now, false for a packet that is not ECN-capable.
 */
export function setCe(b: Buffer, at: number, len: number): boolean {
  if (len < 20) return false;
  const version = b[at]! >> 4;
  if (version === 4) {
    const tos = b[at + 1]!;
    if ((tos & 3) === 0) return false;
    if ((tos & 3) === 3) return true;
    const old = (b[at]! << 8) | tos;
    const neu = old | 3;
    b[at + 1] = tos | 3;
    let sum = (~b.readUInt16BE(at + 10) & 0xffff) + (~old & 0xffff) + neu;
    sum = (sum & 0xffff) + (sum >>> 16);
    sum = (sum & 0xffff) + (sum >>> 16);
    b.writeUInt16BE(~sum & 0xffff, at + 10);
    return true;
  }
  if (version === 6 && len >= 40) {
    const ecn = (b[at + 1]! >> 4) & 3;
    if (ecn === 0) return false;
    b[at + 1] = b[at + 1]! | 0x30;
    return true;
  }
  return false;
}

/**
 * The flow of an IP packet: addresses, protocol and (TCP/UDP, not a fragment) ports, mixed with
 * `seed` (MurmurHash3's steps). Anything else hashes by what it has, so it still lands somewhere.
 */
export function flowHash(b: Buffer, at: number, len: number, seed: number): number {
  let h = seed | 0;
  const version = len > 0 ? b[at]! >> 4 : 0;
  if (version === 4 && len >= 20) {
    const ihl = (b[at]! & 15) * 4;
    const proto = b[at + 9]!;
    h = mix(h, b.readUInt32BE(at + 12));
    h = mix(h, b.readUInt32BE(at + 16));
    h = mix(h, proto);
    // Fragments (MF or an offset) hash without ports, so every fragment of a datagram stays together.
    const fragment = (b.readUInt16BE(at + 6) & 0x3fff) !== 0;
    if ((proto === 6 || proto === 17) && !fragment && len >= ihl + 4) h = mix(h, b.readUInt32BE(at + ihl));
  } else if (version === 6 && len >= 40) {
    for (let o = 8; o < 40; o += 4) h = mix(h, b.readUInt32BE(at + o));
    const next = b[at + 6]!;
    h = mix(h, next);
    if ((next === 6 || next === 17) && len >= 44) h = mix(h, b.readUInt32BE(at + 40));
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function mix(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}
