/**
 * A client that vanishes without goodbye: sstpc and pppd are frozen (SIGSTOP) inside the guest,
 * so TCP stays open but nothing answers LCP Echo. With echo every 2 s and 2 failures allowed,
 * the daemon must drop the session as lost-carrier and remove its interface.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createInteropEnv, isEvent, rootSkipReason, seedConfig, withDaemon, type InteropEnv } from '../support/daemon.js';
import { startSstpc, waitSessionUp } from '../support/vm.js';

describe('interop: a client that stops answering', { skip: rootSkipReason() }, () => {
  let env: InteropEnv | undefined;
  before(async () => {
    env = await createInteropEnv('sstpd-gone');
  });
  after(async () => {
    await env?.cleanup();
  });

  it('LCP echo loss ends the session (lost-carrier) and removes the interface', { timeout: 20 * 60_000 }, async () => {
    const e = env!;
    const port = e.nextPort();
    const configText = seedConfig({
      port, certs: e.certs,
      lines: ['set vpn sstp ppp-options lcp-echo-interval 2', 'set vpn sstp ppp-options lcp-echo-failure 2'],
    });
    await withDaemon({ configText, netns: e.ns }, async (d) => {
      const run = await startSstpc({
        port, netns: e.ns, user: 'vyos', password: 'vyos', auth: 'mschap-v2',
        exec: ['kill -STOP $(pidof sstpc) $(pidof pppd); sleep 100'], execTimeoutS: 120,
      });
      try {
        const up = await waitSessionUp(d, run, 'vyos');
        assert.ok(up.sid, up.raw);
        const row = await d.session(up.sid);
        assert.ok(row, 'listed while up');
        // Echo every 2 s, dropped after 2 unanswered: ~4-6 s after the freeze. 30 s leaves
        // room for a loaded machine; it bounds the wait, it does not measure the daemon.
        const down = await d.waitForLog(isEvent('session-down', { sid: up.sid }), 30_000);
        assert.equal(down.cause, 'lost-carrier', down.raw);
        await d.waitSessionGone(up.sid, row.ifname);
      } finally {
        await run.kill();
      }
    });
  });
});
