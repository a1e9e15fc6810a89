/**
 * Certificate renewal without dropping sessions (what a certbot deploy hook does): new files in
 * place, then SIGHUP. New connections get the new certificate and the crypto binding uses its hash;
 * the live session stays up; a broken certificate keeps the old one and says why.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInteropEnv, isEvent, rootSkipReason, runCommand, seedConfig, withDaemon, type InteropEnv } from '../support/daemon.js';
import { ClientProc } from '../support/client-proc.js';
import { makeCertificates, type CertFiles } from '../support/certs-fixture.js';

const GATEWAY = '192.0.2.254';

describe('certificate renewal by SIGHUP', { skip: rootSkipReason() }, () => {
  let env: InteropEnv;
  before(async () => {
    env = await createInteropEnv('sstpd-renew');
  });
  after(async () => {
    await env?.cleanup();
  });

  const fingerprint = (file: string): string => new X509Certificate(readFileSync(file)).fingerprint256;

  /** The SHA-256 fingerprint of the certificate a fresh TLS connection is given. */
  async function served(port: number): Promise<string> {
    const r = await runCommand(
      process.execPath,
      ['-e', `const s=require('node:tls').connect({host:'127.0.0.1',port:${port},rejectUnauthorized:false},()=>{process.stdout.write(s.getPeerCertificate().fingerprint256);s.destroy()})`],
      { netns: env.ns },
    );
    return r.stdout.trim();
  }

  it('new connections get the new certificate, the live session stays, a broken file changes nothing', async () => {
    const port = env.nextPort();
    const live = join(env.certs.dir, 'live');
    await mkdir(live, { recursive: true });
    const install = async (c: CertFiles): Promise<void> => {
      await copyFile(c.serverCert, join(live, 'cert.pem'));
      await copyFile(c.serverKey, join(live, 'key.pem'));
      await copyFile(c.caCert, join(live, 'ca.pem'));
    };
    await install(env.certs);
    const certs = { dir: live, serverCert: join(live, 'cert.pem'), serverKey: join(live, 'key.pem'), caCert: join(live, 'ca.pem') };
    const config = seedConfig({ port, certs, users: [{ name: 'alice', password: 'alice-pw' }, { name: 'bob', password: 'bob-pw' }] });
    await withDaemon({ configText: config, netns: env.ns }, async (d) => {
      const first = ClientProc.start(env.ns, { port, user: 'alice', password: 'alice-pw' });
      const renewed = await makeCertificates(join(env.certs.dir, 'renewed'));
      let second: ClientProc | undefined;
      let third: ClientProc | undefined;
      try {
        assert.equal((await first.next(['up', 'failed'])).event, 'up');
        assert.equal(await served(port), fingerprint(env.certs.serverCert));

        await install(renewed);
        let since = await d.reload(config);
        await d.waitForLog(isEvent('config-reloaded'), 10_000, since);
        assert.equal(await served(port), fingerprint(renewed.serverCert), 'new connections get the new certificate');

        second = ClientProc.start(env.ns, { port, user: 'bob', password: 'bob-pw' });
        assert.equal((await second.next(['up', 'failed'])).event, 'up', 'binding verified against the new certificate');
        assert.equal(d.findLogs(isEvent('binding-verified')).length, 2);
        assert.ok(await second.ping(GATEWAY));
        assert.ok(await first.ping(GATEWAY), 'the session from before the renewal is still up');
        assert.equal((await d.sessions()).length, 2);

        // A broken certificate: the reload fails, says why, and the renewed one stays.
        await writeFile(join(live, 'cert.pem'), '-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n');
        since = await d.reload(config);
        const failed = await d.waitForLog(isEvent('config-reload-failed'), 10_000, since);
        assert.match(String(failed['reason']), /cert/i, failed.raw);
        assert.equal(await served(port), fingerprint(renewed.serverCert), 'the working certificate stays');
        third = ClientProc.start(env.ns, { port, user: 'vyos', password: 'vyos' });
        assert.equal((await third.next(['up', 'failed'])).event, 'up', 'new clients still connect, with the renewed certificate');
        assert.equal(d.findLogs(isEvent('binding-verified')).length, 3);
        assert.ok(await first.ping(GATEWAY));
        assert.ok(await second.ping(GATEWAY));
      } finally {
        first.kill();
        second?.kill();
        third?.kill();
      }
    });
  });
});
