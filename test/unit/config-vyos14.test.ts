/**
 * The current VyOS tree (1.4 sagitta / 1.5 circinus, syntax version 6): every node lands in the
 * model with its type and default; VyOS's commit checks with VyOS's texts; the PKI store with its
 * chain; the 1.3 nodes mixed with 1.4 ones; notes for what this build accepts but does not act on.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { X509Certificate } from 'node:crypto';
import { formatIssues, formatNotes, loadConfigText, nodeFileChecker, type LoadResult } from '../../src/config/load.js';
import type { SstpConfig } from '../../src/config/model.js';
import { makeVyosPki, pkiChainCommands, pkiSmoketestCommands, type VyosPki } from '../support/vyos-pki.js';

let pki: VyosPki;
let dir: string;
before(async () => {
  pki = await makeVyosPki();
  dir = await mkdtemp(join(tmpdir(), 'sstpd-vyos14-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function config(r: LoadResult): SstpConfig {
  if (!r.ok) assert.fail(`expected the config to load, got:\n${formatIssues(r.issues)}`);
  return r.config;
}
const S = 'set vpn sstp';
/** A minimal valid 1.4 configuration (the smoketests' basic_config) after `extra` lead lines. */
const base = (): string[] => [
  ...pkiSmoketestCommands(pki),
  `${S} authentication local-users username vyos password 'vyos'`,
  `${S} authentication mode 'local'`,
  `${S} gateway-address '192.0.2.1'`,
  `${S} client-ip-pool SIMPLE-POOL range '192.0.2.0/24'`,
  `${S} default-pool 'SIMPLE-POOL'`,
  `${S} ssl ca-certificate 'sstp'`,
  `${S} ssl certificate 'sstp'`,
];
const load = (lines: readonly string[], files = false): LoadResult => loadConfigText(lines.join('\n') + '\n', files ? { files: nodeFileChecker } : {});
/** Issues of a config expected to fail, as `sstpd --check` prints them. */
const issues = (lines: readonly string[], files = false): string => {
  const r = load(lines, files);
  assert.equal(r.ok, false, `expected issues for:\n${lines.join('\n')}`);
  return r.ok ? '' : formatIssues(r.issues);
};
const issuesOf = (r: LoadResult): LoadResult extends infer T ? (T extends { ok: false; issues: infer I } ? I : never) : never => {
  assert.equal(r.ok, false);
  return r.ok ? [] : r.issues;
};
const notes = (lines: readonly string[]): string => {
  const r = load(lines);
  assert.ok(r.ok, r.ok ? '' : formatIssues(r.issues));
  return formatNotes(r.notes);
};
/** base() with `drop` lines (by prefix) removed and `add` appended. */
const edit = (drop: readonly string[], add: readonly string[] = []): string[] => [...base().filter((l) => !drop.some((d) => l.startsWith(d))), ...add];

describe('vyos 1.4: every node lands in the model', () => {
  it('the smoketests\' basic config loads with no notes but the gateway one', () => {
    const r = load(base());
    const c = config(r);
    assert.deepEqual(c.ipv4Pools, [{ name: 'SIMPLE-POOL', subnets: ['192.0.2.0/24'] }]);
    assert.equal(c.defaultIpv4Pool, 'SIMPLE-POOL');
    assert.equal(c.ssl.certFile, '');
    assert.equal(c.ssl.pki?.certificateName, 'sstp');
    assert.equal(c.ssl.pki?.caCertificateName, 'sstp');
    assert.deepEqual(c.ssl.pki?.chainPem, [], 'a self-signed certificate has no chain');
    assert.equal(new X509Certificate(c.ssl.pki!.certPem).fingerprint256, new X509Certificate(pki.selfSignedPem).fingerprint256);
    assert.match(c.ssl.pki!.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
    assert.equal(formatNotes(r.notes), 'line 6: vpn sstp gateway-address: note: 192.0.2.1 lies inside client-ip-pool SIMPLE-POOL range 192.0.2.0/24; it is never handed out');
  });

  it('every other node, with VyOS\'s types; nothing configured stays absent', () => {
    const c = config(
      load([
        ...base(),
        `${S} description 'office VPN'`,
        `${S} host-name 'vpn.example.net'`,
        `${S} max-concurrent-sessions '10-20'`,
        `${S} limits connection-limit '10/min'`,
        `${S} limits burst '5'`,
        `${S} limits timeout '30'`,
        `${S} mtu '1400'`,
        `${S} wins-server '192.0.2.5'`,
        `${S} wins-server '192.0.2.6'`,
        `${S} shaper fwmark '7'`,
        `${S} log level '5'`,
        `${S} snmp`,
        `${S} client-ip-pool SIMPLE-POOL next-pool 'OVERFLOW'`,
        `${S} client-ip-pool OVERFLOW range '198.51.100.5/24'`,
        `${S} client-ip-pool OVERFLOW range '203.0.113.10-203.0.113.20'`,
        `${S} client-ipv6-pool V6 prefix '2001:db8:1::/48' mask '56'`,
        `${S} client-ipv6-pool V6 delegate '2001:db8:100::/40' delegation-prefix '48'`,
        `${S} default-ipv6-pool 'V6'`,
        `${S} ppp-options mru '1300'`,
        `${S} ppp-options min-mtu '1280'`,
        `${S} ppp-options disable-ccp`,
        `${S} ppp-options interface-cache '64'`,
        `${S} ppp-options ipv4 'require'`,
        `${S} ppp-options ipv6 'prefer'`,
        `${S} ppp-options ipv6-interface-id '1:2:3:4'`,
        `${S} ppp-options ipv6-peer-interface-id 'ipv4-addr'`,
        `${S} ppp-options ipv6-accept-peer-interface-id`,
        `${S} ppp-options mppe 'require'`,
      ]),
    );
    assert.equal(c.description, 'office VPN');
    assert.equal(c.hostName, 'vpn.example.net');
    assert.equal(c.maxConcurrentSessions, 10, 'accel-ppp reads "10-20" as 10');
    assert.deepEqual(c.limits, { rate: { count: 10, periodS: 60 }, burst: 5, timeoutS: 30 });
    assert.equal(c.mtu, 1400);
    assert.deepEqual(c.winsServers, ['192.0.2.5', '192.0.2.6']);
    assert.equal(c.shaperFwmark, 7);
    assert.equal(c.logLevel, 5);
    assert.deepEqual(c.snmp, { masterAgent: false });
    assert.deepEqual(c.ipv4Pools, [
      { name: 'SIMPLE-POOL', subnets: ['192.0.2.0/24'], nextPool: 'OVERFLOW' },
      { name: 'OVERFLOW', subnets: ['198.51.100.5/24', '203.0.113.10-203.0.113.20'] },
    ]);
    assert.deepEqual(c.ipv6Pools, [{ name: 'V6', prefixes: [{ prefix: '2001:db8:1::/48', mask: 56 }], delegates: [{ prefix: '2001:db8:100::/40', delegationPrefix: 48 }] }]);
    assert.equal(c.defaultIpv6Pool, 'V6');
    assert.deepEqual(c.ppp, {
      lcpEchoInterval: 30,
      lcpEchoFailure: 3,
      lcpEchoTimeout: 0,
      mppe: 'require',
      mru: 1300,
      minMtu: 1280,
      disableCcp: true,
      interfaceCache: 64,
      ipv4: 'require',
      ipv6: 'prefer',
      ipv6InterfaceId: '1:2:3:4',
      ipv6PeerInterfaceId: 'ipv4-addr',
      ipv6AcceptPeerInterfaceId: true,
    });
    const bare = config(load(base()));
    for (const k of ['description', 'hostName', 'maxConcurrentSessions', 'limits', 'mtu', 'winsServers', 'extendedScripts', 'shaperFwmark', 'logLevel', 'snmp', 'defaultIpv6Pool'] as const) {
      assert.equal(k in bare, false, k);
    }
    assert.deepEqual(bare.ppp, { lcpEchoInterval: 30, lcpEchoFailure: 3, lcpEchoTimeout: 0 });
  });

  it('RADIUS: priority, backup, disable-accounting, interim interval and jitter, multiplier, preallocate-vif', () => {
    const c = config(
      load([
        ...edit([`${S} authentication mode`]),
        `${S} authentication mode 'radius'`,
        `${S} authentication radius server 192.0.2.22 key 'secretVyOS'`,
        `${S} authentication radius server 192.0.2.22 priority '10'`,
        `${S} authentication radius server 192.0.2.22 backup`,
        `${S} authentication radius server 192.0.2.22 disable-accounting`,
        `${S} authentication radius accounting-interim-interval '10'`,
        `${S} authentication radius acct-interim-jitter '10'`,
        `${S} authentication radius rate-limit enable`,
        `${S} authentication radius rate-limit multiplier '0.5'`,
        `${S} authentication radius preallocate-vif`,
      ]),
    );
    assert.deepEqual(c.radius?.servers, [
      { address: '192.0.2.22', key: 'secretVyOS', port: 1812, acctPort: 1813, failTime: 0, disabled: false, requireMessageAuthenticator: false, priority: 10, backup: true, disableAccounting: true },
    ]);
    assert.equal(c.radius?.accountingInterimInterval, 10);
    assert.equal(c.radius?.acctInterimJitter, 10);
    assert.deepEqual(c.radius?.rateLimit, { enabled: true, attribute: 'Filter-Id', multiplier: 0.5 });
    assert.equal(c.radius?.preallocateVif, true);
  });

  it('ppp-options ipv6: VyOS 1.4 defaults to deny (the pools stay unused, with a note); 1.3 pools turn it on', () => {
    const v14 = load([...base(), `${S} client-ipv6-pool P prefix '2001:db8::/48' mask '64'`, `${S} default-ipv6-pool 'P'`]);
    assert.equal(config(v14).ppp.ipv6, 'deny');
    assert.match(formatNotes(v14.notes), /line 11: vpn sstp ppp-options ipv6: note: client-ipv6-pool is configured but ppp-options ipv6 is not: VyOS's default "deny" leaves IPv6 off/);
    const v13 = config(load([...base(), `${S} client-ipv6-pool prefix '2001:db8::/48' mask '64'`].filter((l) => !l.includes('default-pool') && !l.includes('SIMPLE-POOL')).concat(`${S} client-ip-pool subnet 192.0.2.0/24`)));
    assert.equal(v13.ppp.ipv6, 'allow');
    assert.deepEqual(v13.ipv6Pools, [{ name: 'default', prefixes: [{ prefix: '2001:db8::/48', mask: 64 }], delegates: [] }]);
    assert.equal(v13.defaultIpv6Pool, 'default');
    assert.equal(v13.defaultIpv4Pool, 'default');
  });

  it('a pool named like a 1.3 node ("subnet", "prefix") is a 1.4 pool when its own children follow', () => {
    const c = config(load(edit([`${S} client-ip-pool`, `${S} default-pool`], [`${S} client-ip-pool subnet range '192.0.2.0/24'`, `${S} default-pool subnet`])));
    assert.deepEqual(c.ipv4Pools, [{ name: 'subnet', subnets: ['192.0.2.0/24'] }]);
    const v6 = config(load([...base(), `${S} client-ipv6-pool prefix prefix '2001:db8::/48'`, `${S} default-ipv6-pool prefix`, `${S} ppp-options ipv6 allow`]));
    assert.deepEqual(v6.ipv6Pools, [{ name: 'prefix', prefixes: [{ prefix: '2001:db8::/48', mask: 64 }], delegates: [] }]);
    assert.equal(
      issues([...base(), `${S} client-ip-pool subnet 10.0.0.0/24`, `${S} client-ip-pool subnet range 10.0.1.0/24`]),
      'line 12: vpn sstp client-ip-pool subnet: "subnet" is used both as the VyOS 1.3 node and as a pool name; rename the pool',
    );
  });
});

describe('vyos 1.4: PKI', () => {
  const chainBase = (): string[] => [
    ...pkiChainCommands(pki),
    ...base().filter((l) => !l.startsWith('set pki') && !l.includes(' ssl ')),
    `${S} ssl ca-certificate 'root-ca'`,
    `${S} ssl certificate 'sstp'`,
  ];

  it('the intermediate and the root found in pki ca go into the chain, nearest first', () => {
    const r = load(chainBase());
    const c = config(r);
    const fp = (pem: string): string => new X509Certificate(pem).subject;
    assert.deepEqual(c.ssl.pki?.chainPem.map(fp), ['CN=sstpd test intermediate CA', 'CN=sstpd test root CA']);
    assert.equal(fp(c.ssl.pki!.caPem!), 'CN=sstpd test root CA');
    assert.doesNotMatch(formatNotes(r.notes), /chain/);
  });

  it('without the intermediate: a note that the chain stops short', () => {
    const r = load(chainBase().filter((l) => !l.startsWith('set pki ca int-ca')));
    assert.deepEqual(config(r).ssl.pki?.chainPem, []);
    assert.match(
      formatNotes(r.notes),
      /line \d+: vpn sstp ssl certificate: note: the chain sent with certificate "sstp" stops at "CN=localhost", whose issuer is not among the pki ca entries/,
    );
  });

  it('VyOS\'s messages for what is missing, in VyOS\'s order', () => {
    const noPki = base().filter((l) => !l.startsWith('set pki'));
    assert.equal(issues(noPki), ['line 7: vpn sstp ssl certificate: PKI is not configured!', 'line 6: vpn sstp ssl ca-certificate: PKI is not configured!'].join('\n'));
    assert.equal(issues(edit([`${S} ssl`])), 'vpn sstp ssl: SSL missing on SSTP config!');
    assert.equal(
      issues(edit([`${S} ssl certificate`])),
      'line 9: vpn sstp ssl certificate: SSL certificate missing on SSTP config!',
    );
    assert.equal(issues(edit([`${S} ssl ca-certificate`])), 'line 9: vpn sstp ssl ca-certificate: SSL CA certificate missing on SSTP config!');
    assert.equal(
      issues(edit([`${S} ssl certificate`], [`${S} ssl certificate 'other'`])),
      'line 10: vpn sstp ssl certificate: Certificate "other" not found in configuration!',
    );
    assert.equal(
      issues(edit([`${S} ssl ca-certificate`], [`${S} ssl ca-certificate 'other'`])),
      'line 10: vpn sstp ssl ca-certificate: CA Certificate "other" not found in configuration!',
    );
    assert.equal(
      issues(edit(['set pki certificate sstp private'])),
      'line 9: vpn sstp ssl certificate: PEM private key for "sstp" missing in configuration!',
    );
    assert.equal(
      issues(edit(['set pki certificate sstp certificate'])),
      'line 9: vpn sstp ssl certificate: PEM certificate for "sstp" missing in configuration!',
    );
    assert.equal(
      issues(edit(['set pki certificate'], ['set pki certificate sstp acme domain-name vpn.example.net', `set pki certificate sstp private key '${pki.selfSignedKeyB64}'`])),
      'line 8: vpn sstp ssl certificate: PEM certificate for "sstp" missing in configuration! (an ACME certificate: VyOS keeps it in ' +
        '/config/auth/letsencrypt/live/sstp/, not in the configuration; give its cert.pem and privkey.pem as ssl cert-file and key-file)',
    );
    assert.equal(issues(edit(['set pki ca'])), 'line 8: vpn sstp ssl ca-certificate: PKI does not contain any CA certificates!');
  });

  it('password-protected, unparseable, mismatched and expired material', () => {
    assert.equal(
      issues([...base(), 'set pki certificate sstp private password-protected']),
      'line 11: pki certificate sstp private password-protected: Password protected PEM private key is not supported! ' +
        '(sstpd starts with nobody to type the passphrase: import the key unencrypted)',
    );
    assert.equal(issues(edit(['set pki certificate sstp private'], [`set pki certificate sstp private key '${pki.otherKeyB64}'`])), 'line 10: pki certificate sstp private key: PEM private key for "sstp" does not match its certificate');
    assert.match(issues(edit(['set pki certificate sstp certificate'], ["set pki certificate sstp certificate 'AAAA'"])), /^line 10: pki certificate sstp certificate: PEM certificate for "sstp" cannot be parsed \(.+\)$/);
    assert.match(issues(edit(['set pki certificate sstp private'], ["set pki certificate sstp private key 'AAAA'"])), /^line 10: pki certificate sstp private key: PEM private key for "sstp" cannot be parsed \(.+\)$/);
    assert.equal(
      issues(edit(['set pki certificate sstp '], [`set pki certificate sstp certificate '${pki.expiredLeafB64}'`, `set pki certificate sstp private key '${pki.leafKeyB64}'`])),
      'line 9: pki certificate sstp certificate: Certificate "sstp" expired on 2020-01-02T00:00:00Z',
    );
    assert.equal(issues([...base(), "set pki ca x certificate 'not base64!'"]), 'line 11: pki ca x certificate: Certificate is not base64-encoded');
  });
});

describe('vyos 1.4: commit checks with VyOS\'s texts', () => {
  it('next-pool chains: an undefined pool, a loop, a pool without range', () => {
    assert.equal(
      issues([...base(), `${S} client-ip-pool SIMPLE-POOL next-pool 'NOPE'`]),
      "line 11: vpn sstp client-ip-pool SIMPLE-POOL next-pool: Pool 'NOPE' not defined in configuration data",
    );
    assert.equal(
      issues([...base(), `${S} client-ip-pool A range 10.0.0.0/24`, `${S} client-ip-pool A next-pool B`, `${S} client-ip-pool B range 10.0.1.0/24`, `${S} client-ip-pool B next-pool A`]),
      'line 12: vpn sstp client-ip-pool A next-pool: Circular reference in configuration data',
    );
    assert.equal(
      issues([...base(), `${S} client-ip-pool A next-pool SIMPLE-POOL`]),
      'line 11: vpn sstp client-ip-pool A: Pool "A" does not contain range but next-pool exists',
    );
    assert.equal(issues(edit([`${S} default-pool`], [`${S} default-pool 'NOPE'`])), 'line 10: vpn sstp default-pool: Default pool "NOPE" does not exists');
  });

  it('IPv6 pools, WINS', () => {
    assert.equal(
      issues([...base(), `${S} client-ipv6-pool P delegate '2001:db8::/40' delegation-prefix 48`]),
      'line 11: vpn sstp client-ipv6-pool P delegate: IPv6 delegate-prefix requires IPv6 prefix to be configured in "P"!',
    );
    assert.equal(
      issues([...base(), `${S} client-ipv6-pool P prefix '2001:db8::/48'`, `${S} client-ipv6-pool P delegate '2001:db8:1::/48'`]),
      "line 12: vpn sstp client-ipv6-pool P delegate 2001:db8:1::/48: delegation-prefix length required!",
    );
    assert.equal(
      issues([...base(), `${S} wins-server 192.0.2.5`, `${S} wins-server 192.0.2.6`, `${S} wins-server 192.0.2.7`]),
      'line 13: vpn sstp wins-server: Not more then two WINS name-servers can be configured',
    );
  });

  it('value types: VyOS\'s constraint messages', () => {
    const one = (line: string): string => issues([...base(), line]);
    assert.equal(one(`${S} host-name 'vpn_1'`), 'line 11: vpn sstp host-name: Host-name must be alphanumeric and can contain hyphens');
    assert.equal(one(`${S} description '${'x'.repeat(256)}'`), 'line 11: vpn sstp description: Description too long (limit 255 characters)');
    assert.equal(one(`${S} limits connection-limit '10/hour'`), 'line 11: vpn sstp limits connection-limit: illegal value');
    assert.equal(one(`${S} max-concurrent-sessions 65536`), 'line 11: vpn sstp max-concurrent-sessions: Maximum concurent sessions must be in range 0-65535');
    assert.equal(one(`${S} mtu 1501`), 'line 11: vpn sstp mtu: MTU must be between 68 and 1500');
    assert.equal(one(`${S} authentication radius rate-limit multiplier 0.0001`), 'line 11: vpn sstp authentication radius rate-limit multiplier: Multiplier needs to be between 0.001 and 1000');
    assert.equal(one(`${S} authentication radius accounting-interim-interval 0`), 'line 11: vpn sstp authentication radius accounting-interim-interval: Interval value must be between 1 and 3600 seconds');
    assert.equal(one(`${S} authentication radius acct-interim-jitter 61`), 'line 11: vpn sstp authentication radius acct-interim-jitter: Jitter value must be between 1 and 60 seconds');
    assert.equal(one(`${S} ppp-options ipv4 maybe`), 'line 11: vpn sstp ppp-options ipv4: invalid value');
    assert.equal(one(`${S} ppp-options ipv6-interface-id 'a:b:c:d'`), 'line 11: vpn sstp ppp-options ipv6-interface-id: Invalid value: must be "random" or an interface id x:x:x:x (digits)');
    assert.equal(one(`${S} client-ip-pool P range '192.0.2.10-192.0.3.20'`), 'line 11: vpn sstp client-ip-pool P range: "192.0.2.10-192.0.3.20" is not a valid IPv4 prefix, IPv4 host (address/length) or IPv4 address range within one /24 (a.b.c.d-a.b.c.e)');
    assert.equal(one(`${S} client-ip-pool P range '192.0.2.5'`), 'line 11: vpn sstp client-ip-pool P range: "192.0.2.5" is not a valid IPv4 prefix, IPv4 host (address/length) or IPv4 address range within one /24 (a.b.c.d-a.b.c.e)');
    assert.match(one(`${S} client-ip-pool 'bad name' range 10.0.0.0/24`), /^line 11: vpn sstp client-ip-pool: Name may only contain/);
    assert.equal(one(`${S} shaper fwmark 0`), 'line 11: vpn sstp shaper fwmark: Value must be an integer between 1 and 2147483647');
    assert.equal(one(`${S} log level 6`), 'line 11: vpn sstp log level: Value must be an integer between 0 and 5');
  });

  it('what VyOS leaves unchecked but accel-ppp cannot use: limits burst/timeout text, a zero rate', () => {
    assert.equal(issues([...base(), `${S} limits burst 'many'`]), 'line 11: vpn sstp limits burst: "many" is not a whole number of connections (VyOS accepts any text here; accel-ppp reads a number)');
    assert.equal(issues([...base(), `${S} limits connection-limit '0/min'`]), 'line 11: vpn sstp limits connection-limit: "0/min" allows no connection at all (accel-ppp divides the period by the count): use at least 1');
  });

  it('extended-scripts: VyOS\'s script validator; an executable script is accepted', async () => {
    const script = join(dir, 'up.sh');
    await writeFile(script, '#!/bin/sh\nexit 0\n');
    await chmod(script, 0o644);
    assert.equal(
      issues([...base(), `${S} extended-scripts on-up '${script} --verbose'`, `${S} extended-scripts on-down '${dir}/nope.sh'`], true),
      [
        `line 11: vpn sstp extended-scripts on-up: File ${script} is not an executable file`,
        `line 12: vpn sstp extended-scripts on-down: File ${dir}/nope.sh does not exist`,
      ].join('\n'),
    );
    await chmod(script, 0o755);
    const r = load([...base(), `${S} extended-scripts on-pre-up '${script}'`], true);
    assert.equal(r.ok ? '' : formatIssues(r.issues), '');
    assert.ok(r.ok);
    assert.equal(r.ok && r.config.extendedScripts?.onPreUp, script);
  });

  it('mode noauth: VyOS\'s pool check; accepted with a loud note; mppe require refused (no MS-CHAP keys)', () => {
    assert.equal(
      issues(edit([`${S} authentication mode`, `${S} client-ip-pool`, `${S} default-pool`], [`${S} authentication mode noauth`])),
      'vpn sstp client-ip-pool: Local auth mode requires local client-ip-pool or client-ipv6-pool to be configured!',
    );
    const noauth = edit([`${S} authentication mode`], [`${S} authentication mode noauth`]);
    assert.match(notes(noauth), /vpn sstp authentication mode: note: NO AUTHENTICATION: every client that reaches the port gets a session/);
    assert.equal(config(load(noauth)).authMode, 'noauth');
    assert.equal(
      issues([...noauth, `${S} ppp-options mppe require`]),
      `line ${noauth.length + 1}: vpn sstp ppp-options mppe: "require" cannot work with authentication mode noauth: ` +
        'MPPE keys come from MS-CHAP authentication, so every session would fail',
    );
    assert.ok(load([...noauth, `${S} ppp-options mppe require`, `${S} ppp-options disable-ccp`]).ok, 'disable-ccp: no MPPE at all');
  });
});

describe('vyos 1.3 nodes mixed with 1.4 ones: what VyOS\'s migration writes instead', () => {
  it('client-ip-pool subnet with named pools', () => {
    assert.equal(
      issues([...base(), `${S} client-ip-pool subnet 10.0.0.0/24`, `${S} client-ip-pool subnet 10.0.1.0/24`]),
      'line 11: vpn sstp client-ip-pool subnet: the VyOS 1.3 "client-ip-pool subnet" cannot be mixed with named pools or default-pool; ' +
        'write it as VyOS 1.4 migrates it: "set vpn sstp client-ip-pool default-range-pool range 10.0.0.0/24", ' +
        '"set vpn sstp client-ip-pool default-range-pool range 10.0.1.0/24", "set vpn sstp default-pool default-range-pool"',
    );
  });
  it('the unnamed client-ipv6-pool with default-ipv6-pool', () => {
    assert.equal(
      issues([...base(), `${S} client-ipv6-pool prefix 2001:db8::/48 mask 56`, `${S} client-ipv6-pool delegate 2001:db8:1::/48 delegation-prefix 60`, `${S} default-ipv6-pool x`]),
      'line 11: vpn sstp client-ipv6-pool prefix: the VyOS 1.3 unnamed "client-ipv6-pool prefix" cannot be mixed with named IPv6 pools or default-ipv6-pool; ' +
        'write it as VyOS 1.4 migrates it: "set vpn sstp client-ipv6-pool ipv6-pool prefix 2001:db8::/48 mask 56", ' +
        '"set vpn sstp client-ipv6-pool ipv6-pool delegate 2001:db8:1::/48 delegation-prefix 60", "set vpn sstp default-ipv6-pool ipv6-pool"',
    );
  });
  it('ssl files with pki names', () => {
    assert.equal(
      issues([...base(), `${S} ssl cert-file /config/auth/server.crt`, `${S} ssl key-file /config/auth/server.key`, `${S} ssl ca-cert-file /config/auth/ca.crt`]),
      [
        'line 11: vpn sstp ssl cert-file: the VyOS 1.3 "ssl cert-file" cannot be mixed with "ssl certificate" (a pki certificate); VyOS 1.4 imports the files as ' +
          '"pki certificate sstp" and sets "ssl certificate sstp": keep either the pki certificate or cert-file with key-file',
        'line 13: vpn sstp ssl ca-cert-file: the VyOS 1.3 "ssl ca-cert-file" cannot be mixed with "ssl ca-certificate" (a pki ca); VyOS 1.4 imports the file as ' +
          '"pki ca sstp" and sets "ssl ca-certificate sstp": keep one of them',
      ].join('\n'),
    );
  });
  it('a pki name with a 1.3 file for the other half', () => {
    assert.equal(
      issues([...edit([`${S} ssl certificate`]), `${S} ssl cert-file /c.crt`, `${S} ssl key-file /c.key`]),
      'line 9: vpn sstp ssl ca-certificate: "ssl ca-certificate" (a pki ca) goes with "ssl certificate" (a pki certificate); ' +
        'with the VyOS 1.3 "ssl cert-file" and "key-file", give the CA as "ssl ca-cert-file"',
    );
    assert.equal(
      issues([...edit([`${S} ssl ca-certificate`]), `${S} ssl ca-cert-file /ca.crt`]),
      'line 10: vpn sstp ssl ca-cert-file: the VyOS 1.3 "ssl ca-cert-file" goes with "ssl cert-file"; with "ssl certificate" (a pki certificate) ' +
        'name the CA as "ssl ca-certificate" (a pki ca)',
    );
  });
  it('the 1.3 file certificate with 1.4 named pools is fine (sstpd keeps cert-file working, e.g. for certbot)', () => {
    const lines = [...base().filter((l) => !l.includes(' ssl ') && !l.startsWith('set pki')), `${S} ssl cert-file /c.crt`, `${S} ssl key-file /c.key`];
    const c = config(load(lines));
    assert.equal(c.ssl.certFile, '/c.crt');
    assert.equal(c.ssl.pki, undefined);
  });
});

describe('vyos 1.4: notes (VyOS\'s warnings, nodes without meaning here, what is not acted on yet)', () => {
  it('VyOS\'s warnings: no default-pool, no default-ipv6-pool', () => {
    assert.equal(
      notes([...edit([`${S} default-pool`]), `${S} client-ipv6-pool P prefix 2001:db8::/48`, `${S} ppp-options ipv6 allow`]),
      [
        'line 6: vpn sstp gateway-address: note: 192.0.2.1 lies inside client-ip-pool SIMPLE-POOL range 192.0.2.0/24; it is never handed out',
        "line 7: vpn sstp default-pool: note: 'default-pool' is not defined: sessions without a static-ip get no IPv4 address",
        "line 10: vpn sstp default-ipv6-pool: note: 'default-ipv6-pool' is not defined: sessions get no IPv6 prefix",
      ].join('\n'),
    );
  });
  it('snmp points at the metrics endpoint; preallocate-vif needs no note (the name is chosen before authentication)', () => {
    const n = notes([...base(), `${S} snmp master-agent`, `${S} authentication radius preallocate-vif`]);
    assert.match(n, /line 11: vpn sstp snmp master-agent: note: sstpd has no SNMP agent .*"set vpn sstp metrics"/);
    assert.doesNotMatch(n, /preallocate-vif/);
  });
  it('a node the runtime does not act on yet gets a note only when it would change something', () => {
    const n = notes([...base(), `${S} mtu 1500`, `${S} ppp-options mru 9000`, `${S} ppp-options ipv4 allow`, `${S} host-name vpn.example.net`, `${S} max-concurrent-sessions 5`, `${S} limits burst 5`]);
    // mtu, mru, ipv4, host-name, max-concurrent-sessions and limits are acted on: no note for them.
    assert.equal(n.split('\n').filter((l) => !l.includes('gateway-address')).join('\n'), '');
    assert.doesNotMatch(notes([...base(), `${S} ppp-options interface-cache 10`]), /interface-cache/);
    // Acted on now: no note.
    assert.doesNotMatch(notes([...base(), `${S} mtu 1400`, `${S} ppp-options mru 1200`, `${S} ppp-options min-mtu 1300`]), /mtu|mru/);
    const acted = [
      `${S} ppp-options ipv6-peer-interface-id 'ipv4-addr'`,
      `${S} ppp-options ipv6-accept-peer-interface-id`,
      `${S} authentication radius server 192.0.2.9 priority 10`,
      `${S} client-ipv6-pool A prefix 2001:db8:a::/48`,
      `${S} client-ipv6-pool B prefix 2001:db8:b::/48`,
      `${S} default-ipv6-pool A`,
      `${S} ppp-options ipv6 allow`,
    ];
    assert.doesNotMatch(notes([...base(), ...acted]), /not applied yet|used as one/);
  });

  it('IPV6CP ids: two equal fixed ids refused; calling-sid without its secret noted; the secret\'s own check', () => {
    const v6 = [...base(), `${S} client-ipv6-pool A prefix 2001:db8:a::/48`, `${S} default-ipv6-pool A`, `${S} ppp-options ipv6 allow`];
    assert.equal(
      issues([...v6, `${S} ppp-options ipv6-interface-id '0:0:0:1'`, `${S} ppp-options ipv6-peer-interface-id '0:0:0:01'`]),
      `line ${v6.length + 2}: vpn sstp ppp-options ipv6-peer-interface-id: "0:0:0:01" is also ipv6-interface-id: both ends of the link would have the same link-local address`,
    );
    assert.match(notes([...v6, `${S} ppp-options ipv6-peer-interface-id calling-sid`]), /ipv6-peer-interface-id: note: calling-sid: .* \(set ppp-options ipv6-peer-interface-id-secret/);
    const keyed = [...v6, `${S} ppp-options ipv6-peer-interface-id calling-sid`, `${S} ppp-options ipv6-peer-interface-id-secret '0123456789abcdef0123'`];
    assert.doesNotMatch(notes(keyed), /calling-sid/);
    assert.equal(config(load(keyed)).ppp.ipv6PeerInterfaceIdSecret, '0123456789abcdef0123');
    assert.equal(
      issues([...v6, `${S} ppp-options ipv6-peer-interface-id-secret 'short'`]),
      `line ${v6.length + 1}: vpn sstp ppp-options ipv6-peer-interface-id-secret: Secret must be 16 to 128 printable ASCII characters without whitespace`,
    );
  });
});

describe('sstpd extensions in both syntaxes', () => {
  it('ssl offload with cert hashes, proxy-protocol, metrics: config.boot gives the model set-commands give', () => {
    const sha1 = 'AB:'.repeat(19) + 'AB';
    const sha256 = 'cd'.repeat(32);
    const set = [
      ...base().filter((l) => !l.includes(' ssl ')),
      `${S} ssl offload`,
      `${S} ssl cert-hash-sha1 '${sha1}'`,
      `${S} ssl cert-hash-sha256 '${sha256}'`,
      `${S} proxy-protocol trusted '127.0.0.1'`,
      `${S} proxy-protocol trusted '2001:db8::/64'`,
      `${S} metrics listen-address '::1'`,
    ];
    const boot = `pki {\n    ca sstp {\n        certificate "${pki.selfSignedB64}"\n    }\n}\nvpn {\n    sstp {\n` +
      `        authentication {\n            local-users {\n                username vyos {\n                    password "vyos"\n                }\n            }\n            mode "local"\n        }\n` +
      `        gateway-address "192.0.2.1"\n        client-ip-pool SIMPLE-POOL {\n            range "192.0.2.0/24"\n        }\n        default-pool "SIMPLE-POOL"\n` +
      `        ssl {\n            offload\n            cert-hash-sha1 "${sha1}"\n            cert-hash-sha256 "${sha256}"\n        }\n` +
      `        proxy-protocol {\n            trusted "127.0.0.1"\n            trusted "2001:db8::/64"\n        }\n        metrics {\n            listen-address "::1"\n        }\n    }\n}\n`;
    const a = config(load(set.filter((l) => !l.startsWith('set pki certificate'))));
    const b = config(loadConfigText(boot));
    assert.deepEqual(b, a);
    assert.equal(a.ssl.offload, true);
    assert.equal(a.ssl.certHashSha1, 'ab'.repeat(20));
    assert.deepEqual(a.proxyProtocol, { trusted: ['127.0.0.1', '2001:db8::/64'] });
    assert.deepEqual(a.metrics, { address: '::1', port: 9474 });
  });
});

describe('whole configurations', () => {
  it('a config with no vpn sstp: set-commands, config.boot, and VyOS 1.2\'s service sstp-server', () => {
    assert.equal(issues(["set system host-name 'vyos'"]), 'vpn sstp: the configuration is empty: no "set vpn sstp ..." settings found');
    assert.equal(
      formatIssues(issuesOf(loadConfigText('system {\n    host-name vyos\n}\n'))),
      'vpn sstp: the configuration is empty: no "vpn { sstp { ... } }" section found',
    );
    assert.equal(
      issues(["set service sstp-server authentication mode 'local'"]),
      'line 1: vpn sstp: "service sstp-server" is the VyOS 1.2 syntax; load this configuration on VyOS 1.3 or later once, which migrates it to "vpn sstp"',
    );
  });
  it('errors in config.boot name the line in the file', () => {
    const boot = `interfaces {\n    ethernet eth0 {\n    }\n}\nvpn {\n    sstp {\n        port 0\n        mtu 9000\n    }\n}\n`;
    const r = loadConfigText(boot);
    assert.equal(r.ok ? '' : formatIssues(r.issues), 'line 7: vpn sstp port: Port number must be in range 1 to 65535\nline 8: vpn sstp mtu: MTU must be between 68 and 1500');
  });
});
