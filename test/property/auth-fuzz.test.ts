import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { LocalAuthBackend } from '../../src/auth/local.js';
import type { AuthProtocol } from '../../src/config/model.js';
import type { AuthEvent, Authenticator } from '../../src/ppp/auth/authenticator.js';
import { createAuthenticator } from '../../src/ppp/auth/index.js';
import { desExpandKey } from '../../src/crypto/legacy.js';
import { AuthPeer, type AuthPeerEvent } from '../../src/ppp/auth/peer.js';

const METHODS: readonly AuthProtocol[] = ['pap', 'chap', 'mschap', 'mschap-v2'];

/** Deterministic randomness from a seed (tests must not depend on the real RNG). */
function seeded(seed: number): (n: number) => Buffer {
  let x = seed >>> 0 || 1;
  return (n) => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      b[i] = x & 0xff;
    }
    return b;
  };
}

const sends = (evs: readonly (AuthEvent | AuthPeerEvent)[]): Buffer[] =>
  evs.flatMap((e) => (e.type === 'send' ? [e.packet] : []));

/** A server that has sent its challenge (or, for PAP, is waiting) plus the peer's valid first packet. */
function opened(method: AuthProtocol, seed: number): { auth: Authenticator; valid: Buffer } {
  const auth = createAuthenticator(method, { random: seeded(seed), serverName: 'sstpd' });
  const peer = new AuthPeer(method, { username: 'alice', password: 'pw', random: seeded(seed + 1) });
  const challenge = sends(auth.start(0));
  const valid = method === 'pap' ? sends(peer.start())[0]! : sends(peer.handle(challenge[0]!))[0]!;
  return { auth, valid };
}

const mutation = fc.record({
  at: fc.nat(),
  value: fc.integer({ min: 0, max: 255 }),
  cut: fc.option(fc.nat(), { nil: undefined }),
});

function mutate(p: Buffer, ms: readonly { at: number; value: number; cut: number | undefined }[]): Buffer {
  let out = Buffer.from(p);
  for (const m of ms) {
    if (out.length > 0) out[m.at % out.length] = m.value;
    if (m.cut !== undefined) out = out.subarray(0, m.cut % (out.length + 1));
  }
  return out;
}

const noSuccess = (evs: readonly AuthEvent[]): void => {
  assert.ok(!evs.some((e) => e.type === 'success'), 'success without a backend accept');
};

test('random bytes into any authenticator never throw and never succeed', () => {
  fc.assert(
    fc.property(fc.constantFrom(...METHODS), fc.integer(), fc.array(fc.uint8Array({ maxLength: 80 }), { maxLength: 8 }), (m, seed, packets) => {
      const { auth } = opened(m, seed);
      for (const p of packets) noSuccess(auth.handle(1, Buffer.from(p)));
    }),
    { numRuns: 400 },
  );
});

test('mutated valid first packets never throw and never succeed; at most one verify is outstanding', () => {
  fc.assert(
    fc.property(fc.constantFrom(...METHODS), fc.integer(), fc.array(fc.array(mutation, { minLength: 1, maxLength: 4 }), { maxLength: 6 }), (m, seed, batches) => {
      const { auth, valid } = opened(m, seed);
      let verifies = 0;
      for (const ms of batches) {
        const evs = auth.handle(1, mutate(valid, ms));
        noSuccess(evs);
        verifies += evs.filter((e) => e.type === 'verify').length;
      }
      assert.ok(verifies <= 1);
    }),
    { numRuns: 400 },
  );
});

test('after success, random or replayed packets never yield a second success', () => {
  const backend = new LocalAuthBackend(new Map([['alice', { name: 'alice', password: 'pw', disabled: false }]]));
  fc.assert(
    fc.property(fc.constantFrom(...METHODS), fc.integer(), fc.array(fc.uint8Array({ maxLength: 80 }), { maxLength: 6 }), (m, seed, packets) => {
      const { auth, valid } = opened(m, seed);
      const [verify] = auth.handle(0, valid);
      assert.ok(verify?.type === 'verify');
      const first = auth.backendResult(0, backend.verify(verify.request));
      assert.equal(first.filter((e) => e.type === 'success').length, 1);
      for (const p of [...packets.map((b) => Buffer.from(b)), valid]) {
        const evs = auth.handle(2, p);
        noSuccess(evs);
        for (const e of evs) if (e.type === 'verify') noSuccess(auth.backendResult(2, backend.verify(e.request)));
      }
    }),
    { numRuns: 300 },
  );
});

test('random bytes into AuthPeer never throw; the MS-CHAPv2 peer never succeeds on them', () => {
  fc.assert(
    fc.property(fc.constantFrom(...METHODS), fc.integer(), fc.array(fc.uint8Array({ maxLength: 80 }), { maxLength: 8 }), (m, seed, packets) => {
      const peer = new AuthPeer(m, { username: 'u', password: 'p', random: seeded(seed) });
      peer.start();
      for (const p of packets) {
        const evs = peer.handle(Buffer.from(p));
        if (m === 'mschap-v2') assert.ok(!evs.some((e) => e.type === 'success'));
      }
    }),
    { numRuns: 400 },
  );
});

const credential = fc
  .string({ unit: 'grapheme', minLength: 1, maxLength: 12 })
  .filter((s) => Buffer.byteLength(s, 'utf8') <= 254); // PAP's 1-byte lengths, with room for the '!' below

test('any credentials: server and peer agree (success, equal HLAK); a different password fails', () => {
  fc.assert(
    fc.property(fc.constantFrom(...METHODS), credential, credential, fc.integer(), (m, username, password, seed) => {
      const backend = new LocalAuthBackend(new Map([[username, { name: username, password, disabled: false }]]));
      for (const [pw, ok] of [[password, true], [password + '!', false]] as const) {
        const { server, peer } = run(m, backend, username, pw, seed);
        const s = server.find((e) => e.type === 'success');
        const p = peer.find((e) => e.type === 'success');
        assert.equal(s !== undefined, ok);
        assert.equal(p !== undefined, ok);
        if (s?.type === 'success' && p?.type === 'success') assert.deepEqual(p.hlak, s.result.hlaks[0]!.key);
      }
    }),
    { numRuns: 150 },
  );
});

function run(m: AuthProtocol, backend: LocalAuthBackend, username: string, password: string, seed: number) {
  const auth = createAuthenticator(m, { random: seeded(seed), serverName: 's' });
  const peer = new AuthPeer(m, { username, password, random: seeded(seed ^ 0x5a5a) });
  const server: AuthEvent[] = auth.start(0);
  const peerEvs: AuthPeerEvent[] = peer.start();
  let toPeer = sends(server);
  let toServer = sends(peerEvs);
  for (let i = 0; i < 10 && toPeer.length + toServer.length > 0; i++) {
    const pe = toPeer.flatMap((p) => peer.handle(p));
    const se = toServer.flatMap((p) =>
      auth.handle(0, p).flatMap((e) => (e.type === 'verify' ? [e, ...auth.backendResult(0, backend.verify(e.request))] : [e])),
    );
    peerEvs.push(...pe);
    server.push(...se);
    toPeer = sends(se);
    toServer = sends(pe);
  }
  return { server, peer: peerEvs };
}

test('DES key expansion: every byte has odd parity and carries 7 key bits in order', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 7, maxLength: 7 }), (k) => {
      const out = desExpandKey(Buffer.from(k));
      let bits = 0n;
      for (const b of out) {
        let ones = 0;
        for (let x = b; x; x >>= 1) ones += x & 1;
        assert.equal(ones % 2, 1);
        bits = (bits << 7n) | BigInt(b >> 1);
      }
      assert.equal(bits.toString(16).padStart(14, '0'), Buffer.from(k).toString('hex'));
    }),
  );
});
