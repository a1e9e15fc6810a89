/**
 * `authentication mode noauth` through the real daemon (accel-ppp `[auth] noauth=1`): LCP asks for
 * no authentication, so a client with any name and password (or none) gets a session and an
 * address from the pool; the session has no user name, so two of them do not replace each other.
 * `sstpd --check` says loudly what the mode means.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createInteropEnv, isEvent, rootSkipReason, seedConfig, withDaemon, type InteropEnv } from '../support/daemon.js';
import { ClientProc } from '../support/client-proc.js';

const GATEWAY = '192.0.2.254';

describe('authentication mode noauth: anyone who reaches the port gets a session', { skip: rootSkipReason() }, () => {
  let env: InteropEnv;
  before(async () => {
    env = await createInteropEnv('sstpd-noauth');
  });
  after(async () => {
    await env?.cleanup();
  });

  it('two clients with made-up credentials both get addresses from the pool and pass traffic; no user name is shown', async () => {
    const port = env.nextPort();
    const configText = seedConfig({ port, certs: env.certs }).replace('authentication mode local', 'authentication mode noauth');
    // lcp-opened (which names the negotiated auth) is a debug line.
    await withDaemon({ configText, netns: env.ns, env: { ...process.env, SSTPD_LOG_LEVEL: 'debug' } }, async (d) => {
      const loud = await d.waitForLog(isEvent('noauth-enabled'));
      assert.match(String(loud['warning']), /^NO AUTHENTICATION/, 'said loudly at start');
      const a = ClientProc.start(env.ns, { port, user: 'nobody', password: 'wrong' });
      const b = ClientProc.start(env.ns, { port, user: 'nobody', password: 'also-wrong', auth: 'mschap-v2' });
      try {
        const upA = await a.next(['up', 'failed']);
        const upB = await b.next(['up', 'failed']);
        assert.equal(upA.event, 'up', JSON.stringify(upA));
        assert.equal(upB.event, 'up', JSON.stringify(upB));
        assert.notEqual(upA['ipv4'], upB['ipv4']);
        assert.match(String(upA['ipv4']), /^192\.0\.2\./);
        await d.waitForLog(isEvent('session-up'));
        assert.ok(await a.ping(GATEWAY), 'traffic flows without authentication');
        const rows = await d.sessions();
        assert.equal(rows.length, 2, 'no single-session replacement between unnamed sessions');
        assert.deepEqual(rows.map((r) => r.username), ['', '']);
        assert.equal(d.findLogs(isEvent('lcp-opened', { auth: 'none' })).length, 2);
        assert.equal(d.findLogs(isEvent('auth-failed')).length, 0);
      } finally {
        a.kill();
        b.kill();
      }
    });
  });
});
