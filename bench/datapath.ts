/**
 * The protocol cores' share of the data path, without sockets or TUN: a server Session and a client
 * ClientConnection brought up in memory (MS-CHAPv2, binding verified), then IPv4 packets pushed
 * through in TLS-sized chunks. Shows the per-packet cost of the action path against the fast lane.
 *
 *   node dist/bench/datapath.js [--packets 200000] [--size 1400]
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { Session } from '../src/session/session.js';
import type { ClientConnection } from '../src/client/connection.js';
import { writeDataHeaders } from '../src/sstp/wire.js';
import { DataGate } from '../src/ppp/data-gate.js';
import { SourceFilter } from '../src/ip/source-filter.js';
import { PPP_IPV4 } from '../src/ppp/protocols.js';
import { SessionPair, forwardsIpv4 } from '../test/support/session-pair.js';


/**
 * This process's CPU time in ms (user + system). The cores run synchronously on one thread, so
 * this is the work done, without the time other processes on a shared machine took from us.
 */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

const { values } = parseArgs({ options: { packets: { type: 'string', default: '200000' }, size: { type: 'string', default: '1400' } } });
const N = Number(values.packets);
const SIZE = Number(values.size);
const CERT = randomBytes(400);

/** A server Session and a client ClientConnection brought up by the core tests' in-memory pair. */
function pair(serverSink: boolean, clientSink: boolean): { server: Session; client: ClientConnection; serverRx: { n: number }; clientRx: { n: number } } {
  const serverRx = { n: 0 };
  const clientRx = { n: 0 };
  const p = new SessionPair({
    policy: { dns: [] },
    client: { host: 'h', username: 'u', password: 'p', ...(clientSink ? { onIp: () => void clientRx.n++ } : {}) },
    users: [{ name: 'u', password: 'p', disabled: false }],
    cert: CERT,
    random: { server: randomBytes, client: randomBytes },
  });
  if (serverSink) p.server.setIpSink(() => void serverRx.n++);
  p.drive();
  if (!forwardsIpv4(p.server) || !p.client.up) throw new Error('pair did not come up');
  return { server: p.server, client: p.client, serverRx, clientRx };
}

const CLIENT_IP = [192, 0, 2, 1];

/** A SIZE-byte IPv4 packet (UDP) from `src` to the gateway. */
function ipv4Packet(src: readonly number[]): Buffer {
  const p = Buffer.alloc(SIZE, 0xa5);
  p[0] = 0x45;
  p.writeUInt16BE(SIZE, 2);
  p[8] = 64;
  p[9] = 17;
  Buffer.from(src).copy(p, 12);
  Buffer.from([192, 0, 2, 254]).copy(p, 16);
  return p;
}

/** N packets as SSTP bytes, cut into 16 KiB chunks as TLS records arrive. */
function chunks(encode: (p: Buffer) => Buffer, src: readonly number[] = CLIENT_IP): Buffer[] {
  const packet = ipv4Packet(src);
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
  let t0 = cpuMs();
  for (let r = 0; r < reps; r++) {
    for (const c of up) p.server.receive(1, c);
    for (const a of p.server.poll()) if (a.type === 'ip') p.serverRx.n++;
  }
  const upNs = ((cpuMs() - t0) * 1e6) / p.serverRx.n;
  // Server → client: the bytes the server's driver writes for each TUN packet.
  const down = chunks((x) => {
    const b = Buffer.alloc(8 + x.length);
    writeDataHeaders(b, 0, PPP_IPV4, x.length);
    x.copy(b, 8);
    return b;
  });
  t0 = cpuMs();
  for (let r = 0; r < reps; r++) {
    for (const c of down) p.client.receive(1, c);
    for (const a of p.client.poll()) if (a.type === 'ip') p.clientRx.n++;
  }
  const downNs = ((cpuMs() - t0) * 1e6) / p.clientRx.n;
  const row = { serverRxNsPerPacket: Math.round(upNs), clientRxNsPerPacket: Math.round(downNs), packets: p.serverRx.n };
  process.stdout.write(`${label.padEnd(28)} server rx ${row.serverRxNsPerPacket} ns/packet, client rx ${row.clientRxNsPerPacket} ns/packet (${SIZE}-byte packets)\n`);
  return row;
}

/** Forged sources through the server's fast lane: every packet is dropped at the data gate. */
function measureForged(): number {
  const p = pair(true, true);
  const up = chunks((x) => p.client.encodeIp(x)!, [10, 99, 99, 99]);
  const reps = Math.ceil(N / 20000);
  const t0 = cpuMs();
  for (let r = 0; r < reps; r++) for (const c of up) p.server.receive(1, c);
  const dropped = p.server.drops.source;
  const ns = Math.round(((cpuMs() - t0) * 1e6) / dropped);
  process.stdout.write(`${'fast lane, forged source'.padEnd(28)} server rx ${ns} ns/packet (all ${dropped} dropped at the gate)\n`);
  return ns;
}

/** The gate's admission alone, with and without a source policy (three Framed-Routes), same run. */
function measureGate(): { withoutNs: number; withNs: number } {
  const packet = ipv4Packet(CLIENT_IP);
  const time = (gate: DataGate): number => {
    const reps = Math.max(N * 10, 1_000_000);
    let ok = 0;
    const t0 = cpuMs();
    for (let i = 0; i < reps; i++) if (gate.admitIn(PPP_IPV4, packet, false)) ok++;
    if (ok !== reps) throw new Error('gate refused a genuine packet');
    return ((cpuMs() - t0) * 1e6) / reps;
  };
  const open = (): DataGate => {
    const g = new DataGate({ mppeRequired: false });
    g.ipv4Open = true;
    return g;
  };
  const plain = open();
  const filtered = open();
  const f = new SourceFilter();
  f.setIpv4('192.0.2.1');
  f.setIpv4Routes(['10.1.0.0/16', '10.2.0.0/16', '172.16.0.0/12']);
  filtered.sources = f;
  time(plain);
  time(filtered);
  const withoutNs = Math.round(time(plain) * 10) / 10;
  const withNs = Math.round(time(filtered) * 10) / 10;
  process.stdout.write(`${'gate admitIn alone'.padEnd(28)} ${withoutNs} ns/packet without a source policy, ${withNs} ns with one\n`);
  return { withoutNs, withNs };
}

measure('warm-up', true, true);
const before = measure('action path (no sinks)', false, false);
const after = measure('fast lane (sinks)', true, true);
const forgedNs = measureForged();
const gate = measureGate();
process.stdout.write(JSON.stringify({ before, after, forgedSourceNsPerPacket: forgedNs, gate }) + '\n');
