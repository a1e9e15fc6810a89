/** iperf3 output → figures, for the rate-limit tests. */

/** The receiver's kbit/s from each iperf3 run's summary line (`-f k` or any unit), in run order. */
export function iperfReceiverKbit(output: string): number[] {
  const out: number[] = [];
  for (const m of output.matchAll(/sec\s+[\d.]+\s+[KMG]?Bytes\s+([\d.]+)\s+([KMG])bits\/sec\s+(?:\d+\s+)?receiver/g)) {
    const v = Number(m[1]);
    out.push(m[2] === 'M' ? v * 1000 : m[2] === 'G' ? v * 1e6 : v);
  }
  return out;
}
