/**
 * The gateway-address may lie inside a client-ip-pool subnet (VyOS allows it): the pool must then
 * never hand it out, nor network/broadcast, whatever the prefix length and the lease history.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AddressBook, Ipv4Pool, cidrToRange, intToIpv4, ipv4ToInt } from '../../src/ip/pool.js';

/** Every address a pool over `subnet` excluding `gw` may hand out, in order. */
function usable(subnet: string, gw: string): string[] {
  const r = cidrToRange(subnet);
  const out: string[] = [];
  for (let v = r.first; v <= r.last; v++) if (intToIpv4(v) !== gw) out.push(intToIpv4(v));
  return out;
}

test('VyOS smoketest layout: gateway 192.0.2.1 in 192.0.2.0/24 is skipped, the pool has 253 addresses', () => {
  const p = new Ipv4Pool('default', ['192.0.2.0/24'], new Set(['192.0.2.1']));
  assert.equal(p.size, 253);
  const got: string[] = [];
  for (let ip = p.allocate(); ip !== undefined; ip = p.allocate()) got.push(ip);
  assert.equal(got.length, 253);
  assert.equal(got[0], '192.0.2.2');
  assert.equal(got.at(-1), '192.0.2.254');
  assert.ok(!got.includes('192.0.2.1') && !got.includes('192.0.2.0') && !got.includes('192.0.2.255'));
});

test('network + gateway + one host: exactly that host, then exhausted; again after a release', () => {
  for (const [subnet, gw, host] of [
    ['192.0.2.0/30', '192.0.2.1', '192.0.2.2'],
    ['192.0.2.0/30', '192.0.2.2', '192.0.2.1'],
    ['192.0.2.4/31', '192.0.2.4', '192.0.2.5'], // /31: both addresses usable (RFC 3021), one is the gateway
  ] as const) {
    const p = new Ipv4Pool('default', [subnet], new Set([gw]));
    assert.equal(p.size, 1, subnet);
    assert.equal(p.allocate(), host, subnet);
    assert.equal(p.allocate(), undefined, subnet);
    p.release(host);
    assert.equal(p.allocate(), host, subnet);
  }
  // A /32 that is the gateway leaves nothing to hand out.
  const none = new Ipv4Pool('default', ['192.0.2.9/32'], new Set(['192.0.2.9']));
  assert.equal(none.size, 0);
  assert.equal(none.allocate(), undefined);
});

test('the address book never leases the gateway from a pool that contains it', () => {
  const book = new AddressBook(new Map([['default', new Ipv4Pool('default', ['192.0.2.0/30'], new Set(['192.0.2.1']))]]), 'default');
  assert.deepEqual(book.lease('a'), { ip: '192.0.2.2' });
  assert.deepEqual(book.lease('b'), { error: 'address pool "default" is exhausted' });
  book.release('a', '192.0.2.2');
  assert.deepEqual(book.lease('b'), { ip: '192.0.2.2' });
});

test('property: any prefix /24–/32, any gateway inside it, any lease history: never the gateway, never twice, all others reachable', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 24, max: 32 }),
      fc.integer({ min: 0, max: 255 }),
      fc.array(fc.boolean(), { maxLength: 400 }),
      (len, gwOctet, ops) => {
        const subnet = `10.9.8.0/${len}`;
        const size = 2 ** (32 - len);
        const gw = `10.9.8.${gwOctet % size}`;
        const expected = usable(subnet, gw);
        const p = new Ipv4Pool('x', [subnet], new Set([gw]));
        assert.equal(p.size, expected.length);
        const live = new Set<string>();
        for (const alloc of ops) {
          if (alloc || live.size === 0) {
            const ip = p.allocate();
            if (ip === undefined) {
              assert.equal(live.size, expected.length, 'exhausted only when every usable address is leased');
              continue;
            }
            assert.notEqual(ip, gw);
            assert.ok(expected.includes(ip), `${ip} is not a usable address of ${subnet}`);
            assert.ok(!live.has(ip), `duplicate ${ip}`);
            live.add(ip);
          } else {
            const ip = [...live][Math.floor(live.size / 2)]!;
            live.delete(ip);
            p.release(ip);
          }
        }
        // Draining the rest reaches every usable address and never the gateway.
        for (let ip = p.allocate(); ip !== undefined; ip = p.allocate()) {
          assert.notEqual(ip, gw);
          live.add(ip);
        }
        assert.deepEqual([...live].sort((a, b) => ipv4ToInt(a) - ipv4ToInt(b)), expected);
      },
    ),
    { numRuns: 300 },
  );
});
