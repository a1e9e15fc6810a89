/**
 * Every configuration VyOS's own SSTP smoketests commit (vyos-1x smoketest/scripts/cli/
 * test_vpn_sstp.py with its base class base_accel_ppp_test.py), rebuilt as the file `show
 * configuration commands` would print after each commit, goes through the real `sstpd --check`:
 * it passes, or fails with VyOS's own message where the smoketest expects the commit to fail.
 * Their certificate expired (2026-07-19), so the PKI is made fresh in the same shape (one
 * self-signed certificate as both `pki ca sstp` and `pki certificate sstp`). Each configuration is
 * also written as config.boot and must give the same verdict.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { formatIssues, loadConfigText, nodeFileChecker } from '../../src/config/load.js';
import { sstpdPath } from '../support/daemon.js';
import { makeVyosPki, pkiSmoketestCommands, type VyosPki } from '../support/vyos-pki.js';
import { renderBoot } from '../support/vyos-render.js';
import { SMOKETEST_CASES, type SmoketestCase } from '../support/vyos-smoketests.js';

let pki: VyosPki;
let dir: string;
before(async () => {
  pki = await makeVyosPki();
  dir = await mkdtemp(join(tmpdir(), 'sstpd-vyos-smoketests-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The file: VyOS's PKI (setUpClass), then the case's lines, as `show configuration commands` prints. */
const fileText = (k: SmoketestCase): string => [...pkiSmoketestCommands(pki), ...k.lines].join('\n') + '\n';

const check = (file: string): Promise<{ code: number | null; out: string }> =>
  new Promise((resolve) => {
    execFile(process.execPath, [sstpdPath(), '--check', file], (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: stdout + stderr }),
    );
  });

describe('VyOS SSTP smoketest configurations through sstpd --check', () => {
  it('covers every test of test_vpn_sstp.py and base_accel_ppp_test.py', () => {
    const tests = new Set(SMOKETEST_CASES.map((k) => k.test.replace(/ \(.*$/, '')));
    for (const t of [
      'test_accel_name_servers', 'test_accel_local_authentication', 'test_accel_radius_authentication', 'test_accel_ipv4_pool', 'test_accel_next_pool',
      'test_accel_ipv6_pool', 'test_accel_ppp_options', 'test_accel_wins_server', 'test_accel_snmp', 'test_accel_shaper', 'test_accel_limits',
      'test_accel_log_level', 'test_sstp_host_name',
    ]) {
      assert.ok(tests.has(t), t);
    }
  });

  it('each passes, or fails with VyOS\'s message where the smoketest expects a failed commit', async () => {
    // Small parallel batches: each is a Node start.
    for (let i = 0; i < SMOKETEST_CASES.length; i += 6) {
      await Promise.all(
        SMOKETEST_CASES.slice(i, i + 6).map(async (k, j) => {
          const file = join(dir, `case-${i + j}.conf`);
          await writeFile(file, fileText(k));
          const r = await check(file);
          if (k.error !== undefined) {
            assert.equal(r.code, 1, `${k.test}: exit code\n${r.out}`);
            assert.ok(r.out.includes(`${k.error}\n`), `${k.test}: output lacks "${k.error}":\n${r.out}`);
            assert.equal(r.out.split('\n').filter((l) => /^line \d+: |^vpn sstp/.test(l) && !l.includes(': note: ')).length, 1, `${k.test}: exactly one error\n${r.out}`);
          } else {
            assert.equal(r.code, 0, `${k.test}:\n${r.out}`);
            assert.match(r.out, /configuration is valid/);
          }
          for (const n of k.notes ?? []) assert.ok(r.out.includes(n), `${k.test}: output lacks the note "${n}":\n${r.out}`);
        }),
      );
    }
  });

  it('the same configurations written as config.boot give the same verdict and the same model', () => {
    for (const k of SMOKETEST_CASES) {
      const set = loadConfigText(fileText(k), { files: nodeFileChecker });
      const boot = loadConfigText(k.lines.length === 0 ? renderBoot(pkiSmoketestCommands(pki).join('\n')) : renderBoot(fileText(k)), { files: nodeFileChecker });
      assert.equal(boot.ok, set.ok, `${k.test}: ${boot.ok ? '' : formatIssues(boot.issues)}`);
      if (set.ok && boot.ok) assert.deepEqual(boot.config, set.config, k.test);
      // Same findings (the empty-configuration text names the format, so compare paths there).
      if (!set.ok && !boot.ok) assert.deepEqual(boot.issues.map((i) => (k.lines.length === 0 ? i.path : i.message)), set.issues.map((i) => (k.lines.length === 0 ? i.path : i.message)), k.test);
    }
  });
});
