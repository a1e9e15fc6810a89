/**
 * The seed's every `authentication radius …` command parses, validates and lands in the model; a
 * node behind a balancer without nas-ip-address gets a note.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfigText, formatIssues, formatNotes } from '../../src/config/load.js';

const SEED_RADIUS = [
  'set vpn sstp authentication mode radius',
  'set vpn sstp authentication radius server 192.0.2.10 port 1812',
  'set vpn sstp authentication radius server 192.0.2.10 key s3cret',
  'set vpn sstp authentication radius server 192.0.2.10 fail-time 30',
  'set vpn sstp authentication radius server 192.0.2.11 key other',
  'set vpn sstp authentication radius server 192.0.2.11 acct-port 2813',
  'set vpn sstp authentication radius server 192.0.2.11 require-message-authenticator',
  'set vpn sstp authentication radius server 192.0.2.12 key third',
  'set vpn sstp authentication radius server 192.0.2.12 disable',
  'set vpn sstp authentication radius acct-timeout 0',
  'set vpn sstp authentication radius dynamic-author server 127.0.0.1',
  'set vpn sstp authentication radius dynamic-author port 3799',
  'set vpn sstp authentication radius dynamic-author key daekey',
  'set vpn sstp authentication radius max-try 2',
  'set vpn sstp authentication radius timeout 1',
  'set vpn sstp authentication radius nas-identifier sstp-nas',
  'set vpn sstp authentication radius nas-ip-address 203.0.113.1',
  'set vpn sstp authentication radius source-address 127.0.0.1',
  'set vpn sstp authentication radius rate-limit attribute Mikrotik-Rate-Limit',
  'set vpn sstp authentication radius rate-limit vendor Mikrotik',
  'set vpn sstp authentication radius rate-limit enable',
  'set vpn sstp gateway-address 192.0.2.254',
  'set vpn sstp ssl cert-file /x.crt',
  'set vpn sstp ssl key-file /x.key',
];

test('every seed radius command lands in the model, with VyOS defaults', () => {
  const r = loadConfigText(SEED_RADIUS.join('\n'));
  assert.ok(r.ok, r.ok ? '' : formatIssues(r.issues));
  const c = r.config;
  assert.equal(c.authMode, 'radius');
  assert.deepEqual(c.radius, {
    servers: [
      { address: '192.0.2.10', key: 's3cret', port: 1812, acctPort: 1813, failTime: 30, disabled: false, requireMessageAuthenticator: false },
      { address: '192.0.2.11', key: 'other', port: 1812, acctPort: 2813, failTime: 0, disabled: false, requireMessageAuthenticator: true },
      { address: '192.0.2.12', key: 'third', port: 1812, acctPort: 1813, failTime: 0, disabled: true, requireMessageAuthenticator: false },
    ],
    acctTimeout: 0,
    timeout: 1,
    maxTry: 2,
    nasIdentifier: 'sstp-nas',
    nasIpAddress: '203.0.113.1',
    sourceAddress: '127.0.0.1',
    dynamicAuthor: { server: '127.0.0.1', port: 3799, key: 'daekey' },
    rateLimit: { enabled: true, attribute: 'Mikrotik-Rate-Limit', vendor: 'Mikrotik' },
  });
});

test('defaults: timeout 3, max-try 3, acct-timeout 3, DAE port 1700, Filter-Id', () => {
  const r = loadConfigText(
    [...SEED_RADIUS.slice(0, 3), 'set vpn sstp authentication radius dynamic-author server 127.0.0.1', 'set vpn sstp authentication radius dynamic-author key k', ...SEED_RADIUS.slice(-3)].join('\n'),
  );
  assert.ok(r.ok, r.ok ? '' : formatIssues(r.issues));
  const rad = r.config.radius!;
  assert.equal(rad.timeout, 3);
  assert.equal(rad.maxTry, 3);
  assert.equal(rad.acctTimeout, 3);
  assert.equal(rad.dynamicAuthor?.port, 1700);
  assert.deepEqual(rad.rateLimit, { enabled: false, attribute: 'Filter-Id' });
});

test('without dynamic-author server, the DAE listener binds to nas-ip-address (the seed\'s text)', () => {
  const lines = [...SEED_RADIUS.slice(0, 3), 'set vpn sstp authentication radius nas-ip-address 127.0.0.5', 'set vpn sstp authentication radius dynamic-author key k', ...SEED_RADIUS.slice(-3)];
  const r = loadConfigText(lines.join('\n'));
  assert.ok(r.ok, r.ok ? '' : formatIssues(r.issues));
  assert.deepEqual(r.config.radius?.dynamicAuthor, { server: '127.0.0.5', port: 1700, key: 'k' });
  const none = loadConfigText([...SEED_RADIUS.slice(0, 3), 'set vpn sstp authentication radius nas-ip-address 127.0.0.5', ...SEED_RADIUS.slice(-3)].join('\n'));
  assert.ok(none.ok);
  assert.equal(none.config.radius?.dynamicAuthor, undefined, 'no key, no listener');
});

test('behind a balancer (proxy-protocol) without nas-ip-address: a note naming the node and why, not an error', () => {
  const withoutNasIp = SEED_RADIUS.filter((l) => !l.includes('nas-ip-address'));
  const proxy = 'set vpn sstp proxy-protocol trusted 192.0.2.50';
  const notesOf = (lines: readonly string[]): string => {
    const r = loadConfigText(lines.join('\n'));
    assert.ok(r.ok, r.ok ? '' : formatIssues(r.issues));
    return formatNotes(r.notes);
  };
  assert.equal(
    notesOf([...withoutNasIp, proxy]),
    `line ${withoutNasIp.length + 1}: vpn sstp authentication radius nas-ip-address: note: not set on a node behind a balancer (proxy-protocol): ` +
      "FreeRADIUS keys SQL accounting, its IP pool and Accounting-On on NAS-IP-Address, so nodes without distinct ones close or reuse each other's " +
      'sessions and leases (set a distinct nas-ip-address on each node; a single node behind a proxy may ignore this)',
  );
  assert.equal(notesOf([...SEED_RADIUS, proxy]), '', 'with nas-ip-address');
  assert.equal(notesOf(withoutNasIp), '', 'not behind a balancer');
  const local = ['set vpn sstp authentication mode local', 'set vpn sstp authentication local-users username u password p', 'set vpn sstp client-ip-pool subnet 192.0.2.0/25'];
  assert.equal(notesOf([...withoutNasIp.filter((l) => !l.includes('authentication')), ...local, proxy]), '', 'local authentication');
});
