/**
 * MS-CHAPv1 crypto binding through the real daemon (dist/src/cli/sstpd.js, real TLS, a real TUN in
 * a throwaway namespace) with a client that binds the way sstpc with its pppd plugin does
 * (NetworkManager-sstp): HLAK = pppd's MPPE send ‖ recv key, i.e. the RFC 3079 v1 start key twice.
 * The same daemon still takes plain sstpc's form; a HLAK of neither form is aborted. Local users and
 * FreeRADIUS (MS-CHAP-MPPE-Keys) both.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createInteropEnv, distDir, inSubnet, isEvent, rootSkipReason, seedConfig, withDaemon, type Daemon, type InteropEnv } from '../support/daemon.js';
import type { Netns } from '../support/netns.js';
import { freeRadiusUnavailable, withFreeRadius } from '../support/freeradius.js';

const GATEWAY = '192.0.2.254';

interface Outcome {
  readonly lines: Record<string, unknown>[];
  readonly code: number | null;
}

/** Runs binding-client-cli.js in the namespace to its end; every JSON line it printed. */
function runClient(ns: Netns, port: number, hlak: string, user = 'vyos', password = 'vyos'): Promise<Outcome> {
  const cli = join(distDir(), 'test', 'support', 'binding-client-cli.js');
  const args = [cli, '--port', String(port), '--user', user, '--password', password, '--method', 'mschap', '--hlak', hlak];
  const child: ChildProcess = ns.spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: Record<string, unknown>[] = [];
  createInterface({ input: child.stdout! }).on('line', (l) => {
    try {
      lines.push(JSON.parse(l) as Record<string, unknown>);
    } catch {
      lines.push({ event: 'garbage', line: l });
    }
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ lines, code })));
}

async function assertUpWith(d: Daemon, o: Outcome, form: string, username: string): Promise<void> {
  const up = o.lines.find((l) => l['event'] === 'up');
  assert.ok(up, `client did not come up: ${JSON.stringify(o.lines)}`);
  assert.ok(inSubnet(String(up['ipv4']), '192.0.2.0/25'), JSON.stringify(up));
  assert.equal(up['peer'], GATEWAY);
  assert.equal(up['pong'], true, 'the gateway answered through the tunnel: the data path is open');
  const verified = await d.waitForLog(isEvent('binding-verified', { username }));
  assert.equal(verified['hlak'], form);
  assert.equal(d.findLogs(isEvent('binding-failed')).length, 0);
  await d.waitForLog(isEvent('session-down', { sid: String(verified.sid) }));
}

describe('MS-CHAPv1 binding forms through the real daemon', { skip: rootSkipReason() }, () => {
  let env: InteropEnv;
  before(async () => {
    env = await createInteropEnv('sstpd-hlak');
  });
  after(async () => {
    await env?.cleanup();
  });

  it('local user: the plugin form (MPPE keys) and the plain sstpc form are both verified, each logged by name', async () => {
    const port = env.nextPort();
    await withDaemon({ configText: seedConfig({ port, certs: env.certs, protocols: ['mschap'] }), netns: env.ns }, async (d) => {
      const plugin = await runClient(env.ns, port, 'mppe-keys');
      assert.equal(plugin.code, 0, JSON.stringify(plugin.lines));
      await assertUpWith(d, plugin, 'mppe-keys', 'vyos');
      const since = d.mark();
      const plain = await runClient(env.ns, port, 'sstpc');
      assert.equal(plain.code, 0, JSON.stringify(plain.lines));
      const verified = await d.waitForLog(isEvent('binding-verified'), 20_000, since);
      assert.equal(verified['hlak'], 'sstpc');
    });
  });

  it('local user: a HLAK of neither form is aborted (binding-failed), no session comes up', async () => {
    const port = env.nextPort();
    await withDaemon({ configText: seedConfig({ port, certs: env.certs, protocols: ['mschap'] }), netns: env.ns }, async (d) => {
      const bad = await runClient(env.ns, port, 'zero');
      assert.equal(bad.code, 1, JSON.stringify(bad.lines));
      assert.equal(bad.lines[0]?.['event'], 'failed');
      const failed = await d.waitForLog(isEvent('binding-failed'));
      assert.equal(failed.reason, 'mac-mismatch');
      assert.equal(failed['hlaks'], 'sstpc,mppe-keys');
      assert.equal(d.findLogs(isEvent('session-up')).length, 0);
    });
  });

  it('FreeRADIUS (MS-CHAP-MPPE-Keys): the plugin form is verified too', { skip: freeRadiusUnavailable() }, async () => {
    const port = env.nextPort();
    const authPort = env.nextPort();
    const acctPort = env.nextPort();
    const secret = 'hlak-radius-secret';
    const R = 'set vpn sstp authentication radius';
    const configText = seedConfig({
      port,
      certs: env.certs,
      protocols: ['mschap'],
      lines: [`${R} server 127.0.0.1 key ${secret}`, `${R} server 127.0.0.1 port ${authPort}`, `${R} server 127.0.0.1 acct-port ${acctPort}`],
    }).replace('set vpn sstp authentication mode local', 'set vpn sstp authentication mode radius');
    const fr = { netns: env.ns, authPort, acctPort, clients: [{ ipaddr: '127.0.0.1', secret }], users: [{ name: 'carol', password: 'carol-pw' }] };
    await withFreeRadius(fr, async () => {
      await withDaemon({ configText, netns: env.ns }, async (d) => {
        const o = await runClient(env.ns, port, 'mppe-keys', 'carol', 'carol-pw');
        assert.equal(o.code, 0, JSON.stringify(o.lines));
        await assertUpWith(d, o, 'mppe-keys', 'carol');
      });
    });
  });
});
