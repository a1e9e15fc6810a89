/**
 * PPP link test doubles and helpers: a PAP-shaped fake on both sides of authentication (so link
 * tests do not depend on the real authenticators) and what tests do to a link through its public
 * API: start the network with IPv4 only, frame an IP packet as the owners' data path does.
 */
import type { AuthResult, MppeKeys } from '../../src/auth/backend.js';
import type { Millis } from '../../src/common/time.js';
import type { AuthProtocol } from '../../src/config/model.js';
import type { AuthEvent, Authenticator } from '../../src/ppp/auth/authenticator.js';
import type { ClientAuthEvent, ClientAuthPeer, PppClientLink } from '../../src/ppp/link/client-link.js';
import { decodeCp, encodeCp, type CpPacket } from '../../src/ppp/cp.js';
import type { DataGate } from '../../src/ppp/data-gate.js';
import type { PppEvent, PppLink } from '../../src/ppp/link/link.js';
import { frameOutboundCopy } from '../../src/session/data-path.js';
import { HEADER_LEN } from '../../src/sstp/wire.js';

export const ZERO_HLAK = Buffer.alloc(32);

/** The user name and password of a PAP Authenticate-Request's data; fields cut short come out empty. */
function papFields(data: Buffer): { username: string; password: string } {
  const ulen = data[0] ?? 0;
  const plen = data[1 + ulen] ?? 0;
  return { username: data.subarray(1, 1 + ulen).toString(), password: data.subarray(2 + ulen, 2 + ulen + plen).toString() };
}

/**
 * Server side: a PAP-shaped exchange (Request user/pass → Ack "OK" / Nak "NO") on the PAP or CHAP
 * protocol number of the negotiated method. Undecodable packets are ignored, as a real one does.
 */
export class FakeAuthenticator implements Authenticator {
  readonly protocol: number;
  private id = 0;
  private user = '';
  constructor(method: AuthProtocol) {
    this.protocol = method === 'pap' ? 0xc023 : 0xc223;
  }
  start(): AuthEvent[] {
    return [];
  }
  handle(_now: Millis, packet: Buffer): AuthEvent[] {
    let p: CpPacket;
    try {
      p = decodeCp(packet);
    } catch {
      return [];
    }
    if (p.code !== 1) return [];
    const { username, password } = papFields(p.data);
    this.user = username;
    this.id = p.id;
    return [{ type: 'verify', request: { kind: 'pap', username, password } }];
  }
  backendResult(_now: Millis, r: AuthResult): AuthEvent[] {
    if (r.ok) return [{ type: 'send', packet: encodeCp(2, this.id, Buffer.from([2, 0x4f, 0x4b])) }, { type: 'success', result: r }];
    return [{ type: 'send', packet: encodeCp(3, this.id, Buffer.from([2, 0x4e, 0x4f])) }, { type: 'failure', username: this.user, reason: r.reason }];
  }
  handleTimeout(): AuthEvent[] {
    return [];
  }
  nextDeadline(): undefined {
    return undefined;
  }
}

export interface FakePeerOptions {
  readonly username?: string;
  readonly password?: string;
  /** Sends no Request (the server's auth timeout runs). */
  readonly silent?: boolean;
  /** The client's MPPE start keys reported on success (send = client → server). */
  readonly mppeKeys?: MppeKeys;
}

/** Client side of FakeAuthenticator: one Request (alice/secret by default), Ack → success with a zero HLAK. */
export class FakePeer implements ClientAuthPeer {
  constructor(private readonly o: FakePeerOptions = {}) {}
  start(): ClientAuthEvent[] {
    if (this.o.silent) return [];
    const u = Buffer.from(this.o.username ?? 'alice');
    const p = Buffer.from(this.o.password ?? 'secret');
    return [{ type: 'send', packet: encodeCp(1, 1, Buffer.concat([Buffer.from([u.length]), u, Buffer.from([p.length]), p])) }];
  }
  handle(packet: Buffer): ClientAuthEvent[] {
    let p: CpPacket;
    try {
      p = decodeCp(packet);
    } catch {
      return [];
    }
    if (p.code === 2) return [this.o.mppeKeys ? { type: 'success', hlak: ZERO_HLAK, mppeKeys: this.o.mppeKeys } : { type: 'success', hlak: ZERO_HLAK }];
    if (p.code === 3) return [{ type: 'failure', message: 'rejected' }];
    return [];
  }
}

/** After 'authenticated': the network phase with IPv4 only (what a session does with a lease and no prefix). */
export function setAddresses(link: PppLink, now: Millis, local: string, peer: string, dns?: readonly (string | undefined)[]): void {
  link.startNetwork(now, dns ? { ipv4: { local, peer }, dns } : { ipv4: { local, peer } });
}

/**
 * An IPv4 or IPv6 packet as the PPP frame the link's owner would send (MPPE-encrypted when on):
 * the owners' data path (session/data-path.ts) without its SSTP header. Undefined while the link's
 * data gate holds the packet.
 */
export function pppDataFrame(link: { readonly gate: DataGate }, packet: Buffer): Buffer | undefined {
  return frameOutboundCopy(link.gate, packet)?.subarray(HEADER_LEN);
}

/**
 * Runs one session between `server` and `client` at time 0 until both are quiet; `serve` answers
 * the server's events (the owner's part: auth results, the network start). Returns every frame
 * each side sent, in order, for replay.
 */
export function exchangeFrames(server: PppLink, client: PppClientLink, serve: (ev: PppEvent) => void): { toServer: Buffer[]; toClient: Buffer[] } {
  const toServer: Buffer[] = [];
  const toClient: Buffer[] = [];
  server.lowerUp(0);
  client.lowerUp(0);
  for (let guard = 0; guard < 1000; guard++) {
    let moved = false;
    for (const ev of server.poll()) {
      moved = true;
      if (ev.type === 'send') {
        toClient.push(ev.frame);
        client.receive(0, ev.frame);
      }
      serve(ev);
    }
    for (const ev of client.poll()) {
      moved = true;
      if (ev.type === 'send') {
        toServer.push(ev.frame);
        server.receive(0, ev.frame);
      }
    }
    if (!moved) break;
  }
  return { toServer, toClient };
}
