/**
 * Rate limits at rates the VM cannot reach: our own client in its own network namespace, joined to
 * the daemon's by a veth pair, bridges its tunnel to a TUN device there, and iperf3 runs through it
 * to an iperf3 server on the gateway address. 100000/50000 kbit/s must measure within ±10%, and the
 * same path without a limit at least 3x that. Also: a limit given to a live session (the path RADIUS
 * CoA takes, here through sstpctl) applies at once and goes again.
 *
 * 100 Mbit/s through two user-space TLS endpoints needs the CPU: the measurements hold every VM
 * slot (no guest competes, see test/support/vm.ts), and a limited run that lands low is repeated
 * (at most 3 runs): the shaper cannot overshoot, so a low figure means a starved CPU, not a limit.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { createInteropEnv, rootSkipReason, runCommand, seedConfig, withDaemon, type InteropEnv } from '../support/daemon.js';
import { createNetns, type Netns } from '../support/netns.js';
import { ClientProc } from '../support/client-proc.js';
import { iperfReceiverKbit } from '../support/iperf.js';
import { vmSlotCount, withVmSlots } from '../support/vm.js';

const GATEWAY = '192.0.2.254';
const SERVER_LINK = '10.99.0.1';
const IPERF_PORT = 5201;
const DOWN_KBIT = 100_000;
const UP_KBIT = 50_000;

describe('rate limits at 100/50 Mbit/s, own client through a TUN bridge', { skip: rootSkipReason() }, () => {
  let env: InteropEnv | undefined;
  let client: Netns | undefined;
  let server: ChildProcess | undefined;
  before(async () => {
    env = await createInteropEnv('sstpd-rl');
    client = await createNetns('sstpd-rlc');
    await env.ns.exec('ip', ['link', 'add', 'veth0', 'type', 'veth', 'peer', 'name', 'veth1', 'netns', client.name]);
    await env.ns.exec('ip', ['addr', 'add', `${SERVER_LINK}/24`, 'dev', 'veth0']);
    await env.ns.exec('ip', ['link', 'set', 'veth0', 'up']);
    await client.exec('ip', ['addr', 'add', '10.99.0.2/24', 'dev', 'veth1']);
    await client.exec('ip', ['link', 'set', 'veth1', 'up']);
    server = env.ns.spawn('iperf3', ['-s', '-p', String(IPERF_PORT)], { stdio: 'ignore' });
  });
  after(async () => {
    server?.kill();
    await client?.destroy();
    await env?.cleanup();
  });

  /** Upload then download (kbit/s at the receiver), 5 s each after 1 s left out. */
  async function iperfBothWays(): Promise<{ up: number; down: number; out: string }> {
    const run = (reverse: boolean): Promise<string> =>
      runCommand('iperf3', ['-c', GATEWAY, '-p', String(IPERF_PORT), '-t', '5', '-O', '1', '-f', 'k', ...(reverse ? ['-R'] : [])], {
        netns: client!,
        timeoutMs: 60_000,
      }).then((r) => r.stdout + r.stderr);
    const upOut = await run(false);
    const downOut = await run(true);
    return { up: iperfReceiverKbit(upOut)[0] ?? NaN, down: iperfReceiverKbit(downOut)[0] ?? NaN, out: upOut + downOut };
  }

  it(`limited to ${DOWN_KBIT}/${UP_KBIT} kbit/s: within ±10%; unlimited: at least 3x faster`, { timeout: 5 * 60_000 }, async () => {
    const e = env!;
    const port = e.nextPort();
    const U = 'set vpn sstp authentication local-users username';
    const configText = seedConfig({
      port,
      certs: e.certs,
      users: [{ name: 'fast', password: 'fast-pw' }],
      lines: [`${U} vyos rate-limit download ${DOWN_KBIT}`, `${U} vyos rate-limit upload ${UP_KBIT}`],
    });
    await withDaemon({ configText, netns: e.ns, env: { ...process.env, SSTPD_LOG_LEVEL: 'info' } }, async (d) => {
      const measure = async (user: string, password: string): Promise<{ up: number; down: number; out: string }> => {
        const c = ClientProc.start(client!, { port, user, password, host: SERVER_LINK, tun: true });
        try {
          const up = await c.next(['up', 'failed']);
          assert.equal(up.event, 'up', JSON.stringify(up));
          return await iperfBothWays();
        } finally {
          await c.close().catch(() => undefined);
          c.kill();
        }
      };
      const within = (m: { up: number; down: number }): boolean =>
        Math.abs(m.down - DOWN_KBIT) <= DOWN_KBIT * 0.1 && Math.abs(m.up - UP_KBIT) <= UP_KBIT * 0.1;
      const { limited, free } = await withVmSlots(vmSlotCount(), async () => {
        let l = await measure('vyos', 'vyos');
        for (let attempt = 2; attempt <= 3 && !within(l); attempt++) {
          process.stderr.write(`rate-limit (own client): attempt ${attempt - 1} measured ${l.down}/${l.up} kbit/s, again\n`);
          l = await measure('vyos', 'vyos');
        }
        // The unlimited rate is bound by CPU, which other suites share: measure it again (at most 3
        // times) when a busy moment kept it under 3x, as the limited one is re-measured above.
        let f = await measure('fast', 'fast-pw');
        for (let attempt = 2; attempt <= 3 && !(f.down >= 3 * l.down && f.up >= 3 * l.up); attempt++) {
          process.stderr.write(`rate-limit (own client): unlimited attempt ${attempt - 1} measured ${f.down}/${f.up} kbit/s, again\n`);
          f = await measure('fast', 'fast-pw');
        }
        return { limited: l, free: f };
      });
      const report = `limited ${limited.down}/${limited.up} kbit/s, unlimited ${free.down}/${free.up} kbit/s (down/up)`;
      process.stderr.write(`rate-limit (own client): ${report}\n`);
      assert.ok(Math.abs(limited.down - DOWN_KBIT) <= DOWN_KBIT * 0.1, `download within ±10% of ${DOWN_KBIT}: ${report}\n${limited.out}`);
      assert.ok(Math.abs(limited.up - UP_KBIT) <= UP_KBIT * 0.1, `upload within ±10% of ${UP_KBIT}: ${report}\n${limited.out}`);
      assert.ok(free.down >= 3 * limited.down && free.up >= 3 * limited.up, `unlimited at least 3x: ${report}`);
      const rows = await d.sessions();
      assert.deepEqual(rows, [], 'both sessions gone');
    });
  });

  it('a limit set on a live session (the CoA path) applies at once and shows in show sessions', { timeout: 5 * 60_000 }, async () => {
    const e = env!;
    const port = e.nextPort();
    await withDaemon({ configText: seedConfig({ port, certs: e.certs }), netns: e.ns }, async (d) => {
      const c = ClientProc.start(client!, { port, user: 'vyos', password: 'vyos', host: SERVER_LINK, tun: true });
      try {
        assert.equal((await c.next(['up', 'failed'])).event, 'up');
        const [row] = await d.sessions();
        assert.ok(row);
        assert.equal(row['rateLimit'], '');
        const r = await d.ctl(['set', 'rate-limit', 'sid', row.sid, '20000/10000']);
        assert.equal(r.code, 0, r.stderr + r.stdout);
        assert.equal((await d.session(row.sid))?.['rateLimit'], '20000/10000');
        const m = await withVmSlots(vmSlotCount(), () => iperfBothWays());
        assert.ok(Math.abs(m.down - 20_000) <= 2_000 && Math.abs(m.up - 10_000) <= 1_000, `20000/10000 measured ${m.down}/${m.up}\n${m.out}`);
        const off = await d.ctl(['set', 'rate-limit', 'sid', row.sid, 'none']);
        assert.equal(off.code, 0, off.stderr + off.stdout);
        const tc = await runCommand('tc', ['qdisc', 'show', 'dev', row.ifname], { netns: e.ns });
        assert.doesNotMatch(tc.stdout, /tbf/);
      } finally {
        c.kill();
      }
    });
  });
});
