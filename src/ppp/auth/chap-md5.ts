/**
 * CHAP with MD5 (RFC 1994, LCP `c2 23 05`): 16-byte challenge, Response value = MD5(id ‖ secret ‖ challenge),
 * checked by the backend.
 */
import type { Authenticator, AuthenticatorOptions } from './authenticator.js';
import { ChapAuthenticator, SUCCESS_TEXT, type ChapVariant } from './chap-common.js';

export const CHAP_MD5_CHALLENGE_SIZE = 16;

const chapMd5: ChapVariant = {
  challengeSize: CHAP_MD5_CHALLENGE_SIZE,
  parseResponse(id, challenge, { value, name }) {
    if (value.length !== 16) return undefined;
    return { kind: 'chap-md5', username: name, id, challenge, response: value };
  },
  successMessage: () => SUCCESS_TEXT,
  failureMessage: (_code, message) => message,
};

export function createChapMd5Authenticator(opts: AuthenticatorOptions): Authenticator {
  return new ChapAuthenticator(chapMd5, opts);
}
