/**
 * SstpServer: the server role (§3.3) on the shared call machine (call.ts, which holds framing,
 * dispatch, echo and hello, abort, disconnect, close and the timers; the table is sstp.md §4).
 * What only the server does:
 * - Call Connect Request: accept with a Connect Ack carrying a fresh nonce and the hash bitmask, or
 *   NAK what is wrong (at most `maxNaks` times, then abort);
 * - before Call Connected only PPP control frames pass (§3.3.7.2);
 * - the crypto binding: a Call Connected is checked against every HLAK PPP authentication allows
 *   (`setHlaks`); one that comes before authentication finished is kept and checked then;
 * - the zero-key waiver for authentication without keys (`waiveZeroKeyBinding`).
 * The HTTP handshake is done by the caller; construction = "HTTP request valid, 200 sent" (state
 * Server_Connect_Request_Pending); the negotiation timer runs from construction.
 */
import { SstpdError } from '../common/errors.js';
import type { Millis } from '../common/time.js';
import { type BindingKey, type BindingVerified, type CertHashes, verifyCallConnected } from './binding.js';
import { SstpCall, SstpCloseCode, type SstpCallEvent, type SstpTeardownState } from './call.js';
import {
  AttributeId,
  type ControlPacket,
  ENCAPSULATED_PROTOCOL_PPP,
  MessageType,
  NONCE_LEN,
  Status,
  type StatusInfo,
  callConnectAck,
  callConnectNak,
  decodeEncapsulatedProtocol,
  decodeStatusInfo,
} from './wire.js';

export type SstpServerEvent = SstpCallEvent;

export interface SstpServerOptions {
  /** Hashes of the certificate the client sees (ours, or a TLS-terminating proxy's). */
  readonly certHashes: CertHashes;
  /** Hash protocols offered in the Ack: 1 SHA-1, 2 SHA-256, 3 both (default). */
  readonly hashBitmask?: 1 | 2 | 3;
  readonly random: (n: number) => Buffer;
  /** From construction (accept) to a verified Call Connected; default 60000. */
  readonly negotiationTimeoutMs?: number;
  /** Default 60000. */
  readonly helloIntervalMs?: number;
  /** Bad Call Connect Requests answered with a NAK; the next one aborts. Default 3. */
  readonly maxNaks?: number;
}

type ServerOwnState = 'Server_Connect_Request_Pending' | 'Server_Call_Connected_Pending' | 'Server_Call_Connected' | 'Server_Call_Disconnected';
export type SstpServerState = ServerOwnState | SstpTeardownState;

/** A NAK lists at most this many problems (keeps it far below 4095 bytes). */
const MAX_NAK_ITEMS = 16;
const HLAK_LEN = 32;

/**
 * Before Call Connected only PPP control frames may pass (§3.3.7.2): protocol ≥ 0x8000 (NCPs, LCP,
 * auth). FF 03 is optional and a compressed (1-byte, PFC) protocol is always < 0x100, i.e. data.
 */
export function isPppControlFrame(frame: Buffer): boolean {
  let i = frame.length >= 2 && frame[0] === 0xff && frame[1] === 0x03 ? 2 : 0;
  if (i + 2 > frame.length) return false;
  const hi = frame[i++]!;
  return (hi & 0x01) === 0 && hi >= 0x80;
}

export class SstpServer extends SstpCall<ServerOwnState> {
  private readonly bitmask: number;
  private readonly maxNaks: number;
  private naks = 0;
  private nonce: Buffer | undefined;
  /** Acceptable HLAKs (copies, wiped when no longer needed); undefined until PPP auth finished. */
  private hlaks: BindingKey[] | undefined;
  /** A Call Connected that arrived before PPP auth finished (sstpc sends it early). */
  private deferred: Buffer | undefined;
  /** Entered Call_Connected without a Call Connected (zero-key auth); a late one is still checked. */
  private bindingWaived = false;

  constructor(private readonly opts: SstpServerOptions, now: Millis) {
    super({ initial: 'Server_Connect_Request_Pending', connected: 'Server_Call_Connected', closed: 'Server_Call_Disconnected' }, opts);
    this.bitmask = opts.hashBitmask ?? 3;
    this.maxNaks = opts.maxNaks ?? 3;
    if (opts.certHashes.sha1.length !== 20 || opts.certHashes.sha256.length !== 32) {
      throw new SstpdError('E_SSTP_CERT_HASH', 'sstp: cert hashes must be 20 (SHA-1) and 32 (SHA-256) bytes');
    }
    this.armNegotiation(now);
  }

  /** PPP authentication finished with one HLAK (zeros for PAP/CHAP); see setHlaks. */
  setHlak(now: Millis, hlak: Buffer, label = 'hlak'): void {
    this.setHlaks(now, [{ label, key: hlak }]);
  }

  /**
   * PPP authentication finished: the HLAKs a client may have computed (MS-CHAPv1 has two forms in
   * the wild), tried in order; verifies a deferred Call Connected.
   */
  setHlaks(now: Millis, hlaks: readonly BindingKey[]): void {
    if (hlaks.length === 0) throw new SstpdError('E_SSTP_HLAK', 'sstp: no HLAK given');
    for (const h of hlaks) {
      if (h.key.length !== HLAK_LEN) throw new SstpdError('E_SSTP_HLAK', `sstp: HLAK of ${h.key.length} bytes, need 32`);
    }
    if (this.st !== 'Server_Connect_Request_Pending' && this.st !== 'Server_Call_Connected_Pending') return;
    this.hlaks = hlaks.map((h) => ({ label: h.label, key: Buffer.from(h.key) }));
    const early = this.deferred;
    this.deferred = undefined;
    if (early && this.st === 'Server_Call_Connected_Pending') this.verifyBinding(now, early);
  }

  /**
   * Interop exception for authentication without keys (PAP, CHAP-MD5: the HLAK is all zeros).
   * sstpc 1.0.18 never sends Call Connected after CHAP-MD5 (it only marks authentication done for
   * 49-byte MS-CHAP responses), and with a zero HLAK the Compound MAC can be computed by anyone who
   * sees our certificate, so it proves nothing a zero-key binding could. Waiting for it would only
   * strand such clients until the negotiation timeout. The session calls this when the network layer
   * opens; a Call Connected that still arrives later is verified all the same (mismatch → abort).
   * Returns false (and changes nothing) when the HLAK is not zero: MS-CHAP keys make binding mandatory.
   */
  waiveZeroKeyBinding(now: Millis): boolean {
    const zeroOnly = this.hlaks?.every((h) => h.key.every((b) => b === 0)) === true;
    if (this.st !== 'Server_Call_Connected_Pending' || !zeroOnly) return false;
    this.bindingWaived = true;
    this.log('info', 'binding-waived', { reason: 'zero-key authentication and no Call Connected yet' });
    this.enterConnected(now);
    return true;
  }

  // ---- the role's part of the call --------------------------------------------------------------

  protected roleControl(now: Millis, p: ControlPacket, raw: Buffer): boolean {
    if (p.type === MessageType.CALL_CONNECT_REQUEST && this.st === 'Server_Connect_Request_Pending') this.onConnectRequest(now, p);
    else if (p.type === MessageType.CALL_CONNECTED && (this.st === 'Server_Call_Connected_Pending' || this.bindingWaived)) this.onCallConnected(now, raw);
    else return false; // Connect Ack/Nak (a server never expects them), unknown types, or the wrong state
    return true;
  }

  protected passesBeforeConnected(frame: Buffer): boolean {
    return this.st === 'Server_Call_Connected_Pending' && isPppControlFrame(frame);
  }

  /** Echoes only on a connected call (§3.3.5.2: elsewhere they are invalid). */
  protected takesEcho(): boolean {
    return this.connected;
  }

  protected override forgetSecrets(): void {
    for (const h of this.hlaks ?? []) h.key.fill(0);
    this.hlaks = undefined;
    this.nonce = undefined;
    this.deferred = undefined;
  }

  private onConnectRequest(now: Millis, p: ControlPacket): void {
    const problems = connectRequestProblems(p);
    this.log('info', 'connect-request', { problems: problems.length });
    if (problems.length === 0) {
      const nonce = this.opts.random(NONCE_LEN);
      if (nonce.length !== NONCE_LEN) throw new SstpdError('E_SSTP_RANDOM', 'sstp: random() returned a short nonce');
      this.nonce = Buffer.from(nonce);
      this.send(callConnectAck(this.bitmask, this.nonce));
      this.st = 'Server_Call_Connected_Pending';
      this.emit({ type: 'lower-up' });
      return;
    }
    if (this.naks >= this.maxNaks) {
      this.abortWith(now, Status.RETRY_COUNT_EXCEEDED, AttributeId.ENCAPSULATED_PROTOCOL_ID, SstpCloseCode.CONNECT_RETRIES,
        `${this.naks + 1} unacceptable Call Connect Requests`);
      return;
    }
    this.naks++;
    this.log('warn', 'connect-nak', { count: this.naks, statuses: problems.map((s) => `${s.attribId}:${s.status}`).join(',') });
    this.send(callConnectNak(problems.slice(0, MAX_NAK_ITEMS)));
  }

  private onCallConnected(now: Millis, raw: Buffer): void {
    if (this.bindingWaived) return this.verifyLateBinding(now, raw);
    if (this.hlaks) return this.verifyBinding(now, raw);
    if (this.deferred) {
      this.abortWith(now, Status.UNACCEPTED_FRAME_RECEIVED, AttributeId.CRYPTO_BINDING, SstpCloseCode.UNEXPECTED_MESSAGE,
        'second Call Connected before authentication finished');
      return;
    }
    this.deferred = Buffer.from(raw);
    this.log('info', 'call-connected-deferred');
  }

  /** The only way into Server_Call_Connected with a binding: it takes the verifier's proof. */
  private verifyBinding(now: Millis, raw: Buffer): void {
    const proof = this.checkBinding(now, raw);
    if (!proof) return;
    this.forgetSecrets();
    this.log('info', 'binding-verified', { hashProtocol: proof.hashProtocol, hlak: proof.hlak });
    this.enterConnected(now);
  }

  /** A Call Connected after the zero-key waiver: checked once; a second one is a protocol error. */
  private verifyLateBinding(now: Millis, raw: Buffer): void {
    this.bindingWaived = false;
    const proof = this.checkBinding(now, raw);
    if (!proof) return;
    this.forgetSecrets();
    this.log('info', 'binding-verified', { hashProtocol: proof.hashProtocol, hlak: proof.hlak, late: 1 });
  }

  /** §3.3.5.2.3 checks; on failure the call is aborted and undefined returned. */
  private checkBinding(now: Millis, raw: Buffer): BindingVerified | undefined {
    const check = verifyCallConnected(raw, {
      nonce: this.nonce!,
      bitmask: this.bitmask,
      certHashes: this.opts.certHashes,
      hlaks: this.hlaks!,
    });
    if (check.ok) return check.proof;
    this.log('warn', 'binding-failed', { reason: check.reason, hlaks: this.hlaks!.map((h) => h.label).join(',') });
    this.abortWith(now, Status.INVALID_FRAME_RECEIVED, AttributeId.CRYPTO_BINDING, SstpCloseCode.BINDING_FAILED,
      `crypto binding: ${check.reason}`);
    return undefined;
  }
}

/**
 * Why a Call Connect Request is unacceptable (§3.3.5.2.2), one Status Info per problem; empty
 * means accept. Only the Encapsulated Protocol ID (= PPP) belongs there; a Status Info with a
 * zero status is tolerated, as the spec only rejects a nonzero one.
 */
export function connectRequestProblems(p: ControlPacket): StatusInfo[] {
  const out: StatusInfo[] = [];
  let proto: Buffer | undefined;
  for (const a of p.attributes) {
    switch (a.id) {
      case AttributeId.ENCAPSULATED_PROTOCOL_ID:
        if (proto) out.push({ attribId: a.id, status: Status.DUPLICATE_ATTRIBUTE });
        else proto = a.value;
        break;
      case AttributeId.STATUS_INFO:
        if (a.value.length < 8) out.push({ attribId: a.id, status: Status.INVALID_ATTRIB_VALUE_LENGTH });
        else if (decodeStatusInfo(a.value).status !== Status.NO_ERROR) {
          out.push({ attribId: a.id, status: Status.STATUS_INFO_NOT_SUPPORTED_IN_MSG });
        }
        break;
      case AttributeId.CRYPTO_BINDING:
      case AttributeId.CRYPTO_BINDING_REQ:
        out.push({ attribId: a.id, status: Status.ATTRIB_NOT_SUPPORTED_IN_MSG });
        break;
      default:
        out.push({ attribId: a.id, status: Status.UNRECOGNIZED_ATTRIBUTE });
    }
  }
  const id = AttributeId.ENCAPSULATED_PROTOCOL_ID;
  if (!proto) out.push({ attribId: id, status: Status.REQUIRED_ATTRIBUTE_MISSING });
  else if (proto.length !== 2) out.push({ attribId: id, status: Status.INVALID_ATTRIB_VALUE_LENGTH });
  else if (decodeEncapsulatedProtocol(proto) !== ENCAPSULATED_PROTOCOL_PPP) {
    out.push({ attribId: id, status: Status.VALUE_NOT_SUPPORTED, value: Buffer.from(proto) });
  }
  return out;
}
