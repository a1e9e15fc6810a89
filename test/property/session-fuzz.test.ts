/**
 * Hostile input at the session boundary: after a valid HTTP request, random and mutated SSTP
 * streams never make Session throw, never authenticate, never bring a link up or pass data.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Session, type SessionPolicy } from '../../src/session/session.js';
import { certHashes } from '../../src/sstp/binding.js';
import { sstpRequest } from '../../src/sstp/http.js';
import { callConnectRequest, dataPacket } from '../../src/sstp/wire.js';
import { vx } from '../support/vectors.js';

const POLICY: SessionPolicy = {
  authProtocols: ['mschap-v2', 'pap'],
  gateway: '192.0.2.254',
  dns: ['10.0.0.1'],
  mru: 1452,
  echo: { intervalS: 30, failure: 3, timeoutS: 0 },
  certHashes: certHashes(vx('sstp_binding_end_to_end', 'cert_der')),
  serverName: 'sstpd',
  negotiationTimeoutMs: 60_000,
  helloIntervalMs: 60_000,
};

const LCP_REQ = Buffer.from('ff03c02101010014020600000000050612345678070208 02'.replace(/ /g, ''), 'hex');
const PAP_REQ = Buffer.from('ff03c02301010010047679 6f7304767973 6f73'.replace(/ /g, ''), 'hex');

const frames = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
  fc.constantFrom(callConnectRequest(), dataPacket(LCP_REQ), dataPacket(PAP_REQ)),
  fc.tuple(fc.constantFrom(dataPacket(LCP_REQ), callConnectRequest(), dataPacket(PAP_REQ)), fc.nat(40), fc.integer({ min: 0, max: 255 })).map(([b, i, v]) => {
    const c = Buffer.from(b);
    c[i % c.length] = v;
    return c;
  }),
);

test('random and mutated streams never throw, authenticate, or pass data', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(frames, fc.nat(5000)), { maxLength: 40 }), (steps) => {
      let now = 0;
      const s = new Session(POLICY, (n) => Buffer.alloc(n, 7), now, () => new Date(0));
      s.receive(now, sstpRequest('vpn', '{00000000-0000-0000-0000-000000000000}'));
      const seen = new Set<string>();
      for (const [bytes, dt] of steps) {
        now += dt;
        s.receive(now, bytes);
        const d = s.nextDeadline();
        if (d !== undefined && d <= now) s.handleTimeout(now);
        for (const a of s.poll()) seen.add(a.type);
      }
      for (const bad of ['authenticated', 'link-up', 'ip']) assert.equal(seen.has(bad), false, `saw ${bad}`);
    }),
    { numRuns: 300 },
  );
});
