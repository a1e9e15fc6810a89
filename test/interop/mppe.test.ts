/**
 * MPPE with the real client: pppd 2.4.9 with the kernel's ppp_mppe in the VM, against every
 * `ppp-options mppe` policy as the seed describes it: require (ask; a client that refuses is
 * dropped), prefer (ask; a client that refuses keeps a clear link), deny (a client requiring MPPE
 * gets no link), and the default (do not ask, accept if asked). Traffic is real: pings and 4 MB
 * each way with iperf3 through the encrypted link.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createInteropEnv, isEvent, rootSkipReason, seedConfig, sleep, withDaemon, type InteropEnv } from '../support/daemon.js';
import { assertRefused, assertUp, describeRun, runSstpc, type ClientAuth } from '../support/vm.js';

const GATEWAY = '192.0.2.254';
const IPERF_PORT = 5201;

describe('interop: MPPE with pppd (require-mppe-128) under each policy', { skip: rootSkipReason() }, () => {
  let env: InteropEnv | undefined;
  before(async () => {
    env = await createInteropEnv('sstpd-mppe');
  });
  after(async () => {
    await env?.cleanup();
  });

  const config = (port: number, policy: string | undefined): string =>
    seedConfig({ port, certs: env!.certs, lines: policy ? [`set vpn sstp ppp-options mppe ${policy}`] : [] });

  async function expectMppe(policy: string | undefined, auth: ClientAuth, traffic: boolean): Promise<void> {
    const e = env!;
    const port = e.nextPort();
    await withDaemon({ configText: config(port, policy), netns: e.ns }, async (d) => {
      const exec = traffic
        ? [`iperf3 -c ${GATEWAY} -p ${IPERF_PORT} -n 4M`, `iperf3 -c ${GATEWAY} -p ${IPERF_PORT + 1} -n 4M -R`]
        : [];
      // Fresh one-off iperf3 servers, one per direction.
      const servers = traffic ? [0, 1].map((k) => e.ns.spawn('iperf3', ['-s', '-1', '-p', String(IPERF_PORT + k)], { stdio: 'ignore' })) : [];
      if (traffic) await sleep(300);
      const r = await runSstpc({ port, netns: e.ns, user: 'vyos', password: 'vyos', auth, pppd: ['require-mppe-128'], ping: ['peer'], exec, execTimeoutS: 120 }).finally(() => {
        for (const s of servers) s.kill();
      });
      assertUp(r, `${policy ?? 'default'} policy, client requiring MPPE`);
      assert.match(r.output, /MPPE 128-bit stateless compression enabled/, describeRun(r));
      assert.equal(r.result['mtu'], '1448', 'pppd leaves room for the 4 MPPE bytes');
      const up = d.findLogs(isEvent('mppe-up', { send: '128-bit stateless', receive: '128-bit stateless' }));
      assert.equal(up.length, 1, 'the daemon logs mppe-up');
      if (traffic) assert.equal((r.output.match(/receiver/g) ?? []).length >= 2, true, `both iperf3 runs completed\n${describeRun(r)}`);
    });
  }

  it('require + a client requiring 128-bit: MPPE both ways; ping and 4 MB each way', { timeout: 20 * 60_000 }, () =>
    expectMppe('require', 'mschap-v2', true));

  it('require + MS-CHAPv1: 128-bit MPPE with the v1 start key interoperates', { timeout: 20 * 60_000 }, () =>
    expectMppe('require', 'mschap', false));

  it('prefer + a client requiring MPPE: MPPE', { timeout: 20 * 60_000 }, () => expectMppe('prefer', 'mschap-v2', false));

  it('default (no mppe option) + a client requiring MPPE: accepted, MPPE', { timeout: 20 * 60_000 }, () => expectMppe(undefined, 'mschap-v2', false));

  for (const [name, pppd, why] of [
    ['refusing CCP (noccp)', ['noccp'], /client rejected CCP/],
    ['that does not do MPPE (pppd default)', [], /client rejected the MPPE option/],
  ] as const) {
    it(`require + a client ${name}: refused, with the reason in the log`, { timeout: 20 * 60_000 }, async () => {
      const e = env!;
      const port = e.nextPort();
      await withDaemon({ configText: config(port, 'require'), netns: e.ns }, async (d) => {
        const r = await runSstpc({ port, netns: e.ns, user: 'vyos', password: 'vyos', auth: 'mschap-v2', pppd: [...pppd], expectFail: true });
        assertRefused(r, 'a client without MPPE');
        const failed = await d.waitForLog(isEvent('mppe-required-failed'), 10_000);
        assert.match(String(failed.reason), why);
        assert.deepEqual(d.findLogs(isEvent('session-up')), [], 'no data path was ever opened');
      });
    });
  }

  it('require + PAP: no MS-CHAP keys, the session ends after authentication with a clear log line', { timeout: 20 * 60_000 }, async () => {
    const e = env!;
    const port = e.nextPort();
    await withDaemon({ configText: config(port, 'require'), netns: e.ns }, async (d) => {
      const r = await runSstpc({ port, netns: e.ns, user: 'vyos', password: 'vyos', auth: 'pap', expectFail: true });
      assertRefused(r, 'PAP with mppe require');
      const failed = await d.waitForLog(isEvent('mppe-required-failed'), 10_000);
      assert.match(String(failed.reason), /authentication by pap gives no MPPE keys/);
    });
  });

  it('deny + a client requiring MPPE: refused (CCP is Protocol-Rejected, pppd gives up)', { timeout: 20 * 60_000 }, async () => {
    const e = env!;
    const port = e.nextPort();
    await withDaemon({ configText: config(port, 'deny'), netns: e.ns }, async (d) => {
      const r = await runSstpc({ port, netns: e.ns, user: 'vyos', password: 'vyos', auth: 'mschap-v2', pppd: ['require-mppe-128'], expectFail: true });
      assertRefused(r, 'a client requiring MPPE against deny');
      assert.match(r.output, /MPPE required but peer negotiation failed|Protocol-Reject for 'Compression Control Protocol'/, describeRun(r));
      assert.deepEqual(d.findLogs(isEvent('mppe-up')), []);
    });
  });

  it('prefer + a client without MPPE: the link comes up in the clear', { timeout: 20 * 60_000 }, async () => {
    const e = env!;
    const port = e.nextPort();
    await withDaemon({ configText: config(port, 'prefer'), netns: e.ns }, async (d) => {
      const r = await runSstpc({ port, netns: e.ns, user: 'vyos', password: 'vyos', auth: 'mschap-v2', ping: ['peer'] });
      assertUp(r, 'a client without MPPE, prefer');
      assert.equal(r.result['ping'], 'ok');
      assert.equal(r.result['mtu'], '1452');
      assert.deepEqual(d.findLogs(isEvent('mppe-up')), []);
      assert.ok(d.findLogs(isEvent('mppe-off')).length > 0, 'the daemon says MPPE stayed off, and why');
    });
  });
});
