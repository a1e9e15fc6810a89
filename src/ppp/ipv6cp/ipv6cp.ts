/**
 * IPV6CP (RFC 5072, protocol 0x8057): the shared automaton with the Interface-Identifier option;
 * IPv6-Compression-Protocol (type 2) is rejected, as is anything unknown. Opened gives both ends
 * their link-local addresses; global addressing is the RA/DHCPv6 services' job (src/ipv6).
 */
import type { FsmOptions } from '../fsm.js';
import { Ncp, type NcpUpper } from '../ncp.js';
import { rejectOption } from '../negotiate.js';
import type { ClientIidOption, ServerIidOption } from './iid.js';

export const IPV6CP_COMPRESSION = 2;

export class Ipv6cp<T extends ServerIidOption | ClientIidOption> extends Ncp {
  constructor(readonly iid: T, upper: NcpUpper, fsmOpts: FsmOptions = {}) {
    super('ipv6cp', [iid, rejectOption(IPV6CP_COMPRESSION, 'ipv6-compression')], upper, fsmOpts);
  }
}
