/**
 * Which HLAKs an authentication yields, by method: the policy over the key math in
 * src/crypto/mschap.ts, here because it reads the backend's AuthRequest. Pure.
 */
import { SstpdError } from '../common/errors.js';
import { HLAK_LEN, hashNtPasswordHash, mschapV1Hlaks, mschapV2ServerHlak, ntPasswordHash, type Hlak } from '../crypto/mschap.js';
import type { AuthRequest } from './backend.js';

/**
 * The server's HLAK for crypto binding, equal to what the Linux sstpc (1.0.17/1.0.18, --user/--password,
 * no pppd plugin) computes. sstpc snoops the first CHAP Response whose Value-Size is 49 and runs the
 * MS-CHAPv2 RFC 3079 derivation on value bytes 24..47: for MS-CHAPv1 those are the v1 NT-Response, so its
 * v1 HLAK is the v2 formula over the v1 NT-Response (not accel-ppp's start key). PAP / CHAP-MD5: zeros.
 */
export function hlakFor(
  kind: AuthRequest['kind'],
  password: string,
  request: AuthRequest | { readonly ntResponse: Buffer },
): Buffer {
  if (kind === 'pap' || kind === 'chap-md5') return Buffer.alloc(HLAK_LEN);
  const nt = 'ntResponse' in request ? request.ntResponse : undefined;
  if (nt?.length !== 24) throw new SstpdError('E_AUTH_HLAK_INPUT', `${kind}: HLAK needs the 24-byte NT-Response`);
  return mschapV2ServerHlak(password, nt);
}

/** Every HLAK a client may bind with after this authentication, in the order to try (see `HlakForm`). */
export function hlaksFor(password: string, request: AuthRequest): Hlak[] {
  switch (request.kind) {
    case 'pap':
    case 'chap-md5':
      return [{ label: 'zero', key: Buffer.alloc(HLAK_LEN) }];
    case 'mschap-v2':
      return [{ label: 'ms-sstp', key: hlakFor(request.kind, password, request) }];
    case 'mschap-v1':
      if (request.ntResponse.length !== 24) throw new SstpdError('E_AUTH_HLAK_INPUT', 'mschap-v1: HLAK needs the 24-byte NT-Response');
      return mschapV1Hlaks(hashNtPasswordHash(ntPasswordHash(password)), request.challenge, request.ntResponse);
  }
}
