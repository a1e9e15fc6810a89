/**
 * A network control protocol as the shared automaton plus an option table: IPCP, IPV6CP and CCP. `name` prefixes the debug events ("ipv6cp-state");
 * `extraCode` takes codes above 7 (CCP's Reset-Request/Ack); anything else is Code-Rejected.
 */
import type { Millis } from '../common/time.js';
import { decodeCp, type CpPacket } from './cp.js';
import { Fsm, type FinishReason, type FsmOptions } from './fsm.js';
import { resetHandlers, tableCallbacks, type OptionHandler } from './negotiate.js';
import type { LogFn } from './protocols.js';

/** What an NCP tells the link above it. */
export interface NcpUpper {
  /** One packet of this protocol (Code/Id/Length/Data). */
  send(packet: Buffer): void;
  up(now: Millis): void;
  down(now: Millis): void;
  finished(now: Millis, why: FinishReason): void;
  /** Negotiation cannot converge (e.g. the peer keeps refusing our address). */
  failed(now: Millis, reason: string): void;
  readonly log: LogFn;
}

export class Ncp {
  readonly fsm: Fsm;
  private stopping = false;

  constructor(
    readonly name: string,
    private readonly handlers: readonly OptionHandler[],
    upper: NcpUpper,
    fsmOpts: FsmOptions = {},
    extraCode?: (now: Millis, packet: CpPacket) => boolean,
  ) {
    this.fsm = new Fsm(
      {
        ...tableCallbacks(name, handlers, upper.log),
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
        ...(extraCode ? { extraCode: (now: Millis, packet: CpPacket) => extraCode(now, packet) } : {}),
        send: (p) => upper.send(p),
        trace: (ev, from, to) => upper.log('debug', `${name}-state`, { event: ev, from, to }),
      },
      fsmOpts,
    );
  }

  get opened(): boolean {
    return this.fsm.opened;
  }

  /** One packet's information field. Malformed → DecodeError (the link drops the frame). */
  receive(now: Millis, info: Buffer): void {
    const pkt = decodeCp(info);
    this.fsm.receive(now, pkt, info.subarray(0, 4 + pkt.data.length));
  }

  /** Back to Initial without a word on the wire (Protocol-Reject received, or LCP is gone). */
  stop(now: Millis): void {
    this.stopping = true;
    this.fsm.down(now);
    if (this.fsm.state === 'starting') this.fsm.close(now);
    this.stopping = false;
    resetHandlers(this.handlers);
  }
}
