/**
 * The seam between PPP authentication and whoever knows the passwords (local users today,
 * RADIUS later). PPP cannot tell which backend answered.
 */
import type { RateLimit } from '../config/model.js';
import type { Hlak } from '../crypto/mschap.js';

export type AuthRequest =
  | { readonly kind: 'pap'; readonly username: string; readonly password: string }
  | {
      readonly kind: 'chap-md5';
      readonly username: string;
      readonly id: number;
      readonly challenge: Buffer;
      readonly response: Buffer; // 16 bytes
    }
  | {
      readonly kind: 'mschap-v1';
      readonly username: string;
      /** The CHAP Identifier (RADIUS MS-CHAP-Response carries it). */
      readonly id?: number;
      readonly challenge: Buffer; // 8 bytes
      readonly ntResponse: Buffer; // 24 bytes
    }
  | {
      readonly kind: 'mschap-v2';
      /** The Name field as sent (may carry DOMAIN\); the backend strips the domain for hashing. */
      readonly username: string;
      readonly id: number;
      readonly authenticatorChallenge: Buffer; // 16 bytes
      readonly peerChallenge: Buffer; // 16 bytes
      readonly ntResponse: Buffer; // 24 bytes
    };

export interface AuthContext {
  /** Also the Acct-Session-Id. */
  readonly sessionId: string;
  /** Client's IP address (Calling-Station-Id). */
  readonly callingStationId: string;
  /** Our address the client connected to (Called-Station-Id). */
  readonly calledStationId?: string;
  /** The session's number on this NAS (NAS-Port). */
  readonly nasPort?: number;
  /** The session's interface name (NAS-Port-Id), chosen before the first Access-Request. */
  readonly nasPortId?: string;
}

/**
 * MPPE start keys (RFC 3079) from the server's point of view, 16 bytes each (40/56-bit use the
 * first 8): MS-CHAPv2 MasterSendKey / MasterReceiveKey, MS-CHAPv1 the one start key both ways,
 * RADIUS MS-MPPE-Send-Key / MS-MPPE-Recv-Key.
 */
export interface MppeKeys {
  /** Encrypts server → client. */
  readonly send: Buffer;
  /** Decrypts client → server. */
  readonly recv: Buffer;
}

/** The HLAK forms live with the key math; re-exported because every backend returns them. */
export type { Hlak, HlakForm } from '../crypto/mschap.js';

/** A route the backend asks for through the session (RADIUS Framed-Route). */
export interface FramedRoute {
  /** "a.b.c.d/len". */
  readonly prefix: string;
  readonly metric?: number;
}

/**
 * What a backend may decide about a session besides yes/no (RADIUS Access-Accept attributes).
 * Absent fields leave the configuration's behaviour in place.
 */
export interface Authorization {
  /** Framed-Pool: lease from this pool instead of the default one. */
  readonly poolName?: string;
  /** Framed-IPv6-Pool (RFC 3162): the session's IPv6 prefix from this `client-ipv6-pool`. */
  readonly ipv6PoolName?: string;
  /** Delegated-IPv6-Prefix-Pool (RFC 6911): the delegated prefix from this `client-ipv6-pool`. */
  readonly delegatedIpv6PoolName?: string;
  /** Session-Timeout: end the session after this many seconds (cause session-timeout). */
  readonly sessionTimeoutS?: number;
  /** Idle-Timeout: end it after this many seconds without data either way (cause idle-timeout). */
  readonly idleTimeoutS?: number;
  /** Acct-Interim-Interval: seconds between accounting Interim-Updates. */
  readonly interimIntervalS?: number;
  /** Class attributes, echoed unchanged in every Accounting-Request. */
  readonly classes?: readonly Buffer[];
  /** MS-Primary/Secondary-DNS-Server: replace the configured name-servers slot by slot. */
  readonly dns?: { readonly primary?: string; readonly secondary?: string };
  readonly routes?: readonly FramedRoute[];
  /** The session is accounted to RADIUS (it authenticated there). */
  readonly accounting?: boolean;
}

export interface AuthAccept extends Authorization {
  readonly ok: true;
  readonly username: string;
  /** MS-CHAPv2: the 42-char "S=<40 hex>" authenticator response. */
  readonly authenticatorResponse?: string;
  /**
   * The SSTP Higher-Layer Authentication Keys (32 bytes each) a client may bind with, tried in
   * order (at least one): MS-CHAPv2 server MasterReceiveKey ‖ MasterSendKey (MS-SSTP §3.3.5.2.3);
   * MS-CHAPv1 both forms clients use (see `HlakForm`); zeros for PAP and CHAP-MD5.
   */
  readonly hlaks: readonly Hlak[];
  /** MS-CHAP(v2) only; absent = MPPE impossible on this session (PAP, CHAP-MD5). */
  readonly mppeKeys?: MppeKeys;
  /** Address the backend assigns (local static-ip, RADIUS Framed-IP-Address). */
  readonly staticIp?: string;
  readonly rateLimit?: RateLimit;
}

export interface AuthReject {
  readonly ok: false;
  readonly username: string;
  /** For the log: why (unknown user, wrong password, disabled, ...). */
  readonly reason: string;
  /** MS-CHAP error code for the Failure packet: 691 auth failure, 647 account disabled. */
  readonly msChapError: number;
  /** Text for the client (PAP Nak / CHAP Failure message). */
  readonly message: string;
}

export type AuthResult = AuthAccept | AuthReject;

export interface AuthBackend {
  authenticate(req: AuthRequest, ctx: AuthContext): Promise<AuthResult>;
}
