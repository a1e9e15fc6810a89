/**
 * The TUN offload code of the native addon (native/offload.cc), through its test entry points
 * `segment()` and `coalesce()`, against the reference in test/support/offload-oracle.ts: segments
 * equal what Linux GSO makes, checksums hold, nothing is reordered or lost, and GRO joins exactly
 * the consecutive segments Linux GRO would join.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { findAddon, loadNative } from '../../native/index.js';
import {
  ACK, CWR, ECE, FIN, PSH, SYN, checksumsValid, groAdvance, groJoins, referenceTcpSegments, referenceUdpSegments,
  tcpPacket, udpPacket, vnetHdr, type FlowSpec, type GroGroup, type TcpSpec,
} from '../support/offload-oracle.js';

const skip = findAddon() === undefined ? 'native addon not built' : false;
const NEEDS_CSUM = 1;
const GSO_TCPV4 = 1;
const GSO_TCPV6 = 4;
const GSO_UDP_L4 = 5;

const flowArb: fc.Arbitrary<FlowSpec> = fc.record({
  v6: fc.boolean(),
  src: fc.uint8Array({ minLength: 16, maxLength: 16 }),
  dst: fc.uint8Array({ minLength: 16, maxLength: 16 }),
  sport: fc.integer({ min: 1, max: 0xffff }),
  dport: fc.integer({ min: 1, max: 0xffff }),
  ttl: fc.integer({ min: 1, max: 255 }),
  tos: fc.integer({ min: 0, max: 255 }),
  df: fc.boolean(),
  flowLabel: fc.integer({ min: 0, max: 0xfffff }),
}).map((f) => ({ ...f, src: f.v6 ? f.src : f.src.subarray(0, 4), dst: f.v6 ? f.dst : f.dst.subarray(0, 4) }));

const optionsArb = fc.integer({ min: 0, max: 10 }).chain((words) => fc.uint8Array({ minLength: words * 4, maxLength: words * 4 }));

const tcpArb = (flags: fc.Arbitrary<number>): fc.Arbitrary<TcpSpec> =>
  fc.record({
    seq: fc.integer({ min: 0, max: 0xffffffff }),
    ack: fc.integer({ min: 0, max: 0xffffffff }),
    flags,
    window: fc.integer({ min: 0, max: 0xffff }),
    options: optionsArb,
    id: fc.integer({ min: 0, max: 0xffff }),
  });

/** Flags a TSO super-packet may carry: ACK, and any of PSH/FIN/CWR/ECE. */
const superFlags = fc.subarray([PSH, FIN, CWR, ECE]).map((fs) => fs.reduce((a, b) => a | b, ACK));

function concat(bufs: readonly Buffer[], skipHdr: (b: Buffer) => number): Buffer {
  return Buffer.concat(bufs.map((b) => b.subarray(skipHdr(b))));
}

describe('TUN offload: segmentation (native segment())', { skip }, () => {
  it('cuts a TCP super-packet exactly as Linux GSO does, to fit the MTU', () => {
    const native = loadNative();
    fc.assert(
      fc.property(
        flowArb,
        tcpArb(superFlags),
        fc.integer({ min: 1, max: 20000 }),
        fc.integer({ min: 200, max: 1460 }),
        fc.oneof(fc.constant(0), fc.integer({ min: 576, max: 4096 })),
        (f, t, size, gsoSize, mtu) => {
          const payload = Buffer.alloc(size, 0).map((_, i) => (i * 7 + 3) & 0xff);
          const superPacket = tcpPacket(f, t, payload, true);
          const l4 = f.v6 ? 40 : 20;
          const hdrLen = l4 + 20 + t.options.length;
          fc.pre(superPacket.length <= 65535 + (f.v6 ? 40 : 0) && (mtu === 0 || mtu > hdrLen));
          const hdr = vnetHdr({ flags: NEEDS_CSUM, gsoType: f.v6 ? GSO_TCPV6 : GSO_TCPV4, hdrLen, gsoSize, csumStart: l4, csumOffset: 16 });
          const seg = mtu === 0 ? gsoSize : Math.min(gsoSize, mtu - hdrLen);
          fc.pre(Math.ceil(size / seg) <= 256);
          const got = native.segment(superPacket, hdr, mtu);
          const want = referenceTcpSegments(f, t, payload, seg);
          assert.equal(got.length, want.length);
          got.forEach((g, i) => {
            assert.ok(g.equals(want[i]!), `segment ${i} differs`);
            assert.ok(checksumsValid(g));
            if (mtu !== 0) assert.ok(g.length <= mtu);
          });
          // Nothing lost or reordered: the payloads in order are the original.
          assert.ok(concat(got, () => hdrLen).equals(payload));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('cuts a UDP super-packet (USO) into datagrams of gso_size', () => {
    const native = loadNative();
    fc.assert(
      fc.property(flowArb, fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 1, max: 30000 }), fc.integer({ min: 1, max: 1400 }), (f, id, size, gsoSize) => {
        const payload = Buffer.alloc(size).map((_, i) => (i * 13 + 1) & 0xff);
        const l4 = f.v6 ? 40 : 20;
        fc.pre(Math.ceil(size / gsoSize) <= 256);
        const got = native.segment(udpPacket(f, id, payload, true), vnetHdr({ flags: NEEDS_CSUM, gsoType: GSO_UDP_L4, hdrLen: l4 + 8, gsoSize, csumStart: l4, csumOffset: 6 }), l4 + 8 + gsoSize);
        const want = referenceUdpSegments(f, id, payload, gsoSize);
        assert.equal(got.length, want.length);
        got.forEach((g, i) => assert.ok(g.equals(want[i]!), `datagram ${i} differs`));
        got.forEach((g) => assert.ok(checksumsValid(g)));
      }),
      { numRuns: 200 },
    );
  });

  it('completes the partial checksum of a packet that is not GSO, and leaves others as they are', () => {
    const native = loadNative();
    fc.assert(
      fc.property(flowArb, tcpArb(fc.constant(ACK)), fc.uint8Array({ maxLength: 1300 }), fc.boolean(), (f, t, payload, udp) => {
        const l4 = f.v6 ? 40 : 20;
        const partial = udp ? udpPacket(f, t.id, payload, true) : tcpPacket(f, t, payload, true);
        const full = udp ? udpPacket(f, t.id, payload) : tcpPacket(f, t, payload);
        const hdr = vnetHdr({ flags: NEEDS_CSUM, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: l4, csumOffset: udp ? 6 : 16 });
        assert.deepEqual(native.segment(partial, hdr, 1500), [full]);
        assert.deepEqual(native.segment(full, Buffer.alloc(10), 1500), [full]);
      }),
      { numRuns: 200 },
    );
  });

  it('refuses what does not add up, and a UDP datagram larger than the MTU', () => {
    const native = loadNative();
    const f: FlowSpec = { v6: false, src: Uint8Array.of(10, 0, 0, 1), dst: Uint8Array.of(10, 0, 0, 2), sport: 1, dport: 2, ttl: 64, tos: 0, df: true, flowLabel: 0 };
    const p = tcpPacket(f, { seq: 1, ack: 1, flags: ACK, window: 1, options: new Uint8Array(0), id: 1 }, Buffer.alloc(3000), true);
    const good = { flags: NEEDS_CSUM, gsoType: GSO_TCPV4, hdrLen: 40, gsoSize: 1000, csumStart: 20, csumOffset: 16 };
    assert.equal(native.segment(p, vnetHdr(good), 1500).length, 3);
    for (const bad of [{ csumStart: 24 }, { csumOffset: 6 }, { gsoType: GSO_TCPV6 }, { gsoSize: 0 }, { gsoType: 9 }]) {
      assert.throws(() => native.segment(p, vnetHdr({ ...good, ...bad }), 1500), /malformed/);
    }
    assert.throws(() => native.segment(p.subarray(0, 30), vnetHdr(good), 1500), /malformed/);
    assert.throws(() => native.segment(p, vnetHdr({ ...good, gsoSize: 10 }), 1500), /too many segments/);
    const u = udpPacket(f, 1, Buffer.alloc(3000), true);
    assert.throws(() => native.segment(u, vnetHdr({ ...good, gsoType: GSO_UDP_L4, hdrLen: 28, csumOffset: 6 }), 1000), /malformed/);
    assert.throws(() => native.segment(Buffer.alloc(2000, 0x45), Buffer.alloc(10), 1500), /too big/);
  });
});

/** A client's TCP send: full segments, a short last one with PSH (what GRO should join into one). */
const streamArb = fc.record({
  f: flowArb,
  t: tcpArb(fc.constant(ACK)),
  mss: fc.integer({ min: 100, max: 1400 }),
  segments: fc.integer({ min: 1, max: 70 }),
  tail: fc.integer({ min: 1, max: 1400 }),
  idFixed: fc.boolean(),
});

type Stream = typeof streamArb extends fc.Arbitrary<infer T> ? T : never;

function streamSegments(s: Stream): Buffer[] {
  const out: Buffer[] = [];
  let seq = s.t.seq;
  for (let i = 0; i < s.segments; i++) {
    const last = i === s.segments - 1;
    const len = last ? Math.min(s.tail, s.mss) : s.mss;
    const payload = Buffer.alloc(len).map((_, k) => (seq + k) & 0xff);
    const id = s.idFixed && s.f.df ? s.t.id : s.t.id + i;
    out.push(tcpPacket(s.f, { ...s.t, seq, id, flags: last ? ACK | PSH : ACK }, payload));
    seq = (seq + len) >>> 0;
  }
  return out;
}

/** The groups the Linux GRO rules make of a packet sequence, joining consecutive packets only. */
function referenceGroups(packets: readonly Buffer[]): number[] {
  const sizes: number[] = [];
  let g: GroGroup | undefined;
  for (const p of packets) {
    if (g && groJoins(g, p)) {
      g = groAdvance(g, p);
      sizes[sizes.length - 1]!++;
    } else {
      g = groAdvance(undefined, p);
      sizes.push(1);
    }
  }
  return sizes;
}

/** Each group, cut again with its own virtio header, gives back exactly the packets it was made of. */
function assertRoundTrip(packets: readonly Buffer[], groups: ReturnType<ReturnType<typeof loadNative>['coalesce']>, fixedIds: boolean): void {
  const native = loadNative();
  let i = 0;
  for (const g of groups) {
    const members = packets.slice(i, i + g.count);
    i += g.count;
    if (g.count === 1) {
      assert.ok(g.vnetHdr.equals(Buffer.alloc(10)), 'a lone packet goes with a zero header');
      assert.ok(g.packet.equals(members[0]!));
      continue;
    }
    const again = native.segment(g.packet, g.vnetHdr, 0);
    assert.equal(again.length, members.length);
    again.forEach((p, k) => {
      // The kernel numbers IDs up when it cuts again; with DF fixed IDs that is the one difference.
      if (fixedIds && p[0]! >> 4 === 4) p.writeUInt16BE(members[k]!.readUInt16BE(4), 4), p.writeUInt16BE(0, 10), p.writeUInt16BE(~sumHdr(p) & 0xffff, 10);
      assert.ok(p.equals(members[k]!), `packet ${k} of a group of ${g.count} differs`);
    });
  }
  assert.equal(i, packets.length, 'every packet is written, in order');
}

function sumHdr(p: Buffer): number {
  let s = 0;
  for (let k = 0; k < 20; k += 2) s += p.readUInt16BE(k);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

describe('TUN offload: GRO (native coalesce())', { skip }, () => {
  it('joins a clean TCP stream into super-packets that cut back into the same segments', () => {
    const native = loadNative();
    fc.assert(
      fc.property(streamArb, (s) => {
        const packets = streamSegments(s);
        const groups = native.coalesce(packets);
        assert.deepEqual(groups.map((g) => g.count), referenceGroups(packets));
        // 64 segments at most per group, else all of a clean stream goes in one (65535 bytes permitting).
        if (packets.length <= 64 && packets.reduce((n, p) => n + p.length - 40 - s.t.options.length, 40) <= 65535) {
          assert.equal(groups.length, 1);
        }
        const head = groups[0]!;
        if (head.count > 1) {
          const l4 = s.f.v6 ? 40 : 20;
          assert.equal(head.vnetHdr[0], NEEDS_CSUM);
          assert.equal(head.vnetHdr[1], s.f.v6 ? GSO_TCPV6 : GSO_TCPV4);
          assert.equal(head.vnetHdr.readUInt16LE(2), l4 + 20 + s.t.options.length);
          assert.equal(head.vnetHdr.readUInt16LE(4), packets[0]!.length - l4 - 20 - s.t.options.length);
          assert.equal(head.vnetHdr.readUInt16LE(6), l4);
          assert.equal(head.vnetHdr.readUInt16LE(8), 16);
        }
        assertRoundTrip(packets, groups, s.idFixed && s.f.df);
      }),
      { numRuns: 300 },
    );
  });

  it('joins only consecutive in-order segments of one flow, as Linux GRO would', () => {
    const native = loadNative();
    // Two flows interleaved in runs, with reordering, a corrupted checksum, odd flags and sizes.
    const eventArb = fc.record({
      flow: fc.integer({ min: 0, max: 1 }),
      len: fc.oneof(fc.constant(500), fc.integer({ min: 0, max: 600 })),
      flags: fc.oneof({ weight: 6, arbitrary: fc.constant(ACK) }, { weight: 1, arbitrary: fc.constantFrom(ACK | PSH, ACK | FIN, SYN, ACK | CWR, ACK | ECE) }),
      skipSeq: fc.oneof({ weight: 8, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -600, max: 600 }) }),
      corrupt: fc.oneof({ weight: 15, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
      window: fc.oneof({ weight: 8, arbitrary: fc.constant(1000) }, { weight: 1, arbitrary: fc.constant(999) }),
    });
    fc.assert(
      fc.property(fc.tuple(flowArb, flowArb), tcpArb(fc.constant(ACK)), fc.array(fc.tuple(eventArb, fc.integer({ min: 1, max: 8 })), { minLength: 1, maxLength: 20 }), (flows, t, runs) => {
        const seqs = [t.seq, t.seq + 99999];
        const ids = [t.id, t.id + 500];
        const packets: Buffer[] = [];
        for (const [e, repeat] of runs) {
          for (let r = 0; r < repeat; r++) {
            const seq = (seqs[e.flow]! + e.skipSeq) >>> 0;
            const payload = Buffer.alloc(e.len).map((_, k) => (seq + k) & 0xff);
            const p = tcpPacket(flows[e.flow]!, { ...t, seq, flags: e.flags, window: e.window, id: ids[e.flow]! }, payload);
            if (e.corrupt) p[p.length - 1]! ^= 0x01;
            packets.push(p);
            seqs[e.flow] = (seq + e.len) >>> 0;
            ids[e.flow] = (ids[e.flow]! + 1) & 0xffff;
          }
        }
        const groups = native.coalesce(packets);
        assert.deepEqual(groups.map((g) => g.count), referenceGroups(packets));
        assertRoundTrip(packets, groups, false);
      }),
      { numRuns: 400 },
    );
  });
});
