/**
 * The Node/V8 flags sstpd's processes run with (issue 14: ping p99 under a bulk flow).
 *
 * `--max-semi-space-size=4` (MiB): a bounded young generation. With V8's default (16 MiB semi-
 * spaces on 64-bit, a 32 MiB new space once grown) a daemon with a small old generation (13 MB
 * here) and a session receiving at 1 Gbit/s fell, in 4 runs of 5, into a full mark-compact after
 * nearly every scavenge: incremental marking started on "allocation limit" with the old generation
 * at 13 of 36 MB, which is V8's soft limit (the old generation's room smaller than the new space),
 * 26–32 full GCs per 10 s with 1–5 ms pauses on the main thread, and every packet of every session
 * waited through them (ping p99 under the flow 5.8–11 ms). With 4 MiB semi-spaces: one full GC
 * per run, p99 0.7–1.4 ms, throughput and setup cost the same within this machine's noise (README
 * Benchmarks, "the young generation").
 *
 * V8 reads the flag when the heap is made, so it has to be on the command line: the CLIs' shebang
 * lines, `npm start`, the benches and test daemons, and the workers the primary forks
 * (`withNodeFlags`). test/unit/node-flags.test.ts checks that each of those says the same.
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];

const name = (flag: string): string => flag.split('=')[0]!;

/** The flags of NODE_FLAGS that neither `execArgv` nor NODE_OPTIONS sets (by name: any value counts). */
export function missingNodeFlags(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env['NODE_OPTIONS'] ?? ''): string[] {
  const given = [...execArgv, ...nodeOptions.split(/\s+/)].filter(Boolean).map(name);
  return NODE_FLAGS.filter((f) => !given.includes(name(f)));
}

/**
 * `execArgv` with whatever of NODE_FLAGS neither it nor NODE_OPTIONS (which a worker inherits)
 * sets: a worker gets them even if its primary did not, and an operator's own value stays.
 */
export function withNodeFlags(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env['NODE_OPTIONS'] ?? ''): string[] {
  return [...missingNodeFlags(execArgv, nodeOptions), ...execArgv];
}
