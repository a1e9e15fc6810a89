/**
 * SIGHUP under a live session: a good config is applied without touching the session; a broken
 * one is refused (config-reload-failed) and the previous config stays in force. Then SIGTERM
 * with the session still up: the client's link goes down and the daemon exits 0.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createInteropEnv, isEvent, rootSkipReason, seedConfig, startDaemon, type InteropEnv } from '../support/daemon.js';
import {
  assertUp, describeRun, pingLoopExec, pingLoopTimeout, runSstpc, startSstpc, waitRunEnds, waitSessionUp, withVmSlots,
} from '../support/vm.js';

describe('interop: SIGHUP reload with a live session', { skip: rootSkipReason() }, () => {
  let env: InteropEnv | undefined;
  before(async () => {
    env = await createInteropEnv('sstpd-hup');
  });
  after(async () => {
    await env?.cleanup();
  });

  it('adds a user without disturbing the session; keeps the old config when the new one is broken', { timeout: 20 * 60_000 }, async () => {
    const e = env!;
    const port = e.nextPort();
    const base = { port, certs: e.certs };
    const d = await startDaemon({ configText: seedConfig(base), netns: e.ns });
    try {
      await withVmSlots(2, async (lease) => {
        const bg = await startSstpc({
          port, netns: e.ns, lease, user: 'vyos', password: 'vyos', auth: 'mschap-v2',
          exec: [pingLoopExec(300)], execTimeoutS: pingLoopTimeout(300),
        });
        try {
          const up = await waitSessionUp(d, bg, 'vyos');
          assert.ok(up.sid, up.raw);
          const initial = await d.session(up.sid);
          assert.ok(initial);

          // 1. A good reload that adds alice.
          let since = await d.reload(seedConfig({ ...base, users: [{ name: 'alice', password: 'alice-pw' }] }));
          await d.waitForLog(isEvent('config-reloaded'), 10_000, since);
          const kept = await d.session(up.sid);
          assert.ok(kept, 'the session survives the reload');
          assert.equal(kept.ifname, initial.ifname);
          assert.equal(kept.ip, initial.ip);
          const alice = await runSstpc({ port, netns: e.ns, lease, user: 'alice', password: 'alice-pw', auth: 'mschap-v2', ping: ['peer'] });
          assertUp(alice, 'alice after the reload');
          await d.waitTrafficMoves(up.sid);

          // 2. A broken file, which also drops alice: if it were applied, alice could not log in.
          since = await d.reload(seedConfig(base) + 'set vpn sstp port not-a-port\n');
          const failed = await d.waitForLog(isEvent('config-reload-failed'), 10_000, since);
          assert.ok(typeof failed.reason === 'string' && failed.reason.length > 0, `the failure says why: ${failed.raw}`);
          assert.equal(d.exited, false, 'the daemon keeps running');
          assert.ok(await d.session(up.sid), 'the session survives the failed reload');
          const again = await runSstpc({ port, netns: e.ns, lease, user: 'alice', password: 'alice-pw', auth: 'mschap-v2', ping: ['peer'] });
          assertUp(again, 'alice under the kept config');

          // 3. SIGTERM with vyos still connected: its link goes down, the daemon exits 0.
          assert.ok(await d.session(up.sid), 'still up before SIGTERM');
          assert.equal(await d.stop(), 0, `exit code on SIGTERM\n${d.dump()}`);
          const r = await waitRunEnds(bg, 60_000, 'after SIGTERM');
          assert.ok(r.output.includes('ppp0=absent'), `the client's ppp0 went away\n${describeRun(r)}`);
        } finally {
          await bg.kill();
        }
      });
    } catch (err) {
      process.stderr.write(d.dump());
      throw err;
    } finally {
      await d.stop();
    }
  });
});
