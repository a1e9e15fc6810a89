/** Command line of the soak run. */
import { parseArgs } from 'node:util';

export const USAGE = `usage: node dist/bench/soak.js [options]        (root; npm run soak = 10 minutes)
  --minutes N | --seconds N   how long sessions churn (default 10 minutes)
  --concurrency N         churn sessions at a time (default 30)
  --mix MIX               churn kinds (default clean:6,drop:3,wrong-password:1)
  --auth-mix MIX          churn auth methods (default mschap-v2:3,mschap:1,chap:1,pap:1)
  --hold MIN-MAX          seconds an established churn session stays up (default 2-8)
  --pings N               ICMP echoes to the gateway per churn session (default 3)
  --hostile-every S       one hostile session every S seconds (default 3, 0 = none)
  --probe-ms MS           LCP echo probe interval of the long-lived session (default 1000)
  --sample S              sample interval (default 5)
  --rate-limit D/U        kbit/s on every soak user (default 10000/5000; 'none' = no shaper)
  --settle S              wait after the last client before the leak check (default 5)
  --out DIR               where the JSON and SVG go (default soak-out/)
  --keep-heap-snapshot    keep the daemon's heap snapshot taken after the run (for finding leaks)
  --wait-quiet S          first wait (at most S seconds) for a 1-minute load average below 0.7`;

export interface SoakOptions {
  readonly durationS: number;
  readonly concurrency: number;
  readonly mix: string;
  readonly authMix: string;
  /** "MIN-MAX" seconds, as sstp-load takes it. */
  readonly hold: string;
  readonly holdMaxS: number;
  readonly pings: number;
  readonly hostileEveryS: number;
  readonly probeMs: number;
  readonly sampleS: number;
  /** kbit/s; undefined = no rate limit (no shaper, no ifb). */
  readonly rateLimit: { readonly down: number; readonly up: number } | undefined;
  readonly settleS: number;
  readonly outDir: string;
  readonly waitQuietS: number;
  readonly keepHeapSnapshot: boolean;
}

function num(text: string, what: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < min || n > max) throw new Error(`${what} must be a number in ${min}..${max}`);
  return n;
}

/** The options, or undefined after --help was printed. Throws on a bad value. */
export function parseSoakArgs(argv: readonly string[], defaultOut: string): SoakOptions | undefined {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      minutes: { type: 'string' },
      seconds: { type: 'string' },
      concurrency: { type: 'string', default: '30' },
      mix: { type: 'string', default: 'clean:6,drop:3,wrong-password:1' },
      'auth-mix': { type: 'string', default: 'mschap-v2:3,mschap:1,chap:1,pap:1' },
      hold: { type: 'string', default: '2-8' },
      pings: { type: 'string', default: '3' },
      'hostile-every': { type: 'string', default: '3' },
      'probe-ms': { type: 'string', default: '1000' },
      sample: { type: 'string', default: '5' },
      'rate-limit': { type: 'string', default: '10000/5000' },
      settle: { type: 'string', default: '5' },
      out: { type: 'string', default: defaultOut },
      'wait-quiet': { type: 'string', default: '0' },
      'keep-heap-snapshot': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return undefined;
  }
  const rate = /^(\d+)\/(\d+)$/.exec(values['rate-limit']);
  if (values['rate-limit'] !== 'none' && !rate) throw new Error('--rate-limit must be DOWN/UP kbit/s or none');
  const holdMax = Number(values.hold.split('-').at(-1));
  if (!(holdMax >= 0)) throw new Error('--hold must be S or MIN-MAX seconds');
  return {
    durationS: values.seconds !== undefined ? num(values.seconds, '--seconds', 5, 7 * 86_400) : num(values.minutes ?? '10', '--minutes', 0.1, 7 * 1440) * 60,
    concurrency: num(values.concurrency, '--concurrency', 1, 2000),
    mix: values.mix,
    authMix: values['auth-mix'],
    hold: values.hold,
    holdMaxS: holdMax,
    pings: num(values.pings, '--pings', 0, 1000),
    hostileEveryS: num(values['hostile-every'], '--hostile-every', 0, 3600),
    probeMs: num(values['probe-ms'], '--probe-ms', 10, 600_000),
    sampleS: num(values.sample, '--sample', 1, 3600),
    rateLimit: rate ? { down: Number(rate[1]), up: Number(rate[2]) } : undefined,
    settleS: num(values.settle, '--settle', 0, 600),
    outDir: values.out,
    waitQuietS: num(values['wait-quiet'], '--wait-quiet', 0, 86_400),
    keepHeapSnapshot: values['keep-heap-snapshot'],
  };
}

export const rateText = (o: SoakOptions): string => (o.rateLimit ? `${o.rateLimit.down}/${o.rateLimit.up} kbit/s` : 'none');
