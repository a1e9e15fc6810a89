/**
 * The client tools' pure parts: server addresses, pppd-style auth selection, auth mixes,
 * percentiles, and the failure classification behind the exit codes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { authList, parseTarget, UsageError } from '../../src/client/options.js';
import { authCycle, percentile, summarize } from '../../src/client/stats.js';
import { authFailureText, classifyClose, EXIT_CODES } from '../../src/client/errors.js';

test('server address: HOST, HOST:PORT, [v6]:PORT; bad ports are usage errors', () => {
  assert.deepEqual(parseTarget('vpn.example.com'), { host: 'vpn.example.com', port: 443 });
  assert.deepEqual(parseTarget('10.0.0.1:4433'), { host: '10.0.0.1', port: 4433 });
  assert.deepEqual(parseTarget('[::1]:8443'), { host: '::1', port: 8443 });
  assert.throws(() => parseTarget('h:0'), UsageError);
  assert.throws(() => parseTarget('h:70000'), UsageError);
  assert.throws(() => parseTarget('a:b:c'), UsageError);
});

test('auth selection: --auth order, --require-* keeps only those, --refuse-* removes', () => {
  assert.deepEqual(authList(undefined, [], []), ['mschap-v2', 'mschap', 'chap', 'pap']);
  assert.deepEqual(authList('pap,mschap-v2', [], []), ['pap', 'mschap-v2']);
  assert.deepEqual(authList(undefined, ['mschap-v2'], []), ['mschap-v2']);
  assert.deepEqual(authList(undefined, [], ['pap', 'chap']), ['mschap-v2', 'mschap']);
  assert.throws(() => authList('eap', [], []), /unknown auth method eap/);
  assert.throws(() => authList('pap', [], ['pap']), /no authentication method left/);
});

test('auth mix: weights expand into a cycle', () => {
  assert.deepEqual(authCycle('mschap-v2:3,pap:1'), ['mschap-v2', 'mschap-v2', 'mschap-v2', 'pap']);
  assert.deepEqual(authCycle('chap'), ['chap']);
  assert.throws(() => authCycle('pap:0'), /bad weight/);
  assert.throws(() => authCycle('x:1'), /unknown auth method/);
});

test('percentiles: nearest rank', () => {
  const xs = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentile(xs, 50), 50);
  assert.equal(percentile(xs, 99), 99);
  assert.equal(percentile(xs, 100), 100);
  assert.equal(percentile([7], 99), 7);
  const s = summarize([3, 1, 2]);
  assert.deepEqual([s.n, s.p50, s.max, s.mean], [3, 2, 3, 2]);
});

test('failure classification: stage and code pick the exit code', () => {
  assert.equal(authFailureText('E=691 R=0 C=00 V=3 M=Authentication failed'), 'Authentication failed (error 691)');
  assert.equal(authFailureText('E=647 R=0 V=3'), 'authentication failed (error 647)');
  assert.equal(authFailureText('Login incorrect'), 'Login incorrect');
  const c = (code: string, stage: Parameters<typeof classifyClose>[2], auth?: string) => classifyClose(code, 'r', stage, auth);
  assert.equal(c('E_TRANSPORT', 'http').exitCode, EXIT_CODES.E_CLIENT_HTTP);
  assert.equal(c('E_SSTP_HTTP_STATUS', 'http').code, 'E_CLIENT_HTTP');
  assert.equal(c('E_SSTP_NAK', 'sstp').exitCode, 6);
  assert.equal(c('E_SSTP_PEER_ABORT', 'sstp').code, 'E_CLIENT_SSTP');
  assert.equal(c('E_TRANSPORT', 'lcp').exitCode, 8);
  assert.equal(c('E_TRANSPORT', 'auth', 'E=691').exitCode, 7);
  assert.equal(c('E_SSTP_PEER_ABORT', 'ipcp').exitCode, 9);
  assert.equal(c('E_SSTP_NEGOTIATION_TIMEOUT', 'lcp').exitCode, 10);
  assert.equal(c('E_SSTP_HELLO_TIMEOUT', 'up').exitCode, 12);
});
