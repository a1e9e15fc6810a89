/**
 * PAP (RFC 1334 §2, LCP `c0 23`): the server only waits for Authenticate-Request and answers it.
 * Retransmitted Requests while the backend decides are ignored; once decided, every Request gets the same
 * verdict again with its own Identifier (pppd bumps the id on each retransmission; accel-ppp does the same).
 */
import type { AuthResult } from '../../auth/backend.js';
import { Reader } from '../../common/bytes.js';
import { SstpdError } from '../../common/errors.js';
import type { Millis } from '../../common/time.js';
import type { AuthEvent, Authenticator, AuthenticatorOptions } from './authenticator.js';
import {
  DEFAULT_TIMEOUT_MS,
  PROTO_PAP,
  SUCCESS_TEXT,
  TIMEOUT_REASON,
  TIMEOUT_TEXT,
  decodePacket,
  due,
  encodePacket,
  tryDecode,
} from './chap-common.js';

export const PAP_REQUEST = 1;
export const PAP_ACK = 2;
export const PAP_NAK = 3;

export interface PapCredentials {
  readonly username: string;
  readonly password: string;
}

/** Authenticate-Request data: PeerID-Len PeerID Passwd-Len Password (UTF-8). */
export function decodePapRequest(data: Buffer): PapCredentials | undefined {
  return tryDecode(() => {
    const r = new Reader(data, 'pap request');
    const username = r.take(r.u8()).toString('utf8');
    const password = r.take(r.u8()).toString('utf8');
    return { username, password };
  });
}

/** Throws for a name or password over 255 UTF-8 bytes: PAP cannot carry it, and cutting it would mislead. */
export function encodePapRequest(id: number, username: string, password: string): Buffer {
  const u = Buffer.from(username, 'utf8');
  const p = Buffer.from(password, 'utf8');
  if (u.length > 255 || p.length > 255) {
    throw new SstpdError('E_PAP_CREDENTIAL_TOO_LONG', 'PAP carries at most 255 bytes of user name and of password');
  }
  return encodePacket(PAP_REQUEST, id, Buffer.concat([Buffer.from([u.length]), u, Buffer.from([p.length]), p]));
}

/** Ack/Nak data: Msg-Len(1) Message, the message cut to 255 bytes. */
export function encodePapReply(code: number, id: number, message: string): Buffer {
  const m = Buffer.from(message, 'utf8').subarray(0, 255);
  return encodePacket(code, id, Buffer.concat([Buffer.from([m.length]), m]));
}

export function decodePapReply(data: Buffer): string | undefined {
  return tryDecode(() => {
    const r = new Reader(data, 'pap reply');
    return r.take(r.u8()).toString('utf8');
  });
}

type PapState = 'idle' | 'waiting' | 'verifying' | 'succeeded' | 'failed';

export class PapAuthenticator implements Authenticator {
  readonly protocol = PROTO_PAP;
  private state: PapState = 'idle';
  private deadline: Millis | undefined;
  private readonly timeoutMs: number;
  private requestId = 0;
  private username: string | undefined;
  /** Ack or Nak code and text, replayed to later Requests. */
  private verdict: { readonly code: number; readonly message: string } | undefined;

  constructor(opts: AuthenticatorOptions) {
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  start(now: Millis): AuthEvent[] {
    if (this.state !== 'idle') return [];
    this.state = 'waiting';
    this.deadline = now + this.timeoutMs;
    return [];
  }

  handle(_now: Millis, packet: Buffer): AuthEvent[] {
    const p = decodePacket(packet);
    if (p === undefined || p.code !== PAP_REQUEST) return [];
    const creds = decodePapRequest(p.data);
    if (creds === undefined) return [];
    if (this.verdict) return [{ type: 'send', packet: encodePapReply(this.verdict.code, p.id, this.verdict.message) }];
    if (this.state !== 'waiting') return [];
    this.state = 'verifying';
    this.requestId = p.id;
    this.username = creds.username;
    return [{ type: 'verify', request: { kind: 'pap', ...creds } }];
  }

  backendResult(_now: Millis, result: AuthResult): AuthEvent[] {
    if (this.state !== 'verifying') return [];
    if (!result.ok) return this.fail(result.message, result.reason, result.username);
    this.state = 'succeeded';
    this.deadline = undefined;
    this.verdict = { code: PAP_ACK, message: SUCCESS_TEXT };
    return [
      { type: 'send', packet: encodePapReply(PAP_ACK, this.requestId, SUCCESS_TEXT) },
      { type: 'success', result },
    ];
  }

  handleTimeout(now: Millis): AuthEvent[] {
    if (!due(this.deadline, now)) return [];
    if (this.state === 'verifying') return this.fail(TIMEOUT_TEXT, TIMEOUT_REASON, this.username);
    // Nobody asked: there is no Identifier to Nak, so the failure goes without a packet.
    this.state = 'failed';
    this.deadline = undefined;
    return [{ type: 'failure', username: undefined, reason: 'peer sent no authenticate-request' }];
  }

  nextDeadline(): Millis | undefined {
    return this.deadline;
  }

  private fail(message: string, reason: string, username: string | undefined): AuthEvent[] {
    this.state = 'failed';
    this.deadline = undefined;
    this.verdict = { code: PAP_NAK, message };
    return [
      { type: 'send', packet: encodePapReply(PAP_NAK, this.requestId, message) },
      { type: 'failure', username, reason },
    ];
  }
}

export function createPapAuthenticator(opts: AuthenticatorOptions): Authenticator {
  return new PapAuthenticator(opts);
}
