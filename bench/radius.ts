/**
 * What RADIUS costs a login: setup time (TCP connect → IPCP open) with local users and with a
 * FreeRADIUS 3.2 on loopback deciding (plus accounting Start), N sequential logins per method,
 * p50/p99. Runs in a throwaway network namespace (root). Prints a table, writes
 * bench/radius-results.json. Nothing here is asserted by tests.
 *   npm run bench:radius            (or: node dist/bench/radius.js [--connects 30])
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateTestCertificates } from '../src/config/certs.js';
import { NODE_FLAGS } from '../src/common/node-flags.js';
import { TestClient } from '../test/support/client.js';
import { startFreeRadius } from '../test/support/freeradius.js';
import type { AuthProtocol } from '../src/config/model.js';

const { values } = parseArgs({ options: { inner: { type: 'boolean', default: false }, connects: { type: 'string', default: '30' } } });
const PORT = 4444;
const AUTH = 18120;
const ACCT = 18130;

const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN;

async function measure(dir: string, mode: 'local' | 'radius'): Promise<Record<string, { p50: number; p99: number; n: number }>> {
  const certs = await generateTestCertificates(join(dir, mode));
  const conf = join(dir, `${mode}.conf`);
  const R = 'set vpn sstp authentication radius';
  writeFileSync(
    conf,
    [
      `set vpn sstp authentication mode ${mode}`,
      'set vpn sstp authentication local-users username vyos password vyos',
      ...(mode === 'radius' ? [`${R} server 127.0.0.1 key benchsecret`, `${R} server 127.0.0.1 port ${AUTH}`, `${R} server 127.0.0.1 acct-port ${ACCT}`] : []),
      'set vpn sstp gateway-address 192.0.2.254',
      'set vpn sstp client-ip-pool subnet 192.0.2.0/25',
      `set vpn sstp ssl cert-file ${certs.serverCert}`,
      `set vpn sstp ssl key-file ${certs.serverKey}`,
      `set vpn sstp port ${PORT}`,
    ].join('\n') + '\n',
  );
  const daemon = spawn(process.execPath, [...NODE_FLAGS, join(import.meta.dirname, '..', 'src', 'cli', 'sstpd.js'), '--config', conf, '--state-dir', join(dir, `state-${mode}`)], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, SSTPD_LOG_LEVEL: 'warn' },
  });
  await new Promise((r) => setTimeout(r, 1500));
  const out: Record<string, { p50: number; p99: number; n: number }> = {};
  try {
    for (const auth of ['pap', 'mschap-v2'] as AuthProtocol[]) {
      const times: number[] = [];
      for (let i = 0; i < Number(values.connects); i++) {
        const t0 = performance.now();
        const c = await TestClient.connect({ port: PORT, username: 'vyos', password: 'vyos', auth: [auth] });
        times.push(performance.now() - t0);
        await c.close();
      }
      out[`${mode}_${auth}`] = { p50: +pct(times, 50).toFixed(2), p99: +pct(times, 99).toFixed(2), n: times.length };
    }
  } finally {
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.once('exit', r));
  }
  return out;
}

async function inner(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sstpd-bench-radius-'));
  const fr = await startFreeRadius({ authPort: AUTH, acctPort: ACCT, clients: [{ ipaddr: '127.0.0.1', secret: 'benchsecret' }], users: [{ name: 'vyos', password: 'vyos' }] });
  try {
    const results = { ...(await measure(dir, 'local')), ...(await measure(dir, 'radius')) };
    process.stdout.write(JSON.stringify(results) + '\n');
  } finally {
    await fr.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function outer(): void {
  const ns = `sstpd-benchr-${process.pid}`;
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    execFileSync('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
    const out = execFileSync('ip', ['netns', 'exec', ns, process.execPath, import.meta.filename, '--inner', '--connects', values.connects!], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    const results = JSON.parse(out.trim().split('\n').pop()!) as Record<string, { p50: number; p99: number; n: number }>;
    const machine = { cpu: cpus()[0]?.model, cores: cpus().length, node: process.version };
    const rows = Object.entries(results).map(([k, v]) => `${k.padEnd(18)} setup p50 ${String(v.p50).padStart(7)} ms   p99 ${String(v.p99).padStart(7)} ms   n=${v.n}`);
    process.stdout.write([`machine: ${machine.cores} x ${machine.cpu}, node ${machine.node}; FreeRADIUS 3.2 on loopback (-X, one thread)`, ...rows].join('\n') + '\n');
    writeFileSync(join(import.meta.dirname, '..', '..', 'bench', 'radius-results.json'), JSON.stringify({ date: new Date().toISOString(), machine, results }, null, 2) + '\n');
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
  }
}

if (values.inner) void inner().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
else outer();
