import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatBytes, formatUptime, table } from '../../src/cli/format.js';

test('table renders in accel-ppp layout', () => {
  const t = table(['ifname', 'username', 'ip'], [['sstp0', 'test', '10.0.0.2']]);
  assert.equal(t, [' ifname | username |    ip    ', '--------+----------+----------', ' sstp0  | test     | 10.0.0.2 '].join('\n'));
});

test('bytes and uptime formats', () => {
  assert.equal(formatBytes(210), '210 B');
  assert.equal(formatBytes(16_700), '16.3 KiB');
  assert.equal(formatUptime(946), '00:15:46');
  assert.equal(formatUptime(90_061), '1.01:01:01');
});

test('show sessions rows: rate-limit as down/up, IPv6 prefix and delegated prefix columns', async () => {
  const { sessionRow, sessionsTable } = await import('../../src/cli/format.js');
  const row = sessionRow(
    {
      sid: 'a1', username: 'vyos', ifname: 'sstp0', ip: '192.0.2.1', callingSid: '10.0.0.9', state: 'active', startedAt: 0, upAt: 1000,
      rxBytes: 0, txBytes: 0, rxPackets: 0, txPackets: 0, generation: 1, rateLimit: { downloadKbit: 2000, uploadKbit: 1000 },
      ip6: '2001:db8:1::/64', ip6Dp: '2001:db8:100::/56',
    },
    61_000,
  );
  assert.equal(row.rateLimit, '2000/1000');
  assert.equal(row.ip6, '2001:db8:1::/64');
  assert.equal(row.ip6Dp, '2001:db8:100::/56');
  const t = sessionsTable([row]).split('\n');
  assert.deepEqual(t[0]!.split('|').map((h) => h.trim()).slice(0, 8), ['ifname', 'username', 'ip', 'ip6', 'ip6-dp', 'calling-sid', 'sid', 'rate-limit']);
  assert.match(t[2]!, /2001:db8:1::\/64 \| 2001:db8:100::\/56 .*\| 2000\/1000/);
});
