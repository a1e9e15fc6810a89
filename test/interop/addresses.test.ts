/**
 * Address assignment with real clients: static-ip, two users at once, a pool of one address,
 * and the same user twice (single-session replace).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createInteropEnv, inSubnet, isEvent, rootSkipReason, seedConfig, withDaemon, type InteropEnv } from '../support/daemon.js';
import {
  assertRefused, assertUp, describeRun, pingLoopExec, pingLoopTimeout, runSstpc, startSstpc, waitRunEnds,
  waitSessionUp, withVmSlots,
} from '../support/vm.js';

const POOL = '192.0.2.0/25';
/** Marker printed by pingLoopExec when the loop stopped because ppp0 went away. */
const LINK_GONE = 'ppp0=absent';
const LOOP_S = 300;

describe('interop: addresses', { skip: rootSkipReason() }, () => {
  let env: InteropEnv | undefined;
  before(async () => {
    env = await createInteropEnv('sstpd-addr');
  });
  after(async () => {
    await env?.cleanup();
  });

  it('static-ip: the user gets exactly that address, even outside the pool', { timeout: 20 * 60_000 }, async () => {
    const e = env!;
    const port = e.nextPort();
    const configText = seedConfig({ port, certs: e.certs, users: [{ name: 'carol', password: 'carol-pw', staticIp: '192.0.2.200' }] });
    await withDaemon({ configText, netns: e.ns }, async (d) => {
      const r = await runSstpc({ port, netns: e.ns, user: 'carol', password: 'carol-pw', auth: 'mschap-v2', ping: ['peer'] });
      assertUp(r, 'carol');
      assert.equal(r.result['ipv4'], '192.0.2.200', describeRun(r));
      assert.equal(r.result['peer'], '192.0.2.254');
      assert.equal(r.result['ping'], 'ok');
      const up = await d.waitForLog(isEvent('session-up', { username: 'carol' }), 5_000);
      assert.equal(up.ip, '192.0.2.200');
    });
  });

  it('two users at once get distinct addresses from the pool; terminate ends one link', { timeout: 20 * 60_000 }, async () => {
    const e = env!;
    const port = e.nextPort();
    const configText = seedConfig({ port, certs: e.certs, users: [{ name: 'alice', password: 'alice-pw' }] });
    await withDaemon({ configText, netns: e.ns }, (d) =>
      withVmSlots(2, async (lease) => {
        const first = await startSstpc({
          port, netns: e.ns, lease, user: 'vyos', password: 'vyos', auth: 'mschap-v2',
          exec: [pingLoopExec(LOOP_S)], execTimeoutS: pingLoopTimeout(LOOP_S),
        });
        try {
          const upA = await waitSessionUp(d, first, 'vyos');
          const second = await startSstpc({
            port, netns: e.ns, lease, user: 'alice', password: 'alice-pw', auth: 'mschap-v2', ping: ['peer'], exec: ['sleep 4'],
          });
          try {
            const upB = await waitSessionUp(d, second, 'alice');
            const rows = await d.sessions();
            const a = rows.find((s) => s.sid === upA.sid);
            const b = rows.find((s) => s.sid === upB.sid);
            assert.ok(a && b, `both sessions listed at once: ${JSON.stringify(rows)}`);
            assert.notEqual(a.ip, b.ip);
            assert.notEqual(a.ifname, b.ifname);
            assert.ok(inSubnet(a.ip, POOL) && inSubnet(b.ip, POOL), `${a.ip}, ${b.ip} in ${POOL}`);
            const rb = await second.done;
            assertUp(rb, 'alice');
            assert.equal(rb.result['ipv4'], b.ip);

            // The operator ends vyos's session: its guest sees ppp0 vanish and the run finishes.
            const t = await d.ctl(['terminate', 'username', 'vyos']);
            assert.equal(t.code, 0, `sstpctl terminate: ${t.stderr}${t.stdout}`);
            const ra = await waitRunEnds(first, 60_000, 'after terminate username vyos');
            assert.equal(ra.result['ppp'], 'up', describeRun(ra));
            assert.equal(ra.result['ipv4'], a.ip, 'the first client had the address the server listed');
            assert.ok(ra.output.includes(LINK_GONE), `the first client's ppp0 went away\n${describeRun(ra)}`);
            await d.waitSessionGone(a.sid, a.ifname);
          } finally {
            await second.kill();
          }
        } finally {
          await first.kill();
        }
      }),
    );
  });

  it('a pool of one address refuses the second client cleanly; the first stays up', { timeout: 20 * 60_000 }, async () => {
    const e = env!;
    const port = e.nextPort();
    const configText = seedConfig({ port, certs: e.certs, poolSubnet: '192.0.2.1/32', users: [{ name: 'alice', password: 'alice-pw' }] });
    await withDaemon({ configText, netns: e.ns }, (d) =>
      withVmSlots(2, async (lease) => {
        const first = await startSstpc({
          port, netns: e.ns, lease, user: 'vyos', password: 'vyos', auth: 'mschap-v2',
          exec: [pingLoopExec(LOOP_S)], execTimeoutS: pingLoopTimeout(LOOP_S),
        });
        try {
          const up = await waitSessionUp(d, first, 'vyos');
          assert.equal(up.ip, '192.0.2.1');
          const since = d.mark();
          const r = await runSstpc({ port, netns: e.ns, lease, user: 'alice', password: 'alice-pw', auth: 'mschap-v2', expectFail: true });
          assertRefused(r, 'alice with the pool exhausted');
          // Cleanly: the client is told no, rather than left waiting for IPCP until it gives up.
          assert.notEqual(r.result['reason'], 'timeout', describeRun(r));
          assert.deepEqual(d.findLogs(isEvent('session-up', { username: 'alice' }), since), []);
          const why = d.findLogs((l) => l.username === 'alice' && /address|pool/i.test(`${l.msg} ${l.reason ?? ''}`), since);
          assert.ok(why.length > 0, `the daemon says alice got no address; lines since:\n${d.logs.slice(since).map((l) => l.raw).join('\n')}`);
          const row = await d.session(up.sid!);
          assert.ok(row, 'the first session is still listed');
          assert.equal(row.ip, '192.0.2.1');
          await d.waitTrafficMoves(row.sid);
        } finally {
          await first.kill();
        }
      }),
    );
  });

  it('the same user twice: the second connects, the first is replaced and its link goes down', { timeout: 20 * 60_000 }, async () => {
    const e = env!;
    const port = e.nextPort();
    await withDaemon({ configText: seedConfig({ port, certs: e.certs }), netns: e.ns }, (d) =>
      withVmSlots(2, async (lease) => {
        const first = await startSstpc({
          port, netns: e.ns, lease, user: 'vyos', password: 'vyos', auth: 'mschap-v2',
          exec: [pingLoopExec(LOOP_S)], execTimeoutS: pingLoopTimeout(LOOP_S),
        });
        try {
          const upA = await waitSessionUp(d, first, 'vyos');
          assert.ok(upA.sid, upA.raw);
          const rowA = await d.session(upA.sid);
          assert.ok(rowA);
          const since = d.mark();
          const rb = await runSstpc({ port, netns: e.ns, lease, user: 'vyos', password: 'vyos', auth: 'mschap-v2', ping: ['peer'] });
          assertUp(rb, 'the second vyos');
          assert.equal(rb.result['ping'], 'ok');
          await d.waitForLog(isEvent('session-replaced', { username: 'vyos' }), 5_000, since);
          const upB = await d.waitForLog((l) => l.msg === 'session-up' && l.username === 'vyos' && l.sid !== upA.sid, 5_000, since);
          assert.equal(upB.ip, rb.result['ipv4']);
          await d.waitForLog(isEvent('session-down', { sid: upA.sid }), 10_000, since);
          await d.waitSessionGone(upA.sid, rowA.ifname);
          // The first guest notices: pppd ends, ppp0 goes, the run finishes by itself.
          const ra = await waitRunEnds(first, 60_000, 'the replaced client');
          assert.ok(ra.output.includes(LINK_GONE), `the replaced client's ppp0 went away\n${describeRun(ra)}`);
        } finally {
          await first.kill();
        }
      }),
    );
  });
});
