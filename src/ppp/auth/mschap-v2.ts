/**
 * MS-CHAPv2 (RFC 2759, LCP `c2 23 81`): 16-byte challenge; Response value = PeerChallenge(16) ‖ zero(8) ‖
 * NT-Response(24) ‖ Flags(1). Success carries the backend's "S=" proof; Failure always carries C= (RFC 2759
 * §6 makes it mandatory; accel-ppp omits it).
 */
import type { Authenticator, AuthenticatorOptions } from './authenticator.js';
import { ChapAuthenticator, SUCCESS_TEXT, upperHex, type ChapVariant } from './chap-common.js';
import { MSCHAP_RESPONSE_SIZE } from './mschap-v1.js';

export const MSCHAP_V2_CHALLENGE_SIZE = 16;

const mschapV2: ChapVariant = {
  challengeSize: MSCHAP_V2_CHALLENGE_SIZE,
  parseResponse(id, challenge, { value, name }) {
    if (value.length !== MSCHAP_RESPONSE_SIZE) return undefined;
    return {
      kind: 'mschap-v2',
      username: name,
      id,
      authenticatorChallenge: challenge,
      peerChallenge: value.subarray(0, 16),
      ntResponse: value.subarray(24, 48),
    };
  },
  // A RADIUS server's MS-CHAP2-Success may carry its own M= text: then it goes out as it came.
  successMessage: (accept) => {
    const s = accept.authenticatorResponse;
    if (!s) return undefined;
    return s.includes(' M=') ? s : `${s} M=${SUCCESS_TEXT}`;
  },
  failureMessage: (code, message, random) => `E=${code} R=0 C=${upperHex(random(16))} V=3 M=${message}`,
};

export function createMschapV2Authenticator(opts: AuthenticatorOptions): Authenticator {
  return new ChapAuthenticator(mschapV2, opts);
}
