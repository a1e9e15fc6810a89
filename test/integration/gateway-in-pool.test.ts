/**
 * gateway-address inside client-ip-pool (VyOS accepts it; its smoketests use gateway 192.0.2.1
 * with pool 192.0.2.0/24), through the real daemon in a throwaway namespace with real TLS and TUN,
 * against our own client: the daemon starts, clients get pool addresses that are never the
 * gateway, and the gateway answers pings through the tunnel.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createInteropEnv, inSubnet, isEvent, rootSkipReason, seedConfig, withDaemon, type InteropEnv } from '../support/daemon.js';
import { ClientProc } from '../support/client-proc.js';

const GATEWAY = '192.0.2.1';

function config(env: InteropEnv, port: number, poolSubnet: string): string {
  const users = [{ name: 'alice', password: 'alice-pw' }];
  const text = seedConfig({ port, certs: env.certs, poolSubnet, users });
  assert.match(text, /gateway-address 192\.0\.2\.254/);
  return text.replace('gateway-address 192.0.2.254', `gateway-address ${GATEWAY}`);
}

describe('gateway-address inside client-ip-pool: real daemon, our client', { skip: rootSkipReason() }, () => {
  let env: InteropEnv;
  before(async () => {
    env = await createInteropEnv('sstpd-gwpool');
  });
  after(async () => {
    await env?.cleanup();
  });

  it('VyOS layout (gateway 192.0.2.1, pool 192.0.2.0/24): two clients get .2 and .3, never the gateway, and ping it', async () => {
    const port = env.nextPort();
    await withDaemon({ configText: config(env, port, '192.0.2.0/24'), netns: env.ns }, async (d) => {
      const a = ClientProc.start(env.ns, { port, user: 'vyos', password: 'vyos' });
      const b = ClientProc.start(env.ns, { port, user: 'alice', password: 'alice-pw' });
      try {
        const ups = [await a.next(['up', 'failed']), await b.next(['up', 'failed'])];
        for (const up of ups) {
          assert.equal(up.event, 'up', JSON.stringify(up));
          assert.ok(inSubnet(String(up['ipv4']), '192.0.2.0/24'), JSON.stringify(up));
          assert.notEqual(up['ipv4'], GATEWAY);
          assert.equal(up['peer'], GATEWAY);
        }
        assert.deepEqual(ups.map((u) => String(u['ipv4'])).sort(), ['192.0.2.2', '192.0.2.3']);
        assert.ok(await a.ping(GATEWAY), 'the gateway answers through the first tunnel');
        assert.ok(await b.ping(GATEWAY), 'the gateway answers through the second tunnel');
        const rows = await d.sessions();
        assert.deepEqual(rows.map((r) => r.ip).sort(), ['192.0.2.2', '192.0.2.3']);
      } finally {
        a.kill();
        b.kill();
      }
    });
  });

  it('a pool of network + gateway + one host (/30): the one host is handed out, the next login finds the pool exhausted', async () => {
    const port = env.nextPort();
    await withDaemon({ configText: config(env, port, '192.0.2.0/30'), netns: env.ns }, async (d) => {
      const a = ClientProc.start(env.ns, { port, user: 'vyos', password: 'vyos' });
      let b: ClientProc | undefined;
      try {
        const up = await a.next(['up', 'failed']);
        assert.equal(up.event, 'up', JSON.stringify(up));
        assert.equal(up['ipv4'], '192.0.2.2');
        assert.ok(await a.ping(GATEWAY), 'the gateway answers through the tunnel');
        b = ClientProc.start(env.ns, { port, user: 'alice', password: 'alice-pw' });
        assert.equal((await b.next(['up', 'failed'])).event, 'failed');
        const why = await d.waitForLog(isEvent('address-unavailable', { username: 'alice' }));
        assert.equal(why.reason, 'address pool "default" is exhausted');
        assert.ok(await a.ping(GATEWAY), 'the first session is untouched');
      } finally {
        a.kill();
        b?.kill();
      }
    });
  });
});
