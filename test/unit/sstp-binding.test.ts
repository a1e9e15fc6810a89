import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SstpdError } from '../../src/common/errors.js';
import {
  type BindingExpectation,
  type BindingKey,
  buildCallConnected,
  certHashes,
  chooseHashProtocol,
  computeCmk,
  computeCompoundMac,
  verifyCallConnected,
} from '../../src/sstp/binding.js';
import { encodeControl } from '../../src/sstp/wire.js';
import { vx, vectors } from '../support/vectors.js';

const A = 'sstp_binding_ms_sstp_4_7';
const S = 'sstp_binding_sha1_thirdparty';
const E = 'sstp_binding_end_to_end';
const hex = (b: Buffer): string => b.toString('hex');
/** Nested objects of sstp_binding_end_to_end (vx only reads top-level keys). */
const e2e = (sub: string, key: string): Buffer => {
  const g = vectors()[E] as unknown as Record<string, Record<string, string>>;
  return Buffer.from(g[sub]![key]!, 'hex');
};

test('MS-SSTP 4.7: CMK and compound MAC; the big-endian length MAC is not what we compute', () => {
  const hlak = vx(A, 'hlak');
  assert.equal(hex(computeCmk(hlak, 2)), hex(vx(A, 'cmk')));
  const mac = computeCompoundMac(hlak, 2, vx(A, 'call_connected_zeroed_mac'));
  assert.equal(hex(mac), hex(vx(A, 'compound_mac')));
  assert.notEqual(hex(mac), hex(vx(A, 'wrong_if_length_big_endian')));
  assert.equal(hex(buildCallConnected(2, vx(A, 'nonce'), vx(A, 'cert_hash'), hlak)), hex(vx(A, 'call_connected')));
});

test('SHA-1 third-party vector: CMK (length 14 00), MAC, full message', () => {
  const hlak = vx(S, 'hlak');
  assert.equal(hex(computeCmk(hlak, 1)), hex(vx(S, 'cmk')));
  assert.equal(hex(computeCompoundMac(hlak, 1, vx(S, 'call_connected_zeroed_mac'))), hex(vx(S, 'compound_mac')));
  assert.equal(hex(buildCallConnected(1, vx(S, 'nonce'), vx(S, 'cert_hash_sha1'), hlak)), hex(vx(S, 'call_connected')));
});

test('end to end: cert hashes from DER, SHA-256 / SHA-1 / PAP zero HLAK messages', () => {
  const h = certHashes(vx(E, 'cert_der'));
  assert.equal(hex(h.sha1), hex(vx(E, 'cert_sha1')));
  assert.equal(hex(h.sha256), hex(vx(E, 'cert_sha256')));
  const hlak = vx(E, 'hlak_mschapv2');
  assert.equal(hex(Buffer.concat([vx(E, 'server_master_recv_key'), vx(E, 'server_master_send_key')])), hex(hlak));
  const nonce = vx(E, 'nonce');
  assert.equal(hex(computeCmk(hlak, 2)), hex(e2e('sha256', 'cmk')));
  assert.equal(hex(computeCmk(hlak, 1)), hex(e2e('sha1', 'cmk')));
  assert.equal(hex(buildCallConnected(2, nonce, h.sha256, hlak)), hex(e2e('sha256', 'call_connected')));
  assert.equal(hex(buildCallConnected(1, nonce, h.sha1, hlak)), hex(e2e('sha1', 'call_connected')));
  const zero = Buffer.alloc(32);
  assert.equal(hex(computeCmk(zero, 2)), hex(e2e('pap_sha256', 'cmk')));
  assert.equal(hex(buildCallConnected(2, nonce, h.sha256, zero)), hex(e2e('pap_sha256', 'call_connected')));
});

const one = (key: Buffer): BindingKey[] => [{ label: 'only', key }];
const expectE2e = (over: Partial<BindingExpectation> = {}): BindingExpectation => ({
  nonce: vx(E, 'nonce'),
  bitmask: 3,
  certHashes: certHashes(vx(E, 'cert_der')),
  hlaks: one(vx(E, 'hlak_mschapv2')),
  ...over,
});
const reason = (msg: Buffer, exp: BindingExpectation): string => {
  const r = verifyCallConnected(msg, exp);
  return r.ok ? `ok:${r.proof.hashProtocol}` : r.reason;
};

test('verifyCallConnected accepts the vectors (SHA-256, SHA-1, PAP, 4.7)', () => {
  assert.equal(reason(e2e('sha256', 'call_connected'), expectE2e()), 'ok:2');
  assert.equal(reason(e2e('sha1', 'call_connected'), expectE2e()), 'ok:1');
  assert.equal(reason(e2e('pap_sha256', 'call_connected'), expectE2e({ hlaks: one(Buffer.alloc(32)) })), 'ok:2');
  const certHash = vx(A, 'cert_hash');
  const exp47: BindingExpectation = { nonce: vx(A, 'nonce'), bitmask: 2, certHashes: { sha1: Buffer.alloc(20), sha256: certHash }, hlaks: one(vx(A, 'hlak')) };
  assert.equal(reason(vx(A, 'call_connected'), exp47), 'ok:2');
});

test('verifyCallConnected rejects each kind of mismatch', () => {
  const good = e2e('sha256', 'call_connected');
  const flip = (at: number): Buffer => {
    const b = Buffer.from(good);
    b[at]! ^= 0x01;
    return b;
  };
  assert.equal(reason(flip(16), expectE2e()), 'nonce-mismatch');
  assert.equal(reason(flip(48), expectE2e()), 'cert-hash-mismatch');
  assert.equal(reason(flip(80), expectE2e()), 'mac-mismatch');
  assert.equal(reason(flip(111), expectE2e()), 'mac-mismatch');
  // reserved bytes are covered by the MAC (it is over the bytes as received)
  assert.equal(reason(flip(12), expectE2e()), 'mac-mismatch');
  assert.equal(reason(good, expectE2e({ hlaks: one(Buffer.alloc(32)) })), 'mac-mismatch');
  assert.equal(reason(good, expectE2e({ nonce: Buffer.alloc(32) })), 'nonce-mismatch');
  assert.equal(reason(good, expectE2e({ bitmask: 1 })), 'hash-protocol-not-offered');
  assert.equal(reason(e2e('sha1', 'call_connected'), expectE2e({ bitmask: 2 })), 'hash-protocol-not-offered');
  for (const hp of [0, 3, 4]) {
    const b = Buffer.from(good);
    b[15] = hp;
    assert.equal(reason(b, expectE2e()), 'hash-protocol-not-offered');
  }
  assert.equal(reason(good.subarray(0, 111), expectE2e()), 'malformed');
  const notCc = Buffer.from(good);
  notCc[5] = 0x05;
  assert.equal(reason(notCc, expectE2e()), 'not-call-connected');
  assert.equal(reason(encodeControl(4, []), expectE2e()), 'no-crypto-binding');
  assert.equal(reason(encodeControl(4, [{ id: 3, value: Buffer.alloc(96) }]), expectE2e()), 'bad-crypto-binding-length');
  const attr = { id: 3, value: good.subarray(12) };
  assert.equal(reason(encodeControl(4, [attr, attr]), expectE2e()), 'duplicate-crypto-binding');
  // the SHA-1 MAC field: only the first 20 bytes count (padding is not part of the check)
  const sha1 = Buffer.from(e2e('sha1', 'call_connected'));
  assert.equal(reason(sha1, expectE2e()), 'ok:1');
});

test('several acceptable HLAKs (MS-CHAPv1 forms): any one verifies, the proof names it; none → mac-mismatch', () => {
  const good = e2e('sha256', 'call_connected');
  const right = vx(E, 'hlak_mschapv2');
  const other = Buffer.alloc(32, 0x33);
  const check = (hlaks: BindingKey[]): string => {
    const r = verifyCallConnected(good, expectE2e({ hlaks }));
    return r.ok ? `ok:${r.proof.hlak}` : r.reason;
  };
  assert.equal(check([{ label: 'first', key: right }, { label: 'second', key: other }]), 'ok:first');
  assert.equal(check([{ label: 'first', key: other }, { label: 'second', key: right }]), 'ok:second');
  // The same key twice: the first label wins (order is the caller's preference).
  assert.equal(check([{ label: 'a', key: right }, { label: 'b', key: right }]), 'ok:a');
  assert.equal(check([{ label: 'a', key: other }, { label: 'b', key: Buffer.alloc(32) }]), 'mac-mismatch');
  assert.equal(check([]), 'mac-mismatch');
});

test('a binding after another attribute: the MAC field is located, not assumed at byte 80', () => {
  const h = certHashes(vx(E, 'cert_der'));
  const hlak = vx(E, 'hlak_mschapv2');
  const single = buildCallConnected(2, vx(E, 'nonce'), h.sha256, hlak);
  const binding = { id: 3, value: Buffer.from(single.subarray(12)) };
  binding.value.fill(0, 68);
  const extra = { id: 0x42, value: Buffer.from([1, 2, 3, 4]) };
  const zeroed = encodeControl(4, [extra, binding]);
  const mac = computeCompoundMac(hlak, 2, zeroed);
  mac.copy(zeroed, zeroed.length - 32);
  assert.equal(reason(zeroed, expectE2e()), 'ok:2');
});

test('hash choice and argument checks', () => {
  assert.equal(chooseHashProtocol(3), 2);
  assert.equal(chooseHashProtocol(2), 2);
  assert.equal(chooseHashProtocol(1), 1);
  assert.equal(chooseHashProtocol(0), undefined);
  assert.throws(() => computeCmk(Buffer.alloc(32), 3), (e: unknown) => e instanceof SstpdError);
  assert.throws(() => buildCallConnected(1, vx(E, 'nonce'), Buffer.alloc(32), Buffer.alloc(32)), SstpdError);
});
