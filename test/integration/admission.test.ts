/**
 * Admission before TLS through the real daemon (dist/src/cli/sstpd.js, in a throwaway namespace):
 * `max-concurrent-sessions` closes new connections while that many are starting (here one bare TCP
 * connection that never starts TLS holds the only slot); `limits` closes an address's connections
 * beyond its burst until its rate allows one again. Both log `connection-refused`, once each.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createInteropEnv, isEvent, rootSkipReason, seedConfig, withDaemon, type InteropEnv } from '../support/daemon.js';
import { ClientProc } from '../support/client-proc.js';

describe('admission: max-concurrent-sessions and limits', { skip: rootSkipReason() }, () => {
  let env: InteropEnv;
  before(async () => {
    env = await createInteropEnv('sstpd-adm');
  });
  after(async () => {
    await env?.cleanup();
  });

  const run = async (port: number): Promise<string> => {
    const c = ClientProc.start(env.ns, { port, user: 'vyos', password: 'vyos' });
    try {
      const r = await c.next(['up', 'failed']);
      if (r.event === 'up') await c.close();
      return r.event;
    } finally {
      c.kill();
    }
  };

  it('max-concurrent-sessions 1: a connection stuck before TLS holds the slot; once it goes, clients come up', async () => {
    const port = env.nextPort();
    const configText = seedConfig({ port, certs: env.certs, lines: ['set vpn sstp max-concurrent-sessions 1'] });
    await withDaemon({ configText, netns: env.ns }, async (d) => {
      // A client that connects and says nothing: starting (in the TLS step) until it goes.
      const holder = env.ns.spawn(process.execPath, [
        '-e',
        `const s = require('node:net').connect(${port}, '127.0.0.1', () => process.stdout.write('connected\\n')); s.on('close', () => process.exit(0)); setInterval(() => {}, 1e6);`,
      ]);
      try {
        await new Promise<void>((resolve) => holder.stdout!.once('data', () => resolve()));
        assert.equal(await run(port), 'failed', 'the second starting connection is closed');
        const refused = await d.waitForLog(isEvent('connection-refused'));
        assert.match(String(refused['reason']), /1 sessions are starting/);
      } finally {
        holder.kill('SIGKILL');
      }
      // The slot is free once the holder's connection closed; an active session does not hold it.
      let up = 'failed';
      for (let i = 0; i < 20 && up !== 'up'; i++) up = await run(port);
      assert.equal(up, 'up');
      assert.equal(await run(port), 'up', 'the next client too');
    });
  });

  it('limits connection-limit 1/min burst 2: the third connection from the address is refused', async () => {
    const port = env.nextPort();
    const lines = ['set vpn sstp limits connection-limit 1/min', 'set vpn sstp limits burst 2', 'set vpn sstp limits timeout 600'];
    await withDaemon({ configText: seedConfig({ port, certs: env.certs, lines }), netns: env.ns }, async (d) => {
      assert.equal(await run(port), 'up');
      assert.equal(await run(port), 'up');
      assert.equal(await run(port), 'failed');
      const refused = d.findLogs(isEvent('connection-refused'));
      assert.equal(refused.length, 1, JSON.stringify(refused));
      assert.equal(refused[0]!['reason'], 'connection rate limit');
      assert.equal(refused[0]!['callingSid'], '127.0.0.1');
      assert.equal(d.findLogs(isEvent('session-start')).length, 2, 'the refused one never became a session');
    });
  });
});
