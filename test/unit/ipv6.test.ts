/**
 * IPv6 codecs and services on their own: RFC 5952 text, prefixes, checksums, the RA layout, the
 * IPV6CP interface-identifier rules, the DHCPv6 server, and the prefix pools.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatIpv6, parsePrefix6, prefixContains, prefixesOverlap, withInterfaceId, formatPrefix6 } from '../../src/ip/ipv6-addr.js';
import { Ipv6PrefixBook, Ipv6PrefixPool, type Ipv6PoolSet, type NamedIpv6Pool } from '../../src/ip/pool6.js';
import { NH_ICMPV6, buildIpv6Packet, checksumOk, parseIpv6Packet, upperChecksum } from '../../src/ipv6/packet.js';
import { buildRouterAdvertisement } from '../../src/ipv6/nd.js';
import { Dhcpv6Server, MSG, decodeMessage } from '../../src/ipv6/dhcpv6.js';
import { ServerIidOption, linkLocal, parseIid, randomIid } from '../../src/ppp/ipv6cp/iid.js';
import { addr6 } from '../support/ipv6.js';

test('RFC 5952 text: longest zero run, leftmost on ties, no "::" for one group, lower case', () => {
  const cases: [string, string][] = [
    ['2001:0db8:0000:0000:0000:0000:0002:0001', '2001:db8::2:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['FE80:0:0:0:0:0:0:A', 'fe80::a'],
  ];
  for (const [input, want] of cases) assert.equal(formatIpv6(addr6(input)), want, input);
});

test('prefixes: overlap and containment', () => {
  const a = parsePrefix6('2001:db8::/32')!;
  const b = parsePrefix6('2001:db8:1::/48')!;
  const c = parsePrefix6('2001:db9::/32')!;
  assert.equal(prefixesOverlap(a, b), true);
  assert.equal(prefixContains(a, b), true);
  assert.equal(prefixContains(b, a), false);
  assert.equal(prefixesOverlap(a, c), false);
  assert.equal(parsePrefix6('2001:db8::1/64'), undefined, 'host bits set');
  assert.equal(formatIpv6(withInterfaceId(parsePrefix6('2001:db8:1:2::/64')!, Buffer.from('0011223344556677', 'hex'))), '2001:db8:1:2:11:2233:4455:6677');
});

test('ICMPv6 checksum: a packet we build verifies, a flipped bit does not', () => {
  const p = buildIpv6Packet(addr6('fe80::1'), addr6('fe80::2'), NH_ICMPV6, 255, Buffer.from('8000000000010001abcd', 'hex'));
  const parsed = parseIpv6Packet(p)!;
  assert.equal(checksumOk(parsed), true);
  p[p.length - 1] ^= 1;
  assert.equal(checksumOk(parseIpv6Packet(p)!), false);
  // A hand-checked vector: echo request fe80::1 → fe80::2, id 1 seq 1, no data.
  const body = Buffer.from('8000000000010001', 'hex');
  assert.equal(upperChecksum(addr6('fe80::1'), addr6('fe80::2'), 58, body).toString(16), '82b6'); // computed independently (Python)
  assert.equal(parseIpv6Packet(Buffer.alloc(39)), undefined);
  assert.equal(parseIpv6Packet(Buffer.concat([Buffer.from([0x60, 0, 0, 0, 0, 50, 58, 255]), Buffer.alloc(32)])), undefined, 'payload length beyond the packet');
});

test('RA layout: header, Prefix Information, MTU, RDNSS; A only for a /64', () => {
  const ra = buildRouterAdvertisement({
    source: addr6('fe80::1'),
    prefix: parsePrefix6('2001:db8:1:2::/64')!,
    mtu: 1452,
    dns: [addr6('2001:db8::53')],
    otherConfig: true,
  });
  assert.equal(
    ra.toString('hex'),
    '86000000' + '40' + '40' + '0708' + '00000000' + '00000000' +
      '030440c0' + '00278d00' + '00093a80' + '00000000' + '20010db8000100020000000000000000' +
      '0501' + '0000' + '000005ac' +
      '1903' + '0000' + '00000708' + '20010db8000000000000000000000053',
  );
  const short = buildRouterAdvertisement({ source: addr6('fe80::1'), prefix: parsePrefix6('2001:db8::/56')!, mtu: 1400, dns: [], otherConfig: false });
  assert.equal(short[16 + 3], 0x80, 'a /56 is on-link only (SLAAC needs a /64)');
  assert.equal(short.length, 16 + 32 + 8, 'no RDNSS without name servers');
});

test('IPV6CP interface ids: zero or ours is Nak\'d with a fresh one; ids are never zero and U/L is cleared', () => {
  let n = 0;
  const random = (k: number): Buffer => Buffer.alloc(k, ++n);
  const o = new ServerIidOption(random, 5);
  const ours = o.local;
  assert.notDeepEqual(ours, Buffer.alloc(8));
  assert.equal(ours[0]! & 0x02, 0);
  assert.equal(o.check(Buffer.from('1122334455667788', 'hex')).verdict, 'ack');
  const zero = o.check(Buffer.alloc(8));
  assert.equal(zero.verdict, 'nak');
  assert.notDeepEqual(zero.verdict === 'nak' && zero.data, ours);
  assert.equal(o.check(Buffer.from(ours)).verdict, 'nak');
  assert.equal(o.check(Buffer.alloc(7)).verdict, 'reject');
  o.commit(Buffer.from('1122334455667788', 'hex'));
  assert.equal(o.nakked(Buffer.from('1122334455667788', 'hex')), 'ok');
  assert.notDeepEqual(o.local, Buffer.from('1122334455667788', 'hex'), 'a suggestion equal to the peer\'s id is not taken');
  const zeros = (k: number): Buffer => Buffer.alloc(k, 0);
  let calls = 0;
  const thenOnes = (k: number): Buffer => (calls++ < 3 ? zeros(k) : Buffer.alloc(k, 0x11));
  assert.equal(randomIid(thenOnes).toString('hex'), '1111111111111111', 'all-zero draws are retried');
  assert.equal(linkLocal(Buffer.from('0211223344556677', 'hex')), 'fe80::211:2233:4455:6677');
});

test('DHCPv6 server: malformed messages are ignored, never thrown (property)', () => {
  const server = new Dhcpv6Server({ serverDuid: Buffer.from('0003000102aabbccddee', 'hex'), dns: [], prefixes: { acquire: () => parsePrefix6('2001:db8::/56')!, release: () => undefined } });
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      for (const ev of server.handle(Buffer.from(bytes))) if (ev.type === 'reply') decodeMessage(ev.message);
    }),
  );
  assert.deepEqual(server.handle(Buffer.from([MSG.SOLICIT, 1, 2])), [{ type: 'ignored', reason: 'dhcpv6: message shorter than 4 bytes' }]);
});

// ---------------------------------------------------------------------------------------------
// Pools

test('prefix pool: /64s out of a /62 in order, exhaustion, reuse after release', () => {
  const p = new Ipv6PrefixPool('x', [{ prefix: '2001:db8::/62', childLen: 64 }]);
  const got = [0, 1, 2, 3].map(() => formatPrefix6(p.allocate()!));
  assert.deepEqual(got, ['2001:db8::/64', '2001:db8:0:1::/64', '2001:db8:0:2::/64', '2001:db8:0:3::/64']);
  assert.equal(p.allocate(), undefined);
  p.release(parsePrefix6('2001:db8:0:2::/64')!);
  assert.equal(formatPrefix6(p.allocate()!), '2001:db8:0:2::/64');
  assert.equal(p.claim(parsePrefix6('2001:db8:0:2::/64')!), false);
  assert.equal(p.contains(parsePrefix6('2001:db8:0:2::/63')!), false, 'wrong length');
});

test('prefix pool: a huge range (a /32 cut into /64s) allocates without preallocating', () => {
  const p = new Ipv6PrefixPool('x', [{ prefix: '2001:db8::/32', childLen: 64 }, { prefix: '2001:db9::/48', childLen: 128 }]);
  for (let i = 0; i < 1000; i++) p.allocate();
  assert.equal(p.inUse, 1000);
  assert.equal(formatPrefix6(p.allocate()!), '2001:db8:0:3e8::/64');
  assert.throws(() => new Ipv6PrefixPool('bad', [{ prefix: '2001:db8::/64', childLen: 56 }]), RangeError);
});

test('property: the pools never hand out a prefix twice; exhaustion is clean', () => {
  fc.assert(
    fc.property(fc.array(fc.boolean(), { maxLength: 200 }), (ops) => {
      const p = new Ipv6PrefixPool('x', [{ prefix: '2001:db8::/58', childLen: 64 }, { prefix: '2001:db8:1::/62', childLen: 64 }]);
      const live = new Set<string>();
      for (const alloc of ops) {
        if (alloc || live.size === 0) {
          const x = p.allocate();
          if (!x) {
            assert.equal(live.size, 64 + 4);
            continue;
          }
          const k = formatPrefix6(x);
          assert.equal(live.has(k), false, `${k} handed out twice`);
          live.add(k);
        } else {
          const k = [...live][0]!;
          live.delete(k);
          p.release(parsePrefix6(k)!);
        }
      }
      assert.equal(p.inUse, live.size);
    }),
  );
});

/** One pool named "default", the default one (the 1.3 unnamed pool). */
const single = (pool: NamedIpv6Pool): Ipv6PoolSet => ({ pools: new Map([['default', pool]]), defaultPool: 'default' });

test('book: overlapping prefix and delegate pools never hand out overlapping prefixes; leases are per session', () => {
  const book = new Ipv6PrefixBook(
    single({
      prefix: new Ipv6PrefixPool('p', [{ prefix: '2001:db8::/56', childLen: 64 }]),
      delegate: new Ipv6PrefixPool('d', [{ prefix: '2001:db8::/56', childLen: 60 }]),
    }),
  );
  const a = book.lease('s1', 'prefix');
  assert.ok('prefix' in a);
  assert.equal(formatPrefix6(a.prefix), '2001:db8::/64');
  const d = book.lease('s2', 'delegate');
  assert.ok('prefix' in d);
  assert.equal(formatPrefix6(d.prefix), '2001:db8:0:10::/60', 'the /60 holding s1\'s /64 is skipped');
  book.release('s2', a.prefix);
  assert.equal(book.holderOf(a.prefix), 's1', 'only the holder releases');
  book.release('s1', a.prefix);
  assert.equal(book.holderOf(a.prefix), undefined);
  assert.deepEqual(new Ipv6PrefixBook({ pools: new Map() }).lease('s', 'delegate'), { error: 'no IPv6 delegate pool configured' });
  assert.deepEqual(book.lease('s', 'delegate', 'nope'), { error: 'IPv6 delegate pool "nope" does not exist' });
});

test('book: a reload keeps live leases (re-claimed in the new pools)', () => {
  const book = new Ipv6PrefixBook(single({ prefix: new Ipv6PrefixPool('p', [{ prefix: '2001:db8::/63', childLen: 64 }]) }));
  const a = book.lease('s1', 'prefix');
  assert.ok('prefix' in a);
  book.reconfigure(single({ prefix: new Ipv6PrefixPool('p2', [{ prefix: '2001:db8::/63', childLen: 64 }]) }));
  const b = book.lease('s2', 'prefix');
  assert.ok('prefix' in b);
  assert.notEqual(formatPrefix6(b.prefix), formatPrefix6(a.prefix));
  assert.deepEqual(book.lease('s3', 'prefix'), { error: 'IPv6 prefix pool "default" is exhausted' });
});

test('book: named pools picked by name (Framed-IPv6-Pool, Delegated-IPv6-Prefix-Pool), else default-ipv6-pool; no chain', () => {
  const pool = (name: string, prefix: string, delegate?: string): [string, NamedIpv6Pool] => [
    name,
    {
      prefix: new Ipv6PrefixPool(name, [{ prefix, childLen: 64 }]),
      ...(delegate ? { delegate: new Ipv6PrefixPool(`${name}-delegate`, [{ prefix: delegate, childLen: 56 }]) } : {}),
    },
  ];
  const book = new Ipv6PrefixBook({ pools: new Map([pool('A', '2001:db8:a::/63', '2001:db8:a00::/56'), pool('B', '2001:db8:b::/64')]), defaultPool: 'A' });
  const leased = (r: ReturnType<Ipv6PrefixBook['lease']>): string => ('prefix' in r ? formatPrefix6(r.prefix) : r.error);
  assert.equal(leased(book.lease('s1', 'prefix')), '2001:db8:a::/64', 'the default pool');
  assert.equal(leased(book.lease('s2', 'prefix', 'B')), '2001:db8:b::/64', 'the pool RADIUS named');
  assert.equal(leased(book.lease('s3', 'prefix', 'B')), 'IPv6 prefix pool "B" is exhausted', 'no next pool for IPv6 (VyOS has none)');
  assert.equal(leased(book.lease('s3', 'delegate', 'B')), 'IPv6 pool "B" has no delegate ranges');
  assert.equal(leased(book.lease('s3', 'delegate')), '2001:db8:a00::/56', 'delegation from the default pool');
  assert.equal(book.offers('delegate'), true);
  assert.equal(book.offers('delegate', 'Z'), true, 'a named pool is always tried, so a missing one is reported');
  assert.equal(new Ipv6PrefixBook({ pools: new Map([pool('B', '2001:db8:b::/64')]) }).offers('prefix'), false, 'no default-ipv6-pool: nothing unless named');
  assert.deepEqual(book.poolStats().map((p) => [p.name, p.used]), [['A', 1], ['A-delegate', 1], ['B', 1]]);
});

test('ipv6-interface-id: "a:b:c:d" is four hex groups; a fixed id is ours in every session and kept when Nak\'d', () => {
  assert.equal(parseIid('0:0:0:1')?.toString('hex'), '0000000000000001');
  assert.equal(parseIid('1234:5:67:8')?.toString('hex'), '1234000500670008');
  for (const bad of ['0:0:0:0', '1:2:3', '1:2:3:4:5', 'random', '12345:0:0:1']) assert.equal(parseIid(bad), undefined, bad);
  const fixed = parseIid('0:0:0:1')!;
  const o = new ServerIidOption((k) => Buffer.alloc(k, 7), 3, fixed);
  assert.deepEqual(o.request(), fixed);
  assert.equal(o.check(Buffer.from(fixed)).verdict, 'nak', 'the peer may not take our id');
  assert.equal(o.nakked(Buffer.from('1122334455667788', 'hex')), 'ok');
  assert.deepEqual(o.request(), fixed);
  o.nakked(Buffer.from('1122334455667788', 'hex'));
  assert.deepEqual(o.nakked(Buffer.from('1122334455667788', 'hex')), { fail: 'peer keeps refusing our IPV6CP interface identifier' });
});
