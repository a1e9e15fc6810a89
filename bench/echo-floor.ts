/**
 * The platform's floor for a user-space tunnel: round trips of one byte between two Node processes
 * over loopback TCP (no TLS, no TUN), at the same 10 ms spacing as the ping test. Every packet
 * through sstpd crosses two such process wake-ups each way, so this is what "added latency" cannot
 * go below on a given machine.
 *   node dist/bench/echo-floor.js server PORT      |   node dist/bench/echo-floor.js client PORT [COUNT]
 * The client prints {"p50Us":…,"p99Us":…,"n":…}.
 */
import { connect, createServer } from 'node:net';
import { summarize } from '../src/client/stats.js';

const [mode, portText, countText] = process.argv.slice(2);
const port = Number(portText);
if (mode === 'server') {
  createServer((s) => {
    s.setNoDelay(true);
    s.on('data', (d) => s.write(d));
  }).listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));
} else {
  const count = Number(countText ?? 300);
  const s = connect(port, '127.0.0.1', () => {
    s.setNoDelay(true);
    const rtt: number[] = [];
    let t = 0;
    const go = (): void => {
      t = performance.now();
      s.write('x');
    };
    s.on('data', () => {
      rtt.push((performance.now() - t) * 1000);
      if (rtt.length < count) setTimeout(go, 10);
      else {
        const m = summarize(rtt);
        process.stdout.write(JSON.stringify({ p50Us: Math.round(m.p50), p99Us: Math.round(m.p99), n: m.n }) + '\n');
        process.exit(0);
      }
    });
    go();
  });
}
