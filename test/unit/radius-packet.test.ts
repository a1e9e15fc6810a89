/**
 * The RADIUS codec against every `radius_*`, `ms_mppe_keys`, `mschapv2_radius_attrs` vector (and
 * the RADIUS part of `chap_md5`), byte-exact both ways; malformed packets raise E_RADIUS_DECODE.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ATTR, MS, VENDOR_MICROSOFT } from '../../src/radius/attributes.js';
import { parseVendorDictionary } from '../../src/config/radius-dictionary.js';
import {
  CODE,
  attr,
  chapResponse,
  decodePacket,
  decodeVsa,
  decryptMppeKey,
  encodePacket,
  encryptMppeKey,
  first,
  hidePassword,
  maPlaceholder,
  revealMsChapMppeKeys,
  sealAccessRequest,
  sealComputedRequest,
  sealResponse,
  unhidePassword,
  verifyAccessRequestMa,
  verifyComputedRequest,
  verifyResponse,
  vsa,
  type RadiusPacket,
} from '../../src/radius/packet.js';
import { DecodeError } from '../../src/common/errors.js';
import { vs, vx } from '../support/vectors.js';

const R = 'radius_rfc2865';
const hex = (b: Buffer): string => b.toString('hex');
const secretOf = (group: string): Buffer => Buffer.from(vs(group, 'secret'), 'utf8');

/** The packet with its MA value zeroed again, as the sender had it before sealing. */
function unsealed(p: RadiusPacket): RadiusPacket {
  return { ...p, attributes: p.attributes.map((a) => (a.type === ATTR.MESSAGE_AUTHENTICATOR ? maPlaceholder() : a)) };
}

test('RFC 2865 §7.1: decode, re-encode, User-Password hiding, Accept authenticator', () => {
  const s = secretOf(R);
  const reqBytes = vx(R, 'ex71_access_request');
  const req = decodePacket(reqBytes);
  assert.equal(req.code, CODE.ACCESS_REQUEST);
  assert.equal(hex(req.authenticator), vs(R, 'ex71_request_authenticator'));
  assert.deepEqual(encodePacket(req), reqBytes);
  const hidden = hidePassword(Buffer.from(vs(R, 'ex71_user_password_plain')), s, req.authenticator);
  assert.equal(hex(hidden), vs(R, 'ex71_user_password_hidden'));
  assert.deepEqual(first(req, ATTR.USER_PASSWORD), hidden);
  assert.equal(unhidePassword(hidden, s, req.authenticator).toString(), 'arctangent');
  const accept = vx(R, 'ex71_access_accept');
  assert.deepEqual(verifyResponse(accept, req.authenticator, s), { authenticator: true, messageAuthenticator: 'absent' });
  const re = sealResponse(decodePacket(accept), req.authenticator, s);
  assert.deepEqual(re, accept);
  assert.equal(hex(decodePacket(re).authenticator), vs(R, 'ex71_response_authenticator'));
  assert.equal(verifyResponse(accept, Buffer.alloc(16), s).authenticator, false, 'wrong request authenticator');
  assert.equal(verifyResponse(accept, req.authenticator, Buffer.from('wrong')).authenticator, false, 'wrong secret');
});

test('RFC 2865 §7.2/§7.3: CHAP accept, challenge and reject verify; both passwords hide', () => {
  const s = secretOf(R);
  const chap = decodePacket(vx(R, 'ex72_access_request_chap'));
  assert.equal(verifyResponse(vx(R, 'ex72_access_accept'), chap.authenticator, s).authenticator, true);
  const r1 = decodePacket(vx(R, 'ex73_access_request_1'));
  // As published, the second request's State (18 10 …) claims 16 bytes but carries 8: it overruns
  // the packet, so a strict decoder refuses it; its authenticator and password are read raw.
  const r2bytes = vx(R, 'ex73_access_request_2');
  assert.throws(() => decodePacket(r2bytes), /attribute 24 overruns/);
  const r2auth = r2bytes.subarray(4, 20);
  assert.equal(hex(hidePassword(Buffer.from(vs(R, 'ex73_user_password_1_plain')), s, r1.authenticator)), hex(first(r1, 2)!));
  assert.equal(hex(hidePassword(Buffer.from(vs(R, 'ex73_user_password_2_plain')), s, r2auth)), hex(r2bytes.subarray(29, 45)));
  assert.equal(verifyResponse(vx(R, 'ex73_access_challenge'), r1.authenticator, s).authenticator, true);
  assert.equal(verifyResponse(vx(R, 'ex73_access_reject'), r2auth, s).authenticator, true);
  assert.equal(decodePacket(vx(R, 'ex73_access_challenge')).code, CODE.ACCESS_CHALLENGE);
});

test('User-Password: a 28-byte password chains two blocks', () => {
  const g = 'radius_user_password_long';
  const ra = vx(g, 'request_authenticator');
  const hidden = hidePassword(Buffer.from(vs(g, 'password')), secretOf(g), ra);
  assert.equal(hex(hidden), vs(g, 'hidden'));
  assert.equal(unhidePassword(hidden, secretOf(g), ra).toString(), vs(g, 'password'));
  assert.throws(() => hidePassword(Buffer.alloc(129, 1), secretOf(g), ra), { code: 'E_RADIUS_ENCODE' });
  assert.throws(() => unhidePassword(Buffer.alloc(15), secretOf(g), ra), { code: 'E_RADIUS_DECODE' });
});

test('Message-Authenticator first: Access-Request and Access-Accept, sealed byte-exact', () => {
  const g = 'radius_message_authenticator';
  const s = secretOf(g);
  const reqBytes = vx(g, 'access_request');
  const req = decodePacket(reqBytes);
  assert.equal(req.attributes[0]!.type, ATTR.MESSAGE_AUTHENTICATOR);
  assert.equal(hex(req.attributes[0]!.value), vs(g, 'access_request_message_authenticator'));
  assert.deepEqual(sealAccessRequest(unsealed(req), s), reqBytes);
  assert.equal(verifyAccessRequestMa(reqBytes, s), 'valid');
  const acc = vx(g, 'access_accept');
  assert.deepEqual(sealResponse(unsealed(decodePacket(acc)), req.authenticator, s), acc);
  assert.deepEqual(verifyResponse(acc, req.authenticator, s), { authenticator: true, messageAuthenticator: 'valid' });
  // A flipped MA byte with a recomputed Response Authenticator: authenticator fine, MA invalid.
  const forged = decodePacket(acc);
  const bad = { ...forged, attributes: forged.attributes.map((a) => (a.type === 80 ? attr(80, Buffer.alloc(16, 7)) : a)) };
  const forgedBytes = encodePacket(bad);
  // Sealing would recompute the MA, so only the Response Authenticator is recomputed, by hand.
  const reAuth = Buffer.from(forgedBytes);
  req.authenticator.copy(reAuth, 4);
  createHash('md5').update(reAuth).update(s).digest().copy(reAuth, 4);
  assert.deepEqual(verifyResponse(reAuth, req.authenticator, s), { authenticator: true, messageAuthenticator: 'invalid' });
});

test('Accounting-Request (Start) and its response', () => {
  const g = 'radius_accounting';
  const s = secretOf(g);
  const bytes = vx(g, 'accounting_request_start');
  const p = decodePacket(bytes);
  assert.deepEqual(sealComputedRequest(p, s), bytes);
  assert.equal(hex(p.authenticator), vs(g, 'request_authenticator'));
  assert.deepEqual(verifyComputedRequest(bytes, s), { authenticator: true, messageAuthenticator: 'absent' });
  const resp = vx(g, 'accounting_response');
  assert.deepEqual(sealResponse({ code: CODE.ACCOUNTING_RESPONSE, identifier: p.identifier, attributes: [] }, p.authenticator, s), resp);
  assert.equal(verifyResponse(resp, p.authenticator, s).authenticator, true);
});

test('Disconnect-Request with MA; ACK without and with MA over the request authenticator', () => {
  const g = 'radius_disconnect';
  const s = secretOf(g);
  const bytes = vx(g, 'disconnect_request');
  const p = decodePacket(bytes);
  assert.equal(hex(first(p, ATTR.MESSAGE_AUTHENTICATOR)!), vs(g, 'message_authenticator'));
  assert.deepEqual(sealComputedRequest(unsealed(p), s), bytes);
  assert.deepEqual(verifyComputedRequest(bytes, s), { authenticator: true, messageAuthenticator: 'valid' });
  assert.equal(verifyComputedRequest(bytes, Buffer.from('nope')).authenticator, false);
  const ack = { code: CODE.DISCONNECT_ACK, identifier: p.identifier };
  assert.deepEqual(sealResponse({ ...ack, attributes: [] }, p.authenticator, s), vx(g, 'disconnect_ack'));
  const withMa = sealResponse({ ...ack, attributes: [maPlaceholder()] }, p.authenticator, s);
  assert.deepEqual(withMa, vx(g, 'disconnect_ack_with_ma'));
  assert.equal(hex(first(decodePacket(withMa), 80)!), vs(g, 'disconnect_ack_ma'));
});

test('MS-MPPE-Send/Recv-Key: encrypt to the vector, decrypt back, VSA framing', () => {
  const g = 'ms_mppe_keys';
  const s = secretOf(g);
  const ra = vx(g, 'request_authenticator');
  const send = encryptMppeKey(vx(g, 'send_key_plain'), 0x8001, s, ra);
  const recv = encryptMppeKey(vx(g, 'recv_key_plain'), 0x8002, s, ra);
  assert.equal(hex(send), vs(g, 'ms_mppe_send_key_value'));
  assert.equal(hex(recv), vs(g, 'ms_mppe_recv_key_value'));
  assert.deepEqual(decryptMppeKey(send, s, ra), vx(g, 'send_key_plain'));
  assert.deepEqual(decryptMppeKey(recv, s, ra), vx(g, 'recv_key_plain'));
  const a = vsa(VENDOR_MICROSOFT, MS.MPPE_SEND_KEY, send);
  assert.equal(hex(Buffer.concat([Buffer.from([a.type, a.value.length + 2]), a.value])), vs(g, 'send_key_radius_attribute'));
  assert.deepEqual(decodeVsa(a.value), [{ vendor: 311, type: 16, value: send }]);
  assert.throws(() => decryptMppeKey(send, Buffer.from('other'), ra), { code: 'E_RADIUS_DECODE' });
  const noMsb = Buffer.from(send);
  noMsb[0] = 0x00;
  assert.throws(() => decryptMppeKey(noMsb, s, ra), /high bit/);
});

test('MS-CHAP-MPPE-Keys reveal LM and NT keys', () => {
  const s = Buffer.from('testing123');
  const ra = Buffer.alloc(16, 3);
  const plain = Buffer.concat([Buffer.alloc(8, 1), Buffer.alloc(16, 2), Buffer.alloc(8)]);
  const hidden = hidePassword(plain, s, ra); // same chain as User-Password
  const { lmKey, ntKey } = revealMsChapMppeKeys(hidden, s, ra);
  assert.deepEqual(lmKey, Buffer.alloc(8, 1));
  assert.deepEqual(ntKey, Buffer.alloc(16, 2));
});

test('MS-CHAPv2 VSAs of the RFC 2759 example frame byte-exact', () => {
  const g = 'mschapv2_radius_attrs';
  const enc = (a: { type: number; value: Buffer }): string => hex(Buffer.concat([Buffer.from([a.type, a.value.length + 2]), a.value]));
  const challenge = Buffer.from('5b5d7c7d7b3f2f3e3c2c602132262628', 'hex');
  assert.equal(enc(vsa(311, MS.CHAP_CHALLENGE, challenge)), vs(g, 'ms_chap_challenge_attribute'));
  assert.equal(enc(vsa(311, MS.CHAP2_RESPONSE, vx(g, 'ms_chap2_response_value'))), vs(g, 'ms_chap2_response_attribute'));
  const success = decodeVsa(vx(g, 'ms_chap2_success_attribute').subarray(2));
  assert.equal(success.length, 1);
  assert.equal(success[0]!.type, MS.CHAP2_SUCCESS);
  assert.equal(success[0]!.value.subarray(1).toString(), 'S=407A5589115FD0D6209F510FE9C04566932CDA56');
});

test('CHAP-Password value of the chap_md5 vector', () => {
  const g = 'chap_md5';
  const resp = chapResponse(1, Buffer.from(vs(g, 'secret')), vx(g, 'challenge'));
  assert.equal(hex(Buffer.concat([Buffer.from([1]), resp])), vs(g, 'radius_chap_password_value'));
});

test('malformed packets are DecodeErrors; padding after Length is ignored', () => {
  const good = vx(R, 'ex71_access_accept');
  assert.deepEqual(decodePacket(Buffer.concat([good, Buffer.alloc(5, 0xee)])), decodePacket(good));
  const bad = (b: Buffer, re: RegExp): void => {
    assert.throws(() => decodePacket(b), (e: unknown) => e instanceof DecodeError && e.code === 'E_RADIUS_DECODE' && re.test(e.message));
  };
  bad(good.subarray(0, 19), /shorter than the header/);
  bad(good.subarray(0, good.length - 1), /exceeds the datagram/);
  const lenSmall = Buffer.from(good);
  lenSmall.writeUInt16BE(19, 2);
  bad(lenSmall, /length 19/);
  const big = Buffer.alloc(5000);
  big.writeUInt16BE(4097, 2);
  bad(big, /length 4097/);
  const zeroAttr = Buffer.from(good);
  zeroAttr[21] = 0;
  bad(zeroAttr, /has length 0/);
  const overrun = Buffer.from(good);
  overrun[21] = 200;
  bad(overrun, /overruns/);
  const cut = Buffer.from(good.subarray(0, 21));
  cut.writeUInt16BE(21, 2);
  bad(cut, /truncated attribute header/);
});

test('encode refuses empty or oversized values and packets over 4096 bytes', () => {
  const base = { code: 1, identifier: 1, authenticator: Buffer.alloc(16) };
  assert.throws(() => encodePacket({ ...base, attributes: [attr(1, Buffer.alloc(0))] }), { code: 'E_RADIUS_ENCODE' });
  assert.throws(() => encodePacket({ ...base, attributes: [attr(1, Buffer.alloc(254))] }), { code: 'E_RADIUS_ENCODE' });
  assert.throws(() => encodePacket({ ...base, attributes: Array.from({ length: 17 }, () => attr(1, Buffer.alloc(253))) }), /exceeds 4096/);
});

test('vendor dictionary files in FreeRADIUS format', () => {
  const text = [
    '# comment',
    'VENDOR\t\tMikrotik\t\t14988',
    'BEGIN-VENDOR\tMikrotik',
    'ATTRIBUTE\tMikrotik-Recv-Limit\t1\tinteger',
    'ATTRIBUTE\tMikrotik-Rate-Limit\t8\tstring',
    'END-VENDOR\tMikrotik',
    'VENDOR Odd 99 format=2,1',
  ].join('\n');
  const d = parseVendorDictionary(text, 'mikrotik');
  assert.equal(d?.id, 14988);
  assert.deepEqual(d?.attributes.map((a) => [a.name, a.type, a.kind]), [
    ['Mikrotik-Recv-Limit', 1, 'integer'],
    ['Mikrotik-Rate-Limit', 8, 'string'],
  ]);
  assert.equal(parseVendorDictionary(text, 'Odd'), undefined, 'other VSA layouts are not understood');
  assert.equal(parseVendorDictionary(text, 'Nobody'), undefined);
});
