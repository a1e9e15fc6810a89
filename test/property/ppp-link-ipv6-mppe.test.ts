/**
 * The PPP server link with IPV6CP and `mppe require` under hostile input: a recorded good session
 * (IPCP + IPV6CP + CCP/MPPE, encrypted data both ways) is replayed with random, mutated, truncated
 * frames and clock jumps. Nothing throws; no NCP comes up before authentication; no data passes
 * while its NCP is down or before MPPE is up in both directions; one 'finished', silence after.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { frameOpArb, replayOps } from '../support/frame-ops.js';
import type { AuthResult } from '../../src/auth/backend.js';
import { PppClientLink } from '../../src/ppp/link/client-link.js';
import { PppLink, type PppEvent, type PppLinkOptions } from '../../src/ppp/link/link.js';
import { MPPE_BIT_H, MPPE_BIT_S } from '../../src/ppp/ccp/mppe-option.js';
import { FakeAuthenticator, FakePeer, ZERO_HLAK, pppDataFrame, exchangeFrames } from '../support/ppp-fakes.js';
import { seeded } from '../support/random.js';

const K1 = Buffer.alloc(16, 0x11);
const K2 = Buffer.alloc(16, 0x22);
const ACCEPT: AuthResult = { ok: true, username: 'alice', hlaks: [{ label: 'ms-sstp', key: ZERO_HLAK }], mppeKeys: { send: K1, recv: K2 } };

const serverOptions = (): PppLinkOptions => ({
  mru: 1452,
  authProtocols: ['pap'],
  makeAuthenticator: (m) => new FakeAuthenticator(m),
  echo: { intervalS: 10, failure: 2, timeoutS: 0 },
  dns: [],
  random: seeded(7),
  ipv6: true,
  mppe: 'require',
});

const serve = (link: PppLink, now: number, ev: PppEvent): void => {
  if (ev.type === 'verify') link.authResult(now, ACCEPT);
  if (ev.type === 'authenticated') link.startNetwork(now, { ipv4: { local: '10.0.0.1', peer: '10.0.0.2' }, ipv6: true });
};

/** The client's frames of one good session, ending with encrypted IPv4 and IPv6 packets. */
function recordClientFrames(): Buffer[] {
  const server = new PppLink(serverOptions());
  const client = new PppClientLink({ authMethods: ['pap'], makeAuthPeer: () => new FakePeer({ mppeKeys: { send: K2, recv: K1 } }), random: seeded(9), ipv6: true, mppe: { bits: MPPE_BIT_S | MPPE_BIT_H } });
  const frames = exchangeFrames(server, client, (ev) => serve(server, 0, ev)).toServer;
  for (const p of ['4500001400000000400100000a0000010a000002', '60000000000011ff' + '00'.repeat(32)]) {
    const f = pppDataFrame(client, Buffer.from(p, 'hex'));
    assert.ok(f, 'the recorded client is up with MPPE');
    frames.push(f);
  }
  return frames;
}

const ORIGINAL = recordClientFrames();

const opArb = frameOpArb(6);

function checkInvariants(events: readonly PppEvent[]): void {
  let authenticated = false;
  let v4 = false;
  let v6 = false;
  let finished = false;
  for (const ev of events) {
    if (ev.type === 'log') continue;
    assert.ok(!finished, `event ${ev.type} after finished`);
    switch (ev.type) {
      case 'authenticated':
        authenticated = true;
        break;
      case 'ipcp-up':
      case 'ipv6cp-up':
        assert.ok(authenticated, `${ev.type} without authenticated`);
        if (ev.type === 'ipcp-up') v4 = true;
        else v6 = true;
        break;
      case 'ipcp-down':
        v4 = false;
        break;
      case 'ipv6cp-down':
        v6 = false;
        break;
      case 'data':
        assert.ok(ev.protocol === 0x21 ? v4 : ev.protocol === 0x57 ? v6 : false, `data 0x${ev.protocol.toString(16)} while its NCP is down`);
        break;
      case 'finished':
        assert.ok(!v4 && !v6, 'finished while an NCP is up');
        finished = true;
        break;
      default:
        break;
    }
  }

}

test('property (IPv6 + mppe require): the recorded session opens IPCP, IPV6CP and MPPE and passes both data packets', () => {
  const link = new PppLink(serverOptions());
  link.lowerUp(0);
  const events: PppEvent[] = [];
  const pump = (): void => {
    for (const ev of link.poll()) {
      events.push(ev);
      serve(link, 0, ev);
    }
  };
  pump();
  for (const f of ORIGINAL) {
    link.receive(0, f);
    pump();
  }
  const types = events.filter((e) => e.type !== 'log' && e.type !== 'send').map((e) => e.type);
  assert.deepEqual(types.filter((t) => t !== 'ipv6cp-up' && t !== 'ipcp-up'), ['verify', 'authenticated', 'data', 'data']);
  assert.ok(types.includes('ipcp-up') && types.includes('ipv6cp-up'));
  assert.ok(events.some((e) => e.type === 'log' && e.event === 'mppe-up'));
});

test('property (IPv6 + mppe require): hostile frames never throw and never open a gate early', () => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => {
      const link = new PppLink(serverOptions());
      const events: PppEvent[] = [];
      const pump = (now: number): void => {
        for (const ev of link.poll()) {
          events.push(ev);
          serve(link, now, ev);
          // With `require`, data may only come out while MPPE is up both ways.
          if (ev.type === 'data') assert.ok(!link.gate.heldForMppe, 'data passed before MPPE was up');
        }
      };
      link.lowerUp(0);
      pump(0);
      replayOps(link, ops, ORIGINAL, pump);
      checkInvariants(events);
    }),
    { numRuns: 300 },
  );
});
