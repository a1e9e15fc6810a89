/**
 * The authenticatee (client) side of PAP / CHAP-MD5 / MS-CHAPv1 / MS-CHAPv2, for our test client and
 * the sstp-connect CLI. Sans-I/O: packets in, events out. On success it reports the client's view of the
 * SSTP HLAK, which must equal the server's for crypto binding to pass.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { AuthProtocol } from '../../config/model.js';
import {
  CHAP_CHALLENGE,
  CHAP_FAILURE,
  CHAP_RESPONSE,
  CHAP_SUCCESS,
  decodeChapValue,
  decodePacket,
  encodeChapValue,
  encodePacket,
  type AuthPacket,
} from './chap-common.js';
import {
  HLAK_LEN,
  asymmetricStartKey,
  generateAuthenticatorResponse,
  generateNtResponse,
  hashNtPasswordHash,
  masterKey,
  mschapV1NtResponse,
  mschapV1StartKey,
  ntPasswordHash,
} from '../../crypto/mschap.js';
import { MSCHAP_V1_CHALLENGE_SIZE } from './mschap-v1.js';
import { MSCHAP_V2_CHALLENGE_SIZE } from './mschap-v2.js';
import { PAP_ACK, PAP_NAK, decodePapReply, encodePapRequest } from './pap.js';

export type AuthPeerEvent =
  | { readonly type: 'send'; readonly packet: Buffer }
  /** `mppeKeys`: the client's RFC 3079 start keys (send = client → server), MS-CHAP(v2) only. */
  | { readonly type: 'success'; readonly hlak: Buffer; readonly mppeKeys?: { readonly send: Buffer; readonly recv: Buffer } }
  | { readonly type: 'failure'; readonly message: string };

export interface AuthPeerOptions {
  /** Sent as is (may carry `DOMAIN\`); MS-CHAP hashes only the user part. */
  readonly username: string;
  readonly password: string;
  readonly random: (n: number) => Buffer;
}

/** The outstanding Response: replayed if the server retransmits the same Challenge. */
interface Answer {
  readonly id: number;
  readonly challenge: Buffer;
  readonly packet: Buffer;
  readonly ntResponse?: Buffer;
  readonly expectedAuth?: string;
}

export class AuthPeer {
  private answer: Answer | undefined;
  private papId = 0;
  private done = false;

  constructor(
    readonly method: AuthProtocol,
    private readonly opts: AuthPeerOptions,
  ) {}

  /** PAP: the Authenticate-Request to send (call again to retransmit). CHAP family: nothing, wait for a Challenge. */
  start(): AuthPeerEvent[] {
    if (this.method !== 'pap' || this.done) return [];
    this.papId = this.opts.random(1)[0]!;
    return [{ type: 'send', packet: encodePapRequest(this.papId, this.opts.username, this.opts.password) }];
  }

  /** One packet of the auth protocol from the server. Malformed or unexpected → ignored, never throws. */
  handle(packet: Buffer): AuthPeerEvent[] {
    const p = decodePacket(packet);
    if (p === undefined || this.done) return [];
    return this.method === 'pap' ? this.onPap(p) : this.onChap(p);
  }

  private onPap(p: AuthPacket): AuthPeerEvent[] {
    if ((p.code !== PAP_ACK && p.code !== PAP_NAK) || p.id !== this.papId) return [];
    const message = decodePapReply(p.data) ?? '';
    return p.code === PAP_ACK ? this.succeed(Buffer.alloc(HLAK_LEN)) : this.fail(message);
  }

  private onChap(p: AuthPacket): AuthPeerEvent[] {
    if (p.code === CHAP_CHALLENGE) return this.onChallenge(p);
    const a = this.answer;
    if (a === undefined || p.id !== a.id) return [];
    const text = p.data.toString('utf8');
    if (p.code === CHAP_FAILURE) return this.fail(text);
    if (p.code !== CHAP_SUCCESS) return [];
    if (this.method === 'mschap-v2' && !authenticatorMatches(text, a.expectedAuth)) {
      return this.fail('server sent a wrong authenticator response');
    }
    return this.succeed(this.hlak(a), this.mppeKeys(a));
  }

  /** RFC 3079 from the client's side: v2 send = Magic2 key, receive = Magic3 key; v1 one key both ways. */
  private mppeKeys(a: Answer): { send: Buffer; recv: Buffer } | undefined {
    if (a.ntResponse === undefined) return undefined;
    if (this.method === 'mschap') {
      const k = mschapV1StartKey(this.opts.password, a.challenge);
      return { send: k, recv: Buffer.from(k) };
    }
    const mk = masterKey(hashNtPasswordHash(ntPasswordHash(this.opts.password)), a.ntResponse);
    return { send: asymmetricStartKey(mk, 16, true, false), recv: asymmetricStartKey(mk, 16, false, false) };
  }

  private onChallenge(p: AuthPacket): AuthPeerEvent[] {
    const cv = decodeChapValue(p.data);
    if (cv === undefined || cv.value.length !== this.challengeSize(cv.value.length)) return [];
    const a = this.answer;
    if (a && a.id === p.id && a.challenge.equals(cv.value)) return [{ type: 'send', packet: a.packet }];
    this.answer = this.respond(p.id, cv.value);
    return [{ type: 'send', packet: this.answer.packet }];
  }

  /** The size this method requires; CHAP-MD5 accepts any non-empty challenge. */
  private challengeSize(got: number): number {
    if (this.method === 'mschap') return MSCHAP_V1_CHALLENGE_SIZE;
    if (this.method === 'mschap-v2') return MSCHAP_V2_CHALLENGE_SIZE;
    return got > 0 ? got : -1;
  }

  private respond(id: number, challenge: Buffer): Answer {
    const { username, password } = this.opts;
    const packet = (value: Buffer): Buffer => encodePacket(CHAP_RESPONSE, id, encodeChapValue(value, username));
    if (this.method === 'chap') {
      const value = createHash('md5').update(Buffer.from([id])).update(password, 'utf8').update(challenge).digest();
      return { id, challenge, packet: packet(value) };
    }
    if (this.method === 'mschap') {
      const ntResponse = mschapV1NtResponse(challenge, password);
      return { id, challenge, ntResponse, packet: packet(Buffer.concat([Buffer.alloc(24), ntResponse, Buffer.from([1])])) };
    }
    const peerChallenge = Buffer.from(this.opts.random(16));
    const ntResponse = generateNtResponse(challenge, peerChallenge, username, password);
    const expectedAuth = generateAuthenticatorResponse(password, ntResponse, peerChallenge, challenge, username);
    const value = Buffer.concat([peerChallenge, Buffer.alloc(8), ntResponse, Buffer.from([0])]);
    return { id, challenge, ntResponse, expectedAuth, packet: packet(value) };
  }

  /**
   * Client HLAK: MasterSendKey ‖ MasterReceiveKey, computed from the client's side of RFC 3079. For
   * MS-CHAPv1 the same formula over the v1 NT-Response, as sstpc does (see src/auth/hlak.ts `hlakFor`).
   */
  private hlak(a: Answer): Buffer {
    if (a.ntResponse === undefined) return Buffer.alloc(HLAK_LEN);
    const mk = masterKey(hashNtPasswordHash(ntPasswordHash(this.opts.password)), a.ntResponse);
    return Buffer.concat([asymmetricStartKey(mk, 16, true, false), asymmetricStartKey(mk, 16, false, false)]);
  }

  private succeed(hlak: Buffer, mppeKeys?: { send: Buffer; recv: Buffer }): AuthPeerEvent[] {
    this.done = true;
    return [mppeKeys ? { type: 'success', hlak, mppeKeys } : { type: 'success', hlak }];
  }

  private fail(message: string): AuthPeerEvent[] {
    this.done = true;
    return [{ type: 'failure', message }];
  }
}

/** The Success message starts with "S=<40 hex>" (case-insensitive, RFC 2759 §5); compare in constant time. */
function authenticatorMatches(message: string, expected: string | undefined): boolean {
  if (expected === undefined) return false;
  const got = Buffer.from(message.slice(0, 42).toUpperCase(), 'utf8');
  const want = Buffer.from(expected, 'utf8');
  return got.length === want.length && timingSafeEqual(got, want);
}
