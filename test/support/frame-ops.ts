/**
 * Hostile-input operators for PPP link property tests: replay a recorded session in order
 * (`next`, so runs get deep) with noise around it (replays, byte mutations, truncations, random
 * frames, clock jumps).
 */
import fc from 'fast-check';

export type FrameOp =
  | { kind: 'next' }
  | { kind: 'orig'; i: number }
  | { kind: 'mutate'; i: number; pos: number; byte: number }
  | { kind: 'truncate'; i: number; len: number }
  | { kind: 'random'; bytes: Uint8Array }
  | { kind: 'tick'; ms: number };

export function frameOpArb(nextWeight = 5): fc.Arbitrary<FrameOp> {
  return fc.oneof(
    { weight: nextWeight, arbitrary: fc.constant({ kind: 'next' as const }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('orig' as const), i: fc.nat() }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('mutate' as const), i: fc.nat(), pos: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), i: fc.nat(), len: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('random' as const), bytes: fc.uint8Array({ maxLength: 40 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 40000 }) }) },
  );
}

/** The frame an op feeds to the link (undefined for a clock jump). */
export function frameFor(op: FrameOp, original: readonly Buffer[], cursor: { i: number }): Buffer | undefined {
  if (op.kind === 'tick') return undefined;
  if (op.kind === 'next') return original[cursor.i++ % original.length];
  if (op.kind === 'random') return Buffer.from(op.bytes);
  const base = original[op.i % original.length]!;
  if (op.kind === 'orig') return base;
  if (op.kind === 'truncate') return base.subarray(0, op.len % (base.length + 1));
  const b = Buffer.from(base);
  b[op.pos % b.length] = op.byte;
  return b;
}

/** The inputs of a PPP link (PppLink or PppClientLink) that a replay drives. */
export interface ReplayTarget {
  receive(now: number, frame: Buffer): void;
  handleTimeout(now: number): void;
  nextDeadline(): number | undefined;
}

/**
 * Feeds `ops` to `link` from time 0: frames through `receive`, clock jumps fire a deadline that
 * fell due. `after(now)` runs after each op (the test's pump and checks).
 */
export function replayOps(link: ReplayTarget, ops: readonly FrameOp[], original: readonly Buffer[], after: (now: number) => void): void {
  let now = 0;
  const cursor = { i: 0 };
  for (const op of ops) {
    if (op.kind === 'tick') {
      now += op.ms;
      const d = link.nextDeadline();
      if (d !== undefined && d <= now) link.handleTimeout(now);
    } else {
      link.receive(now, frameFor(op, original, cursor)!);
    }
    after(now);
  }
}
