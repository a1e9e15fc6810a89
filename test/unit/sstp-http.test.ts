import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SstpdError } from '../../src/common/errors.js';
import {
  HEADER_BLOCK_MAX,
  HttpRequestReader,
  HttpResponseReader,
  type HttpReadResult,
  type HttpRequest,
  checkSstpRequest,
  hostHeaderNames,
  correlationId,
  http200,
  httpError,
  sstpRequest,
} from '../../src/sstp/http.js';
import { vs } from '../support/vectors.js';

const H = 'sstp_http';
const URI = vs(H, 'uri');
const read = (text: string | Buffer): HttpReadResult => new HttpRequestReader().feed(Buffer.isBuffer(text) ? text : Buffer.from(text, 'latin1'));
const req = (method: string, uri: string, version = 'HTTP/1.1'): HttpRequest => ({ method, uri, version, headers: new Map() });

test('parses the vector request; rest is empty', () => {
  const r = read(vs(H, 'request_text'));
  assert.equal(r.kind, 'request');
  if (r.kind !== 'request') return;
  assert.equal(r.request.method, 'SSTP_DUPLEX_POST');
  assert.equal(r.request.uri, URI);
  assert.equal(r.request.version, 'HTTP/1.1');
  assert.equal(r.request.headers.get('host'), 'vpn.example.com');
  assert.equal(r.request.headers.get('content-length'), vs(H, 'content_length'));
  assert.equal(correlationId(r.request), '{2F9C0E1A-4B5D-4C6E-8F70-91A2B3C4D5E6}');
  assert.equal(r.rest.length, 0);
  assert.deepEqual(checkSstpRequest(r.request), { ok: true });
});

test('bytes after the blank line are handed back as the SSTP stream start', () => {
  const sstp = Buffer.from('1001000e00010001000100060001', 'hex');
  const r = read(Buffer.concat([Buffer.from(vs(H, 'request_text'), 'latin1'), sstp]));
  assert.equal(r.kind === 'request' && r.rest.toString('hex'), sstp.toString('hex'));
});

test('split feeding: need-more until the blank line, then rest from the last chunk', () => {
  const text = Buffer.from(vs(H, 'request_text') + 'XY', 'latin1');
  const rd = new HttpRequestReader();
  for (let i = 0; i < text.length - 3; i++) assert.equal(rd.feed(text.subarray(i, i + 1)).kind, 'need-more');
  const r = rd.feed(text.subarray(text.length - 3));
  assert.equal(r.kind === 'request' && r.rest.toString(), 'XY');
  assert.throws(() => rd.feed(Buffer.from('x')), (e: unknown) => e instanceof SstpdError && e.code === 'E_HTTP_DONE');
});

test('tolerates bare LF line ends and trims header whitespace; joins repeats', () => {
  const r = read(`SSTP_DUPLEX_POST ${URI} HTTP/1.1\nHost:  a.b \nX: 1\nx: 2\n\nrest`);
  assert.equal(r.kind, 'request');
  if (r.kind !== 'request') return;
  assert.equal(r.request.headers.get('host'), 'a.b');
  assert.equal(r.request.headers.get('x'), '1, 2');
  assert.equal(r.rest.toString(), 'rest');
  const mixed = read(`SSTP_DUPLEX_POST ${URI} HTTP/1.1\r\nHost: h\n\r\n`);
  assert.equal(mixed.kind, 'request');
});

test('malformed requests → 400', () => {
  for (const t of [
    `SSTP_DUPLEX_POST ${URI}\r\n\r\n`,
    `SSTP_DUPLEX_POST  ${URI} HTTP/1.1\r\n\r\n`,
    `SSTP_DUPLEX_POST ${URI} HTTX/1.1\r\n\r\n`,
    `SSTP_DUPLEX_POST ${URI} HTTP/1.1\r\nNoColon\r\n\r\n`,
    `SSTP_DUPLEX_POST ${URI} HTTP/1.1\r\nBad Name: x\r\n\r\n`,
    `SSTP_DUPLEX_POST ${URI} HTTP/1.1\r\nA: b\r\n folded\r\n\r\n`,
    `\r\n\r\n`,
  ]) {
    const r = read(t);
    assert.equal(r.kind === 'error' && r.status, 400, JSON.stringify(t));
  }
});

test('control characters in a header or the request target → 400; HTAB and obs-text are fine', () => {
  const line = (h: string): string => `SSTP_DUPLEX_POST ${URI} HTTP/1.1\r\nHost: vpn\r\n${h}\r\n\r\n`;
  for (const bad of ['X: a\x00b', 'X: \x00', 'SSTPCORRELATIONID: {A}\x01', 'X: a\x1bb', 'X: a\x7fb', 'X: a\rb', 'Host\x00: x']) {
    const r = read(line(bad));
    assert.equal(r.kind === 'error' && r.status, 400, JSON.stringify(bad));
  }
  for (const uri of [`${URI}\x00`, `/sra_{BA195980-CD49-458b-9E23-C84EE0ADCD75}\x7f/`, `${URI}\t`]) {
    const r = read(`SSTP_DUPLEX_POST ${uri} HTTP/1.1\r\nHost: vpn\r\n\r\n`);
    assert.equal(r.kind === 'error' && r.status, 400, JSON.stringify(uri));
  }
  const ok = read(line('X: a\tb \xe9'));
  assert.equal(ok.kind === 'request' && ok.request.headers.get('x'), 'a\tb \xe9');
});

test("Windows' request passes (Host, SSTPCORRELATIONID, Content-Length 2^64-1)", () => {
  const r = read(
    'SSTP_DUPLEX_POST /sra_{BA195980-CD49-458b-9E23-C84EE0ADCD75}/ HTTP/1.1\r\n' +
      'Host: vpn.example.com\r\n' +
      'SSTPCORRELATIONID: {6A5E6E2C-6E4C-4D8B-9A3B-2F1E0D9C8B7A}\r\n' +
      'Content-Length: 18446744073709551615\r\n\r\n',
  );
  assert.equal(r.kind, 'request');
  if (r.kind !== 'request') return;
  assert.deepEqual(checkSstpRequest(r.request), { ok: true });
  assert.equal(correlationId(r.request), '{6A5E6E2C-6E4C-4D8B-9A3B-2F1E0D9C8B7A}');
});

test('header block cap: 8192 bytes incl. the blank line ok, one more → 431', () => {
  const head = `SSTP_DUPLEX_POST ${URI} HTTP/1.1\r\nX: `;
  const fill = (n: number): string => head + 'a'.repeat(n - head.length - 4) + '\r\n\r\n';
  assert.equal(read(fill(HEADER_BLOCK_MAX)).kind, 'request');
  const r = read(fill(HEADER_BLOCK_MAX + 1));
  assert.equal(r.kind === 'error' && r.status, 431);
  // never-ending stream of small chunks stops at the cap too
  const rd = new HttpRequestReader();
  let last: HttpReadResult = { kind: 'need-more' };
  for (let i = 0; i < 100 && last.kind === 'need-more'; i++) last = rd.feed(Buffer.alloc(100, 0x61));
  assert.equal(last.kind === 'error' && last.status, 431);
});

test('checkSstpRequest: method, version and URI rules', () => {
  assert.deepEqual(checkSstpRequest(req('SSTP_DUPLEX_POST', URI.toLowerCase())), { ok: true });
  assert.deepEqual(checkSstpRequest(req('SSTP_DUPLEX_POST', URI.toUpperCase())), { ok: true });
  assert.deepEqual(checkSstpRequest(req('SSTP_DUPLEX_POST', `${URI}?tenantid=abc`)), { ok: true });
  const status = (r: HttpRequest): number | undefined => {
    const c = checkSstpRequest(r);
    return c.ok ? undefined : c.status;
  };
  // MS-SSTP requires HTTP/1.1, nothing older or newer.
  assert.equal(status(req('SSTP_DUPLEX_POST', URI, 'HTTP/1.0')), 400);
  assert.equal(status(req('SSTP_DUPLEX_POST', URI, 'HTTP/1.2')), 400);
  assert.equal(status(req('SSTP_DUPLEX_POST', URI, 'HTTP/2.0')), 400);
  assert.equal(status(req('SSTP_DUPLEX_POST', URI, 'HTTP/0.9')), 400);
  // Methods are case-sensitive (RFC 9110 §9.1): a known method in another case is a bad request.
  assert.equal(status(req('sstp_duplex_post', URI)), 400);
  assert.equal(status(req('Sstp_Duplex_Post', URI)), 400);
  assert.equal(status(req('get', '/')), 400);
  assert.equal(status(req('GET', URI)), 404);
  assert.equal(status(req('POST', URI)), 501);
  assert.equal(status(req('PUT', '/')), 501);
  assert.equal(status(req('SSTP_DUPLEX_POST', '/sra_{BA195980-CD49-458b-9E23-C84EE0ADCD75}')), 404);
  assert.equal(status(req('SSTP_DUPLEX_POST', '/')), 404);
});

test('http200 is byte-exact with the vector for the same date; ≤ 6 header lines', () => {
  const out = http200(new Date(Date.UTC(2006, 10, 9, 0, 51, 9))).toString('latin1');
  assert.equal(out, vs(H, 'response_200_text'));
  assert.ok(out.startsWith('HTTP/1.1 200'));
  const headerLines = out.split('\r\n').slice(1).filter((l) => l !== '');
  assert.ok(headerLines.length <= 6);
  assert.ok(!/connection|transfer-encoding/i.test(out));
});

test('httpError: 404 byte-exact, other reasons', () => {
  assert.equal(httpError(404).toString('latin1'), vs(H, 'response_404_text'));
  assert.equal(httpError(400).toString('latin1'), 'HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  assert.ok(httpError(501).toString().startsWith('HTTP/1.1 501 Not Implemented\r\n'));
  assert.ok(httpError(431).toString().startsWith('HTTP/1.1 431 Request Header Fields Too Large\r\n'));
});

test('client side: sstpRequest matches the vector; the response reader parses the 200', () => {
  assert.equal(sstpRequest('vpn.example.com', '{2F9C0E1A-4B5D-4C6E-8F70-91A2B3C4D5E6}').toString('latin1'), vs(H, 'request_text'));
  const r = new HttpResponseReader().feed(Buffer.concat([Buffer.from(vs(H, 'response_200_text'), 'latin1'), Buffer.from([0x10])]));
  assert.equal(r.kind, 'response');
  if (r.kind !== 'response') return;
  assert.equal(r.response.status, 200);
  assert.equal(r.response.reason, 'OK');
  assert.equal(r.response.headers.get('server'), 'Microsoft-HTTPAPI/2.0');
  assert.equal(r.rest.toString('hex'), '10');
  const bad = new HttpResponseReader().feed(Buffer.from('HTTP/1.1 2x0 OK\r\n\r\n'));
  assert.equal(bad.kind, 'error');
});

test('checkSstpRequest with host-name: the Host header must name it (port stripped, any case), else 404', () => {
  const withHost = (host: string | undefined, method = 'SSTP_DUPLEX_POST'): HttpRequest => ({
    method,
    uri: URI,
    version: 'HTTP/1.1',
    headers: new Map(host === undefined ? [] : [['host', host]]),
  });
  assert.deepEqual(checkSstpRequest(withHost('vpn.example.net'), 'vpn.example.net'), { ok: true });
  assert.deepEqual(checkSstpRequest(withHost('VPN.example.NET:443'), 'vpn.example.net'), { ok: true });
  for (const bad of ['other.example.net', 'vpn.example.net.evil', 'evil.vpn.example.net', '', undefined]) {
    const c = checkSstpRequest(withHost(bad), 'vpn.example.net');
    assert.equal(c.ok ? undefined : c.status, 404, String(bad));
  }
  // Without host-name any Host passes; the method check still comes first (501, not 404).
  assert.deepEqual(checkSstpRequest(withHost('other.example.net')), { ok: true });
  const m = checkSstpRequest(withHost('other.example.net', 'PUT'), 'vpn.example.net');
  assert.equal(m.ok ? undefined : m.status, 501);
  assert.ok(hostHeaderNames('[2001:db8::1]:443', '2001:db8::1'));
  assert.ok(!hostHeaderNames('vpn.example.net:443x', 'vpn.example.net'));
});
