/**
 * PppLink ↔ PppClientLink with the real authenticators (createAuthenticator), the real client
 * AuthPeer and the local backend: every method end to end through LCP, auth and IPCP.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalAuthBackend } from '../../src/auth/local.js';
import type { AuthProtocol, LocalUser } from '../../src/config/model.js';
import { createAuthenticator } from '../../src/ppp/auth/index.js';
import { AuthPeer } from '../../src/ppp/auth/peer.js';
import { PppClientLink, type PppClientEvent } from '../../src/ppp/link/client-link.js';
import { PppLink, type PppEvent } from '../../src/ppp/link/link.js';
import { setAddresses } from '../support/ppp-fakes.js';
import { seeded } from '../support/random.js';

const users = new Map<string, LocalUser>([['alice', { name: 'alice', password: 'secret', disabled: false }]]);

async function session(method: AuthProtocol, password: string): Promise<{ s: PppEvent[]; c: PppClientEvent[] }> {
  const backend = new LocalAuthBackend(users);
  const server = new PppLink({
    mru: 1452,
    authProtocols: [method],
    makeAuthenticator: (m) => createAuthenticator(m, { random: seeded(1), serverName: 'sstpd' }),
    echo: { intervalS: 0, failure: 3, timeoutS: 0 },
    dns: ['192.0.2.53'],
    random: seeded(2),
  });
  const random = seeded(3);
  const client = new PppClientLink({ authMethods: [method], makeAuthPeer: (m) => new AuthPeer(m, { username: 'alice', password, random }), random });
  const s: PppEvent[] = [];
  const c: PppClientEvent[] = [];
  const pending: Promise<void>[] = [];
  const settle = (): void => {
    for (let moved = true; moved; ) {
      moved = false;
      for (const ev of server.poll()) {
        moved = true;
        if (ev.type === 'send') client.receive(0, ev.frame);
        else if (ev.type !== 'log') s.push(ev);
        if (ev.type === 'verify') {
          pending.push(backend.authenticate(ev.request, { sessionId: 't', callingStationId: '192.0.2.9' }).then((r) => server.authResult(0, r)));
        }
        if (ev.type === 'authenticated') setAddresses(server, 0, '10.0.0.1', '10.0.0.2');
      }
      for (const ev of client.poll()) {
        moved = true;
        if (ev.type === 'send') server.receive(0, ev.frame);
        else if (ev.type !== 'log') c.push(ev);
      }
    }
  };
  server.lowerUp(0);
  client.lowerUp(0);
  settle();
  while (pending.length > 0) {
    await pending.shift();
    settle();
  }
  // Let Terminate exchanges (after a failure) run out on the fake clock.
  for (let now = 0, i = 0; i < 20; i++) {
    const d = [server.nextDeadline(), client.nextDeadline()].filter((x): x is number => x !== undefined);
    if (d.length === 0 || s.some((e) => e.type === 'finished')) break;
    now = Math.min(...d);
    server.handleTimeout(now);
    client.handleTimeout(now);
    settle();
  }
  return { s, c };
}

for (const method of ['pap', 'chap', 'mschap', 'mschap-v2'] as const) {
  test(`real auth ${method}: LCP → ${method} → IPCP, and both sides agree on the HLAK`, async () => {
    const { s, c } = await session(method, 'secret');
    assert.deepEqual(s.map((e) => e.type), ['verify', 'authenticated', 'ipcp-up']);
    assert.deepEqual(c.map((e) => e.type), ['authenticated', 'ipcp-up']);
    const sa = s[1] as Extract<PppEvent, { type: 'authenticated' }>;
    const ca = c[0] as Extract<PppClientEvent, { type: 'authenticated' }>;
    assert.equal(sa.result.username, 'alice');
    assert.deepEqual(ca.hlak, sa.result.hlaks[0]!.key);
    if (method === 'mschap-v2') assert.notDeepEqual(sa.result.hlaks[0]!.key, Buffer.alloc(32), 'MS-CHAPv2 HLAK is keyed');
    assert.deepEqual(c[1], { type: 'ipcp-up', local: '10.0.0.2', peer: '10.0.0.1', dns: ['192.0.2.53'] });
  });

  test(`real auth ${method}: wrong password → auth-failed on both sides, finished auth-failed`, async () => {
    const { s, c } = await session(method, 'wrong');
    assert.deepEqual(s.map((e) => e.type), ['verify', 'auth-failed', 'finished']);
    assert.equal((s[2] as Extract<PppEvent, { type: 'finished' }>).cause, 'auth-failed');
    assert.ok(c.some((e) => e.type === 'auth-failed'));
    assert.ok(!c.some((e) => e.type === 'ipcp-up'));
  });
}
