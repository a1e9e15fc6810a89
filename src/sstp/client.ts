/**
 * SstpClient: the client role (§3.2) on the shared call machine (call.ts): our test peer, the load
 * generator and sstp-connect. What only the client does:
 *
 *   httpRequest(host) → bytes to write after TLS; receive(): HTTP 200 → Call Connect Request →
 *   Connect Ack ('lower-up': start PPP) → sendCallConnected(hlak, cert) after PPP auth →
 *   Client_Call_Connected ('connected').
 *
 * Before Call Connected it passes every PPP frame once the Ack is in, and answers Echo-Requests at
 * any time (SoftEther-style servers probe from the start). The negotiation timer runs from the
 * request to the 200, then again from the 200 until Call Connected is sent.
 */
import { SstpdError } from '../common/errors.js';
import type { Millis } from '../common/time.js';
import { buildCallConnected, certHashes, chooseHashProtocol } from './binding.js';
import { SstpCall, SstpCloseCode, type SstpCallEvent, type SstpTeardownState } from './call.js';
import { HttpResponseReader, SSTP_CONTENT_LENGTH, sstpRequest } from './http.js';
import { AttributeId, type ControlPacket, MessageType, Status, callConnectRequest, decodeCryptoBindingRequest } from './wire.js';

export type SstpClientEvent = SstpCallEvent;

export interface SstpClientOptions {
  readonly random: (n: number) => Buffer;
  /** HTTP 200 wait, then Connect Ack wait, then until Call Connected is sent; default 60000 each. */
  readonly negotiationTimeoutMs?: number;
  readonly helloIntervalMs?: number;
}

type ClientOwnState =
  | 'Client_Http_Pending'
  | 'Client_Http_Response_Pending'
  | 'Client_Connect_Request_Sent'
  | 'Client_Connect_Ack_Received'
  | 'Client_Call_Connected'
  | 'Client_Call_Disconnected';
export type SstpClientState = ClientOwnState | SstpTeardownState;

/** The server's Crypto Binding Request from its Connect Ack. */
export interface BindingRequest {
  readonly bitmask: number;
  readonly nonce: Buffer;
}

/** A GUID in braces, upper-case, from 16 random bytes (SSTPCORRELATIONID). */
function guid(b: Buffer): string {
  const h = b.toString('hex').toUpperCase();
  return `{${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}}`;
}

export class SstpClient extends SstpCall<ClientOwnState> {
  private readonly http = new HttpResponseReader();
  private ack: BindingRequest | undefined;

  constructor(private readonly opts: SstpClientOptions, _now: Millis) {
    super({ initial: 'Client_Http_Pending', connected: 'Client_Call_Connected', closed: 'Client_Call_Disconnected' }, opts);
  }

  /** The Crypto Binding Request of the server's Connect Ack, until Call Connected is sent. */
  get bindingRequest(): BindingRequest | undefined {
    return this.ack;
  }

  /** The SSTP_DUPLEX_POST request to write once TLS is up; starts the 60 s wait for the 200. */
  httpRequest(now: Millis, host: string, correlationGuid?: string): Buffer {
    if (this.st !== 'Client_Http_Pending') throw new SstpdError('E_SSTP_STATE', 'sstp client: request already sent');
    this.st = 'Client_Http_Response_Pending';
    this.armNegotiation(now);
    return sstpRequest(host, correlationGuid ?? guid(this.opts.random(16)));
  }

  /** Bytes from TLS: the HTTP response first, then the SSTP stream. Never throws on peer input. */
  override receive(now: Millis, chunk: Buffer): void {
    if (this.st === 'Client_Http_Response_Pending') {
      const rest = this.httpResponse(now, chunk);
      if (rest === undefined || rest.length === 0) return;
      chunk = rest;
    }
    if (this.st === 'Client_Http_Pending') throw new SstpdError('E_SSTP_STATE', 'sstp client: receive before httpRequest');
    super.receive(now, chunk);
  }

  /**
   * PPP authentication done: send Call Connected with the strongest offered hash (SHA-256 when the
   * bitmask has it, SHA-1 when only that is offered). `certDer` is the server certificate seen in
   * TLS. Returns the hash protocol used (1 SHA-1, 2 SHA-256), undefined if none could be.
   * Once the binding was sent or the call is ending it is a no-op (undefined): PPP may finish
   * authenticating in the very chunk whose bad SSTP packet aborted the call, or re-authenticate later.
   */
  sendCallConnected(now: Millis, hlak: Buffer, certDer: Buffer): number | undefined {
    if (this.st !== 'Client_Connect_Ack_Received' || !this.ack) {
      if (this.st === 'Client_Call_Connected' || this.closed || this.quiet) return undefined;
      throw new SstpdError('E_SSTP_STATE', `sstp client: Call Connected in ${this.st}`);
    }
    const hp = chooseHashProtocol(this.ack.bitmask);
    if (hp === undefined) {
      this.abortWith(now, Status.VALUE_NOT_SUPPORTED, AttributeId.CRYPTO_BINDING_REQ, SstpCloseCode.HASH_PROTOCOL,
        `no supported hash in bitmask ${this.ack.bitmask}`);
      return undefined;
    }
    const hashes = certHashes(certDer);
    this.send(buildCallConnected(hp, this.ack.nonce, hp === 2 ? hashes.sha256 : hashes.sha1, hlak));
    this.ack = undefined;
    this.enterConnected(now);
    return hp;
  }

  // ---- the role's part of the call --------------------------------------------------------------

  protected override get beforeCall(): boolean {
    return this.st === 'Client_Http_Pending' || this.st === 'Client_Http_Response_Pending';
  }

  protected roleControl(now: Millis, p: ControlPacket): boolean {
    if (this.st !== 'Client_Connect_Request_Sent') return false;
    if (p.type === MessageType.CALL_CONNECT_ACK) this.onConnectAck(now, p);
    else if (p.type === MessageType.CALL_CONNECT_NAK) {
      // We only ever ask for PPP, so there is nothing to renegotiate.
      this.abortWith(now, Status.VALUE_NOT_SUPPORTED, AttributeId.ENCAPSULATED_PROTOCOL_ID, SstpCloseCode.NAK, 'server refused the Call Connect Request');
    } else return false;
    return true;
  }

  protected passesBeforeConnected(): boolean {
    return this.st === 'Client_Connect_Ack_Received';
  }

  /** Lenient on purpose: answering costs nothing; a response is fine once the call is accepted. */
  protected takesEcho(request: boolean): boolean {
    return request || this.st === 'Client_Connect_Ack_Received' || this.connected;
  }

  protected override negotiationTimeout(now: Millis): void {
    if (this.st === 'Client_Http_Response_Pending') return this.close(SstpCloseCode.HTTP_TIMEOUT, 'no HTTP response in time');
    super.negotiationTimeout(now);
  }

  protected override forgetSecrets(): void {
    this.ack = undefined;
  }

  /** The bytes after the response header block, or undefined while it is incomplete or refused. */
  private httpResponse(now: Millis, chunk: Buffer): Buffer | undefined {
    const r = this.http.feed(chunk);
    if (r.kind === 'need-more') return undefined;
    if (r.kind === 'error') return void this.close(SstpCloseCode.HTTP, r.reason);
    const { status, headers } = r.response;
    if (status !== 200) return void this.close(SstpCloseCode.HTTP_STATUS, `server answered HTTP ${status}`);
    const cl = headers.get('content-length');
    if (cl !== undefined && cl !== SSTP_CONTENT_LENGTH) return void this.close(SstpCloseCode.HTTP, `Content-Length ${cl}`);
    this.send(callConnectRequest());
    this.st = 'Client_Connect_Request_Sent';
    this.armNegotiation(now);
    return r.rest;
  }

  private onConnectAck(now: Millis, p: ControlPacket): void {
    const a = p.attributes.length === 1 ? p.attributes[0] : undefined;
    if (!a || a.id !== AttributeId.CRYPTO_BINDING_REQ || a.value.length !== 36) {
      return this.abortWith(now, Status.INVALID_FRAME_RECEIVED, AttributeId.CRYPTO_BINDING_REQ, SstpCloseCode.BAD_CONTROL,
        'Call Connect Ack without a valid Crypto Binding Request');
    }
    const req = decodeCryptoBindingRequest(a.value);
    this.ack = { bitmask: req.bitmask, nonce: Buffer.from(req.nonce) };
    this.st = 'Client_Connect_Ack_Received';
    this.emit({ type: 'lower-up' });
  }
}
