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
  // VyOS's `show sstp-server sessions` columns, in its order.
  assert.deepEqual(t[0]!.split('|').map((h) => h.trim()), ['ifname', 'username', 'ip', 'ip6', 'ip6-dp', 'calling-sid', 'rate-limit', 'state', 'uptime', 'rx-bytes', 'tx-bytes']);
  assert.match(t[2]!, /2001:db8:1::\/64 \| 2001:db8:100::\/56 .*\| 2000\/1000/);
});

test('show sessions as accel-cmd: any columns, order by a column (raw values), match a column by regex', async () => {
  const { sessionRow, sessionsTable, unknownColumn } = await import('../../src/cli/format.js');
  const base = { callingSid: '10.0.0.9', state: 'active' as const, startedAt: 0, txBytes: 0, rxPackets: 0, txPackets: 0, generation: 1, rateLimit: undefined };
  const rows = [
    sessionRow({ ...base, sid: 'a', username: 'bob', ifname: 'sstp1', ip: '192.0.2.3', upAt: 0, rxBytes: 5000 }, 100_000),
    sessionRow({ ...base, sid: 'b', username: 'alice', ifname: 'sstp0', ip: '192.0.2.2', upAt: 50_000, rxBytes: 200 }, 100_000),
    sessionRow({ ...base, sid: 'c', username: 'carol', ifname: 'sstp2', ip: '192.0.2.4', upAt: 90_000, rxBytes: 1_000_000 }, 100_000),
  ];
  const body = (t: string): string[][] => t.split('\n').slice(2).map((l) => l.split('|').map((c) => c.trim()));
  assert.deepEqual(body(sessionsTable(rows, { columns: ['username', 'rx-bytes-raw'], order: 'rx-bytes' })), [['alice', '200'], ['bob', '5000'], ['carol', '1000000']]);
  assert.deepEqual(body(sessionsTable(rows, { columns: ['username'], order: 'uptime' })).map((r) => r[0]), ['carol', 'alice', 'bob']);
  assert.deepEqual(body(sessionsTable(rows, { columns: ['ifname', 'sid'], match: { column: 'username', regex: /^(al|ca)/ } })), [['sstp0', 'b'], ['sstp2', 'c']]);
  assert.equal(unknownColumn(['ifname', 'bogus']), 'bogus');
  assert.equal(unknownColumn(['type', 'called-sid', 'uptime-raw', 'rx-pkts']), undefined);
});

test('show sessions: the drops column sums the data path drop counters', async () => {
  const { sessionRow, sessionsTable } = await import('../../src/cli/format.js');
  const base = { callingSid: '10.0.0.9', state: 'active' as const, startedAt: 0, rxBytes: 0, txBytes: 0, rxPackets: 0, txPackets: 0, generation: 1, rateLimit: undefined, ip: '192.0.2.2', upAt: 0 };
  const dataPath = { offload: true, tunWriteDropped: 2, tunReadDropped: 1, tunSuperPackets: 4, tunReadBatches: 4, tunWriteCalls: 6, aqmDropped: 5, aqmMarked: 9, queueDropped: 3, queuedBytes: 0, queueHeldBytes: 0, pauses: 7 };
  const rows = [
    sessionRow({ ...base, sid: 'a', username: 'bob', ifname: 'sstp1', dataPath: { ...dataPath } }, 100_000),
    sessionRow({ ...base, sid: 'b', username: 'alice', ifname: 'sstp0' }, 100_000),
  ];
  const body = sessionsTable(rows, { columns: ['username', 'drops'], order: 'drops' }).split('\n').slice(2).map((l: string) => l.split('|').map((c: string) => c.trim()));
  assert.deepEqual(body, [['alice', '0'], ['bob', '11']]);
});
