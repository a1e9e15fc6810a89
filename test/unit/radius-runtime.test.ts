/**
 * The RADIUS part of a generation built from VyOS nodes: `backup` and `priority` (accel-ppp
 * `weight`) reach the client, which chooses by them (test/core/radius-client.test.ts),
 * `disable-accounting` takes a server out of accounting (accel-ppp acct-port=0), `rate-limit
 * multiplier` scales the rates RADIUS sends.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatIssues, loadConfigText } from '../../src/config/load.js';
import { buildRadiusRuntime } from '../../src/server/runtime.js';

const S = 'set vpn sstp';
const lines = [
  `${S} authentication mode radius`,
  `${S} authentication radius server 192.0.2.1 key one`,
  `${S} authentication radius server 192.0.2.1 backup`,
  `${S} authentication radius server 192.0.2.2 key two`,
  `${S} authentication radius server 192.0.2.2 disable-accounting`,
  `${S} authentication radius server 192.0.2.3 key three`,
  `${S} authentication radius server 192.0.2.3 priority 10`,
  `${S} authentication radius server 192.0.2.4 key four`,
  `${S} authentication radius server 192.0.2.4 disable`,
  `${S} authentication radius rate-limit enable`,
  `${S} authentication radius rate-limit multiplier 0.5`,
  `${S} client-ip-pool subnet 192.0.2.0/25`,
  `${S} gateway-address 192.0.2.254`,
  `${S} ssl ca-cert-file /etc/ca.pem`,
  `${S} ssl cert-file /etc/cert.pem`,
  `${S} ssl key-file /etc/key.pem`,
];

test('backup and priority passed on, disable-accounting = no accounting port, disabled left out, multiplier applied', () => {
  const r = loadConfigText(lines.join('\n') + '\n');
  assert.ok(r.ok, r.ok ? '' : formatIssues(r.issues));
  const rt = buildRadiusRuntime(r.config);
  assert.deepEqual(
    rt?.client.servers.map((s) => [s.address, s.authPort, s.acctPort, s.weight ?? 1, s.backup ?? false]),
    [
      ['192.0.2.1', 1812, 1813, 1, true],
      ['192.0.2.2', 1812, 0, 1, false],
      ['192.0.2.3', 1812, 1813, 10, false],
    ],
  );
  assert.equal(rt?.rateLimit?.multiplier, 0.5);
});
