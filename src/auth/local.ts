/**
 * Users from the config (`authentication local-users`): cleartext passwords, so every method can be
 * verified here, like accel-ppp's chap-secrets. Synchronous inside; async only to fit AuthBackend.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { LocalUser } from '../config/model.js';
import {
  challengeResponse,
  generateAuthenticatorResponse,
  generateNtResponse,
  mschapV1MppeKeys,
  mschapV2ServerMppeKeys,
  ntPasswordHash,
  stripDomain,
} from '../crypto/mschap.js';
import { hlaksFor } from './hlak.js';
import type { AuthAccept, AuthBackend, AuthContext, AuthReject, AuthRequest, AuthResult } from './backend.js';

export const MSCHAP_ERROR_AUTH_FAILURE = 691;
export const MSCHAP_ERROR_ACCOUNT_DISABLED = 647;
const FAILED_TEXT = 'Authentication failed';

export class LocalAuthBackend implements AuthBackend {
  constructor(private readonly users: ReadonlyMap<string, LocalUser>) {}

  authenticate(req: AuthRequest, _ctx: AuthContext): Promise<AuthResult> {
    return Promise.resolve(this.verify(req));
  }

  /**
   * The password is checked before the disabled flag, so 647 (disabled) is only revealed to someone
   * who knows the password; a disabled account with a wrong password is just a wrong password.
   */
  verify(req: AuthRequest): AuthResult {
    const user = this.lookup(req);
    if (user === undefined) return reject(req.username, 'unknown user', MSCHAP_ERROR_AUTH_FAILURE);
    if (!passwordMatches(req, user.password)) {
      return reject(req.username, 'wrong password', MSCHAP_ERROR_AUTH_FAILURE);
    }
    if (user.disabled) {
      return reject(req.username, 'account disabled', MSCHAP_ERROR_ACCOUNT_DISABLED, 'Account disabled');
    }
    return accept(req, user);
  }

  /** Exact, case-sensitive name; MS-CHAP names may carry `DOMAIN\`, then the user part is tried too. */
  private lookup(req: AuthRequest): LocalUser | undefined {
    const exact = this.users.get(req.username);
    if (exact !== undefined || (req.kind !== 'mschap-v2' && req.kind !== 'mschap-v1')) return exact;
    return this.users.get(stripDomain(req.username));
  }
}

function passwordMatches(req: AuthRequest, password: string): boolean {
  switch (req.kind) {
    case 'pap':
      // Digests make the lengths equal, so the comparison itself leaks nothing.
      return safeEqual(sha256(req.password), sha256(password));
    case 'chap-md5': {
      const md5 = createHash('md5').update(Buffer.from([req.id])).update(password, 'utf8').update(req.challenge);
      return safeEqual(md5.digest(), req.response);
    }
    case 'mschap-v1':
      return safeEqual(challengeResponse(req.challenge, ntPasswordHash(password)), req.ntResponse);
    case 'mschap-v2': {
      const expected = generateNtResponse(req.authenticatorChallenge, req.peerChallenge, req.username, password);
      return safeEqual(expected, req.ntResponse);
    }
  }
}

function accept(req: AuthRequest, user: LocalUser): AuthAccept {
  const result: AuthAccept = {
    ok: true,
    username: user.name,
    hlaks: hlaksFor(user.password, req),
    ...(user.staticIp !== undefined && { staticIp: user.staticIp }),
    ...(user.rateLimit !== undefined && { rateLimit: user.rateLimit }),
  };
  if (req.kind === 'mschap-v1') return { ...result, mppeKeys: mschapV1MppeKeys(user.password, req.challenge) };
  if (req.kind !== 'mschap-v2') return result;
  const mppeKeys = mschapV2ServerMppeKeys(user.password, req.ntResponse);
  const authenticatorResponse = generateAuthenticatorResponse(
    user.password,
    req.ntResponse,
    req.peerChallenge,
    req.authenticatorChallenge,
    req.username,
  );
  return { ...result, authenticatorResponse, mppeKeys };
}

function reject(username: string, reason: string, msChapError: number, message = FAILED_TEXT): AuthReject {
  return { ok: false, username, reason, msChapError, message };
}

const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
