/**
 * The Node/V8 flags sstpd's processes run with (issue 14: ping p99 under a bulk flow).
 *
 * A small daemon heap (13 MB live) with a session receiving at 1 Gbit/s could fall into a full
 * mark-compact every ~100 ms: V8 started incremental marking on "allocation limit" with the old
 * generation at 13 of a 24–36 MB limit, again right after each collection, with 1–5 ms pauses on
 * the main thread that every packet of every session waited through (ping p99 under the flow
 * 6–11 ms). Which runs fell into it depended on the allocation pattern:
 * - `--max-semi-space-size=4` (MiB, default 16 here) stopped it for the data path as it was then
 *   (1 full GC per run in 13 runs, against 26–32 in 4 of 5 runs without);
 * - once the receive path stopped making a Buffer view per SSTP and PPP header, it came back
 *   with 4 MiB semi-spaces alone (48–49 full GCs in 6 of 9 runs);
 * - `--initial-old-space-size=64` (MiB) gives the old generation room from the start: no full GC
 *   at all in 8 of 8 runs, with throughput, setup cost and idle RSS within this machine's noise
 *   (README Benchmarks, "the young generation"). 1 MiB semi-spaces also avoided it but cost a
 *   fifth of the setup rate.
 *
 * V8 reads these when the heap is made, so they have to be on the command line: the CLIs' shebang
 * lines, `npm start`, the benches and test daemons, and the workers the primary forks
 * (`withNodeFlags`). test/unit/node-flags.test.ts checks that each of those says the same.
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4', '--initial-old-space-size=64'];

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
