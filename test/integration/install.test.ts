/**
 * The install path an operator takes: `npm pack` → `npm install -g` (the native addon is built on
 * install) → the installed `sstpd` runs as the systemd unit in packaging/ would run it. Checks the
 * unit with `systemd-analyze verify`, the command line (usage, unknown options exit 2 with one line,
 * no stack trace), and that the installed daemon serves a client.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInteropEnv, isEvent, rootSkipReason, runCommand, seedConfig, withDaemon, type InteropEnv } from '../support/daemon.js';
import { ClientProc } from '../support/client-proc.js';

describe('install: npm pack, npm install -g, the systemd unit, the installed daemon', { skip: rootSkipReason() }, () => {
  let env: InteropEnv;
  let dir: string;
  let prefix: string;
  before(async () => {
    env = await createInteropEnv('sstpd-inst');
    dir = await mkdtemp(join(tmpdir(), 'sstpd-install-'));
    prefix = join(dir, 'prefix');
    // The build under test is already in dist/ (npm test built it): pack it as it is, scripts off.
    const pack = await runCommand('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { timeoutMs: 120_000 });
    assert.equal(pack.code, 0, pack.stderr);
    const tarball = join(dir, pack.stdout.trim().split('\n').pop()!);
    const inst = await runCommand('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tarball], { timeoutMs: 300_000 });
    assert.equal(inst.code, 0, `npm install -g failed:\n${inst.stdout}\n${inst.stderr}`);
  });
  after(async () => {
    await env?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const bin = (name: string): string => join(prefix, 'bin', name);

  it('the installed commands: --help exits 0; an unknown option prints one line and the usage, exit 2', async () => {
    const help = await runCommand(bin('sstpd'), ['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^usage: sstpd/);
    for (const [cmd, args] of [['sstpd', ['--bogus']], ['sstpctl', ['--bogus']], ['sstpctl', ['frobnicate']], ['sstpd', ['--port', 'x']]] as const) {
      const r = await runCommand(bin(cmd), [...args]);
      assert.equal(r.code, 2, `${cmd} ${args.join(' ')}: ${r.stderr}`);
      const lines = r.stderr.split('\n');
      assert.match(lines[0]!, new RegExp(`^${cmd}: \\S`), r.stderr);
      assert.match(lines[1]!, /^usage: /, 'the usage follows the one-line error');
      assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
    }
    const addon = await readFile(join(prefix, 'lib', 'node_modules', 'sstpd', 'native', 'build', 'Release', 'sstpd_tun.node'));
    assert.ok(addon.length > 0, 'the native addon was built by npm install');
  });

  it('systemd-analyze verify accepts the unit (pointed at the installed sstpd)', async () => {
    const unit = (await readFile(join(process.cwd(), 'packaging', 'sstpd.service'), 'utf8')).replaceAll('/usr/bin/sstpd', bin('sstpd'));
    const file = join(dir, 'sstpd.service');
    await writeFile(file, unit);
    const r = await runCommand('systemd-analyze', ['verify', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /sstpd\.service/, `no complaint about our unit:\n${r.stderr}`);
  });

  it('the installed daemon serves a client; the installed sstpctl sees it; SIGTERM exits 0', async () => {
    const port = env.nextPort();
    await withDaemon({ configText: seedConfig({ port, certs: env.certs }), netns: env.ns, bin: bin('sstpd') }, async (d) => {
      const c = ClientProc.start(env.ns, { port, user: 'vyos', password: 'vyos' });
      try {
        assert.equal((await c.next(['up', 'failed'])).event, 'up');
        assert.ok(await c.ping('192.0.2.254'));
        await d.waitForLog(isEvent('session-up'));
        const show = await runCommand(bin('sstpctl'), ['--state-dir', d.stateDir, 'show', 'sessions', '--json'], { netns: env.ns });
        assert.equal(show.code, 0, show.stderr);
        assert.equal((JSON.parse(show.stdout) as { username: string }[])[0]?.username, 'vyos');
      } finally {
        c.kill();
      }
      assert.equal(await d.stop(), 0);
    });
  });
});
