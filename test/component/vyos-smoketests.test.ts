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

const S = 'set vpn sstp';

/** BasicAccelPPPTest.basic_config(): the SSTP part, auth, gateway, pool (each optional as there). */
function basicConfig(o: { auth?: boolean; gateway?: boolean; pool?: boolean } = {}): string[] {
  return [
    `${S} ssl ca-certificate 'sstp'`,
    `${S} ssl certificate 'sstp'`,
    ...(o.auth === false ? [] : [`${S} authentication local-users username vyos password 'vyos'`, `${S} authentication mode 'local'`]),
    ...(o.gateway === false ? [] : [`${S} gateway-address '192.0.2.1'`]),
    ...(o.pool === false ? [] : [`${S} client-ip-pool SIMPLE-POOL range '192.0.2.0/24'`, `${S} default-pool 'SIMPLE-POOL'`]),
  ];
}

interface Case {
  readonly test: string;
  readonly lines: readonly string[];
  /** The exact error where the smoketest expects the commit to fail. */
  readonly error?: string;
  /** Notes the output must contain (a substring each). */
  readonly notes?: readonly string[];
}

const radius = [
  `${S} authentication mode 'radius'`,
  `${S} authentication radius server 192.0.2.22 key 'secretVyOS'`,
  `${S} authentication radius server 192.0.2.22 port '2000'`,
  `${S} authentication radius acct-interim-jitter '10'`,
  `${S} authentication radius accounting-interim-interval '10'`,
  `${S} authentication radius acct-timeout '30'`,
  `${S} authentication radius dynamic-author server '4.4.4.4'`,
  `${S} authentication radius dynamic-author key 'testCoA'`,
  `${S} authentication radius nas-identifier 'VyOS-PPPoE'`,
  `${S} authentication radius nas-ip-address '7.7.7.7'`,
  `${S} authentication radius source-address '1.2.3.4'`,
];
const localUser = [
  `${S} authentication local-users username test password 'test2'`,
  `${S} authentication local-users username test rate-limit upload '5000'`,
];

const CASES: readonly Case[] = [
  { test: 'test_accel_name_servers', lines: [...basicConfig(), `${S} name-server '192.0.2.1'`, `${S} name-server '192.0.2.2'`, `${S} name-server '2001:db8::1'`] },
  {
    test: 'test_accel_local_authentication (upload only: the commit must fail)',
    lines: [`${S} port '8443'`, ...basicConfig(), ...localUser, `${S} authentication local-users username test static-ip '100.100.100.101'`],
    error:
      'line 13: vpn sstp authentication local-users username test rate-limit: User "test" has rate-limit configured for only one direction but both upload and download must be given!',
  },
  {
    test: 'test_accel_local_authentication (download added)',
    lines: [`${S} port '8443'`, ...basicConfig(), ...localUser, `${S} authentication local-users username test static-ip '100.100.100.101'`, `${S} authentication local-users username test rate-limit download '10000'`],
  },
  {
    test: 'test_accel_local_authentication (static-ip deleted)',
    lines: [`${S} port '8443'`, ...basicConfig(), ...localUser, `${S} authentication local-users username test rate-limit download '10000'`],
  },
  {
    test: 'test_accel_radius_authentication',
    lines: [...basicConfig().filter((l) => !l.includes('mode')), ...radius, `${S} authentication radius server 192.0.2.22 acct-port '3000'`],
  },
  {
    test: 'test_accel_radius_authentication (disable-accounting, backup, priority 10)',
    lines: [
      ...basicConfig().filter((l) => !l.includes('mode')),
      ...radius,
      `${S} authentication radius server 192.0.2.22 disable-accounting`,
      `${S} authentication radius server 192.0.2.22 backup`,
      `${S} authentication radius server 192.0.2.22 priority '10'`,
    ],
    notes: ['server 192.0.2.22 priority: note: not applied yet'],
  },
  {
    test: 'test_accel_ipv4_pool',
    lines: [
      ...basicConfig({ gateway: false, pool: false }),
      `${S} gateway-address '192.0.2.1'`,
      `${S} client-ip-pool POOL1 range '172.16.0.0/24'`,
      `${S} client-ip-pool POOL1 next-pool 'POOL2'`,
      `${S} client-ip-pool POOL2 range '192.0.2.10-192.0.2.20'`,
      `${S} default-pool 'POOL1'`,
    ],
  },
  {
    test: 'test_accel_next_pool',
    lines: [
      ...basicConfig({ gateway: false, pool: false }),
      `${S} gateway-address '192.0.2.1'`,
      `${S} client-ip-pool VyOS-pool1 range '192.0.2.0/25'`,
      `${S} client-ip-pool VyOS-pool1 next-pool 'Vyos-pool2'`,
      `${S} client-ip-pool Vyos-pool2 range '203.0.113.0/25'`,
      `${S} client-ip-pool Vyos-pool2 next-pool 'Vyos-pool3'`,
      `${S} client-ip-pool Vyos-pool3 range '198.51.100.0/24'`,
    ],
    // VyOS's own warning: no default-pool (the test does not set one).
    notes: ["vpn sstp default-pool: note: 'default-pool' is not defined", '192.0.2.1 lies inside client-ip-pool VyOS-pool1 range 192.0.2.0/25'],
  },
  {
    test: 'test_accel_ipv6_pool',
    lines: [
      ...basicConfig({ gateway: false, pool: false }),
      `${S} ppp-options ipv6 'allow'`,
      `${S} client-ipv6-pool ipv6_test_pool prefix '2001:db8:fffe::/56' mask '64'`,
      `${S} client-ipv6-pool ipv6_test_pool prefix '2001:db8:ffff::/56' mask '64'`,
      `${S} client-ipv6-pool ipv6_test_pool delegate '2001:db8:fff1::/56' delegation-prefix '64'`,
      `${S} client-ipv6-pool ipv6_test_pool delegate '2001:db8:fff2::/56' delegation-prefix '64'`,
    ],
    notes: ["'default-ipv6-pool' is not defined"],
  },
  {
    test: 'test_accel_ppp_options',
    lines: [
      ...basicConfig(),
      `${S} ppp-options disable-ccp`,
      `${S} ppp-options mppe 'require'`,
      `${S} ppp-options min-mtu '1400'`,
      `${S} ppp-options mru '9000'`,
      `${S} ppp-options interface-cache '128000'`,
      `${S} ppp-options ipv4 'require'`,
      `${S} ppp-options ipv6 'allow'`,
      `${S} ppp-options ipv6-interface-id 'random'`,
      `${S} ppp-options ipv6-accept-peer-interface-id`,
      `${S} ppp-options ipv6-peer-interface-id 'random'`,
      `${S} ppp-options lcp-echo-failure '4'`,
      `${S} ppp-options lcp-echo-interval '40'`,
      `${S} ppp-options lcp-echo-timeout '100'`,
    ],
  },
  { test: 'test_accel_wins_server', lines: [...basicConfig(), `${S} wins-server '192.0.2.1'`, `${S} wins-server '192.0.2.2'`] },
  { test: 'test_accel_snmp', lines: [...basicConfig(), `${S} snmp master-agent`], notes: ['snmp master-agent: note: sstpd has no SNMP agent'] },
  { test: 'test_accel_shaper', lines: [...basicConfig(), `${S} shaper fwmark '2'`] },
  {
    test: 'test_accel_limits',
    lines: [...basicConfig(), `${S} limits connection-limit '1/min'`, `${S} limits timeout '20'`, `${S} limits burst '100'`],
  },
  { test: 'test_accel_log_level (default)', lines: basicConfig() },
  ...[0, 1, 2, 3, 4].map((level) => ({ test: `test_accel_log_level (${level})`, lines: [...basicConfig(), `${S} log level '${level}'`] })),
  { test: 'test_sstp_host_name', lines: [...basicConfig(), `${S} host-name 'test.vyos.io'`] },
  {
    test: 'tearDown (vpn sstp deleted: the daemon must not run)',
    lines: [],
    error: 'vpn sstp: the configuration is empty: no "set vpn sstp ..." settings found',
  },
];

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
const fileText = (k: Case): string => [...pkiSmoketestCommands(pki), ...k.lines].join('\n') + '\n';

const check = (file: string): Promise<{ code: number | null; out: string }> =>
  new Promise((resolve) => {
    execFile(process.execPath, [sstpdPath(), '--check', file], (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: stdout + stderr }),
    );
  });

describe('VyOS SSTP smoketest configurations through sstpd --check', () => {
  it('covers every test of test_vpn_sstp.py and base_accel_ppp_test.py', () => {
    const tests = new Set(CASES.map((k) => k.test.replace(/ \(.*$/, '')));
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
    for (let i = 0; i < CASES.length; i += 6) {
      await Promise.all(
        CASES.slice(i, i + 6).map(async (k, j) => {
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
    for (const k of CASES) {
      const set = loadConfigText(fileText(k), { files: nodeFileChecker });
      const boot = loadConfigText(k.lines.length === 0 ? renderBoot(pkiSmoketestCommands(pki).join('\n')) : renderBoot(fileText(k)), { files: nodeFileChecker });
      assert.equal(boot.ok, set.ok, `${k.test}: ${boot.ok ? '' : formatIssues(boot.issues)}`);
      if (set.ok && boot.ok) assert.deepEqual(boot.config, set.config, k.test);
      // Same findings (the empty-configuration text names the format, so compare paths there).
      if (!set.ok && !boot.ok) assert.deepEqual(boot.issues.map((i) => (k.lines.length === 0 ? i.path : i.message)), set.issues.map((i) => (k.lines.length === 0 ? i.path : i.message)), k.test);
    }
  });
});
