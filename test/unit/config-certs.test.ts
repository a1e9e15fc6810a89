import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureSelfSignedCert, generateTestCertificates } from '../../src/config/certs.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sstpd-config-certs-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const YEAR = 365 * 86_400_000;

describe('config certs: ensureSelfSignedCert', () => {
  it('creates an RSA 2048 server certificate for this host, key 0600', async () => {
    const out = join(dir, 'quick');
    const files = await ensureSelfSignedCert(out);
    assert.deepEqual(files, { certFile: join(out, 'server.crt'), keyFile: join(out, 'server.key') });
    const cert = new X509Certificate(await readFile(files.certFile));
    const key = createPrivateKey(await readFile(files.keyFile));
    assert.equal(cert.checkPrivateKey(key), true);
    assert.equal(key.asymmetricKeyType, 'rsa');
    assert.equal(key.asymmetricKeyDetails?.modulusLength, 2048);
    const host = hostname();
    assert.equal(cert.subject, `CN=${host}`);
    assert.equal(cert.ca, false);
    const sans = (cert.subjectAltName ?? '').split(', ');
    for (const want of [`DNS:${host}`, 'DNS:localhost', 'IP Address:127.0.0.1']) assert.ok(sans.includes(want), want);
    assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1']);
    const lifetime = new Date(cert.validTo).getTime() - new Date(cert.validFrom).getTime();
    assert.ok(lifetime >= 9.9 * YEAR && lifetime <= 10.1 * YEAR, `lifetime ${lifetime}`);
    assert.equal((await stat(files.keyFile)).mode & 0o777, 0o600);
  });

  it('keeps existing files', async () => {
    const out = join(dir, 'again');
    const first = await ensureSelfSignedCert(out);
    const before = await readFile(first.certFile, 'utf8');
    await ensureSelfSignedCert(out);
    assert.equal(await readFile(first.certFile, 'utf8'), before);
  });
});

describe('config certs: generateTestCertificates', () => {
  it('makes a CA, a leaf it signed, a matching key and an unrelated one', async () => {
    const t = await generateTestCertificates(join(dir, 'test'));
    const ca = new X509Certificate(await readFile(t.caCert));
    const leaf = new X509Certificate(await readFile(t.serverCert));
    const expired = new X509Certificate(await readFile(t.expiredCert));
    const key = createPrivateKey(await readFile(t.serverKey));
    const other = createPrivateKey(await readFile(t.otherKey));
    assert.equal(ca.ca, true);
    assert.equal(leaf.checkIssued(ca), true);
    assert.equal(leaf.verify(ca.publicKey), true);
    assert.equal(leaf.checkPrivateKey(key), true);
    assert.equal(leaf.checkPrivateKey(other), false);
    assert.equal(expired.checkPrivateKey(key), true);
    assert.equal(new Date(expired.validTo).toISOString(), '2020-01-02T00:00:00.000Z');
    // server.crt is the leaf alone; chain.crt is leaf + CA.
    assert.equal((await readFile(t.serverCert, 'utf8')).match(/BEGIN CERTIFICATE/g)?.length, 1);
    assert.equal((await readFile(t.chainCert, 'utf8')).match(/BEGIN CERTIFICATE/g)?.length, 2);
  });
});
