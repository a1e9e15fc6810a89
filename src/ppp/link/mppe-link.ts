/**
 * MPPE on one PPP link, for either role: CCP's lifecycle (RFC 1962), the keys from authentication
 * turned into the data gate's ciphers (RFC 3078), the receive path (0x00FD → the inner packet, a
 * Reset-Request after stateful loss). The role configures it: the server with `ppp-options mppe`
 * (require / prefer / accept; deny = no MppeLink, CCP Protocol-Rejected), the client with pppd's
 * `require-mppe` bits. Whether a packet may pass stays the gate's decision (data-gate.ts).
 */
import type { MppeKeys } from '../../auth/backend.js';
import type { Millis } from '../../common/time.js';
import type { AuthProtocol } from '../../config/model.js';
import type { DataGate } from '../data-gate.js';
import type { FsmOptions } from '../fsm.js';
import type { OptionHandler } from '../negotiate.js';
import type { LogFn } from '../protocols.js';
import { Ccp } from '../ccp/ccp.js';
import { MppeDecryptor, MppeEncryptor, type MppeDirection, type MppeStrength } from '../mppe-cipher.js';
import { bitsFor, describeMppe } from '../ccp/mppe-option.js';

/** CCP's MPPE option as this module drives it: ServerMppeOption or ClientMppeOption. */
export interface MppeOptionHandler extends OptionHandler {
  /** Our receive direction, once the peer Acked our MPPE request. */
  readonly rx: MppeDirection | undefined;
  /** Our transmit direction, once we Acked the peer's MPPE request. */
  readonly tx: MppeDirection | undefined;
  /** Why MPPE did not come about, for the log. */
  readonly refusal?: string | undefined;
  /** The key lengths our keys allow (the server offers only these). */
  configure?(strengths: readonly MppeStrength[]): void;
}

export interface MppePolicy {
  readonly option: MppeOptionHandler;
  /** No data without MPPE both ways; failing to agree on it ends the link. */
  readonly required: boolean;
  /** Send no CCP request of our own, only answer the peer's (the server's `accept`). */
  readonly silent?: boolean;
  /** Who the peer is, in log reasons ("client rejected CCP"). */
  readonly peer: 'client' | 'server';
}

/** What MPPE tells the link. */
export interface MppeUpper {
  /** One CCP packet (Code/Id/Length/Data). */
  send(packet: Buffer): void;
  /** MPPE is on in at least one direction. */
  up(now: Millis): void;
  /** The link has to end (MPPE required and impossible, or a fatal receive error). */
  close(now: Millis, reason: string): void;
  readonly log: LogFn;
}

export class MppeLink {
  readonly ccp: Ccp<MppeOptionHandler>;
  private keys: MppeKeys | undefined;
  private active = false;

  constructor(
    private readonly policy: MppePolicy,
    private readonly gate: DataGate,
    private readonly upper: MppeUpper,
    fsm: FsmOptions,
  ) {
    this.ccp = new Ccp(
      policy.option,
      {
        send: (p) => upper.send(p),
        up: (now) => this.up(now),
        down: () => this.off(),
        finished: (now, why) => this.gone(now, `CCP finished (${why})`),
        failed: (now, reason) => this.gone(now, reason),
        resetRequested: () => gate.encryptor?.resetRequested(),
        log: upper.log,
      },
      { ...fsm, silent: policy.silent ?? false },
    );
  }

  /** CCP runs in this network phase: the keys allow MPPE and it was not given up. */
  get running(): boolean {
    return this.active;
  }

  /**
   * The network phase begins with the keys authentication gave (by `method`). CCP runs when they
   * allow MPPE; false when MPPE is required and impossible (the link is being closed).
   */
  start(now: Millis, keys: MppeKeys | undefined, method: AuthProtocol | undefined): boolean {
    this.keys = keys;
    // MS-CHAPv1 keys for 40/56 bits come from the LM hash, which we never use: 128 only.
    const strengths: MppeStrength[] = !keys ? [] : method === 'mschap' ? [128] : [128, 56, 40];
    this.policy.option.configure?.(strengths);
    this.active = strengths.length > 0;
    if (this.active || !this.policy.required) return true;
    this.fail(now, `MPPE required but authentication by ${method ?? 'none'} gives no MPPE keys (use mschap or mschap-v2)`);
    return false;
  }

  /**
   * The information field of an MPPE frame (0x00FD): the inner protocol and packet, or undefined
   * when it was dropped (counted by the gate; after a stateful loss a Reset-Request goes out).
   */
  decrypt(now: Millis, info: Buffer): { readonly protocol: number; readonly payload: Buffer } | undefined {
    const dec = this.gate.decryptor;
    if (!dec) return void this.gate.drop('mppe');
    const r = dec.decrypt(info);
    if (r.ok) {
      this.ccp.resynced();
      return r;
    }
    this.gate.drop('mppe');
    this.upper.log('debug', 'mppe-drop', { reason: r.reason });
    if (r.resetRequest) this.ccp.requestReset(now);
    if (r.fatal) this.upper.close(now, `MPPE: ${r.reason}`);
    return undefined;
  }

  /** CCP is over (rejected, refused, finished): `required` ends the link, otherwise data goes clear. */
  gone(now: Millis, reason: string): void {
    if (!this.active) return;
    const hadMppe = this.gate.encryptor !== undefined || this.gate.decryptor !== undefined;
    this.active = false;
    this.ccp.stop(now);
    this.off();
    if (this.policy.required) return this.fail(now, reason);
    this.upper.log(hadMppe ? 'warn' : 'info', 'mppe-off', { reason });
  }

  /** The peer Protocol-Rejected CCP. */
  rejected(now: Millis): void {
    this.gone(now, `${this.policy.peer} rejected CCP`);
  }

  /** LCP left Opened: CCP stops without a word, the ciphers go. */
  stop(now: Millis): void {
    this.active = false;
    this.ccp.stop(now);
    this.off();
  }

  private up(now: Millis): void {
    const { rx, tx } = this.policy.option;
    const keys = this.keys;
    if (this.policy.required && (!rx || !tx)) {
      return this.gone(now, `MPPE required but the ${this.policy.peer} did not agree to MPPE in both directions`);
    }
    if (!keys || (!rx && !tx)) {
      this.upper.log('info', 'mppe-off', { reason: this.policy.option.refusal ?? 'MPPE not negotiated' });
      return;
    }
    this.gate.encryptor = tx ? new MppeEncryptor(keys.send, tx) : undefined;
    this.gate.decryptor = rx ? new MppeDecryptor(keys.recv, rx) : undefined;
    this.upper.log('info', 'mppe-up', { send: dirText(tx), receive: dirText(rx) });
    this.upper.up(now);
  }

  private off(): void {
    this.gate.encryptor = undefined;
    this.gate.decryptor = undefined;
  }

  private fail(now: Millis, reason: string): void {
    this.upper.log('warn', 'mppe-required-failed', { reason });
    this.upper.close(now, reason);
  }
}

function dirText(d: MppeDirection | undefined): string {
  return d ? describeMppe(bitsFor([d.strength], d.stateless)) : 'clear';
}
