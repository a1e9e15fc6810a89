/**
 * The authenticator side of one PPP authentication protocol (PAP, CHAP-MD5, MS-CHAP, MS-CHAPv2),
 * sans-I/O: packets and backend answers in, events out. The PPP link creates one for the method
 * LCP negotiated, calls `start` when LCP opens, and routes every frame of `protocol` to `handle`.
 */
import type { AuthAccept, AuthRequest, AuthResult } from '../../auth/backend.js';
import type { Millis } from '../../common/time.js';

export type AuthEvent =
  /** Send this packet (Code/Id/Length/Data, without PPP header) on `protocol`. */
  | { readonly type: 'send'; readonly packet: Buffer }
  /** Ask the backend; answer later with `backendResult`. At most one outstanding at a time. */
  | { readonly type: 'verify'; readonly request: AuthRequest }
  /** Success packet already emitted as a 'send' before this event. */
  | { readonly type: 'success'; readonly result: AuthAccept }
  /** Failure packet already emitted as a 'send' before this event; the link must terminate. */
  | { readonly type: 'failure'; readonly username: string | undefined; readonly reason: string };

export interface Authenticator {
  /** 0xc023 (PAP) or 0xc223 (CHAP family). */
  readonly protocol: number;
  /** LCP opened: CHAP variants send their Challenge now; PAP just waits. */
  start(now: Millis): AuthEvent[];
  /** One packet of `protocol` from the peer (Code/Id/Length/Data). Malformed → ignored or failure, never throws. */
  handle(now: Millis, packet: Buffer): AuthEvent[];
  /** The backend's answer to the last 'verify'. */
  backendResult(now: Millis, result: AuthResult): AuthEvent[];
  /** Challenge retransmission and the overall auth deadline (failure when the peer never answers). */
  handleTimeout(now: Millis): AuthEvent[];
  nextDeadline(): Millis | undefined;
}

export interface AuthenticatorOptions {
  /** Source of randomness for challenges (injected so tests are deterministic). */
  readonly random: (n: number) => Buffer;
  /** Name sent in CHAP challenges. */
  readonly serverName: string;
  /** Challenge retransmit interval (RFC 1994 restart timer), default 3000 ms. */
  readonly restartMs?: number;
  /** Max challenges sent before giving up, default 10. */
  readonly maxChallenges?: number;
  /** Overall deadline for the peer to authenticate, default 30000 ms. */
  readonly timeoutMs?: number;
}
