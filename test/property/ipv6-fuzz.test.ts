/**
 * A hostile client on the IPv6 stream: random and mutated packets to the session's IPv6 services
 * never throw, and what they send back is always a well-formed IPv6 packet from our link-local.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Ipv6Services } from '../../src/ipv6/services.js';
import { parsePrefix6 } from '../../src/ip/ipv6-addr.js';
import { checksumOk, parseIpv6Packet } from '../../src/ipv6/packet.js';
import { MSG, addr6, dhcpv6Client, routerSolicitation } from '../support/ipv6.js';

const LL = addr6('fe80::1');
const seeds = [
  routerSolicitation('fe80::2'),
  dhcpv6Client(MSG.SOLICIT, 'fe80::2'),
  dhcpv6Client(MSG.REQUEST, 'fe80::2', { serverDuid: Buffer.from('0003000102aabbccddee', 'hex') }),
  dhcpv6Client(MSG.RELEASE, 'fe80::2', { serverDuid: Buffer.from('0003000102aabbccddee', 'hex') }),
];

function services(): Ipv6Services {
  let n = 0;
  return new Ipv6Services(
    {
      linkLocal: LL,
      prefix: parsePrefix6('2001:db8:1::/64')!,
      mtu: 1452,
      dns: [addr6('2001:db8::53')],
      serverDuid: Buffer.from('0003000102aabbccddee', 'hex'),
      delegation: { acquire: () => (n++ < 3 ? parsePrefix6(`2001:db8:${100 + n}::/56`) : undefined), release: () => undefined },
      random: (k) => Buffer.alloc(k, 7),
    },
    0,
  );
}

test('random bytes and mutated RS/DHCPv6 packets never throw; answers are valid IPv6 from our link-local', () => {
  const mutated = fc.tuple(fc.constantFrom(...seeds), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 })).map(([seed, edits]) => {
    const b = Buffer.from(seed);
    for (const [at, v] of edits) b[at % b.length] = v;
    return b;
  });
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.uint8Array({ maxLength: 120 }).map((u) => Buffer.from(u)), mutated), { maxLength: 20 }), (packets) => {
      const s = services();
      let now = 0;
      for (const p of packets) {
        s.intercept((now += 100), p);
        s.handleTimeout(now);
        for (const ev of s.poll()) {
          if (ev.type !== 'packet') continue;
          const pkt = parseIpv6Packet(ev.packet);
          assert.ok(pkt, 'well-formed');
          assert.deepEqual(Buffer.from(pkt.src), LL);
          assert.equal(checksumOk(pkt), true);
        }
      }
    }),
  );
});
