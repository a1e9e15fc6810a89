/**
 * MPPE: RC4 against RFC 6229, the RFC 3079 §3.5 keys and samples, RFC 3078 key changes, the
 * data cipher (coherency count, flushed bits, stateless/stateful resync) and the CCP option 18
 * negotiation as pppd does it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Rc4 } from '../../src/crypto/rc4.js';
import { MAX_STATELESS_GAP, MppeDecryptor, MppeEncryptor, MPPE_ENCRYPTED, MPPE_FLUSHED } from '../../src/ppp/mppe-cipher.js';
import {
  ClientMppeOption,
  MPPE_BIT_C,
  MPPE_BIT_D,
  MPPE_BIT_H,
  MPPE_BIT_L,
  MPPE_BIT_M,
  MPPE_BIT_S,
  ServerMppeOption,
  bitsFor,
  describeMppe,
  directionOf,
} from '../../src/ppp/ccp/mppe-option.js';
import {
  asymmetricStartKey,
  getNewKeyFromSha,
  initialSessionKey,
  masterKey,
  mschapV1MppeKeys,
  mschapV1StartKey,
  mschapV2ServerMppeKeys,
} from '../../src/crypto/mschap.js';
import { LocalAuthBackend } from '../../src/auth/local.js';
import { vs, vx } from '../support/vectors.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const M = 'mppe_rfc3079';

test('RC4 reproduces RFC 6229 (40-bit key 0102030405, first bytes)', () => {
  const ks = new Rc4(Buffer.from('0102030405', 'hex')).apply(Buffer.alloc(16));
  assert.equal(hex(ks), 'b2396305f03dc027ccc3524a0a1118a8');
  assert.throws(() => new Rc4(Buffer.alloc(0)), RangeError);
});

test('RC4 keystream continues across calls and restarts with setKey', () => {
  const key = Buffer.from('secret key');
  const whole = new Rc4(key).apply(Buffer.alloc(40));
  const r = new Rc4(key);
  assert.equal(hex(Buffer.concat([r.apply(Buffer.alloc(15)), r.apply(Buffer.alloc(25))])), hex(whole));
  r.setKey(key);
  assert.equal(hex(r.apply(Buffer.alloc(40))), hex(whole));
});

test('RFC 3079 §3.5: start keys, session keys 40/56/128, and the RC4 samples', () => {
  const mk = masterKey(vx(M, 'password_hash_hash'), vx(M, 'nt_response'));
  assert.equal(hex(mk), vs(M, 'master_key'));
  const send = asymmetricStartKey(mk, 16, true, true);
  assert.equal(hex(send), vs(M, 'server_master_send_key_128'));
  assert.equal(hex(asymmetricStartKey(mk, 16, false, true)), vs(M, 'server_master_recv_key_128'));
  assert.equal(hex(initialSessionKey(send, 128)), vs(M, 'server_send_session_key_128'));
  assert.equal(hex(initialSessionKey(send.subarray(0, 8), 40)), vs(M, 'server_send_session_key_40'));
  assert.equal(hex(initialSessionKey(send.subarray(0, 8), 56)), vs(M, 'server_send_session_key_56'));
  const msg = Buffer.from(vs(M, 'rc4_plaintext'), 'ascii');
  assert.equal(hex(new Rc4(vx(M, 'server_send_session_key_128')).apply(msg)), vs(M, 'rc4_128_ciphertext'));
  assert.equal(hex(new Rc4(vx(M, 'server_send_session_key_40')).apply(msg)), vs(M, 'rc4_40_ciphertext'));
  assert.equal(hex(new Rc4(vx(M, 'server_send_session_key_56')).apply(msg)), vs(M, 'rc4_56_ciphertext'));
});

test('RFC 3078 §7.3 key change: the first rekey of the 128-bit send key', () => {
  const start = vx(M, 'server_master_send_key_128');
  const session = vx(M, 'server_send_session_key_128');
  const interim = getNewKeyFromSha(start, session, 16);
  assert.equal(hex(new Rc4(interim).apply(interim)), vs(M, 'rekey_128_first'));
});

test('local MS-CHAPv2 accept carries the RFC 3079 server start keys; v1 one key both ways', () => {
  const keys = mschapV2ServerMppeKeys('clientPass', vx('mschapv2_rfc2759', 'nt_response'));
  assert.equal(hex(keys.send), vs(M, 'server_master_send_key_128'));
  assert.equal(hex(keys.recv), vs(M, 'server_master_recv_key_128'));
  const v1 = mschapV1MppeKeys('MyPw', vx('mschapv1_rfc2433', 'challenge'));
  assert.equal(hex(v1.send), hex(mschapV1StartKey('MyPw', vx('mschapv1_rfc2433', 'challenge'))));
  assert.equal(hex(v1.send), hex(v1.recv));
  const backend = new LocalAuthBackend(new Map([['User', { name: 'User', password: 'clientPass', disabled: false }]]));
  const r = backend.verify({
    kind: 'mschap-v2',
    username: 'User',
    id: 1,
    authenticatorChallenge: vx('mschapv2_rfc2759', 'authenticator_challenge'),
    peerChallenge: vx('mschapv2_rfc2759', 'peer_challenge'),
    ntResponse: vx('mschapv2_rfc2759', 'nt_response'),
  });
  assert.ok(r.ok && r.mppeKeys);
  assert.equal(hex(r.mppeKeys.send), vs(M, 'server_master_send_key_128'));
  const pap = backend.verify({ kind: 'pap', username: 'User', password: 'clientPass' });
  assert.ok(pap.ok && pap.mppeKeys === undefined, 'PAP gives no MPPE keys');
});

test('the first stateless packet: ccount 0, A|D set, encrypted with the once-rekeyed session key', () => {
  const start = vx(M, 'server_master_send_key_128');
  const enc = new MppeEncryptor(start, { strength: 128, stateless: true });
  const out = enc.encrypt(0x0021, Buffer.from('test message'));
  assert.equal(out.readUInt16BE(0), ((MPPE_FLUSHED | MPPE_ENCRYPTED) << 8) | 0);
  const key1 = vx(M, 'rekey_128_first');
  const plain = new Rc4(key1).apply(out.subarray(2));
  assert.equal(hex(plain), '0021' + hex(Buffer.from('test message')));
  assert.equal(enc.encrypt(0x0021, Buffer.alloc(1)).readUInt16BE(0) & 0xfff, 1);
});

for (const strength of [40, 56, 128] as const) {
  for (const stateless of [true, false]) {
    test(`round trip ${strength}-bit ${stateless ? 'stateless' : 'stateful'} over 5000 packets (ccount wraps)`, () => {
      const key = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
      const enc = new MppeEncryptor(key, { strength, stateless });
      const dec = new MppeDecryptor(key, { strength, stateless });
      for (let i = 0; i < 5000; i++) {
        const payload = Buffer.alloc(i % 97, i & 0xff);
        const r = dec.decrypt(enc.encrypt(i % 2 ? 0x0057 : 0x0021, payload));
        assert.ok(r.ok, `packet ${i}: ${r.ok ? '' : r.reason}`);
        assert.equal(r.protocol, i % 2 ? 0x0057 : 0x0021);
        assert.deepEqual(r.payload, payload);
      }
    });
  }
}

test('stateful flag packets (ccount low byte 0xFF) are flushed and rekeyed; others continue the keystream', () => {
  const key = Buffer.alloc(16, 7);
  const enc = new MppeEncryptor(key, { strength: 128, stateless: false });
  const flags: number[] = [];
  for (let i = 0; i < 600; i++) {
    const h = enc.encrypt(0x21, Buffer.alloc(4)).readUInt16BE(0);
    if ((h >> 8) & MPPE_FLUSHED) flags.push(h & 0xfff);
  }
  assert.deepEqual(flags, [255, 511]);
});

test('stateful loss: the next packet asks for a reset, then drops until a flushed packet resyncs', () => {
  const key = Buffer.alloc(16, 9);
  const enc = new MppeEncryptor(key, { strength: 128, stateless: false });
  const dec = new MppeDecryptor(key, { strength: 128, stateless: false });
  const pkt = (): Buffer => enc.encrypt(0x21, Buffer.from('abcd'));
  assert.ok(dec.decrypt(pkt()).ok);
  pkt(); // lost
  const gap = dec.decrypt(pkt());
  assert.equal(gap.ok, false);
  assert.equal(!gap.ok && gap.resetRequest, true);
  assert.equal(dec.resyncing, true);
  const more = dec.decrypt(pkt());
  assert.equal(more.ok, false);
  assert.equal(!more.ok && more.resetRequest, undefined, 'one Reset-Request per loss');
  enc.resetRequested();
  const flushed = pkt();
  assert.ok((flushed[0]! & MPPE_FLUSHED) !== 0);
  const r = dec.decrypt(flushed);
  assert.ok(r.ok);
  assert.equal(r.payload.toString(), 'abcd');
  assert.ok(dec.decrypt(pkt()).ok);
});

test('stateful loss across a flag packet: the receiver catches up one rekey per missed 256', () => {
  const key = Buffer.alloc(16, 3);
  const enc = new MppeEncryptor(key, { strength: 128, stateless: false });
  const dec = new MppeDecryptor(key, { strength: 128, stateless: false });
  assert.ok(dec.decrypt(enc.encrypt(0x21, Buffer.alloc(2))).ok);
  for (let i = 0; i < 600; i++) enc.encrypt(0x21, Buffer.alloc(2)); // lost, across flags 255 and 511
  assert.equal(dec.decrypt(enc.encrypt(0x21, Buffer.alloc(2))).ok, false);
  enc.resetRequested();
  assert.ok(dec.decrypt(enc.encrypt(0x21, Buffer.from('ok'))).ok);
});

test('stateless: a gap resyncs at once; a jump over MAX_STATELESS_GAP is fatal; replays and bogons are dropped', () => {
  const key = Buffer.alloc(16, 5);
  const enc = new MppeEncryptor(key, { strength: 128, stateless: true });
  const dec = new MppeDecryptor(key, { strength: 128, stateless: true });
  const first = enc.encrypt(0x21, Buffer.from('one'));
  assert.ok(dec.decrypt(first).ok);
  const replay = dec.decrypt(first);
  assert.equal(replay.ok, false);
  for (let i = 0; i < 10; i++) enc.encrypt(0x21, Buffer.alloc(1));
  const after = dec.decrypt(enc.encrypt(0x21, Buffer.from('two')));
  assert.ok(after.ok && after.payload.toString() === 'two');
  for (let i = 0; i < MAX_STATELESS_GAP + 5; i++) enc.encrypt(0x21, Buffer.alloc(1));
  const jump = dec.decrypt(enc.encrypt(0x21, Buffer.alloc(1)));
  assert.equal(!jump.ok && jump.fatal, true);
  const clear = Buffer.from([0x00, 0x05, 0x00, 0x21, 0x45]);
  assert.equal(new MppeDecryptor(key, { strength: 128, stateless: true }).decrypt(clear).ok, false, 'D bit missing');
});

test('a peer sending only garbage MPPE runs out of credit (fatal), as Linux ppp_mppe does', () => {
  const dec = new MppeDecryptor(Buffer.alloc(16), { strength: 128, stateless: true });
  let fatal = false;
  for (let i = 0; i < 20 && !fatal; i++) {
    const r = dec.decrypt(Buffer.from([0x10, i, 1, 2, 3]));
    fatal = !r.ok && r.fatal === true;
  }
  assert.equal(fatal, true);
});

test('property: random MPPE frames never throw', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.boolean(), (bytes, stateless) => {
      const dec = new MppeDecryptor(Buffer.alloc(16, 1), { strength: 128, stateless });
      dec.decrypt(Buffer.from(bytes));
    }),
  );
});

// ---------------------------------------------------------------------------------------------
// CCP option 18

const u32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
};

test('our request offers every key length we hold, stateless; 128 only after MS-CHAPv1', () => {
  const o = new ServerMppeOption('require');
  o.configure([128, 56, 40]);
  assert.equal(o.request()!.readUInt32BE(0), MPPE_BIT_S | MPPE_BIT_M | MPPE_BIT_L | MPPE_BIT_H);
  o.configure([128]);
  assert.equal(o.request()!.readUInt32BE(0), MPPE_BIT_S | MPPE_BIT_H);
  const a = new ServerMppeOption('accept');
  a.configure([128]);
  assert.equal(a.request(), undefined, 'accept: do not ask');
  assert.equal(a.check(u32(MPPE_BIT_S | MPPE_BIT_H)).verdict, 'ack');
  assert.equal(a.request()!.readUInt32BE(0), MPPE_BIT_S | MPPE_BIT_H, 'once asked, offer it back');
});

test('judging the peer: the strongest shared length, C/D and unknown bits Nak\'d away, H kept as asked', () => {
  const o = new ServerMppeOption('prefer');
  o.configure([128, 56, 40]);
  const nakOf = (bits: number): number | 'ack' | 'reject' => {
    const v = o.check(u32(bits));
    return v.verdict === 'nak' ? v.data.readUInt32BE(0) : v.verdict;
  };
  assert.equal(nakOf(MPPE_BIT_S | MPPE_BIT_H), 'ack', "pppd's require-mppe-128");
  assert.equal(nakOf(MPPE_BIT_S), 'ack', 'stateful is accepted');
  assert.equal(nakOf(MPPE_BIT_S | MPPE_BIT_L | MPPE_BIT_H), MPPE_BIT_S | MPPE_BIT_H);
  assert.equal(nakOf(MPPE_BIT_L | MPPE_BIT_H), 'ack', 'a client that insists on 40-bit');
  assert.equal(nakOf(MPPE_BIT_S | MPPE_BIT_C | MPPE_BIT_D | MPPE_BIT_H), MPPE_BIT_S | MPPE_BIT_H, 'no MPPC, no D');
  assert.equal(nakOf(MPPE_BIT_H), MPPE_BIT_S | MPPE_BIT_M | MPPE_BIT_L | MPPE_BIT_H, 'no length: our choices');
  assert.equal(nakOf(0x80000000 | MPPE_BIT_S), MPPE_BIT_S, 'unknown bits dropped');
  o.configure([128]);
  assert.equal(nakOf(MPPE_BIT_L | MPPE_BIT_H), MPPE_BIT_S | MPPE_BIT_H, 'v1 keys: 128 only');
  o.configure([]);
  assert.equal(nakOf(MPPE_BIT_S | MPPE_BIT_H), 'reject', 'no keys: MPPE impossible');
  assert.equal(new ServerMppeOption('prefer').check(Buffer.alloc(3)).verdict, 'reject');
});

test('the peer Naks our offer down to one length; refusal is fatal only with require', () => {
  const o = new ServerMppeOption('require');
  o.configure([128, 56, 40]);
  assert.equal(o.nakked(u32(MPPE_BIT_S | MPPE_BIT_H)), 'ok');
  assert.equal(o.request()!.readUInt32BE(0), MPPE_BIT_S | MPPE_BIT_H);
  o.acked(u32(MPPE_BIT_S | MPPE_BIT_H));
  assert.deepEqual(o.rx, { strength: 128, stateless: true });
  assert.deepEqual(o.nakked(u32(MPPE_BIT_C)), { fail: 'MPPE required but client suggests MPPE settings we cannot use (stateful mppc)' });
  assert.deepEqual(o.rejected(), { fail: 'MPPE required but client rejected the MPPE option' });
  const p = new ServerMppeOption('prefer');
  p.configure([128]);
  assert.equal(p.rejected(), 'ok');
  assert.equal(p.request(), undefined, 'prefer: stop asking');
  assert.equal(p.refusal, 'client rejected the MPPE option');
});

test('client side: Nak a server offer to one length; accept a single-length Nak of ours', () => {
  const c = new ClientMppeOption(MPPE_BIT_S | MPPE_BIT_H);
  const v = c.check(u32(MPPE_BIT_S | MPPE_BIT_M | MPPE_BIT_L | MPPE_BIT_H));
  assert.equal(v.verdict === 'nak' ? v.data.readUInt32BE(0) : v.verdict, MPPE_BIT_S | MPPE_BIT_H);
  assert.equal(c.check(u32(MPPE_BIT_S | MPPE_BIT_H)).verdict, 'ack');
  assert.deepEqual(c.nakked(u32(MPPE_BIT_L | MPPE_BIT_H)), { fail: "server Nak'd MPPE with unusable bits" });
});

test('describe / directionOf / bitsFor', () => {
  assert.equal(describeMppe(MPPE_BIT_S | MPPE_BIT_H), '128-bit stateless');
  assert.deepEqual(directionOf(MPPE_BIT_M), { strength: 56, stateless: false });
  assert.equal(directionOf(MPPE_BIT_S | MPPE_BIT_L), undefined);
  assert.equal(bitsFor([40], true), MPPE_BIT_L | MPPE_BIT_H);
});
