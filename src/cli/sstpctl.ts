#!/usr/bin/env node
/**
 * sstpctl — operate a running sstpd over its control socket, with accel-cmd's vocabulary (VyOS's
 * op-mode runs accel-cmd: `show sstp-server sessions` = `show sessions` with VyOS's columns).
 *   sstpctl [--state-dir DIR] show sessions [COLUMNS] [order COLUMN] [match COLUMN REGEX] [--json]
 *   sstpctl [--state-dir DIR] show statistics [--json]
 *   sstpctl [--state-dir DIR] terminate username U | ifname I | sid S | ip A | all
 *   sstpctl [--state-dir DIR] set rate-limit username U | ifname I | sid S | ip A  DOWN/UP | none
 *   sstpctl [--state-dir DIR] reload
 */
import { connect } from 'node:net';
import { parseArgs } from 'node:util';
import { controlSocketPath, type ControlReply } from '../server/control.js';
import type { SessionInfo } from '../session/registry.js';
import { formatUptime, SESSION_COLUMNS, sessionRow, sessionsTable, unknownColumn, type TableOptions } from './format.js';
import { isParseArgsError, usageError } from './usage.js';

const USAGE = `usage: sstpctl [--state-dir DIR] show sessions [COL,COL,...] [order COL] [match COL REGEX] [--json]
       sstpctl [--state-dir DIR] show statistics [--json]
       sstpctl [--state-dir DIR] terminate username NAME | ifname IF | sid SID | ip ADDR | all
       (also as VyOS says it: terminate user NAME | interface IF | if IF)
       sstpctl [--state-dir DIR] set rate-limit username NAME | ifname IF | sid SID | ip ADDR  DOWN/UP | none
       sstpctl [--state-dir DIR] reload`;

function request(stateDir: string, cmd: string, args: string[]): Promise<ControlReply> {
  return new Promise((resolve, reject) => {
    const sock = connect(controlSocketPath(stateDir));
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(JSON.stringify({ cmd, args }) + '\n'));
    sock.on('data', (d: string) => (buf += d));
    sock.on('error', (err) => reject(new Error(`cannot reach sstpd at ${controlSocketPath(stateDir)}: ${err.message}`)));
    sock.on('end', () => {
      try {
        resolve(JSON.parse(buf) as ControlReply);
      } catch {
        reject(new Error('sstpd sent an unreadable reply'));
      }
    });
  });
}

const OPTIONS = {
  'state-dir': { type: 'string', default: process.env['SSTPD_STATE_DIR'] ?? '/run/sstpd' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h' },
} as const;

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ allowPositionals: true, options: OPTIONS });
  } catch (err) {
    if (isParseArgsError(err)) return usageError('sstpctl', err.message, USAGE);
    throw err;
  }
  const { values, positionals } = parsed;
  const stateDir = values['state-dir'];
  const [verb, what, ...rest] = positionals;
  if (values.help || verb === undefined) {
    process.stdout.write(USAGE + '\n');
    return values.help ? 0 : 2;
  }
  let cmd: string;
  let args: string[] = [];
  let tableOpts: TableOptions = {};
  if (verb === 'show' && what === 'sessions') {
    cmd = 'show-sessions';
    const parsed = tableOptions(rest);
    if (typeof parsed === 'string') return usageError('sstpctl', parsed, USAGE);
    tableOpts = parsed;
  } else if (verb === 'show' && (what === 'statistics' || what === 'stat')) cmd = 'show-statistics';
  else if (verb === 'terminate' && what !== undefined) {
    cmd = 'terminate';
    args = [TERMINATE_BY[what] ?? what, ...rest];
  } else if (verb === 'set' && what === 'rate-limit' && rest.length === 3) {
    cmd = 'set-rate-limit';
    args = rest;
  } else if (verb === 'reload') cmd = 'reload';
  else {
    return usageError('sstpctl', `unknown command "${positionals.join(' ')}"`, USAGE);
  }
  const reply = await request(stateDir, cmd, args);
  if (!reply.ok) {
    process.stderr.write(`sstpctl: ${reply.error}\n`);
    return 1;
  }
  const now = Date.now();
  if (cmd === 'show-sessions') {
    const rows = (reply.data as SessionInfo[]).map((s) => sessionRow(s, now));
    process.stdout.write((values.json ? JSON.stringify(rows, null, 2) : sessionsTable(rows, tableOpts)) + '\n');
  } else if (cmd === 'show-statistics' && !values.json) {
    process.stdout.write(statisticsText(reply.data as Statistics) + '\n');
  } else {
    process.stdout.write(JSON.stringify(reply.data, null, values.json ? 2 : undefined) + '\n');
  }
  return 0;
}

/** VyOS's and accel-cmd's words for what to terminate by. */
const TERMINATE_BY: Readonly<Record<string, string>> = { if: 'ifname', interface: 'ifname', user: 'username' };

/** accel-cmd's `show sessions [columns] [order <column>] [match <column> <regexp>]`. */
function tableOptions(words: readonly string[]): TableOptions | string {
  let columns: string[] | undefined;
  let order: string | undefined;
  let match: TableOptions['match'];
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w === 'order') {
      order = words[++i];
      if (order === undefined || unknownColumn([order])) return `order: unknown column "${order ?? ''}" (columns: ${SESSION_COLUMNS.join(',')})`;
    } else if (w === 'match') {
      const column = words[++i];
      const pattern = words[++i];
      if (column === undefined || pattern === undefined) return 'match: expected COLUMN REGEX';
      if (unknownColumn([column])) return `match: unknown column "${column}" (columns: ${SESSION_COLUMNS.join(',')})`;
      try {
        match = { column, regex: new RegExp(pattern) };
      } catch (err) {
        return `match: ${err instanceof Error ? err.message : String(err)}`;
      }
    } else if (columns === undefined) {
      columns = w.split(',').filter((c) => c !== '');
      const bad = unknownColumn(columns);
      if (bad !== undefined) return `unknown column "${bad}" (columns: ${SESSION_COLUMNS.join(',')})`;
    } else return `unexpected "${w}"`;
  }
  return { ...(columns ? { columns } : {}), ...(order ? { order } : {}), ...(match ? { match } : {}) };
}

interface Statistics {
  uptimeS: number;
  cpuPercent: number;
  rssKiB: number;
  virtKiB?: number;
  sessions: Record<string, number>;
  connections: Record<string, number>;
  drops?: Record<string, number>;
}

/**
 * accel-cmd's `show stat` layout (what VyOS's `show sstp-server statistics` prints and its API
 * scrapes: `cpu`, and `starting`/`active` under `sstp:`), then what sstpd adds.
 */
function statisticsText(d: Statistics): string {
  const c = d.connections;
  return [
    `uptime: ${formatUptime(d.uptimeS)}`,
    `cpu: ${d.cpuPercent}%`,
    `mem(rss/virt): ${d.rssKiB}/${d.virtKiB ?? 0} kB`,
    'sessions:',
    `  starting: ${d.sessions['starting'] ?? 0}`,
    `  active: ${d.sessions['active'] ?? 0}`,
    `  finishing: ${d.sessions['finishing'] ?? 0}`,
    'sstp:',
    `  starting: ${d.sessions['starting'] ?? 0}`,
    `  active: ${d.sessions['active'] ?? 0}`,
    'connections:',
    ...Object.entries(c).map(([k, v]) => `  ${k}: ${v}`),
    'dropped packets:',
    ...Object.entries(d.drops ?? {}).map(([k, v]) => `  ${k}: ${v}`),
  ].join('\n');
}

main().then(
  // A pipe takes 64 KiB at once: exit only once the whole answer is written (500 sessions are ~360 KB).
  (code) => process.stdout.write('', () => process.exit(code)),
  (err: unknown) => {
    process.stderr.write(`sstpctl: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
