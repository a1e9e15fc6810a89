/**
 * The protocol between the primary process and its workers: requests with ids and their answers,
 * plus one-way notes. Sans-I/O: the peer takes decoded messages in (`receive`) and hands messages
 * out through the `send` it was given; the channel (cluster's IPC pipe, structured-clone
 * "advanced" serialization, so Buffers and bigints travel) is the caller's.
 *
 *   {t: 'q', id, op, body}                request; answered by exactly one
 *   {t: 'r', id, ok: true, body}          answer, or
 *   {t: 'r', id, ok: false, error}        refusal (the handler threw)
 *   {t: 'n', op, body}                    note, no answer
 *
 * Every op and its body types are listed once, below: what a worker asks of the primary (shared
 * state: leases, user claims, admission, accounting) and what the primary asks of a worker (its
 * sessions, ending or changing one, reload, stop).
 */
import type { Balance } from './listener.js';
import { SstpdError } from '../common/errors.js';
import type { Prefix6 } from '../ip/ipv6-addr.js';
import type { RadiusOutcome, RadiusRequest } from '../radius/client.js';
import type { CoaChanges, DaeSession } from '../radius/dae.js';
import type { TerminateCause } from '../session/registry.js';
import type { ControlReply, ControlRequest } from './control.js';
import type { MetricsJson } from './metrics.js';

export class IpcError extends SstpdError {
  constructor(message: string, code = 'E_IPC') {
    super(code, message);
  }
}

/** What a worker needs to start: its slot, how many slots, the configuration text all share. */
export interface WorkerInit {
  readonly slot: number;
  readonly workers: number;
  readonly source: { readonly text: string; readonly baseDir: string };
  readonly generation: number;
  readonly host?: string;
  /** How connections reach the workers (src/server/listener.ts `Balance`). */
  readonly balance: Balance;
}

/**
 * After authentication, in one round trip: the user is claimed (one session per user: the user's
 * sessions in other workers end first), then what the session gets from the shared pools.
 */
export interface ReserveRequest {
  readonly sid: string;
  readonly username: string;
  /** IPv4: absent when the session takes no IPv4 address (ipv4 deny, no pool offers one). */
  readonly ipv4?: { readonly staticIp?: string; readonly poolName?: string };
  /**
   * IPv6 prefix (and the delegated prefix with it, when a delegate pool offers one), from the pools
   * RADIUS named (Framed-IPv6-Pool, Delegated-IPv6-Prefix-Pool) or else `default-ipv6-pool`.
   */
  readonly ipv6?: { readonly delegate: boolean; readonly poolName?: string; readonly delegatePoolName?: string };
}
export type LeaseResult<T> = T | { readonly error: string };
export interface Reservation {
  readonly ipv4?: LeaseResult<{ readonly ip: string }>;
  readonly prefix?: LeaseResult<{ readonly prefix: Prefix6 }>;
  readonly delegate?: LeaseResult<{ readonly prefix: Prefix6 }>;
}

/** A session's counters, sent every few seconds so the primary can finish accounting after a crash. */
export interface CounterReport {
  readonly sid: string;
  readonly rxBytes: number;
  readonly txBytes: number;
  readonly rxPackets: number;
  readonly txPackets: number;
}

interface Call<Req, Res> {
  readonly req: Req;
  readonly res: Res;
}
/** An op table: each op's request and answer types. */
type Calls<T> = { [K in keyof T]: Call<unknown, unknown> };

/** Worker → primary requests. */
export interface PrimaryCalls {
  hello: Call<{ readonly pid: number }, WorkerInit>;
  /** Admission before TLS: `starting` = this worker's connections not active yet. */
  admit: Call<{ readonly address?: string; readonly starting: number }, { readonly refusal?: string }>;
  reserve: Call<ReserveRequest, Reservation>;
  /**
   * RADIUS goes out through the primary: one view of the servers (failover, fail-time) as in one
   * process, and it alone decides the one Stop of each session.
   */
  radius: Call<{ readonly req: RadiusRequest }, RadiusOutcome>;
}

/** Worker → primary notes. */
export interface PrimaryNotes {
  ready: Record<string, never>;
  release: { readonly sid: string; readonly ip?: string; readonly prefix?: Prefix6 };
  /** The session left the worker's registry (its user claim goes). */
  down: { readonly sid: string };
  report: { readonly sessions: readonly CounterReport[] };
}

/** Primary → worker requests. */
export interface WorkerCalls {
  control: Call<ControlRequest, ControlReply>;
  'dae-sessions': Call<Record<string, never>, readonly DaeSession[]>;
  'end-session': Call<{ readonly sid: string; readonly cause: TerminateCause; readonly reason: string }, { readonly found: boolean }>;
  coa: Call<{ readonly sid: string; readonly changes: CoaChanges }, Record<string, never>>;
  reload: Call<{ readonly source: WorkerInit['source']; readonly generation: number }, { readonly generation: number }>;
  stop: Call<Record<string, never>, { readonly sessions: number }>;
  /** Connections and sessions not active yet, now (max-concurrent-sessions, before refusing). */
  starting: Call<Record<string, never>, number>;
  metrics: Call<Record<string, never>, MetricsJson>;
}
export type WorkerNotes = Record<never, never>;

export type Envelope =
  | { readonly t: 'q'; readonly id: number; readonly op: string; readonly body: unknown }
  | { readonly t: 'r'; readonly id: number; readonly ok: true; readonly body: unknown }
  | { readonly t: 'r'; readonly id: number; readonly ok: false; readonly error: string }
  | { readonly t: 'n'; readonly op: string; readonly body: unknown };

/** Checks the envelope of a message off the channel; throws IpcError for anything else. */
export function decodeEnvelope(msg: unknown): Envelope {
  if (typeof msg !== 'object' || msg === null) throw new IpcError('message is not an object');
  const m = msg as Record<string, unknown>;
  const id = m['id'];
  const validId = typeof id === 'number' && Number.isSafeInteger(id) && id > 0;
  switch (m['t']) {
    case 'q':
      if (!validId || typeof m['op'] !== 'string') throw new IpcError('request without id or op');
      return { t: 'q', id: id as number, op: m['op'], body: m['body'] };
    case 'r':
      if (!validId) throw new IpcError('answer without id');
      if (m['ok'] === true) return { t: 'r', id: id as number, ok: true, body: m['body'] };
      if (m['ok'] === false && typeof m['error'] === 'string') return { t: 'r', id: id as number, ok: false, error: m['error'] };
      throw new IpcError('answer is neither ok nor an error');
    case 'n':
      if (typeof m['op'] !== 'string') throw new IpcError('note without op');
      return { t: 'n', op: m['op'], body: m['body'] };
    default:
      throw new IpcError(`unknown message kind ${String(m['t'])}`);
  }
}

/** Is this message one of ours (cluster's own messages share the channel)? */
export const isEnvelope = (msg: unknown): boolean =>
  typeof msg === 'object' && msg !== null && ['q', 'r', 'n'].includes(String((msg as { t?: unknown }).t));

export type CallHandlers<In extends Calls<In>> = { [K in keyof In]: (body: In[K]['req']) => Promise<In[K]['res']> | In[K]['res'] };
export type NoteHandlers<In> = { [K in keyof In]: (body: In[K]) => void };

interface Pending {
  readonly resolve: (body: unknown) => void;
  readonly reject: (err: Error) => void;
}

/**
 * One end of the channel: `call` and `notify` what the other end handles; `receive` what it sent.
 * Answers go out in whatever order handlers finish; ids tie them to their requests.
 */
export class RpcPeer<Out extends Calls<Out>, OutNotes, In extends Calls<In>, InNotes> {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closedWith: string | undefined;

  constructor(
    private readonly send: (m: Envelope) => void,
    private readonly calls: Partial<CallHandlers<In>>,
    private readonly notes: Partial<NoteHandlers<InNotes>>,
    /** A message that is not ours or names no handler (logged by the caller; never thrown at the channel). */
    private readonly onBad: (reason: string) => void = () => undefined,
  ) {}

  get outstanding(): number {
    return this.pending.size;
  }

  call<K extends keyof Out & string>(op: K, body: Out[K]['req']): Promise<Out[K]['res']> {
    if (this.closedWith !== undefined) return Promise.reject(new IpcError(`${op}: ${this.closedWith}`, 'E_IPC_CLOSED'));
    const id = this.nextId++;
    return new Promise<Out[K]['res']>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (b: unknown) => void, reject });
      this.send({ t: 'q', id, op, body });
    });
  }

  notify<K extends keyof OutNotes & string>(op: K, body: OutNotes[K]): void {
    if (this.closedWith === undefined) this.send({ t: 'n', op, body });
  }

  receive(msg: unknown): void {
    let m: Envelope;
    try {
      m = decodeEnvelope(msg);
    } catch (err) {
      return this.onBad((err as Error).message);
    }
    if (m.t === 'r') return this.answered(m);
    if (m.t === 'n') {
      const h = (this.notes as Record<string, ((b: unknown) => void) | undefined>)[m.op];
      return h ? h(m.body) : this.onBad(`no handler for note ${m.op}`);
    }
    const h = (this.calls as Record<string, ((b: unknown) => unknown) | undefined>)[m.op];
    if (!h) return this.reply(m.id, Promise.reject(new IpcError(`unknown request ${m.op}`)));
    let result: Promise<unknown>;
    try {
      result = Promise.resolve(h(m.body));
    } catch (err) {
      result = Promise.reject(err);
    }
    this.reply(m.id, result);
  }

  /** The channel is gone: every call still waiting fails with `reason`, later ones at once. */
  close(reason: string): void {
    this.closedWith ??= reason;
    const waiting = [...this.pending.values()];
    this.pending.clear();
    for (const p of waiting) p.reject(new IpcError(reason, 'E_IPC_CLOSED'));
  }

  private answered(m: Extract<Envelope, { t: 'r' }>): void {
    const p = this.pending.get(m.id);
    if (!p) return this.onBad(`answer to unknown request ${m.id}`);
    this.pending.delete(m.id);
    if (m.ok) p.resolve(m.body);
    else p.reject(new IpcError(m.error, 'E_IPC_REFUSED'));
  }

  private reply(id: number, result: Promise<unknown>): void {
    result.then(
      (body) => this.closedWith === undefined && this.send({ t: 'r', id, ok: true, body }),
      (err: unknown) => this.closedWith === undefined && this.send({ t: 'r', id, ok: false, error: err instanceof Error ? err.message : String(err) }),
    );
  }
}
