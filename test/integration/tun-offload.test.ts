/**
 * TUN offload against the real kernel: a session of our own client (its tunnel bridged to a TUN in
 * its namespace) carries TCP both ways between the namespaces, with offload on and with the
 * fallback (SSTPD_TUN_OFFLOAD=0), and every byte arrives as sent (a pseudo-random pattern, hashed
 * on both ends). With offload the server's TUN must really have handed over super-packets and
 * taken GRO writes (fewer write calls than packets); without, neither.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createInteropEnv, distDir, rootSkipReason, runCommand, seedConfig, withDaemon, type InteropEnv } from '../support/daemon.js';
import { createNetns, type Netns } from '../support/netns.js';
import { ClientProc } from '../support/client-proc.js';

const GATEWAY = '192.0.2.254';
const SERVER_LINK = '10.99.0.1';
const PORT = 5301;
const BYTES = 24_000_000;
const script = (): string => join(distDir(), 'test', 'support', 'tcp-pattern.js');

interface PatternResult {
  readonly mode: string;
  readonly bytes?: number;
  readonly sha256?: string;
  readonly error?: string;
}

describe('TUN offload through a real session (TCP, both directions)', { skip: rootSkipReason() }, () => {
  let env: InteropEnv | undefined;
  let client: Netns | undefined;
  let server: ChildProcess | undefined;
  const served: PatternResult[] = [];
  let wake: (() => void) | undefined;

  before(async () => {
    env = await createInteropEnv('sstpd-off');
    client = await createNetns('sstpd-offc');
    await env.ns.exec('ip', ['link', 'add', 'veth0', 'type', 'veth', 'peer', 'name', 'veth1', 'netns', client.name]);
    await env.ns.exec('ip', ['addr', 'add', `${SERVER_LINK}/24`, 'dev', 'veth0']);
    await env.ns.exec('ip', ['link', 'set', 'veth0', 'up']);
    await client.exec('ip', ['addr', 'add', '10.99.0.2/24', 'dev', 'veth1']);
    await client.exec('ip', ['link', 'set', 'veth1', 'up']);
    server = env.ns.spawn(process.execPath, [script(), 'serve', String(PORT)], { stdio: ['ignore', 'pipe', 'inherit'] });
    createInterface({ input: server.stdout! }).on('line', (l) => {
      served.push(JSON.parse(l) as PatternResult);
      wake?.();
    });
  });
  after(async () => {
    server?.kill();
    await client?.destroy();
    await env?.cleanup();
  });

  /** The server side's report for the next connection of `mode`. */
  function servedNext(mode: string, timeoutMs = 60_000): Promise<PatternResult> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no ${mode} report from the server`)), timeoutMs);
      const check = (): void => {
        const i = served.findIndex((r) => r.mode === mode);
        if (i < 0) return;
        clearTimeout(t);
        wake = undefined;
        resolve(served.splice(i, 1)[0]!);
      };
      wake = check;
      check();
    });
  }

  async function transfer(mode: 'up' | 'down'): Promise<void> {
    const done = servedNext(mode);
    const r = await runCommand(process.execPath, [script(), mode, GATEWAY, String(PORT), String(BYTES)], { netns: client!, timeoutMs: 90_000 });
    const mine = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as PatternResult;
    const theirs = await done;
    assert.equal(mine.error, undefined, r.stdout + r.stderr);
    assert.equal(theirs.error, undefined);
    assert.equal(mine.bytes, BYTES);
    assert.equal(theirs.bytes, BYTES, `${mode}: every byte arrives`);
    assert.equal(theirs.sha256, mine.sha256, `${mode}: the bytes arrive as sent`);
  }

  for (const { offload, mppe } of [{ offload: true, mppe: false }, { offload: false, mppe: false }, { offload: true, mppe: true }]) {
    const label = `offload ${offload ? 'on' : 'off (fallback)'}${mppe ? ', MPPE' : ''}`;
    it(`${label}: ${BYTES / 1e6} MB up and down arrive intact`, { timeout: 5 * 60_000 }, async () => {
      const e = env!;
      const port = e.nextPort();
      const saved = process.env['SSTPD_TUN_OFFLOAD'];
      // The client (spawned with this environment) follows the same setting as the server.
      process.env['SSTPD_TUN_OFFLOAD'] = offload ? '1' : '0';
      try {
        await withDaemon({ configText: seedConfig({ port, certs: e.certs }), netns: e.ns, env: { ...process.env } }, async (d) => {
          const c = ClientProc.start(client!, { port, user: 'vyos', password: 'vyos', host: SERVER_LINK, tun: true, mppe });
          try {
            const up = await c.next(['up', 'failed']);
            assert.equal(up.event, 'up', JSON.stringify(up));
            await transfer('up');
            await transfer('down');
            const [row] = await d.sessions();
            const dp = row?.['dataPath'] as Record<string, number | boolean> | undefined;
            assert.ok(dp, JSON.stringify(row));
            // Informational: what the kernel dropped from the TUN's queue while we were paused.
            const stats = await runCommand('cat', [`/sys/class/net/${String(row?.['ifname'])}/statistics/tx_dropped`], { netns: e.ns });
            process.stderr.write(`tun-offload (${label}): ${JSON.stringify({ rxPackets: row?.['rxPackets'], txPackets: row?.['txPackets'], ...dp, kernelTxDropped: Number(stats.stdout) })}\n`);
            assert.equal(dp['offload'], offload);
            const rx = row?.['rxPackets'] as number;
            if (offload) {
              assert.ok((dp['tunSuperPackets'] as number) > 0, 'the kernel handed over super-packets');
              assert.ok((dp['tunWriteCalls'] as number) < rx / 2, 'GRO: far fewer writes than packets');
            } else {
              assert.equal(dp['tunSuperPackets'], 0);
              assert.equal((dp['tunWriteCalls'] as number) + (dp['tunWriteDropped'] as number), rx);
            }
            assert.deepEqual(row?.['drops'], { 'not-open': 0, unverified: 0, mppe: 0, malformed: 0, source: 0, oversize: 0 }, 'the data gate dropped nothing');
          } finally {
            await c.close().catch(() => undefined);
            c.kill();
          }
        });
      } finally {
        if (saved === undefined) delete process.env['SSTPD_TUN_OFFLOAD'];
        else process.env['SSTPD_TUN_OFFLOAD'] = saved;
      }
    });
  }
});
