/**
 * `ppp-options ipv6-peer-interface-id` and `ipv6-accept-peer-interface-id` in the IPV6CP
 * Interface-Identifier option, with accel-ppp's semantics (ppp/ipv6cp_opt_intfid.c): which client
 * ids are Acked, which are Nak'd and with what, and how each rule derives the session's peer id.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ServerIidOption, parseIid, peerIidFor, type PeerIidRule } from '../../src/ppp/ipv6cp/iid.js';
import type { OptionVerdict } from '../../src/ppp/negotiate.js';

let counter = 0;
/** Distinct, deterministic "random" bytes. */
const random = (n: number): Buffer => {
  const b = Buffer.alloc(n);
  b.writeUInt32BE(++counter, n - 4);
  b[0] = 0x40;
  return b;
};
const id = (text: string): Buffer => parseIid(text)!;
const OURS = id('0:0:0:1');
const ZERO = Buffer.alloc(8);
const nakData = (v: OptionVerdict): Buffer | undefined => (v.verdict === 'nak' ? v.data : undefined);

test('default (neither node): the client keeps its own id; zero or ours is Nak\'d with a fresh random one', () => {
  const o = new ServerIidOption(random, 5, OURS);
  assert.deepEqual(o.check(id('a:b:c:d')), { verdict: 'ack' });
  for (const bad of [ZERO, OURS]) {
    const n = nakData(o.check(bad));
    assert.ok(n && !n.equals(OURS) && !n.equals(ZERO));
  }
});

test('a rule without accept: only the rule\'s id is Acked; the client\'s own is Nak\'d with it (accel-ppp)', () => {
  const o = new ServerIidOption(random, 5, OURS);
  o.setPeerId(id('0:0:0:2'));
  assert.deepEqual(nakData(o.check(id('a:b:c:d'))), id('0:0:0:2'));
  assert.deepEqual(nakData(o.check(ZERO)), id('0:0:0:2'));
  assert.deepEqual(o.check(id('0:0:0:2')), { verdict: 'ack' });
});

test('accept: a client\'s non-zero id is taken even with a rule; a zero one gets the rule\'s id', () => {
  const o = new ServerIidOption(random, 5, OURS, true);
  o.setPeerId(id('0:0:0:2'));
  assert.deepEqual(o.check(id('a:b:c:d')), { verdict: 'ack' });
  assert.deepEqual(nakData(o.check(ZERO)), id('0:0:0:2'));
  // Without a rule, a zero id gets a random one.
  const bare = new ServerIidOption(random, 5, OURS, true);
  const n = nakData(bare.check(ZERO));
  assert.ok(n && !n.equals(ZERO) && !n.equals(OURS));
});

test('an id equal to ours is never Acked nor suggested, whatever the rule (accel-ppp would Nak it with itself for ever)', () => {
  const accepting = new ServerIidOption(random, 5, OURS, true);
  const n1 = nakData(accepting.check(OURS));
  assert.ok(n1 && !n1.equals(OURS));
  const clashingRule = new ServerIidOption(random, 5, OURS);
  clashingRule.setPeerId(OURS);
  const n2 = nakData(clashingRule.check(OURS));
  assert.ok(n2 && !n2.equals(OURS));
});

test('the rule\'s id survives a renegotiation (reset), as accel-ppp keeps it with the session', () => {
  const o = new ServerIidOption(random, 5, OURS);
  o.setPeerId(id('0:0:0:2'));
  o.reset();
  assert.deepEqual(nakData(o.check(id('a:b:c:d'))), id('0:0:0:2'));
});

test('peerIidFor: fixed, random (U/L bit clear, never zero), ipv4-addr as accel-ppp writes it, calling-sid keyed and stable', () => {
  const facts = { ipv4: '192.168.1.254', callingSid: '198.51.100.7' };
  assert.deepEqual(peerIidFor({ mode: 'fixed', id: id('0:0:0:2') }, facts, random), id('0:0:0:2'));
  const r = peerIidFor({ mode: 'random' }, facts, random)!;
  assert.equal(r[0]! & 0x02, 0);
  assert.ok(!r.equals(ZERO));
  // accel-ppp: each octet's decimal digits read as a hex group.
  assert.equal(peerIidFor({ mode: 'ipv4-addr' }, facts, random)!.toString('hex'), '0192016800010254');
  assert.equal(peerIidFor({ mode: 'ipv4-addr' }, { callingSid: '198.51.100.7' }, random), null, 'no IPv4: no id (IPV6CP does not run)');
  const keyed = (key: string, callingSid: string): Buffer => peerIidFor({ mode: 'calling-sid', key: Buffer.from(key) } satisfies PeerIidRule, { callingSid }, random)!;
  const a = keyed('0123456789abcdef', '198.51.100.7');
  assert.deepEqual(keyed('0123456789abcdef', '198.51.100.7'), a, 'the same client gets the same id');
  assert.notDeepEqual(keyed('0123456789abcdef', '198.51.100.8'), a, 'another client another one');
  assert.notDeepEqual(keyed('fedcba9876543210', '198.51.100.7'), a, 'another key another one');
  assert.equal(a[0]! & 0x02, 0);
});
