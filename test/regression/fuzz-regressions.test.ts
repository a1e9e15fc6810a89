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
import { ALL_DHCP, NH_UDP, buildIpv6Packet, buildUdp } from '../../src/ipv6/packet.js';
import { Session } from '../../src/session/session.js';
import { ClientConnection } from '../../src/client/connection.js';
import { LocalAuthBackend } from '../../src/auth/local.js';
import { certHashes } from '../../src/sstp/binding.js';
import { SstpClient } from '../../src/sstp/client.js';
import { http200 } from '../../src/sstp/http.js';
import { callConnectAck } from '../../src/sstp/wire.js';

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

test('DHCPv6: a CLIENTID longer than a DUID is ignored, so no answer outgrows the link MTU (fuzz ipv6-services)', () => {
  const server = new Dhcpv6Server({ serverDuid: DUID, dns: [], prefixes: { acquire: () => parsePrefix6('2001:db8:100::/56'), release: () => undefined } });
  const huge = Buffer.concat([Buffer.from('0003', 'hex'), Buffer.alloc(1658, 0x5a)]);
  for (const type of [MSG.SOLICIT, MSG.INFORMATION_REQUEST]) {
    const evs = server.handle(encodeMessage(type, xid, [encodeOption(OPT.CLIENTID, huge), iaPd(1)]));
    assert.deepEqual(evs.map((e) => e.type), ['ignored']);
  }
  // A DUID of the largest legal size (130 bytes) is still answered.
  const legal = server.handle(encodeMessage(MSG.SOLICIT, xid, [encodeOption(OPT.CLIENTID, huge.subarray(0, 130)), iaPd(1)]));
  assert.equal(legal[0]?.type, 'reply');
  assert.equal(replay('dhcpv6-huge-clientid-reply-over-mtu.json'), undefined);
});

test('Session: a Solicit with a 3850-byte CLIENTID no longer makes the session throw (its answer was a 4289-byte frame)', () => {
  const cert = Buffer.alloc(64, 0x30);
  const random = (seed: number) => (n: number): Buffer => Buffer.alloc(n, seed++ & 0xff || 1);
  const backend = new LocalAuthBackend(new Map([['vyos', { name: 'vyos', password: 'vyos', disabled: false }]]));
  const s = new Session(
    { authProtocols: ['pap'], gateway: '192.0.2.254', dns: [], mru: 1452, echo: { intervalS: 30, failure: 3, timeoutS: 0 }, certHashes: certHashes(cert), serverName: 's', negotiationTimeoutMs: 60_000, helloIntervalMs: 60_000, ipv6: { dns: [], serverDuid: DUID } },
    random(1),
    0,
    () => new Date(0),
  );
  const c = new ClientConnection({ host: 'v', username: 'vyos', password: 'vyos', authMethods: ['pap'], serverCertDer: cert, random: random(101), ipv6: true }, 0);
  c.start(0);
  let v6 = false;
  for (let i = 0; i < 100; i++) {
    for (const a of c.poll()) if (a.type === 'send') s.receive(0, a.bytes);
    for (const a of s.poll()) {
      if (a.type === 'send') c.receive(0, a.bytes);
      if (a.type === 'authenticate') s.authResult(0, backend.verify(a.request));
      if (a.type === 'authenticated') s.networkAssigned(0, { ipv4: '192.0.2.10', ipv6Prefix: parsePrefix6('2001:db8:1::/64')! });
      if (a.type === 'ipv6-up') v6 = true;
    }
  }
  assert.ok(v6, 'IPV6CP is up');
  const iaNa = (iaid: number): Buffer => {
    const b = Buffer.alloc(12);
    b.writeUInt32BE(iaid, 0);
    return encodeOption(OPT.IA_NA, b);
  };
  const solicit = encodeMessage(MSG.SOLICIT, xid, [encodeOption(OPT.CLIENTID, Buffer.alloc(3850, 7)), ...[1, 2, 3, 4, 5, 6, 7, 8].map(iaNa)]);
  const bytes = c.encodeIp(buildIpv6Packet(Buffer.from('fe800000000000000000000000000002', 'hex'), ALL_DHCP, NH_UDP, 1, buildUdp(546, 547, solicit)));
  assert.ok(bytes);
  s.receive(0, bytes);
  assert.ok(s.poll().every((a) => a.type !== 'send' || a.bytes.length <= 1452 + 8));
});

test('SSTP client: PPP authenticated after the call ended (or again) sends nothing and does not throw (fuzz client-connection)', () => {
  const connect = (): SstpClient => {
    const c = new SstpClient({ random: (n) => Buffer.alloc(n, 1) }, 0);
    c.httpRequest(0, 'vpn');
    c.receive(0, Buffer.concat([http200(new Date(0)), callConnectAck(3, Buffer.alloc(32, 2))]));
    c.poll();
    return c;
  };
  const hlak = Buffer.alloc(32, 3);
  const cert = Buffer.alloc(40, 4);
  // The chunk that carried the CHAP Success also carried a packet that is not SSTP: framing error, closed.
  const closed = connect();
  closed.receive(0, Buffer.from('81000008', 'hex'));
  assert.equal(closed.state, 'Client_Call_Disconnected');
  closed.poll();
  assert.equal(closed.sendCallConnected(0, hlak, cert), undefined);
  assert.deepEqual(closed.poll(), []);
  // A bad control packet: the call is being aborted.
  const aborting = connect();
  aborting.receive(0, Buffer.from('1001000800ff0000', 'hex'));
  assert.equal(aborting.state, 'Call_Abort_Pending');
  aborting.poll();
  assert.equal(aborting.sendCallConnected(0, hlak, cert), undefined);
  assert.deepEqual(aborting.poll(), []);
  // Re-authentication after the binding was sent: no second Call Connected.
  const connected = connect();
  assert.equal(connected.sendCallConnected(0, hlak, cert), 2);
  connected.poll();
  assert.equal(connected.sendCallConnected(0, hlak, cert), undefined);
  assert.deepEqual(connected.poll(), []);
  assert.equal(replay('sstp-client-call-connected-after-close.json'), undefined);
});

test('ClientConnection: no "up" after "closed" when one chunk carries the last IPCP Ack and then bytes that are not SSTP (fuzz client-connection)', () => {
  // Fixed by the shared pump (src/session/pump.ts): once the call closed, PPP is told and only its
  // log lines pass on, so an IPCP that opens in the same chunk never becomes an 'up' action.
  assert.equal(replay('client-connection-up-after-closed.json'), undefined);
});
