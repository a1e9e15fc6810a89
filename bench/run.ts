/**
 * Quick figures for one session (the full benchmark suite is a separate piece of work):
 *   - setup time: TCP connect → IPCP open, N sequential connects (p50/p99), per auth method;
 *   - throughput through one session, both directions, with our own client (no kernel PPP):
 *     upstream = client → server TUN (UDP 1400-byte datagrams to the gateway's discard port),
 *     downstream = a UDP sender on the server host → TUN → SSTP → client;
 *     the same again with MPPE (128-bit stateless) negotiated on the session.
 * Needs root (a network namespace and TUN devices). Prints a table and writes bench/results.json.
 *   npm run bench            (or: node dist/bench/run.js [--seconds 3] [--connects 20])
 */
import { execFileSync, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateTestCertificates } from '../src/config/certs.js';
import { TestClient } from '../test/support/client.js';
import type { AuthProtocol } from '../src/config/model.js';
import { MPPE_BIT_H, MPPE_BIT_S } from '../src/ppp/ccp/mppe-option.js';

const { values } = parseArgs({
  options: { inner: { type: 'boolean', default: false }, seconds: { type: 'string', default: '3' }, connects: { type: 'string', default: '20' } },
});
const PORT = 4443;

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

async function inner(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sstpd-bench-'));
  const certs = await generateTestCertificates(dir);
  const conf = join(dir, 'sstpd.conf');
  writeFileSync(
    conf,
    [
      'set vpn sstp authentication local-users username vyos password vyos',
      'set vpn sstp gateway-address 192.0.2.254',
      'set vpn sstp client-ip-pool subnet 192.0.2.0/25',
      `set vpn sstp ssl cert-file ${certs.serverCert}`,
      `set vpn sstp ssl key-file ${certs.serverKey}`,
      `set vpn sstp port ${PORT}`,
    ].join('\n'),
  );
  const daemon = spawn(process.execPath, [join(import.meta.dirname, '..', 'src', 'cli', 'sstpd.js'), '--config', conf, '--state-dir', join(dir, 'state')], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, SSTPD_LOG_LEVEL: 'warn' },
  });
  await new Promise((r) => setTimeout(r, 1500));
  const results: Record<string, unknown> = {};
  try {
    for (const auth of ['pap', 'mschap-v2'] as AuthProtocol[]) {
      const times: number[] = [];
      for (let i = 0; i < Number(values.connects); i++) {
        const t0 = performance.now();
        const c = await TestClient.connect({ port: PORT, username: 'vyos', password: 'vyos', auth: [auth] });
        times.push(performance.now() - t0);
        await c.close();
      }
      results[`setup_ms_${auth}`] = { p50: +percentile(times, 50).toFixed(2), p99: +percentile(times, 99).toFixed(2), n: times.length };
    }
    const seconds = Number(values.seconds);
    for (const [suffix, mppe] of [['', undefined], ['_mppe', { bits: MPPE_BIT_S | MPPE_BIT_H }]] as const) {
      Object.assign(results, await throughput(seconds, suffix, mppe, dir));
    }
  } finally {
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(JSON.stringify(results) + '\n');
}

/** One session's upstream and downstream Mbit/s; `mppe` makes the client require MPPE. */
async function throughput(seconds: number, suffix: string, mppe: { bits: number } | undefined, dir: string): Promise<Record<string, number>> {
  const results: Record<string, number> = {};
  const sessions = (): { rxBytes: number }[] =>
    JSON.parse(execFileSync(process.execPath, [join(import.meta.dirname, '..', 'src', 'cli', 'sstpctl.js'), '--state-dir', join(dir, 'state'), 'show', 'sessions', '--json'], { encoding: 'utf8' })) as { rxBytes: number }[];
  // The previous run's session must be gone: upstream is counted on the one listed session.
  for (let i = 0; i < 50 && sessions().length > 0; i++) await new Promise((r) => setTimeout(r, 100));
  {
    const c = await TestClient.connect({ port: PORT, username: 'vyos', password: 'vyos', ...(mppe ? { mppe } : {}) });
    c.keepPackets = false;
    const ip = c.info!.ipv4;
    // Upstream: IPv4/UDP 1400-byte datagrams to the gateway's discard port, as fast as TCP takes them.
    const dgram = udpPacket(ip, '192.0.2.254', 40000, 9, Buffer.alloc(1372, 0xab));
    let sent = 0;
    const end = performance.now() + seconds * 1000;
    while (performance.now() < end) {
      for (let k = 0; k < 64; k++) {
        sent++;
        if (!c.sendIpFlow(dgram)) {
          await c.drained();
          break;
        }
      }
      await new Promise((r) => setImmediate(r));
    }
    const upBytes = sessions()[0]?.rxBytes ?? 0;
    results[`upstream${suffix}_mbit_s`] = +((upBytes * 8) / seconds / 1e6).toFixed(1);
    results[`upstream${suffix}_sent_packets`] = sent;
    // Downstream: a UDP sender on the server host to the client's address, through sstp0.
    const sock = createSocket('udp4');
    const payload = Buffer.alloc(1372, 0xcd);
    const before = c.rxBytes;
    const dEnd = performance.now() + seconds * 1000;
    let inFlight = 0;
    while (performance.now() < dEnd) {
      // Keep a bounded number of sends queued in libuv; the kernel drops what the TUN queue cannot take.
      while (inFlight < 256) {
        inFlight++;
        sock.send(payload, 9, ip, () => inFlight--);
      }
      await new Promise((r) => setImmediate(r));
    }
    await new Promise((r) => setTimeout(r, 300));
    results[`downstream${suffix}_mbit_s`] = +(((c.rxBytes - before) * 8) / seconds / 1e6).toFixed(1);
    sock.close();
    await c.close();
  }
  return results;
}

function udpPacket(src: string, dst: string, sport: number, dport: number, payload: Buffer): Buffer {
  const b = Buffer.alloc(28 + payload.length);
  b[0] = 0x45;
  b.writeUInt16BE(b.length, 2);
  b[8] = 64;
  b[9] = 17;
  Buffer.from(src.split('.').map(Number)).copy(b, 12);
  Buffer.from(dst.split('.').map(Number)).copy(b, 16);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += b.readUInt16BE(i);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  b.writeUInt16BE(~sum & 0xffff, 10);
  b.writeUInt16BE(sport, 20);
  b.writeUInt16BE(dport, 22);
  b.writeUInt16BE(8 + payload.length, 24);
  payload.copy(b, 28); // UDP checksum 0 = none (IPv4)
  return b;
}

function outer(): void {
  const ns = `sstpd-bench-${process.pid}`;
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    execFileSync('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
    const out = execFileSync('ip', ['netns', 'exec', ns, process.execPath, import.meta.filename, '--inner', '--seconds', values.seconds!, '--connects', values.connects!], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const results = JSON.parse(out.trim().split('\n').pop()!) as Record<string, unknown>;
    const machine = { cpu: cpus()[0]?.model, cores: cpus().length, node: process.version, sstpd: JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')).version };
    const rows = Object.entries(results).map(([k, v]) => `${k.padEnd(24)} ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
    process.stdout.write([`machine: ${machine.cores} x ${machine.cpu}, node ${machine.node}, sstpd ${machine.sstpd}`, ...rows].join('\n') + '\n');
    writeFileSync(join(import.meta.dirname, '..', '..', 'bench', 'results.json'), JSON.stringify({ date: new Date().toISOString(), machine, results }, null, 2) + '\n');
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
  }
}

if (values.inner) void inner();
else outer();
