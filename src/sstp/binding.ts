/**
 * SSTP crypto binding (MS-SSTP §2.2.7, §3.2.5.2, §3.3.5.2.3, example §4.7): ties the TLS session
 * (certificate hash) and the PPP authentication (HLAK) together so a relayed PPP exchange cannot
 * be spliced into another tunnel. Pure functions over node:crypto.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { DecodeError, SstpdError } from '../common/errors.js';
import {
  type Attribute,
  type CryptoBinding,
  AttributeId,
  ATTRIBUTE_HEADER_LEN,
  CONTROL_HEADER_LEN,
  HashProtocol,
  MessageType,
  NONCE_LEN,
  callConnected,
  decodeControl,
  decodeCryptoBinding,
} from './wire.js';

export type HashProtocolValue = 1 | 2;

export interface CertHashes {
  readonly sha1: Buffer;
  readonly sha256: Buffer;
}

/** 29 ASCII bytes, no NUL (§3.2.5.2). */
const CMK_SEED = Buffer.from('SSTP inner method derived CMK', 'ascii');
/** Offset of the Compound MAC inside the Crypto Binding value (reserved 3 + proto 1 + nonce + hash). */
const MAC_IN_VALUE = 4 + NONCE_LEN + 32;
const MAC_FIELD_LEN = 32;

const hashName = (p: HashProtocolValue): 'sha1' | 'sha256' => (p === HashProtocol.SHA256 ? 'sha256' : 'sha1');
export const hashLength = (p: HashProtocolValue): 20 | 32 => (p === HashProtocol.SHA256 ? 32 : 20);

export function isHashProtocol(p: number): p is HashProtocolValue {
  return p === HashProtocol.SHA1 || p === HashProtocol.SHA256;
}

function requireHash(p: number): HashProtocolValue {
  if (!isHashProtocol(p)) throw new SstpdError('E_SSTP_HASH_PROTOCOL', `sstp: hash protocol ${p} is neither SHA-1 nor SHA-256`);
  return p;
}

/** SHA-1 and SHA-256 of the DER certificate the client sees in TLS. */
export function certHashes(certDer: Buffer): CertHashes {
  return {
    sha1: createHash('sha1').update(certDer).digest(),
    sha256: createHash('sha256').update(certDer).digest(),
  };
}

/** Strongest offered hash (§3.2.5.3.2; sstpc and Open-SSTP-Client pick SHA-256 whenever offered). */
export function chooseHashProtocol(bitmask: number): HashProtocolValue | undefined {
  if (bitmask & HashProtocol.SHA256) return HashProtocol.SHA256;
  if (bitmask & HashProtocol.SHA1) return HashProtocol.SHA1;
  return undefined;
}

/**
 * CMK = HMAC-H(HLAK, seed ‖ L as 2 bytes LITTLE-endian ‖ 0x01): T1 of the IKEv2 PRF+. The byte
 * order is what §4.7's bytes prove; big-endian gives a different (wrong) MAC.
 */
export function computeCmk(hlak: Buffer, hashProto: number): Buffer {
  const p = requireHash(hashProto);
  const len = hashLength(p);
  return createHmac(hashName(p), hlak)
    .update(CMK_SEED)
    .update(Buffer.from([len & 0xff, len >> 8, 0x01]))
    .digest();
}

/** HMAC-H(CMK, the whole Call Connected message with its Compound MAC field zeroed). */
export function computeCompoundMac(hlak: Buffer, hashProto: number, callConnectedMsgWithMacZeroed: Buffer): Buffer {
  const p = requireHash(hashProto);
  return createHmac(hashName(p), computeCmk(hlak, p)).update(callConnectedMsgWithMacZeroed).digest();
}

declare const verifiedBrand: unique symbol;
/** Proof that a Call Connected passed every check; only verifyCallConnected mints it. */
export interface BindingVerified {
  readonly hashProtocol: HashProtocolValue;
  /** The label of the HLAK whose Compound MAC matched. */
  readonly hlak: string;
  readonly [verifiedBrand]: true;
}

/**
 * One HLAK the client may have used, with a label for the log. MS-SSTP defines the HLAK for
 * MS-CHAPv2 only; for MS-CHAPv1 clients differ, so the server may accept more than one.
 */
export interface BindingKey {
  readonly label: string;
  /** 32 bytes (zeros for PAP/CHAP/no auth). */
  readonly key: Buffer;
}

export interface BindingExpectation {
  /** The nonce sent in our Call Connect Ack. */
  readonly nonce: Buffer;
  /** The hash bitmask offered in the Ack. */
  readonly bitmask: number;
  readonly certHashes: CertHashes;
  /** Acceptable HLAKs, at least one; the first that matches names the proof. */
  readonly hlaks: readonly BindingKey[];
}

export type BindingCheck = { readonly ok: true; readonly proof: BindingVerified } | { readonly ok: false; readonly reason: string };

const fail = (reason: string): BindingCheck => ({ ok: false, reason });

/** Constant-time equality; different lengths are simply unequal. */
function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * All server checks of §3.3.5.2.3 on a Call Connected exactly as received: layout, nonce, offered
 * hash, certificate hash, Compound MAC. The MAC is recomputed over the received bytes (reserved
 * fields included) with the MAC field zeroed, as the client computed it.
 */
export function verifyCallConnected(msg: Buffer, expected: BindingExpectation): BindingCheck {
  let attrs: readonly Attribute[];
  try {
    const p = decodeControl(msg);
    if (p.type !== MessageType.CALL_CONNECTED) return fail('not-call-connected');
    attrs = p.attributes;
  } catch (e) {
    if (e instanceof DecodeError) return fail('malformed');
    throw e;
  }
  const index = attrs.findIndex((a) => a.id === AttributeId.CRYPTO_BINDING);
  if (index < 0) return fail('no-crypto-binding');
  if (attrs.findIndex((a, i) => i > index && a.id === AttributeId.CRYPTO_BINDING) >= 0) return fail('duplicate-crypto-binding');
  let b: CryptoBinding;
  try {
    b = decodeCryptoBinding(attrs[index]!.value);
  } catch (e) {
    if (e instanceof DecodeError) return fail('bad-crypto-binding-length');
    throw e;
  }
  if (!sameBytes(b.nonce, expected.nonce)) return fail('nonce-mismatch');
  if (!isHashProtocol(b.hashProtocol) || (expected.bitmask & b.hashProtocol) === 0) return fail('hash-protocol-not-offered');
  const hp = b.hashProtocol;
  const len = hashLength(hp);
  const ours = hp === HashProtocol.SHA256 ? expected.certHashes.sha256 : expected.certHashes.sha1;
  if (!sameBytes(b.certHash.subarray(0, len), ours)) return fail('cert-hash-mismatch');

  // Where the MAC field sits: after the control header and the attributes before the binding.
  let valueAt = CONTROL_HEADER_LEN;
  for (let i = 0; i < index; i++) valueAt += ATTRIBUTE_HEADER_LEN + attrs[i]!.value.length;
  valueAt += ATTRIBUTE_HEADER_LEN;
  const zeroed = Buffer.from(msg);
  zeroed.fill(0, valueAt + MAC_IN_VALUE, valueAt + MAC_IN_VALUE + MAC_FIELD_LEN);
  const got = b.mac.subarray(0, len);
  // Every candidate is computed and compared, whichever matches: the time taken does not tell
  // an observer which HLAK form (if any) was right.
  let matched: string | undefined;
  for (const k of expected.hlaks) {
    const same = sameBytes(got, computeCompoundMac(k.key, hp, zeroed));
    if (same && matched === undefined) matched = k.label;
  }
  if (matched === undefined) return fail('mac-mismatch');
  return { ok: true, proof: { hashProtocol: hp, hlak: matched } as BindingVerified };
}

/** Client side: the 112-byte Call Connected with its Compound MAC (certHash: 20 or 32 bytes). */
export function buildCallConnected(hashProto: number, nonce: Buffer, certHash: Buffer, hlak: Buffer): Buffer {
  const p = requireHash(hashProto);
  if (certHash.length !== hashLength(p)) {
    throw new SstpdError('E_SSTP_HASH', `sstp: cert hash of ${certHash.length} bytes for hash protocol ${p}`);
  }
  const zeroed = callConnected({ hashProtocol: p, nonce, certHash, mac: Buffer.alloc(0) });
  const mac = computeCompoundMac(hlak, p, zeroed);
  return callConnected({ hashProtocol: p, nonce, certHash, mac });
}
