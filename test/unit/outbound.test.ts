/**
 * The way out of a tunnel (src/session/outbound.ts), with a stand-in framer and stream: a batch
 * goes straight out while the stream takes it; while it pushes back the packets are copied out of
 * the TUN's slab (reused at once) into FQ-CoDel and leave in its order once the stream drains, a
 * ping ahead of the bulk backlog; without the queue (SSTPD_FQ=0) back-pressure pauses the reader.
 * Sessions share the process's queue budget: over it a session drops its own packets, and a closed
 * session gives back every byte and queues nothing more.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DATA_HEADROOM, type FramedCount, type SlabPackets } from '../../src/session/data-path.js';
import { envBytes } from '../../src/common/env.js';
import { FQ_CODEL_DEFAULTS, type FqCodelOptions } from '../../src/session/fq-codel.js';
import { OutboundPath, queueOptions, type OutboundSink } from '../../src/session/outbound.js';
import { QUEUE_BUDGET_DEFAULT, QueueBudget, processQueueBudget } from '../../src/session/queue-budget.js';

/** A TUN-shaped batch of IPv4 packets; packet i carries `tags[i]` and comes from 10.0.0.`srcs[i]`. */
function batch(tags: readonly number[], srcs: readonly number[]): SlabPackets {
  const len = 200;
  const slab = Buffer.alloc(tags.length * (DATA_HEADROOM + len));
  const offsets = new Uint32Array(tags.length);
  const lengths = new Uint32Array(tags.length);
  tags.forEach((tag, i) => {
    const at = i * (DATA_HEADROOM + len) + DATA_HEADROOM;
    slab[at] = 0x45;
    slab[at + 9] = 17;
    slab.writeUInt32BE(0x0a000000 + srcs[i]!, at + 12);
    slab.writeUInt32BE(tag, at + 28);
    offsets[i] = at;
    lengths[i] = len;
  });
  return { count: tags.length, slab, offsets, lengths };
}

/** Frames by copying each packet out as it is; records the tags written. */
function harness(fq: boolean | FqCodelOptions): { path: OutboundPath; sink: OutboundSink & { ready: boolean }; written: number[]; paused: boolean[]; sent: number[] } {
  const written: number[] = [];
  const paused: boolean[] = [];
  const sent = [0, 0];
  const sink = {
    ready: true,
    idle: true,
    write: (packets: Buffer[]): void => {
      for (const p of packets) for (let o = 0; o < p.length; o += 200) written.push(p.readUInt32BE(o + 28));
    },
  };
  const frame = (b: SlabPackets, out: Buffer[]): FramedCount => {
    for (let i = 0; i < b.count; i++) {
      const slab = b.slabs?.[i] ?? b.slab;
      out.push(Buffer.from(slab.subarray(b.offsets[i]!, b.offsets[i]! + b.lengths[i]!)));
    }
    return { packets: b.count, bytes: b.count * 200 };
  };
  const path = new OutboundPath(
    {
      frame,
      sink,
      now: () => 0,
      sent: (p, by) => {
        sent[0]! += p;
        sent[1]! += by;
      },
      pauseReader: (p) => paused.push(p),
    },
    fq === true ? FQ_CODEL_DEFAULTS : fq === false ? null : fq,
    1,
  );
  return { path, sink, written, paused, sent };
}

describe('outbound path', () => {
  it('writes a batch straight out while the stream takes it', () => {
    const h = harness(true);
    h.path.fromTun(batch([1, 2, 3], [1, 1, 1]));
    assert.deepEqual(h.written, [1, 2, 3]);
    assert.deepEqual(h.sent, [3, 600]);
    assert.equal(h.path.stats.queuedBytes, 0);
  });

  it('queues while the stream pushes back, from a copy; a ping leaves ahead of the bulk backlog', () => {
    const h = harness(true);
    h.sink.ready = false;
    const bulk = batch([...Array(50).keys()], Array(50).fill(1));
    h.path.fromTun(bulk);
    bulk.slab.fill(0); // the TUN reuses its slab at once
    h.path.fromTun(batch([999], [2]));
    assert.equal(h.written.length, 0);
    assert.equal(h.path.stats.queuedBytes, 51 * 200);
    h.sink.ready = true;
    h.path.drained();
    assert.equal(h.written.length, 51);
    assert.ok(h.written.indexOf(999) <= 8, `the ping went out at ${h.written.indexOf(999)}`);
    assert.deepEqual(h.written.filter((t) => t !== 999), [...Array(50).keys()], 'the bulk flow in order, intact');
    assert.deepEqual(h.sent, [51, 51 * 200]);
    assert.deepEqual(h.paused, [], 'the reader is never paused with the queue');
  });

  it('does not overtake queued packets once the stream takes more', () => {
    const h = harness(true);
    h.sink.ready = false;
    h.path.fromTun(batch([1, 2], [1, 1]));
    h.sink.ready = true;
    h.path.fromTun(batch([3], [1]));
    assert.deepEqual(h.written, [1, 2, 3]);
  });

  it('without the queue (SSTPD_FQ=0) pauses the reader while the stream pushes back', () => {
    const h = harness(false);
    h.path.fromTun(batch([1], [1]));
    h.sink.ready = false;
    h.path.fromTun(batch([2], [1]));
    assert.deepEqual(h.written, [1, 2], 'what still came is written, never lost');
    assert.deepEqual(h.paused, [true]);
    h.sink.ready = true;
    h.path.drained();
    assert.deepEqual(h.paused, [true, false]);
    assert.equal(h.path.stats.queuedBytes, 0);
  });

  it('clear() forgets the backlog', () => {
    const h = harness(true);
    h.sink.ready = false;
    h.path.fromTun(batch([1, 2], [1, 1]));
    h.path.clear();
    h.sink.ready = true;
    h.path.drained();
    assert.deepEqual(h.written, []);
    assert.equal(h.path.stats.queuedBytes, 0);
  });
});

describe('outbound queues under the process budget', () => {
  it('the server default draws from the process budget (SSTPD_QUEUE_BUDGET, bytes), the client has none', () => {
    assert.equal(processQueueBudget(), processQueueBudget(), 'one per process');
    assert.equal(processQueueBudget().limit, envBytes('SSTPD_QUEUE_BUDGET', QUEUE_BUDGET_DEFAULT, Number.MAX_SAFE_INTEGER));
    assert.equal(queueOptions(processQueueBudget())?.budget, processQueueBudget());
    assert.equal(queueOptions(undefined)?.budget, undefined);
  });

  it('reads a byte count from the environment as the TCP bounds do, falling back on anything else', () => {
    const name = 'SSTPD_TEST_BYTES';
    const read = (v: string | undefined): number => {
      if (v === undefined) delete process.env[name];
      else process.env[name] = v;
      return envBytes(name, 7, 1000);
    };
    assert.deepEqual(['0', '1000', '', '1001', '-1', '1.5', '1e3', 'x'].map(read), [0, 1000, 7, 7, 7, 7, 1000, 7]);
    assert.equal(read(undefined), 7);
  });

  it('over the budget a session drops its own backlog, not the other session\'s', () => {
    const budget = new QueueBudget(30 * 200);
    const a = harness({ ...FQ_CODEL_DEFAULTS, budget });
    const b = harness({ ...FQ_CODEL_DEFAULTS, budget });
    a.sink.ready = b.sink.ready = false;
    a.path.fromTun(batch([...Array(20).keys()], Array(20).fill(1)));
    b.path.fromTun(batch([...Array(20).keys()], Array(20).fill(1)));
    assert.equal(a.path.stats.queuedBytes, 20 * 200);
    assert.equal(a.path.stats.queueDropped, 0);
    assert.ok(b.path.stats.queueDropped > 0);
    assert.ok(budget.used <= budget.limit);
    assert.equal(budget.used, a.path.stats.queueHeldBytes + b.path.stats.queueHeldBytes);
    a.sink.ready = b.sink.ready = true;
    a.path.drained();
    b.path.drained();
    assert.deepEqual(a.written, [...Array(20).keys()]);
    assert.equal(b.written.length + b.path.stats.queueDropped, 20);
    assert.equal(budget.used, 0, 'every byte back after the queues drained');
  });

  it('clear() and close() give the bytes back; a closed session queues nothing more', () => {
    const budget = new QueueBudget(1 << 20);
    const a = harness({ ...FQ_CODEL_DEFAULTS, budget });
    const b = harness({ ...FQ_CODEL_DEFAULTS, budget });
    a.sink.ready = b.sink.ready = false;
    a.path.fromTun(batch([1, 2, 3], [1, 1, 1]));
    b.path.fromTun(batch([4, 5], [1, 2]));
    // Each batch is copied into one buffer, headroom included: that is what the budget holds.
    assert.equal(budget.used, 5 * (DATA_HEADROOM + 200));
    assert.equal(budget.used, a.path.stats.queueHeldBytes + b.path.stats.queueHeldBytes);
    a.path.clear();
    assert.equal(budget.used, 2 * (DATA_HEADROOM + 200));
    b.path.close();
    assert.equal(budget.used, 0);
    b.path.fromTun(batch([6], [1])); // the TUN still had a batch while it closed
    assert.equal(budget.used, 0);
    b.sink.ready = true;
    b.path.drained();
    assert.deepEqual(b.written, []);
    assert.equal(b.path.stats.queuedBytes, 0);
  });
});
