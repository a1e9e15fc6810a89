/**
 * MS-CHAPv1 (RFC 2433, LCP `c2 23 80`): 8-byte challenge; Response value = LM(24) ‖ NT(24) ‖ UseNT(1).
 * LM-only responses (UseNT = 0) are refused outright: the LM hash is obsolete.
 */
import type { Authenticator, AuthenticatorOptions } from './authenticator.js';
import { ChapAuthenticator, SUCCESS_TEXT, upperHex, type ChapVariant } from './chap-common.js';

export const MSCHAP_V1_CHALLENGE_SIZE = 8;
export const MSCHAP_RESPONSE_SIZE = 49;

const mschapV1: ChapVariant = {
  challengeSize: MSCHAP_V1_CHALLENGE_SIZE,
  parseResponse(id, challenge, { value, name }) {
    if (value.length !== MSCHAP_RESPONSE_SIZE) return undefined;
    if (value[48] !== 1) return { refuse: 'LM-only MS-CHAPv1 response refused' };
    return { kind: 'mschap-v1', username: name, id, challenge, ntResponse: value.subarray(24, 48) };
  },
  successMessage: () => SUCCESS_TEXT,
  // R=0: no retry; C= is still sent (clients parse it), a fresh 8-byte challenge as RFC 2433 §5 says.
  failureMessage: (code, _message, random) => `E=${code} R=0 C=${upperHex(random(8))} V=2`,
};

export function createMschapV1Authenticator(opts: AuthenticatorOptions): Authenticator {
  return new ChapAuthenticator(mschapV1, opts);
}
