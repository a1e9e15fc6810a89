import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DecodeError } from '../../src/common/errors.js';
import { SstpFramer } from '../../src/sstp/framer.js';
import { vx } from '../support/vectors.js';

const P = 'sstp_packets';
const stream = Buffer.concat([
  vx(P, 'call_connect_request'),
  vx(P, 'data_lcp_echo_request'),
  vx(P, 'echo_request'),
  vx(P, 'call_disconnect_no_error'),
]);

function collect(f: SstpFramer, chunks: Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  for (const c of chunks) f.push(c, (p) => out.push(Buffer.from(p)));
  return out;
}

test('one chunk: packets are views of the chunk (no copy)', () => {
  const f = new SstpFramer();
  const views: Buffer[] = [];
  f.push(stream, (p) => views.push(p));
  assert.equal(views.length, 4);
  assert.equal(views[0]!.buffer, stream.buffer);
  assert.equal(views[1]!.byteOffset, stream.byteOffset + 14);
  assert.equal(views.map((v) => v.toString('hex')).join(''), stream.toString('hex'));
  assert.equal(f.buffered, 0);
});

test('byte-by-byte gives the same packets; split packets are copies', () => {
  const chunks = [...stream].map((b) => Buffer.from([b]));
  const out = collect(new SstpFramer(), chunks);
  assert.deepEqual(out.map((p) => p.toString('hex')), [
    vx(P, 'call_connect_request').toString('hex'),
    vx(P, 'data_lcp_echo_request').toString('hex'),
    vx(P, 'echo_request').toString('hex'),
    vx(P, 'call_disconnect_no_error').toString('hex'),
  ]);
});

test('split in the header and in the body', () => {
  const f = new SstpFramer();
  const out: string[] = [];
  f.push(stream.subarray(0, 2), (p) => out.push(p.toString('hex')));
  assert.equal(f.buffered, 2);
  f.push(stream.subarray(2, 20), (p) => out.push(p.toString('hex')));
  assert.equal(out.length, 1);
  assert.equal(f.buffered, 6);
  f.push(stream.subarray(20), (p) => out.push(p.toString('hex')));
  assert.equal(out.join(''), stream.toString('hex'));
  assert.equal(f.buffered, 0);
});

test('an empty data packet (length 4) is delivered, also when split after its header', () => {
  const f = new SstpFramer();
  const out: string[] = [];
  f.push(Buffer.from('1000', 'hex'), (p) => out.push(p.toString('hex')));
  f.push(Buffer.from('0004', 'hex'), (p) => out.push(p.toString('hex')));
  assert.deepEqual(out, ['10000004']);
});

test('framing errors: bad version, short length, sticky failure, earlier packets delivered', () => {
  const bad = (hexs: string, code: string): void => {
    const f = new SstpFramer();
    const out: Buffer[] = [];
    assert.throws(() => f.push(Buffer.from(hexs, 'hex'), (p) => out.push(p)), (e: unknown) => e instanceof DecodeError && e.code === code);
    assert.throws(() => f.push(vx(P, 'echo_request'), () => assert.fail('no packets after a failure')), DecodeError);
    assert.ok(f.failed);
  };
  bad('20010008', 'E_SSTP_VERSION');
  bad('10010004', 'E_SSTP_LENGTH'); // control < 8
  bad('10000003', 'E_SSTP_LENGTH'); // data < 4
  bad('10000000', 'E_SSTP_LENGTH');

  const f = new SstpFramer();
  const out: string[] = [];
  const s = Buffer.concat([vx(P, 'echo_request'), Buffer.from('11000008', 'hex')]);
  assert.throws(() => f.push(s, (p) => out.push(p.toString('hex'))), DecodeError);
  assert.deepEqual(out, [vx(P, 'echo_request').toString('hex')]);

  // version error found in a header split across chunks
  const g = new SstpFramer();
  g.push(Buffer.from('ff', 'hex'), () => undefined);
  assert.throws(() => g.push(Buffer.from('010008', 'hex'), () => undefined), (e: unknown) => e instanceof DecodeError && e.code === 'E_SSTP_VERSION');
});

test('buffer stays bounded: a max-size packet byte by byte holds at most 4094 bytes', () => {
  const big = Buffer.alloc(4095, 0x42);
  big.writeUInt16BE(0x1000, 0);
  big.writeUInt16BE(0x0fff, 2);
  const f = new SstpFramer();
  let max = 0;
  let got: Buffer | undefined;
  for (let i = 0; i < big.length; i++) {
    f.push(big.subarray(i, i + 1), (p) => (got = p));
    max = Math.max(max, f.buffered);
  }
  assert.equal(max, 4094);
  assert.equal(got?.length, 4095);
  assert.equal(f.buffered, 0);
});

test('an error thrown by the consumer does not poison the framer', () => {
  const f = new SstpFramer();
  assert.throws(() => f.push(vx(P, 'echo_request'), () => {
    throw new DecodeError('consumer');
  }), DecodeError);
  assert.equal(f.failed, undefined);
  const out: Buffer[] = [];
  f.push(vx(P, 'echo_request'), (p) => out.push(p));
  assert.equal(out.length, 1);
});
