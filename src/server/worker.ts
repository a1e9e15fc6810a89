/**
 * A worker process: a whole Daemon for the sessions it accepts (TLS, SSTP, PPP, TUN, shaper, RADIUS
 * authentication), with the state every worker shares kept by the primary (src/server/primary.ts)
 * and reached through src/server/ipc.ts:
 *   - the pools: after authentication one `reserve` round trip takes what the session will lease
 *     (IPv4, IPv6 prefix, delegated prefix), so the session code keeps its synchronous leasing;
 *   - one session per user: the same round trip claims the user, ending its sessions in other
 *     workers first;
 *   - admission (max-concurrent-sessions, limits) counted over all workers;
 *   - accounting requests go out through the primary, which alone sends a session's one Stop, and
 *     after a crash sends it from the counters this worker reports every few seconds.
 * Interface names need no round trip: slot k of N takes sstp{k}, sstp{k+N}, … .
 */
import type { AuthAccept } from '../auth/backend.js';
import type { Logger } from '../common/log.js';
import { AddressBook } from '../ip/pool.js';
import { Ipv6PrefixBook, type Ipv6PoolKind } from '../ip/pool6.js';
import { formatPrefix6, type Prefix6 } from '../ip/ipv6-addr.js';
import type { RadiusOutcome, RadiusRequest, RadiusTransport } from '../radius/client.js';
import type { SharedSessionState } from '../session/driver.js';
import type { SessionPolicy } from '../session/session.js';
import type { AdmissionGate } from './listener.js';
import { RpcPeer, type Envelope, type PrimaryCalls, type PrimaryNotes, type Reservation, type WorkerCalls, type WorkerInit, type WorkerNotes, isEnvelope, type CallHandlers } from './ipc.js';
import type { Runtime } from './runtime.js';

export type WorkerPeer = RpcPeer<PrimaryCalls, PrimaryNotes, WorkerCalls, WorkerNotes>;

/** How often a worker sends its sessions' counters (the primary's Stop after a crash uses the last). */
export const REPORT_INTERVAL_MS = 3_000;

/** The channel to the primary: cluster's IPC pipe in this process. */
export function connectToPrimary(handlers: Partial<CallHandlers<WorkerCalls>>, log: Logger): WorkerPeer {
  const send = (m: Envelope): void => {
    if (process.connected) process.send!(m);
  };
  const peer: WorkerPeer = new RpcPeer(send, handlers, {}, (reason) => log.warn({ reason }, 'ipc-bad-message'));
  process.on('message', (m: unknown) => {
    if (isEnvelope(m)) peer.receive(m);
  });
  process.on('disconnect', () => peer.close('the primary process is gone'));
  return peer;
}

/** A session's reserved leases, handed out by the books below when the session leases. */
interface Held {
  ipv4?: Reservation['ipv4'];
  prefix?: Reservation['prefix'];
  delegate?: Reservation['delegate'];
}

/**
 * The shared state as the session code sees it. The books extend the local ones (their `offers` and
 * pool presence follow this worker's configuration); `lease` hands out the reservation and
 * `release` tells the primary.
 */
export class SharedState implements SharedSessionState {
  private readonly held = new Map<string, Held>();
  /** Sessions that reserved once (an LCP renegotiation keeps its addresses: no second reserve). */
  private readonly reserved = new Set<string>();
  addresses!: AddressBook;
  prefixes!: Ipv6PrefixBook;
  private policy!: Pick<SessionPolicy, 'ipv6' | 'ncp'>;

  constructor(private readonly peer: WorkerPeer) {}

  /** A generation's pools (for offers/presence) and policy (which leases a session takes). */
  configure(rt: Runtime): void {
    this.policy = rt.policy;
    if (!this.addresses) {
      this.addresses = new RemoteAddressBook(this, rt.pools, rt.config.defaultIpv4Pool);
      this.prefixes = new RemotePrefixBook(this, rt.ipv6Pools);
    } else {
      this.addresses.reconfigure(rt.pools, rt.config.defaultIpv4Pool);
      this.prefixes.reconfigure(rt.ipv6Pools);
    }
  }

  async authorizing(sid: string, result: AuthAccept): Promise<void> {
    // An LCP renegotiation keeps what the session has: only the claim again.
    const again = this.reserved.has(sid);
    this.reserved.add(sid);
    // The same conditions SessionNetwork.lease applies: what it will ask for, and nothing more.
    const wantsIpv4 = !again && this.policy.ncp?.ipv4 !== 'deny' && this.addresses.offers(result.staticIp, result.poolName);
    const wantsIpv6 = !again && this.policy.ipv6 !== undefined && this.prefixes.offers('prefix', result.ipv6PoolName);
    const v6 = {
      delegate: this.prefixes.offers('delegate', result.delegatedIpv6PoolName),
      ...(result.ipv6PoolName !== undefined ? { poolName: result.ipv6PoolName } : {}),
      ...(result.delegatedIpv6PoolName !== undefined ? { delegatePoolName: result.delegatedIpv6PoolName } : {}),
    };
    const r = await this.peer.call('reserve', {
      sid,
      username: result.username,
      ...(wantsIpv4 ? { ipv4: { ...(result.staticIp !== undefined ? { staticIp: result.staticIp } : {}), ...(result.poolName !== undefined ? { poolName: result.poolName } : {}) } } : {}),
      ...(wantsIpv6 ? { ipv6: v6 } : {}),
    });
    if (!again) this.held.set(sid, { ...r });
  }

  released(sid: string): void {
    this.held.delete(sid);
    this.reserved.delete(sid);
    this.peer.notify('down', { sid });
  }

  /** The reserved IPv4 lease of `sid` (once). */
  takeIpv4(sid: string): { ip: string } | { error: string } {
    const h = this.held.get(sid);
    const r = h?.ipv4;
    if (h) delete h.ipv4;
    return r ?? { error: 'no address was reserved for this session' };
  }

  takePrefix(sid: string, kind: Ipv6PoolKind): { prefix: Prefix6 } | { error: string } {
    const h = this.held.get(sid);
    const r = h?.[kind];
    if (h) delete h[kind];
    return r ?? { error: `no ${kind === 'prefix' ? 'IPv6 prefix' : 'delegated prefix'} was reserved for this session` };
  }

  releaseIpv4(sid: string, ip: string): void {
    this.peer.notify('release', { sid, ip });
  }

  releasePrefix(sid: string, prefix: Prefix6): void {
    this.peer.notify('release', { sid, prefix });
    // The session's IPv6 is gone: a delegated prefix it reserved but never bound goes with it.
    const h = this.held.get(sid);
    const d = h?.delegate;
    if (h && d && 'prefix' in d && formatPrefix6(d.prefix) !== formatPrefix6(prefix)) {
      delete h.delegate;
      this.peer.notify('release', { sid, prefix: d.prefix });
    }
  }
}

class RemoteAddressBook extends AddressBook {
  constructor(private readonly shared: SharedState, ...args: ConstructorParameters<typeof AddressBook>) {
    super(...args);
  }
  override lease(sessionId: string): { ip: string } | { error: string } {
    return this.shared.takeIpv4(sessionId);
  }
  override release(sessionId: string, ip: string): void {
    this.shared.releaseIpv4(sessionId, ip);
  }
}

class RemotePrefixBook extends Ipv6PrefixBook {
  constructor(private readonly shared: SharedState, ...args: ConstructorParameters<typeof Ipv6PrefixBook>) {
    super(...args);
  }
  override lease(sid: string, kind: Ipv6PoolKind): { prefix: Prefix6 } | { error: string } {
    return this.shared.takePrefix(sid, kind);
  }
  override release(sid: string, prefix: Prefix6): void {
    this.shared.releasePrefix(sid, prefix);
  }
}

/** max-concurrent-sessions and per-address limits, counted by the primary over all workers. */
export function remoteAdmission(peer: WorkerPeer): AdmissionGate {
  return {
    admit: async (address, starting) => (await peer.call('admit', { ...(address !== undefined ? { address } : {}), starting })).refusal,
  };
}

/** RADIUS requests go out through the primary. */
export function primaryRadius(peer: WorkerPeer): RadiusTransport {
  return {
    request: async (req: RadiusRequest): Promise<RadiusOutcome> => {
      try {
        return asBuffers(await peer.call('radius', { req }));
      } catch (err) {
        return { ok: false, reason: `primary: ${err instanceof Error ? err.message : String(err)}` };
      }
    },
  };
}

/** Structured clone brings Buffers back as Uint8Arrays; the RADIUS code wants Buffers. */
export const asBuffer = (v: Uint8Array): Buffer => (Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength));

function asBuffers(o: RadiusOutcome): RadiusOutcome {
  if (!o.ok) return o;
  return {
    ...o,
    requestAuthenticator: asBuffer(o.requestAuthenticator),
    secret: asBuffer(o.secret),
    reply: { ...o.reply, authenticator: asBuffer(o.reply.authenticator), attributes: o.reply.attributes.map((a) => ({ ...a, value: asBuffer(a.value) })) },
  };
}

export type { WorkerInit };
