import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatSessionId, sessionIdBoot, sessionIdNode } from '../../src/radius/session-id.js';

const boot = sessionIdBoot(1_700_000_000_123, 0xabcd);

test('session ids: the node part is the NAS identity, so two nodes of one back end never collide', () => {
  assert.equal(sessionIdNode(undefined), '');
  assert.equal(sessionIdNode({ ipAddress: '10.77.0.21' }), '0a4d0015');
  assert.equal(sessionIdNode({ identifier: 'sstp_1' }), 'sstp_1');
  assert.equal(sessionIdNode({ ipAddress: '10.77.0.21', identifier: 'node1' }), '0a4d0015-node1');
  // Not a plain word (or too long): a digest, so the id stays short and printable.
  const odd = sessionIdNode({ identifier: 'node one/"x"' });
  assert.match(odd, /^[0-9a-f]{16}$/);
  assert.notEqual(odd, sessionIdNode({ identifier: 'node one/"y"' }));
  assert.match(sessionIdNode({ identifier: 'x'.repeat(32) }), /^[0-9a-f]{16}$/);
  const a = formatSessionId(sessionIdNode({ ipAddress: '10.77.0.21' }), boot, 1);
  const b = formatSessionId(sessionIdNode({ ipAddress: '10.77.0.22' }), boot, 1);
  assert.notEqual(a, b, 'same start second, same pid, same number: still distinct');
  assert.equal(a, '0a4d0015-6553f10000abcd-000001');
});

test('session ids: a restart or another process gives a new BOOT part; ids stay short and printable', () => {
  assert.equal(sessionIdBoot(1_700_000_000_999, 0xabcd), boot, 'same second');
  assert.notEqual(sessionIdBoot(1_700_000_001_000, 0xabcd), boot, 'next second');
  assert.notEqual(sessionIdBoot(1_700_000_000_123, 0xabce), boot, 'another process in the same second');
  assert.equal(formatSessionId('', boot, 0x1234567), '6553f10000abcd-1234567');
  const longest = formatSessionId(sessionIdNode({ ipAddress: '255.255.255.255', identifier: 'x'.repeat(31) }), boot, 0xffffffff);
  assert.equal(longest.length, 64, `${longest.length} characters`);
  assert.match(longest, /^[\x21-\x7e]+$/);
});
