import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AddressBook, Ipv4Pool, cidrToRange, intToIpv4, ipv4ToInt } from '../../src/ip/pool.js';

test('cidr ranges skip network and broadcast below /31', () => {
  assert.deepEqual(cidrToRange('192.0.2.0/25'), { first: ipv4ToInt('192.0.2.1'), last: ipv4ToInt('192.0.2.126') });
  assert.deepEqual(cidrToRange('192.0.2.1/32'), { first: ipv4ToInt('192.0.2.1'), last: ipv4ToInt('192.0.2.1') });
  assert.equal(intToIpv4(ipv4ToInt('10.20.30.40')), '10.20.30.40');
});

test('pool hands out first free addresses, never the excluded gateway, and reuses released ones', () => {
  const p = new Ipv4Pool('default', ['192.0.2.0/30'], new Set(['192.0.2.1']));
  assert.equal(p.allocate(), '192.0.2.2');
  assert.equal(p.allocate(), undefined);
  p.release('192.0.2.2');
  assert.equal(p.allocate(), '192.0.2.2');
});

test('pool never hands out an address twice (property)', () => {
  fc.assert(
    fc.property(fc.array(fc.boolean(), { maxLength: 300 }), (ops) => {
      const p = new Ipv4Pool('x', ['10.0.0.0/26']);
      const live = new Set<string>();
      for (const alloc of ops) {
        if (alloc || live.size === 0) {
          const ip = p.allocate();
          if (ip === undefined) {
            assert.equal(live.size, p.size);
            continue;
          }
          assert.ok(!live.has(ip), `duplicate ${ip}`);
          assert.ok(p.contains(ip));
          live.add(ip);
        } else {
          const ip = [...live][0]!;
          live.delete(ip);
          p.release(ip);
        }
      }
      assert.equal(p.inUse, live.size);
    }),
  );
});

test('address book: static addresses are exclusive, exhaustion is an error, release frees', () => {
  const pools = new Map([['default', new Ipv4Pool('default', ['192.0.2.1/32'])]]);
  const book = new AddressBook(pools, 'default');
  assert.deepEqual(book.lease('s1'), { ip: '192.0.2.1' });
  const second = book.lease('s2');
  assert.ok('error' in second && /exhausted/.test(second.error));
  assert.deepEqual(book.lease('s3', '192.0.2.200'), { ip: '192.0.2.200' });
  const clash = book.lease('s4', '192.0.2.200');
  assert.ok('error' in clash && /in use/.test(clash.error));
  book.release('s4', '192.0.2.200'); // not the holder: no effect
  assert.equal(book.holderOf('192.0.2.200'), 's3');
  book.release('s1', '192.0.2.1');
  assert.deepEqual(book.lease('s2'), { ip: '192.0.2.1' });
});

test('address book: a static address inside the pool is not handed to a pool client', () => {
  const pools = new Map([['default', new Ipv4Pool('default', ['192.0.2.0/30'])]]);
  const book = new AddressBook(pools, 'default');
  assert.deepEqual(book.lease('a', '192.0.2.1'), { ip: '192.0.2.1' });
  assert.deepEqual(book.lease('b'), { ip: '192.0.2.2' });
  assert.ok('error' in book.lease('c'));
});

test('address book keeps live leases across a reconfiguration', () => {
  const book = new AddressBook(new Map([['default', new Ipv4Pool('default', ['192.0.2.0/30'])]]), 'default');
  assert.deepEqual(book.lease('a'), { ip: '192.0.2.1' });
  book.reconfigure(new Map([['default', new Ipv4Pool('default', ['192.0.2.0/30'])]]), 'default');
  assert.deepEqual(book.lease('b'), { ip: '192.0.2.2' });
});

test('a named pool (RADIUS Framed-Pool) is leased from; an unknown name is an error', () => {
  const pools = new Map([
    ['default', new Ipv4Pool('default', ['192.0.2.0/30'])],
    ['gold', new Ipv4Pool('gold', ['198.51.100.0/30'])],
  ]);
  const book = new AddressBook(pools, 'default');
  assert.deepEqual(book.lease('s1', undefined, 'gold'), { ip: '198.51.100.1' });
  assert.deepEqual(book.lease('s2'), { ip: '192.0.2.1' });
  assert.deepEqual(book.lease('s3', undefined, 'gold'), { ip: '198.51.100.2' });
  assert.deepEqual(book.lease('s4', undefined, 'gold'), { error: 'address pool "gold" is exhausted' });
  assert.deepEqual(book.lease('s5', undefined, 'silver'), { error: 'address pool "silver" does not exist' });
  book.release('s1', '198.51.100.1');
  assert.deepEqual(book.lease('s6', undefined, 'gold'), { ip: '198.51.100.1' });
});

test('next-pool: an exhausted pool hands over to its next-pool, down the chain, for default-pool and Framed-Pool alike', () => {
  const pools = new Map([
    ['A', new Ipv4Pool('A', ['192.0.2.1/32'], new Set(), 'B')],
    ['B', new Ipv4Pool('B', ['198.51.100.1/32'], new Set(), 'C')],
    ['C', new Ipv4Pool('C', ['203.0.113.1/32'])],
    ['gold', new Ipv4Pool('gold', ['203.0.113.9/32'], new Set(), 'C')],
  ]);
  const book = new AddressBook(pools, 'A');
  assert.deepEqual(book.lease('s1'), { ip: '192.0.2.1' });
  assert.deepEqual(book.lease('s2'), { ip: '198.51.100.1' });
  assert.deepEqual(book.lease('s3', undefined, 'gold'), { ip: '203.0.113.9' });
  assert.deepEqual(book.lease('s4', undefined, 'gold'), { ip: '203.0.113.1' });
  assert.deepEqual(book.lease('s5'), { error: 'address pool "A" is exhausted (next-pool chain "A" → "B" → "C")' });
  // A freed address of the first pool is preferred again over the later ones.
  book.release('s1', '192.0.2.1');
  book.release('s4', '203.0.113.1');
  assert.deepEqual(book.lease('s6'), { ip: '192.0.2.1' });
  assert.deepEqual(book.lease('s7'), { ip: '203.0.113.1' });
});

test('next-pool: a chain that loops (a reload half-swapped) ends instead of spinning', () => {
  const pools = new Map([
    ['A', new Ipv4Pool('A', ['192.0.2.1/32'], new Set(), 'B')],
    ['B', new Ipv4Pool('B', ['198.51.100.1/32'], new Set(), 'A')],
  ]);
  const book = new AddressBook(pools, 'A');
  assert.deepEqual(book.lease('s1'), { ip: '192.0.2.1' });
  assert.deepEqual(book.lease('s2'), { ip: '198.51.100.1' });
  assert.deepEqual(book.lease('s3'), { error: 'address pool "A" is exhausted (next-pool chain "A" → "B")' });
});
