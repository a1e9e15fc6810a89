import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HttpRequestReader, type HttpReadResult } from '../../src/sstp/http.js';
import { vs } from '../support/vectors.js';
import { split } from '../support/chunks.js';

/** Feed chunks until a final result; a comparable summary of it (rest + the chunks not fed). */
function run(chunks: Buffer[]): string {
  const rd = new HttpRequestReader();
  let r: HttpReadResult = { kind: 'need-more' };
  let i = 0;
  while (i < chunks.length && r.kind === 'need-more') r = rd.feed(chunks[i++]!);
  if (r.kind === 'request') {
    const rest = Buffer.concat([r.rest, ...chunks.slice(i)]).toString('hex');
    return JSON.stringify({ ...r.request, headers: [...r.request.headers], rest });
  }
  return JSON.stringify(r);
}

const line = fc.stringMatching(/^[A-Za-z0-9:\-_ ./{}]{0,40}$/);
const eol = fc.constantFrom('\r\n', '\n');

test('http reader: same result for any chunking (valid, odd and broken requests)', () => {
  const request = fc.oneof(
    fc.constant(vs('sstp_http', 'request_text')),
    fc.tuple(fc.array(fc.tuple(line, eol), { maxLength: 8 }), eol).map(([ls, end]) => ls.map(([l, e]) => l + e).join('') + end),
    fc
      .tuple(eol, fc.array(fc.tuple(line, eol), { maxLength: 6 }), eol)
      .map(([e0, ls, end]) => `SSTP_DUPLEX_POST ${vs('sstp_http', 'uri')} HTTP/1.1${e0}` + ls.map(([l, e]) => l + e).join('') + end),
    fc.string({ maxLength: 100 }),
  );
  fc.assert(
    fc.property(request, fc.uint8Array({ maxLength: 30 }), fc.array(fc.nat(), { maxLength: 25 }), (text, tail, cuts) => {
      const bytes = Buffer.concat([Buffer.from(text, 'latin1'), Buffer.from(tail)]);
      assert.equal(run(split(bytes, cuts)), run([bytes]));
    }),
    { numRuns: 400 },
  );
});

test('http reader: oversize header blocks are refused for any chunking', () => {
  fc.assert(
    fc.property(fc.integer({ min: 8193, max: 12000 }), fc.array(fc.nat(), { maxLength: 20 }), (n, cuts) => {
      const bytes = Buffer.alloc(n, 0x61);
      const r = JSON.parse(run(split(bytes, cuts))) as { kind: string; status?: number };
      assert.deepEqual([r.kind, r.status], ['error', 431]);
    }),
    { numRuns: 50 },
  );
});
