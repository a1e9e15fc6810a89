/**
 * Operator commands as VyOS's op-mode runs them against accel-ppp, through the real daemon:
 * `show sstp-server sessions` (accel-cmd's table, VyOS's columns), `show sessions` with columns,
 * order and match, `show statistics` in accel-cmd's layout, and `reset vpn sstp user|interface|all`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createInteropEnv, rootSkipReason, seedConfig, withDaemon, type InteropEnv } from '../support/daemon.js';
import { ClientProc } from '../support/client-proc.js';

describe('op-mode: sstpctl speaks accel-cmd', { skip: rootSkipReason() }, () => {
  let env: InteropEnv;
  before(async () => {
    env = await createInteropEnv('sstpd-opmode');
  });
  after(async () => {
    await env?.cleanup();
  });

  it('show sessions / statistics in accel-cmd layout; terminate by user and by interface', async () => {
    const port = env.nextPort();
    const users = [{ name: 'alice', password: 'alice-pw' }, { name: 'bob', password: 'bob-pw' }];
    await withDaemon({ configText: seedConfig({ port, certs: env.certs, users }), netns: env.ns }, async (d) => {
      const a = ClientProc.start(env.ns, { port, user: 'alice', password: 'alice-pw' });
      const b = ClientProc.start(env.ns, { port, user: 'bob', password: 'bob-pw' });
      try {
        assert.equal((await a.next(['up', 'failed'])).event, 'up');
        assert.equal((await b.next(['up', 'failed'])).event, 'up');
        const table = (await d.ctl(['show', 'sessions'])).stdout.split('\n');
        assert.deepEqual(table[0]!.split('|').map((h) => h.trim()), ['ifname', 'username', 'ip', 'ip6', 'ip6-dp', 'calling-sid', 'rate-limit', 'state', 'uptime', 'rx-bytes', 'tx-bytes']);
        assert.match(table[0]!, /^ ifname \|/, 'one leading space, as accel-cmd prints it');
        assert.match(table[1]!, /^-+\+-+/);
        assert.equal(table.filter((l) => / active /.test(l)).length, 2);

        const picked = await d.ctl(['show', 'sessions', 'username,ifname,type', 'order', 'username', 'match', 'username', '^b']);
        assert.equal(picked.code, 0, picked.stderr);
        const rows = picked.stdout.trim().split('\n').slice(2).map((l) => l.split('|').map((c) => c.trim()));
        assert.equal(rows.length, 1);
        assert.equal(rows[0]![0], 'bob');
        assert.equal(rows[0]![2], 'sstp');
        const bad = await d.ctl(['show', 'sessions', 'ifname,nonsense']);
        assert.equal(bad.code, 2);
        assert.match(bad.stderr, /unknown column "nonsense"/);

        const stat = (await d.ctl(['show', 'statistics'])).stdout;
        assert.match(stat, /^uptime: \d/m);
        assert.match(stat, /^cpu: [\d.]+%$/m);
        assert.match(stat, /^mem\(rss\/virt\): \d+\/\d+ kB$/m);
        assert.match(stat, /^sstp:\n {2}starting: 0\n {2}active: 2$/m, 'the block VyOS\'s API scrapes');

        const sessions = await d.sessions();
        const bobIf = sessions.find((s) => s.username === 'bob')!.ifname;
        assert.equal((await d.ctl(['terminate', 'user', 'alice'])).code, 0);
        await a.next(['closed']).catch(() => undefined);
        assert.deepEqual((await d.sessions()).map((s) => s.username), ['bob']);
        assert.equal((await d.ctl(['terminate', 'interface', bobIf])).code, 0);
        assert.deepEqual(await d.sessions(), []);
      } finally {
        a.kill();
        b.kill();
      }
    });
  });
});
