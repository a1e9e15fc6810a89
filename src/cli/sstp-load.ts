#!/usr/bin/env node
/**
 * sstp-load — drives N SSTP sessions from one process (no TUN) and reports the setup rate, setup
 * latency percentiles and failures by cause as JSON (progress lines, then one "report" line).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ClientError, EXIT_CODES } from '../client/errors.js';
import { runLoad } from '../client/io/loadgen.js';
import { parseTarget, UsageError } from '../client/options.js';
import { authCycle } from '../client/stats.js';

const USAGE = `usage: sstp-load [options] HOST[:PORT]
  -u, --user NAME        user name; with %d, session i uses NAME with %d = i mod --users
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
Exit 0 when every session was established, 1 otherwise, 2 on usage errors.`;

const emit = (o: Record<string, unknown>): void => void process.stdout.write(JSON.stringify(o) + '\n');

function int(text: string, what: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${what} must be an integer in ${min}..${max}`);
  return n;
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      user: { type: 'string', short: 'u' },
      password: { type: 'string', short: 'p' },
      users: { type: 'string' },
      sessions: { type: 'string', short: 'n', default: '100' },
      concurrency: { type: 'string', short: 'c', default: '10' },
      rate: { type: 'string', default: '0' },
      hold: { type: 'string', default: '0' },
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
  const user = values.user;
  if (user === undefined) throw new UsageError('--user is required');
  const password = values.password ?? process.env['SSTP_PASSWORD'];
  if (password === undefined) throw new UsageError('--password (or $SSTP_PASSWORD) is required');
  const sessions = int(values.sessions, '--sessions', 1, 100_000);
  const users = values.users !== undefined ? int(values.users, '--users', 1, 1_000_000) : sessions;
  const sources = values['source-addresses'] !== undefined ? int(values['source-addresses'], '--source-addresses', 1, 254) : 0;
  const echo = Number(values['lcp-echo-interval']);
  const report = await runLoad({
    host,
    port,
    ...(values.servername !== undefined ? { servername: values.servername } : {}),
    ...(values.ca !== undefined ? { ca: readFileSync(values.ca) } : {}),
    insecure: values.insecure,
    credentials: (i) => ({ username: user.replace('%d', String(i % users)), password }),
    authCycle: authCycle(values['auth-mix']),
    sessions,
    concurrency: int(values.concurrency, '--concurrency', 1, 100_000),
    rate: Number(values.rate) || 0,
    holdS: Number(values.hold) || 0,
    echoSamples: values['echo-samples'],
    ...(echo > 0 ? { lcpEcho: { intervalS: echo, failure: 3, timeoutS: 0 } } : {}),
    setupTimeoutMs: Number(values.timeout) * 1000,
    ...(sources > 0 ? { localAddresses: Array.from({ length: sources }, (_, k) => `127.0.1.${k + 1}`) } : {}),
    onEvent: (event, fields) => emit({ event, ...fields }),
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
