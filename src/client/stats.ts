/**
 * Small statistics for the load generator and benchmarks: percentiles over a sample, and weighted
 * auth mixes ("mschap-v2:3,pap:1"). Pure.
 */
import type { AuthProtocol } from '../config/model.js';
import { AUTH_METHODS, UsageError } from './options.js';

export interface Summary {
  readonly n: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/** Nearest-rank percentile of an ascending array (p in 0..100). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

const round = (x: number): number => Math.round(x * 100) / 100;

export function summarize(values: readonly number[]): Summary {
  const s = Float64Array.from(values).sort();
  let sum = 0;
  for (const v of s) sum += v;
  return {
    n: s.length,
    mean: s.length ? round(sum / s.length) : NaN,
    p50: round(percentile(s, 50)),
    p90: round(percentile(s, 90)),
    p99: round(percentile(s, 99)),
    max: s.length ? round(s[s.length - 1]!) : NaN,
  };
}

/** "mschap-v2:3,pap:1" → a cycle [v2, v2, v2, pap]: session i uses cycle[i % length]. */
export function authCycle(mix: string): AuthProtocol[] {
  const out: AuthProtocol[] = [];
  for (const part of mix.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [name = '', w = '1'] = part.split(':');
    if (!(AUTH_METHODS as readonly string[]).includes(name)) throw new UsageError(`unknown auth method ${name} in --auth-mix`);
    const weight = Number(w);
    if (!Number.isInteger(weight) || weight < 1 || weight > 1000) throw new UsageError(`bad weight ${w} in --auth-mix`);
    for (let i = 0; i < weight; i++) out.push(name as AuthProtocol);
  }
  if (out.length === 0) throw new UsageError('--auth-mix is empty');
  return out;
}
