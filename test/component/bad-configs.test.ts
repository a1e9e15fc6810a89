/**
 * Wrong configurations and the exact text `sstpd --check` prints for each (`formatIssues`). Every
 * case starts from the seed's example (9 lines, real certificate files) and changes a few lines;
 * the expected output is the whole list, so a stray extra issue fails the case too. Notes (what is
 * accepted but worth a warning) are printed by --check and logged by the daemon when it starts.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execFile } from 'node:child_process';
import { generateTestCertificates, type TestCertificates } from '../../src/config/certs.js';
import { formatIssues, formatNotes, loadConfigText, nodeFileChecker } from '../../src/config/load.js';
import { freeHostPort, sstpdPath } from '../support/daemon.js';
import { collectingLogger, startInProcess } from '../support/in-process.js';

interface Ctx extends TestCertificates {
  readonly dir: string;
  readonly notPem: string;
}

let ctx: Ctx;
before(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sstpd-bad-configs-'));
  const certs = await generateTestCertificates(dir);
  const notPem = join(dir, 'not-pem.crt');
  await writeFile(notPem, 'this is not a certificate\n');
  ctx = { ...certs, dir, notPem };
});
after(async () => {
  await rm(ctx.dir, { recursive: true, force: true });
});

/** The seed's example, lines 1-9. */
function seedLines(c: Ctx): string[] {
  return [
    'set vpn sstp authentication local-users username vyos password vyos',
    'set vpn sstp authentication mode local',
    'set vpn sstp gateway-address 192.0.2.254',
    'set vpn sstp client-ip-pool subnet 192.0.2.0/25',
    'set vpn sstp name-server 10.0.0.1',
    'set vpn sstp name-server 10.0.0.2',
    `set vpn sstp ssl ca-cert-file ${c.caCert}`,
    `set vpn sstp ssl cert-file ${c.serverCert}`,
    `set vpn sstp ssl key-file ${c.serverKey}`,
  ];
}

type Edit = (lines: string[], c: Ctx) => string[];
/** Appends lines (the first added line is line 10). */
const add =
  (...extra: string[]): Edit =>
  (l) => [...l, ...extra];
/** Replaces 1-based line n. */
const replace =
  (n: number, line: string | ((c: Ctx) => string)): Edit =>
  (l, c) =>
    l.map((x, i) => (i === n - 1 ? (typeof line === 'string' ? line : line(c)) : x));
/** Removes 1-based line n (later lines move up). */
const remove =
  (n: number): Edit =>
  (l) =>
    l.filter((_, i) => i !== n - 1);

interface Case {
  readonly name: string;
  readonly edits: readonly Edit[];
  readonly expect: (c: Ctx) => readonly string[];
}
const c = (name: string, edits: Edit | Edit[], expect: readonly string[] | ((c: Ctx) => readonly string[])): Case => ({
  name,
  edits: Array.isArray(edits) ? edits : [edits],
  expect: typeof expect === 'function' ? expect : () => expect,
});

const U = 'vpn sstp authentication local-users username';
const R = 'set vpn sstp authentication radius';
const radiusMode = replace(2, 'set vpn sstp authentication mode radius');
/** A RADIUS node behind HAProxy (README "Scaling out") with no nas-ip-address: lines 10-11 added. */
const behindBalancer: Edit = (l, x) =>
  add(`${R} server 127.0.0.1 key k`, 'set vpn sstp proxy-protocol trusted 127.0.0.1')(radiusMode(l, x), x);

const cases: readonly Case[] = [
  // --- lexer
  c('unterminated quote', add("set vpn sstp authentication local-users username vyos password 'vyos"), [
    "line 10: unterminated quote (') starting at column 64",
  ]),
  c('verb other than set', add('delete vpn sstp port'), ['line 10: expected "set"']),
  // Issue 10: the rest of a whole VyOS configuration is skipped (see "accepted: other sections" below).
  c('bare set', add('set'), ['line 10: (nothing): a "set" command needs a configuration path, e.g. "set vpn sstp port 443"']),
  // --- schema: paths
  c('unknown node', add('set vpn sstp foo bar'), ['line 10: vpn sstp foo: Configuration path: [vpn sstp foo] is not valid']),
  c('unknown nested node', add(`set ${U} vyos passwd x`), [
    `line 10: ${U} vyos passwd: Configuration path: [${U} vyos passwd] is not valid`,
  ]),
  c('object property names are not nodes', add('set vpn sstp constructor 1'), [
    'line 10: vpn sstp constructor: Configuration path: [vpn sstp constructor] is not valid',
  ]),
  c('valueless node given a value', add(`set ${U} vyos disable yes`), [
    `line 10: ${U} vyos disable: Configuration path: [${U} vyos disable] does not take a value (got "yes")`,
  ]),
  c('missing value', add('set vpn sstp port'), ['line 10: vpn sstp port: Configuration path: [vpn sstp port] requires a value']),
  c('tag node without its key', add(`set ${U}`), [
    `line 10: ${U}: Configuration path: [${U}] requires a value`,
  ]),
  c('two words for one value', add(`set ${U} vyos password two words`), [
    `line 10: ${U} vyos password: Configuration path: [${U} vyos password two words] is not valid: ` +
      'expected one value (quote values that contain spaces)',
  ]),
  c('conflicting values for a single node', add('set vpn sstp gateway-address 192.0.2.253'), [
    'line 10: vpn sstp gateway-address: conflicting values: "192.0.2.254" (line 3) and "192.0.2.253" (line 10)',
  ]),
  // --- schema: values
  c('bad gateway IPv4', replace(3, 'set vpn sstp gateway-address 192.0.2.256'), [
    'line 3: vpn sstp gateway-address: invalid IPv4 address',
  ]),
  c('bad static-ip', add(`set ${U} vyos static-ip 10.0.0`), [
    `line 10: ${U} vyos static-ip: "10.0.0" is not a valid IPv4 address`,
  ]),
  c('prefix with host bits', replace(4, 'set vpn sstp client-ip-pool subnet 192.0.2.1/25'), [
    'line 4: vpn sstp client-ip-pool subnet: Not a valid CIDR formatted prefix: "192.0.2.1/25" has host bits set ' +
      '(did you mean 192.0.2.0/25?)',
  ]),
  c('prefix without length', replace(4, 'set vpn sstp client-ip-pool subnet 192.0.2.0'), [
    'line 4: vpn sstp client-ip-pool subnet: Not a valid CIDR formatted prefix',
  ]),
  c('bad name-server', add('set vpn sstp name-server dns.example'), [
    'line 10: vpn sstp name-server: "dns.example" is not a valid IPv4 or IPv6 address',
  ]),
  c('port 0', add('set vpn sstp port 0'), ['line 10: vpn sstp port: Port number must be in range 1 to 65535']),
  c('port 65536', add('set vpn sstp port 65536'), ['line 10: vpn sstp port: Port number must be in range 1 to 65535']),
  c('non-numeric port', add('set vpn sstp port https'), ['line 10: vpn sstp port: Port number must be in range 1 to 65535']),
  c('lcp-echo-interval 0', add('set vpn sstp ppp-options lcp-echo-interval 0'), [
    'line 10: vpn sstp ppp-options lcp-echo-interval: Value must be a positive integer',
  ]),
  c('fractional lcp-echo-failure', add('set vpn sstp ppp-options lcp-echo-failure 2.5'), [
    'line 10: vpn sstp ppp-options lcp-echo-failure: Value must be a positive integer',
  ]),
  c('rate-limit out of range', add(`set ${U} vyos rate-limit upload 10000001`), [
    `line 10: ${U} vyos rate-limit upload: Value must be an integer between 1 and 10000000`,
  ]),
  c('unknown protocol', add('set vpn sstp authentication protocols eap'), [
    'line 10: vpn sstp authentication protocols: Invalid value "eap": must be one of pap, chap, mschap, mschap-v2',
  ]),
  c('mode noauth with mppe require', [replace(2, 'set vpn sstp authentication mode noauth'), add('set vpn sstp ppp-options mppe require')], [
    'line 10: vpn sstp ppp-options mppe: "require" cannot work with authentication mode noauth: MPPE keys come from MS-CHAP authentication, ' +
      'so every session would fail',
  ]),
  c('radius key longer than 128', add(`set vpn sstp authentication radius server 192.0.2.10 key ${'k'.repeat(129)}`), [
    'line 10: vpn sstp authentication radius server 192.0.2.10 key: Password must be less then 128 characters',
  ]),
  c('radius fail-time 601', add('set vpn sstp authentication radius server 192.0.2.10 fail-time 601'), [
    'line 10: vpn sstp authentication radius server 192.0.2.10 fail-time: Fail time must be between 0 and 600 seconds',
  ]),
  c('radius server not IPv4', add('set vpn sstp authentication radius server radius.example key s'), [
    'line 10: vpn sstp authentication radius server: "radius.example" is not a valid IPv4 address',
  ]),
  c('IPv6 mask below 48', add('set vpn sstp client-ipv6-pool prefix 2001:db8::/48 mask 47'), [
    'line 10: vpn sstp client-ipv6-pool prefix 2001:db8::/48 mask: Value must be an integer between 48 and 128',
  ]),
  c('bad mppe word', add('set vpn sstp ppp-options mppe always'), [
    'line 10: vpn sstp ppp-options mppe: Invalid value "always": must be one of require, prefer, deny',
  ]),
  // --- commit checks: authentication
  c('mode local without users', remove(1), [
    'line 1: vpn sstp authentication local-users: Authentication mode local requires local users to be configured!',
  ]),
  c('user without password', add(`set ${U} bob static-ip 192.0.2.200`), [
    `line 10: ${U} bob: Password required for local user "bob"`,
  ]),
  c('empty password', replace(1, `set ${U} vyos password ''`), [`line 1: ${U} vyos: Password required for local user "vyos"`]),
  c('one-way rate-limit', add(`set ${U} vyos rate-limit download 1000`), [
    `line 10: ${U} vyos rate-limit: User "vyos" has rate-limit configured for only one direction but both upload ` +
      'and download must be given!',
  ]),
  c('rate-limit above 10000000 kbit/s', add(`set ${U} vyos rate-limit download 10000001`, `set ${U} vyos rate-limit upload 1000`), [
    `line 10: ${U} vyos rate-limit download: Value must be an integer between 1 and 10000000`,
  ]),
  c('radius without server', radiusMode, [
    'line 2: vpn sstp authentication radius server: RADIUS authentication requires at least one server',
  ]),
  c('radius server without key', [radiusMode, add(`${R} server 192.0.2.10`)], [
    'line 10: vpn sstp authentication radius server 192.0.2.10: Missing RADIUS secret key for server "192.0.2.10"',
  ]),
  c('dynamic-author without key', add(`${R} dynamic-author server 192.0.2.11`), [
    'line 10: vpn sstp authentication radius dynamic-author: DAE/CoA server key required!',
  ]),
  c('every radius server disabled', [radiusMode, add(`${R} server 192.0.2.10 key a`, `${R} server 192.0.2.10 disable`, `${R} server 192.0.2.11 key b`, `${R} server 192.0.2.11 disable`)], [
    'line 10: vpn sstp authentication radius server: every RADIUS server is disabled: nobody could log in',
  ]),
  c('radius timeout 0', add(`${R} timeout 0`), ['line 10: vpn sstp authentication radius timeout: Timeout must be between 1 and 60 seconds']),
  c('radius max-try 21', add(`${R} max-try 21`), ['line 10: vpn sstp authentication radius max-try: Maximum tries must be between 1 and 20']),
  c('radius acct-timeout 61', add(`${R} acct-timeout 61`), ['line 10: vpn sstp authentication radius acct-timeout: Timeout must be between 0 and 60 seconds']),
  c('rate-limit attribute unknown', [radiusMode, add(`${R} server 192.0.2.10 key a`, `${R} rate-limit enable`, `${R} rate-limit attribute Speed-Limit`)], [
    'line 12: vpn sstp authentication radius rate-limit attribute: unknown RADIUS attribute "Speed-Limit" (known without a vendor: ' +
      'User-Name, Filter-Id, Framed-MTU, Reply-Message, Framed-Route, Class, Session-Timeout, Idle-Timeout, Callback-Id, Framed-Pool, ' +
      'Acct-Interim-Interval, NAS-Port-Id, Connect-Info)',
  ]),
  c('rate-limit vendor unknown', [radiusMode, add(`${R} server 192.0.2.10 key a`, `${R} rate-limit enable`, `${R} rate-limit vendor NoSuchVendor`)], [
    'line 12: vpn sstp authentication radius rate-limit vendor: unknown RADIUS vendor "NoSuchVendor" ' +
      '(no dictionary.nosuchvendor in /usr/share/accel-ppp/radius or /usr/share/freeradius)',
  ]),
  c('rate-limit vendor without that attribute', [radiusMode, add(`${R} server 192.0.2.10 key a`, `${R} rate-limit enable`, `${R} rate-limit vendor Mikrotik`)], [
    'line 12: vpn sstp authentication radius rate-limit vendor: vendor "Mikrotik" has no attribute "Filter-Id"',
  ]),
  // --- commit checks: addresses
  c('no gateway-address', remove(3), ['vpn sstp gateway-address: Server requires gateway-address to be configured!']),
  c('static-ip equal to the gateway', add(`set ${U} vyos static-ip 192.0.2.254`), [
    `line 10: ${U} vyos static-ip: static-ip 192.0.2.254 of user "vyos" is the gateway-address`,
  ]),
  c('static-ip clash', add(`set ${U} a password x`, `set ${U} a static-ip 192.0.2.200`, `set ${U} b password y`, `set ${U} b static-ip 192.0.2.200`), [
    `line 13: ${U} b static-ip: static-ip 192.0.2.200 of user "b" is already assigned to user "a"`,
  ]),
  c('no pool and no static-ip', remove(4), [
    'vpn sstp client-ip-pool: Local auth mode requires local client-ip-pool or client-ipv6-pool to be configured! ' +
      '(or a static-ip for user "vyos")',
  ]),
  c('three IPv4 name-servers', add('set vpn sstp name-server 10.0.0.3'), [
    'line 10: vpn sstp name-server: Not more then two IPv4 DNS name-servers can be configured',
  ]),
  c(
    'four IPv6 name-servers',
    add(...[1, 2, 3, 4].map((i) => `set vpn sstp name-server 2001:db8::${i}`)),
    ['line 13: vpn sstp name-server: Not more then three IPv6 DNS name-servers can be configured'],
  ),
  c('delegate without prefix', add('set vpn sstp client-ipv6-pool delegate 2001:db8:1::/48 delegation-prefix 56'), [
    'line 10: vpn sstp client-ipv6-pool delegate: IPv6 "delegate" also requires "prefix" to be defined!',
  ]),
  c('delegate without delegation-prefix', add('set vpn sstp client-ipv6-pool prefix 2001:db8::/48', 'set vpn sstp client-ipv6-pool delegate 2001:db8:1::/48'), [
    'line 11: vpn sstp client-ipv6-pool delegate 2001:db8:1::/48: delegation-prefix length required!',
  ]),
  c('delegation-prefix outside 32..64', add('set vpn sstp client-ipv6-pool prefix 2001:db8::/48', 'set vpn sstp client-ipv6-pool delegate 2001:db8:1::/48 delegation-prefix 65'), [
    'line 11: vpn sstp client-ipv6-pool delegate 2001:db8:1::/48 delegation-prefix: Value must be an integer between 32 and 64',
  ]),
  // --- commit checks: ssl
  c('no cert-file', remove(8), ['vpn sstp ssl cert-file: SSL public key file required!']),
  c('no key-file', remove(9), ['vpn sstp ssl key-file: SSL private key file required!']),
  c('cert file not found', replace(8, (x) => `set vpn sstp ssl cert-file ${x.dir}/missing.crt`), (x) => [
    `line 8: vpn sstp ssl cert-file: File "${x.dir}/missing.crt" does not exist`,
  ]),
  c('cert file is a directory', replace(8, (x) => `set vpn sstp ssl cert-file ${x.dir}`), (x) => [
    `line 8: vpn sstp ssl cert-file: File "${x.dir}" is a directory`,
  ]),
  c('cert not PEM', replace(8, (x) => `set vpn sstp ssl cert-file ${x.notPem}`), (x) => [
    `line 8: vpn sstp ssl cert-file: File "${x.notPem}" does not contain a PEM certificate`,
  ]),
  c('CA file not PEM', replace(7, (x) => `set vpn sstp ssl ca-cert-file ${x.serverKey}`), (x) => [
    `line 7: vpn sstp ssl ca-cert-file: File "${x.serverKey}" does not contain a PEM certificate`,
  ]),
  c('key does not match cert', replace(9, (x) => `set vpn sstp ssl key-file ${x.otherKey}`), (x) => [
    `line 9: vpn sstp ssl key-file: Private key in "${x.otherKey}" does not match the certificate in "${x.serverCert}"`,
  ]),
  c('expired cert', replace(8, (x) => `set vpn sstp ssl cert-file ${x.expiredCert}`), (x) => [
    `line 8: vpn sstp ssl cert-file: Certificate in "${x.expiredCert}" expired on 2020-01-02T00:00:00Z`,
  ]),
  // --- several at once
  c('two syntax errors are both reported, in line order', [replace(3, 'set vpn sstp gateway-address 1.2.3'), add('set vpn sstp port 0')], [
    'line 3: vpn sstp gateway-address: invalid IPv4 address',
    'line 10: vpn sstp port: Port number must be in range 1 to 65535',
  ]),
  c('two commit errors are both reported', [add(`set ${U} bob disable`, 'set vpn sstp name-server 10.0.0.3')], [
    `line 10: ${U} bob: Password required for local user "bob"`,
    'line 11: vpn sstp name-server: Not more then two IPv4 DNS name-servers can be configured',
  ]),
  c('syntax errors stop before the commit checks', [add('set vpn sstp port 0'), remove(9)], [
    'line 9: vpn sstp port: Port number must be in range 1 to 65535',
  ]),
  c('empty configuration', (l) => l.filter(() => false).concat(['# nothing here', 'set vpn sstp']), [
    'vpn sstp: the configuration is empty: no "set vpn sstp ..." settings found',
  ]),
];

describe('bad configs: exact messages', () => {
  it('has at least 30 cases', () => assert.ok(cases.length >= 30, `${cases.length}`));
  for (const k of cases) {
    it(k.name, () => {
      const text = k.edits.reduce((l, e) => e(l, ctx), seedLines(ctx)).join('\n') + '\n';
      const r = loadConfigText(text, { files: nodeFileChecker });
      assert.equal(r.ok, false, `expected issues for:\n${text}`);
      assert.equal(formatIssues(r.ok ? [] : r.issues), k.expect(ctx).join('\n'));
    });
  }
  it('the unedited seed example is fine (the cases fail for their edit only)', () => {
    const r = loadConfigText(seedLines(ctx).join('\n'), { files: nodeFileChecker });
    assert.equal(r.ok ? '' : formatIssues(r.issues), '');
    assert.deepEqual(r.notes, []);
  });
  it('accepted with a note: the gateway inside the pool (VyOS allows it; the pool skips it)', () => {
    const r = loadConfigText(replace(3, 'set vpn sstp gateway-address 192.0.2.1')(seedLines(ctx), ctx).join('\n'), { files: nodeFileChecker });
    assert.equal(r.ok ? '' : formatIssues(r.issues), '');
    assert.equal(
      formatNotes(r.notes),
      'line 3: vpn sstp gateway-address: note: 192.0.2.1 lies inside client-ip-pool subnet 192.0.2.0/25; it is never handed out',
    );
    // Notes do not hide errors, and errors do not hide notes.
    const bad = loadConfigText(
      [...replace(3, 'set vpn sstp gateway-address 192.0.2.1')(seedLines(ctx), ctx), 'set vpn sstp name-server 10.0.0.3'].join('\n'),
      { files: nodeFileChecker },
    );
    assert.equal(bad.ok, false);
    assert.equal(bad.notes.length, 1);
  });
  // Features of issue 5, refused by earlier builds as "not supported yet", are now accepted.
  for (const [name, lines] of [
    ['IPv6 prefix and delegate pools', ['set vpn sstp client-ipv6-pool prefix 2001:db8::/48 mask 64', 'set vpn sstp client-ipv6-pool delegate 2001:db8:100::/40 delegation-prefix 56']],
    ['IPv6 name-servers (three)', ['set vpn sstp name-server 2001:db8::53', 'set vpn sstp name-server 2001:db8::54', 'set vpn sstp name-server 2001:db8::55']],
    ['mppe require', ['set vpn sstp ppp-options mppe require']],
    ['mppe prefer', ['set vpn sstp ppp-options mppe prefer']],
    ['rate-limit both ways', [`set ${U} vyos rate-limit download 1000`, `set ${U} vyos rate-limit upload 500`]],
    ['IPv6 only: no IPv4 pool, no gateway', ['set vpn sstp client-ipv6-pool prefix 2001:db8::/48 mask 64']],
    // Issue 10: a whole VyOS configuration; every section but vpn sstp and pki is skipped.
    ['other sections (set system host-name vyos)', ['set system host-name vyos', "set interfaces ethernet eth0 address '192.0.2.1/24'"]],
  ] as const) {
    it(`accepted: ${name}`, () => {
      let base = seedLines(ctx);
      if (name.startsWith('IPv6 only')) base = base.filter((l) => !/gateway-address|client-ip-pool/.test(l));
      const r = loadConfigText([...base, ...lines].join('\n'), { files: nodeFileChecker });
      assert.equal(r.ok ? '' : formatIssues(r.issues), '');
    });
  }
});

/** The real CLI: each case written to a file and given to `sstpd --check`. */
describe('bad configs: sstpd --check exits 1 with the message, 0 on the seed example', () => {
  const sstpd = sstpdPath();
  const check = (file: string): Promise<{ code: number | null; out: string }> =>
    new Promise((resolve) => {
      execFile(process.execPath, [sstpd, '--check', file], (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: stdout + stderr }),
      );
    });
  it('every case', async () => {
    // Run in small parallel batches: each is a Node start (~100 ms).
    for (let i = 0; i < cases.length; i += 8) {
      await Promise.all(
        cases.slice(i, i + 8).map(async (k, j) => {
          const file = join(ctx.dir, `case-${i + j}.conf`);
          await writeFile(file, k.edits.reduce((l, e) => e(l, ctx), seedLines(ctx)).join('\n') + '\n');
          const r = await check(file);
          assert.equal(r.code, 1, `${k.name}: exit code`);
          for (const line of k.expect(ctx)) assert.ok(r.out.includes(line), `${k.name}: output lacks "${line}":\n${r.out}`);
        }),
      );
    }
  });
  it('the seed example', async () => {
    const file = join(ctx.dir, 'seed.conf');
    await writeFile(file, seedLines(ctx).join('\n') + '\n');
    const r = await check(file);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /configuration is valid/);
    assert.doesNotMatch(r.out, /note:/);
  });
  it('a RADIUS node behind a balancer without nas-ip-address: exit 0, a note naming the node and why', async () => {
    const file = join(ctx.dir, 'node-without-nas-ip.conf');
    await writeFile(file, behindBalancer(seedLines(ctx), ctx).join('\n') + '\n');
    const r = await check(file);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /configuration is valid\nline 11: vpn sstp authentication radius nas-ip-address: note: not set on a node behind a balancer \(proxy-protocol\): .*NAS-IP-Address/);
  });
  it('the gateway inside the pool (VyOS smoketest layout): exit 0, one note naming the line', async () => {
    const file = join(ctx.dir, 'gateway-in-pool.conf');
    const lines = replace(4, 'set vpn sstp client-ip-pool subnet 192.0.2.0/24')(replace(3, 'set vpn sstp gateway-address 192.0.2.1')(seedLines(ctx), ctx), ctx);
    await writeFile(file, lines.join('\n') + '\n');
    const r = await check(file);
    assert.equal(r.code, 0, r.out);
    assert.equal(
      r.out,
      `${file}: configuration is valid\n` +
        'line 3: vpn sstp gateway-address: note: 192.0.2.1 lies inside client-ip-pool subnet 192.0.2.0/24; it is never handed out\n',
    );
  });
});

/** The daemon says at start what --check says: one warn line per note. */
describe('bad configs: the daemon logs the notes when it starts', () => {
  it('a RADIUS node behind a balancer without nas-ip-address: a config-note warning at start', async () => {
    const logs: Record<string, unknown>[] = [];
    const dir = join(ctx.dir, 'in-process');
    await mkdir(dir);
    // No accounting server (disable-accounting): start and stop send no Accounting-On/Off to wait for.
    const lines = ['set vpn sstp authentication mode radius', `${R} server 127.0.0.1 key k`, `${R} server 127.0.0.1 disable-accounting`, 'set vpn sstp proxy-protocol trusted 127.0.0.1'];
    const daemon = await startInProcess({ dir, certs: ctx, port: await freeHostPort(), lines, log: collectingLogger(logs) });
    try {
      const notes = logs.filter((l) => l['msg'] === 'config-note');
      assert.deepEqual(
        notes.map((n) => [n['level'], n['path'], n['line']]),
        [[40, 'vpn sstp authentication radius nas-ip-address', 4]],
      );
      assert.match(String(notes[0]!['note']), /^not set on a node behind a balancer \(proxy-protocol\): FreeRADIUS keys SQL accounting/);
    } finally {
      await daemon.stop();
    }
  });
});
