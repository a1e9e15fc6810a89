/**
 * `host-name` through the real daemon (dist/src/cli/sstpd.js, real TLS, in a throwaway namespace):
 * a client whose TLS SNI names another host fails the handshake; a client without SNI whose HTTP
 * Host names another host gets 404; clients naming the configured host (any letter case, Host with
 * a port) come up, as accel-ppp's servername callback and Host check decide.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createInteropEnv, isEvent, rootSkipReason, seedConfig, withDaemon, type InteropEnv } from '../support/daemon.js';
import { ClientProc } from '../support/client-proc.js';

const NAME = 'vpn.example.net';

describe('host-name: SNI and HTTP Host are checked', { skip: rootSkipReason() }, () => {
  let env: InteropEnv;
  before(async () => {
    env = await createInteropEnv('sstpd-host');
  });
  after(async () => {
    await env?.cleanup();
  });

  it('another name is refused (TLS alert for SNI, 404 for Host); the configured name comes up', async () => {
    const port = env.nextPort();
    const configText = seedConfig({ port, certs: env.certs, lines: [`set vpn sstp host-name ${NAME}`] });
    await withDaemon({ configText, netns: env.ns }, async (d) => {
      const run = async (o: { servername?: string; noSni?: boolean; hostHeader?: string }): Promise<string> => {
        const c = ClientProc.start(env.ns, { port, user: 'vyos', password: 'vyos', ...o });
        try {
          const r = await c.next(['up', 'failed']);
          if (r.event === 'up') await c.close();
          return r.event;
        } finally {
          c.kill();
        }
      };
      assert.equal(await run({ servername: 'VPN.Example.NET', hostHeader: NAME }), 'up', 'SNI in another letter case');
      assert.equal(await run({ noSni: true, hostHeader: `${NAME}:443` }), 'up', 'no SNI, Host with a port');

      assert.equal(await run({ servername: 'other.example.net', hostHeader: NAME }), 'failed', 'SNI names another host');
      const tls = await d.waitForLog(isEvent('tls-failed'));
      assert.match(String(tls['reason']), /SNI other\.example\.net is not vpn\.example\.net/);

      assert.equal(await run({ noSni: true, hostHeader: 'other.example.net' }), 'failed', 'no SNI, Host names another host');
      const http = await d.waitForLog(isEvent('http-rejected', { status: 404 }));
      assert.match(String(http['reason']), /Host other\.example\.net is not vpn\.example\.net/);
      // The SNI refusal never reached HTTP: one 404, for the Host case only.
      assert.equal(d.findLogs(isEvent('http-rejected')).length, 1);
    });
  });
});
