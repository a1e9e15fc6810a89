/**
 * The data gate through the path the daemon really runs: real TLS, a real TUN, the session's fast
 * lane. A hostile client sends what a well-behaved one never would:
 * - clear IPv4 after CCP opened MPPE both ways (under no `mppe` option, `prefer` and `require`):
 *   it must never reach the kernel (before the fix the fast lane passed it, and the gateway answered);
 * - IPv4 from a source address that is not the session's (BCP 38): dropped and counted.
 * Each drop is counted in `show sessions --json` and `show statistics`, and logged once per reason.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createInteropEnv, isEvent, rootSkipReason, seedConfig, withDaemon, runCommand, type InteropEnv } from '../support/daemon.js';
import { ClientProc } from '../support/client-proc.js';

const GATEWAY = '192.0.2.254';

interface Drops {
  readonly mppe: number;
  readonly source: number;
}

describe('data gate: the real daemon against a hostile client', { skip: rootSkipReason() }, () => {
  let env: InteropEnv;
  before(async () => {
    env = await createInteropEnv('sstpd-gate');
  });
  after(async () => {
    await env?.cleanup();
  });

  for (const mode of ['default', 'prefer', 'require'] as const) {
    it(`mppe ${mode}: clear IPv4 after MPPE is up is dropped, counted and logged once; encrypted traffic flows`, async () => {
      const port = env.nextPort();
      const lines = mode === 'default' ? [] : [`set vpn sstp ppp-options mppe ${mode}`];
      await withDaemon({ configText: seedConfig({ port, certs: env.certs, protocols: ['mschap-v2'], lines }), netns: env.ns }, async (d) => {
        const c = ClientProc.start(env.ns, { port, user: 'vyos', password: 'vyos', auth: 'mschap-v2', mppe: true });
        try {
          const up = await c.next(['up', 'failed']);
          assert.equal(up.event, 'up', JSON.stringify(up));
          await d.waitForLog(isEvent('mppe-up'));
          assert.ok(await c.ping(GATEWAY), 'an encrypted ping is answered');
          assert.equal(await c.ping(GATEWAY, 'raw-ping'), false, 'a clear ping must not reach the kernel while MPPE is on');
          assert.equal(await c.ping(GATEWAY, 'raw-ping'), false, 'nor a second one');
          const [row] = await d.sessions();
          assert.ok(row);
          const drops = row['drops'] as Drops;
          assert.equal(drops.mppe, 2, JSON.stringify(row));
          assert.equal(d.findLogs(isEvent('data-dropped', { reason: 'mppe', sid: row.sid })).length, 1, 'logged once, not per packet');
          assert.ok(await c.ping(GATEWAY), 'the session lives on: encrypted pings still work');
          const stats = await d.ctl(['show', 'statistics', '--json']);
          assert.equal((JSON.parse(stats.stdout) as { drops: Drops }).drops.mppe, 2, stats.stdout);
        } finally {
          c.kill();
        }
      });
    });
  }

  it('forged IPv4 source addresses are dropped before the kernel, counted and logged once', async () => {
    const port = env.nextPort();
    await withDaemon({ configText: seedConfig({ port, certs: env.certs }), netns: env.ns }, async (d) => {
      const c = ClientProc.start(env.ns, { port, user: 'vyos', password: 'vyos' });
      try {
        const up = await c.next(['up', 'failed']);
        assert.equal(up.event, 'up', JSON.stringify(up));
        assert.ok(await c.ping(GATEWAY), 'a ping from our own address is answered');
        const [row0] = await d.sessions();
        assert.ok(row0);
        const kernelRx = async (): Promise<number> =>
          Number((await runCommand('cat', [`/sys/class/net/${row0.ifname}/statistics/rx_packets`], { netns: env.ns })).stdout.trim());
        const rx0 = await kernelRx();
        // Outside every range we gave, and another address of our own pool (another client's).
        await c.forgedPing('10.99.99.99', GATEWAY);
        await c.forgedPing('192.0.2.77', GATEWAY);
        assert.equal(await kernelRx(), rx0, 'no forged packet reached the session interface');
        const [row] = await d.sessions();
        assert.ok(row);
        assert.equal((row['drops'] as Drops).source, 2, JSON.stringify(row));
        assert.equal(row.rxPackets, row0.rxPackets, 'nothing written to the TUN');
        const logs = d.findLogs(isEvent('data-dropped', { reason: 'source', sid: row.sid }));
        assert.equal(logs.length, 1, 'logged once, not per packet');
        assert.equal(logs[0]!['source'], '10.99.99.99');
        assert.ok(await c.ping(GATEWAY), 'the session lives on');
        assert.equal(await kernelRx(), rx0 + 1, 'the genuine ping reached the kernel');
        const stats = JSON.parse((await d.ctl(['show', 'statistics', '--json'])).stdout) as { drops: Drops };
        assert.equal(stats.drops.source, 2);
      } finally {
        c.kill();
      }
    });
  });
});
