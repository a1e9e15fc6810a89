/**
 * The data gate's rule (src/ppp/data-gate.ts) and the per-session source policy (src/ip/source-filter.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataGate } from '../../src/ppp/data-gate.js';
import { SourceFilter } from '../../src/ip/source-filter.js';
import { MppeDecryptor, MppeEncryptor } from '../../src/ppp/mppe-cipher.js';
import { parsePrefix6 } from '../../src/ip/ipv6-addr.js';
import { icmp6EchoRequest } from '../support/ipv6.js';
import { icmpEchoRequest } from '../support/icmp.js';

const V4 = 0x0021;
const V6 = 0x0057;
const v4 = (src: string): Buffer => icmpEchoRequest(src, '192.0.2.254', 1, 1, Buffer.alloc(8));
const v6 = (src: string, dst = '2001:db8:ffff::1'): Buffer => icmp6EchoRequest(src, dst, 1, 1);
const KEY = Buffer.alloc(16, 7);
const DIR = { strength: 128 as const, stateless: true };

function openGate(o: { mppeRequired?: boolean; awaitLowerVerification?: boolean } = {}): DataGate {
  const g = new DataGate({ mppeRequired: o.mppeRequired ?? false, awaitLowerVerification: o.awaitLowerVerification ?? false });
  g.ipv4Open = true;
  g.ipv6Open = true;
  return g;
}

test('a packet passes only while its NCP is open and the lower layer vouches for the link', () => {
  const g = new DataGate({ mppeRequired: false, awaitLowerVerification: true });
  assert.equal(g.admitIn(V4, v4('192.0.2.1'), false), false);
  assert.equal(g.drops['not-open'], 1);
  g.ipv4Open = true;
  assert.equal(g.admitIn(V4, v4('192.0.2.1'), false), false, 'binding not verified yet');
  assert.equal(g.drops.unverified, 1);
  assert.equal(g.protocolOut(4), 0);
  g.lowerVerified = true;
  assert.equal(g.admitIn(V4, v4('192.0.2.1'), false), true);
  assert.equal(g.protocolOut(4), V4);
  assert.equal(g.protocolOut(6), 0, 'IPV6CP is not open');
  assert.equal(g.admitIn(V6, v6('2001:db8::1'), false), false);
  g.close();
  assert.equal(g.protocolOut(4), 0);
});

test('MPPE: clear data is refused while the peer encrypts; require holds everything until both ways are up', () => {
  const g = openGate({ mppeRequired: true });
  assert.equal(g.heldForMppe, true);
  assert.equal(g.admitIn(V4, v4('192.0.2.1'), false), false);
  assert.equal(g.protocolOut(4), 0);
  g.encryptor = new MppeEncryptor(KEY, DIR);
  assert.equal(g.protocolOut(4), 0, 'one direction is not enough under require');
  g.decryptor = new MppeDecryptor(KEY, DIR);
  assert.equal(g.protocolOut(4), V4);
  assert.equal(g.txOverhead, 4);
  assert.equal(g.admitIn(V4, v4('192.0.2.1'), false), false, 'clear while MPPE is on');
  assert.equal(g.admitIn(V4, v4('192.0.2.1'), true), true, 'decrypted');
  assert.equal(g.drops.mppe, 2);
  const prefer = openGate();
  prefer.decryptor = new MppeDecryptor(KEY, DIR);
  assert.equal(prefer.admitIn(V6, v6('2001:db8::1'), false), false, 'without require too: the peer encrypts, so clear is forged');
});

test('malformed packets: too short for their header, or a version that does not match the protocol', () => {
  const g = openGate();
  assert.equal(g.admitIn(V4, Buffer.from('4500001400000000', 'hex'), false), false);
  assert.equal(g.admitIn(V4, v6('2001:db8::1'), false), false);
  assert.equal(g.admitIn(V6, v4('192.0.2.1'), false), false);
  assert.equal(g.admitIn(V6, Buffer.alloc(39, 0x60), false), false);
  assert.equal(g.drops.malformed, 4);
});

test('drops are reported once per reason, with the forged source', () => {
  const g = openGate();
  const f = new SourceFilter();
  f.setIpv4('192.0.2.1');
  g.sources = f;
  g.admitIn(V4, v4('198.51.100.9'), false);
  g.admitIn(V4, v4('198.51.100.10'), false);
  g.admitIn(V4, Buffer.alloc(4, 0x45), false);
  assert.deepEqual(g.takeFirstDrops(), [{ reason: 'source', source: '198.51.100.9' }, { reason: 'malformed' }]);
  g.admitIn(V4, v4('198.51.100.11'), false);
  assert.deepEqual(g.takeFirstDrops(), [], 'not again for the same reason');
  assert.equal(g.drops.source, 3);
});

test('IPv4 source policy: the address, Framed-Routes (host bits ignored), nothing else; bad routes are skipped', () => {
  const f = new SourceFilter();
  assert.equal(f.admits(v4('192.0.2.1')), false, 'nothing before an address is given');
  f.setIpv4('192.0.2.1');
  f.setIpv4Routes(['10.1.2.3/16', '172.16.5.0/24', 'garbage', '10.9.9.9/33', '203.0.113.7']);
  for (const ok of ['192.0.2.1', '10.1.0.1', '10.1.255.255', '172.16.5.200', '203.0.113.7']) assert.equal(f.admits(v4(ok)), true, ok);
  for (const bad of ['192.0.2.2', '10.2.0.1', '172.16.6.1', '0.0.0.0', '255.255.255.255', '203.0.113.8']) assert.equal(f.admits(v4(bad)), false, bad);
  f.setIpv4Routes([]);
  assert.equal(f.admits(v4('10.1.0.1')), false, 'routes replaced');
  f.setIpv4(undefined);
  assert.equal(f.admits(v4('192.0.2.1')), false);
});

test('IPv6 source policy: prefixes (any length), the link-local, and :: only towards link-scope multicast', () => {
  const f = new SourceFilter();
  const prefix = parsePrefix6('2001:db8:1:7::/64')!;
  f.addIpv6Prefix(prefix);
  f.addIpv6Prefix(prefix);
  f.addIpv6Prefix(parsePrefix6('2001:db8:100::/57')!);
  f.setIpv6LinkLocal('fe80::1234');
  for (const ok of ['2001:db8:1:7::5', '2001:db8:1:7:ffff::1', '2001:db8:100:7f::1', 'fe80::1234']) assert.equal(f.admits(v6(ok)), true, ok);
  for (const bad of ['2001:db8:1:8::5', '2001:db8:100:80::1', 'fe80::1235', '::1']) assert.equal(f.admits(v6(bad)), false, bad);
  assert.equal(f.admits(v6('::', 'ff02::1:ff00:5')), true, 'DAD');
  assert.equal(f.admits(v6('::', '2001:db8:ffff::1')), false);
  f.removeIpv6Prefix(prefix);
  assert.equal(f.admits(v6('2001:db8:1:7::5')), false, 'removed once, although added twice');
});

test('held (pre-up hooks running): nothing passes either way, counted as not-open; released, data flows', () => {
  const g = openGate();
  g.held = true;
  assert.equal(g.admitIn(V4, v4('192.0.2.1'), false), false);
  assert.equal(g.admitIn(V6, v6('2001:db8::1'), false), false);
  assert.equal(g.drops['not-open'], 2);
  assert.equal(g.protocolOut(4), 0);
  assert.equal(g.protocolOut(6), 0);
  g.held = false;
  assert.equal(g.admitIn(V4, v4('192.0.2.1'), false), true);
  assert.equal(g.protocolOut(6), V6);
});
