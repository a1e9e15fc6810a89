import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { AuthAccept, AuthRequest, AuthResult } from '../../src/auth/backend.js';
import { LocalAuthBackend } from '../../src/auth/local.js';
import type { LocalUser } from '../../src/config/model.js';
import { hashNtPasswordHash, mschapV1NtResponse } from '../../src/crypto/mschap.js';
import { vs, vx } from '../support/vectors.js';

const V2 = 'mschapv2_rfc2759';
const CTX = { sessionId: 's1', callingStationId: '198.51.100.7' };

const list: LocalUser[] = [
  { name: 'User', password: 'clientPass', disabled: false, staticIp: '192.0.2.50', rateLimit: { downloadKbit: 1000, uploadKbit: 500 } },
  { name: 'MyUser', password: 'MyPw', disabled: false },
  { name: 'user', password: 'secret', disabled: false },
  { name: 'off', password: 'pw', disabled: true },
];
const backend = new LocalAuthBackend(new Map(list.map((u) => [u.name, u])));

const v2 = (username: string, nt = vx(V2, 'nt_response')): AuthRequest => ({
  kind: 'mschap-v2',
  username,
  id: 1,
  authenticatorChallenge: vx(V2, 'authenticator_challenge'),
  peerChallenge: vx(V2, 'peer_challenge'),
  ntResponse: nt,
});

function accepted(r: AuthResult): AuthAccept {
  assert.ok(r.ok, `rejected: ${JSON.stringify(r)}`);
  return r;
}

test('MS-CHAPv2 accept: authenticator response, HLAK, static IP and rate limit from the user', async () => {
  const r = accepted(await backend.authenticate(v2('User'), CTX));
  assert.equal(r.username, 'User');
  assert.equal(r.authenticatorResponse, vs(V2, 'authenticator_response'));
  assert.deepEqual(r.hlaks.map((h) => [h.label, h.key.toString('hex')]), [['ms-sstp', vs('sstp_binding_end_to_end', 'hlak_mschapv2')]]);
  assert.equal(r.staticIp, '192.0.2.50');
  assert.deepEqual(r.rateLimit, { downloadKbit: 1000, uploadKbit: 500 });
});

test('MS-CHAPv2: DOMAIN\\User matches the user part; the accept names the local user', () => {
  const r = accepted(backend.verify(v2('CORP\\User')));
  assert.equal(r.username, 'User');
  assert.equal(r.authenticatorResponse, vs(V2, 'authenticator_response'));
});

test('names are exact and case-sensitive', () => {
  // "user" exists with another password, so the v2 vector fails as a wrong password, not a match.
  assert.deepEqual(backend.verify(v2('user')), {
    ok: false,
    username: 'user',
    reason: 'wrong password',
    msChapError: 691,
    message: 'Authentication failed',
  });
  assert.deepEqual(backend.verify({ kind: 'pap', username: 'USER', password: 'secret' }), {
    ok: false,
    username: 'USER',
    reason: 'unknown user',
    msChapError: 691,
    message: 'Authentication failed',
  });
  // Only MS-CHAP names get the domain stripped.
  assert.equal(backend.verify({ kind: 'pap', username: 'CORP\\user', password: 'secret' }).ok, false);
});

test('MS-CHAPv2 wrong NT-Response → wrong password', () => {
  const nt = Buffer.from(vx(V2, 'nt_response'));
  nt[23] ^= 1;
  const r = backend.verify(v2('User', nt));
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.reason, 'wrong password');
});

test('disabled: 647 only with the right password', () => {
  assert.deepEqual(backend.verify({ kind: 'pap', username: 'off', password: 'pw' }), {
    ok: false,
    username: 'off',
    reason: 'account disabled',
    msChapError: 647,
    message: 'Account disabled',
  });
  const wrong = backend.verify({ kind: 'pap', username: 'off', password: 'nope' });
  assert.ok(!wrong.ok);
  assert.equal(wrong.reason, 'wrong password');
  assert.equal(wrong.msChapError, 691);
});

test('PAP: right and wrong password; zero HLAK; no authenticator response', () => {
  const r = accepted(backend.verify({ kind: 'pap', username: 'MyUser', password: 'MyPw' }));
  assert.deepEqual(r.hlaks, [{ label: 'zero', key: Buffer.alloc(32) }]);
  assert.equal(r.authenticatorResponse, undefined);
  assert.equal(r.staticIp, undefined);
  assert.equal(backend.verify({ kind: 'pap', username: 'MyUser', password: 'MyPw ' }).ok, false);
  assert.equal(backend.verify({ kind: 'pap', username: 'MyUser', password: '' }).ok, false);
});

test('CHAP-MD5: the chap_md5 vector verifies; a different id does not', () => {
  const g = 'chap_md5';
  const req = (id: number): AuthRequest => ({
    kind: 'chap-md5',
    username: 'user',
    id,
    challenge: vx(g, 'challenge'),
    response: vx(g, 'response'),
  });
  assert.deepEqual(accepted(backend.verify(req(1))).hlaks, [{ label: 'zero', key: Buffer.alloc(32) }]);
  assert.equal(backend.verify(req(2)).ok, false);
  assert.equal(backend.verify({ ...req(1), response: Buffer.alloc(3) } as AuthRequest).ok, false);
  const expect = createHash('md5').update(Buffer.from([1])).update('secret').update(vx(g, 'challenge')).digest();
  assert.deepEqual(expect, vx(g, 'response'));
});

test('MS-CHAPv1: the RFC 2433 vector verifies; both HLAK forms, sstpc first', () => {
  const g = 'mschapv1_rfc2433';
  const req: AuthRequest = { kind: 'mschap-v1', username: 'MyUser', challenge: vx(g, 'challenge'), ntResponse: vx(g, 'nt_challenge_response') };
  const r = accepted(backend.verify(req));
  assert.deepEqual(r.hlaks.map((h) => h.label), ['sstpc', 'mppe-keys']);
  assert.equal(r.hlaks[0]!.key.toString('hex'), '0d1f969fc1630ac1f7f1a9e11fc419a678a9d1d07e0d05a1298a2ffc8be79934');
  // pppd's MS-CHAPv1 keys (chap_ms.c mppe_set_keys): SHA1(hh ‖ hh ‖ challenge)[0:16] both ways; a
  // plugin client binds with send ‖ recv of those, i.e. the start key twice.
  const hh = hashNtPasswordHash(vx(g, 'nt_password_hash'));
  const k = createHash('sha1').update(hh).update(hh).update(vx(g, 'challenge')).digest().subarray(0, 16);
  assert.equal(r.hlaks[1]!.key.toString('hex'), Buffer.concat([k, k]).toString('hex'));
  assert.deepEqual(r.mppeKeys, { send: k, recv: k }, 'the MPPE start keys are the same key');
  const wrong = { ...req, ntResponse: mschapV1NtResponse(vx(g, 'challenge'), 'MyPW') };
  assert.equal(backend.verify(wrong).ok, false);
  assert.equal(accepted(backend.verify({ ...req, username: 'DOM\\MyUser' })).username, 'MyUser');
});

test('authenticate returns a Promise of the same verdict', async () => {
  const p = backend.authenticate({ kind: 'pap', username: 'nobody', password: 'x' }, CTX);
  assert.ok(p instanceof Promise);
  const r = await p;
  assert.ok(!r.ok);
  assert.equal(r.reason, 'unknown user');
});
