/**
 * Environment knobs for measurements and limits (SSTPD_NOTSENT_LOWAT, SSTPD_QUEUE_BUDGET, …): a
 * byte count, read the same way wherever one is read.
 */

/**
 * A byte count from the environment: a non-negative integer up to `max`. Unset, empty or anything
 * else gives `dflt`: a knob read deep in the data path has no way to refuse, so a bad value falls
 * back to the default rather than to something surprising.
 */
export function envBytes(name: string, dflt: number, max = 0x7fffffff): number {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  return Number.isInteger(n) && n >= 0 && n <= max ? n : dflt;
}
