/**
 * Dynamic Authorization decisions (RFC 5176): who is matched, what is NAKed with which
 * Error-Cause, what is dropped silently, and how replies are sealed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ATTR } from '../../src/radius/attributes.js';
import { standardAttribute } from '../../src/config/radius-dictionary.js';
import { DaeReplyCache, decideDae, type DaeConfig, type DaeDecision, type DaeSession } from '../../src/radius/dae.js';
import {
  CODE,
  attr,
  decodePacket,
  first,
  intAttr,
  intValue,
  ipAttr,
  maPlaceholder,
  sealComputedRequest,
  textAttr,
  verifyResponse,
  type RadiusAttribute,
} from '../../src/radius/packet.js';

const SECRET = Buffer.from('dae-secret');
const CFG: DaeConfig = {
  secret: SECRET,
  nas: { identifier: 'sstp-nas', ipAddress: '203.0.113.1' },
  rateLimit: { attribute: standardAttribute('Filter-Id')!, multiplier: 1 },
};
const SESSIONS: DaeSession[] = [
  { sid: 'abc000001', username: 'alice', ip: '192.0.2.5', callingSid: '198.51.100.7', calledSid: '192.0.2.1', ifname: 'sstp0', nasPort: 1 },
  { sid: 'abc000002', username: 'bob', ip: '192.0.2.6', callingSid: '198.51.100.7', calledSid: '192.0.2.1', ifname: 'sstp1', nasPort: 2 },
  { sid: 'abc000003', callingSid: '198.51.100.9' }, // still authenticating
];

const request = (code: number, attrs: RadiusAttribute[], o: { secret?: Buffer; ma?: boolean; id?: number } = {}): Buffer =>
  sealComputedRequest({ code, identifier: o.id ?? 42, attributes: [...(o.ma === false ? [] : [maPlaceholder()]), ...attrs] }, o.secret ?? SECRET);

const decide = (bytes: Buffer, cfg = CFG): DaeDecision => decideDae(bytes, cfg, () => SESSIONS);

function replyOf(d: DaeDecision): Buffer {
  if (d.kind === 'reply') return d.reply;
  if (d.kind === 'disconnect' || d.kind === 'coa') return d.ack;
  throw new Error(`no reply: ${d.reason}`);
}

function assertSealed(reqBytes: Buffer, reply: Buffer, code: number, cause?: number): void {
  const p = decodePacket(reply);
  assert.equal(p.code, code);
  assert.equal(p.identifier, reqBytes[1]);
  assert.deepEqual(verifyResponse(reply, reqBytes.subarray(4, 20), SECRET), { authenticator: true, messageAuthenticator: 'valid' });
  assert.equal(p.attributes[0]!.type, ATTR.MESSAGE_AUTHENTICATOR);
  assert.equal(intValue(first(p, ATTR.ERROR_CAUSE)), cause);
}

test('Disconnect by each identification attribute (and their combination) finds the one session', () => {
  for (const attrs of [
    [textAttr(ATTR.USER_NAME, 'alice')],
    [textAttr(ATTR.ACCT_SESSION_ID, 'abc000001')],
    [ipAttr(ATTR.FRAMED_IP_ADDRESS, '192.0.2.5')],
    [textAttr(ATTR.USER_NAME, 'alice'), textAttr(ATTR.CALLING_STATION_ID, '198.51.100.7')],
    [textAttr(ATTR.NAS_PORT_ID, 'sstp0'), intAttr(ATTR.NAS_PORT, 1), intAttr(ATTR.NAS_PORT_TYPE, 5)],
    [textAttr(ATTR.USER_NAME, 'alice'), textAttr(ATTR.NAS_IDENTIFIER, 'sstp-nas'), ipAttr(ATTR.NAS_IP_ADDRESS, '203.0.113.1'), intAttr(ATTR.EVENT_TIMESTAMP, 1)],
  ]) {
    const bytes = request(CODE.DISCONNECT_REQUEST, attrs);
    const d = decide(bytes);
    assert.equal(d.kind, 'disconnect', JSON.stringify(d));
    assert.equal(d.kind === 'disconnect' && d.session.sid, 'abc000001');
    assertSealed(bytes, replyOf(d), CODE.DISCONNECT_ACK);
  }
});

test('no match: NAK 503; several: NAK 508; an attribute that disagrees: no match', () => {
  const cases: [RadiusAttribute[], number][] = [
    [[textAttr(ATTR.USER_NAME, 'carol')], 503],
    [[textAttr(ATTR.USER_NAME, 'alice'), ipAttr(ATTR.FRAMED_IP_ADDRESS, '192.0.2.6')], 503],
    [[textAttr(ATTR.CALLING_STATION_ID, '198.51.100.9')], 503], // the unauthenticated one is not a target
    [[textAttr(ATTR.CALLING_STATION_ID, '198.51.100.7')], 508],
  ];
  for (const [attrs, cause] of cases) {
    const bytes = request(CODE.DISCONNECT_REQUEST, attrs);
    const d = decide(bytes);
    assert.equal(d.kind, 'reply');
    assertSealed(bytes, replyOf(d), CODE.DISCONNECT_NAK, cause);
  }
});

test('NAS identification that is not ours: NAK 403', () => {
  for (const a of [textAttr(ATTR.NAS_IDENTIFIER, 'other-nas'), ipAttr(ATTR.NAS_IP_ADDRESS, '203.0.113.99'), attr(ATTR.NAS_IPV6_ADDRESS, Buffer.alloc(16, 1))]) {
    const bytes = request(CODE.COA_REQUEST, [textAttr(ATTR.USER_NAME, 'alice'), a]);
    assertSealed(bytes, replyOf(decide(bytes)), CODE.COA_NAK, 403);
  }
});

test('wrong secret, broken MA, garbage, other codes: dropped without a reply', () => {
  const good = request(CODE.DISCONNECT_REQUEST, [textAttr(ATTR.USER_NAME, 'alice')]);
  assert.equal(decide(request(CODE.DISCONNECT_REQUEST, [textAttr(ATTR.USER_NAME, 'alice')], { secret: Buffer.from('wrong') })).kind, 'drop');
  const badMa = Buffer.from(good);
  badMa[25] = badMa[25]! ^ 0xff; // inside the MA value; the authenticator is then wrong too
  assert.equal(decide(badMa).kind, 'drop');
  assert.equal(decide(good.subarray(0, 10)).kind, 'drop');
  assert.equal(decide(request(CODE.ACCOUNTING_REQUEST, [textAttr(ATTR.USER_NAME, 'alice')])).kind, 'drop');
  assert.equal(decide(request(CODE.DISCONNECT_REQUEST, [textAttr(ATTR.USER_NAME, 'alice')], { ma: false })).kind, 'disconnect', 'MA is optional');
});

test('CoA: rate limit, timeouts, interim and Class as one change set', () => {
  const bytes = request(CODE.COA_REQUEST, [
    textAttr(ATTR.USER_NAME, 'bob'),
    textAttr(ATTR.FILTER_ID, '3000/1500'),
    intAttr(ATTR.SESSION_TIMEOUT, 7200),
    intAttr(ATTR.IDLE_TIMEOUT, 300),
    intAttr(ATTR.ACCT_INTERIM_INTERVAL, 120),
    textAttr(ATTR.CLASS, 'silver'),
  ]);
  const d = decide(bytes);
  assert.equal(d.kind, 'coa');
  if (d.kind !== 'coa') return;
  assert.equal(d.session.sid, 'abc000002');
  assert.deepEqual({ ...d.changes, classes: d.changes.classes?.map(String) }, {
    rateLimit: { downloadKbit: 3000, uploadKbit: 1500 },
    sessionTimeoutS: 7200,
    idleTimeoutS: 300,
    interimIntervalS: 120,
    classes: ['silver'],
  });
  assertSealed(bytes, d.ack, CODE.COA_ACK);
  assertSealed(bytes, d.nak(506), CODE.COA_NAK, 506);
});

test('CoA: an unreadable rate is NAK 407; a rate attribute without rate-limit enable is NAK 401', () => {
  const bad = request(CODE.COA_REQUEST, [textAttr(ATTR.USER_NAME, 'bob'), textAttr(ATTR.FILTER_ID, 'fast please')]);
  assertSealed(bad, replyOf(decide(bad)), CODE.COA_NAK, 407);
  const off = request(CODE.COA_REQUEST, [textAttr(ATTR.USER_NAME, 'bob'), textAttr(ATTR.FILTER_ID, '1/1')]);
  const { rateLimit: _drop, ...noRate } = CFG;
  assertSealed(off, replyOf(decide(off, noRate)), CODE.COA_NAK, 401);
  // A Disconnect carrying change attributes is not a CoA: 401 too.
  const dm = request(CODE.DISCONNECT_REQUEST, [textAttr(ATTR.USER_NAME, 'bob'), intAttr(ATTR.SESSION_TIMEOUT, 5)]);
  assertSealed(dm, replyOf(decide(dm)), CODE.DISCONNECT_NAK, 401);
});

test('Authorize-Only: NAK 405; no identification: NAK 402; Proxy-State echoed', () => {
  const ao = request(CODE.COA_REQUEST, [textAttr(ATTR.USER_NAME, 'bob'), intAttr(ATTR.SERVICE_TYPE, 17)]);
  assertSealed(ao, replyOf(decide(ao)), CODE.COA_NAK, 405);
  const none = request(CODE.DISCONNECT_REQUEST, [intAttr(ATTR.EVENT_TIMESTAMP, 5)]);
  assertSealed(none, replyOf(decide(none)), CODE.DISCONNECT_NAK, 402);
  const ps = request(CODE.DISCONNECT_REQUEST, [attr(ATTR.PROXY_STATE, Buffer.from('p1')), textAttr(ATTR.USER_NAME, 'alice'), attr(ATTR.PROXY_STATE, Buffer.from('p2'))]);
  const reply = decodePacket(replyOf(decide(ps)));
  assert.deepEqual(reply.attributes.filter((a) => a.type === ATTR.PROXY_STATE).map((a) => String(a.value)), ['p1', 'p2']);
});

test('reply cache: the same request from the same source gets the cached reply, for a while', () => {
  const c = new DaeReplyCache(1000, 2);
  const req = request(CODE.DISCONNECT_REQUEST, [textAttr(ATTR.USER_NAME, 'alice')]);
  const k = DaeReplyCache.key('127.0.0.1:5000', req);
  assert.equal(c.get(0, k), undefined);
  c.set(0, k, Buffer.from('r'));
  assert.deepEqual(c.get(999, k), Buffer.from('r'));
  assert.equal(c.get(1000, k), undefined);
  assert.notEqual(DaeReplyCache.key('127.0.0.1:5001', req), k);
  for (let i = 0; i < 5; i++) c.set(2000, `k${i}`, Buffer.from([i]));
  assert.equal(c.get(2000, 'k0'), undefined, 'bounded');
  assert.deepEqual(c.get(2000, 'k4'), Buffer.from([4]));
});
