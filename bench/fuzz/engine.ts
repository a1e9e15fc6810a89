/**
 * The fuzzing engine shared by every target: a seeded PRNG, byte mutators, the episode model and
 * the runner that turns what escapes a core into a classified failure.
 *
 * An episode is a list of steps fed to one fresh core (a step = one chunk, frame, datagram or text,
 * plus a clock advance and a target-defined `op`). Episodes are generated from a 32-bit seed only,
 * never from what the core did, so the parent process can regenerate the input of a worker that
 * hung, and a reproducer needs nothing but its steps.
 */
import { performance } from 'node:perf_hooks';
import { DecodeError } from '../../src/common/errors.js';

export interface Step {
  /** Target-defined: which input method or channel the bytes go to (0 = the main one). */
  readonly op: number;
  /** Milliseconds the fake clock advances before the step (timeouts fire then). */
  readonly dt: number;
  readonly data: Buffer;
}

export interface Generated {
  readonly steps: readonly Step[];
  /** How many fuzz inputs this episode counts for (a stream split into chunks counts once). */
  readonly inputs: number;
}

/** One fresh core fed step by step. */
export interface Episode {
  step(s: Step): void;
  /** After the last step: checks that need the whole episode. */
  finish?(): void;
}

export interface Target {
  readonly name: string;
  readonly group: string;
  /** One line: what is driven and which invariants are checked. */
  readonly about: string;
  generate(rng: Rng): Generated;
  start(): Episode;
}

/** A broken invariant: the core did something it must never do, without throwing. */
export class Violation extends Error {
  override readonly name = 'Violation';
}

/** A step that ran for longer than the hang limit. */
export class HangError extends Error {
  override readonly name = 'HangError';
}

export const check = (ok: boolean, message: string): void => {
  if (!ok) throw new Violation(message);
};

/**
 * Runs a decoder that may refuse its input only with DecodeError (and, when given, only with one
 * of `codes`); undefined when it refused. Anything else propagates and becomes a crash.
 */
export function decodeOnly<T>(fn: () => T, codes?: readonly string[]): T | undefined {
  try {
    return fn();
  } catch (e) {
    if (!(e instanceof DecodeError)) throw e;
    if (codes && !codes.includes(e.code)) throw new Violation(`DecodeError with unexpected code ${e.code}: ${e.message}`);
    return undefined;
  }
}

// ---- PRNG ---------------------------------------------------------------------------------------

/** splitmix32: spreads a seed (and mixes several numbers into one). */
export function mix(...xs: number[]): number {
  let h = 0x9e3779b9;
  for (const x of xs) {
    h = (h + (x >>> 0) + 0x9e3779b9) >>> 0;
    h = Math.imul(h ^ (h >>> 16), 0x21f0aaad) >>> 0;
    h = Math.imul(h ^ (h >>> 15), 0x735a2d97) >>> 0;
    h = (h ^ (h >>> 15)) >>> 0;
  }
  return h;
}

/** sfc32: small, fast, good enough for fuzzing; the whole state comes from one 32-bit seed. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d = 1;

  constructor(seed: number) {
    this.a = mix(seed, 1);
    this.b = mix(seed, 2);
    this.c = mix(seed, 3);
    for (let i = 0; i < 12; i++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }
  /** 0 ≤ x < n. */
  int(n: number): number {
    return n <= 1 ? 0 : this.u32() % n;
  }
  /** lo ≤ x ≤ hi. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  chance(p: number): boolean {
    return this.u32() < p * 0x1_0000_0000;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }
  /** Mostly short, sometimes long: lengths as bugs like them. */
  length(max: number): number {
    const r = this.int(10);
    if (r < 6) return this.int(Math.min(max, 24) + 1);
    if (r < 9) return this.int(Math.min(max, 300) + 1);
    return this.int(max + 1);
  }
}

/** A deterministic `random(n)` for the cores (their nonces, challenges, magic numbers). */
export function seededRandom(seed: number): (n: number) => Buffer {
  const r = new Rng(seed);
  return (n) => r.bytes(n);
}

// ---- mutation -----------------------------------------------------------------------------------

const INTERESTING8 = [0x00, 0x01, 0x02, 0x03, 0x04, 0x7f, 0x80, 0x81, 0xfe, 0xff];

/** Values a length field likes to be wrong with, relative to the buffer and the field's place. */
function lengthValue(rng: Rng, len: number, pos: number, wide: boolean): number {
  const cands = [0, 1, 2, 3, 4, 5, 7, 8, len - 1, len, len + 1, len - pos, len - pos + 1, len - pos - 1, len * 2, 0x7f, 0x80, 0xff];
  if (wide) cands.push(0x100, 0xfff, 0x1000, 0x7fff, 0x8000, 0xffff, 4095, 4096);
  const v = rng.chance(0.85) ? rng.pick(cands) : rng.u32();
  return wide ? v & 0xffff : v & 0xff;
}

/** One random edit. `corpus` feeds splicing. */
export function mutateOnce(rng: Rng, b: Buffer, corpus: readonly Buffer[]): Buffer {
  const len = b.length;
  switch (rng.int(len === 0 ? 3 : 11)) {
    case 0: {
      // insert random bytes
      const at = rng.int(len + 1);
      return Buffer.concat([b.subarray(0, at), rng.bytes(rng.range(1, rng.chance(0.8) ? 8 : 64)), b.subarray(at)]);
    }
    case 1: {
      // splice: our head, another seed's tail
      const o = rng.pick(corpus);
      return Buffer.concat([b.subarray(0, rng.int(len + 1)), o.subarray(rng.int(o.length + 1))]);
    }
    case 2: {
      // insert a piece of another seed
      const o = rng.pick(corpus);
      const s = rng.int(o.length + 1);
      const at = rng.int(len + 1);
      return Buffer.concat([b.subarray(0, at), o.subarray(s, s + rng.range(1, 64)), b.subarray(at)]);
    }
    case 3: {
      const out = Buffer.from(b);
      const at = rng.int(len);
      out[at] = out[at]! ^ (1 << rng.int(8));
      return out;
    }
    case 4: {
      const out = Buffer.from(b);
      out[rng.int(len)] = rng.chance(0.7) ? rng.pick(INTERESTING8) : rng.int(256);
      return out;
    }
    case 5: {
      // delete a range
      const at = rng.int(len);
      return Buffer.concat([b.subarray(0, at), b.subarray(Math.min(len, at + rng.range(1, rng.chance(0.8) ? 4 : 64)))]);
    }
    case 6:
      // truncate
      return b.subarray(0, rng.int(len));
    case 7: {
      // length-field corruption: an 8- or 16-bit big-endian field set to a telling value
      const out = Buffer.from(b);
      const wide = len >= 2 && rng.chance(0.6);
      const pos = rng.int(wide ? len - 1 : len);
      const v = lengthValue(rng, len, pos, wide);
      if (wide) out.writeUInt16BE(v, pos);
      else out[pos] = v;
      return out;
    }
    case 8: {
      // small arithmetic on a byte
      const out = Buffer.from(b);
      const at = rng.int(len);
      out[at] = (out[at]! + rng.range(-8, 8)) & 0xff;
      return out;
    }
    case 9: {
      // duplicate a chunk in place
      const s = rng.int(len);
      const e = Math.min(len, s + rng.range(1, 32));
      return Buffer.concat([b.subarray(0, e), b.subarray(s, e), b.subarray(e)]);
    }
    default: {
      // overwrite a run with random bytes
      const out = Buffer.from(b);
      const at = rng.int(len);
      rng.bytes(Math.min(len - at, rng.range(1, 16))).copy(out, at);
      return out;
    }
  }
}

/** One to a few edits (havoc); the result is capped at `max` bytes. */
export function mutate(rng: Rng, base: Buffer, corpus: readonly Buffer[], max = 4096): Buffer {
  let b = base;
  const n = rng.chance(0.5) ? 1 : rng.range(2, 6);
  for (let i = 0; i < n; i++) b = mutateOnce(rng, b, corpus);
  return b.length > max ? b.subarray(0, max) : b;
}

/** Cuts a stream at random places (chunk splitting); at most `maxChunks` pieces. */
export function split(rng: Rng, stream: Buffer, maxChunks = 8): Buffer[] {
  const n = rng.chance(0.3) ? 1 : rng.range(2, maxChunks);
  const cuts = new Set<number>();
  for (let i = 1; i < n; i++) cuts.add(rng.int(stream.length + 1));
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of [...cuts].sort((x, y) => x - y)) {
    out.push(stream.subarray(prev, c));
    prev = c;
  }
  out.push(stream.subarray(prev));
  return out;
}

/** An input either generated from nothing or mutated from a valid seed. */
export function seedOrNoise(rng: Rng, corpus: readonly Buffer[], maxRandom = 300, max = 4096): Buffer {
  const r = rng.int(10);
  if (r < 1) return rng.bytes(rng.length(maxRandom));
  if (r < 2) return rng.pick(corpus);
  return mutate(rng, rng.pick(corpus), corpus, max);
}

export const step = (data: Buffer, op = 0, dt = 0): Step => ({ op, dt, data });

// ---- running ------------------------------------------------------------------------------------

export type FailureKind = 'exception' | 'invariant' | 'hang';

export interface Failure {
  readonly kind: FailureKind;
  readonly message: string;
  readonly stack: string;
  /** Index of the step that failed; steps.length = in finish(). */
  readonly step: number;
}

/** Called before each step (watchdog heartbeat). */
export type Beat = (stepIndex: number) => void;

export function runEpisode(target: Target, steps: readonly Step[], hangMs: number, beat?: Beat): Failure | undefined {
  let i = -1;
  try {
    const ep = target.start();
    for (i = 0; i < steps.length; i++) {
      beat?.(i);
      const t0 = performance.now();
      ep.step(steps[i]!);
      const ms = performance.now() - t0;
      if (ms > hangMs) throw new HangError(`step ${i} ran for ${Math.round(ms)} ms (limit ${hangMs} ms)`);
    }
    i = steps.length;
    ep.finish?.();
    return undefined;
  } catch (e) {
    return classify(e, Math.max(i, 0));
  }
}

function classify(e: unknown, stepIndex: number): Failure {
  const err = e instanceof Error ? e : new Error(String(e));
  const kind: FailureKind = err instanceof Violation ? 'invariant' : err instanceof HangError ? 'hang' : 'exception';
  return { kind, message: `${err.name}: ${err.message}`, stack: err.stack ?? '', step: stepIndex };
}

/**
 * What makes two failures the same bug: kind, the message with numbers and hex blurred, and for
 * exceptions the first frame inside the project's own code.
 */
export function signature(target: string, f: Failure): string {
  // An invariant's text is stable up to its first ": "; what follows is the case at hand.
  const text = f.kind === 'invariant' ? f.message.replace(/^(Violation: .*?): .*$/s, '$1') : f.message;
  const msg = text.replace(/0x[0-9a-f]+|[0-9a-f]{8,}|\d+/gi, '#').slice(0, 160);
  if (f.kind !== 'exception') return `${target}|${f.kind}|${msg}`;
  const frame = f.stack.split('\n').find((l) => /\/(src|bench|test)\//.test(l)) ?? '';
  const where = /\/((?:src|bench|test)\/[^:)]+)/.exec(frame)?.[1] ?? '?';
  const fn = /at (?:new )?([\w.<>$]+) \(/.exec(frame)?.[1] ?? '';
  return `${target}|exception|${msg}|${fn}@${where}`;
}

/**
 * Shrinks a failing episode: drops the steps after the failure, then each earlier step that the
 * failure does not need (same signature). Bounded in attempts and time; hangs are not shrunk.
 */
export function minimize(target: Target, steps: readonly Step[], f: Failure, hangMs: number, budgetMs = 3000): { steps: Step[]; failure: Failure } {
  const sig = signature(target.name, f);
  let best = steps.slice(0, f.step + 1);
  let bestF = f;
  if (f.kind === 'hang') return { steps: best, failure: f };
  const again = runEpisode(target, best, hangMs);
  if (!again || signature(target.name, again) !== sig) return { steps: steps.slice(), failure: f };
  bestF = again;
  const until = performance.now() + budgetMs;
  for (let i = best.length - 2; i >= 0 && performance.now() < until; i--) {
    const cand = [...best.slice(0, i), ...best.slice(i + 1)];
    const r = runEpisode(target, cand, hangMs);
    if (r && signature(target.name, r) === sig) {
      best = cand.slice(0, r.step + 1);
      bestF = r;
      i = Math.min(i, best.length - 1);
    }
  }
  return { steps: best, failure: bestF };
}

// ---- reproducers --------------------------------------------------------------------------------

export interface Reproducer {
  readonly target: string;
  readonly kind: FailureKind;
  readonly message: string;
  readonly signature: string;
  readonly seed: number;
  readonly episodeSeed: number;
  readonly failingStep: number;
  readonly steps: readonly { readonly op: number; readonly dt: number; readonly hex: string }[];
  readonly stack: string;
  readonly found: string;
  readonly node: string;
}

export function toReproducer(target: string, seed: number, episodeSeed: number, steps: readonly Step[], f: Failure): Reproducer {
  return {
    target,
    kind: f.kind,
    message: f.message,
    signature: signature(target, f),
    seed,
    episodeSeed,
    failingStep: f.step,
    steps: steps.map((s) => ({ op: s.op, dt: s.dt, hex: s.data.toString('hex') })),
    stack: f.stack,
    found: new Date().toISOString(),
    node: process.version,
  };
}

export const stepsOf = (r: Pick<Reproducer, 'steps'>): Step[] => r.steps.map((s) => ({ op: s.op, dt: s.dt, data: Buffer.from(s.hex, 'hex') }));
