/**
 * `sstpd --workers 2` end to end in a throwaway namespace: the load generator (sstp-load) and
 * FreeRADIUS + radclient against a primary and two worker processes, once per `--balance`
 * (round-robin through the primary, reuseport: each worker its own socket).
 *   - 500 concurrent setups: no address twice, every session in sstpctl, sessions on both workers;
 *     terminate and set rate-limit reach the owning worker; SIGHUP (good and broken) and SIGTERM;
 *   - RADIUS: Disconnect/CoA to a session on each worker, NAK for none; kill -9 of a worker: its
 *     sessions' Stops (NAS-Error) in the detail file, the other worker's sessions untouched, its
 *     addresses leased again by the replacement worker.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { createInteropEnv, eventually, isEvent, rootSkipReason, runCommand, seedConfig, withDaemon, type InteropEnv } from '../support/daemon.js';
import { activeRows, byWorker, holdSessions, listenerPids, stats, stopLoad } from '../support/workers.js';
import { BALANCES } from '../../src/server/listener.js';
import { VERSION } from '../../src/server/version.js';
import { freeRadiusUnavailable, startFreeRadius, type FreeRadius, radiusServerLines } from '../support/freeradius.js';

/** One metrics sample by its exact series text, e.g. `sstpd_sessions{state="active"}`. */
async function metric(env: InteropEnv, port: number, series: string): Promise<number | undefined> {
  const r = await runCommand(process.execPath, ['-e', `fetch('http://127.0.0.1:${port}/metrics').then(async r=>process.stdout.write(await r.text()))`], { netns: env.ns });
  const line = r.stdout.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

for (const balance of BALANCES) describe(`sstpd --workers 2 --balance ${balance}`, { skip: rootSkipReason() }, () => {
  const WORKERS = ['--workers', '2', '--balance', balance];
  let env: InteropEnv;
  before(async () => {
    env = await createInteropEnv('sstpd-wk');
  });
  after(async () => {
    await env?.cleanup();
  });

  it('500 concurrent setups: unique addresses, all listed, on both workers; terminate, rate-limit, SIGHUP, SIGTERM', async () => {
    const port = env.nextPort();
    const users = Array.from({ length: 500 }, (_, i) => ({ name: `u${i}`, password: 'pw' }));
    const mport = env.nextPort();
    const config = seedConfig({ port, certs: env.certs, users, poolSubnet: '10.64.0.0/22', lines: ['set vpn sstp metrics listen-address 127.0.0.1', `set vpn sstp metrics port ${mport}`] });
    await withDaemon({ configText: config, netns: env.ns, extraArgs: WORKERS, startTimeoutMs: 60_000 }, async (d) => {
      const load = holdSessions(env, port, 'u', 500);
      try {
        await eventually(async () => (await activeRows(d)).length === 500, 240_000, '500 active sessions in show sessions', 1000);
        const rows = await activeRows(d);
        assert.equal(new Set(rows.map((r) => r.ip)).size, 500, 'no address twice');
        assert.equal(new Set(rows.map((r) => r.ifname)).size, 500, 'no interface name twice');
        assert.equal(new Set(rows.map((r) => r.sid)).size, 500);
        const spread = byWorker(rows);
        assert.deepEqual([...spread.keys()].sort(), ['0', '1'], 'sessions on both workers');
        for (const [w, list] of spread) assert.ok(list.length >= 100, `worker ${w} holds ${list.length} of 500`);
        const st = await stats(d);
        assert.equal(st.workers.live, 2);
        // The primary's /metrics: every worker's sessions summed, the pool as the primary keeps it.
        assert.equal(await metric(env, mport, 'sstpd_sessions{state="active"}'), 500);
        assert.equal(await metric(env, mport, 'sstpd_pool_used{family="ipv4",pool="default"}'), 500);
        assert.equal(await metric(env, mport, `sstpd_build_info{version="${VERSION}",nodejs="${process.version}"}`), 1);

        // One session of each worker: a rate limit, then terminate by sid and by user.
        const [a, b] = [spread.get('0')![0]!, spread.get('1')![0]!];
        for (const r of [a, b]) {
          const set = await d.ctl(['set', 'rate-limit', 'sid', r.sid, '2000/1000']);
          assert.equal(set.code, 0, set.stderr);
          assert.equal((await d.session(r.sid))?.['rateLimit'], '2000/1000', `rate limit on worker ${String(r['worker'])}`);
        }
        assert.equal((await d.ctl(['terminate', 'sid', a.sid])).code, 0);
        assert.equal((await d.ctl(['terminate', 'username', b.username])).code, 0);
        await d.waitSessionGone(a.sid, a.ifname, 20_000);
        await d.waitSessionGone(b.sid, b.ifname, 20_000);

        // SIGHUP: a broken file changes nothing anywhere; a good one reaches both workers.
        let since = await d.reload(config + 'set vpn sstp port 99999999\n');
        await d.waitForLog(isEvent('config-reload-failed'), 20_000, since);
        assert.equal(d.findLogs(isEvent('worker-config-reloaded'), since).length, 0);
        since = await d.reload(config + 'set vpn sstp authentication local-users username late password pw\n');
        const reloaded = await d.waitForLog(isEvent('config-reloaded'), 30_000, since);
        assert.equal(reloaded['workers'], 2);
        await eventually(() => d.findLogs(isEvent('worker-config-reloaded', { generation: Number(reloaded['generation']) }), since).length === 2, 10_000, 'both workers on the new generation');
        assert.equal((await activeRows(d)).length, 498, 'sessions stay up across a reload');
      } finally {
        await stopLoad(load);
      }
      await eventually(async () => (await d.sessions()).length === 0, 120_000, 'every session ended after the clients left', 1000);
      // SIGTERM with sessions on both workers: a fresh few, then stop.
      const few = holdSessions(env, port, 'u', 10);
      try {
        await eventually(async () => byWorker(await activeRows(d)).size === 2, 60_000, 'sessions on both workers again', 500);
        const live = (await activeRows(d)).length;
        const since = d.mark();
        assert.equal(await d.stop(), 0, 'SIGTERM: exit 0');
        assert.equal(d.findLogs(isEvent('worker-stopped'), since).length, 2);
        assert.ok(d.findLogs(isEvent('session-down'), since).length >= live, 'every session ended');
        assert.equal(d.findLogs(isEvent('stopped'), since).length, 1);
      } finally {
        await stopLoad(few);
      }
    });
  });

  describe('RADIUS', { skip: freeRadiusUnavailable() }, () => {
    const SECRET = 'wk-secret';
    const DAE_SECRET = 'wk-dae';
    const R = 'set vpn sstp authentication radius';
    let fr: FreeRadius;
    let authPort: number;
    let acctPort: number;
    before(async () => {
      authPort = env.nextPort();
      acctPort = env.nextPort();
      fr = await startFreeRadius({
        netns: env.ns,
        authPort,
        acctPort,
        clients: [{ ipaddr: '127.0.0.1', secret: SECRET }],
        users: [
          ...['r', 's'].flatMap((p) => Array.from({ length: 12 }, (_, i) => ({ name: `${p}${i}`, password: 'pw' }))),
          ...Array.from({ length: 6 }, (_, k) => ({ name: `t${k}_0`, password: 'pw' })),
        ],
      });
    });
    after(async () => {
      await fr?.stop();
    });

    const radiusConfig = (port: number, daePort: number): string =>
      seedConfig({
        port,
        certs: env.certs,
        // 192.0.2.1–192.0.2.14, handed out lowest first.
        poolSubnet: '192.0.2.0/28',
        lines: [
          ...radiusServerLines(SECRET, authPort, acctPort),
          `${R} dynamic-author server 127.0.0.1`,
          `${R} dynamic-author port ${daePort}`,
          `${R} dynamic-author key ${DAE_SECRET}`,
          `${R} rate-limit enable`,
          `${R} timeout 2`,
        ],
      })
        .replace('set vpn sstp authentication mode local', 'set vpn sstp authentication mode radius');

    const stopsOf = async (sid: string) => (await fr.records(sid)).filter((r) => r['Acct-Status-Type'] === 'Stop');

    it('DAE to a session on each worker; kill -9 of a worker: Stops, others untouched, addresses leased again', async () => {
      const port = env.nextPort();
      const daePort = env.nextPort();
      await withDaemon({ configText: radiusConfig(port, daePort), netns: env.ns, extraArgs: WORKERS, startTimeoutMs: 60_000 }, async (d) => {
        const load = holdSessions(env, port, 'r', 8);
        const more: ChildProcess[] = [];
        try {
          await eventually(async () => (await activeRows(d)).length === 8, 120_000, '8 active sessions', 500);
          // Connections go to whichever worker is free (round-robin) or the kernel's hash picks
          // (reuseport): make sure each holds at least two (one to disconnect, one to kill or
          // keep), one more session at a time (users t0 … t5; the pool has 14 addresses).
          for (let k = 0; k < 6; k++) {
            const counts = [...byWorker(await activeRows(d)).values()].map((l) => l.length);
            if (counts.length === 2 && Math.min(...counts) >= 2) break;
            more.push(holdSessions(env, port, `t${k}_`, 1));
            await eventually(async () => (await activeRows(d)).length === 9 + k, 60_000, `session ${9 + k}`, 500);
          }
          const rows = await activeRows(d);
          for (const r of rows) await eventually(async () => (await fr.records(r.sid)).some((x) => x['Acct-Status-Type'] === 'Start'), 20_000, `Start of ${r.sid}`);
          const spread = byWorker(rows);
          assert.deepEqual([...spread.keys()].sort(), ['0', '1']);
          const target = `127.0.0.1:${daePort}`;

          // CoA and Disconnect reach the session wherever it lives; an unknown session is NAKed.
          for (const w of ['0', '1']) {
            const r = spread.get(w)![0]!;
            const coa = await fr.radclient(target, 'coa', DAE_SECRET, `Acct-Session-Id = "${r.sid}", Filter-Id = "3000/1500"`);
            assert.match(coa.out, /Received CoA-ACK/, `CoA to worker ${w}: ${coa.out}`);
            assert.equal((await d.session(r.sid))?.['rateLimit'], '3000/1500');
          }
          const none = await fr.radclient(target, 'disconnect', DAE_SECRET, 'Acct-Session-Id = "no-such-session"');
          assert.match(none.out, /Received Disconnect-NAK/);
          assert.match(none.out, /Error-Cause = Session-Context-Not-Found/);
          const disconnected = [spread.get('0')![1]!, spread.get('1')![1]!];
          for (const r of disconnected) {
            const dm = await fr.radclient(target, 'disconnect', DAE_SECRET, `Acct-Session-Id = "${r.sid}"`);
            assert.match(dm.out, /Received Disconnect-ACK/, `Disconnect to worker ${String(r['worker'])}: ${dm.out}`);
            await eventually(async () => (await stopsOf(r.sid)).length === 1, 20_000, `Stop of ${r.sid}`);
            assert.equal((await stopsOf(r.sid))[0]!['Acct-Terminate-Cause'], 'Admin-Reset');
          }

          // Let each worker report its counters once more, then kill worker 0 outright.
          await new Promise((r) => setTimeout(r, 4_000));
          const before = await activeRows(d);
          const victims = before.filter((r) => r['worker'] === '0');
          const survivors = before.filter((r) => r['worker'] === '1');
          assert.ok(victims.length > 0 && survivors.length > 0);
          const oldPid = (await stats(d)).workers.pids[0]!;
          const since = d.mark();
          process.kill(oldPid, 'SIGKILL');
          const died = await d.waitForLog(isEvent('worker-died', { worker: 0 }), 20_000, since);
          assert.equal(died['signal'], 'SIGKILL');
          for (const v of victims) {
            await eventually(async () => (await stopsOf(v.sid)).length === 1, 20_000, `the primary's Stop for ${v.sid}`);
            const stop = (await stopsOf(v.sid))[0]!;
            assert.equal(stop['Acct-Terminate-Cause'], 'NAS-Error');
            assert.equal(stop['Framed-IP-Address'], v.ip);
            assert.equal(stop['NAS-Port-Id'], v.ifname);
          }
          await d.waitForLog(isEvent('worker-replaced', { worker: 0 }), 30_000, since);
          const st = await stats(d);
          assert.notEqual(st.workers.pids[0], oldPid);
          assert.equal(st.workers.live, 2);
          // The other worker's sessions are untouched: same sessions, still active, no Stop.
          const after1 = await activeRows(d);
          assert.deepEqual(after1.map((r) => r.sid).sort(), survivors.map((r) => r.sid).sort());
          for (const s of survivors) assert.deepEqual(await stopsOf(s.sid), []);

          // Lowest first: new sessions get the dead worker's addresses (and the disconnected ones) again.
          const freed = new Set([...victims, ...disconnected].map((r) => r.ip));
          more.push(holdSessions(env, port, 's', freed.size));
          await eventually(async () => (await activeRows(d)).length === survivors.length + freed.size, 60_000, 'the freed addresses leased again', 500);
          const now = await activeRows(d);
          assert.equal(new Set(now.map((r) => r.ip)).size, now.length, 'no address twice');
          const fresh = now.filter((r) => !survivors.some((s) => s.sid === r.sid));
          assert.deepEqual(new Set(fresh.map((r) => r.ip)), freed);
          if (balance === 'round-robin') assert.ok(fresh.some((r) => r['worker'] === '0'), 'the replacement worker serves');
          // reuseport: the kernel's hash may send these few elsewhere; the replacement's own socket
          // is in the port's group (reuseport.test.ts has it serve).
          else assert.ok((await listenerPids(env, port)).includes(st.workers.pids[0]!), 'the replacement worker listens');

          // SIGTERM: every remaining session gets its Stop (NAS-Reboot), exactly one per session ever.
          await d.stop();
          for (const r of now) await eventually(async () => (await stopsOf(r.sid)).length === 1, 20_000, `Stop of ${r.sid} at SIGTERM`);
          for (const r of [...before, ...disconnected]) assert.equal((await stopsOf(r.sid)).length, 1, `one Stop for ${r.sid}`);
        } finally {
          await stopLoad(load);
          for (const m of more) await stopLoad(m);
        }
      });
    });
  });
});
