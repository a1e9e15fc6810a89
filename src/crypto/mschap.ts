/**
 * MS-CHAP / MPPE key math (RFC 2433, RFC 2759, RFC 3079) and the SSTP HLAK, shared by the PPP
 * authenticators and cipher (src/ppp) and the auth backends (src/auth). Pure functions; MD4 and DES
 * come from legacy.ts.
 */
import { createHash } from 'node:crypto';
import { desEncrypt, md4 } from './legacy.js';

/**
 * How an HLAK was built (logged with `binding-verified` as `hlak`):
 * - `zero`: PAP, CHAP-MD5 (no keys);
 * - `ms-sstp`: MS-CHAPv2, the form MS-SSTP defines (RFC 3079 master keys);
 * - `sstpc`: MS-CHAPv1 as plain `sstpc --user/--password` computes it (the MS-CHAPv2 formula over
 *   the v1 NT-Response);
 * - `mppe-keys`: MS-CHAPv1 from pppd's MPPE keys (sstpc with its pppd plugin, as NetworkManager-sstp
 *   runs it; accel-ppp): the one RFC 3079 v1 start key twice.
 */
export type HlakForm = 'zero' | 'ms-sstp' | 'sstpc' | 'mppe-keys';

export interface Hlak {
  readonly label: HlakForm;
  /** 32 bytes. */
  readonly key: Buffer;
}

export const HLAK_LEN = 32;

function sha1(...parts: Uint8Array[]): Buffer {
  const h = createHash('sha1');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** The user part of `DOMAIN\user` (last backslash, as pppd and Windows do); the name itself otherwise. */
export function stripDomain(name: string): string {
  return name.slice(name.lastIndexOf('\\') + 1);
}

/** MD4 of the UTF-16LE password, no terminator (RFC 2759 §8.3). Length limits are the config's job. */
export function ntPasswordHash(password: string): Buffer {
  return md4(Buffer.from(password, 'utf16le'));
}

export function hashNtPasswordHash(passwordHash: Buffer): Buffer {
  return md4(passwordHash);
}

/** RFC 2759 §8.5: three DES blocks under the zero-padded 21-byte password hash. */
export function challengeResponse(challenge8: Buffer, passwordHash16: Buffer): Buffer {
  const z = Buffer.concat([passwordHash16, Buffer.alloc(5)]);
  return Buffer.concat([
    desEncrypt(challenge8, z.subarray(0, 7)),
    desEncrypt(challenge8, z.subarray(7, 14)),
    desEncrypt(challenge8, z.subarray(14, 21)),
  ]);
}

/** RFC 2759 §8.2; only the user part of the name is hashed. Names travel as UTF-8 bytes. */
export function challengeHash(peerChallenge: Buffer, authChallenge: Buffer, username: string): Buffer {
  return sha1(peerChallenge, authChallenge, Buffer.from(stripDomain(username), 'utf8')).subarray(0, 8);
}

export function generateNtResponse(
  authChallenge: Buffer,
  peerChallenge: Buffer,
  username: string,
  password: string,
): Buffer {
  return challengeResponse(challengeHash(peerChallenge, authChallenge, username), ntPasswordHash(password));
}

const MAGIC_SIGN = Buffer.from('Magic server to client signing constant', 'ascii');
const MAGIC_PAD = Buffer.from('Pad to make it do more than one iteration', 'ascii');

/** RFC 2759 §8.7: the "S=" + 40 upper-case hex digits the server proves itself with. */
export function generateAuthenticatorResponse(
  password: string,
  ntResponse: Buffer,
  peerChallenge: Buffer,
  authChallenge: Buffer,
  username: string,
): string {
  const hashHash = hashNtPasswordHash(ntPasswordHash(password));
  const digest = sha1(hashHash, ntResponse, MAGIC_SIGN);
  const auth = sha1(digest, challengeHash(peerChallenge, authChallenge, username), MAGIC_PAD);
  return 'S=' + auth.toString('hex').toUpperCase();
}

/** RFC 2433 NT response: no peer challenge, no user name. */
export function mschapV1NtResponse(challenge8: Buffer, password: string): Buffer {
  return challengeResponse(challenge8, ntPasswordHash(password));
}

const MAGIC1 = Buffer.from('This is the MPPE Master Key', 'ascii');
const MAGIC2 = Buffer.from(
  'On the client side, this is the send key; on the server side, it is the receive key.',
  'ascii',
);
const MAGIC3 = Buffer.from(
  'On the client side, this is the receive key; on the server side, it is the send key.',
  'ascii',
);
const SHS_PAD1 = Buffer.alloc(40, 0x00);
const SHS_PAD2 = Buffer.alloc(40, 0xf2);

/** RFC 3079 §3.4 GetMasterKey. */
export function masterKey(passwordHashHash: Buffer, ntResponse: Buffer): Buffer {
  return sha1(passwordHashHash, ntResponse, MAGIC1).subarray(0, 16);
}

/** RFC 3079 §3.4 GetAsymmetricStartKey: Magic3 for server-send / client-receive, Magic2 otherwise. */
export function asymmetricStartKey(masterKey16: Buffer, len: number, isSend: boolean, isServer: boolean): Buffer {
  const magic = isSend === isServer ? MAGIC3 : MAGIC2;
  return sha1(masterKey16, SHS_PAD1, magic, SHS_PAD2).subarray(0, len);
}

/** RFC 3079 §3.2 GetNewKeyFromSHA (also the §2 v1 variant: same formula). */
export function getNewKeyFromSha(startKey: Buffer, sessionKey: Buffer, len: number): Buffer {
  return sha1(startKey.subarray(0, len), SHS_PAD1, sessionKey.subarray(0, len), SHS_PAD2).subarray(0, len);
}

/** The first MPPE session key from a start key, with the RFC 3079 §3.5 40/56-bit salts. */
export function initialSessionKey(startKey: Buffer, bits: 40 | 56 | 128): Buffer {
  const len = bits === 128 ? 16 : 8;
  const key = Buffer.from(getNewKeyFromSha(startKey, startKey, len));
  if (bits === 40) key.set([0xd1, 0x26, 0x9e], 0);
  if (bits === 56) key[0] = 0xd1;
  return key;
}

/** MS-SSTP HLAK for MS-CHAPv2: server MasterReceiveKey(16) ‖ MasterSendKey(16). */
export function mschapV2ServerHlak(password: string, ntResponse: Buffer): Buffer {
  return hlakFromHashHash(hashNtPasswordHash(ntPasswordHash(password)), ntResponse);
}

/**
 * The same from PasswordHashHash, which is all a RADIUS server reveals for MS-CHAPv1 (the NT-Key of
 * MS-CHAP-MPPE-Keys, RFC 2548 §2.4.1, as FreeRADIUS fills it).
 */
export function hlakFromHashHash(passwordHashHash: Buffer, ntResponse: Buffer): Buffer {
  const mk = masterKey(passwordHashHash, ntResponse);
  return Buffer.concat([asymmetricStartKey(mk, 16, false, true), asymmetricStartKey(mk, 16, true, true)]);
}

/** RFC 3079 §2 128-bit MS-CHAPv1 start key (same both directions): SHA1(hh ‖ hh ‖ challenge)[0:16]. */
export function mschapV1StartKey(password: string, challenge8: Buffer): Buffer {
  return mschapV1StartKeyFromHashHash(hashNtPasswordHash(ntPasswordHash(password)), challenge8);
}

/** The same from PasswordHashHash (RADIUS MS-CHAP-MPPE-Keys gives it, as accel-ppp uses it). */
export function mschapV1StartKeyFromHashHash(passwordHashHash: Buffer, challenge8: Buffer): Buffer {
  return sha1(passwordHashHash, passwordHashHash, challenge8).subarray(0, 16);
}

/**
 * Both MS-CHAPv1 HLAKs clients compute (MS-SSTP defines none for v1), from PasswordHashHash:
 * - `sstpc`: plain sstpc (1.0.17/1.0.18, --user/--password) — see `hlakFor` (src/auth/hlak.ts);
 * - `mppe-keys`: clients that take pppd's MPPE keys (sstpc's pppd plugin, i.e. NetworkManager-sstp;
 *   accel-ppp on the server side): MasterSendKey ‖ MasterReceiveKey where pppd sets both to the one
 *   RFC 3079 v1 start key, so K ‖ K (the order does not matter).
 * Ordered by how common the client is.
 */
export function mschapV1Hlaks(passwordHashHash: Buffer, challenge8: Buffer, ntResponse: Buffer): Hlak[] {
  const k = mschapV1StartKeyFromHashHash(passwordHashHash, challenge8);
  return [
    { label: 'sstpc', key: hlakFromHashHash(passwordHashHash, ntResponse) },
    { label: 'mppe-keys', key: Buffer.concat([k, k]) },
  ];
}

/** RFC 3079 §3 server start keys for MS-CHAPv2: send = Magic3 key, receive = Magic2 key (16 bytes). */
export function mschapV2ServerMppeKeys(password: string, ntResponse: Buffer): { send: Buffer; recv: Buffer } {
  const mk = masterKey(hashNtPasswordHash(ntPasswordHash(password)), ntResponse);
  return { send: asymmetricStartKey(mk, 16, true, true), recv: asymmetricStartKey(mk, 16, false, true) };
}

/** RFC 3079 §2.4 for MS-CHAPv1 (128-bit): one start key for both directions. */
export function mschapV1MppeKeys(password: string, challenge8: Buffer): { send: Buffer; recv: Buffer } {
  const k = mschapV1StartKey(password, challenge8);
  return { send: k, recv: Buffer.from(k) };
}
