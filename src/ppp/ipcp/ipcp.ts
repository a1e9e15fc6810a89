/**
 * IPCP (RFC 1332, protocol 0x8021): the shared automaton with an IPCP option table. The server
 * and client tables differ; the wrapper is the same (and is the shape IPV6CP/CCP will reuse).
 */
import type { Millis } from '../../common/time.js';
import { decodeCp } from '../cp.js';
import { Fsm, type FinishReason, type FsmOptions } from '../fsm.js';
import { rejectOption, resetHandlers, tableCallbacks, type OptionHandler } from '../negotiate.js';
import type { LogFn } from '../protocols.js';
import { ClientAddressOption, ServerAddressOption } from './address.js';
import { ClientDnsOption, IPCP_DNS1, IPCP_DNS2, serverDnsOptions, type ServerDnsOption } from './dns.js';
import { WINS_OPTIONS } from './wins.js';

export interface NcpUpper {
  /** One IPCP packet (Code/Id/Length/Data). */
  send(packet: Buffer): void;
  up(now: Millis): void;
  down(now: Millis): void;
  finished(now: Millis, why: FinishReason): void;
  /** Negotiation cannot converge (e.g. the peer keeps refusing our address). */
  failed(now: Millis, reason: string): void;
  readonly log: LogFn;
}

export class Ipcp {
  readonly fsm: Fsm;
  private stopping = false;

  constructor(private readonly handlers: readonly OptionHandler[], upper: NcpUpper, fsmOpts: FsmOptions = {}) {
    this.fsm = new Fsm(
      {
        ...tableCallbacks('ipcp', handlers, upper.log),
        negotiationFailed: (now, reason) => upper.failed(now, reason),
        thisLayerUp: (now) => upper.up(now),
        thisLayerDown: (now) => {
          resetHandlers(handlers);
          upper.down(now);
        },
        thisLayerStarted: () => resetHandlers(handlers),
        thisLayerFinished: (now, why) => {
          if (!this.stopping) upper.finished(now, why);
        },
        send: (p) => upper.send(p),
        trace: (ev, from, to) => upper.log('debug', 'ipcp-state', { event: ev, from, to }),
      },
      fsmOpts,
    );
  }

  get opened(): boolean {
    return this.fsm.opened;
  }

  /** One IPCP information field. Malformed → DecodeError (the link drops the frame). */
  receive(now: Millis, info: Buffer): void {
    const pkt = decodeCp(info);
    this.fsm.receive(now, pkt, info.subarray(0, 4 + pkt.data.length));
  }

  /** Back to Initial without a word on the wire (the peer Protocol-Rejected IPCP, or LCP is gone). */
  stop(now: Millis): void {
    this.stopping = true;
    this.fsm.down(now);
    if (this.fsm.state === 'starting') this.fsm.close(now);
    this.stopping = false;
    resetHandlers(this.handlers);
  }
}

/** IPCP options that neither side uses: the deprecated IP-Addresses and VJ header compression. */
const REJECTED_IPCP_OPTIONS: readonly OptionHandler[] = [rejectOption(1, 'ip-addresses'), rejectOption(2, 'ip-compression')];

export interface ServerIpcpTable {
  readonly handlers: readonly OptionHandler[];
  readonly address: ServerAddressOption;
  readonly dns: readonly ServerDnsOption[];
}

export function serverIpcpOptions(dns: readonly string[], maxFailure: number): ServerIpcpTable {
  const address = new ServerAddressOption(maxFailure);
  const dnsOptions = serverDnsOptions(dns);
  return { address, dns: dnsOptions, handlers: [address, ...dnsOptions, ...WINS_OPTIONS, ...REJECTED_IPCP_OPTIONS] };
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
