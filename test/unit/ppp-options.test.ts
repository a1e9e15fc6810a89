/** Option classification (negotiate.ts) and the LCP / IPCP option handlers, one by one. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeOptions, type CpOption } from '../../src/ppp/cp.js';
import {
  applyNak,
  applyReject,
  buildRequest,
  classifyRequest,
  commitRequest,
  rejectOption,
  type OptionHandler,
} from '../../src/ppp/negotiate.js';
import { MruOption } from '../../src/ppp/lcp/mru.js';
import { MagicOption } from '../../src/ppp/lcp/magic.js';
import { ClientAuthOption, ServerAuthOption, authOptionData, methodFromOption } from '../../src/ppp/lcp/auth-proto.js';
import { REJECTED_LCP_OPTIONS } from '../../src/ppp/lcp/reject.js';
import { clientIpcpOptions, serverIpcpOptions } from '../../src/ppp/ipcp/ipcp.js';

const h = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const opts = (hex: string): CpOption[] => decodeOptions(h(hex));
const show = (o: readonly CpOption[]): string[] => o.map((x) => `${x.type}:${x.data.toString('hex')}`);

/** A deterministic random source: 4-byte values from a list, then counting up. */
function seq(...values: number[]): (n: number) => Buffer {
  let next = 0x11111111;
  return (n) => {
    const b = Buffer.alloc(n);
    const v = values.length > 0 ? values.shift()! : next++;
    if (n >= 4) b.writeUInt32BE(v >>> 0, 0);
    return b;
  };
}

function serverLcp(random = seq(0xcafebabe)) {
  const mru = new MruOption({ request: 1452, min: 100, max: 1452 });
  const magic = new MagicOption(random);
  const auth = new ServerAuthOption(['mschap-v2', 'chap', 'pap']);
  const handlers: OptionHandler[] = [mru, auth, magic, ...REJECTED_LCP_OPTIONS];
  return { mru, magic, auth, handlers };
}

test('classify: reject beats nak, unknown types are rejected, a Reject carries options unchanged', () => {
  const handlers: OptionHandler[] = [
    { type: 1, name: 'a', check: () => ({ verdict: 'nak', data: h('0001') }) },
    rejectOption(2, 'b'),
  ];
  const v = classifyRequest(opts('0104 ffff 0203 aa 6303 bb'), handlers);
  assert.equal(v.verdict, 'reject');
  assert.deepEqual(show(v.options), ['2:aa', '99:bb']);
  const n = classifyRequest(opts('0104 ffff'), handlers);
  assert.deepEqual([n.verdict, show(n.options)], ['nak', ['1:0001']]);
});

test('classify: an Ack echoes the request; whenMissing prompts with an unrequested option', () => {
  const handlers: OptionHandler[] = [
    { type: 1, name: 'a', check: () => ({ verdict: 'ack' }) },
    { type: 3, name: 'addr', check: () => ({ verdict: 'ack' }), whenMissing: () => h('0a000002') },
  ];
  const a = classifyRequest(opts('0104 1234 0306 0a000002'), handlers);
  assert.deepEqual([a.verdict, show(a.options)], ['ack', ['1:1234', '3:0a000002']]);
  const m = classifyRequest(opts('0104 1234'), handlers);
  assert.deepEqual([m.verdict, show(m.options)], ['nak', ['3:0a000002']]);
});

test('lcp: our request is MRU 1452, the strongest auth method, a random non-zero magic', () => {
  const { handlers } = serverLcp(seq(0, 0xcafebabe));
  assert.deepEqual(show(buildRequest(handlers)), ['1:05ac', '3:c22381', '5:cafebabe']);
});

test("lcp: pppd's request <asyncmap 0> <magic> <pcomp> <accomp> → Reject exactly 2, 7, 8; then Ack", () => {
  const { handlers } = serverLcp();
  const v = classifyRequest(opts('0206 00000000 0506 1a2b3c4d 0702 0802'), handlers);
  assert.equal(v.verdict, 'reject');
  assert.deepEqual(show(v.options), ['2:00000000', '7:', '8:']);
  assert.equal(classifyRequest(opts('0506 1a2b3c4d'), handlers).verdict, 'ack');
});

test('lcp: Windows options (callback, multilink MRRU/SSNHF/endpoint discriminator) are rejected', () => {
  const { handlers } = serverLcp();
  const v = classifyRequest(opts('0104 0ffb 0d03 06 1104 05dc 1202 1303 00 0506 01020304'), handlers);
  assert.equal(v.verdict, 'reject');
  assert.deepEqual(v.options.map((o) => o.type), [13, 17, 18, 19]);
});

test('lcp MRU: above 1452 → Nak 1452, below 100 → Nak 100, in range → Ack and becomes peerMru', () => {
  const { mru, handlers } = serverLcp();
  for (const [req, verdict, data] of [
    ['05dc', 'nak', '05ac'],
    ['0ffb', 'nak', '05ac'],
    ['0032', 'nak', '0064'],
  ] as const) {
    const v = classifyRequest(opts(`0104 ${req}`), handlers);
    assert.deepEqual([v.verdict, show(v.options)], [verdict, [`1:${data}`]], req);
  }
  const ok = opts('0104 0578');
  assert.equal(classifyRequest(ok, handlers).verdict, 'ack');
  commitRequest(ok, handlers);
  assert.equal(mru.peerMru, 1400);
  commitRequest([], handlers);
  assert.equal(mru.peerMru, 1452, 'no MRU option = 1500, capped at our maximum');
  assert.equal(classifyRequest(opts('0103 05'), handlers).verdict, 'reject', 'malformed length');
});

test('lcp MRU: a Nak of ours is taken within what SSTP can carry; a Reject drops the option', () => {
  const mru = new MruOption({ request: 1452, min: 100, max: 1452 });
  assert.equal(mru.nakked(h('0578')), 'ok');
  assert.deepEqual(mru.request(), h('0578'));
  mru.nakked(h('ffff'));
  assert.equal(mru.request(), undefined);
  mru.reset();
  mru.rejected();
  assert.equal(mru.request(), undefined);
});

test('lcp magic: zero or equal to ours → Nak with a fresh non-zero value; a Nak of ours picks a new one', () => {
  const { magic, handlers } = serverLcp(seq(0xcafebabe, 0, 0xcafebabe, 0x01020304, 0x0a0b0c0d));
  buildRequest(handlers);
  assert.equal(magic.ourMagic, 0xcafebabe);
  const same = classifyRequest(opts('0506 cafebabe'), handlers);
  assert.deepEqual([same.verdict, show(same.options)], ['nak', ['5:01020304']], 'skips 0 and our own value');
  const zero = classifyRequest(opts('0506 00000000'), handlers);
  assert.deepEqual([zero.verdict, show(zero.options)], ['nak', ['5:0a0b0c0d']]);
  const before = magic.ourMagic;
  applyNak(opts('0506 cafebabe'), handlers);
  assert.notEqual(magic.ourMagic, before);
  assert.notEqual(magic.ourMagic, 0);
  applyReject(opts(`0506 ${before.toString(16)}`), handlers);
  assert.equal(magic.ourMagic, 0, 'rejected: echoes carry zero');
  assert.equal(buildRequest(handlers).some((o) => o.type === 5), false);
});

test('lcp auth: a peer asking US to authenticate is rejected', () => {
  const { handlers } = serverLcp();
  const v = classifyRequest(opts('0305 c22381'), handlers);
  assert.deepEqual([v.verdict, v.options.map((o) => o.type)], ['reject', [3]]);
});

test('lcp auth: Nak switching walks the allowed list and fails when nothing is left', () => {
  const auth = new ServerAuthOption(['mschap-v2', 'chap', 'pap']);
  assert.equal(auth.method, 'mschap-v2');
  assert.equal(auth.nakked(authOptionData('pap')), 'ok', 'suggested and allowed: take it');
  assert.equal(auth.method, 'pap');
  assert.equal(auth.nakked(authOptionData('mschap')), 'ok', 'suggested but not allowed: next untried');
  assert.equal(auth.method, 'chap');
  assert.deepEqual(auth.nakked(h('c227')), { fail: 'no common authentication protocol' });
  auth.reset();
  assert.equal(auth.method, 'mschap-v2');
  assert.deepEqual(auth.rejected(), { fail: 'no common authentication protocol' });
});

test('lcp auth: option data for each method, and back', () => {
  const table = { pap: 'c023', chap: 'c22305', mschap: 'c22380', 'mschap-v2': 'c22381' } as const;
  for (const [m, hex] of Object.entries(table)) {
    assert.equal(authOptionData(m as keyof typeof table).toString('hex'), hex);
    assert.equal(methodFromOption(h(hex)), m);
  }
  assert.equal(methodFromOption(h('c227')), undefined);
  assert.equal(methodFromOption(h('c22306')), undefined);
});

test('client lcp auth: Ack an allowed method, Nak others with our preferred one', () => {
  const a = new ClientAuthOption(['mschap-v2', 'pap']);
  assert.deepEqual(a.check(h('c023')), { verdict: 'ack' });
  assert.deepEqual(a.check(h('c22305')), { verdict: 'nak', data: h('c22381') });
  a.commit(h('c023'));
  assert.equal(a.method, 'pap');
});

test("ipcp: pppd's <compress VJ> <addr 0.0.0.0> <ms-dns1/2> → Reject VJ → Nak addr+dns → Ack", () => {
  const t = serverIpcpOptions(['192.0.2.53', '192.0.2.54'], 5);
  t.address.configure('10.0.0.1', '10.0.0.2');
  const first = classifyRequest(opts('0206 002d0f01 0306 00000000 8106 00000000 8306 00000000'), t.handlers);
  assert.deepEqual([first.verdict, show(first.options)], ['reject', ['2:002d0f01']]);
  const second = classifyRequest(opts('0306 00000000 8106 00000000 8306 00000000'), t.handlers);
  assert.deepEqual([second.verdict, show(second.options)], ['nak', ['3:0a000002', '129:c0000235', '131:c0000236']]);
  const third = classifyRequest(opts('0306 0a000002 8106 c0000235 8306 c0000236'), t.handlers);
  assert.equal(third.verdict, 'ack');
});

test('ipcp: a wrong address is Nak-ed, a missing one prompted; DNS rejected without servers; NBNS and IP-Addresses rejected', () => {
  const t = serverIpcpOptions([], 5);
  t.address.configure('10.0.0.1', '10.0.0.2');
  assert.deepEqual(show(classifyRequest(opts('0306 0a000001'), t.handlers).options), ['3:0a000002'], 'our own address is not theirs');
  const missing = classifyRequest([], t.handlers);
  assert.deepEqual([missing.verdict, show(missing.options)], ['nak', ['3:0a000002']]);
  const rej = classifyRequest(opts('0306 0a000002 8106 00000000 8206 00000000 8406 00000000 010a 0000000000000000'), t.handlers);
  assert.deepEqual([rej.verdict, rej.options.map((o) => o.type)], ['reject', [129, 130, 132, 1]]);
});

test('ipcp: wins-server answers NBNS 130/132 like the DNS slots (Nak to ours, Ack ours); an empty slot is rejected', () => {
  const t = serverIpcpOptions([], 5, ['192.0.2.137']);
  t.address.configure('10.0.0.1', '10.0.0.2');
  const nak = classifyRequest(opts('0306 0a000002 8206 00000000'), t.handlers);
  assert.deepEqual([nak.verdict, show(nak.options)], ['nak', ['130:c0000289']]);
  assert.equal(classifyRequest(opts('0306 0a000002 8206 c0000289'), t.handlers).verdict, 'ack');
  const rej = classifyRequest(opts('0306 0a000002 8206 c0000289 8406 00000000 8106 00000000'), t.handlers);
  assert.deepEqual([rej.verdict, rej.options.map((o) => o.type)], ['reject', [132, 129]]);
  assert.equal(classifyRequest(opts('0306 0a000002 8205 c00002'), t.handlers).verdict, 'reject', 'a short NBNS option is rejected');
});

test('ipcp: our address is not negotiable: re-requested after a Nak, failure at Max-Failure', () => {
  const t = serverIpcpOptions([], 3);
  t.address.configure('10.0.0.1', '10.0.0.2');
  assert.deepEqual(show(buildRequest(t.handlers)), ['3:0a000001']);
  assert.equal(applyNak(opts('0306 0a0000fe'), t.handlers), 'ok');
  assert.deepEqual(show(buildRequest(t.handlers)), ['3:0a000001']);
  assert.equal(applyNak(opts('0306 0a0000fe'), t.handlers), 'ok');
  assert.deepEqual(applyNak(opts('0306 0a0000fe'), t.handlers), { fail: 'peer refuses our IPCP address' });
});

test('client ipcp: asks 0.0.0.0 + DNS, takes Nak-ed values, drops rejected DNS', () => {
  const t = clientIpcpOptions(true);
  assert.deepEqual(show(buildRequest(t.handlers)), ['3:00000000', '129:00000000', '131:00000000']);
  applyNak(opts('0306 0a000002 8106 c0000235'), t.handlers);
  applyReject(opts('8306 00000000'), t.handlers);
  assert.deepEqual(show(buildRequest(t.handlers)), ['3:0a000002', '129:c0000235']);
  assert.equal(t.address.local, '10.0.0.2');
  assert.deepEqual(t.dns.map((d) => d.address), ['192.0.2.53', undefined]);
});
