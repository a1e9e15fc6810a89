/**
 * IPCP (RFC 1332, protocol 0x8021): the shared NCP wrapper with an IPCP option table. The server
 * and client tables differ; the wrapper is the one IPV6CP and CCP use too.
 */
import type { FsmOptions } from '../fsm.js';
import { Ncp, type NcpUpper } from '../ncp.js';
import { rejectOption, type OptionHandler } from '../negotiate.js';
import { ClientAddressOption, ServerAddressOption } from './address.js';
import { ClientDnsOption, IPCP_DNS1, IPCP_DNS2, serverDnsOptions, type ServerDnsOption } from './dns.js';
import { serverWinsOptions } from './wins.js';

export type { NcpUpper } from '../ncp.js';

/** IPCP is the generic NCP (src/ppp/ncp.ts) with an IPCP option table. */
export class Ipcp extends Ncp {
  constructor(handlers: readonly OptionHandler[], upper: NcpUpper, fsmOpts: FsmOptions = {}) {
    super('ipcp', handlers, upper, fsmOpts);
  }
}

/** IPCP options that neither side uses: the deprecated IP-Addresses and VJ header compression. */
const REJECTED_IPCP_OPTIONS: readonly OptionHandler[] = [rejectOption(1, 'ip-addresses'), rejectOption(2, 'ip-compression')];

export interface ServerIpcpTable {
  readonly handlers: readonly OptionHandler[];
  readonly address: ServerAddressOption;
  readonly dns: readonly ServerDnsOption[];
}

/** `wins`: `wins-server` (≤ 2 IPv4); empty = the NBNS options are rejected. */
export function serverIpcpOptions(dns: readonly string[], maxFailure: number, wins: readonly string[] = []): ServerIpcpTable {
  const address = new ServerAddressOption(maxFailure);
  const dnsOptions = serverDnsOptions(dns);
  return { address, dns: dnsOptions, handlers: [address, ...dnsOptions, ...serverWinsOptions(wins), ...REJECTED_IPCP_OPTIONS] };
}

export interface ClientIpcpTable {
  readonly handlers: readonly OptionHandler[];
  readonly address: ClientAddressOption;
  readonly dns: readonly ClientDnsOption[];
}

export function clientIpcpOptions(requestDns: boolean): ClientIpcpTable {
  const address = new ClientAddressOption();
  const dns = requestDns ? [new ClientDnsOption(IPCP_DNS1), new ClientDnsOption(IPCP_DNS2)] : [];
  return { address, dns, handlers: [address, ...dns, ...REJECTED_IPCP_OPTIONS] };
}
