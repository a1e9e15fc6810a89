/**
 * Properties of two choices issue 10 made real: the IPV6CP interface id a server Acks or suggests
 * (never zero, never ours; with a rule only the rule's id unless accept takes the client's), and
 * the RADIUS server accel-ppp's weight rule picks (never a backup while a non-backup is left; the
 * least load per weight, the first configured among equals).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ServerIidOption } from '../../src/ppp/ipv6cp/iid.js';
import { chooseServer, type RadiusServer } from '../../src/radius/client.js';

const id8 = fc.uint8Array({ minLength: 8, maxLength: 8 }).map((a) => Buffer.from(a));
const isZero = (b: Buffer): boolean => b.every((x) => x === 0);

test('IPV6CP id: an Ack is never zero nor ours; a Nak never suggests zero nor ours; a rule without accept Acks only its id', () => {
  fc.assert(
    fc.property(id8, fc.option(id8, { nil: undefined }), id8, fc.boolean(), id8, (ours, rule, offered, accept, seed) => {
      if (isZero(ours)) return;
      let n = 0;
      const random = (k: number): Buffer => {
        const b = Buffer.from(seed.subarray(0, k));
        b[k - 1] = (b[k - 1]! + ++n) & 0xff;
        return b;
      };
      const o = new ServerIidOption(random, 5, ours, accept);
      o.setPeerId(rule);
      const v = o.check(offered);
      if (v.verdict === 'ack') {
        assert.ok(!isZero(offered) && !offered.equals(ours));
        if (rule && !accept) assert.ok(offered.equals(rule));
      } else if (v.verdict === 'nak') {
        assert.ok(!isZero(v.data) && !v.data.equals(ours));
      } else {
        assert.fail('an 8-byte id is never rejected');
      }
    }),
    { numRuns: 500 },
  );
});

const serverArb = fc.record({ weight: fc.integer({ min: 1, max: 255 }), backup: fc.boolean(), load: fc.nat(50) });

test('chooseServer: no backup while a non-backup is a candidate; the least load per weight; the first among equals', () => {
  fc.assert(
    fc.property(fc.array(serverArb, { minLength: 1, maxLength: 8 }), (specs) => {
      const servers: RadiusServer[] = specs.map((s, i) => ({
        address: `192.0.2.${i + 1}`, authPort: 1812, acctPort: 1813, secret: Buffer.from('k'), failTimeS: 0, requireMessageAuthenticator: 'auto', ...s,
      }));
      const load = (s: RadiusServer): number => (s as RadiusServer & { load: number }).load;
      const chosen = chooseServer(servers, load)!;
      const pool = servers.some((s) => !s.backup) ? servers.filter((s) => !s.backup) : servers;
      assert.ok(pool.includes(chosen), 'a backup only when every candidate is one');
      const ratio = (s: RadiusServer): number => load(s) / (s.weight ?? 1);
      const best = Math.min(...pool.map(ratio));
      assert.ok(Math.abs(ratio(chosen) - best) < 1e-9, 'the least load per weight');
      assert.equal<RadiusServer | undefined>(chosen, pool.find((s) => Math.abs(ratio(s) - best) < 1e-9), 'the first configured among equals');
    }),
    { numRuns: 500 },
  );
});
