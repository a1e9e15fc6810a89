/**
 * Deterministic `random(n)` sources for the cores under test (nonces, challenges, magic numbers):
 * tests must not depend on the real RNG, and two instances with different seeds must differ.
 */
import { createHash } from 'node:crypto';

/** A linear congruential stream from a numeric seed: cheap, for PPP links and authenticators. */
export function seeded(seed: number): (n: number) => Buffer {
  let x = seed;
  return (n) => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      b[i] = x >>> 24;
    }
    return b;
  };
}

/** A counter through SHA-256 from a text seed: for whole sessions (server `s`, client `c`). */
export function hashRandom(seed: string): (n: number) => Buffer {
  let i = 0;
  return (n) => {
    const out = Buffer.alloc(n);
    for (let o = 0; o < n; o += 32) createHash('sha256').update(`${seed}:${i++}`).digest().copy(out, o);
    return out;
  };
}
