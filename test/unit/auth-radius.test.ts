/**
 * The RADIUS backend against a scripted server that checks passwords as FreeRADIUS does: the
 * same verdicts, HLAKs and authenticator responses as the local backend; accel-ppp's request
 * attributes; Access-Accept authorization; Reject and Challenge handling.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { AuthAccept, AuthContext, AuthRequest } from '../../src/auth/backend.js';
import { LocalAuthBackend } from '../../src/auth/local.js';
import { RadiusAuthBackend, parseFramedRoute } from '../../src/auth/radius.js';
import { ATTR, MS, VENDOR_MICROSOFT } from '../../src/radius/attributes.js';
import { VENDOR_MIKROTIK, builtinVendor, standardAttribute, vendorAttribute } from '../../src/config/radius-dictionary.js';
import { CODE, decodePacket, first, intAttr, intValue, ipAttr, textAttr, textValue, vendorAttributes, vsa, attr } from '../../src/radius/packet.js';
import { generateNtResponse, mschapV1NtResponse } from '../../src/crypto/mschap.js';
import { ScriptedRadius, answerAccessRequest, replyTo, type FakeUser } from '../support/radius-fake.js';

const SECRET = Buffer.from('testing123');
const CTX: AuthContext = { sessionId: 'a1b2c3000001', callingStationId: '198.51.100.7', calledStationId: '192.0.2.1', nasPort: 1 };

function requestFor(kind: AuthRequest['kind'], username: string, password: string): AuthRequest {
  switch (kind) {
    case 'pap':
      return { kind, username, password };
    case 'chap-md5': {
      const challenge = randomBytes(16);
      const response = createHash('md5').update(Buffer.from([7])).update(password).update(challenge).digest();
      return { kind, username, id: 7, challenge, response };
    }
    case 'mschap-v1': {
      const challenge = randomBytes(8);
      return { kind, username, id: 9, challenge, ntResponse: mschapV1NtResponse(challenge, password) };
    }
    case 'mschap-v2': {
      const authenticatorChallenge = randomBytes(16);
      const peerChallenge = randomBytes(16);
      return { kind, username, id: 3, authenticatorChallenge, peerChallenge, ntResponse: generateNtResponse(authenticatorChallenge, peerChallenge, username, password) };
    }
  }
}

function backend(users: Record<string, FakeUser>, o: { ma?: boolean; rateLimit?: boolean } = {}): { b: RadiusAuthBackend; srv: ScriptedRadius; logs: string[] } {
  const map = new Map(Object.entries(users));
  const srv = new ScriptedRadius(SECRET, (bytes) => answerAccessRequest(bytes, SECRET, map, o.ma ? { ma: true } : {}));
  const logs: string[] = [];
  const b = new RadiusAuthBackend({
    transport: srv,
    nas: { identifier: 'sstp-nas', ipAddress: '203.0.113.1' },
    ...(o.rateLimit ? { rateLimit: { attribute: standardAttribute('Filter-Id')!, multiplier: 1 } } : {}),
    log: (_l, event, f) => logs.push(`${event} ${JSON.stringify(f)}`),
  });
  return { b, srv, logs };
}

const local = new LocalAuthBackend(new Map([['alice', { name: 'alice', password: 'secret', disabled: false }]]));

for (const kind of ['pap', 'chap-md5', 'mschap-v1', 'mschap-v2'] as const) {
  test(`${kind}: accepted with the same HLAK and authenticator response as a local user; wrong password rejected`, async () => {
    const { b } = backend({ alice: { password: 'secret' } });
    const req = requestFor(kind, 'alice', 'secret');
    const r = await b.authenticate(req, CTX);
    assert.ok(r.ok, JSON.stringify(r));
    const l = local.verify(req) as AuthAccept;
    assert.deepEqual(r.hlaks, l.hlaks, 'HLAKs (every form) from RADIUS keys = HLAKs from the password');
    assert.equal(r.authenticatorResponse, l.authenticatorResponse);
    assert.equal(r.accounting, true);
    if (kind === 'mschap-v1' || kind === 'mschap-v2') for (const h of r.hlaks) assert.notDeepEqual(h.key, Buffer.alloc(32));
    // MS-MPPE-Send/Recv-Key become the MPPE start keys, the same a local user's password gives.
    if (kind === 'mschap-v2') assert.deepEqual(r.mppeKeys, l.mppeKeys);
    const bad = await b.authenticate(requestFor(kind, 'alice', 'wrong'), CTX);
    assert.equal(bad.ok, false);
    assert.match(bad.ok ? '' : bad.reason, /^RADIUS Access-Reject from 192\.0\.2\.10/);
  });
}

test('Access-Request attributes as accel-ppp sends them, Message-Authenticator first', async () => {
  const { b, srv } = backend({ alice: { password: 'secret' } });
  await b.authenticate(requestFor('mschap-v2', 'alice', 'secret'), { ...CTX, nasPortId: 'sstp4' });
  const p = decodePacket(srv.requests[0]!);
  assert.deepEqual(p.attributes.map((a) => a.type), [80, 1, 32, 4, 5, 87, 61, 6, 7, 31, 30, 44, 26, 26]);
  assert.equal(textValue(first(p, ATTR.USER_NAME)), 'alice');
  assert.equal(textValue(first(p, ATTR.NAS_IDENTIFIER)), 'sstp-nas');
  assert.deepEqual([...first(p, ATTR.NAS_IP_ADDRESS)!], [203, 0, 113, 1]);
  assert.equal(intValue(first(p, ATTR.NAS_PORT)), 1);
  assert.equal(textValue(first(p, ATTR.NAS_PORT_ID)), 'sstp4');
  assert.equal(intValue(first(p, ATTR.NAS_PORT_TYPE)), 5, 'Virtual');
  assert.equal(intValue(first(p, ATTR.SERVICE_TYPE)), 2, 'Framed-User');
  assert.equal(intValue(first(p, ATTR.FRAMED_PROTOCOL)), 1, 'PPP');
  assert.equal(textValue(first(p, ATTR.CALLING_STATION_ID)), '198.51.100.7');
  assert.equal(textValue(first(p, ATTR.CALLED_STATION_ID)), '192.0.2.1');
  assert.equal(textValue(first(p, ATTR.ACCT_SESSION_ID)), 'a1b2c3000001');
  assert.equal(vendorAttributes(p, VENDOR_MICROSOFT, MS.CHAP_CHALLENGE)[0]!.value.length, 16);
  assert.equal(vendorAttributes(p, VENDOR_MICROSOFT, MS.CHAP2_RESPONSE)[0]!.value.length, 50);
  await b.authenticate(requestFor('chap-md5', 'alice', 'secret'), CTX);
  const chap = decodePacket(srv.requests[1]!);
  assert.equal(first(chap, ATTR.CHAP_PASSWORD)!.length, 17);
  assert.equal(first(chap, ATTR.CHAP_CHALLENGE)!.length, 16);
  assert.equal(first(chap, ATTR.NAS_PORT_ID), undefined, 'no interface yet, no NAS-Port-Id');
});

test('Access-Accept authorization: address, pools (IPv4, IPv6, delegation), timeouts, Class, DNS, routes, rate limit', async () => {
  const reply = [
    ipAttr(ATTR.FRAMED_IP_ADDRESS, '192.0.2.77'),
    textAttr(ATTR.FRAMED_POOL, 'gold'),
    textAttr(ATTR.FRAMED_IPV6_POOL, 'gold6'),
    textAttr(ATTR.DELEGATED_IPV6_PREFIX_POOL, 'pd6'),
    intAttr(ATTR.SESSION_TIMEOUT, 3600),
    intAttr(ATTR.IDLE_TIMEOUT, 600),
    intAttr(ATTR.ACCT_INTERIM_INTERVAL, 300),
    textAttr(ATTR.CLASS, 'c1'),
    textAttr(ATTR.CLASS, 'c2'),
    vsa(VENDOR_MICROSOFT, MS.PRIMARY_DNS_SERVER, Buffer.from([198, 51, 100, 53])),
    textAttr(ATTR.FRAMED_ROUTE, '10.20.0.0/16 0.0.0.0 5'),
    textAttr(ATTR.FRAMED_ROUTE, 'garbage'),
    textAttr(ATTR.FILTER_ID, '4000/2000'),
  ];
  const { b, logs } = backend({ alice: { password: 'secret', reply } }, { rateLimit: true });
  const r = await b.authenticate(requestFor('pap', 'alice', 'secret'), CTX);
  assert.ok(r.ok);
  assert.equal(r.staticIp, '192.0.2.77');
  assert.equal(r.poolName, 'gold');
  assert.equal(r.ipv6PoolName, 'gold6', 'Framed-IPv6-Pool (100)');
  assert.equal(r.delegatedIpv6PoolName, 'pd6', 'Delegated-IPv6-Prefix-Pool (171)');
  assert.equal(r.sessionTimeoutS, 3600);
  assert.equal(r.idleTimeoutS, 600);
  assert.equal(r.interimIntervalS, 300);
  assert.deepEqual(r.classes?.map(String), ['c1', 'c2']);
  assert.deepEqual(r.dns, { primary: '198.51.100.53' });
  assert.deepEqual(r.routes, [{ prefix: '10.20.0.0/16', metric: 5 }]);
  assert.deepEqual(r.rateLimit, { downloadKbit: 4000, uploadKbit: 2000 });
  assert.ok(logs.some((l) => l.startsWith('radius-bad-framed-route')));
  // Without `rate-limit enable` the attribute means nothing.
  const plain = backend({ alice: { password: 'secret', reply } });
  const r2 = await plain.b.authenticate(requestFor('pap', 'alice', 'secret'), CTX);
  assert.ok(r2.ok);
  assert.equal(r2.rateLimit, undefined);
});

test('Framed-IP-Address 255.255.255.254 and .255 mean "from the pool"', async () => {
  for (const ip of ['255.255.255.254', '255.255.255.255']) {
    const { b } = backend({ alice: { password: 'secret', reply: [ipAttr(ATTR.FRAMED_IP_ADDRESS, ip)] } });
    const r = await b.authenticate(requestFor('pap', 'alice', 'secret'), CTX);
    assert.ok(r.ok);
    assert.equal(r.staticIp, undefined);
  }
});

test('a vendor rate-limit attribute (Mikrotik-Rate-Limit RX/TX)', async () => {
  const def = vendorAttribute(builtinVendor('mikrotik')!, 'Mikrotik-Rate-Limit')!;
  const users = new Map([['alice', { password: 'secret', reply: [vsa(VENDOR_MIKROTIK, 8, Buffer.from('1M/8M')), textAttr(ATTR.FILTER_ID, '1/1')] }]]);
  const srv = new ScriptedRadius(SECRET, (bytes) => answerAccessRequest(bytes, SECRET, users));
  const b = new RadiusAuthBackend({ transport: srv, nas: {}, rateLimit: { attribute: def, multiplier: 1 } });
  const r = await b.authenticate(requestFor('pap', 'alice', 'secret'), CTX);
  assert.ok(r.ok);
  assert.deepEqual(r.rateLimit, { downloadKbit: 8000, uploadKbit: 1000 });
});

test('Access-Reject: attributes are ignored; Reply-Message and MS-CHAP-Error feed reason and PPP text', async () => {
  const reply = [ipAttr(ATTR.FRAMED_IP_ADDRESS, '192.0.2.77'), textAttr(ATTR.FILTER_ID, '1/1')];
  const { b } = backend({ alice: { password: 'secret', reply } });
  const r = await b.authenticate(requestFor('mschap-v2', 'alice', 'nope'), CTX);
  assert.equal(r.ok, false);
  assert.ok(!r.ok);
  assert.equal(r.msChapError, 691);
  assert.equal(r.message, 'Authentication rejected');
  assert.match(r.reason, /Access-Reject from 192\.0\.2\.10: Authentication rejected/);
  assert.equal((r as unknown as { staticIp?: string }).staticIp, undefined);

  const srv = new ScriptedRadius(SECRET, (bytes) =>
    replyTo(bytes, SECRET, {
      code: CODE.ACCESS_REJECT,
      attributes: [textAttr(ATTR.REPLY_MESSAGE, 'Account locked'), vsa(VENDOR_MICROSOFT, MS.CHAP_ERROR, Buffer.from('\x01E=647 R=0 V=3'))],
    }),
  );
  const r2 = await new RadiusAuthBackend({ transport: srv, nas: {} }).authenticate(requestFor('mschap-v2', 'alice', 'x'), CTX);
  assert.ok(!r2.ok);
  assert.equal(r2.msChapError, 647);
  assert.equal(r2.message, 'Account locked');
  assert.match(r2.reason, /Account locked/);
});

test('Access-Challenge cannot be answered over PPP: a failure naming it', async () => {
  const srv = new ScriptedRadius(SECRET, (bytes) =>
    replyTo(bytes, SECRET, { code: CODE.ACCESS_CHALLENGE, attributes: [textAttr(ATTR.REPLY_MESSAGE, 'Enter your OTP'), attr(ATTR.STATE, Buffer.from('s1'))] }),
  );
  const r = await new RadiusAuthBackend({ transport: srv, nas: {} }).authenticate(requestFor('pap', 'alice', 'x'), CTX);
  assert.ok(!r.ok);
  assert.match(r.reason, /Access-Challenge from 192\.0\.2\.10 cannot be answered over PPP: Enter your OTP/);
});

test('MS-CHAPv2 Accept without a valid MS-CHAP2-Success is a failure; without MPPE keys the HLAK is zero', async () => {
  const noSuccess = new ScriptedRadius(SECRET, (bytes) => replyTo(bytes, SECRET, {}));
  const r = await new RadiusAuthBackend({ transport: noSuccess, nas: {} }).authenticate(requestFor('mschap-v2', 'alice', 'x'), CTX);
  assert.ok(!r.ok);
  assert.match(r.reason, /without a valid MS-CHAP2-Success/);
  const logs: string[] = [];
  const noKeys = new ScriptedRadius(SECRET, (bytes) =>
    replyTo(bytes, SECRET, { attributes: [vsa(VENDOR_MICROSOFT, MS.CHAP2_SUCCESS, Buffer.from(`\x03S=${'A'.repeat(40)}`))] }),
  );
  const r2 = await new RadiusAuthBackend({ transport: noKeys, nas: {}, log: (_l, e) => logs.push(e) }).authenticate(requestFor('mschap-v2', 'alice', 'x'), CTX);
  assert.ok(r2.ok);
  assert.deepEqual(r2.hlaks, [{ label: 'zero', key: Buffer.alloc(32) }]);
  assert.deepEqual(logs, ['radius-no-mppe-keys']);
});

test('no server answering is a failure with the transport reason', async () => {
  const srv = new ScriptedRadius(SECRET, () => undefined);
  const r = await new RadiusAuthBackend({ transport: srv, nas: {} }).authenticate(requestFor('pap', 'alice', 'x'), CTX);
  assert.ok(!r.ok);
  assert.equal(r.reason, 'RADIUS: no RADIUS server answered');
});

test('Framed-Route forms', () => {
  assert.deepEqual(parseFramedRoute('10.1.2.3/24'), { prefix: '10.1.2.0/24' });
  assert.deepEqual(parseFramedRoute('192.0.2.9 0.0.0.0 3'), { prefix: '192.0.2.9/32', metric: 3 });
  assert.equal(parseFramedRoute('10.0.0.0/33'), undefined);
  assert.equal(parseFramedRoute('300.0.0.0/8'), undefined);
  assert.equal(parseFramedRoute(''), undefined);
});
