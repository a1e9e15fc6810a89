/**
 * sstp-connect (the CLI, as a user runs it) against the real daemon in a throwaway namespace: every
 * auth method with the certificate verified against the CA, without and with a TUN interface (moved
 * into a second namespace, where the kernel pings the gateway through it), clean disconnect on
 * SIGINT/SIGTERM, and the failures a user meets: wrong password, untrusted certificate, wrong name,
 * nobody listening. The daemon verifies every crypto binding (none is waived for our client).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { generateTestCertificates } from '../../src/config/certs.js';
import { createNetns, type Netns } from '../support/netns.js';
import {
  createInteropEnv,
  distDir,
  isEvent,
  rootSkipReason,
  runCommand,
  seedConfig,
  withDaemon,
  type Daemon,
  type InteropEnv,
} from '../support/daemon.js';

const GATEWAY = '192.0.2.254';
const METHODS = ['pap', 'chap', 'mschap', 'mschap-v2'] as const;
const cli = (): string => join(distDir(), 'src', 'cli', 'sstp-connect.js');

interface Line {
  readonly state: string;
  readonly [k: string]: unknown;
}

function lines(stdout: string): Line[] {
  return stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line);
}

describe('sstp-connect against sstpd', { skip: rootSkipReason() }, () => {
  let env: InteropEnv;
  let otherCa: string;
  let otherDir: string;
  let clientNs: Netns;
  before(async () => {
    env = await createInteropEnv('sstpd-sc');
    otherDir = await mkdtemp(join(tmpdir(), 'sstpd-otherca-'));
    otherCa = (await generateTestCertificates(otherDir)).caCert;
    clientNs = await createNetns('sstpd-scc');
  });
  after(async () => {
    await clientNs?.destroy();
    await env?.cleanup();
    if (otherDir) await rm(otherDir, { recursive: true, force: true });
  });

  const connect = (port: number, args: readonly string[]) =>
    runCommand(process.execPath, [cli(), '--user', 'vyos', ...args, `127.0.0.1:${port}`], { netns: env.ns, timeoutMs: 30_000 });

  const withAll = <T>(fn: (d: Daemon, port: number) => Promise<T>): Promise<T> => {
    const port = env.nextPort();
    return withDaemon({ configText: seedConfig({ port, certs: env.certs }), netns: env.ns }, (d) => fn(d, port));
  };

  it('--once --no-tun: each auth method, certificate verified, binding verified, clean goodbye', async () => {
    await withAll(async (d, port) => {
      for (const m of METHODS) {
        const since = d.mark();
        const r = await connect(port, ['--password', 'vyos', '--ca', env.certs.caCert, '--servername', 'localhost', `--require-${m}`, '--no-tun', '--once']);
        assert.equal(r.code, 0, `${m}: ${r.stdout}${r.stderr}`);
        const [up, down] = lines(r.stdout);
        assert.equal(up?.state, 'up');
        assert.equal(up['auth'], m);
        assert.equal(up['binding'], 'sha256');
        assert.equal(up['peer'], GATEWAY);
        assert.deepEqual(up['dns'], ['10.0.0.1', '10.0.0.2']);
        assert.match(String(up['ipv4']), /^192\.0\.2\.\d+$/);
        assert.equal(down?.state, 'down');
        const sessionUp = await d.waitForLog(isEvent('session-up'), 10_000, since);
        const sid = String(sessionUp.sid);
        assert.equal(d.findLogs(isEvent('binding-verified', { sid }), since).length, 1, `${m}: binding verified`);
        assert.equal(d.findLogs(isEvent('binding-waived', { sid }), since).length, 0);
        const gone = await d.waitForLog(isEvent('session-down', { sid }), 10_000, since);
        assert.equal(gone.cause, 'user-request');
      }
    });
  });

  it('with a TUN in another namespace: each auth method pings the gateway, SIGINT/SIGTERM disconnect cleanly', async () => {
    await withAll(async (d, port) => {
      for (const [i, m] of METHODS.entries()) {
        const since = d.mark();
        const child = env.ns.spawn(process.execPath, [cli(), '--user', 'vyos', '--password', 'vyos', '--insecure', `--require-${m}`,
          '--netns', clientNs.name, '--ifname', 'sstpt0', '--route', '198.51.100.0/24', ...(m === 'mschap-v2' ? ['--default-route'] : []),
          `127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
        const out: Line[] = [];
        let stderr = '';
        child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
        const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
        const gotUp = new Promise<Line>((resolve, reject) => {
          createInterface({ input: child.stdout! }).on('line', (l) => {
            const o = JSON.parse(l) as Line;
            out.push(o);
            if (o.state === 'up') resolve(o);
            else reject(new Error(`${m}: ${l} ${stderr}`));
          });
          void exited.then(() => reject(new Error(`${m}: exited before up: ${stderr}`)));
        });
        try {
          const up = await gotUp;
          assert.equal(up['ifname'], 'sstpt0');
          assert.equal(up['netns'], clientNs.name);
          const addr = await clientNs.exec('ip', ['-4', '-o', 'addr', 'show', 'dev', 'sstpt0']);
          assert.match(addr.stdout, new RegExp(`inet ${String(up['ipv4']).replace(/\./g, '\\.')} peer ${GATEWAY}/32`));
          const route = await clientNs.exec('ip', ['route', 'show', '198.51.100.0/24']);
          assert.match(route.stdout, /dev sstpt0/);
          const def = await clientNs.exec('ip', ['route', 'show', 'default']);
          if (m === 'mschap-v2') assert.match(def.stdout, /^default dev sstpt0/);
          else assert.equal(def.stdout.trim(), '');
          const ping = await clientNs.exec('ping', ['-c', '2', '-W', '3', GATEWAY]);
          assert.match(ping.stdout, /2 received/);
          const sessionUp = await d.waitForLog(isEvent('session-up'), 10_000, since);
          const row = await d.session(String(sessionUp.sid));
          assert.ok(row && row.rxPackets >= 2 && row.txPackets >= 2, JSON.stringify(row));
          child.kill(i % 2 === 0 ? 'SIGINT' : 'SIGTERM');
          assert.equal(await exited, 0, stderr);
          assert.equal(out.at(-1)?.state, 'down');
          const gone = await d.waitForLog(isEvent('session-down', { sid: String(sessionUp.sid) }), 10_000, since);
          assert.equal(gone.cause, 'user-request');
          const links = await clientNs.exec('ip', ['-o', 'link']);
          assert.doesNotMatch(links.stdout, /sstpt0/, 'the interface is gone with the process');
        } finally {
          child.kill('SIGKILL');
        }
      }
    });
  });

  it('failures: wrong password (7), untrusted certificate (4), wrong name (4), nobody listening (3)', async () => {
    await withAll(async (d, port) => {
      const bad = await connect(port, ['--password', 'nope', '--insecure', '--no-tun', '--once']);
      assert.equal(bad.code, 7, bad.stdout + bad.stderr);
      const f = lines(bad.stdout)[0];
      assert.equal(f?.state, 'failed');
      assert.equal(f['error'], 'E_CLIENT_AUTH');
      assert.match(String(f['message']), /^authentication failed: Authentication failed \(error 691\)/);
      await d.waitForLog(isEvent('auth-failed', { username: 'vyos' }));

      const untrusted = await connect(port, ['--password', 'vyos', '--ca', otherCa, '--no-tun', '--once']);
      assert.equal(untrusted.code, 4, untrusted.stdout + untrusted.stderr);
      assert.equal(lines(untrusted.stdout)[0]?.['error'], 'E_CLIENT_TLS');

      const system = await connect(port, ['--password', 'vyos', '--no-tun', '--once']);
      assert.equal(system.code, 4, 'the system CAs do not know the test CA');

      const name = await connect(port, ['--password', 'vyos', '--ca', env.certs.caCert, '--servername', 'vpn.example.org', '--no-tun', '--once']);
      assert.equal(name.code, 4, name.stdout + name.stderr);
      assert.match(String(lines(name.stdout)[0]?.['message']), /vpn\.example\.org/);

      const down = await connect(env.nextPort(), ['--password', 'vyos', '--insecure', '--no-tun', '--once']);
      assert.equal(down.code, 3, down.stdout + down.stderr);
      const t = lines(down.stdout)[0];
      assert.equal(t?.['error'], 'E_CLIENT_TCP');
      assert.equal(t?.['detail'], 'ECONNREFUSED');
      assert.deepEqual(await d.sessions(), [], 'no session left behind');
    });
  });

  it('usage errors exit 2 with a message', async () => {
    const r = await runCommand(process.execPath, [cli(), '--user', 'vyos', '--password', 'x', '--auth', 'eap', 'h:1']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown auth method eap/);
    const r2 = await runCommand(process.execPath, [cli(), '--password', 'x', 'h']);
    assert.equal(r2.code, 2);
    assert.match(r2.stderr, /--user is required/);
  });
});

// A server that never answers the HTTP request: the setup timeout names the stage.
describe('sstp-connect: setup timeout', { skip: rootSkipReason() }, () => {
  it('a TLS server that never answers HTTP → exit 10, stage http', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sstpd-mute-'));
    try {
      const c = await generateTestCertificates(dir);
      const { createServer } = await import('node:tls');
      const { readFileSync } = await import('node:fs');
      const srv = createServer({ cert: readFileSync(c.serverCert), key: readFileSync(c.serverKey) }, () => undefined);
      await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
      const port = (srv.address() as { port: number }).port;
      const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
        const p = spawn(process.execPath, [cli(), '--user', 'u', '--password', 'p', '--insecure', '--no-tun', '--timeout', '1', `127.0.0.1:${port}`]);
        let out = '';
        p.stdout.on('data', (b: Buffer) => (out += b.toString()));
        p.on('exit', (code) => resolve({ code, out }));
      });
      srv.close();
      assert.equal(r.code, 10, r.out);
      const l = lines(r.out)[0];
      assert.equal(l?.['error'], 'E_CLIENT_TIMEOUT');
      assert.equal(l?.['stage'], 'http');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
