/**
 * Option handling in the accel-ppp style: one handler per option type (one file each under
 * lcp/ and ipcp/), and a protocol is just its table of handlers. These helpers turn a table into
 * what the shared automaton (fsm.ts) asks for: our request, a verdict on the peer's, and the
 * effect of the peer's Ack/Nak/Reject on our next request.
 */
import type { CpOption } from './cp.js';
import type { FsmHandlers, ReplyOutcome, RequestVerdict } from './fsm.js';
import type { LogFn } from './protocols.js';

/** A handler's judgement of one option the peer requested. */
export type OptionVerdict =
  | { readonly verdict: 'ack' }
  | { readonly verdict: 'nak'; readonly data: Buffer }
  | { readonly verdict: 'reject' };

export const ACK: OptionVerdict = { verdict: 'ack' };
export const REJECT: OptionVerdict = { verdict: 'reject' };
export const nak = (data: Buffer): OptionVerdict => ({ verdict: 'nak', data });

export interface OptionHandler {
  readonly type: number;
  /** For logs, e.g. "mru", "callback". */
  readonly name: string;
  /** Our value for this option in a new Configure-Request; undefined leaves it out. */
  request?(): Buffer | undefined;
  /** Judge the peer's value. A handler without `check` rejects the option. */
  check?(data: Buffer): OptionVerdict;
  /**
   * The value to Nak with when the peer's request lacks this option (RFC 1661 §5.3 lets a Nak
   * carry options the peer did not ask for, to prompt it); undefined = fine without it.
   */
  whenMissing?(): Buffer | undefined;
  /** We are Acking the peer's request: take its value (undefined = option absent, use the default). */
  commit?(data: Buffer | undefined): void;
  /** The peer Acked our request carrying this option. */
  acked?(data: Buffer): void;
  /** The peer Nak'd our value suggesting `data`. */
  nakked?(data: Buffer): ReplyOutcome;
  /** The peer Rejected this option of our request. */
  rejected?(): ReplyOutcome;
  /** A new negotiation starts (layer started or renegotiating): back to the configured defaults. */
  reset?(): void;
}

/** A handler that always rejects its option (named, so logs say what the peer asked for). */
export function rejectOption(type: number, name: string): OptionHandler {
  return { type, name };
}

/** The options of our next Configure-Request, in table order. */
export function buildRequest(handlers: readonly OptionHandler[]): CpOption[] {
  const out: CpOption[] = [];
  for (const h of handlers) {
    const data = h.request?.();
    if (data !== undefined) out.push({ type: h.type, data });
  }
  return out;
}

/**
 * Classify a peer's Configure-Request: Reject beats Nak (a Reject carries only the rejected
 * options, unchanged); unknown option types are rejected; a Nak carries only the Nak'd options
 * with acceptable values, plus options we want the peer to ask for. An Ack echoes the request.
 */
export function classifyRequest(options: readonly CpOption[], handlers: readonly OptionHandler[]): RequestVerdict {
  const byType = indexHandlers(handlers);
  const rejects: CpOption[] = [];
  const naks: CpOption[] = [];
  for (const opt of options) {
    const h = byType.get(opt.type);
    const v = h?.check ? h.check(opt.data) : REJECT;
    if (v.verdict === 'reject') rejects.push(opt);
    else if (v.verdict === 'nak') naks.push({ type: opt.type, data: v.data });
  }
  if (rejects.length > 0) return { verdict: 'reject', options: rejects };
  const present = new Set(options.map((o) => o.type));
  for (const h of handlers) {
    if (present.has(h.type)) continue;
    const data = h.whenMissing?.();
    if (data !== undefined) naks.push({ type: h.type, data });
  }
  if (naks.length > 0) return { verdict: 'nak', options: naks };
  return { verdict: 'ack', options };
}

/** After classifying as 'ack': every handler takes the peer's value, or its default when absent. */
export function commitRequest(options: readonly CpOption[], handlers: readonly OptionHandler[]): void {
  const byType = new Map<number, Buffer>();
  for (const o of options) byType.set(o.type, o.data); // duplicates: the last one counts
  for (const h of handlers) h.commit?.(byType.get(h.type));
}

export function applyAck(options: readonly CpOption[], handlers: readonly OptionHandler[]): void {
  const byType = indexHandlers(handlers);
  for (const o of options) byType.get(o.type)?.acked?.(o.data);
}

/** A Nak: each suggestion goes to its handler; suggestions for options we do not know are ignored. */
export function applyNak(options: readonly CpOption[], handlers: readonly OptionHandler[]): ReplyOutcome {
  const byType = indexHandlers(handlers);
  for (const o of options) {
    const r = byType.get(o.type)?.nakked?.(o.data) ?? 'ok';
    if (r !== 'ok') return r;
  }
  return 'ok';
}

/** A Reject: each rejected option's handler stops asking for it (or declares the negotiation failed). */
export function applyReject(options: readonly CpOption[], handlers: readonly OptionHandler[]): ReplyOutcome {
  const byType = indexHandlers(handlers);
  for (const o of options) {
    const r = byType.get(o.type)?.rejected?.() ?? 'ok';
    if (r !== 'ok') return r;
  }
  return 'ok';
}

/** Names of the options, for logs: "mru,magic,callback". */
export function optionNames(options: readonly CpOption[], handlers: readonly OptionHandler[]): string {
  const byType = indexHandlers(handlers);
  return options.map((o) => byType.get(o.type)?.name ?? `opt${o.type}`).join(',');
}

function indexHandlers(handlers: readonly OptionHandler[]): Map<number, OptionHandler> {
  const m = new Map<number, OptionHandler>();
  for (const h of handlers) m.set(h.type, h);
  return m;
}

/**
 * The negotiation half of FsmHandlers for a protocol that is just a table of handlers; `name`
 * prefixes the debug log events ("lcp-conf-rej options=pfc,acfc").
 */
export function tableCallbacks(
  name: string,
  handlers: readonly OptionHandler[],
  log: LogFn,
): Pick<FsmHandlers, 'buildRequest' | 'checkRequest' | 'acked' | 'nakked' | 'rejected'> {
  return {
    buildRequest: () => buildRequest(handlers),
    checkRequest: (options) => {
      const v = classifyRequest(options, handlers);
      if (v.verdict === 'ack') commitRequest(options, handlers);
      else log('debug', `${name}-peer-${v.verdict}`, { options: optionNames(v.options, handlers) });
      return v;
    },
    acked: (options) => applyAck(options, handlers),
    nakked: (options) => {
      log('debug', `${name}-nakked`, { options: optionNames(options, handlers) });
      return applyNak(options, handlers);
    },
    rejected: (options) => {
      log('debug', `${name}-rejected`, { options: optionNames(options, handlers) });
      return applyReject(options, handlers);
    },
  };
}

export function resetHandlers(handlers: readonly OptionHandler[]): void {
  for (const h of handlers) h.reset?.();
}
