/**
 * HTTP strictness through the real daemon (dist/src/cli/sstpd.js, real TLS, in a throwaway
 * namespace): SSTP_DUPLEX_POST with HTTP/1.0, with the method in lower case, or with a NUL or
 * another control character in a header gets `400` and the connection is closed; what Windows
 * sends still gets `200` from the same daemon.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createInteropEnv, distDir, isEvent, rootSkipReason, seedConfig, withDaemon, type InteropEnv } from '../support/daemon.js';

const URI = '/sra_{BA195980-CD49-458b-9E23-C84EE0ADCD75}/';
const WINDOWS =
  `SSTP_DUPLEX_POST ${URI} HTTP/1.1\r\n` +
  'Host: vpn.example.com\r\n' +
  'SSTPCORRELATIONID: {6A5E6E2C-6E4C-4D8B-9A3B-2F1E0D9C8B7A}\r\n' +
  'Content-Length: 18446744073709551615\r\n\r\n';

const BAD: readonly (readonly [string, string])[] = [
  ['HTTP/1.0', WINDOWS.replace('HTTP/1.1', 'HTTP/1.0')],
  ['lower-case method', WINDOWS.replace('SSTP_DUPLEX_POST', 'sstp_duplex_post')],
  ['mixed-case method', WINDOWS.replace('SSTP_DUPLEX_POST', 'Sstp_Duplex_Post')],
  ['NUL in a header value', WINDOWS.replace('Host: vpn.example.com', 'Host: vpn.example.com\x00evil')],
  ['NUL as a header value', WINDOWS.replace('Host: vpn.example.com', 'X-Pad: \x00')],
  ['ESC in a header value', WINDOWS.replace('Host: vpn.example.com', 'Host: vpn\x1b[2J')],
  ['lone CR in a header value', WINDOWS.replace('Host: vpn.example.com', 'Host: vpn\rInjected: 1')],
  ['DEL in the correlation id', WINDOWS.replace('{6A5E', '{6A5E\x7f')],
];

interface Outcome {
  readonly response: string;
  readonly closed: boolean;
}

describe('HTTP strictness: real daemon, raw TLS', { skip: rootSkipReason() }, () => {
  let env: InteropEnv;
  before(async () => {
    env = await createInteropEnv('sstpd-http');
  });
  after(async () => {
    await env?.cleanup();
  });

  it('each bad request gets HTTP/1.1 400 and a closed connection; Windows\' request still gets 200', async () => {
    const port = env.nextPort();
    await withDaemon({ configText: seedConfig({ port, certs: env.certs }), netns: env.ns }, async (d) => {
      const requests = [WINDOWS, ...BAD.map(([, r]) => r), WINDOWS];
      const cli = join(distDir(), 'test', 'support', 'raw-tls-cli.js');
      const args = [cli, '--port', String(port), ...requests.flatMap((r) => ['--request', Buffer.from(r, 'latin1').toString('hex')])];
      const { stdout } = await env.ns.exec(process.execPath, args, { timeoutMs: 120_000 });
      const out = stdout.trim().split('\n').map((l) => JSON.parse(l) as Outcome);
      assert.equal(out.length, requests.length, stdout);
      const [first, ...rest] = out;
      const last = rest.pop()!;
      for (const good of [first!, last]) {
        assert.match(good.response, /^HTTP\/1\.1 200 OK\r\n/, JSON.stringify(good));
        assert.match(good.response, /\r\nContent-Length: 18446744073709551615\r\n/);
      }
      // Every case is checked before failing, so the message lists all that slipped through.
      const wrong = BAD.flatMap(([name], i) => {
        const o = rest[i]!;
        return /^HTTP\/1\.1 400 Bad Request\r\n/.test(o.response) && o.closed ? [] : [`${name}: ${JSON.stringify(o)}`];
      });
      assert.deepEqual(wrong, []);
      // The daemon says why, once per bad request, and none of them got as far as SSTP.
      const refused = d.findLogs(isEvent('http-rejected', { status: 400 }));
      assert.equal(refused.length, BAD.length, JSON.stringify(refused.map((e) => e.reason)));
      assert.equal(d.findLogs(isEvent('connect-request')).length, 0);
    });
  });
});
