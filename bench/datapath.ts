/**
 * The protocol cores' share of the data path, without sockets or TUN: a server Session and a client
 * ClientConnection brought up in memory (MS-CHAPv2, binding verified), then IPv4 packets pushed
 * through in TLS-sized chunks. Shows the per-packet cost of the action path against the fast lane.
 *
 *   node dist/bench/datapath.js [--packets 200000] [--size 1400]
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Session, type SessionPolicy } from '../src/session/session.js';
import { ClientConnection } from '../src/client/connection.js';
import { LocalAuthBackend } from '../src/auth/local.js';
import { certHashes } from '../src/sstp/binding.js';

const { values } = parseArgs({ options: { packets: { type: 'string', default: '200000' }, size: { type: 'string', default: '1400' } } });
const N = Number(values.packets);
const SIZE = Number(values.size);
const CERT = randomBytes(400);

const policy: SessionPolicy = {
  authProtocols: ['mschap-v2'],
  gateway: '192.0.2.254',
  dns: [],
  mru: 1452,
  echo: { intervalS: 30, failure: 3, timeoutS: 0 },
  certHashes: certHashes(CERT),
  serverName: 'sstpd',
  negotiationTimeoutMs: 60_000,
  helloIntervalMs: 60_000,
};

function pair(serverSink: boolean, clientSink: boolean): { server: Session; client: ClientConnection; serverRx: { n: number }; clientRx: { n: number } } {
  const serverRx = { n: 0 };
  const clientRx = { n: 0 };
  const backend = new LocalAuthBackend(new Map([['u', { name: 'u', password: 'p', disabled: false }]]));
  const server = new Session(policy, randomBytes, 0, () => new Date(0));
  if (serverSink) server.setIpSink(() => void serverRx.n++);
  const client = new ClientConnection(
    { host: 'h', username: 'u', password: 'p', authMethods: ['mschap-v2'], serverCertDer: CERT, random: randomBytes, ...(clientSink ? { onIp: () => void clientRx.n++ } : {}) },
    0,
  );
  client.start(0);
  for (let step = 0; step < 200; step++) {
    let moved = false;
    for (const a of client.poll()) {
      moved = true;
      if (a.type === 'send') server.receive(0, a.bytes);
      if (a.type === 'ip') clientRx.n++;
    }
    for (const a of server.poll()) {
      moved = true;
      if (a.type === 'send') client.receive(0, a.bytes);
      if (a.type === 'authenticate') server.authResult(0, backend.verify(a.request));
      if (a.type === 'authenticated') server.addressAssigned(0, '192.0.2.1');
      if (a.type === 'ip') serverRx.n++;
    }
    if (!moved) break;
  }
  if (!server.forwardingIp || !client.up) throw new Error('pair did not come up');
  return { server, client, serverRx, clientRx };
}

/** N packets as SSTP bytes, cut into 16 KiB chunks as TLS records arrive. */
function chunks(encode: (p: Buffer) => Buffer): Buffer[] {
  const packet = Buffer.alloc(SIZE, 0x45);
  // From the client's address: the server's data gate drops any other source (BCP 38).
  Buffer.from([192, 0, 2, 1]).copy(packet, 12);
  const frame = encode(packet);
  const all = Buffer.alloc(frame.length * Math.min(N, 20000));
  for (let o = 0; o < all.length; o += frame.length) frame.copy(all, o);
  const out: Buffer[] = [];
  for (let o = 0; o < all.length; o += 16384) out.push(all.subarray(o, Math.min(all.length, o + 16384)));
  return out;
}

function measure(label: string, serverSink: boolean, clientSink: boolean): Record<string, number> {
  const p = pair(serverSink, clientSink);
  const up = chunks((x) => p.client.encodeIp(x)!);
  const reps = Math.ceil(N / 20000);
  let t0 = performance.now();
  for (let r = 0; r < reps; r++) {
    for (const c of up) p.server.receive(1, c);
    for (const a of p.server.poll()) if (a.type === 'ip') p.serverRx.n++;
  }
  const upNs = ((performance.now() - t0) * 1e6) / p.serverRx.n;
  // Server → client: the bytes the server's driver writes for each TUN packet.
  const hdr = Buffer.from([0x10, 0x00, 0, 0, 0xff, 0x03, 0x00, 0x21]);
  const down = chunks((x) => {
    const b = Buffer.concat([hdr, x]);
    b.writeUInt16BE(b.length, 2);
    return b;
  });
  t0 = performance.now();
  for (let r = 0; r < reps; r++) {
    for (const c of down) p.client.receive(1, c);
    for (const a of p.client.poll()) if (a.type === 'ip') p.clientRx.n++;
  }
  const downNs = ((performance.now() - t0) * 1e6) / p.clientRx.n;
  const row = { serverRxNsPerPacket: Math.round(upNs), clientRxNsPerPacket: Math.round(downNs), packets: p.serverRx.n };
  process.stdout.write(`${label.padEnd(28)} server rx ${row.serverRxNsPerPacket} ns/packet, client rx ${row.clientRxNsPerPacket} ns/packet (${SIZE}-byte packets)\n`);
  return row;
}

measure('warm-up', true, true);
const before = measure('action path (no sinks)', false, false);
const after = measure('fast lane (sinks)', true, true);
process.stdout.write(JSON.stringify({ before, after }) + '\n');
