/**
 * The native tuneTcp call and boundTcpQueues (src/dataplane/tcp-queue.ts) on real loopback sockets,
 * plain and TLS, both ends: the values the kernel then reports, the defaults, the environment
 * override, and the refusals (bad values, a fd that is not a socket). No timings: whether the
 * bounds help latency is a benchmark question (bench/run.ts `loaded`).
 */
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect as tlsConnect, createServer as tlsCreateServer, type TLSSocket } from 'node:tls';
import { loadNative } from '../../native/index.js';
import { generateTestCertificates } from '../../src/config/certs.js';
import { boundTcpQueues, socketFd, TUNNEL_TCP_BOUNDS, tunnelTcpBounds } from '../../src/dataplane/tcp-queue.js';

/** getsockopt(TCP_NOTSENT_LOWAT) on a socket that has none of its own (the sysctl applies). */
const UNSET = 0;

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
}

/** A connected loopback pair: [client, the server's accepted socket]. */
async function tcpPair(): Promise<{ client: Socket; accepted: Socket; close: () => void }> {
  let accepted!: (s: Socket) => void;
  const got = new Promise<Socket>((r) => (accepted = r));
  const server = createServer((s) => accepted(s));
  const port = await listen(server);
  const client = connect(port, '127.0.0.1');
  await new Promise((r) => client.once('connect', r));
  const s = await got;
  return { client, accepted: s, close: () => { client.destroy(); s.destroy(); server.close(); } };
}

describe('tuneTcp (native)', () => {
  it('sets TCP_NOTSENT_LOWAT and SO_RCVBUF and reads them back', async () => {
    const p = await tcpPair();
    try {
      const fd = socketFd(p.client)!;
      assert.equal(typeof fd, 'number');
      const native = loadNative();
      const before = native.tuneTcp(fd, {});
      assert.ok(before.rcvBuf > 0);
      const r = native.tuneTcp(fd, { notSentLowat: 65536, rcvBuf: 200_000 });
      assert.equal(r.notSentLowat, 65536);
      assert.equal(r.rcvBuf, 400_000, 'the kernel doubles SO_RCVBUF for its overhead');
      assert.deepEqual(native.tuneTcp(fd, { notSentLowat: 1 }), { notSentLowat: 1, rcvBuf: 400_000 }, 'each option alone');
    } finally {
      p.close();
    }
  });

  it('refuses values out of range and a fd that is not a socket, with errno fields', async () => {
    const native = loadNative();
    const p = await tcpPair();
    try {
      const fd = socketFd(p.client)!;
      assert.throws(() => native.tuneTcp(fd, { notSentLowat: 0 }), TypeError);
      assert.throws(() => native.tuneTcp(fd, { rcvBuf: -5 }), TypeError);
      assert.throws(() => native.tuneTcp(fd, { rcvBuf: 2 ** 31 }), TypeError);
      assert.throws(() => (native.tuneTcp as (...a: unknown[]) => unknown)(fd), TypeError);
    } finally {
      p.close();
    }
    const dir = mkdtempSync(join(tmpdir(), 'sstpd-tcpq-'));
    const file = openSync(join(dir, 'f'), 'w');
    try {
      assert.throws(() => native.tuneTcp(file, { notSentLowat: 4096 }), (e: Error & { code?: string; syscall?: string }) =>
        e.code === 'ENOTSOCK' && e.syscall === 'setsockopt(TCP_NOTSENT_LOWAT)');
    } finally {
      closeSync(file);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('boundTcpQueues', () => {
  const saved = { lowat: process.env['SSTPD_NOTSENT_LOWAT'], rcv: process.env['SSTPD_RCVBUF'] };
  const restore = (): void => {
    for (const [k, v] of [['SSTPD_NOTSENT_LOWAT', saved.lowat], ['SSTPD_RCVBUF', saved.rcv]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  after(restore);

  it('applies the tunnel defaults to both ends of a plain TCP connection', async () => {
    restore();
    delete process.env['SSTPD_NOTSENT_LOWAT'];
    delete process.env['SSTPD_RCVBUF'];
    const p = await tcpPair();
    try {
      for (const s of [p.client, p.accepted]) {
        const r = boundTcpQueues(s);
        assert.equal(r?.notSentLowat, TUNNEL_TCP_BOUNDS.notSentLowat);
        // rcvBuf 0 by default: autotuning stays (the kernel reports its current size).
        assert.equal(TUNNEL_TCP_BOUNDS.rcvBuf, 0);
        assert.ok((r?.rcvBuf ?? 0) > 0);
      }
    } finally {
      p.close();
    }
  });

  it('the environment overrides each bound; 0 leaves the kernel default; junk falls back to the default', async () => {
    process.env['SSTPD_NOTSENT_LOWAT'] = '0';
    process.env['SSTPD_RCVBUF'] = '300000';
    assert.deepEqual(tunnelTcpBounds(), { notSentLowat: 0, rcvBuf: 300000 });
    const p = await tcpPair();
    try {
      assert.deepEqual(boundTcpQueues(p.client), { notSentLowat: UNSET, rcvBuf: 600000 }, 'lowat left unset (sysctl default)');
      process.env['SSTPD_RCVBUF'] = '0';
      assert.equal(boundTcpQueues(p.accepted), undefined, 'both off: nothing is set');
      process.env['SSTPD_NOTSENT_LOWAT'] = 'lots';
      assert.equal(tunnelTcpBounds().notSentLowat, TUNNEL_TCP_BOUNDS.notSentLowat);
    } finally {
      p.close();
      restore();
    }
  });

  it('a socket without a fd (not connected yet, or destroyed) is left alone', () => {
    const s = connect({ port: 9, host: '127.0.0.1', lookup: () => undefined } as never);
    s.on('error', () => undefined);
    assert.equal(socketFd(s), undefined);
    assert.equal(boundTcpQueues(s), undefined);
    s.destroy();
  });

  describe('TLS (the fd through TLSWrap, as the server session and our client see it)', () => {
    let certs: Awaited<ReturnType<typeof generateTestCertificates>>;
    let dir: string;
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'sstpd-tcpq-tls-'));
      certs = await generateTestCertificates(dir);
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('both ends of a TLS connection take the bounds', async () => {
      // certs holds file paths (ca.crt, server.crt, server.key in dir).
      restore();
      let serverSide!: (s: TLSSocket) => void;
      const got = new Promise<TLSSocket>((r) => (serverSide = r));
      const server = tlsCreateServer({ key: readFileSync(certs.serverKey), cert: readFileSync(certs.serverCert) }, (s) => serverSide(s));
      const port = await listen(server as unknown as Server);
      const client = tlsConnect({ port, host: '127.0.0.1', ca: readFileSync(certs.caCert), servername: 'localhost' });
      try {
        await new Promise((r) => client.once('secureConnect', r));
        const s = await got;
        const want = { notSentLowat: 4096, rcvBuf: 128 * 1024 };
        assert.deepEqual(boundTcpQueues(client, want), { notSentLowat: 4096, rcvBuf: 256 * 1024 });
        assert.deepEqual(boundTcpQueues(s, want), { notSentLowat: 4096, rcvBuf: 256 * 1024 });
        s.destroy();
      } finally {
        client.destroy();
        server.close();
      }
    });
  });
});
