/**
 * IPCP IP-Address (type 3, RFC 1332 §3.3). Server: we announce the gateway address and hand the
 * peer the address the session was assigned (Nak anything else, and prompt for it when missing).
 * Client: ask for 0.0.0.0 and take what the server Naks with.
 */
import { ipv4Bytes, ipv4String } from '../cp.js';
import { ACK, REJECT, nak, type OptionHandler, type OptionVerdict } from '../negotiate.js';
import type { ReplyOutcome } from '../fsm.js';

export const IPCP_ADDRESS = 3;
const ZERO = Buffer.alloc(4);

export class ServerAddressOption implements OptionHandler {
  readonly type = IPCP_ADDRESS;
  readonly name = 'address';
  private local: Buffer | undefined;
  private peer: Buffer | undefined;
  private asking = true;
  private naks = 0;

  constructor(private readonly maxFailure: number) {}

  configure(local: string, peer: string): void {
    this.local = ipv4Bytes(local);
    this.peer = ipv4Bytes(peer);
  }

  request(): Buffer | undefined {
    return this.asking ? this.local : undefined;
  }

  check(data: Buffer): OptionVerdict {
    if (data.length !== 4 || this.peer === undefined) return REJECT;
    return data.equals(this.peer) ? ACK : nak(this.peer);
  }

  whenMissing(): Buffer | undefined {
    return this.peer;
  }

  nakked(_data: Buffer): ReplyOutcome {
    // Our address is configuration, not negotiable: ask again with the same value, up to Max-Failure.
    this.naks++;
    return this.naks >= this.maxFailure ? { fail: 'peer refuses our IPCP address' } : 'ok';
  }

  rejected(): ReplyOutcome {
    this.asking = false; // the peer does not need to know our address on a point-to-point link
    return 'ok';
  }

  reset(): void {
    this.asking = true;
    this.naks = 0;
  }
}

export class ClientAddressOption implements OptionHandler {
  readonly type = IPCP_ADDRESS;
  readonly name = 'address';
  private ours: Buffer = ZERO;
  private theirs: Buffer = ZERO;

  get local(): string {
    return ipv4String(this.ours);
  }
  get peer(): string {
    return ipv4String(this.theirs);
  }

  request(): Buffer {
    return this.ours;
  }

  nakked(data: Buffer): ReplyOutcome {
    if (data.length !== 4) return 'invalid';
    this.ours = Buffer.from(data);
    return 'ok';
  }

  rejected(): ReplyOutcome {
    return { fail: 'server rejected the IP-Address option' };
  }

  check(data: Buffer): OptionVerdict {
    return data.length === 4 && !data.equals(ZERO) ? ACK : REJECT;
  }

  commit(data: Buffer | undefined): void {
    this.theirs = data ? Buffer.from(data) : ZERO;
  }

  reset(): void {
    this.ours = ZERO;
  }
}
