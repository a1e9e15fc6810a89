/**
 * sstpd behind a real HAProxy on a shared port, the three ways operators run it:
 *   A. TCP mode with send-proxy-v2 (TLS end to end, HAProxy only balances);
 *   B. SNI routing on one port: the VPN name goes to sstpd, any other name to a web site;
 *   C. HAProxy terminates TLS and forwards plain HTTP with the PROXY header (`ssl offload`).
 * In each, our client connects from 127.0.0.5 (HAProxy reaches sstpd from 127.0.0.1), and
 * `sstpctl show sessions` must show the client's real address, not the proxy's. Connections that do
 * not come from a trusted proxy, or without a valid header, are closed before TLS.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { X509Certificate, createHash } from 'node:crypto';
import { createInteropEnv, isEvent, rootSkipReason, runCommand, seedConfig, withDaemon, type InteropEnv } from '../support/daemon.js';
import { ClientProc } from '../support/client-proc.js';
import { HAPROXY_HEAD, startHaproxy } from '../support/haproxy.js';
import { makeCertificates } from '../support/certs-fixture.js';

const GATEWAY = '192.0.2.254';
const CLIENT = '127.0.0.5';

describe('behind HAProxy: PROXY protocol, SNI routing, TLS offload', { skip: rootSkipReason() }, () => {
  let env: InteropEnv;
  before(async () => {
    env = await createInteropEnv('sstpd-proxy');
  });
  after(async () => {
    await env?.cleanup();
  });

  /** Connects our client through `port`, checks the session shows CLIENT, pings, and closes. */
  async function throughProxy(d: Parameters<Parameters<typeof withDaemon>[1]>[0], port: number, servername?: string): Promise<void> {
    const c = ClientProc.start(env.ns, { port, user: 'vyos', password: 'vyos', localAddress: CLIENT, ...(servername ? { servername } : {}) });
    try {
      const up = await c.next(['up', 'failed']);
      assert.equal(up.event, 'up', JSON.stringify(up));
      assert.ok(await c.ping(GATEWAY), 'traffic flows through the proxied session');
      const [row] = await d.sessions();
      assert.ok(row);
      assert.equal(row.callingSid, CLIENT, 'the client\'s real address, not the proxy\'s');
      const start = d.findLogs(isEvent('session-start', { sid: row.sid }))[0];
      assert.equal(start?.['callingSid'], CLIENT);
      await c.close();
    } finally {
      c.kill();
    }
  }

  it('A: TCP mode with send-proxy-v2; untrusted sources and missing headers are refused before TLS', async () => {
    const port = env.nextPort();
    const front = env.nextPort();
    const lines = ['set vpn sstp proxy-protocol trusted 127.0.0.1'];
    await withDaemon({ configText: seedConfig({ port, certs: env.certs, lines }), netns: env.ns }, async (d) => {
      const cfg = `${HAPROXY_HEAD}frontend f\n  bind 127.0.0.1:${front}\n  default_backend b\nbackend b\n  server s 127.0.0.1:${port} send-proxy-v2\n`;
      const hap = await startHaproxy(env.ns, cfg, [front]);
      try {
        await throughProxy(d, front);
        // Straight to sstpd from an address that is not the proxy: closed before TLS.
        const direct = ClientProc.start(env.ns, { port, user: 'vyos', password: 'vyos', localAddress: CLIENT });
        try {
          assert.equal((await direct.next(['up', 'failed'])).event, 'failed');
        } finally {
          direct.kill();
        }
        await d.waitForLog(isEvent('proxy-untrusted', { proxy: CLIENT }));
        // From the trusted address but without a header (TLS ClientHello first): refused too.
        const noHeader = ClientProc.start(env.ns, { port, user: 'vyos', password: 'vyos' });
        try {
          assert.equal((await noHeader.next(['up', 'failed'])).event, 'failed');
        } finally {
          noHeader.kill();
        }
        const bad = await d.waitForLog(isEvent('proxy-header-invalid'));
        assert.match(String(bad['reason']), /not a PROXY protocol header/);
        assert.equal(d.findLogs(isEvent('tls-failed')).length, 0, 'refused before any TLS work');
        const stats = JSON.parse((await d.ctl(['show', 'statistics', '--json'])).stdout) as { connections: { proxyRefused: number } };
        assert.equal(stats.connections.proxyRefused, 2);
      } finally {
        await hap.stop();
      }
    });
  });

  it('B: SNI routing on one port: the VPN name reaches sstpd, another name a web site', async () => {
    const port = env.nextPort();
    const front = env.nextPort();
    const webPort = env.nextPort();
    // The web site: its own certificate, answering in the namespace (run by a helper process there).
    const webCerts = await makeCertificates(`${env.certs.dir}/web`);
    const lines = ['set vpn sstp proxy-protocol trusted 127.0.0.1/32'];
    await withDaemon({ configText: seedConfig({ port, certs: env.certs, lines }), netns: env.ns }, async (d) => {
      const web = env.ns.spawn(process.execPath, [
        '-e',
        `const https=require('node:https'),fs=require('node:fs');https.createServer({key:fs.readFileSync(${JSON.stringify(webCerts.serverKey)}),cert:fs.readFileSync(${JSON.stringify(webCerts.serverCert)})},(q,s)=>s.end('web site')).listen(${webPort},'127.0.0.1')`,
      ]);
      const cfg =
        `${HAPROXY_HEAD}frontend f\n  bind 127.0.0.1:${front}\n  tcp-request inspect-delay 5s\n  tcp-request content accept if { req_ssl_hello_type 1 }\n` +
        `  use_backend vpn if { req_ssl_sni -i vpn.example.test }\n  default_backend web\n` +
        `backend vpn\n  server s 127.0.0.1:${port} send-proxy-v2\nbackend web\n  server w 127.0.0.1:${webPort}\n`;
      const hap = await startHaproxy(env.ns, cfg, [front, webPort]);
      try {
        await throughProxy(d, front, 'vpn.example.test');
        const page = await runCommand(process.execPath, ['-e', `
          const tls=require('node:tls');const s=tls.connect({host:'127.0.0.1',port:${front},servername:'www.example.test',rejectUnauthorized:false},()=>{s.write('GET / HTTP/1.1\\r\\nHost: www.example.test\\r\\nConnection: close\\r\\n\\r\\n')});
          let b='';s.on('data',d=>b+=d);s.on('end',()=>{process.stdout.write(b)});s.on('error',e=>{process.stdout.write('ERR '+e.message)})`], { netns: env.ns });
        assert.match(page.stdout, /web site/, 'another name reaches the web site through the same port');
        assert.equal((await d.sessions()).length, 0, 'and never sstpd');
      } finally {
        await hap.stop();
        web.kill();
      }
    });
  });

  it('C: HAProxy terminates TLS and forwards plain HTTP with the PROXY header (ssl offload); the binding uses its certificate', async () => {
    const port = env.nextPort();
    const front = env.nextPort();
    // HAProxy presents the fixture's certificate; sstpd has no key at all, only the certificate to hash.
    const pem = (await readFile(env.certs.serverCert, 'utf8')) + (await readFile(env.certs.serverKey, 'utf8'));
    const config = seedConfig({ port, certs: env.certs, lines: ['set vpn sstp ssl offload', 'set vpn sstp proxy-protocol trusted 127.0.0.1'] })
      .split('\n')
      .filter((l) => !l.includes('ssl key-file') && !l.includes('ssl ca-cert-file'))
      .join('\n');
    await withDaemon({ configText: config, netns: env.ns }, async (d) => {
      const cfg = `${HAPROXY_HEAD}frontend f\n  bind 127.0.0.1:${front} ssl crt @DIR@/site.pem\n  default_backend b\nbackend b\n  server s 127.0.0.1:${port} send-proxy-v2\n`;
      const hap = await startHaproxy(env.ns, cfg, [front], { 'site.pem': pem });
      try {
        await throughProxy(d, front);
        assert.equal(d.findLogs(isEvent('binding-verified')).length, 1, 'the crypto binding verified against the proxy\'s certificate');
      } finally {
        await hap.stop();
      }
    });
  });

  it('C2: the same with only the certificate hashes configured (accel-ppp cert-hash-sha1/sha256), no certificate file', async () => {
    const port = env.nextPort();
    const front = env.nextPort();
    const pem = (await readFile(env.certs.serverCert, 'utf8')) + (await readFile(env.certs.serverKey, 'utf8'));
    const der = new X509Certificate(await readFile(env.certs.serverCert)).raw;
    const hex = (alg: string): string => createHash(alg).update(der).digest('hex').replace(/(..)(?!$)/g, '$1:');
    const config = seedConfig({
      port,
      certs: env.certs,
      lines: ['set vpn sstp ssl offload', `set vpn sstp ssl cert-hash-sha1 ${hex('sha1')}`, `set vpn sstp ssl cert-hash-sha256 ${hex('sha256')}`, 'set vpn sstp proxy-protocol trusted 127.0.0.1'],
    })
      .split('\n')
      .filter((l) => !/ssl (key-file|ca-cert-file|cert-file)/.test(l))
      .join('\n');
    await withDaemon({ configText: config, netns: env.ns }, async (d) => {
      const cfg = `${HAPROXY_HEAD}frontend f\n  bind 127.0.0.1:${front} ssl crt @DIR@/site.pem\n  default_backend b\nbackend b\n  server s 127.0.0.1:${port} send-proxy\n`;
      const hap = await startHaproxy(env.ns, cfg, [front], { 'site.pem': pem });
      try {
        // send-proxy (v1) this time: both versions are read.
        await throughProxy(d, front);
        assert.equal(d.findLogs(isEvent('binding-verified')).length, 1, 'the binding verified against the configured hashes');
      } finally {
        await hap.stop();
      }
    });
  });
});
