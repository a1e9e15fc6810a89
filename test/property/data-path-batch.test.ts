/**
 * The batch fast lane out (src/session/data-path.ts `frameBatchOutbound`) against the per-packet
 * one (`frameOutbound`, the reference): over random slab layouts (back to back or padded as the
 * native reader lays them), packet versions, sizes (some oversize) and gate states, with and
 * without MPPE, the bytes sent, their order, the counts and the drop counters are the same; the
 * batch comes out as two buffers, every packet but the last and the last alone (the record writer's
 * tail rule); nothing returned is a view of the slab, which is reused for the next batch; a buffer
 * given back for reuse is filled again with the same result.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DataGate } from '../../src/ppp/data-gate.js';
import { MppeEncryptor } from '../../src/ppp/mppe-cipher.js';
import { DATA_HEADROOM, MAX_IP_PACKET, frameBatchOutbound, frameOutbound, type SlabPackets } from '../../src/session/data-path.js';

interface PacketSpec {
  readonly version: number;
  readonly len: number;
  /** Bytes of padding after the packet (the native reader pads to 8; 0 = the next one follows at once). */
  readonly pad: number;
  readonly fill: number;
}

interface GateSpec {
  readonly ipv4Open: boolean;
  readonly ipv6Open: boolean;
  readonly held: boolean;
  readonly mppe: boolean;
}

const packetArb: fc.Arbitrary<PacketSpec> = fc.record({
  version: fc.constantFrom(4, 4, 4, 6, 6, 0, 5),
  len: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 1500 }), fc.constant(1400), fc.integer({ min: MAX_IP_PACKET - 4, max: MAX_IP_PACKET + 8 })),
  pad: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 7 })),
  fill: fc.integer({ min: 0, max: 255 }),
});

const gateArb: fc.Arbitrary<GateSpec> = fc.record({
  ipv4Open: fc.boolean(),
  ipv6Open: fc.boolean(),
  held: fc.constantFrom(false, false, false, true),
  mppe: fc.boolean(),
});

const KEY = Buffer.alloc(16, 0x3c);

function gateFor(g: GateSpec): DataGate {
  const gate = new DataGate({ mppeRequired: false });
  gate.ipv4Open = g.ipv4Open;
  gate.ipv6Open = g.ipv6Open;
  gate.held = g.held;
  if (g.mppe) gate.encryptor = new MppeEncryptor(KEY, { strength: 128, stateless: false });
  return gate;
}

/** A slab in the TUN batch shape: headroom (garbage) before each packet, then its pad. */
function slabOf(specs: readonly PacketSpec[]): SlabPackets {
  const total = specs.reduce((n, p) => n + DATA_HEADROOM + p.len + p.pad, 0);
  const slab = Buffer.alloc(total, 0xee);
  const offsets = new Uint32Array(specs.length);
  const lengths = new Uint32Array(specs.length);
  let pos = 0;
  specs.forEach((p, i) => {
    const at = pos + DATA_HEADROOM;
    slab.fill(p.fill, at, at + p.len);
    if (p.len > 0) slab[at] = (p.version << 4) | 5;
    offsets[i] = at;
    lengths[i] = p.len;
    pos = at + p.len + p.pad;
  });
  return { count: specs.length, slab, offsets, lengths };
}

/** The reference: each packet through `frameOutbound` on a copy of the slab, one buffer per packet. */
function perPacket(gate: DataGate, b: SlabPackets): Buffer[] {
  const slab = Buffer.from(b.slab);
  const out: Buffer[] = [];
  for (let i = 0; i < b.count; i++) {
    const at = b.offsets[i]!;
    const f = frameOutbound(gate, slab.subarray(at - DATA_HEADROOM, at + b.lengths[i]!));
    if (f) out.push(Buffer.from(f));
  }
  return out;
}

describe('data path: a TUN batch framed at once', () => {
  it('sends what the per-packet path sends, in order, with the last packet in a buffer of its own', () => {
    fc.assert(
      fc.property(gateArb, fc.array(packetArb, { minLength: 0, maxLength: 40 }), fc.boolean(), (g, specs, reuse) => {
        const batch = slabOf(specs);
        const refGate = gateFor(g);
        const want = perPacket(refGate, batch);
        const gate = gateFor(g);
        const out: Buffer[] = [];
        // A buffer of an earlier batch, full of its bytes, filled again.
        const dirty = reuse ? Buffer.alloc(256 * 1024, 0x77) : undefined;
        const went = frameBatchOutbound(gate, batch, out, dirty);
        if (dirty && out.length > 0) assert.equal(out[0]!.buffer, dirty.buffer, 'the buffer given is filled again');
        assert.deepEqual(Buffer.concat(out), Buffer.concat(want));
        assert.equal(went.packets, want.length);
        const framedBytes = want.reduce((n, f) => n + f.readUInt16BE(2) - DATA_HEADROOM - (g.mppe ? 4 : 0), 0);
        assert.equal(went.bytes, framedBytes);
        assert.deepEqual(gate.drops, refGate.drops);
        if (want.length > 0) assert.deepEqual(out.at(-1), want.at(-1), 'the last packet alone');
        assert.equal(out.length, Math.min(want.length, 2), 'all but the last packet, then the last');
        for (const b of out) assert.notEqual(b.buffer, batch.slab.buffer, 'a copy, not a view of the slab');
      }),
      { numRuns: 400 },
    );
  });

  it('frames packets spread over several slabs (taken from the FQ-CoDel queue) as it frames one slab', () => {
    fc.assert(
      fc.property(gateArb, fc.array(fc.tuple(packetArb, fc.integer({ min: 0, max: 2 })), { minLength: 1, maxLength: 30 }), (g, specs) => {
        const batch = slabOf(specs.map(([p]) => p));
        const want = perPacket(gateFor(g), batch);
        // Every slab a copy of the original, so offsets hold; packet i lives in the one it drew.
        const copies = [0, 1, 2].map(() => Buffer.from(batch.slab));
        const spread: SlabPackets = { ...batch, slabs: specs.map(([, k]) => copies[k]!) };
        const out: Buffer[] = [];
        const went = frameBatchOutbound(gateFor(g), spread, out);
        assert.deepEqual(Buffer.concat(out), Buffer.concat(want));
        assert.equal(went.packets, want.length);
      }),
      { numRuns: 300 },
    );
  });

  it('copies the batch out as one buffer, gaps between runs of back-to-back packets closed', () => {
    const gate = gateFor({ ipv4Open: true, ipv6Open: true, held: false, mppe: false });
    const specs: PacketSpec[] = [
      { version: 4, len: 1400, pad: 0, fill: 1 },
      { version: 6, len: 1400, pad: 0, fill: 2 },
      { version: 4, len: 13, pad: 3, fill: 3 },
      { version: 4, len: 1400, pad: 0, fill: 4 },
      { version: 4, len: 1400, pad: 0, fill: 5 },
      { version: 4, len: 1400, pad: 0, fill: 6 },
    ];
    const out: Buffer[] = [];
    const went = frameBatchOutbound(gate, slabOf(specs), out);
    assert.deepEqual([went.packets, went.bytes], [6, 5 * 1400 + 13]);
    assert.deepEqual(out.map((b) => b.length), [3 * 8 + 2800 + 13 + 2 * (8 + 1400), 8 + 1400]);
  });
});
