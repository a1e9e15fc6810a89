/**
 * Episodes over a recorded good conversation: the recorded messages mostly in order (so a core gets
 * deep: authenticated, NCPs open, data flowing), with noise around them. The basic operators are the
 * property tests' (test/support/frame-ops.ts: next, orig, mutate, truncate, random, tick); on top of
 * them come havoc mutation, splicing, and splitting or joining messages across steps.
 */
import { frameFor, type FrameOp } from '../../test/support/frame-ops.js';
import { mutate, type Rng, type Step } from './engine.js';

/** Step ops of sequence-driven targets. */
export const OP_DATA = 0;
export const OP_TICK = 1;

export interface SequenceOptions {
  /** Weight of "the next recorded message" among the operators (default 5 of ~16). */
  readonly nextWeight?: number;
  readonly maxSteps?: number;
  /** Largest clock jump (ms). */
  readonly tickMax?: number;
  /** Split a message over two steps / join two into one (byte streams such as SSTP). */
  readonly stream?: boolean;
  /** Longest random message. */
  readonly maxRandom?: number;
  /** How often an episode starts with a clean replay of the first k recorded messages (default 0.5). */
  readonly prefixChance?: number;
}

export interface Sequence {
  readonly steps: Step[];
  /** Steps that carried fuzzed bytes (ticks and the clean prefix are not inputs). */
  readonly inputs: number;
}

function basicOp(rng: Rng, n: number, maxRandom: number, tickMax: number): FrameOp {
  switch (rng.int(5)) {
    case 0:
      return { kind: 'orig', i: rng.int(n) };
    case 1:
      return { kind: 'mutate', i: rng.int(n), pos: rng.u32(), byte: rng.int(256) };
    case 2:
      return { kind: 'truncate', i: rng.int(n), len: rng.u32() };
    case 3:
      return { kind: 'random', bytes: rng.bytes(rng.length(maxRandom)) };
    default:
      return { kind: 'tick', ms: rng.chance(0.7) ? rng.int(4000) : rng.int(tickMax + 1) };
  }
}

export function sequence(rng: Rng, recorded: readonly Buffer[], corpus: readonly Buffer[], o: SequenceOptions = {}): Sequence {
  const nextWeight = o.nextWeight ?? 5;
  const maxSteps = o.maxSteps ?? 48;
  const tickMax = o.tickMax ?? 40_000;
  const maxRandom = o.maxRandom ?? 80;
  const steps: Step[] = [];
  const cursor = { i: 0 };
  let inputs = 0;
  const push = (data: Buffer, dt = 0): void => {
    steps.push({ op: OP_DATA, dt, data });
    inputs++;
  };
  if (rng.chance(o.prefixChance ?? 0.5)) {
    // Gets the core deep (authenticated, NCPs open) before the noise starts.
    for (let k = rng.int(recorded.length + 1); k > 0; k--) steps.push({ op: OP_DATA, dt: 0, data: frameFor({ kind: 'next' }, recorded, cursor)! });
  }
  const n = rng.range(1, maxSteps);
  for (let k = 0; k < n; k++) {
    const r = rng.int(nextWeight + 11);
    if (r < nextWeight) {
      push(frameFor({ kind: 'next' }, recorded, cursor)!);
    } else if (r < nextWeight + 5) {
      const op = basicOp(rng, recorded.length, maxRandom, tickMax);
      const f = frameFor(op, recorded, cursor);
      if (f === undefined) steps.push({ op: OP_TICK, dt: op.kind === 'tick' ? op.ms : 0, data: Buffer.alloc(0) });
      else push(f);
    } else if (r < nextWeight + 9) {
      // havoc on the next message (the cursor moves on: the conversation continues after it)
      push(mutate(rng, frameFor({ kind: 'next' }, recorded, cursor)!, corpus));
    } else if (r < nextWeight + 10 && o.stream) {
      // one message over two steps
      const f = frameFor({ kind: 'next' }, recorded, cursor)!;
      const at = rng.int(f.length + 1);
      push(f.subarray(0, at));
      push(f.subarray(at), rng.chance(0.2) ? rng.int(2000) : 0);
    } else if (o.stream) {
      // several messages in one step (one TLS record)
      const parts = [frameFor({ kind: 'next' }, recorded, cursor)!, frameFor({ kind: 'next' }, recorded, cursor)!];
      if (rng.chance(0.3)) parts.push(rng.bytes(rng.length(40)));
      push(Buffer.concat(parts));
    } else {
      push(mutate(rng, rng.pick(corpus), corpus));
    }
  }
  return { steps, inputs };
}
