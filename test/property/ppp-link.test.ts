/**
 * Properties of the PPP layer under hostile input: codecs round-trip and fail only with
 * DecodeError; random, mutated, truncated and replayed frames (with clock jumps) never make
 * PppLink or PppClientLink throw, and PppLink never skips a phase: no 'ipcp-up' without
 * 'authenticated', no data outside IPCP Opened, at most one 'finished' and silence after it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { frameOpArb, replayOps } from '../support/frame-ops.js';
import { DecodeError } from '../../src/common/errors.js';
import { PppClientLink } from '../../src/ppp/link/client-link.js';
import { decodeCp, decodeOptions, encodeCp, encodeOptions } from '../../src/ppp/cp.js';
import { parseFrame } from '../../src/ppp/frame.js';
import { PppLink, type PppEvent, type PppLinkOptions } from '../../src/ppp/link/link.js';
import { FakeAuthenticator, FakePeer, ZERO_HLAK, exchangeFrames, setAddresses } from '../support/ppp-fakes.js';
import { seeded } from '../support/random.js';

const serverOptions = (): PppLinkOptions => ({
  mru: 1452,
  authProtocols: ['mschap-v2', 'pap'],
  makeAuthenticator: (m) => new FakeAuthenticator(m),
  echo: { intervalS: 10, failure: 2, timeoutS: 0 },
  dns: ['192.0.2.53'],
  random: seeded(7),
});

/** The client's frames of one good session: replayed into an identical server they reproduce it. */
function recordClientFrames(): Buffer[] {
  const server = new PppLink(serverOptions());
  const client = new PppClientLink({ authMethods: ['pap'], makeAuthPeer: () => new FakePeer(), random: seeded(9) });
  const frames = exchangeFrames(server, client, (ev) => {
    if (ev.type === 'verify') server.authResult(0, { ok: true, username: 'alice', hlaks: [{ label: 'ms-sstp', key: ZERO_HLAK }] });
    if (ev.type === 'authenticated') setAddresses(server, 0, '10.0.0.1', '10.0.0.2');
  }).toServer;
  frames.push(Buffer.from('ff0300214500001400000000400100000a0000010a000002', 'hex')); // an IPv4 packet
  return frames;
}

const ORIGINAL = recordClientFrames();

const opArb = frameOpArb(5);

/** The phase invariants over the whole event stream of one run. */
function checkInvariants(events: readonly PppEvent[]): void {
  let verified = false;
  let authenticated = false;
  let ipUp = false;
  let finished = false;
  for (const ev of events) {
    if (ev.type === 'log') continue;
    assert.ok(!finished, `event ${ev.type} after finished`);
    switch (ev.type) {
      case 'verify':
        verified = true;
        break;
      case 'authenticated':
        assert.ok(verified, 'authenticated without verify');
        authenticated = true;
        break;
      case 'ipcp-up':
        assert.ok(authenticated, 'ipcp-up without authenticated');
        assert.ok(!ipUp, 'ipcp-up twice');
        ipUp = true;
        break;
      case 'ipcp-down':
        assert.ok(ipUp, 'ipcp-down without ipcp-up');
        ipUp = false;
        break;
      case 'data':
        assert.ok(ipUp, 'data while IPCP is not Opened');
        assert.equal(ev.protocol, 0x21);
        break;
      case 'finished':
        assert.ok(!ipUp, 'finished while ipcp is up (no ipcp-down first)');
        finished = true;
        break;
      default:
        break;
    }
  }
}

test('property: the recorded session really reaches ipcp-up (the replay base is meaningful)', () => {
  const link = new PppLink(serverOptions());
  link.lowerUp(0);
  const events: PppEvent[] = [];
  const pump = (): void => {
    for (const ev of link.poll()) {
      events.push(ev);
      if (ev.type === 'verify') link.authResult(0, { ok: true, username: 'alice', hlaks: [{ label: 'ms-sstp', key: ZERO_HLAK }] });
      if (ev.type === 'authenticated') setAddresses(link, 0, '10.0.0.1', '10.0.0.2');
    }
  };
  pump();
  for (const f of ORIGINAL) {
    link.receive(0, f);
    pump();
  }
  const types = events.filter((e) => e.type !== 'log' && e.type !== 'send').map((e) => e.type);
  assert.deepEqual(types, ['verify', 'authenticated', 'ipcp-up', 'data']);
});

test('property: random, mutated, truncated and replayed frames never throw and never skip a phase', () => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 60 }), fc.boolean(), (ops, answerAuth) => {
      const link = new PppLink(serverOptions());
      const events: PppEvent[] = [];
      const pump = (now: number): void => {
        for (const ev of link.poll()) {
          events.push(ev);
          if (ev.type === 'verify' && answerAuth) link.authResult(now, { ok: true, username: 'alice', hlaks: [{ label: 'ms-sstp', key: ZERO_HLAK }] });
          if (ev.type === 'authenticated') setAddresses(link, now, '10.0.0.1', '10.0.0.2');
        }
      };
      link.lowerUp(0);
      pump(0);
      replayOps(link, ops, ORIGINAL, (now) => {
        pump(now);
        const d = link.nextDeadline();
        assert.ok(d === undefined || Number.isFinite(d));
      });
      checkInvariants(events);
      for (const ev of events) if (ev.type === 'send') assert.equal(ev.frame.readUInt16BE(0), 0xff03);
    }),
    { numRuns: 400 },
  );
});

test('property: the client link never throws on random or mutated frames', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 48 }), { maxLength: 40 }), fc.integer({ min: 0, max: 5000 }), (frames, step) => {
      const client = new PppClientLink({ authMethods: ['pap'], makeAuthPeer: () => new FakePeer(), random: seeded(3) });
      let now = 0;
      client.lowerUp(now);
      for (const f of frames) {
        // Bias toward well-formed LCP/IPCP headers so deeper states are reached.
        const proto = f.length > 0 && f[0]! < 128 ? (f[0]! < 64 ? 'c021' : '8021') : '';
        client.receive(now, Buffer.concat([Buffer.from(proto, 'hex'), Buffer.from(f)]));
        now += step;
        client.handleTimeout(now);
        client.poll();
      }
    }),
    { numRuns: 300 },
  );
});

test('property: option lists and control packets round-trip', () => {
  const optArb = fc.record({ type: fc.integer({ min: 0, max: 255 }), data: fc.uint8Array({ maxLength: 253 }).map((u) => Buffer.from(u)) });
  fc.assert(
    fc.property(fc.array(optArb, { maxLength: 8 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), (opts, code, id) => {
      const data = encodeOptions(opts);
      assert.deepEqual(encodeOptions(decodeOptions(data)), data);
      const pkt = decodeCp(encodeCp(code, id, data));
      assert.deepEqual([pkt.code, pkt.id, pkt.data], [code, id, data]);
    }),
  );
});

test('property: decoders fail only with DecodeError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (u) => {
      const b = Buffer.from(u);
      for (const f of [parseFrame, decodeCp, decodeOptions]) {
        try {
          f(b);
        } catch (e) {
          assert.ok(e instanceof DecodeError, String(e));
        }
      }
    }),
  );
});
