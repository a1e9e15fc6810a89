/**
 * The real sstpc + pppd (VM) against `sstpd --workers 2 --balance round-robin`: two clients at once land on both worker
 * processes, each gets its own address and passes traffic; `sstpctl terminate` reaches the worker
 * holding a session and the client's ppp0 goes away; the other session stays up.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createInteropEnv, rootSkipReason, seedConfig, startDaemon, type InteropEnv } from '../support/daemon.js';
import { assertUp, describeRun, pingLoopExec, pingLoopTimeout, runSstpc, startSstpc, waitRunEnds, waitSessionUp, withVmSlots } from '../support/vm.js';

describe('interop: sstpd --workers 2 --balance round-robin', { skip: rootSkipReason() }, () => {
  let env: InteropEnv | undefined;
  before(async () => {
    env = await createInteropEnv('sstpd-vmwk');
  });
  after(async () => {
    await env?.cleanup();
  });

  it('sessions on both workers, traffic through each, terminate reaches the owner', { timeout: 20 * 60_000 }, async () => {
    const e = env!;
    const port = e.nextPort();
    const d = await startDaemon({
      configText: seedConfig({ port, certs: e.certs, users: [{ name: 'alice', password: 'alice-pw' }] }),
      netns: e.ns,
      // Round robin: the next connection goes to the other worker (reuseport hashes, either may).
      extraArgs: ['--workers', '2', '--balance', 'round-robin'],
    });
    try {
      await withVmSlots(2, async (lease) => {
        const bg = await startSstpc({ port, netns: e.ns, lease, user: 'vyos', password: 'vyos', auth: 'mschap-v2', exec: [pingLoopExec(300)], execTimeoutS: pingLoopTimeout(300) });
        try {
          const up = await waitSessionUp(d, bg, 'vyos');
          const first = await d.session(up.sid!);
          assert.ok(first);
          // The next connection goes to the other worker (round robin); alice pings through it.
          const alice = await runSstpc({ port, netns: e.ns, lease, user: 'alice', password: 'alice-pw', auth: 'mschap-v2', ping: ['peer'] });
          assertUp(alice, 'alice on the second worker');
          const aliceWorker = d.findLogs((l) => l.msg === 'session-up' && l.username === 'alice').map((l) => String(l['worker']));
          assert.equal(aliceWorker.length, 1, 'alice came up once');
          assert.notEqual(aliceWorker[0], String(first['worker']), 'the two sessions are on different workers');
          await d.waitTrafficMoves(up.sid!);
          assert.equal((await d.ctl(['terminate', 'username', 'vyos'])).code, 0);
          const r = await waitRunEnds(bg, 60_000, 'after terminate');
          assert.ok(r.output.includes('ppp0=absent'), `the client's ppp0 went away\n${describeRun(r)}`);
        } finally {
          await bg.kill();
        }
      });
      assert.equal(await d.stop(), 0);
    } catch (err) {
      process.stderr.write(d.dump());
      throw err;
    } finally {
      await d.stop();
    }
  });
});
