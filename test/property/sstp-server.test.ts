import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { certHashes } from '../../src/sstp/binding.js';
import { SstpServer, type SstpServerEvent } from '../../src/sstp/server.js';
import { callConnectRequest, dataPacket, echoRequest } from '../../src/sstp/wire.js';
import { vectors, vx } from '../support/vectors.js';
import { split } from '../support/chunks.js';

const E = 'sstp_binding_end_to_end';
const HASHES = certHashes(vx(E, 'cert_der'));
const NONCE = vx(E, 'nonce');
const HLAK = vx(E, 'hlak_mschapv2');
/** The valid SHA-256 Call Connected for NONCE/HLAK/cert (vector). */
const CALL_CONNECTED = Buffer.from((vectors()[E] as unknown as Record<string, Record<string, string>>)['sha256']!['call_connected']!, 'hex');

const newServer = (): SstpServer => new SstpServer({ certHashes: HASHES, random: (n) => (n === 32 ? Buffer.from(NONCE) : Buffer.alloc(n)) }, 0);

/** Feeds chunks (HLAK known from the start), runs the timers out; returns every event. */
function drive(chunks: Buffer[], hlakFirst: boolean): SstpServerEvent[] {
  const s = newServer();
  const events: SstpServerEvent[] = [];
  if (hlakFirst) s.setHlak(0, HLAK);
  let now = 0;
  for (const c of chunks) {
    now += 10;
    s.receive(now, c);
    events.push(...s.poll());
  }
  if (!hlakFirst) s.setHlak(now, HLAK);
  for (let i = 0; i < 10; i++) {
    const d = s.nextDeadline();
    if (d === undefined) break;
    s.handleTimeout(d);
  }
  events.push(...s.poll());
  return events;
}

const connected = (ev: SstpServerEvent[]): boolean => ev.some((e) => e.type === 'connected');

test('sanity: the unmutated stream does connect (so the properties below can fail)', () => {
  const stream = Buffer.concat([callConnectRequest(), dataPacket(Buffer.from('ff03c02101010004', 'hex')), CALL_CONNECTED]);
  assert.ok(connected(drive([stream], true)));
  assert.ok(connected(drive([stream], false)));
});

test('server: random bytes never throw and never connect', () => {
  fc.assert(
    fc.property(fc.boolean(), fc.uint8Array({ maxLength: 600 }), fc.array(fc.nat(), { maxLength: 10 }), fc.boolean(), (prefix, junk, cuts, hlakFirst) => {
      const stream = Buffer.concat([prefix ? callConnectRequest() : Buffer.alloc(0), Buffer.from(junk)]);
      const ev = drive(split(stream, cuts), hlakFirst);
      assert.ok(!connected(ev));
    }),
    { numRuns: 500 },
  );
});

test('server: a valid stream with the Call Connected mutated never connects and never throws', () => {
  const head = Buffer.concat([callConnectRequest(), dataPacket(Buffer.from('ff03c02101010004', 'hex'))]);
  const mutation = fc.array(fc.tuple(fc.integer({ min: 0, max: CALL_CONNECTED.length - 1 }), fc.integer({ min: 1, max: 255 })), {
    minLength: 1,
    maxLength: 4,
  });
  fc.assert(
    fc.property(mutation, fc.array(fc.nat(), { maxLength: 10 }), fc.boolean(), fc.boolean(), (muts, cuts, hlakFirst, tail) => {
      const cc = Buffer.from(CALL_CONNECTED);
      for (const [at, x] of muts) cc[at]! ^= x;
      if (cc.equals(CALL_CONNECTED)) return; // xors cancelled out
      const stream = Buffer.concat([head, cc, tail ? echoRequest() : Buffer.alloc(0)]);
      assert.ok(!connected(drive(split(stream, cuts), hlakFirst)));
    }),
    { numRuns: 500 },
  );
});

test('server: random packet-level garbage after connecting never throws', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), fc.array(fc.nat(), { maxLength: 10 }), (junk, cuts) => {
      const stream = Buffer.concat([callConnectRequest(), CALL_CONNECTED, Buffer.from(junk)]);
      const ev = drive(split(stream, cuts), true);
      assert.ok(connected(ev));
      assert.ok(ev.filter((e) => e.type === 'closed').length <= 1);
    }),
    { numRuns: 300 },
  );
});
