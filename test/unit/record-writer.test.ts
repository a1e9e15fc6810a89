/**
 * The TLS record discipline for sstpc: a burst is written as one batch plus its last packet alone,
 * nothing overtakes, back-pressure pauses the producer, end() waits for queued packets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RECORD_QUEUE_BYTES, RecordWriter, type PacketSink } from '../../src/session/record-writer.js';

/** A sink that groups writes the way Node does: writes made while one is in flight become one writev. */
class FakeSink implements PacketSink {
  destroyed = false;
  ended = false;
  /** Each element is one write call on the wire (one TLS record for Node), as the packet labels. */
  readonly records: string[][] = [];
  private corked = false;
  private pending: { label: string; cb?: () => void }[] = [];
  private inFlight: { label: string; cb?: () => void }[] | undefined;
  full = false;
  cork(): void {
    this.corked = true;
  }
  uncork(): void {
    this.corked = false;
    this.kick();
  }
  write(chunk: Buffer, cb?: () => void): boolean {
    this.pending.push(cb ? { label: chunk.toString(), cb } : { label: chunk.toString() });
    if (!this.corked) this.kick();
    return !this.full;
  }
  end(): void {
    this.ended = true;
  }
  private kick(): void {
    if (this.inFlight || this.pending.length === 0) return;
    this.inFlight = this.pending.splice(0);
    this.records.push(this.inFlight.map((p) => p.label));
  }
  /** The in-flight write completes (Node: on a later tick). */
  complete(): void {
    const done = this.inFlight ?? [];
    this.inFlight = undefined;
    for (const p of done) p.cb?.();
    this.kick();
  }
}

const b = (s: string): Buffer => Buffer.from(s);

test('a burst of three: the first two in one record, the last alone', () => {
  const sink = new FakeSink();
  const w = new RecordWriter(sink, () => undefined);
  w.write([b('a'), b('b'), b('c')]);
  sink.complete();
  sink.complete();
  assert.deepEqual(sink.records, [['a', 'b'], ['c']]);
});

test('packets written while the tail is in flight wait, keep their order, and end with a lone record', () => {
  const sink = new FakeSink();
  const w = new RecordWriter(sink, () => undefined);
  w.write([b('1')]);
  w.write([b('2'), b('3')]);
  w.write([b('4')]);
  assert.equal(w.queued, 3);
  for (let i = 0; i < 5; i++) sink.complete();
  assert.deepEqual(sink.records, [['1'], ['2', '3'], ['4']]);
  assert.deepEqual(sink.records.flat(), ['1', '2', '3', '4']);
});

test('back-pressure: a long queue or a full socket pauses the producer until drained', () => {
  const sink = new FakeSink();
  const events: boolean[] = [];
  const w = new RecordWriter(sink, (p) => events.push(p));
  w.write([b('x')]);
  w.write([Buffer.alloc(RECORD_QUEUE_BYTES, 0x61)]);
  assert.deepEqual(events, [true]);
  sink.complete();
  sink.complete();
  assert.deepEqual(events, [true, false]);
  sink.full = true;
  w.write([b('y')]);
  sink.complete();
  assert.equal(events.at(-1), true);
  sink.full = false;
  w.drained();
  assert.equal(events.at(-1), false);
});

test('the queue bound is in bytes: many small packets do not pause, a few large ones do', () => {
  const sink = new FakeSink();
  const events: boolean[] = [];
  const w = new RecordWriter(sink, (p) => events.push(p));
  w.write([b('x')]); // the tail write is now in flight: what follows queues
  const small = 1000;
  w.write(Array.from({ length: small }, () => Buffer.alloc(40)));
  assert.equal(w.queued, small);
  assert.equal(w.queuedBytes, small * 40);
  assert.deepEqual(events, [], '40 kB in 1,000 packets stays under the byte bound');
  const big = Math.ceil((RECORD_QUEUE_BYTES - small * 40) / 1500);
  w.write(Array.from({ length: big }, () => Buffer.alloc(1500)));
  assert.ok(w.queuedBytes >= RECORD_QUEUE_BYTES);
  assert.deepEqual(events, [true], 'the bytes, not the count, cross the bound');
  sink.complete(); // the tail is written: the queue goes out (one batch, then its own tail)
  assert.equal(w.queuedBytes, 0);
  assert.deepEqual(events, [true, false]);
});

test('end() half-closes only after the queued packets; later writes are dropped', () => {
  const sink = new FakeSink();
  const w = new RecordWriter(sink, () => undefined);
  w.write([b('1')]);
  w.write([b('2')]);
  w.end();
  w.write([b('late')]);
  assert.equal(sink.ended, false);
  sink.complete();
  sink.complete();
  assert.equal(sink.ended, true);
  assert.deepEqual(sink.records.flat(), ['1', '2']);
});
