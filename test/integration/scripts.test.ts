/**
 * extended-scripts through the real daemon (dist/src/cli/sstpd.js, in a throwaway namespace): the
 * scripts write their argv and environment to files; on-pre-up refuses user "bob" with exit 1,
 * which ends his session; alice's session runs on-pre-up, on-up and on-down with pppd_compat's
 * arguments (interface, none, 0, local, remote, calling station) and environment.
 * A slow on-pre-up holds its session back: while it runs, no data passes either way and the
 * interface has no address; a refusal ends the session without a packet having passed, a yes lets
 * the traffic flow. (The scripts wait for a file the test creates, so nothing depends on timing.)
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInteropEnv, isEvent, rootSkipReason, runCommand, seedConfig, withDaemon, type InteropEnv } from '../support/daemon.js';
import { ClientProc } from '../support/client-proc.js';

const GATEWAY = '192.0.2.254';

describe('extended-scripts: run with pppd_compat arguments; a failing on-pre-up refuses', { skip: rootSkipReason() }, () => {
  let env: InteropEnv;
  let dir: string;
  before(async () => {
    env = await createInteropEnv('sstpd-scr');
    dir = await mkdtemp(join(tmpdir(), 'sstpd-scripts-'));
  });
  after(async () => {
    await env?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const readLines = async (file: string): Promise<Map<string, string>> => {
    const text = await readFile(join(dir, file), 'utf8');
    return new Map(text.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as [string, string]));
  };

  it('alice: pre-up, up and down run with her session\'s facts; bob: on-pre-up exits 1 and his session ends', async () => {
    for (const hook of ['pre-up', 'up', 'down']) {
      const refuse = hook === 'pre-up' ? '[ "$PEERNAME" = bob ] && exit 1\n' : '';
      const body = `#!/bin/sh\n{ echo "ARGV=$*"; env; } > ${dir}/${hook}.$PEERNAME\n${refuse}exit 0\n`;
      await writeFile(join(dir, `${hook}.sh`), body);
      await chmod(join(dir, `${hook}.sh`), 0o755);
    }
    const port = env.nextPort();
    const lines = ['pre-up', 'up', 'down'].map((h) => `set vpn sstp extended-scripts on-${h} ${dir}/${h}.sh`);
    const users = [
      { name: 'alice', password: 'a-secret' },
      { name: 'bob', password: 'b-secret' },
    ];
    await withDaemon({ configText: seedConfig({ port, certs: env.certs, users, lines }), netns: env.ns }, async (d) => {
      const c = ClientProc.start(env.ns, { port, user: 'alice', password: 'a-secret' });
      try {
        const up = await c.next(['up', 'failed']);
        assert.equal(up.event, 'up', JSON.stringify(up));
        const [row] = await d.sessions();
        assert.ok(row);
        await d.waitForLog(isEvent('script-run', { script: 'on-up', code: 0 }));
        const pre = await readLines('pre-up.alice');
        assert.equal(pre.get("ARGV"), `${row.ifname} none 0 ${GATEWAY} ${String(up["ipv4"])} 127.0.0.1`, JSON.stringify([...pre]));
        assert.equal(pre.get('PEERNAME'), 'alice');
        assert.equal(pre.get('CALLING_SID'), '127.0.0.1');
        assert.equal(pre.get('CALLED_SID'), '127.0.0.1');
        assert.equal(pre.get('IFNAME'), row.ifname);
        assert.equal(pre.get('IPREMOTE'), String(up['ipv4']));
        assert.equal((await readLines('up.alice')).get('ARGV'), pre.get('ARGV'));
        await c.close();
        await d.waitSessionGone(row.sid, row.ifname);
        const down = await readLines('down.alice');
        assert.equal(down.get('ARGV'), pre.get('ARGV'));
        assert.match(down.get('BYTES_SENT') ?? '', /^[0-9]+$/);
        assert.match(down.get('CONNECT_TIME') ?? '', /^[0-9]+$/);
      } finally {
        c.kill();
      }

      const b = ClientProc.start(env.ns, { port, user: 'bob', password: 'b-secret' });
      try {
        const refused = await d.waitForLog(isEvent('script-run', { script: 'on-pre-up', code: 1, username: 'bob' }));
        assert.match(String(refused['path']), /pre-up\.sh$/);
        const ended = await d.waitForLog(isEvent('session-down', { username: 'bob' }));
        assert.match(String(ended['reason']), /on-pre-up .*pre-up\.sh exited with 1/);
        assert.equal((await readLines('pre-up.bob')).get('PEERNAME'), 'bob');
        // Neither his on-up nor his on-down ran (pppd_compat runs them only after a yes from ip-pre-up).
        await assert.rejects(readFile(join(dir, 'up.bob')));
        await assert.rejects(readFile(join(dir, 'down.bob')));
      } finally {
        b.kill();
      }
    });
  });

  it('a slow on-pre-up holds the session: no data and no address until it finishes; exit 1 ends it with nothing passed, exit 0 lets data flow', async () => {
    // Waits for "<dir>/go.<user>", then exits with the code written in it.
    const body = `#!/bin/sh\nwhile [ ! -e ${dir}/go.$PEERNAME ]; do sleep 0.1; done\nexit $(cat ${dir}/go.$PEERNAME)\n`;
    await writeFile(join(dir, 'slow-pre-up.sh'), body);
    await chmod(join(dir, 'slow-pre-up.sh'), 0o755);
    const port = env.nextPort();
    const users = [
      { name: 'carol', password: 'c-secret' },
      { name: 'dave', password: 'd-secret' },
    ];
    const lines = [`set vpn sstp extended-scripts on-pre-up ${dir}/slow-pre-up.sh`];
    await withDaemon({ configText: seedConfig({ port, certs: env.certs, users, lines }), netns: env.ns }, async (d) => {
      const held = async (user: string): Promise<{ sid: string; ifname: string }> => {
        const [row] = (await d.sessions()).filter((r) => r.username === user);
        assert.ok(row, `a session for ${user}`);
        return { sid: row.sid, ifname: row.ifname };
      };
      const ipv4Of = async (ifname: string): Promise<string> =>
        (await runCommand('ip', ['-4', '-o', 'addr', 'show', 'dev', ifname], { netns: env.ns })).stdout.trim();

      const c = ClientProc.start(env.ns, { port, user: 'carol', password: 'c-secret' });
      try {
        const up = await c.next(['up', 'failed']);
        assert.equal(up.event, 'up', JSON.stringify(up));
        const row = await held('carol');
        assert.equal(await c.ping(GATEWAY), false, 'no echo reply while on-pre-up runs');
        assert.equal(await ipv4Of(row.ifname), '', 'the interface has no address yet');
        assert.equal(d.findLogs(isEvent('session-up', { username: 'carol' })).length, 0, 'not up while on-pre-up runs');
        await writeFile(join(dir, 'go.carol'), '1');
        const down = await d.waitForLog(isEvent('session-down', { username: 'carol' }));
        assert.match(String(down['reason']), /on-pre-up .*slow-pre-up\.sh exited with 1/);
        assert.equal(down['rxPackets'], 0, 'nothing from the client reached the interface');
        assert.equal(down['txPackets'], 0, 'nothing reached the client');
        assert.ok(((down['drops'] as Record<string, number> | undefined)?.['not-open'] ?? 0) >= 1, JSON.stringify(down));
      } finally {
        c.kill();
      }

      const e = ClientProc.start(env.ns, { port, user: 'dave', password: 'd-secret' });
      try {
        assert.equal((await e.next(['up', 'failed'])).event, 'up');
        const row = await held('dave');
        assert.equal(await e.ping(GATEWAY), false, 'held: no echo reply');
        await writeFile(join(dir, 'go.dave'), '0');
        await d.waitForLog(isEvent('session-up', { username: 'dave' }));
        assert.match(await ipv4Of(row.ifname), /192\.0\.2\.254/, 'the interface got its address after on-pre-up');
        assert.ok(await e.ping(GATEWAY), 'data flows once on-pre-up said yes');
      } finally {
        e.kill();
      }
    });
  });
});
