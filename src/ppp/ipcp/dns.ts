/**
 * IPCP Primary/Secondary-DNS-Address (129/131, RFC 1877). Server: answer from the configured
 * name servers, Reject when there is none for that slot. Client: ask with 0.0.0.0, take the
 * Nak'd value, stop asking when rejected.
 */
import { ipv4Bytes, ipv4String } from '../cp.js';
import { ACK, REJECT, nak, type OptionHandler, type OptionVerdict } from '../negotiate.js';
import type { ReplyOutcome } from '../fsm.js';

export const IPCP_DNS1 = 129;
export const IPCP_DNS2 = 131;
const ZERO = Buffer.alloc(4);

/** RFC 1877's four server-address options: DNS 129/131 here, NBNS (WINS) 130/132 in wins.ts. */
const SERVER_OPTION_NAMES = { 129: 'dns1', 130: 'nbns1', 131: 'dns2', 132: 'nbns2' } as const;
export type ServerAddressOptionType = keyof typeof SERVER_OPTION_NAMES;

/**
 * One RFC 1877 server slot answered from configuration: Nak to our value, Ack it, Reject when the
 * slot is empty. Named for DNS, its first user; WINS uses it too.
 */
export class ServerDnsOption implements OptionHandler {
  readonly name: string;
  private server: Buffer | undefined;

  constructor(readonly type: ServerAddressOptionType, server: string | undefined) {
    this.name = SERVER_OPTION_NAMES[type];
    this.server = server === undefined ? undefined : ipv4Bytes(server);
  }

  /** Per-session name server (RADIUS MS-Primary/Secondary-DNS-Server), before IPCP starts. */
  configure(server: string | undefined): void {
    this.server = server === undefined ? undefined : ipv4Bytes(server);
  }

  check(data: Buffer): OptionVerdict {
    if (this.server === undefined || data.length !== 4) return REJECT;
    return data.equals(this.server) ? ACK : nak(this.server);
  }
}

/** The server side's two DNS handlers from the configured list (≤ 2 IPv4). */
export function serverDnsOptions(dns: readonly string[]): ServerDnsOption[] {
  return [new ServerDnsOption(IPCP_DNS1, dns[0]), new ServerDnsOption(IPCP_DNS2, dns[1])];
}

export class ClientDnsOption implements OptionHandler {
  readonly name: string;
  private value: Buffer = ZERO;
  private asking = true;

  constructor(readonly type: typeof IPCP_DNS1 | typeof IPCP_DNS2) {
    this.name = type === IPCP_DNS1 ? 'dns1' : 'dns2';
  }

  /** The server's answer, once Acked; undefined when rejected or never filled in. */
  get address(): string | undefined {
    return this.asking && !this.value.equals(ZERO) ? ipv4String(this.value) : undefined;
  }

  request(): Buffer | undefined {
    return this.asking ? this.value : undefined;
  }

  nakked(data: Buffer): ReplyOutcome {
    if (data.length !== 4) return 'invalid';
    this.value = Buffer.from(data);
    return 'ok';
  }

  rejected(): ReplyOutcome {
    this.asking = false;
    return 'ok';
  }

  reset(): void {
    this.value = ZERO;
    this.asking = true;
  }
}
