import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DecodeError } from '../../src/common/errors.js';
import { SstpFramer } from '../../src/sstp/framer.js';
import { dataPacket, decodePacket, encodeControl } from '../../src/sstp/wire.js';
import { split } from '../support/chunks.js';

/** A valid packet: data (0..300-byte frame) or control (random type and attributes). */
const packetArb: fc.Arbitrary<Buffer> = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((b) => dataPacket(Buffer.from(b))),
  fc
    .tuple(
      fc.integer({ min: 0, max: 0xffff }),
      fc.array(fc.tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 60 })), { maxLength: 5 }),
    )
    .map(([type, attrs]) => encodeControl(type, attrs.map(([id, v]) => ({ id, value: Buffer.from(v) })))),
);

/** Run the framer over chunks: the packets (hex) and the error code, if any. */
function run(chunks: Buffer[]): { packets: string[]; error?: string } {
  const f = new SstpFramer();
  const packets: string[] = [];
  for (const c of chunks) {
    try {
      f.push(c, (p) => packets.push(p.toString('hex')));
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      return { packets, error: e.code };
    }
  }
  return { packets };
}

test('framer: any chunking of a valid stream yields exactly the packets sent', () => {
  fc.assert(
    fc.property(fc.array(packetArb, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 40 }), (packets, cuts) => {
      const stream = Buffer.concat(packets);
      const r = run(split(stream, cuts));
      assert.equal(r.error, undefined);
      assert.deepEqual(r.packets, packets.map((p) => p.toString('hex')));
      for (const p of r.packets) decodePacket(Buffer.from(p, 'hex'));
    }),
    { numRuns: 300 },
  );
});

test('framer: arbitrary bytes give the same packets and the same error for any chunking', () => {
  fc.assert(
    fc.property(
      fc.array(packetArb, { maxLength: 4 }),
      fc.uint8Array({ maxLength: 200 }),
      fc.array(fc.nat(), { maxLength: 30 }),
      (packets, junk, cuts) => {
        const stream = Buffer.concat([...packets, Buffer.from(junk)]);
        const whole = run([stream]);
        const chunked = run(split(stream, cuts));
        assert.deepEqual(chunked, whole);
        assert.deepEqual(whole.packets.slice(0, packets.length), packets.map((p) => p.toString('hex')));
      },
    ),
    { numRuns: 300 },
  );
});
