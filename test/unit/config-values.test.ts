import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  formatIpv4,
  ipv4InPrefix,
  ipv4Prefix,
  ipv6Prefix,
  numeric,
  oneOf,
  parseIpv4,
  parseIpv4Prefix,
  parseIpv6,
  positive,
} from '../../src/config/values.js';
import { schemaAt } from '../../src/config/schema.js';

describe('config values: IPv4', () => {
  it('parses dotted quads and refuses everything else', () => {
    assert.equal(parseIpv4('192.0.2.254'), 0xc00002fe);
    assert.equal(parseIpv4('0.0.0.0'), 0);
    assert.equal(parseIpv4('255.255.255.255'), 0xffffffff);
    for (const bad of ['256.0.0.1', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1.2.3.4 ', 'a.b.c.d', '', '1..2.3', '-1.2.3.4']) {
      assert.equal(parseIpv4(bad), undefined, bad);
    }
  });
  it('round-trips any 32-bit address', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => parseIpv4(formatIpv4(n)) === n));
  });
  it('prefixes need zero host bits, and the reason suggests the network', () => {
    assert.deepEqual(parseIpv4Prefix('192.0.2.0/25'), { network: 0xc0000200, length: 25 });
    assert.equal(parseIpv4Prefix('192.0.2.1/25'), undefined);
    assert.equal(ipv4Prefix.check('192.0.2.128/25'), undefined);
    assert.equal(ipv4Prefix.check('192.0.2.0/33'), 'Not a valid CIDR formatted prefix');
    assert.equal(ipv4Prefix.check('192.0.2.0'), 'Not a valid CIDR formatted prefix');
    assert.equal(
      ipv4Prefix.check('192.0.2.130/25'),
      'Not a valid CIDR formatted prefix: "192.0.2.130/25" has host bits set (did you mean 192.0.2.128/25?)',
    );
  });
  it('tests membership', () => {
    const p = parseIpv4Prefix('192.0.2.0/25')!;
    assert.equal(ipv4InPrefix(parseIpv4('192.0.2.127')!, p), true);
    assert.equal(ipv4InPrefix(parseIpv4('192.0.2.128')!, p), false);
    assert.equal(ipv4InPrefix(parseIpv4('10.0.0.1')!, parseIpv4Prefix('0.0.0.0/0')!), true);
  });
});

describe('config values: IPv6', () => {
  it('parses the RFC 4291 forms', () => {
    assert.deepEqual([...parseIpv6('::')!], new Array(16).fill(0));
    assert.deepEqual([...parseIpv6('2001:db8::1')!], [0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 1]);
    assert.deepEqual([...parseIpv6('::ffff:192.0.2.1')!].slice(10), [0xff, 0xff, 192, 0, 2, 1]);
    assert.ok(parseIpv6('1:2:3:4:5:6:7:8'));
    for (const bad of ['1:2:3:4:5:6:7', '1::2::3', '1:2:3:4:5:6:7:8:9', '12345::', 'g::', '1:2:3:4:5:6:7::8', '1.2.3.4::', '']) {
      assert.equal(parseIpv6(bad), undefined, bad);
    }
  });
  it('prefixes need zero host bits', () => {
    assert.equal(ipv6Prefix.check('2001:db8::/48'), undefined);
    assert.equal(ipv6Prefix.check('2001:db8::1/64'), '"2001:db8::1/64" is not a valid IPv6 prefix: host bits are set');
    assert.equal(ipv6Prefix.check('2001:db8::/129'), '"2001:db8::/129" is not a valid IPv6 prefix');
  });
});

describe('config values: numbers and words', () => {
  it('numeric ranges take integers only, inclusive', () => {
    const port = numeric(1, 65535, 'Port number must be in range 1 to 65535');
    assert.equal(port.check('1'), undefined);
    assert.equal(port.check('65535'), undefined);
    for (const bad of ['0', '65536', '-1', '1.5', '', 'abc', '0x10', ' 1']) {
      assert.equal(port.check(bad), 'Port number must be in range 1 to 65535', bad);
    }
    assert.equal(numeric(48, 128).check('47'), 'Value must be an integer between 48 and 128');
    assert.equal(positive().check('0'), 'Value must be a positive integer');
  });
  it('enums list the accepted words and can refuse known ones with a reason', () => {
    const t = oneOf(['local', 'radius'], { noauth: 'no' });
    assert.equal(t.check('radius'), undefined);
    assert.equal(t.check('noauth'), 'no');
    assert.equal(t.check('constructor'), 'Invalid value "constructor": must be one of local, radius');
  });
  it('schema defaults are reachable through tag keys', () => {
    const s = schemaAt(['authentication', 'radius', 'server', '192.0.2.1', 'port']);
    assert.ok(s?.kind === 'leaf');
    assert.equal(s.default, '1812');
    assert.equal(schemaAt(['constructor']), undefined);
    assert.equal(schemaAt(['port', 'x']), undefined);
  });
});
