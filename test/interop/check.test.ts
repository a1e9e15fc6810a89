/**
 * `sstpd --check FILE`: 0 for the seed's example (with real certificate files), 1 with the
 * offending line named for a bad value. (The full table of bad configs lives in test/component.)
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkConfig, seedConfig } from '../support/daemon.js';
import { createCertFixture, type CertFixture } from '../support/certs-fixture.js';

describe('sstpd --check', () => {
  let certs: CertFixture | undefined;
  before(async () => {
    certs = await createCertFixture();
  });
  after(async () => {
    await certs?.cleanup();
  });

  it('accepts the seed example with existing certificate files', async () => {
    const file = join(certs!.dir, 'good.conf');
    await writeFile(file, seedConfig({ port: 443, certs: certs! }));
    const r = await checkConfig(file);
    assert.equal(r.code, 0, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
  });

  it('rejects an out-of-range port, naming the line and the node', async () => {
    const lines = seedConfig({ port: 443, certs: certs! }).trimEnd().split('\n');
    const at = lines.findIndex((l) => l.startsWith('set vpn sstp port '));
    lines[at] = 'set vpn sstp port 70000';
    const file = join(certs!.dir, 'bad.conf');
    await writeFile(file, lines.join('\n') + '\n');
    const r = await checkConfig(file);
    assert.equal(r.code, 1, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
    const out = r.stdout + r.stderr;
    assert.match(out, new RegExp(`line ${at + 1}\\b`), out);
    assert.match(out, /vpn sstp port/, out);
  });
});
