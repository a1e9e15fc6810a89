/**
 * The daemon in a throwaway network namespace against our own SSTP client (no kernel PPP needed):
 * every auth method end to end with real TLS, a real TUN interface and the kernel answering pings.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createInteropEnv, inSubnet, rootSkipReason, seedConfig, startDaemon, withDaemon, isEvent, type InteropEnv } from '../support/daemon.js';
import { ClientProc } from '../support/client-proc.js';

const GATEWAY = '192.0.2.254';

describe('loopback: sstpd + our client in a network namespace', { skip: rootSkipReason() }, () => {
  let env: InteropEnv;
  before(async () => {
    env = await createInteropEnv('sstpd-lo');
  });
  after(async () => {
    await env?.cleanup();
  });

  for (const proto of ['pap', 'chap', 'mschap', 'mschap-v2'] as const) {
    it(`${proto}: link up, pool address, DNS, ping through the TUN, clean teardown`, async () => {
      const port = env.nextPort();
      await withDaemon({ configText: seedConfig({ port, certs: env.certs, protocols: [proto] }), netns: env.ns }, async (d) => {
        const c = ClientProc.start(env.ns, { port, user: 'vyos', password: 'vyos', auth: proto });
        try {
          const up = await c.next(['up', 'failed']);
          assert.equal(up.event, 'up', JSON.stringify(up));
          assert.ok(inSubnet(String(up['ipv4']), '192.0.2.0/25'));
          assert.equal(up['peer'], GATEWAY);
          assert.deepEqual(up['dns'], ['10.0.0.1', '10.0.0.2']);
          assert.ok(await c.ping(GATEWAY), 'the gateway answers through the tunnel');
          const [row] = await d.sessions();
          assert.ok(row);
          assert.equal(row.username, 'vyos');
          assert.equal(row.ip, up['ipv4']);
          assert.equal(row.state, 'active');
          assert.ok(row.rxPackets >= 1 && row.txPackets >= 1, JSON.stringify(row));
          assert.ok((await d.interfaceNames()).includes(row.ifname));
          // Our client sends Call Connected for every method, so the binding is verified, never waived.
          assert.equal(d.findLogs(isEvent('binding-verified', { sid: row.sid })).length, 1, `binding verified for ${proto}`);
          assert.equal(d.findLogs(isEvent('binding-waived', { sid: row.sid })).length, 0);
          await c.close();
          await d.waitSessionGone(row.sid, row.ifname);
          const down = await d.waitForLog(isEvent('session-down', { sid: row.sid }));
          assert.equal(down.cause, 'user-request');
        } finally {
          c.kill();
        }
      });
    });
  }

  it('a forged crypto binding (MS-CHAPv2) is aborted and never carries data', async () => {
    const port = env.nextPort();
    await withDaemon({ configText: seedConfig({ port, certs: env.certs }), netns: env.ns }, async (d) => {
      const c = ClientProc.start(env.ns, { port, user: 'vyos', password: 'vyos', auth: 'mschap-v2', corruptBinding: true });
      try {
        const ev = await c.next(['up', 'failed']);
        assert.equal(ev.event, 'failed', JSON.stringify(ev));
        const fail = await d.waitForLog(isEvent('binding-failed'));
        assert.match(String(fail.reason), /MAC/i);
        assert.equal(d.findLogs(isEvent('session-up')).length, 0);
        assert.deepEqual(await d.sessions(), []);
      } finally {
        c.kill();
      }
    });
  });

  it('wrong password fails cleanly while another session keeps working; sstpctl terminate ends it', async () => {
    const port = env.nextPort();
    const users = [
      { name: 'vyos', password: 'vyos' },
      { name: 'alice', password: 'secret' },
    ];
    await withDaemon({ configText: seedConfig({ port, certs: env.certs, users }), netns: env.ns }, async (d) => {
      const good = ClientProc.start(env.ns, { port, user: 'alice', password: 'secret' });
      const bad = ClientProc.start(env.ns, { port, user: 'vyos', password: 'nope' });
      try {
        assert.equal((await good.next(['up', 'failed'])).event, 'up');
        assert.equal((await bad.next(['up', 'failed'])).event, 'failed');
        const why = await d.waitForLog(isEvent('auth-failed', { username: 'vyos' }));
        assert.equal(why.reason, 'wrong password');
        assert.ok(await good.ping(GATEWAY), 'the other session still passes traffic');
        const res = await d.ctl(['terminate', 'username', 'alice']);
        assert.equal(res.code, 0, res.stderr);
        const closed = await good.next(['closed'], 0, 15_000).catch(() => undefined);
        const down = await d.waitForLog(isEvent('session-down', { username: 'alice' }));
        assert.equal(down.cause, 'admin-reset');
        assert.ok(closed === undefined || closed.event === 'closed');
      } finally {
        good.kill();
        bad.kill();
      }
    });
  });

  it('SIGTERM: every client gets a goodbye, interfaces go, exit code 0', async () => {
    const port = env.nextPort();
    const users = [
      { name: 'vyos', password: 'vyos' },
      { name: 'alice', password: 'secret' },
    ];
    const d = await startDaemon({ configText: seedConfig({ port, certs: env.certs, users }), netns: env.ns });
    const a = ClientProc.start(env.ns, { port, user: 'vyos', password: 'vyos' });
    const b = ClientProc.start(env.ns, { port, user: 'alice', password: 'secret', auth: 'pap' });
    try {
      assert.equal((await a.next(['up', 'failed'])).event, 'up');
      assert.equal((await b.next(['up', 'failed'])).event, 'up');
      assert.equal((await d.interfaceNames()).filter((n) => n.startsWith('sstp')).length, 2);
      const code = await d.stop();
      assert.equal(code, 0, d.dump());
      const downs = d.findLogs(isEvent('session-down'));
      assert.equal(downs.length, 2);
      for (const e of downs) assert.equal(e.cause, 'admin-reset');
      // The clients were told (LCP Terminate-Request, then SSTP Call Disconnect) before the exit.
      for (const c of [a, b]) {
        const st = c.send('status');
        const status = await c.next(['status'], st);
        assert.notEqual(status['closed'], null, 'client saw the link close');
      }
      const left = (await env.ns.exec('ip', ['-o', 'link', 'show'])).stdout;
      assert.doesNotMatch(left, /sstp\d/);
    } finally {
      a.kill();
      b.kill();
      await d.stop();
    }
  });

  it('sends the certificate chain: leaf, then the ca-cert-file; TLS 1.2 and 1.3 only', async () => {
    const port = env.nextPort();
    await withDaemon({ configText: seedConfig({ port, certs: env.certs }), netns: env.ns }, async () => {
      const probe = (opts: string): string =>
        `const t=require('tls');const s=t.connect({host:'127.0.0.1',port:${port},rejectUnauthorized:false${opts}},()=>{` +
        `const c=s.getPeerCertificate(true);const chain=[];let x=c;while(x&&!chain.includes(x.fingerprint256)){chain.push(x.fingerprint256);x=x.issuerCertificate;}` +
        `process.stdout.write(JSON.stringify({proto:s.getProtocol(),chain}));s.end();});s.on('error',e=>{process.stdout.write(JSON.stringify({error:e.code||e.message}));});`;
      const r = JSON.parse((await env.ns.exec(process.execPath, ['-e', probe('')])).stdout) as { proto: string; chain: string[] };
      const { X509Certificate } = await import('node:crypto');
      const { readFile } = await import('node:fs/promises');
      const leaf = new X509Certificate(await readFile(env.certs.serverCert)).fingerprint256;
      const ca = new X509Certificate(await readFile(env.certs.caCert)).fingerprint256;
      assert.deepEqual(r.chain, [leaf, ca]);
      assert.equal(r.proto, 'TLSv1.3');
      const tls12 = JSON.parse((await env.ns.exec(process.execPath, ['-e', probe(",maxVersion:'TLSv1.2'")])).stdout) as { proto: string };
      assert.equal(tls12.proto, 'TLSv1.2');
      const tls11 = JSON.parse((await env.ns.exec(process.execPath, ['--tls-min-v1.0', '-e', probe(",minVersion:'TLSv1',maxVersion:'TLSv1.1'")])).stdout) as { error?: string };
      assert.ok(tls11.error, 'TLS 1.1 is refused');
    });
  });

  it('quick start: no --config runs the embedded demo (self-signed cert kept in the state dir, vyos/vyos)', async () => {
    const { mkdtemp, rm, stat } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const stateDir = await mkdtemp(join(tmpdir(), 'sstpd-demo-'));
    const child = env.ns.spawn(process.execPath, [join(process.cwd(), 'dist', 'src', 'cli', 'sstpd.js'), '--state-dir', stateDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    try {
      for (let i = 0; i < 100 && !out.includes('"listening"'); i++) await new Promise((r) => setTimeout(r, 100));
      assert.match(out, /"port":4433/, err);
      assert.match(err, /vyos/);
      const crt = await stat(join(stateDir, 'server.crt'));
      const key = await stat(join(stateDir, 'server.key'));
      assert.ok(crt.size > 0);
      assert.equal(key.mode & 0o777, 0o600);
      const c = ClientProc.start(env.ns, { port: 4433, user: 'vyos', password: 'vyos' });
      try {
        const up = await c.next(['up', 'failed']);
        assert.equal(up.event, 'up', JSON.stringify(up));
        assert.ok(inSubnet(String(up['ipv4']), '192.0.2.0/25'));
        assert.deepEqual(up['dns'], ['10.0.0.1', '10.0.0.2']);
        assert.ok(await c.ping(GATEWAY));
      } finally {
        c.kill();
      }
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  it('answers non-SSTP HTTP with an error and closes', async () => {
    const port = env.nextPort();
    await withDaemon({ configText: seedConfig({ port, certs: env.certs }), netns: env.ns }, async (d) => {
      const script = `const t=require('tls');const s=t.connect({host:'127.0.0.1',port:${port},rejectUnauthorized:false},()=>s.write('GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n'));let b='';s.on('data',d=>b+=d);s.on('close',()=>{process.stdout.write(b);});`;
      const r = await env.ns.exec(process.execPath, ['-e', script]);
      assert.match(r.stdout, /^HTTP\/1\.1 404 Not Found\r\n/);
      assert.match(r.stdout, /Content-Length: 0\r\n/);
      await d.waitForLog(isEvent('http-rejected'));
    });
  });
});
