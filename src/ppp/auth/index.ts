/**
 * Entry point of PPP authentication: one Authenticator per negotiated method, and the LCP
 * Authentication-Protocol option data that names each method.
 */
import type { AuthProtocol } from '../../config/model.js';
import type { Authenticator, AuthenticatorOptions } from './authenticator.js';
import { PROTO_CHAP, PROTO_PAP } from './chap-common.js';
import { createChapMd5Authenticator } from './chap-md5.js';
import { createMschapV1Authenticator } from './mschap-v1.js';
import { createMschapV2Authenticator } from './mschap-v2.js';
import { createPapAuthenticator } from './pap.js';

export type { AuthEvent, Authenticator, AuthenticatorOptions } from './authenticator.js';
export { AuthPeer, type AuthPeerEvent, type AuthPeerOptions } from './peer.js';
export { PROTO_CHAP, PROTO_PAP } from './chap-common.js';

const CHAP_ALGORITHM: Readonly<Record<Exclude<AuthProtocol, 'pap'>, number>> = {
  chap: 0x05,
  mschap: 0x80,
  'mschap-v2': 0x81,
};

export function createAuthenticator(method: AuthProtocol, opts: AuthenticatorOptions): Authenticator {
  switch (method) {
    case 'pap':
      return createPapAuthenticator(opts);
    case 'chap':
      return createChapMd5Authenticator(opts);
    case 'mschap':
      return createMschapV1Authenticator(opts);
    case 'mschap-v2':
      return createMschapV2Authenticator(opts);
  }
}

/** LCP option 3 data (after Type/Length): `c0 23`, `c2 23 05`, `c2 23 80`, `c2 23 81`. */
export function lcpAuthOption(method: AuthProtocol): Buffer {
  if (method === 'pap') return Buffer.from([PROTO_PAP >> 8, PROTO_PAP & 0xff]);
  return Buffer.from([PROTO_CHAP >> 8, PROTO_CHAP & 0xff, CHAP_ALGORITHM[method]]);
}

/** The inverse, for a peer's Nak; undefined for anything we do not implement (EAP, other CHAP algorithms). */
export function methodFromLcpOption(data: Buffer): AuthProtocol | undefined {
  if (data.length < 2) return undefined;
  const proto = data.readUInt16BE(0);
  if (proto === PROTO_PAP) return data.length === 2 ? 'pap' : undefined;
  if (proto !== PROTO_CHAP || data.length !== 3) return undefined;
  for (const [method, alg] of Object.entries(CHAP_ALGORITHM) as [Exclude<AuthProtocol, 'pap'>, number][]) {
    if (alg === data[2]) return method;
  }
  return undefined;
}
