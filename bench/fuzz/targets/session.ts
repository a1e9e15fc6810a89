/**
 * Whole-connection targets: the server Session core (HTTP → SSTP → PPP → IPv6 services) fed the
 * client side of a recorded good connection with noise around it, one target per auth method; and
 * the client's ClientConnection core fed the server side of the same kind of recording.
 */
import { ClientConnection, type ClientAction } from '../../../src/client/connection.js';
import type { AuthProtocol } from '../../../src/config/model.js';
import { parsePrefix6, type Prefix6 } from '../../../src/ip/ipv6-addr.js';
import type { PrefixSource } from '../../../src/ipv6/dhcpv6.js';
import { MPPE_BIT_H, MPPE_BIT_S, type MppeMode } from '../../../src/ppp/ccp/mppe-option.js';
import { Session, type SessionAction, type SessionPolicy } from '../../../src/session/session.js';
import { MSG, dhcpv6Client, icmp6EchoRequest, routerSolicitation } from '../../../test/support/ipv6.js';
import { icmpEchoRequest } from '../../../test/support/icmp.js';
import { check, mutate, seededRandom, step, type Episode, type Rng, type Step, type Target } from '../engine.js';
import { OP_DATA, sequence } from '../sequence.js';
import { dhcpv6Packet } from './ipv6.js';
import { encodeFrame } from '../../../src/ppp/frame.js';
import { dataPacket } from '../../../src/sstp/wire.js';
import { BACKEND, PASSWORD, USER } from './ppp.js';
import { CERT, HASHES } from './sstp.js';

const GROUP = 'session';
const DUID = Buffer.from('00030001020000000001', 'hex');
const PREFIX = parsePrefix6('2001:db8:1:7::/64')!;
/** Session steps besides OP_DATA (bytes) and OP_TICK: */
const OP_OUTBOUND = 2;
const OP_TRANSPORT_CLOSED = 3;
const OP_TERMINATE = 4;

interface Variant {
  readonly method: AuthProtocol;
  readonly mppe: MppeMode | 'deny';
  readonly clientMppe?: number;
}

const VARIANTS: readonly Variant[] = [
  { method: 'pap', mppe: 'prefer' },
  { method: 'chap', mppe: 'accept' },
  { method: 'mschap', mppe: 'require', clientMppe: MPPE_BIT_S | MPPE_BIT_H },
  { method: 'mschap-v2', mppe: 'require', clientMppe: MPPE_BIT_S | MPPE_BIT_H },
];

const policy = (v: Variant): SessionPolicy => ({
  authProtocols: [v.method],
  gateway: '192.0.2.254',
  dns: ['10.0.0.1'],
  mru: 1452,
  echo: { intervalS: 30, failure: 3, timeoutS: 0 },
  certHashes: HASHES,
  serverName: 'sstpd',
  negotiationTimeoutMs: 60_000,
  helloIntervalMs: 60_000,
  ipv6: { dns: ['2001:db8::53'], serverDuid: DUID },
  mppe: v.mppe,
});

const newSession = (v: Variant): Session => new Session(policy(v), seededRandom(21), 0, () => new Date(0));
const newClient = (v: Variant): ClientConnection =>
  new ClientConnection(
    {
      host: 'vpn',
      username: USER,
      password: PASSWORD,
      authMethods: [v.method],
      serverCertDer: CERT,
      random: seededRandom(22),
      ipv6: true,
      ...(v.clientMppe !== undefined ? { mppe: { bits: v.clientMppe } } : {}),
    },
    0,
  );

/** The delegate pool as the driver binds it: at most one prefix per session, acquire is idempotent. */
class Delegation implements PrefixSource {
  private held: Prefix6 | undefined;
  private n = 0;
  acquire(): Prefix6 | undefined {
    if (this.held) return this.held;
    if (this.n >= 4) return undefined;
    this.held = parsePrefix6(`2001:db8:${(0x100 + this.n++).toString(16)}::/56`)!;
    return this.held;
  }
  release(p: Prefix6): void {
    check(this.held !== undefined && this.held.addr.equals(p.addr) && this.held.len === p.len, 'a delegated prefix released that the session does not hold');
    this.held = undefined;
  }
}

interface Recording {
  /** Client → server: the HTTP request, SSTP packets, then IPv4 and IPv6 (RS, DHCPv6) data. */
  readonly toServer: Buffer[];
  /** Server → client: HTTP 200, SSTP packets, RA/DHCPv6 answers. */
  readonly toClient: Buffer[];
  readonly corpus: Buffer[];
  /** The client's Call Connected (the binding the server must see before IP flows). */
  readonly callConnected: Buffer;
  /** MS-CHAPv2: the authenticator response the server sent ("S=…"). */
  readonly successS: string | undefined;
  /** The client's IPv6 link-local (the source its packets must carry). */
  readonly linkLocal: string;
}

function assign(s: Session): void {
  s.networkAssigned(0, { ipv4: '192.0.2.10', ipv6Prefix: PREFIX, delegation: new Delegation() });
}

function record(v: Variant): Recording {
  const server = newSession(v);
  const client = newClient(v);
  const toServer: Buffer[] = [];
  const toClient: Buffer[] = [];
  let linkLocal: string | undefined;
  client.start(0);
  const drive = (): void => {
    for (let guard = 0; guard < 1000; guard++) {
      let moved = false;
      for (const a of client.poll()) {
        moved = true;
        if (a.type === 'send') {
          toServer.push(a.bytes);
          server.receive(0, a.bytes);
        }
        if (a.type === 'ipv6-up') linkLocal = a.local;
      }
      for (const a of server.poll()) {
        moved = true;
        if (a.type === 'send') {
          toClient.push(a.bytes);
          client.receive(0, a.bytes);
        }
        if (a.type === 'authenticate') server.authResult(0, BACKEND.verify(a.request));
        if (a.type === 'authenticated') assign(server);
      }
      if (!moved) return;
    }
  };
  drive();
  const packets = [icmpEchoRequest('192.0.2.10', '192.0.2.254', 1, 1, Buffer.alloc(8)), routerSolicitation(linkLocal ?? 'fe80::2'), dhcpv6Client(MSG.SOLICIT, linkLocal ?? 'fe80::2', { rapid: true })];
  for (const p of packets) {
    const b = client.encodeIp(p);
    if (!b) throw new Error(`fuzz: the recorded ${v.method} session did not come up`);
    toServer.push(b);
    server.receive(0, b);
  }
  // With MPPE, packets in clear too (the server must drop them); other packets than the encrypted
  // ones, so a plaintext delivered from an encrypted frame is never found in clear in the stream.
  if (v.clientMppe !== undefined) {
    const clear = [icmpEchoRequest('192.0.2.10', '192.0.2.254', 2, 2, Buffer.alloc(8, 1)), icmp6EchoRequest(linkLocal ?? 'fe80::2', '2001:db8::1', 2, 2)];
    for (const p of clear) toServer.push(dataPacket(encodeFrame(p[0]! >> 4 === 4 ? 0x21 : 0x57, p)));
  }
  drive();
  const callConnected = toServer.find((b) => b.length === 112 && b[1] === 1 && b.readUInt16BE(4) === 4);
  if (!callConnected && (v.method === 'mschap' || v.method === 'mschap-v2')) throw new Error('fuzz: no Call Connected recorded');
  const s = /S=[0-9A-F]{40}/i.exec(Buffer.concat(toClient).toString('latin1'))?.[0];
  return { toServer, toClient, corpus: [...toServer, ...toClient], callConnected: callConnected ?? Buffer.alloc(112, 0xee), successS: v.method === 'mschap-v2' ? s : undefined, linkLocal: linkLocal ?? 'fe80::2' };
}

const RECORDINGS = new Map<string, Recording>();
function recording(v: Variant): Recording {
  let r = RECORDINGS.get(v.method);
  if (!r) RECORDINGS.set(v.method, (r = record(v)));
  return r;
}

/** An IP packet from the host towards the client, as the TUN gives it (8 bytes of headroom). */
function outbound(rng: Rng): Buffer {
  const pkt = rng.chance(0.5) ? icmpEchoRequest('192.0.2.254', '192.0.2.10', rng.int(65536), rng.int(65536), rng.bytes(rng.length(64))) : rng.chance(0.5) ? Buffer.concat([Buffer.from([0x60]), rng.bytes(rng.length(200))]) : rng.bytes(rng.length(5000));
  return pkt;
}

class SessionEpisode implements Episode {
  private readonly s: Session;
  private readonly rec: Recording;
  private readonly keyed: boolean;
  private now = 0;
  private readonly fed: Buffer[] = [];
  private verdict: boolean | undefined;
  private authenticated = false;
  private v4 = false;
  private v6 = false;
  private ended = false;
  private mppeUp = false;
  private readonly routes = new Set<string>();

  constructor(private readonly v: Variant) {
    this.s = newSession(v);
    this.rec = recording(v);
    this.keyed = v.method === 'mschap' || v.method === 'mschap-v2';
    // As the driver does: IPv4 from the client takes the fast lane straight to the TUN.
    this.s.setIpSink((packet) => this.ip(packet));
  }

  /** An IP packet for the host (fast lane or 'ip' action). */
  private ip(packet: Buffer): void {
    check(this.v4 || this.v6, 'IP to the host while no NCP is open');
    this.mayForward('IP to the host');
    // An encrypted packet's plaintext is nowhere in what the client sent; a clear one is.
    if (this.v.mppe === 'require' && packet.length >= 20) check(!Buffer.concat(this.fed).includes(packet), 'clear IP accepted while MPPE is required');
  }

  step(st: Step): void {
    this.now += st.dt;
    const d = this.s.nextDeadline();
    check(d === undefined || Number.isFinite(d), `deadline ${d}`);
    if (d !== undefined && d <= this.now) this.s.handleTimeout(this.now);
    this.actions();
    switch (st.op) {
      case OP_DATA:
        this.fed.push(st.data);
        this.s.receive(this.now, st.data);
        break;
      case OP_OUTBOUND: {
        const out = this.s.encodeOutbound(Buffer.concat([Buffer.alloc(8), st.data]));
        if (out) {
          const version = st.data[0]! >> 4;
          check(version === 4 ? this.v4 : version === 6 ? this.v6 : false, `IPv${version} sent towards the client while its NCP is not open`);
          this.mayForward('outbound packet');
          check(out.length <= 4095 && out[0] === 0x10 && (out.readUInt16BE(2) & 0x0fff) === out.length, 'outbound SSTP packet malformed');
        }
        break;
      }
      case OP_TRANSPORT_CLOSED:
        this.s.transportClosed(this.now);
        break;
      case OP_TERMINATE:
        this.s.terminate(this.now, 'admin-reset', 'fuzz');
        break;
    }
    this.actions();
  }

  /** IP may pass: the link is authenticated, the binding is proven (keyed methods) and MPPE is up when required. */
  private mayForward(what: string): void {
    check(!this.ended, `${what} after the session ended`);
    check(this.authenticated, `${what} without authentication`);
    if (this.keyed) check(Buffer.concat(this.fed).includes(this.rec.callConnected), `${what} without the genuine Call Connected`);
    if (this.v.mppe === 'require') check(this.mppeUp, `${what} before MPPE is up`);
  }

  private actions(): void {
    for (let guard = 0; guard < 100; guard++) {
      const acts = this.s.poll();
      if (acts.length === 0) return;
      for (const a of acts) this.onAction(a);
    }
    check(false, 'session actions did not settle');
  }

  private onAction(a: SessionAction): void {
    if (a.type === 'log') {
      if (a.event === 'mppe-up') this.mppeUp = true;
      return;
    }
    if (a.type !== 'close' && a.type !== 'ended') check(!this.ended, `action ${a.type} after the session ended`);
    switch (a.type) {
      case 'authenticate': {
        const r = BACKEND.verify(a.request);
        this.verdict = r.ok;
        this.s.authResult(this.now, r);
        return;
      }
      case 'authenticated':
        check(this.verdict === true, 'authenticated without an accepting backend verdict');
        this.verdict = undefined;
        this.authenticated = true;
        this.s.networkAssigned(this.now, { ipv4: '192.0.2.10', ipv6Prefix: PREFIX, delegation: new Delegation() });
        return;
      case 'link-up':
        check(this.authenticated, 'link-up without authentication');
        this.v4 = true;
        return;
      case 'ipv6-up':
        check(this.authenticated, 'ipv6-up without authentication');
        this.v6 = true;
        return;
      case 'link-down':
        this.v4 = false;
        this.v6 = false;
        return;
      case 'ip':
        return this.ip(a.packet);
      case 'route6':
        if (a.op === 'add') this.routes.add(a.prefix);
        else check(this.routes.delete(a.prefix), `route6 del of ${a.prefix} never added`);
        return;
      case 'ended':
        check(!this.ended, 'ended twice');
        this.ended = true;
        return;
      default:
        return;
    }
  }
}

function sessionTarget(v: Variant): Target {
  return {
    name: `session-${v.method}`,
    group: GROUP,
    about: `Session (${v.method}, IPv6 + delegation, mppe ${v.mppe}) fed hostile client streams after a valid handshake: never throws; auth only on an accepting verdict; IP only after auth${v.method.startsWith('mschap') ? ', the genuine Call Connected and MPPE' : ''}; nothing after ended`,
    generate(rng: Rng) {
      const rec = recording(v);
      const s = sequence(rng, rec.toServer, rec.corpus, { stream: true, maxSteps: 72, tickMax: 120_000, maxRandom: 300 });
      const steps: Step[] = [];
      for (const st of s.steps) {
        if (rng.chance(0.06)) steps.push(step(outbound(rng), OP_OUTBOUND));
        // Without MPPE, well-formed DHCPv6 (right checksums) reaches the session's IPv6 services.
        if (v.mppe !== 'require' && rng.chance(0.08)) {
          const frame = encodeFrame(0x57, dhcpv6Packet(rng, 3600, rec.linkLocal));
          if (frame.length <= 4091) steps.push(step(dataPacket(frame)));
        }
        steps.push(st);
      }
      if (rng.chance(0.05)) steps.push(step(Buffer.alloc(0), rng.chance(0.5) ? OP_TRANSPORT_CLOSED : OP_TERMINATE, rng.int(1000)));
      return { steps, inputs: s.inputs };
    },
    start: () => new SessionEpisode(v),
  };
}

export const sessionTargets: readonly Target[] = VARIANTS.map(sessionTarget);

// ---- the client connection ------------------------------------------------------------------

const CLIENT_VARIANT = VARIANTS[3]!;

class ClientEpisode implements Episode {
  private readonly c = newClient(CLIENT_VARIANT);
  private readonly rec = recording(CLIENT_VARIANT);
  private now = 0;
  private readonly fed: Buffer[] = [];
  private closed = false;

  constructor() {
    this.c.start(0);
    this.c.poll();
  }

  step(st: Step): void {
    this.now += st.dt;
    const d = this.c.nextDeadline();
    if (d !== undefined && d <= this.now) this.c.handleTimeout(this.now);
    this.actions();
    if (st.op === OP_DATA) {
      this.fed.push(st.data);
      this.c.receive(this.now, st.data);
    } else if (st.op === OP_OUTBOUND) {
      this.c.encodeIp(st.data);
    }
    this.actions();
  }

  private actions(): void {
    for (const a of this.c.poll()) this.onAction(a);
  }

  private onAction(a: ClientAction): void {
    if (a.type === 'log') return;
    if (a.type === 'closed') {
      check(!this.closed, 'closed twice');
      this.closed = true;
      return;
    }
    if (a.type === 'up') {
      check(!this.closed, 'up after closed');
      // A server that asked for no authentication proves nothing (and is allowed, as with pppd).
      if (a.auth !== 'mschap-v2') return;
      const s = this.rec.successS;
      check(s !== undefined && Buffer.concat(this.fed).toString('latin1').toUpperCase().includes(s.toUpperCase()), 'up without the server proving the password (S=)');
    }
  }
}

export const clientConnectionTarget: Target = {
  name: 'client-connection',
  group: GROUP,
  about: 'ClientConnection (MS-CHAPv2, IPv6, MPPE) fed hostile server streams: never throws; up only after the server proved the password; closed once',
  generate(rng) {
    const rec = recording(CLIENT_VARIANT);
    const s = sequence(rng, rec.toClient, rec.corpus, { stream: true, maxSteps: 64, tickMax: 120_000, maxRandom: 300 });
    const steps: Step[] = [];
    for (const st of s.steps) {
      if (rng.chance(0.04)) steps.push(step(rng.chance(0.5) ? mutate(rng, rec.toServer[rec.toServer.length - 1]!, rec.corpus) : rng.bytes(rng.length(200)), OP_OUTBOUND));
      steps.push(st);
    }
    return { steps, inputs: s.inputs };
  },
  start: () => new ClientEpisode(),
};
