/**
 * The whole server session core (HTTP → SSTP → PPP) against the whole client core, in memory,
 * with a fake clock and the local auth backend: every layer's real code, no sockets, milliseconds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SessionAction, SessionPolicy } from '../../src/session/session.js';
import type { AuthProtocol, LocalUser } from '../../src/config/model.js';
import { icmpEchoRequest } from '../support/icmp.js';
import { SessionPair, forwardsIpv4 } from '../support/session-pair.js';

class Pair extends SessionPair {
  constructor(
    protocols: AuthProtocol[],
    clientMethods: AuthProtocol[],
    password = 'vyos',
    users?: LocalUser[],
    echo?: SessionPolicy['echo'],
  ) {
    super({
      policy: { authProtocols: protocols, dns: ['10.0.0.1', '10.0.0.2'], ...(echo ? { echo } : {}) },
      client: { authMethods: clientMethods, password },
      ...(users ? { users } : {}),
      maxSteps: 500,
    });
  }
  serverEvents(type: SessionAction['type']): SessionAction[] {
    return this.sa.filter((a) => a.type === type);
  }
}

for (const method of ['pap', 'chap', 'mschap', 'mschap-v2'] as AuthProtocol[]) {
  test(`${method}: server and client cores reach IPCP, verify the binding, and pass IPv4 both ways`, () => {
    const p = new Pair([method], [method]);
    p.drive();
    const up = p.ca.find((a) => a.type === 'up');
    assert.deepEqual(up, {
      type: 'up', ipv4: '192.0.2.1', peer: '192.0.2.254', dns: ['10.0.0.1', '10.0.0.2'], mtu: 1452, auth: method, binding: 'sha256',
    });
    const link = p.serverEvents('link-up')[0];
    assert.deepEqual(link, { type: 'link-up', local: '192.0.2.254', peer: '192.0.2.1', mtu: 1452 });
    assert.equal(p.logs('binding-verified').length, 1);
    assert.equal(forwardsIpv4(p.server), true);
    const ping = icmpEchoRequest('192.0.2.1', '192.0.2.254', 1, 1, Buffer.alloc(8));
    p.toServer.push(p.client.encodeIp(ping)!);
    p.drive();
    const ip = p.serverEvents('ip');
    assert.equal(ip.length, 1);
    assert.deepEqual((ip[0] as { packet: Buffer }).packet, ping);
  });
}

test('strongest method first: a client that allows everything gets MS-CHAPv2', () => {
  const p = new Pair(['mschap-v2', 'mschap', 'chap', 'pap'], ['pap', 'chap', 'mschap', 'mschap-v2']);
  p.drive();
  const opened = p.logs('lcp-opened')[0];
  assert.equal(opened?.type === 'log' ? opened.fields?.['auth'] : undefined, 'mschap-v2');
});

test('client that only does PAP against a server allowing only MS-CHAPv2: no link, no data, session ends', () => {
  const p = new Pair(['mschap-v2'], ['pap']);
  p.drive();
  for (let i = 0; i < 20 && p.serverEvents('ended').length === 0; i++) p.tick();
  assert.equal(p.ca.some((a) => a.type === 'up'), false);
  assert.equal(p.serverEvents('link-up').length, 0);
  const ended = p.serverEvents('ended')[0] as { cause: string; reason: string };
  assert.equal(ended.cause, 'auth-failed', JSON.stringify(p.sa.filter((a) => a.type === 'log' || a.type === 'ended')));
  assert.match(ended.reason, /authentication protocol/);
});

test('wrong password: failure reaches the client, server ends with auth-failed, nothing leased', () => {
  const p = new Pair(['mschap-v2'], ['mschap-v2'], 'wrong');
  p.drive();
  for (let i = 0; i < 10 && p.serverEvents('ended').length === 0; i++) p.tick();
  assert.equal(p.serverEvents('authenticated').length, 0);
  assert.equal(p.serverEvents('auth-failed').length, 1);
  assert.equal((p.serverEvents('ended')[0] as { cause: string }).cause, 'auth-failed');
  assert.ok(p.ca.some((a) => a.type === 'auth-failed'));
});

test('LCP keepalive: an answering client keeps the session; the session survives many intervals', () => {
  const p = new Pair(['pap'], ['pap'], 'vyos', undefined, { intervalS: 5, failure: 2, timeoutS: 0 });
  p.drive();
  for (let i = 0; i < 40; i++) p.tick();
  assert.equal(p.serverEvents('ended').length, 0, JSON.stringify(p.serverEvents('ended')));
  assert.ok(p.now >= 100_000);
});

test('client goes silent: the server ends the session with lost-carrier after the echo failures', () => {
  const p = new Pair(['pap'], ['pap'], 'vyos', undefined, { intervalS: 5, failure: 2, timeoutS: 0 });
  p.drive();
  const upAt = p.now;
  // From now on nothing the server sends reaches the client, and the client sends nothing.
  for (let i = 0; i < 50 && p.serverEvents('ended').length === 0; i++) {
    const d = p.server.nextDeadline()!;
    p.now = d;
    p.server.handleTimeout(d);
    p.sa.push(...p.server.poll());
  }
  const ended = p.serverEvents('ended')[0] as { cause: string } | undefined;
  assert.ok(ended, 'session ended');
  assert.equal(ended.cause, 'lost-carrier');
  assert.ok(p.now - upAt >= 10_000 && p.now - upAt <= 20_000, `ended after ${p.now - upAt} ms`);
});

test('client closes: LCP Terminate, SSTP Call Disconnect, server ends with user-request', () => {
  const p = new Pair(['mschap-v2'], ['mschap-v2']);
  p.drive();
  p.client.close(p.now);
  p.drive();
  for (let i = 0; i < 5 && p.serverEvents('ended').length === 0; i++) p.tick();
  assert.equal((p.serverEvents('ended')[0] as { cause: string }).cause, 'user-request');
  assert.equal(p.serverEvents('link-down').length, 1);
});

test('the server terminates (operator): client sees the link end', () => {
  const p = new Pair(['mschap-v2'], ['mschap-v2']);
  p.drive();
  p.server.terminate(p.now, 'admin-reset', 'operator');
  p.drive();
  for (let i = 0; i < 5 && !p.ca.some((a) => a.type === 'closed'); i++) p.tick();
  assert.ok(p.ca.some((a) => a.type === 'closed'));
  assert.equal((p.serverEvents('ended')[0] as { cause: string }).cause, 'admin-reset');
});

test('mtu and ppp-options mru set the interface MTU: the client MRU capped at mtu, at most our MRU', () => {
  const capped = new SessionPair({ policy: { authProtocols: ['mschap-v2'], maxPeerMru: 1400 }, client: { authMethods: ['mschap-v2'], password: 'vyos' }, maxSteps: 500 });
  capped.drive();
  assert.deepEqual(capped.sa.find((a) => a.type === 'link-up'), { type: 'link-up', local: '192.0.2.254', peer: '192.0.2.1', mtu: 1400 });
  const small = new SessionPair({ policy: { authProtocols: ['mschap-v2'], mru: 1300 }, client: { authMethods: ['mschap-v2'], password: 'vyos' }, maxSteps: 500 });
  small.drive();
  assert.deepEqual(small.sa.find((a) => a.type === 'link-up'), { type: 'link-up', local: '192.0.2.254', peer: '192.0.2.1', mtu: 1300 });
  assert.equal((small.ca.find((a) => a.type === 'up') as { mtu?: number } | undefined)?.mtu, 1300, 'the client sends at most our MRU');
});

test('noauth: LCP asks for no authentication, the backend is never asked, the session has no user name and passes IPv4', () => {
  const p = new SessionPair({ policy: { authProtocols: [], noauth: true }, client: { authMethods: ['mschap-v2'] }, maxSteps: 500 });
  p.drive();
  assert.equal(p.of('authenticate').length, 0, 'nobody is asked for a password');
  const opened = p.logs('lcp-opened')[0];
  assert.equal(opened?.fields?.['auth'], 'none');
  assert.deepEqual(p.of('authenticated').map((a) => a.result.username), ['']);
  assert.equal(p.server.username, '');
  const up = p.ca.find((a) => a.type === 'up');
  assert.ok(up && up.type === 'up' && up.ipv4 === '192.0.2.1', JSON.stringify(up));
  assert.equal(forwardsIpv4(p.server), true);
});

test('holdData: while the driver holds the session (pre-up hooks), no data passes either way; released, it flows', () => {
  const p = new SessionPair({ policy: { authProtocols: ['mschap-v2'] }, maxSteps: 500 });
  p.server.holdData(true);
  p.drive();
  assert.ok(p.ca.some((a) => a.type === 'up'), 'IPCP opens (as in accel-ppp, ip-pre-up runs after it)');
  assert.equal(forwardsIpv4(p.server), false, 'nothing goes to the client');
  const ping = icmpEchoRequest('192.0.2.1', '192.0.2.254', 1, 1, Buffer.alloc(8));
  p.toServer.push(p.client.encodeIp(ping)!);
  p.drive();
  assert.equal(p.of('ip').length, 0, 'nothing from the client reaches the host');
  assert.equal(p.server.drops['not-open'], 1);
  p.server.holdData(false);
  assert.equal(forwardsIpv4(p.server), true);
  p.toServer.push(p.client.encodeIp(ping)!);
  p.drive();
  assert.equal(p.of('ip').length, 1);
});
