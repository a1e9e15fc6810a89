#!/usr/bin/env -S node --max-semi-space-size=4 --initial-old-space-size=64
/**
 * sstp-load — drives N SSTP sessions from one process (no TUN) and reports the setup rate, setup
 * latency percentiles and failures by cause as JSON (progress lines, then one "report" line).
 * With --duration it churns instead: -c sessions at a time, one after another, for that long.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ClientError, EXIT_CODES } from '../client/errors.js';
import { CHURN_KINDS, runChurn, runLoad, type ChurnKind } from '../client/io/loadgen.js';
import { parseTarget, UsageError } from '../client/options.js';
import { authCycle } from '../client/stats.js';

const USAGE = `usage: sstp-load [options] HOST[:PORT]
  -u, --user NAME        user name; with %d, session i uses NAME with %d = i mod --users
      --user-list A,B,…  instead of --user: session i uses the (i mod count)-th name (e.g. the
                         users a test wants back after their server went away)
  -p, --password PASS    password (same for every user); or $SSTP_PASSWORD
      --users N          distinct user names for %d (default: --sessions)
  -n, --sessions N       sessions to establish (default 100, at most 100000)
  -c, --concurrency N    setups in flight at once (default 10)
      --rate R           new connects per second, 0 = unlimited (default 0)
      --hold S           keep every established session S seconds, then disconnect (default 0:
                         disconnect each right after setup)
      --echo-samples     during the hold, one LCP echo per session: RTT percentiles
      --auth-mix MIX     methods with weights, e.g. mschap-v2:3,pap:1 (default mschap-v2)
      --lcp-echo-interval S  client keepalive (default 0 = answer the server's only)
      --timeout S        setup timeout per session (default 30)
      --ca FILE | --insecure | --servername NAME   as sstp-connect
      --source-addresses N   cycle through 127.0.1.1..N as source addresses (loopback targets)
Churn (soak runs):
      --duration S       churn for S seconds instead: -c sessions at a time, each worker w runs one
                         session after another as user NAME with %d = w (so -c users are needed)
      --mix MIX          session kinds with weights (default clean:6,drop:3,wrong-password:1):
                         clean = hold, ping, goodbye; drop = hold, then the socket is destroyed
                         without a goodbye; wrong-password = must be refused
      --hold MIN-MAX     each established session stays MIN..MAX seconds (default 2-8)
      --pings N          ICMP echo requests to the gateway through each session (default 3)
      --progress S       a "progress" line every S seconds (default 5, 0 = none)
      SIGINT/SIGTERM end a churn early: no new sessions, live ones close cleanly, then the report.
Exit 0 when every session was established (churn: nothing failed or was lost and every wrong
password was refused), 1 otherwise, 2 on usage errors.`;

const emit = (o: Record<string, unknown>): void => void process.stdout.write(JSON.stringify(o) + '\n');

function int(text: string, what: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${what} must be an integer in ${min}..${max}`);
  return n;
}

/** "clean:6,drop:3" → a weighted list of churn kinds. */
function churnMix(mix: string): ChurnKind[] {
  const out: ChurnKind[] = [];
  for (const part of mix.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [name = '', w = '1'] = part.split(':');
    if (!(CHURN_KINDS as readonly string[]).includes(name)) throw new UsageError(`unknown session kind ${name} in --mix: use ${CHURN_KINDS.join(', ')}`);
    for (let i = 0, n = int(w, `weight of ${name} in --mix`, 0, 1000); i < n; i++) out.push(name as ChurnKind);
  }
  if (out.length === 0) throw new UsageError('--mix is empty');
  return out;
}

/** "2-8" → { min: 2, max: 8 } seconds; "5" → 5..5. */
function holdRange(text: string): { min: number; max: number } {
  const [a = '', b = a] = text.split('-');
  const min = Number(a);
  const max = Number(b);
  if (!(min >= 0 && max >= min && max <= 86_400)) throw new UsageError('--hold must be S or MIN-MAX seconds (0 ≤ MIN ≤ MAX ≤ 86400)');
  return { min, max };
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      user: { type: 'string', short: 'u' },
      'user-list': { type: 'string' },
      password: { type: 'string', short: 'p' },
      users: { type: 'string' },
      sessions: { type: 'string', short: 'n', default: '100' },
      concurrency: { type: 'string', short: 'c', default: '10' },
      rate: { type: 'string', default: '0' },
      hold: { type: 'string' },
      duration: { type: 'string' },
      mix: { type: 'string', default: 'clean:6,drop:3,wrong-password:1' },
      pings: { type: 'string', default: '3' },
      progress: { type: 'string', default: '5' },
      'echo-samples': { type: 'boolean', default: false },
      'auth-mix': { type: 'string', default: 'mschap-v2' },
      'lcp-echo-interval': { type: 'string', default: '0' },
      timeout: { type: 'string', default: '30' },
      ca: { type: 'string' },
      insecure: { type: 'boolean', default: false },
      servername: { type: 'string' },
      'source-addresses': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('exactly one server address expected (HOST[:PORT])');
  const { host, port } = parseTarget(positionals[0]!);
  const names = values['user-list']?.split(',').filter(Boolean);
  if (names !== undefined && (names.length === 0 || values.user !== undefined)) throw new UsageError('--user-list takes one or more names, and no --user');
  const user = values.user ?? (names !== undefined ? '%d' : undefined);
  if (user === undefined) throw new UsageError('--user (or --user-list) is required');
  /** The user name with %d = k. */
  const userFor = (k: number): string => (names !== undefined ? names[k % names.length]! : user.replace('%d', String(k)));
  const password = values.password ?? process.env['SSTP_PASSWORD'];
  if (password === undefined) throw new UsageError('--password (or $SSTP_PASSWORD) is required');
  const sources = values['source-addresses'] !== undefined ? int(values['source-addresses'], '--source-addresses', 1, 254) : 0;
  const echo = Number(values['lcp-echo-interval']);
  // What batch and churn runs share.
  const common = {
    host,
    port,
    ...(values.servername !== undefined ? { servername: values.servername } : {}),
    ...(values.ca !== undefined ? { ca: readFileSync(values.ca) } : {}),
    insecure: values.insecure,
    authCycle: authCycle(values['auth-mix']),
    rate: Number(values.rate) || 0,
    ...(echo > 0 ? { lcpEcho: { intervalS: echo, failure: 3, timeoutS: 0 } } : {}),
    setupTimeoutMs: Number(values.timeout) * 1000,
    ...(sources > 0 ? { localAddresses: Array.from({ length: sources }, (_, k) => `127.0.1.${k + 1}`) } : {}),
    onEvent: (event: string, fields: Record<string, number | string>) => emit({ event, ...fields }),
  };
  if (values.duration !== undefined) {
    const stop = new AbortController();
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => stop.abort());
    const report = await runChurn({
      ...common,
      credentials: (w) => ({ username: userFor(w), password }),
      workers: int(values.concurrency, '--concurrency', 1, 100_000),
      durationS: int(values.duration, '--duration', 1, 30 * 86_400),
      mix: churnMix(values.mix),
      holdS: holdRange(values.hold ?? '2-8'),
      pings: int(values.pings, '--pings', 0, 1000),
      progressS: Number(values.progress) || 0,
      signal: stop.signal,
    });
    emit({ event: 'report', mode: 'churn', ...report });
    return report.failed === 0 && report.lost === 0 && report.closeErrors === 0 ? 0 : 1;
  }
  const sessions = int(values.sessions, '--sessions', 1, 100_000);
  const users = values.users !== undefined ? int(values.users, '--users', 1, 1_000_000) : (names?.length ?? sessions);
  const report = await runLoad({
    ...common,
    credentials: (i) => ({ username: userFor(i % users), password }),
    sessions,
    concurrency: int(values.concurrency, '--concurrency', 1, 100_000),
    holdS: Number(values.hold ?? '0') || 0,
    echoSamples: values['echo-samples'],
  });
  emit({ event: 'report', ...report });
  return report.failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ClientError) {
      process.stderr.write(`sstp-load: ${err.message}\n`);
      process.exit(err.exitCode);
    }
    if (err instanceof TypeError && (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`sstp-load: ${err.message}\n`);
      process.exit(EXIT_CODES.E_CLIENT_USAGE);
    }
    process.stderr.write(`sstp-load: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
