/**
 * Refused clients, each while another user's session is up: the refusal must be clean (the
 * client sees an authentication failure, the daemon says why) and must not disturb the session
 * already running, which keeps pinging the gateway throughout.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createInteropEnv, isEvent, rootSkipReason, seedConfig, withDaemon, type Daemon, type InteropEnv } from '../support/daemon.js';
import {
  assertRefused, describeRun, pingLoopExec, pingLoopTimeout, runSstpc, startSstpc, waitSessionUp, withVmSlots,
  type ClientAuth, type SstpcOptions,
} from '../support/vm.js';

/** The session that must survive: still listed under the same sid, traffic still flowing. */
async function assertUndisturbed(d: Daemon, sid: string, what: string): Promise<void> {
  const row = await d.session(sid);
  assert.ok(row, `after ${what}: the concurrent session ${sid} is still listed`);
  assert.equal(row.username, 'vyos');
  await d.waitTrafficMoves(sid);
}

describe('interop: refused clients beside a live session', { skip: rootSkipReason() }, () => {
  let env: InteropEnv | undefined;
  before(async () => {
    env = await createInteropEnv('sstpd-fail');
  });
  after(async () => {
    await env?.cleanup();
  });

  it('wrong password, unknown user and disabled user: auth-failed with the reason', { timeout: 20 * 60_000 }, async () => {
    const e = env!;
    const port = e.nextPort();
    const configText = seedConfig({
      port, certs: e.certs,
      users: [{ name: 'alice', password: 'alice-pw' }, { name: 'bob', password: 'bob-pw', disable: true }],
    });
    const cases: readonly { user: string; password: string; auth: ClientAuth; reason: string }[] = [
      { user: 'alice', password: 'not-alice-pw', auth: 'mschap-v2', reason: 'wrong password' },
      { user: 'mallory', password: 'whatever', auth: 'pap', reason: 'unknown user' },
      { user: 'bob', password: 'bob-pw', auth: 'chap', reason: 'account disabled' },
    ];
    await withDaemon({ configText, netns: e.ns }, (d) =>
      withVmSlots(2, async (lease) => {
        const common: Pick<SstpcOptions, 'port' | 'netns' | 'lease'> = { port, netns: e.ns, lease };
        const bg = await startSstpc({
          ...common, user: 'vyos', password: 'vyos', auth: 'mschap-v2',
          exec: [pingLoopExec(300)], execTimeoutS: pingLoopTimeout(300),
        });
        try {
          const up = await waitSessionUp(d, bg, 'vyos');
          assert.ok(up.sid, up.raw);
          for (const c of cases) {
            const since = d.mark();
            const r = await runSstpc({ ...common, user: c.user, password: c.password, auth: c.auth, expectFail: true });
            assertRefused(r, `${c.user} (${c.reason})`);
            assert.equal(r.result['reason'], 'auth-failed', `the client saw an authentication failure\n${describeRun(r)}`);
            const failed = await d.waitForLog(isEvent('auth-failed', { username: c.user }), 10_000, since);
            assert.equal(failed.reason, c.reason, failed.raw);
            assert.deepEqual(d.findLogs(isEvent('session-up', { username: c.user }), since), []);
            await assertUndisturbed(d, up.sid, c.reason);
          }
        } finally {
          await bg.kill();
        }
      }),
    );
  });

  it('protocol not allowed (server pap only, client mschap-v2): refused, and the daemon says why', { timeout: 20 * 60_000 }, async () => {
    const e = env!;
    const port = e.nextPort();
    const configText = seedConfig({ port, certs: e.certs, protocols: ['pap'], users: [{ name: 'alice', password: 'alice-pw' }] });
    await withDaemon({ configText, netns: e.ns }, (d) =>
      withVmSlots(2, async (lease) => {
        const bg = await startSstpc({
          port, netns: e.ns, lease, user: 'vyos', password: 'vyos', auth: 'pap',
          exec: [pingLoopExec(300)], execTimeoutS: pingLoopTimeout(300),
        });
        try {
          const up = await waitSessionUp(d, bg, 'vyos');
          assert.ok(up.sid, up.raw);
          const since = d.mark();
          const r = await runSstpc({ port, netns: e.ns, lease, user: 'alice', password: 'alice-pw', auth: 'mschap-v2', expectFail: true });
          assertRefused(r, 'alice with mschap-v2 against a pap-only server');
          assert.deepEqual(d.findLogs(isEvent('session-up', { username: 'alice' }), since), []);
          // The client never names itself (LCP fails before authentication): look for the
          // session-down of the other session. The daemon says "no common authentication protocol".
          const why = d.findLogs(
            (l) => l.msg === 'session-down' && l.sid !== up.sid && /authentication protocol/i.test(l.reason ?? ''),
            since,
          );
          assert.ok(
            why.length > 0,
            `the daemon logs that the authentication protocol was the problem; lines since the attempt:\n` +
              d.logs.slice(since).map((l) => l.raw).join('\n'),
          );
          await assertUndisturbed(d, up.sid, 'the protocol mismatch');
        } finally {
          await bg.kill();
        }
      }),
    );
  });
});
