import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  asymmetricStartKey,
  challengeHash,
  challengeResponse,
  generateAuthenticatorResponse,
  generateNtResponse,
  hashNtPasswordHash,
  initialSessionKey,
  masterKey,
  mschapV1NtResponse,
  mschapV1StartKey,
  mschapV2ServerHlak,
  ntPasswordHash,
  stripDomain,
} from '../../src/crypto/mschap.js';
import { desEncrypt, desExpandKey, md4 } from '../../src/crypto/legacy.js';
import { hlakFor } from '../../src/auth/hlak.js';
import { vectors, vs, vx } from '../support/vectors.js';

const hex = (b: Buffer): string => b.toString('hex');
const V2 = 'mschapv2_rfc2759';
const MPPE = 'mppe_rfc3079';

test('md4 (pure JS) matches the RFC 1320 suite', () => {
  assert.equal(hex(md4(Buffer.alloc(0))), '31d6cfe0d16ae931b73c59d7e0c089c0');
  assert.equal(hex(md4(Buffer.from('abc'))), 'a448017aaf21d8525fc10ae87aa6729d');
  assert.equal(hex(md4(Buffer.from('message digest'))), 'd9130a8164549fe818874806e1c7014b');
});

test('DES: the classic FIPS example, and RFC 2759 §9.3 key expansion with odd parity', () => {
  // 0123456789abcdef is already an expanded key; its 56 key bits are the high 7 bits of each byte.
  const k8 = Buffer.from('0123456789abcdef', 'hex');
  let bits = 0n;
  for (const b of k8) bits = (bits << 7n) | BigInt(b >> 1);
  const k7 = Buffer.from(bits.toString(16).padStart(14, '0'), 'hex');
  assert.equal(hex(desEncrypt(Buffer.from('Now is t', 'ascii'), k7)), '3fa40e8a984d4815');
  const d = 'des_key_expansion';
  assert.equal(hex(desExpandKey(vx(d, 'raw_key_1'))), vs(d, 'des_key_1'));
  assert.equal(hex(desExpandKey(vx(d, 'raw_key_2'))), vs(d, 'des_key_2'));
  assert.equal(hex(ntPasswordHash(vs(d, 'password'))), vs(d, 'password_hash'));
});

test('MS-CHAPv2 primitives reproduce RFC 2759 §9.2', () => {
  const authCh = vx(V2, 'authenticator_challenge');
  const peerCh = vx(V2, 'peer_challenge');
  const user = vs(V2, 'username');
  const pw = vs(V2, 'password');
  assert.equal(hex(Buffer.from(pw, 'utf16le')), vs(V2, 'password_utf16le_hex'));
  assert.equal(hex(ntPasswordHash(pw)), vs(V2, 'password_hash'));
  assert.equal(hex(hashNtPasswordHash(ntPasswordHash(pw))), vs(V2, 'password_hash_hash'));
  assert.equal(hex(challengeHash(peerCh, authCh, user)), vs(V2, 'challenge_hash'));
  assert.equal(hex(generateNtResponse(authCh, peerCh, user, pw)), vs(V2, 'nt_response'));
  assert.equal(
    generateAuthenticatorResponse(pw, vx(V2, 'nt_response'), peerCh, authCh, user),
    vs(V2, 'authenticator_response'),
  );
});

test('MS-CHAPv2 hashes only the user part of DOMAIN\\user', () => {
  const authCh = vx(V2, 'authenticator_challenge');
  const peerCh = vx(V2, 'peer_challenge');
  assert.equal(stripDomain('CORP\\sub\\User'), 'User');
  assert.equal(stripDomain('User'), 'User');
  assert.equal(hex(generateNtResponse(authCh, peerCh, 'CORP\\User', 'clientPass')), vs(V2, 'nt_response'));
  assert.notEqual(hex(generateNtResponse(authCh, peerCh, 'user', 'clientPass')), vs(V2, 'nt_response'));
});

test('MS-CHAPv1 reproduces RFC 2433 B.2', () => {
  const g = 'mschapv1_rfc2433';
  assert.equal(hex(Buffer.from(vs(g, 'password'), 'utf16le')), vs(g, 'password_utf16le_hex'));
  assert.equal(hex(ntPasswordHash(vs(g, 'password'))), vs(g, 'nt_password_hash'));
  assert.equal(hex(mschapV1NtResponse(vx(g, 'challenge'), vs(g, 'password'))), vs(g, 'nt_challenge_response'));
  assert.equal(
    hex(challengeResponse(vx(g, 'challenge'), vx(g, 'nt_password_hash'))),
    vs(g, 'nt_challenge_response'),
  );
});

test('MPPE master and start keys reproduce RFC 3079 §3.5 (both sides, 128 and 40/56-bit lengths)', () => {
  const mk = masterKey(vx(MPPE, 'password_hash_hash'), vx(MPPE, 'nt_response'));
  assert.equal(hex(mk), vs(MPPE, 'master_key'));
  assert.equal(hex(asymmetricStartKey(mk, 16, true, true)), vs(MPPE, 'server_master_send_key_128'));
  assert.equal(hex(asymmetricStartKey(mk, 16, false, true)), vs(MPPE, 'server_master_recv_key_128'));
  assert.equal(hex(asymmetricStartKey(mk, 16, true, false)), vs(MPPE, 'client_master_send_key_128'));
  assert.equal(hex(asymmetricStartKey(mk, 16, false, false)), vs(MPPE, 'client_master_recv_key_128'));
  assert.equal(hex(asymmetricStartKey(mk, 8, true, true)), vs(MPPE, 'server_master_send_key_40_56'));
  assert.equal(hex(asymmetricStartKey(mk, 8, false, true)), vs(MPPE, 'server_master_recv_key_40_56'));
});

test('MPPE initial session keys (GetNewKeyFromSHA + 40/56-bit salts) reproduce RFC 3079 §3.5', () => {
  for (const dir of ['send', 'recv'] as const) {
    const start = vx(MPPE, `server_master_${dir}_key_128`);
    assert.equal(hex(initialSessionKey(start, 128)), vs(MPPE, `server_${dir}_session_key_128`));
    assert.equal(hex(initialSessionKey(start, 40)), vs(MPPE, `server_${dir}_session_key_40`));
    assert.equal(hex(initialSessionKey(start, 56)), vs(MPPE, `server_${dir}_session_key_56`));
  }
});

test('HLAK: MS-CHAPv2 = server recv ‖ send (sstp_binding_end_to_end); PAP and CHAP-MD5 = zeros', () => {
  const e2e = 'sstp_binding_end_to_end';
  const nt = vx(V2, 'nt_response');
  assert.equal(hex(mschapV2ServerHlak('clientPass', nt)), vs(e2e, 'hlak_mschapv2'));
  assert.equal(hex(hlakFor('mschap-v2', 'clientPass', { ntResponse: nt })), vs(e2e, 'hlak_mschapv2'));
  const pap = vectors()[e2e]?.['pap_sha256'] as unknown as { hlak: string };
  assert.equal(hex(hlakFor('pap', 'whatever', { kind: 'pap', username: 'u', password: 'p' })), pap.hlak);
  assert.equal(hex(hlakFor('chap-md5', 'x', { ntResponse: nt })), '00'.repeat(32));
  assert.throws(() => hlakFor('mschap-v2', 'x', { ntResponse: Buffer.alloc(3) }), { code: 'E_AUTH_HLAK_INPUT' });
});

test('HLAK for MS-CHAPv1 is what sstpc computes: the v2 RFC 3079 derivation over the v1 NT-Response', () => {
  const g = 'mschapv1_rfc2433';
  const nt = vx(g, 'nt_challenge_response');
  // Pinned from an independent pure-Python MD4 + hashlib SHA-1 run of sstpc's formula (sstp-chap.c).
  const pinned = '0d1f969fc1630ac1f7f1a9e11fc419a678a9d1d07e0d05a1298a2ffc8be79934';
  assert.equal(hex(hlakFor('mschap-v1', vs(g, 'password'), { ntResponse: nt })), pinned);
  // Spelled out once more with node's SHA-1 and the magic strings, as sstp-chap.c does.
  const sha1 = (...p: Buffer[]): Buffer => createHash('sha1').update(Buffer.concat(p)).digest();
  const hh = hashNtPasswordHash(ntPasswordHash('MyPw'));
  assert.equal(hex(hh), '874fb0693e18106a814481bc51cd7d37');
  const mk = sha1(hh, nt, Buffer.from('This is the MPPE Master Key')).subarray(0, 16);
  const key = (m: string): Buffer =>
    sha1(mk, Buffer.alloc(40), Buffer.from(m), Buffer.alloc(40, 0xf2)).subarray(0, 16);
  const send = key('On the client side, this is the send key; on the server side, it is the receive key.');
  const recv = key('On the client side, this is the receive key; on the server side, it is the send key.');
  assert.equal(hex(Buffer.concat([send, recv])), pinned);
});

test('MS-CHAPv1 RFC 3079 §2 128-bit start key', () => {
  const g = 'mschapv1_rfc2433';
  // Pinned from the same independent Python run: SHA1(hh ‖ hh ‖ challenge)[0:16].
  assert.equal(hex(mschapV1StartKey(vs(g, 'password'), vx(g, 'challenge'))), 'cfd3610cd9208ec8134baeff555f76cb');
});
