/**
 * next-pool through the real daemon in a throwaway namespace with real TLS and TUN, against our
 * own client: default-pool A holds one address and names B as its next-pool, so the first client
 * gets A's address, the second B's, and a third finds the whole chain exhausted.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createInteropEnv, isEvent, rootSkipReason, seedConfig, withDaemon, type InteropEnv } from '../support/daemon.js';
import { ClientProc } from '../support/client-proc.js';

function config(env: InteropEnv, port: number): string {
  const users = [
    { name: 'alice', password: 'alice-pw' },
    { name: 'bob', password: 'bob-pw' },
  ];
  const text = seedConfig({
    port,
    certs: env.certs,
    users,
    lines: [
      'set vpn sstp client-ip-pool A range 192.0.2.10/32',
      'set vpn sstp client-ip-pool A next-pool B',
      'set vpn sstp client-ip-pool B range 192.0.2.20-192.0.2.20',
      'set vpn sstp default-pool A',
    ],
  });
  // The 1.4 named pools replace the seed's 1.3 unnamed one (VyOS refuses the two syntaxes mixed).
  const line = /^set vpn sstp client-ip-pool subnet .*\n/m;
  assert.match(text, line);
  return text.replace(line, '');
}

describe('client-ip-pool next-pool: real daemon, our client', { skip: rootSkipReason() }, () => {
  let env: InteropEnv;
  before(async () => {
    env = await createInteropEnv('sstpd-nextpool');
  });
  after(async () => {
    await env?.cleanup();
  });

  it("pool A of one address, next-pool B: two clients get A's then B's address, a third none", async () => {
    const port = env.nextPort();
    await withDaemon({ configText: config(env, port), netns: env.ns }, async (d) => {
      const a = ClientProc.start(env.ns, { port, user: 'vyos', password: 'vyos' });
      let b: ClientProc | undefined;
      let c: ClientProc | undefined;
      try {
        const upA = await a.next(['up', 'failed']);
        assert.equal(upA.event, 'up', JSON.stringify(upA));
        assert.equal(upA['ipv4'], '192.0.2.10');
        b = ClientProc.start(env.ns, { port, user: 'alice', password: 'alice-pw' });
        const upB = await b.next(['up', 'failed']);
        assert.equal(upB.event, 'up', JSON.stringify(upB));
        assert.equal(upB['ipv4'], '192.0.2.20');
        assert.ok(await b.ping('192.0.2.254'), 'the gateway answers through the next-pool session');
        c = ClientProc.start(env.ns, { port, user: 'bob', password: 'bob-pw' });
        assert.equal((await c.next(['up', 'failed'])).event, 'failed');
        const why = await d.waitForLog(isEvent('address-unavailable', { username: 'bob' }));
        assert.equal(why.reason, 'address pool "A" is exhausted (next-pool chain "A" → "B")');
        const rows = await d.sessions();
        assert.deepEqual(rows.map((r) => r.ip).sort(), ['192.0.2.10', '192.0.2.20']);
      } finally {
        a.kill();
        b?.kill();
        c?.kill();
      }
    });
  });
});
