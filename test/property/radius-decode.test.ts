/**
 * Property tests over everything that reads RADIUS bytes from the network: the decoder, the VSA
 * reader, the client core's reply path, the DAE decision and the auth backend's Accept reading.
 * Random or mutated input raises nothing but DecodeError, is never trusted, and never crashes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { DecodeError } from '../../src/common/errors.js';
import { ATTR } from '../../src/radius/attributes.js';
import { standardAttribute } from '../../src/config/radius-dictionary.js';
import { RadiusClientCore } from '../../src/radius/client.js';
import { decideDae } from '../../src/radius/dae.js';
import { CODE, attr, decodePacket, decodeVsa, encodePacket, maPlaceholder, sealComputedRequest, textAttr, type RadiusPacket } from '../../src/radius/packet.js';
import { RadiusAuthBackend } from '../../src/auth/radius.js';
import { replyTo } from '../support/radius-fake.js';

const attrArb = fc.tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ minLength: 1, maxLength: 60 })).map(([t, v]) => attr(t, Buffer.from(v)));
const packetArb: fc.Arbitrary<RadiusPacket> = fc
  .tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.array(attrArb, { maxLength: 12 }))
  .map(([code, identifier, auth, attributes]) => ({ code, identifier, authenticator: Buffer.from(auth), attributes }));

/** Flip, insert, delete or overwrite bytes. */
const mutate = (b: Buffer, edits: [number, number, number][]): Buffer => {
  let out = Buffer.from(b);
  for (const [kind, pos, val] of edits) {
    const at = out.length === 0 ? 0 : pos % out.length;
    if (kind === 0 && out.length > 0) out[at] = out[at]! ^ (1 << (val % 8));
    else if (kind === 1) out = Buffer.concat([out.subarray(0, at), Buffer.from([val]), out.subarray(at)]);
    else if (kind === 2) out = Buffer.concat([out.subarray(0, at), out.subarray(at + 1)]);
    else if (out.length > 0) out[at] = val;
  }
  return out;
};
const editsArb = fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 });

function onlyDecodeErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof DecodeError)) throw e;
    assert.equal(e.code, 'E_RADIUS_DECODE');
  }
}

test('decode: random bytes give a packet or a DecodeError, nothing else', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => onlyDecodeErrors(() => decodePacket(Buffer.from(b)))), { numRuns: 3000 });
});

test('decode ∘ encode is the identity; any prefix of a packet is refused', () => {
  fc.assert(
    fc.property(packetArb, fc.nat(), (p, cut) => {
      const bytes = encodePacket(p);
      assert.deepEqual(decodePacket(bytes), p);
      const short = bytes.subarray(0, cut % bytes.length);
      assert.throws(() => decodePacket(short), DecodeError);
    }),
    { numRuns: 1000 },
  );
});

test('VSA reader: random values never throw, and every sub-attribute lies inside the value', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), (v) => {
      const subs = decodeVsa(Buffer.from(v));
      assert.ok(subs.reduce((n, s) => n + 2 + s.value.length, 4) <= Math.max(4, v.length));
    }),
    { numRuns: 2000 },
  );
});

const SECRET = Buffer.from('testing123');

test('client core: a mutated reply is never accepted unless it is byte-identical in meaning', () => {
  fc.assert(
    fc.property(fc.array(attrArb, { maxLength: 6 }), editsArb, fc.boolean(), (attrs, edits, withMa) => {
      const core = new RadiusClientCore(
        { servers: [{ address: '192.0.2.1', authPort: 1812, acctPort: 1813, secret: SECRET, failTimeS: 0, requireMessageAuthenticator: 'auto' }], timeoutMs: 1000, maxTry: 1 },
        randomBytes,
      );
      const h = core.submit(0, { role: 'auth', code: CODE.ACCESS_REQUEST, attributes: [textAttr(ATTR.USER_NAME, 'u')] });
      const sent = core.poll().find((o) => o.type === 'send');
      assert.ok(sent && sent.type === 'send');
      const good = replyTo(sent.bytes, SECRET, { attributes: attrs.filter((a) => a.type !== ATTR.MESSAGE_AUTHENTICATOR), ma: withMa });
      const bad = mutate(good, edits);
      core.receive(0, sent, bad);
      const done = core.poll().find((o) => o.type === 'done');
      if (done && done.type === 'done' && done.outcome.ok) {
        // Only a mutation that left the meaning intact (e.g. padding past Length) may pass.
        const a = decodePacket(bad);
        const g = decodePacket(good);
        assert.deepEqual({ ...a, authenticator: g.authenticator }, g);
        assert.deepEqual(a.authenticator, g.authenticator);
      }
      void h;
    }),
    { numRuns: 1500 },
  );
});

test('client core: random datagrams from anywhere never throw and never complete a request', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 120 }), { maxLength: 10 }), fc.boolean(), (datagrams, fromServer) => {
      const core = new RadiusClientCore(
        { servers: [{ address: '192.0.2.1', authPort: 1812, acctPort: 1813, secret: SECRET, failTimeS: 0, requireMessageAuthenticator: 'always' }], timeoutMs: 1000, maxTry: 1 },
        randomBytes,
      );
      core.submit(0, { role: 'auth', code: CODE.ACCESS_REQUEST, attributes: [textAttr(ATTR.USER_NAME, 'u')] });
      core.poll();
      for (const d of datagrams) core.receive(1, fromServer ? { address: '192.0.2.1', port: 1812 } : { address: '198.51.100.1', port: 1812 }, Buffer.from(d));
      assert.equal(core.poll().some((o) => o.type === 'done'), false);
    }),
    { numRuns: 1000 },
  );
});

test('DAE: random and mutated requests never throw; a broken authenticator is always dropped', () => {
  const cfg = { secret: SECRET, nas: { identifier: 'n' }, rateLimit: { attribute: standardAttribute('Filter-Id')!, multiplier: 1 } };
  const sessions = () => [{ sid: 's1', username: 'alice', ip: '192.0.2.5', callingSid: '198.51.100.7' }];
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
      decideDae(Buffer.from(b), cfg, sessions);
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.array(attrArb, { maxLength: 6 }), editsArb, fc.constantFrom(CODE.DISCONNECT_REQUEST, CODE.COA_REQUEST), (attrs, edits, code) => {
      const good = sealComputedRequest({ code, identifier: 1, attributes: [maPlaceholder(), textAttr(ATTR.USER_NAME, 'alice'), ...attrs.filter((a) => a.type !== 80)] }, SECRET);
      const d = decideDae(good, cfg, sessions);
      assert.notEqual(d.kind, 'drop', 'a well-sealed request is answered');
      const bad = mutate(good, edits);
      const len = bad.length >= 4 ? bad.readUInt16BE(2) : 0;
      const sameMeaning = bad.length >= 20 && len === good.length && bad.subarray(0, len).equals(good);
      const m = decideDae(bad, cfg, sessions);
      if (!sameMeaning) assert.equal(m.kind, 'drop', `mutated request answered: ${bad.toString('hex')}`);
    }),
    { numRuns: 1500 },
  );
});

test('auth backend: any attributes in a genuine Accept or Reject never crash it', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(attrArb, { maxLength: 10 }), fc.constantFrom(CODE.ACCESS_ACCEPT, CODE.ACCESS_REJECT, CODE.ACCESS_CHALLENGE), fc.constantFrom('pap', 'mschap-v1', 'mschap-v2'), async (attrs, code, kind) => {
      const reply: RadiusPacket = { code, identifier: 0, authenticator: Buffer.alloc(16), attributes: attrs.filter((a) => a.type !== 80) };
      const b = new RadiusAuthBackend({ transport: { request: () => Promise.reject(new Error('unused')) }, nas: {}, rateLimit: { attribute: standardAttribute('Filter-Id')!, multiplier: 1 } });
      const req =
        kind === 'pap'
          ? ({ kind, username: 'u', password: 'p' } as const)
          : kind === 'mschap-v1'
            ? ({ kind, username: 'u', id: 1, challenge: Buffer.alloc(8), ntResponse: Buffer.alloc(24) } as const)
            : ({ kind, username: 'u', id: 1, authenticatorChallenge: Buffer.alloc(16), peerChallenge: Buffer.alloc(16), ntResponse: Buffer.alloc(24) } as const);
      const r = b.interpret(req, { ok: true, reply, requestAuthenticator: Buffer.alloc(16), secret: SECRET, server: 's' });
      if (code !== CODE.ACCESS_ACCEPT) assert.equal(r.ok, false);
      if (r.ok) for (const h of r.hlaks) assert.equal(h.key.length, 32);
    }),
    { numRuns: 1500 },
  );
});
