#!/usr/bin/env -S node --max-semi-space-size=4 --initial-old-space-size=64
/**
 * sstpd — the SSTP VPN server.
 *   sstpd [--config FILE] [--state-dir DIR] [--listen HOST]   run (no --config: the embedded demo)
 *   sstpd --check FILE                                         validate a config file and exit
 */
import { parseArgs } from 'node:util';
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { loadConfigFile, formatIssues, formatNotes } from '../config/load.js';
import { ensureSelfSignedCert } from '../config/certs.js';
import { demoConfigText } from '../config/demo.js';
import { ConfigError } from '../common/errors.js';
import { createLogger } from '../common/log.js';
import { missingNodeFlags, NODE_FLAGS } from '../common/node-flags.js';
import { asyncStdout } from '../common/io/log-stdout.js';
import { Daemon } from '../server/daemon.js';
import { Primary } from '../server/primary.js';
import { BALANCES, type Balance } from '../server/listener.js';
import { runWorker } from '../server/worker-main.js';
import { isParseArgsError, usageError } from './usage.js';

/** See README "Worker processes": measured with `npm run bench:workers`. */
const DEFAULT_BALANCE: Balance = 'reuseport';
const isBalance = (s: string): s is Balance => (BALANCES as readonly string[]).includes(s);

const USAGE = `usage: sstpd [--config FILE] [--state-dir DIR] [--listen ADDRESS] [--port PORT] [--workers N] [--balance MODE]
       sstpd --check FILE
       sstpd --help
  --config, -c FILE   the configuration: a VyOS configuration, as set-commands ("show configuration
                      commands") or config.boot; its vpn sstp and pki sections are read
  --check FILE        validate FILE, print every problem and note, exit 1 if it has problems
  --state-dir DIR     control socket and demo certificate (default /run/sstpd, or $SSTPD_STATE_DIR)
  --listen ADDRESS    bind to this address only (default: all)
  --port PORT         the demo configuration's port (default 4433)
  --workers N         worker processes sharing the port (default: one per core, or $SSTPD_WORKERS);
                      1 runs everything in one process
  --balance MODE      how workers share the port (default ${DEFAULT_BALANCE}, or $SSTPD_BALANCE):
                      reuseport   each worker its own SO_REUSEPORT socket, the kernel spreads
                      round-robin the primary accepts and hands each connection to the next worker
Without --config, sstpd runs the embedded demo configuration (self-signed certificate in the
state dir, user vyos/vyos, pool 192.0.2.0/25) on port 4433. Logs are JSON lines on stdout
($SSTPD_LOG_LEVEL=debug for protocol detail). SIGHUP reloads, SIGTERM stops with clean goodbyes.`;

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  check: { type: 'string' },
  'state-dir': { type: 'string', default: process.env['SSTPD_STATE_DIR'] ?? '/run/sstpd' },
  listen: { type: 'string' },
  port: { type: 'string' },
  workers: { type: 'string' },
  balance: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Most worker processes: far beyond any core count this runs on, low enough to catch a typo. */
const MAX_WORKERS = 256;

async function main(): Promise<number> {
  if (cluster.isWorker) return runWorker(createLogger(asyncStdout()));
  let parsed;
  try {
    parsed = parseArgs({ options: OPTIONS });
  } catch (err) {
    if (isParseArgsError(err)) return usageError('sstpd', err.message, USAGE);
    throw err;
  }
  const { values } = parsed;
  if (values.port !== undefined && !/^[1-9][0-9]{0,4}$/.test(values.port)) return usageError('sstpd', `--port "${values.port}" is not a port number`, USAGE);
  const workersText = values.workers ?? process.env['SSTPD_WORKERS'];
  const workers = workersText !== undefined ? Number(workersText) : availableParallelism();
  if (!Number.isInteger(workers) || workers < 1 || workers > MAX_WORKERS) {
    return usageError('sstpd', `--workers "${workersText}" is not a number of processes (1..${MAX_WORKERS})`, USAGE);
  }
  const balance = values.balance ?? process.env['SSTPD_BALANCE'] ?? DEFAULT_BALANCE;
  if (!isBalance(balance)) return usageError('sstpd', `--balance "${balance}" is not one of ${BALANCES.join(', ')}`, USAGE);
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (values.check !== undefined) return check(values.check);

  const stateDir = resolve(values['state-dir']);
  const log = createLogger(asyncStdout());
  let source: { file: string } | { text: string; baseDir: string };
  if (values.config !== undefined) {
    source = { file: resolve(values.config) };
  } else {
    await mkdir(stateDir, { recursive: true, mode: 0o750 });
    const { certFile, keyFile } = await ensureSelfSignedCert(stateDir);
    const port = values.port !== undefined ? Number(values.port) : 4433;
    source = { text: demoConfigText(certFile, keyFile, port), baseDir: stateDir };
    process.stderr.write(
      `sstpd: running the embedded demo configuration (certificate ${certFile})\n` +
        `  connect with: sstpc --cert-warn --user vyos --password vyos <this host>:${port} usepeerdns require-mschap-v2 noauth\n` +
        `  or the VM client: ../shared/sstpc-vm/run --server 10.0.2.2:${port} --user vyos --password vyos --ping 192.0.2.254\n`,
    );
  }
  const missing = missingNodeFlags();
  // Started as `node sstpd.js` rather than through the sstpd command or the unit: say what it lacks.
  if (missing.length > 0) log.warn({ missing, want: NODE_FLAGS.join(' ') }, 'node-flags-missing');
  const common = { source, stateDir, log, ...(values.listen !== undefined ? { host: values.listen } : {}) };
  const daemon = workers > 1 ? new Primary({ ...common, workers, balance }) : new Daemon(common);
  try {
    await daemon.start();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`sstpd: configuration error:\n${formatIssues(err.issues)}\n`);
      return 1;
    }
    process.stderr.write(`sstpd: cannot start: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  process.on('SIGHUP', () => void daemon.reload());
  await new Promise<void>((resolveStop) => {
    const stop = (): void => void daemon.stop().then(resolveStop);
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  return 0;
}

/** Exit 0 when valid (notes are printed but change nothing), 1 with every issue otherwise. */
async function check(file: string): Promise<number> {
  const res = await loadConfigFile(resolve(file));
  const notes = res.notes.length > 0 ? `${formatNotes(res.notes)}\n` : '';
  if (res.ok) {
    process.stdout.write(`${file}: configuration is valid\n${notes}`);
    return 0;
  }
  process.stderr.write(`${file}: configuration is not valid:\n${formatIssues(res.issues)}\n${notes}`);
  return 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`sstpd: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
