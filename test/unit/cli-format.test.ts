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
