import { test } from 'node:test';
import assert from 'node:assert/strict';
import { builtinVendor, standardAttribute, vendorAttribute, type AttributeDef } from '../../src/config/radius-dictionary.js';
import { parseRateLimit } from '../../src/radius/rate-limit.js';

const FILTER_ID = standardAttribute('filter-id')!;
const MIKROTIK = vendorAttribute(builtinVendor('Mikrotik')!, 'Mikrotik-Rate-Limit')!;
const INT: AttributeDef = { name: 'Some-Int', type: 200, kind: 'integer' };
const s = (...v: string[]): Buffer[] => v.map((x) => Buffer.from(x));

function ok(values: Buffer[], def: AttributeDef, down: number, up: number, mult = 1): void {
  assert.deepEqual(parseRateLimit(values, def, mult), { ok: true, limit: { downloadKbit: down, uploadKbit: up } }, values.join(' '));
}

test('Filter-Id: D/U, N, separators and units as accel-ppp reads them', () => {
  ok(s('10000/2000'), FILTER_ID, 10000, 2000);
  ok(s('4096'), FILTER_ID, 4096, 4096);
  ok(s('5M/1M'), FILTER_ID, 5000, 1000);
  ok(s('5m\\512k'), FILTER_ID, 5000, 512);
  ok(s('2000:1000'), FILTER_ID, 2000, 1000);
  ok(s('1G/1G'), FILTER_ID, 1_000_000, 1_000_000);
  ok(s('2000000B/1000000b'), FILTER_ID, 2000, 1000);
  ok(s('2000/1000\0'), FILTER_ID, 2000, 1000);
});

test('multiplier converts other units to kbit/s', () => {
  ok(s('10/2'), FILTER_ID, 10000, 2000, 1000);
  ok([Buffer.from([0, 0, 0, 8])], INT, 8, 8);
  ok([Buffer.from([0, 0, 0, 8])], INT, 8000, 8000, 1000);
});

test('Cisco style: output = download, input = upload, one attribute each', () => {
  ok(s('rate-limit output 2000000 8000 8000', 'rate-limit input 1000000 8000 8000'), FILTER_ID, 2000, 1000);
  ok(s('rate-limit input access-group 1 64000 8000 8000', 'rate-limit output access-group 1 128000 8000 8000'), FILTER_ID, 128, 64);
  const half = parseRateLimit(s('rate-limit output 2000000 8000 8000'), FILTER_ID);
  assert.equal(half?.ok, false);
});

test('Mikrotik-Rate-Limit is RX/TX from the router: RX is the client upload', () => {
  ok(s('1M/4M'), MIKROTIK, 4000, 1000);
  ok(s('512k/2M 1M/4M 256k/1M 10/10'), MIKROTIK, 2000, 512);
});

test('unreadable values, time ranges and out-of-range rates are refused with a reason', () => {
  for (const v of ['fast', '1/2/3', '1,2000/1000', '', '0/100', '20000000/1', '-5/5', '5x/1']) {
    const r = parseRateLimit(s(v), FILTER_ID);
    assert.equal(r?.ok, false, v);
  }
  assert.equal(parseRateLimit([], FILTER_ID), undefined, 'no attribute, no limit');
  assert.equal(parseRateLimit([Buffer.from([1, 2])], INT)?.ok, false);
});
