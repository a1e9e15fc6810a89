/**
 * A scripted RADIUS server for sans-I/O tests: reads a request the client core sent and seals a
 * reply to it the way a real server would (or, on purpose, the way a forger would).
 */
import { CODE, decodePacket, maPlaceholder, sealResponse, type RadiusAttribute, type RadiusPacket } from '../../src/radius/packet.js';

export interface ReplyOptions {
  readonly code?: number;
  readonly attributes?: readonly RadiusAttribute[];
  /** Add a Message-Authenticator (first, as FreeRADIUS 3.2.5 does). */
  readonly ma?: boolean;
  /** Seal with this secret instead (a forger who does not know the real one). */
  readonly secret?: Buffer;
  readonly identifier?: number;
}

export function replyTo(request: Buffer, secret: Buffer, o: ReplyOptions = {}): Buffer {
  const req = decodePacket(request);
  const code = o.code ?? (req.code === CODE.ACCOUNTING_REQUEST ? CODE.ACCOUNTING_RESPONSE : CODE.ACCESS_ACCEPT);
  const attributes = [...(o.ma ? [maPlaceholder()] : []), ...(o.attributes ?? [])];
  return sealResponse({ code, identifier: o.identifier ?? req.identifier, attributes }, req.authenticator, o.secret ?? secret);
}

export const decoded = (bytes: Buffer): RadiusPacket => decodePacket(bytes);

// ---------------------------------------------------------------------------------------------
// A small RADIUS server brain, as FreeRADIUS's pap/chap/mschap modules behave, for component tests.

import { createHash, randomBytes } from 'node:crypto';
import { ATTR, MS, VENDOR_MICROSOFT } from '../../src/radius/attributes.js';
import { encryptMppeKey, first, hidePassword, textValue, unhidePassword, vendorAttributes, vsa } from '../../src/radius/packet.js';
import { RadiusClientCore, type RadiusOutcome, type RadiusRequest, type RadiusServer, type RadiusTransport } from '../../src/radius/client.js';
import {
  asymmetricStartKey,
  challengeResponse,
  generateAuthenticatorResponse,
  generateNtResponse,
  hashNtPasswordHash,
  masterKey,
  ntPasswordHash,
} from '../../src/crypto/mschap.js';

export interface FakeUser {
  readonly password: string;
  /** Reply attributes on Accept (and, as FreeRADIUS's files module does, on Reject too). */
  readonly reply?: readonly RadiusAttribute[];
}

const eq = (a: Buffer, b: Buffer): boolean => a.length === b.length && a.equals(b);

/** Verifies an Access-Request against `users` and answers as FreeRADIUS 3.2 would. */
export function answerAccessRequest(bytes: Buffer, secret: Buffer, users: ReadonlyMap<string, FakeUser>, o: { ma?: boolean } = {}): Buffer {
  const req = decodePacket(bytes);
  const name = textValue(first(req, ATTR.USER_NAME)) ?? '';
  const user = users.get(name);
  const extra = [...(user?.reply ?? [])];
  const reject = (why?: RadiusAttribute): Buffer =>
    replyTo(bytes, secret, { code: CODE.ACCESS_REJECT, attributes: [...extra, ...(why ? [why] : [])], ...(o.ma ? { ma: true } : {}) });
  if (!user) return reject();
  const pw = Buffer.from(user.password, 'utf8');
  const accept = (more: RadiusAttribute[] = []): Buffer => replyTo(bytes, secret, { attributes: [...extra, ...more], ...(o.ma ? { ma: true } : {}) });
  const hidden = first(req, ATTR.USER_PASSWORD);
  if (hidden) return eq(unhidePassword(hidden, secret, req.authenticator), pw) ? accept() : reject();
  const chap = first(req, ATTR.CHAP_PASSWORD);
  if (chap) {
    const challenge = first(req, ATTR.CHAP_CHALLENGE) ?? req.authenticator;
    const md5 = createHash('md5').update(chap.subarray(0, 1)).update(pw).update(challenge).digest();
    return eq(md5, chap.subarray(1)) ? accept() : reject();
  }
  const msChallenge = vendorAttributes(req, VENDOR_MICROSOFT, MS.CHAP_CHALLENGE)[0]?.value;
  const v1 = vendorAttributes(req, VENDOR_MICROSOFT, MS.CHAP_RESPONSE)[0]?.value;
  const v2 = vendorAttributes(req, VENDOR_MICROSOFT, MS.CHAP2_RESPONSE)[0]?.value;
  const msError = (ident: number): RadiusAttribute => vsa(VENDOR_MICROSOFT, MS.CHAP_ERROR, Buffer.from([ident, ...Buffer.from('E=691 R=1 C=00000000000000000000000000000000 V=3 M=Authentication rejected')]));
  if (msChallenge && v1) {
    const nt = v1.subarray(26, 50);
    if (!eq(challengeResponse(msChallenge, ntPasswordHash(user.password)), nt)) return reject(msError(v1[0]!));
    const keys = Buffer.concat([Buffer.alloc(8), hashNtPasswordHash(ntPasswordHash(user.password)), Buffer.alloc(8)]);
    return accept([vsa(VENDOR_MICROSOFT, MS.CHAP_MPPE_KEYS, hidePassword(keys, secret, req.authenticator))]);
  }
  if (msChallenge && v2) {
    const peer = v2.subarray(2, 18);
    const nt = v2.subarray(26, 50);
    if (!eq(generateNtResponse(msChallenge, peer, name, user.password), nt)) return reject(msError(v2[0]!));
    const s = generateAuthenticatorResponse(user.password, nt, peer, msChallenge, name);
    const mk = masterKey(hashNtPasswordHash(ntPasswordHash(user.password)), nt);
    const recv = asymmetricStartKey(mk, 16, false, true);
    const send = asymmetricStartKey(mk, 16, true, true);
    return accept([
      vsa(VENDOR_MICROSOFT, MS.CHAP2_SUCCESS, Buffer.from([v2[0]!, ...Buffer.from(s)])),
      vsa(VENDOR_MICROSOFT, MS.MPPE_RECV_KEY, encryptMppeKey(recv, 0x8001, secret, req.authenticator)),
      vsa(VENDOR_MICROSOFT, MS.MPPE_SEND_KEY, encryptMppeKey(send, 0x8002, secret, req.authenticator)),
    ]);
  }
  return reject();
}

/**
 * A RadiusTransport backed by the real client core and a scripted server function, answering at
 * once (no sockets, no timers). `requests` keeps every datagram the core sent.
 */
export class ScriptedRadius implements RadiusTransport {
  readonly requests: Buffer[] = [];
  private readonly core: RadiusClientCore;
  constructor(
    readonly secret: Buffer,
    private readonly answer: (bytes: Buffer) => Buffer | undefined,
    server: Partial<RadiusServer> = {},
  ) {
    const s: RadiusServer = { address: '192.0.2.10', authPort: 1812, acctPort: 1813, secret, failTimeS: 0, requireMessageAuthenticator: 'auto', ...server };
    this.core = new RadiusClientCore({ servers: [s], timeoutMs: 1000, maxTry: 1 }, randomBytes);
  }
  request(req: RadiusRequest): Promise<RadiusOutcome> {
    let now = 0;
    const handle = this.core.submit(now, req);
    for (let guard = 0; guard < 100; guard++) {
      for (const o of this.core.poll()) {
        if (o.type === 'done' && o.handle === handle) return Promise.resolve(o.outcome);
        if (o.type === 'send') {
          this.requests.push(o.bytes);
          const reply = this.answer(o.bytes);
          if (reply) this.core.receive(now, o, reply);
        }
      }
      now = this.core.nextDeadline() ?? now;
      this.core.handleTimeout(now);
    }
    return Promise.resolve({ ok: false, reason: 'scripted server loop did not settle' });
  }
}

