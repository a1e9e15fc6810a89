/**
 * `sstpd --workers 2 --balance reuseport` in a throwaway namespace: each worker binds its own
 * SO_REUSEPORT socket (the primary none) and the kernel spreads connections over them.
 *   - both workers listen and both get sessions; SIGHUP keeps every socket (and the sessions);
 *   - kill -9 of a worker: its replacement binds again and takes new sessions;
 *   - SIGHUP to another port: each worker moves its socket;
 *   - a port something else listens on is refused at start (SO_REUSEPORT must not share it with
 *     another sstpd).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { createInteropEnv, eventually, isEvent, rootSkipReason, seedConfig, startDaemon, withDaemon, type InteropEnv } from '../support/daemon.js';
import { activeRows, byWorker, holdSessions, listenerPids, stats, stopLoad } from '../support/workers.js';

const REUSEPORT = ['--workers', '2', '--balance', 'reuseport'];

describe('sstpd --workers 2 --balance reuseport', { skip: rootSkipReason() }, () => {
  let env: InteropEnv;
  before(async () => {
    env = await createInteropEnv('sstpd-rp');
  });
  after(async () => {
    await env?.cleanup();
  });

  it('each worker listens on its own socket, both get sessions; SIGHUP keeps listening; a killed worker is replaced and serves', async () => {
    const port = env.nextPort();
    const users = ['a', 'b', 'c'].flatMap((p) => Array.from({ length: 40 }, (_, i) => ({ name: `${p}${i}`, password: 'pw' })));
    const config = seedConfig({ port, certs: env.certs, users, poolSubnet: '10.66.0.0/24' });
    await withDaemon({ configText: config, netns: env.ns, extraArgs: REUSEPORT, startTimeoutMs: 60_000 }, async (d) => {
      const load: ChildProcess[] = [];
      try {
        const pids = (await stats(d)).workers.pids as number[];
        assert.deepEqual(await listenerPids(env, port), [...pids].sort((x, y) => x - y), 'one socket per worker, none in the primary');

        load.push(holdSessions(env, port, 'a', 40));
        await eventually(async () => (await activeRows(d)).length === 40, 120_000, '40 active sessions', 500);
        assert.deepEqual([...byWorker(await activeRows(d)).keys()].sort(), ['0', '1'], 'sessions on both workers');

        // SIGHUP (same port): the sockets stay, the sessions stay, new connections are taken.
        const since = await d.reload(config + 'set vpn sstp authentication local-users username late password pw\n');
        const reloaded = await d.waitForLog(isEvent('config-reloaded'), 30_000, since);
        await eventually(() => d.findLogs(isEvent('worker-config-reloaded', { generation: Number(reloaded['generation']) }), since).length === 2, 10_000, 'both workers on the new generation');
        assert.deepEqual(await listenerPids(env, port), [...pids].sort((x, y) => x - y), 'the same sockets after SIGHUP');
        load.push(holdSessions(env, port, 'b', 40));
        await eventually(async () => (await activeRows(d)).length === 80, 120_000, '80 active sessions after SIGHUP', 500);

        // kill -9 of worker 0: its replacement binds its own socket again and gets new sessions.
        const killed = d.mark();
        process.kill(pids[0]!, 'SIGKILL');
        await d.waitForLog(isEvent('worker-replaced', { worker: 0 }), 30_000, killed);
        const now = (await stats(d)).workers.pids as number[];
        assert.notEqual(now[0], pids[0]);
        assert.equal(now[1], pids[1]);
        assert.deepEqual(await listenerPids(env, port), [...now].sort((x, y) => x - y), 'the replacement listens, the dead socket is gone');
        const survivors = (await activeRows(d)).length;
        assert.ok(byWorker(await activeRows(d)).get('0') === undefined, 'the dead worker held no session any more');
        load.push(holdSessions(env, port, 'c', 40));
        await eventually(async () => (await activeRows(d)).length === survivors + 40, 120_000, '40 more sessions after the replacement', 500);
        assert.ok((byWorker(await activeRows(d)).get('0') ?? []).length > 0, 'the replacement worker serves');

        // SIGHUP to another port: every worker moves its own socket there.
        const moved = env.nextPort();
        const movedAt = await d.reload(config.replace(`set vpn sstp port ${port}\n`, `set vpn sstp port ${moved}\n`));
        await d.waitForLog(isEvent('config-reloaded', { port: moved }), 30_000, movedAt);
        await eventually(async () => (await listenerPids(env, moved)).length === 2 && (await listenerPids(env, port)).length === 0, 10_000, 'both workers on the new port only');
        assert.deepEqual(await listenerPids(env, moved), [...now].sort((x, y) => x - y));
      } finally {
        for (const l of load) await stopLoad(l);
      }
    });
  });

  it('refuses to start on a port another process listens on', async () => {
    const port = env.nextPort();
    const other = env.ns.spawn(process.execPath, ['-e', `require('node:net').createServer().listen(${port}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((r) => other.stdout!.once('data', () => r()));
      await assert.rejects(
        startDaemon({ configText: seedConfig({ port, certs: env.certs }), netns: env.ns, extraArgs: REUSEPORT, startTimeoutMs: 30_000 }),
        (err: Error) => err.message.includes(`port ${port} is in use (EADDRINUSE)`),
      );
      assert.equal((await listenerPids(env, port)).length, 1, 'only the other process listens: nothing of sstpd was left');
    } finally {
      await stopLoad(other);
    }
  });
});
