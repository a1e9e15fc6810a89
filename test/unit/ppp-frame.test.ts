/** PPP framing inside SSTP and the control-packet / option codec. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DecodeError } from '../../src/common/errors.js';
import { encodeFrame, isControlProtocol, parseFrame } from '../../src/ppp/frame.js';
import { CODE, decodeCp, decodeOptions, encodeCp, encodeOptions, ipv4Bytes, ipv4String, u32 } from '../../src/ppp/cp.js';
import { vx } from '../support/vectors.js';

const h = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

test('frame: the SSTP data packet vector carries FF 03 C021 + an LCP Echo-Request', () => {
  const sstp = vx('sstp_packets', 'data_lcp_echo_request');
  const frame = sstp.subarray(4);
  const f = parseFrame(frame);
  assert.equal(f.protocol, 0xc021);
  const pkt = decodeCp(f.info);
  assert.deepEqual([pkt.code, pkt.id, pkt.data.toString('hex')], [CODE.ECHO_REQ, 1, '01020304']);
  assert.deepEqual(encodeFrame(0xc021, encodeCp(CODE.ECHO_REQ, 1, u32(0x01020304))), frame);
});

test('frame: encode always writes FF 03 and a 2-byte protocol', () => {
  assert.deepEqual(encodeFrame(0x0021, h('4500')), h('ff03 0021 4500'));
  assert.deepEqual(encodeFrame(0x8021, Buffer.alloc(0)), h('ff03 8021'));
});

test('frame: receive tolerates a missing FF 03 (ACFC) and a 1-byte protocol (PFC)', () => {
  const cases: [string, number, string][] = [
    ['ff03 0021 45', 0x21, '45'],
    ['ff03 21 45', 0x21, '45'],
    ['21 4500', 0x21, '4500'],
    ['c021 0901', 0xc021, '0901'],
    ['8021', 0x8021, ''],
    ['ff03 c021', 0xc021, ''],
  ];
  for (const [hex, protocol, info] of cases) {
    const f = parseFrame(h(hex));
    assert.equal(f.protocol, protocol, hex);
    assert.equal(f.info.toString('hex'), info, hex);
  }
});

test('frame: empty or truncated protocol fields are DecodeErrors', () => {
  for (const hex of ['', 'ff03', '80', 'ff03 c0']) {
    assert.throws(() => parseFrame(h(hex)), DecodeError, hex || '(empty)');
  }
});

test('frame: control protocols are ≥ 0x8000', () => {
  assert.equal(isControlProtocol(0xc021), true);
  assert.equal(isControlProtocol(0x8021), true);
  assert.equal(isControlProtocol(0x0021), false);
  assert.equal(isControlProtocol(0x00fd), false);
});

test('cp: encode/decode round trip, with the Length field counting the header', () => {
  const p = encodeCp(CODE.CONF_REQ, 7, h('0104 05ac'));
  assert.deepEqual(p, h('01 07 0008 0104 05ac'));
  const d = decodeCp(p);
  assert.deepEqual([d.code, d.id, d.data.toString('hex')], [1, 7, '010405ac']);
});

test('cp: bytes beyond Length are padding and ignored', () => {
  const d = decodeCp(h('02 01 0008 0104 05ac 0000 00'));
  assert.equal(d.data.toString('hex'), '010405ac');
});

test('cp: Length beyond the frame, Length < 4, or a short header is a DecodeError', () => {
  for (const hex of ['01 01 0009 0104 05ac', '01 01 0003 00', '01 01 00', '']) {
    assert.throws(() => decodeCp(h(hex)), DecodeError, hex);
  }
});

test('options: decode the pppd LCP request and re-encode it byte for byte', () => {
  const data = h('0206 00000000 0506 1a2b3c4d 0702 0802');
  const opts = decodeOptions(data);
  assert.deepEqual(
    opts.map((o) => [o.type, o.data.toString('hex')]),
    [[2, '00000000'], [5, '1a2b3c4d'], [7, ''], [8, '']],
  );
  assert.deepEqual(encodeOptions(opts), data);
});

test('options: a length below 2 or overrunning the packet is a DecodeError', () => {
  for (const hex of ['0101', '0100', '0105 0000', '01']) {
    assert.throws(() => decodeOptions(h(hex)), DecodeError, hex);
  }
  assert.deepEqual(decodeOptions(Buffer.alloc(0)), []);
});

test('ipv4 helpers', () => {
  assert.deepEqual(ipv4Bytes('192.0.2.1'), h('c0000201'));
  assert.equal(ipv4String(h('0a000002')), '10.0.0.2');
  for (const bad of ['1.2.3', '1.2.3.256', 'a.b.c.d', '1.2.3.4.5', '01.2.3.-4']) assert.throws(() => ipv4Bytes(bad), RangeError, bad);
});
