/**
 * IPv4 pools over VyOS 1.4 `range` values: a prefix, a host (address/length) or a.b.c.d-e.f.g.h,
 * mixed in one pool; the gateway inside a range is skipped; overlapping pools never lease one
 * address twice.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AddressBook, Ipv4Pool, intToIpv4, ipv4ToInt, parsePoolRange } from '../../src/ip/pool.js';

const span = (v: string): [string, string] => {
  const r = parsePoolRange(v);
  return [intToIpv4(r.first), intToIpv4(r.last)];
};

test('the three range forms', () => {
  assert.deepEqual(span('192.0.2.0/24'), ['192.0.2.1', '192.0.2.254'], 'a prefix: no network, no broadcast');
  assert.deepEqual(span('192.0.2.5/24'), ['192.0.2.5', '192.0.2.254'], 'a host: from the address on, no broadcast');
  assert.deepEqual(span('192.0.2.5/31'), ['192.0.2.5', '192.0.2.5'], 'a host of a /31: both addresses are usable, this is the second');
  assert.deepEqual(span('192.0.2.4/31'), ['192.0.2.4', '192.0.2.5']);
  assert.deepEqual(span('192.0.2.7/32'), ['192.0.2.7', '192.0.2.7']);
  assert.deepEqual(span('192.0.2.10-192.0.2.20'), ['192.0.2.10', '192.0.2.20'], 'a range: both ends');
  assert.deepEqual(span('192.0.2.0-192.0.2.255'), ['192.0.2.0', '192.0.2.255'], 'a range is taken as written');
  for (const bad of ['192.0.2.20-192.0.2.10', '192.0.2.10-192.0.3.1', 'x-y']) assert.throws(() => parsePoolRange(bad), /bad pool range/, bad);
});

test('VyOS smoketest pools: POOL2 192.0.2.10-192.0.2.20 has 11 addresses; a mixed pool hands out in order', () => {
  const p = new Ipv4Pool('POOL2', ['192.0.2.10-192.0.2.20']);
  assert.equal(p.size, 11);
  const got: string[] = [];
  for (let ip = p.allocate(); ip !== undefined; ip = p.allocate()) got.push(ip);
  assert.equal(got.length, 11);
  assert.deepEqual([got[0], got.at(-1)], ['192.0.2.10', '192.0.2.20']);
  const mixed = new Ipv4Pool('m', ['10.0.0.250/30', '10.0.1.7-10.0.1.8', '10.0.2.0/30'], new Set(['10.0.1.8']));
  const all: string[] = [];
  for (let ip = mixed.allocate(); ip !== undefined; ip = mixed.allocate()) all.push(ip);
  assert.deepEqual(all, ['10.0.0.250', '10.0.1.7', '10.0.2.1', '10.0.2.2']);
  assert.equal(mixed.size, 4);
});

test('the gateway inside a range is never handed out', () => {
  const p = new Ipv4Pool('r', ['192.0.2.1-192.0.2.3'], new Set(['192.0.2.2']));
  assert.equal(p.size, 2);
  assert.deepEqual([p.allocate(), p.allocate(), p.allocate()], ['192.0.2.1', '192.0.2.3', undefined]);
});

test('overlapping pools never lease one address twice (property)', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.constantFrom('A', 'B'), fc.boolean()), { maxLength: 80 }), (ops) => {
      const pools = new Map([
        ['A', new Ipv4Pool('A', ['10.0.0.0/29'])],
        ['B', new Ipv4Pool('B', ['10.0.0.3-10.0.0.12'])],
      ]);
      const book = new AddressBook(pools, 'A');
      const live = new Map<string, string>(); // ip → session
      let n = 0;
      for (const [pool, alloc] of ops) {
        if (alloc || live.size === 0) {
          const sid = `s${n++}`;
          const r = book.lease(sid, undefined, pool);
          if ('error' in r) continue;
          assert.ok(!live.has(r.ip), `${r.ip} leased twice`);
          live.set(r.ip, sid);
        } else {
          const [ip, sid] = [...live][0]!;
          live.delete(ip);
          book.release(sid, ip);
        }
      }
      for (const [ip, sid] of live) assert.equal(book.holderOf(ip), sid);
    }),
    { numRuns: 300 },
  );
});

test('parsePoolRange agrees with a brute-force reading of each form (property)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 8, max: 32 }), (addr, len) => {
      const text = `${intToIpv4(addr)}/${len}`;
      const r = parsePoolRange(text);
      const size = 2 ** (32 - len);
      const net = addr - (addr % size);
      const bcast = net + size - 1;
      const first = addr === net ? (len < 31 ? net + 1 : net) : addr;
      const last = len < 31 ? bcast - 1 : bcast;
      assert.deepEqual(r, { first, last }, text);
      assert.ok(ipv4ToInt(intToIpv4(r.first)) === r.first);
    }),
  );
});
