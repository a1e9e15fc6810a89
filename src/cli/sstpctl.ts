#!/usr/bin/env node
/**
 * sstpctl — operate a running sstpd over its control socket.
 *   sstpctl [--state-dir DIR] show sessions [--json]
 *   sstpctl [--state-dir DIR] show statistics [--json]
 *   sstpctl [--state-dir DIR] terminate username U | ifname I | sid S | ip A | all
 *   sstpctl [--state-dir DIR] set rate-limit username U | ifname I | sid S | ip A  DOWN/UP | none
 *   sstpctl [--state-dir DIR] reload
 */
import { connect } from 'node:net';
import { parseArgs } from 'node:util';
import { controlSocketPath, type ControlReply } from '../server/control.js';
import type { SessionInfo } from '../session/registry.js';
import { formatUptime, sessionRow, sessionsTable } from './format.js';
import { isParseArgsError, usageError } from './usage.js';

const USAGE = `usage: sstpctl [--state-dir DIR] show sessions [--json]
       sstpctl [--state-dir DIR] show statistics [--json]
       sstpctl [--state-dir DIR] terminate username NAME | ifname IF | sid SID | ip ADDR | all
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
  if (verb === 'show' && what === 'sessions') cmd = 'show-sessions';
  else if (verb === 'show' && (what === 'statistics' || what === 'stat')) cmd = 'show-statistics';
  else if (verb === 'terminate' && what !== undefined) {
    cmd = 'terminate';
    args = [what === 'if' ? 'ifname' : what, ...rest];
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
    process.stdout.write((values.json ? JSON.stringify(rows, null, 2) : sessionsTable(rows)) + '\n');
  } else if (cmd === 'show-statistics' && !values.json) {
    const d = reply.data as { uptimeS: number; cpuPercent: number; rssKiB: number; sessions: Record<string, number>; connections: Record<string, number>; drops?: Record<string, number> };
    const lines = [
      `uptime: ${formatUptime(d.uptimeS)}`,
      `cpu: ${d.cpuPercent}%`,
      `mem(rss): ${d.rssKiB} kB`,
      'sessions:',
      ...Object.entries(d.sessions).map(([k, v]) => `  ${k}: ${v}`),
      'sstp:',
      ...Object.entries(d.connections).map(([k, v]) => `  ${k}: ${v}`),
      'dropped packets:',
      ...Object.entries(d.drops ?? {}).map(([k, v]) => `  ${k}: ${v}`),
    ];
    process.stdout.write(lines.join('\n') + '\n');
  } else {
    process.stdout.write(JSON.stringify(reply.data, null, values.json ? 2 : undefined) + '\n');
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`sstpctl: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
