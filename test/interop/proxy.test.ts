/**
 * The real client through a real HAProxy: sstpc + pppd in the VM dial HAProxy's port, HAProxy
 * forwards with `send-proxy-v2` from a source address of its own (127.0.0.9, the only trusted
 * proxy), and sstpd must show the address the client came from (127.0.0.1: QEMU's user network
 * connects from the namespace's loopback), not the proxy's.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createInteropEnv, isEvent, rootSkipReason, seedConfig, withDaemon, type InteropEnv } from '../support/daemon.js';
import { assertUp, describeRun, runSstpc } from '../support/vm.js';
import { HAPROXY_HEAD, startHaproxy } from '../support/haproxy.js';

describe('interop: sstpc through HAProxy (TCP mode, send-proxy-v2)', { skip: rootSkipReason() }, () => {
  let env: InteropEnv;
  before(async () => {
    env = await createInteropEnv('sstpd-vmproxy');
  });
  after(async () => {
    await env?.cleanup();
  });

  it('mschap-v2 through HAProxy: link up, ping, and the session shows the client address', { timeout: 10 * 60_000 }, async () => {
    const port = env.nextPort();
    const front = env.nextPort();
    const lines = ['set vpn sstp proxy-protocol trusted 127.0.0.9'];
    await withDaemon({ configText: seedConfig({ port, certs: env.certs, lines }), netns: env.ns }, async (d) => {
      const cfg = `${HAPROXY_HEAD}frontend f\n  bind 127.0.0.1:${front}\n  default_backend b\nbackend b\n  source 127.0.0.9\n  server s 127.0.0.1:${port} send-proxy-v2\n`;
      const hap = await startHaproxy(env.ns, cfg, [front]);
      try {
        const r = await runSstpc({ port: front, netns: env.ns, user: 'vyos', password: 'vyos', auth: 'mschap-v2', ping: ['peer'] });
        assertUp(r, 'sstpc through HAProxy');
        assert.equal(r.result['ping'], 'ok', describeRun(r));
        const start = d.findLogs(isEvent('session-start'));
        assert.ok(start.length >= 1);
        assert.ok(start.every((s) => s['callingSid'] === '127.0.0.1'), `every session from the client's address: ${start.map((s) => s.raw).join('\n')}`);
        assert.equal(d.findLogs(isEvent('binding-verified')).length >= 1, true);
        assert.equal(d.findLogs(isEvent('proxy-untrusted')).length, 0, 'HAProxy (127.0.0.9) is trusted');
      } finally {
        await hap.stop();
      }
    });
  });
});
