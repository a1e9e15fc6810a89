/**
 * FQ-CoDel (src/session/fq-codel.ts): a sparse flow goes ahead of a bulk flow's backlog; each
 * flow's packets keep their order and none is lost below the limit (property); CoDel drops from a
 * standing queue only after an interval above target, and marks ECN-capable packets CE instead
 * (IPv4 checksum still valid); at the byte limit the fattest flow loses packets, not a sparse one.
 * The process-wide budget (src/session/queue-budget.ts): over it, the enqueuing queue drops from
 * its own fattest flow, never another's; every byte comes back on dequeue, drop and clear, and
 * `used` is always the sum of what the queues hold (property).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FQ_CODEL_DEFAULTS, FqCodel, flowHash, setCe, type QueuedPacket } from '../../src/session/fq-codel.js';
import { QueueBudget } from '../../src/session/queue-budget.js';

/** An IPv4 TCP/UDP/ICMP packet with 8 bytes of headroom; `tag` goes in the payload. */
function ipv4(src: number, sport: number, len = 1400, opts: { proto?: number; ecn?: number; tag?: number } = {}): { buf: Buffer; at: number; len: number } {
  const buf = Buffer.alloc(8 + len);
  const at = 8;
  buf[at] = 0x45;
  buf[at + 1] = opts.ecn ?? 0;
  buf.writeUInt16BE(len, at + 2);
  buf[at + 8] = 64;
  buf[at + 9] = opts.proto ?? 6;
  buf.writeUInt32BE(0x0a000000 + src, at + 12);
  buf.writeUInt32BE(0xc6130501, at + 16);
  buf.writeUInt16BE(ipChecksum(buf.subarray(at, at + 20)), at + 10);
  buf.writeUInt16BE(sport, at + 20);
  buf.writeUInt16BE(5201, at + 22);
  buf.writeUInt32BE(opts.tag ?? 0, at + 28);
  return { buf, at, len };
}

/** The IPv4 header checksum, computed from scratch (0 over a header with a valid one). */
function ipChecksum(h: Buffer): number {
  let sum = 0;
  for (let i = 0; i < h.length; i += 2) if (i !== 10) sum += h.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

const tagOf = (p: QueuedPacket): number => p.buf.readUInt32BE(p.at + 28);
const srcOf = (p: QueuedPacket): number => p.buf.readUInt32BE(p.at + 12) - 0x0a000000;

function drain(q: FqCodel, now: number): QueuedPacket[] {
  const out: QueuedPacket[] = [];
  while (q.dequeue(now, 1 << 30, 1 << 30, out) > 0);
  return out;
}

describe('FQ-CoDel', () => {
  it('serves a new sparse flow (a ping) before the backlog of a bulk flow', () => {
    const q = new FqCodel(FQ_CODEL_DEFAULTS, 7);
    for (let i = 0; i < 500; i++) {
      const p = ipv4(1, 40000, 1400, { tag: i });
      q.enqueue(0, p.buf, p.at, p.len);
    }
    const ping = ipv4(2, 0, 84, { proto: 1, tag: 9999 });
    q.enqueue(1, ping.buf, ping.at, ping.len);
    const out = drain(q, 2);
    assert.equal(out.length, 501);
    const at = out.findIndex((p) => tagOf(p) === 9999);
    assert.ok(at <= 2, `the ping left at position ${at}, behind at most one quantum of the bulk flow`);
  });

  it('keeps each flow in order and loses nothing below the limit (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ flow: fc.integer({ min: 0, max: 5 }), len: fc.integer({ min: 40, max: 1500 }) }), { maxLength: 300 }),
        fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 10 }),
        fc.integer(),
        (pkts, rounds, seed) => {
          const q = new FqCodel(FQ_CODEL_DEFAULTS, seed);
          pkts.forEach((s, i) => {
            const p = ipv4(s.flow, 1000 + s.flow, s.len, { tag: i });
            q.enqueue(0, p.buf, p.at, p.len);
          });
          // Dequeued in rounds of a few packets, at once (no sojourn: CoDel never acts).
          const out: QueuedPacket[] = [];
          for (let r = 0; q.packets > 0; r++) q.dequeue(0, 1 << 30, rounds[r % rounds.length]!, out);
          assert.equal(out.length, pkts.length);
          assert.equal(q.bytes, 0);
          for (let f = 0; f <= 5; f++) {
            const tags = out.filter((p) => srcOf(p) === f).map(tagOf);
            assert.deepEqual(tags, [...tags].sort((a, b) => a - b), `flow ${f} in order`);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('drops from a standing queue only after it stayed above target for an interval', () => {
    const q = new FqCodel(FQ_CODEL_DEFAULTS, 1);
    let tag = 0;
    let t = 0;
    const out: QueuedPacket[] = [];
    // 1,000 packets every ms, 990 leave: a backlog that only grows, sojourn well above 5 ms.
    for (; t < 300; t++) {
      for (let i = 0; i < 10; i++) {
        const p = ipv4(1, 40000, 1000, { tag: tag++ });
        q.enqueue(t, p.buf, p.at, p.len);
      }
      q.dequeue(t, 1 << 30, 9, out);
      if (t < 100) assert.equal(q.stats.codelDropped, 0, `no drop before an interval above target (t=${t})`);
    }
    assert.ok(q.stats.codelDropped > 0, 'CoDel dropped');
    assert.equal(q.stats.ecnMarked, 0);
    assert.equal(out.length + q.packets + q.stats.codelDropped, tag, 'every packet accounted for');
  });

  it('marks ECN-capable packets CE instead of dropping them, with a valid IPv4 checksum', () => {
    const q = new FqCodel(FQ_CODEL_DEFAULTS, 1);
    const out: QueuedPacket[] = [];
    for (let t = 0; t < 300; t++) {
      for (let i = 0; i < 10; i++) {
        const p = ipv4(1, 40000, 1000, { ecn: 2 });
        q.enqueue(t, p.buf, p.at, p.len);
      }
      q.dequeue(t, 1 << 30, 9, out);
    }
    assert.equal(q.stats.codelDropped, 0);
    assert.ok(q.stats.ecnMarked > 0);
    const marked = out.filter((p) => (p.buf[p.at + 1]! & 3) === 3);
    assert.equal(marked.length, q.stats.ecnMarked);
    for (const p of marked) assert.equal(p.buf.readUInt16BE(p.at + 10), ipChecksum(p.buf.subarray(p.at, p.at + 20)));
  });

  it('at the byte limit drops from the fattest flow and keeps the sparse one', () => {
    const q = new FqCodel({ ...FQ_CODEL_DEFAULTS, limitBytes: 100_000 }, 3);
    const ping = ipv4(2, 0, 84, { proto: 1, tag: 9999 });
    q.enqueue(0, ping.buf, ping.at, ping.len);
    for (let i = 0; i < 200; i++) {
      const p = ipv4(1, 40000, 1400, { tag: i });
      q.enqueue(0, p.buf, p.at, p.len);
    }
    assert.ok(q.bytes <= 100_000);
    assert.ok(q.stats.overlimitDropped > 0);
    const out = drain(q, 0);
    assert.equal(tagOf(out[0]!), 9999);
    assert.equal(out.length + q.stats.overlimitDropped, 201);
  });

  it('hashes by the 5-tuple: ports matter, fragments go by addresses alone', () => {
    const a = ipv4(1, 1000);
    const b = ipv4(1, 1001);
    assert.equal(flowHash(a.buf, a.at, a.len, 5), flowHash(ipv4(1, 1000).buf, 8, a.len, 5));
    assert.notEqual(flowHash(a.buf, a.at, a.len, 5), flowHash(b.buf, b.at, b.len, 5));
    assert.notEqual(flowHash(a.buf, a.at, a.len, 5), flowHash(a.buf, a.at, a.len, 6), 'the seed perturbs');
    a.buf.writeUInt16BE(0x2000, a.at + 6); // MF
    b.buf.writeUInt16BE(0x0010, b.at + 6); // a later fragment
    assert.equal(flowHash(a.buf, a.at, a.len, 5), flowHash(b.buf, b.at, b.len, 5));
  });

  it('sets CE on ECT IPv4 and IPv6 packets only', () => {
    const notEct = ipv4(1, 1, 100, { ecn: 0 });
    assert.equal(setCe(notEct.buf, notEct.at, notEct.len), false);
    for (const ecn of [1, 2, 3]) {
      const p = ipv4(1, 1, 100, { ecn });
      assert.equal(setCe(p.buf, p.at, p.len), true);
      assert.equal(p.buf[p.at + 1]! & 3, 3);
      assert.equal(p.buf.readUInt16BE(p.at + 10), ipChecksum(p.buf.subarray(p.at, p.at + 20)));
    }
    const v6 = Buffer.alloc(48);
    v6[0] = 0x60;
    assert.equal(setCe(v6, 0, 48), false);
    v6[1] = 0x20; // ECT(0): traffic class ...10
    assert.equal(setCe(v6, 0, 48), true);
    assert.equal((v6[1]! >> 4) & 3, 3);
  });
});

describe('FQ-CoDel under a process-wide budget', () => {
  /** `n` queues (sessions) drawing from one budget of `limit` bytes. */
  function sessions(n: number, limit: number): { budget: QueueBudget; qs: FqCodel[] } {
    const budget = new QueueBudget(limit);
    return { budget, qs: Array.from({ length: n }, (_, i) => new FqCodel({ ...FQ_CODEL_DEFAULTS, budget }, i)) };
  }

  const enqueue = (q: FqCodel, src: number, sport: number, len: number, tag: number, now = 0): void => {
    const p = ipv4(src, sport, len, { tag });
    q.enqueue(now, p.buf, p.at, p.len);
  };

  it('over the budget, the enqueuing session drops from its own fattest flow and keeps the others intact', () => {
    const { budget, qs } = sessions(2, 100_000);
    const [a, b] = qs as [FqCodel, FqCodel];
    // Session A fills 60 % of the budget with one bulk flow; B's ping and bulk flow take the rest.
    for (let i = 0; i < 40; i++) enqueue(a, 1, 40000, 1500, i);
    enqueue(b, 3, 0, 84, 9999);
    let tag = 0;
    while (b.stats.overlimitDropped === 0) enqueue(b, 2, 40001, 1500, tag++);
    assert.ok(budget.used <= budget.limit, `used ${budget.used} ≤ ${budget.limit}`);
    assert.equal(budget.used, a.heldBytes + b.heldBytes);
    assert.equal(a.bytes, 40 * 1500, "A's packets are not B's to drop");
    assert.equal(a.stats.overlimitDropped, 0);
    assert.ok(b.heldBytes <= 100_000 - a.heldBytes);
    // B's sparse ping survived; its bulk flow lost packets from its head, the newest stayed.
    const out = drain(b, 0);
    assert.equal(tagOf(out[0]!), 9999);
    assert.equal(out.length + b.stats.overlimitDropped, tag + 1);
    assert.equal(tagOf(out[out.length - 1]!), tag - 1);
    // A, alone now, still holds all of its own.
    assert.equal(drain(a, 0).length, 40);
    assert.equal(budget.used, 0);
  });

  it('a session whose enqueue finds the budget taken by others drops the packet itself', () => {
    const { budget, qs } = sessions(2, 10_000);
    const [a, b] = qs as [FqCodel, FqCodel];
    for (let i = 0; i < 6; i++) enqueue(a, 1, 40000, 1500, i);
    enqueue(b, 2, 40000, 1500, 0);
    assert.equal(b.bytes, 0, 'nothing of B fits');
    assert.equal(b.stats.overlimitDropped, 1);
    assert.equal(a.bytes, 9000);
    assert.equal(budget.used, a.heldBytes);
    assert.equal(a.heldBytes, 6 * (8 + 1500), 'each packet here has a buffer of its own, headroom included');
  });

  it('gives every byte back on dequeue, CoDel drop, limit drop and clear (used 0 at the end)', () => {
    const { budget, qs } = sessions(3, 200_000);
    const [a, b, c] = qs as [FqCodel, FqCodel, FqCodel];
    // A: a standing queue CoDel drops from; B: over its own (smaller) share of the budget; C: cleared.
    const out: QueuedPacket[] = [];
    let tag = 0;
    for (let t = 0; t < 300; t++) {
      for (let i = 0; i < 10; i++) enqueue(a, 1, 40000, 1000, tag++, t);
      a.dequeue(t, 1 << 30, 9, out);
    }
    assert.ok(a.stats.codelDropped > 0);
    for (let i = 0; i < 300; i++) enqueue(b, 2, 40000, 1400, i);
    assert.ok(b.stats.overlimitDropped > 0);
    for (let i = 0; i < 20; i++) enqueue(c, 3, 40000, 1400, i);
    assert.equal(budget.used, a.heldBytes + b.heldBytes + c.heldBytes);
    c.clear();
    assert.equal(budget.used, a.heldBytes + b.heldBytes);
    drain(a, 300);
    drain(b, 300);
    assert.equal(budget.used, 0);
  });

  it('charges a shared buffer once and keeps it charged until its last packet leaves', () => {
    const { budget, qs } = sessions(1, 1 << 20);
    const q = qs[0]!;
    // One TUN batch copied into one buffer: three packets of three flows, as OutboundPath queues them.
    const parts = [ipv4(1, 1000, 600, { tag: 1 }), ipv4(2, 1001, 600, { tag: 2 }), ipv4(3, 1002, 600, { tag: 3 })];
    const chunk = Buffer.concat(parts.map((p) => p.buf));
    parts.forEach((p, i) => q.enqueue(0, chunk, i * (8 + 600) + 8, 600));
    assert.equal(budget.used, chunk.length);
    assert.equal(q.dequeue(0, 1 << 30, 2, []), 2);
    assert.equal(q.bytes, 600);
    assert.equal(budget.used, chunk.length, 'one packet still pins the whole copy');
    assert.equal(q.dequeue(0, 1 << 30, 1, []), 1);
    assert.equal(budget.used, 0);
    assert.equal(q.heldBytes, 0);
  });

  it('keeps used equal to the sum of the queues, within the limit, and never drops for another session (property)', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('enqueue' as const), s: fc.nat(3), flow: fc.nat(4), len: fc.integer({ min: 40, max: 1500 }), dt: fc.nat(30) }),
      fc.record({ kind: fc.constant('dequeue' as const), s: fc.nat(3), n: fc.integer({ min: 1, max: 20 }), dt: fc.nat(30) }),
      fc.record({ kind: fc.constant('clear' as const), s: fc.nat(3) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), fc.integer({ min: 0, max: 60_000 }), (ops, limit) => {
        const { budget, qs } = sessions(4, limit);
        let now = 0;
        let tag = 0;
        for (const o of ops) {
          const q = qs[o.s]!;
          const others = qs.map((x) => x.bytes);
          if (o.kind === 'enqueue') {
            now += o.dt;
            enqueue(q, o.flow, 1000 + o.flow, o.len, tag++, now);
            qs.forEach((x, i) => i !== o.s && assert.equal(x.bytes, others[i], 'another session lost nothing'));
          } else if (o.kind === 'dequeue') {
            now += o.dt;
            q.dequeue(now, 1 << 30, o.n, []);
          } else {
            q.clear();
          }
          assert.equal(budget.used, qs.reduce((sum, x) => sum + x.heldBytes, 0));
          qs.forEach((x) => assert.equal(x.heldBytes, x.bytes + 8 * x.packets, 'one buffer per packet here'));
          assert.ok(budget.used <= limit, `used ${budget.used} within ${limit}`);
        }
        for (const q of qs) q.clear();
        assert.equal(budget.used, 0);
      }),
      { numRuns: 200 },
    );
  });
});
