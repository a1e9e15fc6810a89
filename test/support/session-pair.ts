/**
 * The whole server session core (HTTP → SSTP → PPP) against the whole client core, in memory, with
 * a fake clock and the local auth backend: every layer's real code, no sockets. Shared by the core
 * tests and bench/datapath.ts. Subclasses change what the server leases (`assign`) and which
 * packets get lost on the way (`passes`).
 */
import type { AuthAccept } from '../../src/auth/backend.js';
import { LocalAuthBackend } from '../../src/auth/local.js';
import { ClientConnection, type ClientAction, type ClientConnectionOptions } from '../../src/client/connection.js';
import type { LocalUser } from '../../src/config/model.js';
import { PPP_MPPE } from '../../src/ppp/protocols.js';
import { DATA_HEADROOM } from '../../src/session/data-path.js';
import { Session, type SessionAction, type SessionPolicy } from '../../src/session/session.js';
import { certHashes } from '../../src/sstp/binding.js';
import { hashRandom } from './random.js';
import { vx } from './vectors.js';

let cert: Buffer | undefined;
/** The certificate of the binding vectors (its hashes are what the client binds to). */
export function pairCert(): Buffer {
  cert ??= vx('sstp_binding_end_to_end', 'cert_der');
  return cert;
}

/** The server policy the pair tests start from: gateway 192.0.2.254, MRU 1452, MS-CHAPv2, no MPPE. */
export function pairPolicy(o: Partial<SessionPolicy> = {}, certDer: Buffer = pairCert()): SessionPolicy {
  return {
    authProtocols: ['mschap-v2'],
    gateway: '192.0.2.254',
    dns: ['10.0.0.1'],
    mru: 1452,
    echo: { intervalS: 30, failure: 3, timeoutS: 0 },
    certHashes: certHashes(certDer),
    serverName: 'sstpd',
    negotiationTimeoutMs: 60_000,
    helloIntervalMs: 60_000,
    ...o,
  };
}

export interface SessionPairOptions {
  /** Over `pairPolicy()`. */
  readonly policy?: Partial<SessionPolicy>;
  /** Over the defaults: host `vpn`, user `vyos` / `vyos`, MS-CHAPv2. */
  readonly client?: Partial<ClientConnectionOptions>;
  /** The server's local users; default vyos / vyos. */
  readonly users?: readonly LocalUser[];
  /** The server certificate the client saw; default `pairCert()`. */
  readonly cert?: Buffer;
  /** Default: `hashRandom('s')` and `hashRandom('c')`. */
  readonly random?: { readonly server: (n: number) => Buffer; readonly client: (n: number) => Buffer };
  /** `drive` gives up (throws) after this many rounds; default 1000. */
  readonly maxSteps?: number;
}

export class SessionPair {
  now = 0;
  readonly server: Session;
  readonly client: ClientConnection;
  readonly sa: SessionAction[] = [];
  readonly ca: ClientAction[] = [];
  readonly toServer: Buffer[] = [];
  readonly toClient: Buffer[] = [];
  /** Server → client SSTP packets sent (also those `passes` then lost). */
  readonly wire: Buffer[] = [];
  protected readonly backend: LocalAuthBackend;
  private readonly maxSteps: number;

  constructor(o: SessionPairOptions = {}) {
    const certDer = o.cert ?? pairCert();
    const users = o.users ?? [{ name: 'vyos', password: 'vyos', disabled: false }];
    this.backend = new LocalAuthBackend(new Map(users.map((u) => [u.name, u])));
    this.maxSteps = o.maxSteps ?? 1000;
    this.server = new Session(pairPolicy(o.policy, certDer), o.random?.server ?? hashRandom('s'), this.now, () => new Date(0));
    this.client = new ClientConnection(
      {
        host: 'vpn',
        username: 'vyos',
        password: 'vyos',
        authMethods: ['mschap-v2'],
        serverCertDer: certDer,
        random: o.random?.client ?? hashRandom('c'),
        ...o.client,
      },
      this.now,
    );
    this.client.start(this.now);
  }

  /** Deliver everything until both sides are quiet (bounded). */
  drive(): void {
    for (let step = 0; step < this.maxSteps; step++) {
      let moved = false;
      for (const a of this.client.poll()) {
        moved = true;
        this.ca.push(a);
        if (a.type === 'send' && this.passes(a.bytes, 'server')) this.toServer.push(a.bytes);
      }
      for (const a of this.server.poll()) {
        moved = true;
        this.sa.push(a);
        if (a.type === 'send') {
          this.wire.push(a.bytes);
          if (this.passes(a.bytes, 'client')) this.toClient.push(a.bytes);
        }
        if (a.type === 'authenticate') this.server.authResult(this.now, this.backend.verify(a.request));
        if (a.type === 'authenticated') this.assign(a.result);
      }
      for (const b of this.toServer.splice(0)) {
        moved = true;
        this.server.receive(this.now, b);
      }
      for (const b of this.toClient.splice(0)) {
        moved = true;
        this.client.receive(this.now, b);
      }
      if (!moved) return;
    }
    throw new Error(`pair did not settle in ${this.maxSteps} steps`);
  }

  /** Jump the clock to the next deadline of either side and fire it. */
  tick(): void {
    const d = [this.server.nextDeadline(), this.client.nextDeadline()].filter((x): x is number => x !== undefined);
    this.now = Math.max(this.now, Math.min(...d));
    this.server.handleTimeout(this.now);
    this.client.handleTimeout(this.now);
    this.drive();
  }

  /** What the server leases after 'authenticated' (the driver's part): the user's static IP or 192.0.2.1. */
  protected assign(result: AuthAccept): void {
    this.server.networkAssigned(this.now, { ipv4: result.staticIp ?? '192.0.2.1' });
  }

  /** False = the packet is lost on its way `to` that side. */
  protected passes(_bytes: Buffer, _to: 'client' | 'server'): boolean {
    return true;
  }

  of<T extends SessionAction['type']>(type: T): Extract<SessionAction, { type: T }>[] {
    return this.sa.filter((a): a is Extract<SessionAction, { type: T }> => a.type === type);
  }
  logs(event: string): Extract<SessionAction, { type: 'log' }>[] {
    return this.of('log').filter((a) => a.event === event);
  }
}

/**
 * Whether the server's data gate lets IPv4 go to the client now, asked as the driver asks (the TUN
 * fast lane, `encodeOutbound`) with a bare IPv4 header; the framed probe is thrown away. Throws
 * when MPPE is on: an encrypted probe would move the cipher on and desynchronise the client.
 */
export function forwardsIpv4(server: Session): boolean {
  const frame = Buffer.alloc(DATA_HEADROOM + 20);
  frame[DATA_HEADROOM] = 0x45;
  const out = server.encodeOutbound(frame);
  if (out && out.readUInt16BE(DATA_HEADROOM - 2) === PPP_MPPE) throw new Error('forwardsIpv4 on an MPPE link: the probe would consume a cipher step');
  return out !== undefined;
}
