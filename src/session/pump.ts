/**
 * CallPump: the wiring between an SSTP call (either role, sstp/call.ts) and a PPP link (either
 * role, ppp/link/link-core.ts) that the server's Session and our ClientConnection share.
 * Cross-layer signals are values, not calls:
 * - SSTP 'lower-up' → PPP lowerUp; SSTP 'ppp' frames → PPP receive; PPP 'send' → SSTP data;
 * - SSTP 'connected' (binding verified, sent or waived) → the data gate's `lowerVerified`;
 * - PPP 'finished' → SSTP Call Disconnect; SSTP 'closed' → PPP lowerDown;
 * - the data fast lane in (`setIpSink`) and out (`frameOut`), through session/data-path.ts.
 * The owner (the role) gets what is left: bytes to send, logs, the PPP events beyond this wiring,
 * and the call's close. `run` drains both cores (and the owner's others) until nothing moves.
 */
import { SstpdError } from '../common/errors.js';
import type { Millis } from '../common/time.js';
import type { PppClientEvent } from '../ppp/link/client-link.js';
import type { DataGate } from '../ppp/data-gate.js';
import type { PppEvent } from '../ppp/link/link.js';
import type { LogFields, LogLevel } from '../ppp/protocols.js';
import type { SstpCall, SstpCallEvent } from '../sstp/call.js';
import { fastLaneIn, frameBatchOutbound, frameOutbound, frameOutboundCopy, type FramedCount, type SlabPackets } from './data-path.js';

/** What the pump uses of an SSTP call (SstpServer or SstpClient). */
export type PumpedCall = Pick<SstpCall<string>, 'poll' | 'closed' | 'encodeData' | 'disconnect' | 'dataSink'>;

/** What the pump uses of a PPP link (PppLink or PppClientLink). */
export interface PumpedLink<E> {
  readonly gate: DataGate;
  poll(): E[];
  lowerUp(now: Millis): void;
  receive(now: Millis, frame: Buffer): void;
  lowerDown(now: Millis): void;
  activity(now: Millis): void;
}

export interface PumpLog {
  readonly level: LogLevel;
  readonly event: string;
  readonly fields?: LogFields;
}

/** The owner's side: `E` is its PPP link's event type. */
export interface PumpOwner<E> {
  /** Bytes for the TLS stream (SSTP control packets and framed PPP). */
  send(bytes: Buffer): void;
  log(ev: PumpLog): void;
  /** A PPP event beyond the wiring (all but 'send' and 'log'); after 'finished' the pump disconnects the call. */
  linkEvent(now: Millis, ev: E): void;
  /** The call closed: PPP has been told (lower-down) and its last events drained, logs passed on. */
  callClosed(now: Millis, code: string, reason: string): void;
  /** The owner's other cores (the server's IPv6 services), drained in the same loop; true if any moved. */
  drainOthers?(now: Millis): boolean;
  /** Nothing moves any more (end of `run`). */
  settled?(): void;
}

/** Rounds of the drain loop before we call it a bug (each core feeding the other forever). */
const MAX_ROUNDS = 1000;

export class CallPump<E extends PppEvent | PppClientEvent> {
  private current: PumpedCall | undefined;
  private ipSink: ((packet: Buffer) => void) | undefined;

  constructor(private readonly link: PumpedLink<E>, private readonly owner: PumpOwner<E>) {}

  /** The call exists (server: after the HTTP exchange) and is not closed. */
  get open(): boolean {
    return this.current !== undefined && !this.current.closed;
  }

  /** The SSTP call to wire to the link (once). */
  attach(call: PumpedCall): void {
    this.current = call;
    this.installSink();
  }

  /**
   * The inbound fast lane: clear IPv4 the data gate admits goes straight to `sink` (a view, valid
   * during the call) instead of becoming a PPP 'data' event. It still counts as link activity.
   */
  setIpSink(sink: (packet: Buffer) => void): void {
    this.ipSink = sink;
    this.installSink();
  }

  /** The IP packet at `frame[8..]` framed for the peer (session/data-path.ts); undefined when held or closed. */
  frameOut(frame: Buffer): Buffer | undefined {
    return this.open ? frameOutbound(this.link.gate, frame) : undefined;
  }

  /** A whole TUN batch framed into `out` (session/data-path.ts `frameBatchOutbound`); nothing when closed. */
  frameBatchOut(batch: SlabPackets, out: Buffer[], reuse?: Buffer): FramedCount {
    return this.open ? frameBatchOutbound(this.link.gate, batch, out, reuse) : { packets: 0, bytes: 0 };
  }

  /** `frameOut` for a packet without headroom (a new buffer). */
  frameOutCopy(packet: Buffer): Buffer | undefined {
    return this.open ? frameOutboundCopy(this.link.gate, packet) : undefined;
  }

  /**
   * Drain both cores until neither has anything left: each may feed the other. The call is drained
   * after every PPP event, so what SSTP says in answer (a Call Connected after authentication) goes
   * out before the PPP frames queued behind that event (the IPCP request: MS-SSTP order).
   */
  run(now: Millis): void {
    for (let round = 0; round < MAX_ROUNDS; round++) {
      let moved = this.drainCall(now);
      for (const ev of this.link.poll()) {
        moved = true;
        this.onLink(now, ev);
        this.drainCall(now);
      }
      if (this.owner.drainOthers?.(now)) moved = true;
      if (!moved) return this.owner.settled?.();
    }
    throw new SstpdError('E_PUMP_LOOP', 'SSTP/PPP event loop did not settle');
  }

  private installSink(): void {
    const call = this.current;
    const sink = this.ipSink;
    if (!call || !sink) return;
    const link = this.link;
    call.dataSink = (now, buf, at, length) => {
      link.activity(now);
      return fastLaneIn(link.gate, buf, at, length, sink);
    };
  }

  private drainCall(now: Millis): boolean {
    const events = this.current?.poll();
    if (!events || events.length === 0) return false;
    for (const ev of events) this.onCall(now, ev);
    return true;
  }

  private onCall(now: Millis, ev: SstpCallEvent): void {
    switch (ev.type) {
      case 'send':
        return this.owner.send(ev.bytes);
      case 'lower-up':
        return this.link.lowerUp(now);
      case 'ppp':
        return this.link.receive(now, ev.frame);
      case 'connected':
        this.link.gate.lowerVerified = true;
        // debug: `binding-verified` (info) says the same and how.
        return this.owner.log({ level: 'debug', event: 'sstp-connected' });
      case 'closed':
        this.link.lowerDown(now);
        // The link's last words (its downs and 'finished') are moot now; only its logs still count.
        for (const e of this.link.poll()) if (e.type === 'log') this.owner.log(e);
        return this.owner.callClosed(now, ev.code, ev.reason);
      case 'log':
        return this.owner.log(ev);
    }
  }

  private onLink(now: Millis, ev: E): void {
    if (ev.type === 'send') {
      if (this.open) this.owner.send(this.current!.encodeData(ev.frame));
      return;
    }
    if (ev.type === 'log') return this.owner.log(ev);
    this.owner.linkEvent(now, ev);
    // PPP is over: tell the peer at the SSTP level, then close once acknowledged or timed out.
    if (ev.type === 'finished' && this.open) this.current!.disconnect(now);
  }
}
