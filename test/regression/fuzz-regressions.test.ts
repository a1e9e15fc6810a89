/**
 * Bugs `npm run fuzz` found, kept fixed. Each has a direct test on the core with the minimized
 * input, and its reproducer (bench/fuzz/reproducers/fixed/*.json, the fuzzer's own file) is
 * replayed through its fuzz target, which must no longer fail.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runEpisode, stepsOf, type Reproducer } from '../../bench/fuzz/engine.js';
import { TARGETS } from '../../bench/fuzz/targets/index.js';
import { ATTR } from '../../src/radius/attributes.js';
import { RadiusClientCore, type RadiusRequest } from '../../src/radius/client.js';
import { CODE, attr, textAttr } from '../../src/radius/packet.js';
import { MSG, OPT, Dhcpv6Server, encodeMessage, encodeOption, type PrefixSource } from '../../src/ipv6/dhcpv6.js';
import { parsePrefix6, type Prefix6 } from '../../src/ip/ipv6-addr.js';

/** Replays a stored reproducer through its target: undefined = no failure any more. */
function replay(name: string): string | undefined {
  const r = JSON.parse(readFileSync(join(process.cwd(), 'bench', 'fuzz', 'reproducers', 'fixed', name), 'utf8')) as Reproducer;
  const target = TARGETS.find((t) => t.name === r.target);
  assert.ok(target, `target ${r.target}`);
  const f = runEpisode(target, stepsOf(r), 10_000);
  return f && `${f.kind}: ${f.message}`;
}

test('RADIUS client: a request RADIUS cannot carry fails as a request instead of throwing (fuzz radius-client)', () => {
  const server = { address: '192.0.2.1', authPort: 1812, acctPort: 1813, secret: Buffer.from('s'), failTimeS: 0, requireMessageAuthenticator: 'auto' as const };
  const core = new RadiusClientCore({ servers: [server], timeoutMs: 1000, maxTry: 1 }, (n) => Buffer.alloc(n, 1));
  const requests: RadiusRequest[] = [
    // A PAP password of 200 bytes (User-Password holds at most 128).
    { role: 'auth', code: CODE.ACCESS_REQUEST, attributes: [textAttr(ATTR.USER_NAME, 'alice'), { ...attr(ATTR.USER_PASSWORD, Buffer.alloc(200, 0x61)), hide: true }] },
    // A peer's name of 540 bytes in accounting (an attribute holds at most 253).
    { role: 'acct', code: CODE.ACCOUNTING_REQUEST, attributes: [textAttr(ATTR.USER_NAME, 'é'.repeat(270))] },
    // An empty name (an attribute holds at least 1 byte).
    { role: 'auth', code: CODE.ACCESS_REQUEST, attributes: [textAttr(ATTR.USER_NAME, '')] },
  ];
  for (const req of requests) {
    const h = core.submit(0, req);
    const outs = core.poll();
    const done = outs.find((o) => o.type === 'done' && o.handle === h);
    assert.ok(done && done.type === 'done' && !done.outcome.ok && /cannot be encoded/.test(done.outcome.reason), JSON.stringify(outs));
    assert.equal(outs.some((o) => o.type === 'send'), false);
  }
  assert.equal(core.outstanding, 0);
  // The Identifiers taken for them were given back: a good request still goes out.
  core.submit(0, { role: 'auth', code: CODE.ACCESS_REQUEST, attributes: [textAttr(ATTR.USER_NAME, 'alice')] });
  assert.ok(core.poll().some((o) => o.type === 'send'));
  assert.equal(replay('radius-client-pap-password-over-128.json'), undefined);
  assert.equal(replay('radius-client-acct-user-name-over-253.json'), undefined);
});

const DUID = Buffer.from('0003000102aabbccddee', 'hex');
const CLIENT = Buffer.from('000300010211223344ff', 'hex');
const iaPd = (iaid: number): Buffer => {
  const b = Buffer.alloc(12);
  b.writeUInt32BE(iaid, 0);
  return encodeOption(OPT.IA_PD, b);
};
const xid = Buffer.from('123456', 'hex');

test('DHCPv6: a Release naming the same IA_PD twice gives the prefix back once (fuzz ipv6-services)', () => {
  const released: Prefix6[] = [];
  const pool: PrefixSource = { acquire: () => parsePrefix6('2001:db8:100::/56'), release: (p) => void released.push(p) };
  const server = new Dhcpv6Server({ serverDuid: DUID, dns: [], prefixes: pool });
  const bound = server.handle(encodeMessage(MSG.SOLICIT, xid, [encodeOption(OPT.CLIENTID, CLIENT), encodeOption(OPT.RAPID_COMMIT, Buffer.alloc(0)), iaPd(1)]));
  assert.ok(bound.some((e) => e.type === 'bound'));
  const evs = server.handle(encodeMessage(MSG.RELEASE, xid, [encodeOption(OPT.CLIENTID, CLIENT), encodeOption(OPT.SERVERID, DUID), iaPd(1), iaPd(1)]));
  assert.equal(released.length, 1);
  assert.equal(evs.filter((e) => e.type === 'released').length, 1);
  assert.equal(replay('dhcpv6-release-same-ia-twice.json'), undefined);
});
