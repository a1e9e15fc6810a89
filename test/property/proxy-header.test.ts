/**
 * The PROXY protocol reader (src/proxy/header.ts): examples from HAProxy's spec, then properties —
 * any chunking gives the same answer, every header a proxy writes is read back exactly, truncated
 * input never yields a header, oversized input is refused, and random bytes never throw.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ProxyHeaderReader, PROXY_HEADER_MAX, Pp2Type, type ProxyReadResult } from '../../src/proxy/header.js';
import { formatIpv6 } from '../../src/ip/ipv6-addr.js';
import { split } from '../support/chunks.js';
import { proxyV1, proxyV2, type Endpoints } from '../support/proxy.js';

/** Feeds chunks until an answer; a header's `rest` then also holds the chunks not fed yet. */
function read(chunks: readonly Buffer[]): ProxyReadResult {
  const r = new ProxyHeaderReader();
  let out: ProxyReadResult = { kind: 'need-more' };
  for (let i = 0; i < chunks.length; i++) {
    out = r.feed(chunks[i]!);
    if (out.kind === 'header') return { ...out, rest: Buffer.concat([out.rest, ...chunks.slice(i + 1)]) };
    if (out.kind !== 'need-more') return out;
  }
  return out;
}

const TLS = Buffer.from('160301', 'hex');

test('v1 TCP4, TCP6 and UNKNOWN; the bytes after the line are handed back', () => {
  const r = read([Buffer.concat([Buffer.from('PROXY TCP4 198.51.100.7 192.0.2.1 56324 443\r\n'), TLS])]);
  assert.equal(r.kind, 'header');
  if (r.kind !== 'header') return;
  assert.deepEqual(r.header, { version: 1, command: 'proxy', family: 'tcp4', source: { address: '198.51.100.7', port: 56324 }, destination: { address: '192.0.2.1', port: 443 }, tlvs: [] });
  assert.deepEqual(r.rest, TLS);
  const r6 = read([Buffer.from('PROXY TCP6 2001:DB8:0:0::7 2001:db8::1 1 65535\r\n')]);
  assert.equal(r6.kind === 'header' && r6.header.source?.address, '2001:db8::7', 'canonical text');
  const u = read([Buffer.from('PROXY UNKNOWN ffff::1 whatever\r\n')]);
  assert.equal(u.kind === 'header' && u.header.family, 'unknown');
});

test('v1 errors: bad protocol, address, port, line end, length', () => {
  for (const bad of [
    'PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n',
    'PROXY TCP4 1.2.3.400 5.6.7.8 1 2\r\n',
    'PROXY TCP4 2001:db8::1 5.6.7.8 1 2\r\n',
    'PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n',
    'PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n',
    'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n',
    'PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n',
    'PROXY ' + 'x'.repeat(120),
    'GET / HTTP/1.1\r\n',
  ]) {
    assert.equal(read([Buffer.from(bad)]).kind, 'error', bad);
  }
});

test('v2 PROXY over TCP4 and TCP6 with TLVs (AUTHORITY = SNI), LOCAL, UNSPEC', () => {
  const h = proxyV2({ src: '198.51.100.7', dst: '192.0.2.1', sport: 40000, dport: 443 }, [
    { type: Pp2Type.AUTHORITY, value: Buffer.from('vpn.example.net') },
    { type: Pp2Type.ALPN, value: Buffer.from('http/1.1') },
  ]);
  const r = read([Buffer.concat([h, TLS])]);
  assert.equal(r.kind, 'header');
  if (r.kind !== 'header') return;
  assert.equal(r.header.version, 2);
  assert.equal(r.header.family, 'tcp4');
  assert.deepEqual(r.header.source, { address: '198.51.100.7', port: 40000 });
  assert.equal(r.header.authority, 'vpn.example.net');
  assert.equal(r.header.tlvs.length, 2);
  assert.deepEqual(r.rest, TLS);
  const l = read([proxyV2('local')]);
  assert.deepEqual(l.kind === 'header' && [l.header.command, l.header.family, l.header.source], ['local', 'unknown', undefined]);
  const six = read([proxyV2({ src: '2001:db8::7', dst: '2001:db8::1', sport: 1, dport: 2 })]);
  assert.equal(six.kind === 'header' && six.header.source?.address, '2001:db8::7');
});

test('v2 errors: version, command, family, short address block, TLV overrun, oversize', () => {
  const good = proxyV2({ src: '198.51.100.7', dst: '192.0.2.1', sport: 1, dport: 2 }, [{ type: 0xe0, value: Buffer.alloc(4) }]);
  const mutate = (f: (b: Buffer) => void): Buffer => {
    const b = Buffer.from(good);
    f(b);
    return b;
  };
  assert.equal(read([mutate((b) => (b[12] = 0x31))]).kind, 'error', 'version 3');
  assert.equal(read([mutate((b) => (b[12] = 0x22))]).kind, 'error', 'command 2');
  assert.equal(read([mutate((b) => (b[13] = 0x41))]).kind, 'error', 'family 4');
  assert.equal(read([mutate((b) => b.writeUInt16BE(8, 14))]).kind, 'error', 'address block too short');
  assert.equal(read([mutate((b) => b.writeUInt16BE(0xffff, good.length - 6))]).kind, 'error', 'TLV overruns');
  const huge = Buffer.from(good);
  huge.writeUInt16BE(PROXY_HEADER_MAX, 14);
  assert.match(JSON.stringify(read([huge])), /over 4096/);
});

const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'));
const ipv6 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => formatIpv6(Buffer.from(b)));
const endpoints: fc.Arbitrary<Endpoints> = fc.oneof(
  fc.record({ src: ipv4, dst: ipv4, sport: fc.nat(65535), dport: fc.nat(65535) }),
  fc.record({ src: ipv6, dst: ipv6, sport: fc.nat(65535), dport: fc.nat(65535) }),
);
const tlvs = fc.array(fc.record({ type: fc.nat(255), value: fc.uint8Array({ maxLength: 64 }).map((u) => Buffer.from(u)) }), { maxLength: 5 });
const anyHeader = fc.oneof(
  endpoints.map((e) => proxyV1(e)),
  fc.constant(proxyV1('unknown')),
  fc.tuple(endpoints, tlvs).map(([e, t]) => proxyV2(e, t)),
  tlvs.map((t) => proxyV2('local', t)),
);

test('property: every header a proxy writes is read back, with the rest intact, for any chunking', () => {
  fc.assert(
    fc.property(fc.oneof(endpoints.map((e) => ({ e, v: 1 as const })), endpoints.map((e) => ({ e, v: 2 as const }))), fc.uint8Array({ maxLength: 64 }), fc.array(fc.nat(200), { maxLength: 6 }), ({ e, v }, after, cuts) => {
      const h = v === 1 ? proxyV1(e) : proxyV2(e);
      const r = read(split(Buffer.concat([h, Buffer.from(after)]), cuts));
      assert.equal(r.kind, 'header');
      if (r.kind !== 'header') return;
      assert.deepEqual(r.header.source, { address: e.src, port: e.sport });
      assert.deepEqual(r.header.destination, { address: e.dst, port: e.dport });
      assert.deepEqual(r.rest, Buffer.from(after), 'the rest is exactly what followed the header');
    }),
  );
});

test('property: a truncated header never yields a header; the same input in any chunks gives the same answer', () => {
  fc.assert(
    fc.property(anyHeader, fc.nat(), fc.array(fc.nat(200), { maxLength: 6 }), (h, cutAt, cuts) => {
      const truncated = h.subarray(0, cutAt % h.length);
      assert.notEqual(read([truncated]).kind, 'header');
      assert.deepEqual(read(split(h, cuts)), read([h]));
    }),
  );
});

test('property: random and mutated bytes never throw and are bounded', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u)),
        fc.tuple(anyHeader, fc.nat(), fc.nat(255)).map(([h, i, v]) => {
          const b = Buffer.from(h);
          b[i % b.length] = v;
          return b;
        }),
      ),
      (bytes) => {
        const r = read([bytes]);
        assert.ok(['need-more', 'header', 'error'].includes(r.kind));
      },
    ),
  );
  // A peer that trickles a header that never ends is cut off at the cap.
  const r = new ProxyHeaderReader();
  let out: ProxyReadResult = r.feed(proxyV2({ src: '1.2.3.4', dst: '5.6.7.8', sport: 1, dport: 2 }).subarray(0, 12));
  for (let i = 0; i < PROXY_HEADER_MAX && out.kind === 'need-more'; i++) out = r.feed(Buffer.from([0x21]));
  assert.equal(out.kind, 'error');
});
