/**
 * PPP targets: the frame and control-packet codecs, the authenticators and the auth peer, the
 * server link (one target per auth method, each with IPCP, IPV6CP and CCP/MPPE where the method
 * gives keys) and the client link. Links are brought up by a recorded good session (real
 * authenticators, the local backend, real MPPE keys) replayed with noise around it.
 */
import { LocalAuthBackend } from '../../../src/auth/local.js';
import type { AuthRequest, AuthResult } from '../../../src/auth/backend.js';
import type { AuthProtocol } from '../../../src/config/model.js';
import { createAuthenticator, AuthPeer, type AuthEvent, type AuthPeerEvent, type Authenticator } from '../../../src/ppp/auth/index.js';
import { generateAuthenticatorResponse } from '../../../src/crypto/mschap.js';
import { MPPE_BIT_H, MPPE_BIT_S, type MppeMode } from '../../../src/ppp/ccp/mppe-option.js';
import { MppeDecryptor } from '../../../src/ppp/mppe-cipher.js';
import { PppClientLink, type PppClientEvent } from '../../../src/ppp/link/client-link.js';
import { decodeCp, decodeOptions, encodeCp, encodeOptions } from '../../../src/ppp/cp.js';
import { encodeFrame, parseFrame } from '../../../src/ppp/frame.js';
import { PppLink, type PppEvent, type PppLinkOptions } from '../../../src/ppp/link/link.js';
import { frameOutboundCopy } from '../../../src/session/data-path.js';
import { check, decodeOnly, mutate, seededRandom, seedOrNoise, step, type Episode, type Rng, type Step, type Target } from '../engine.js';
import { OP_DATA, sequence } from '../sequence.js';
import { pppDataFrame, exchangeFrames } from '../../../test/support/ppp-fakes.js';
import { pppProtocol } from './sstp.js';

const GROUP = 'ppp';
export const USER = 'vyos';
export const PASSWORD = 'vyos';
export const BACKEND = new LocalAuthBackend(new Map([[USER, { name: USER, password: PASSWORD, disabled: false }]]));
const PROTO_CHAP = 0xc223;
const PROTO_MPPE = 0x00fd;
const IPV4_PACKET = Buffer.from('450000140000000040010000c0000202c0000201', 'hex');
const IPV6_PACKET = Buffer.from('60000000000011ff' + 'fe80' + '00'.repeat(12) + '0002' + 'fe80' + '00'.repeat(12) + '0001', 'hex');

// ---- codecs ---------------------------------------------------------------------------------

const CODEC_SEEDS = [
  Buffer.from('ff03c02101010014020600000000050612345678070208 02'.replace(/ /g, ''), 'hex'),
  Buffer.from('c0210201000a05061234567800', 'hex'),
  Buffer.from('ff0380210101000a0306c0000202', 'hex'),
  Buffer.from('21450000', 'hex'),
  Buffer.from('ff0300fd9000aabbccdd', 'hex'),
  encodeCp(1, 7, encodeOptions([{ type: 1, data: Buffer.from([5, 0xac]) }, { type: 3, data: Buffer.from([0xc2, 0x23, 0x81]) }])),
];

class CodecEpisode implements Episode {
  private readonly dec = [new MppeDecryptor(Buffer.alloc(16, 1), { strength: 128, stateless: true }), new MppeDecryptor(Buffer.alloc(16, 2), { strength: 40, stateless: false })];
  step(s: Step): void {
    const b = s.data;
    const f = decodeOnly(() => parseFrame(b), ['E_PPP_FRAME']);
    if (f) check(f.info.length <= b.length && b.subarray(b.length - f.info.length).equals(f.info), 'frame info is not the tail of the frame');
    for (const info of f ? [b, f.info] : [b]) {
      const cp = decodeOnly(() => decodeCp(info), ['E_PPP_CP', 'E_DECODE']);
      if (cp) {
        check(encodeCp(cp.code, cp.id, cp.data).equals(info.subarray(0, 4 + cp.data.length)), 'control packet does not re-encode to itself');
        const opts = decodeOnly(() => decodeOptions(cp.data), ['E_PPP_OPTION', 'E_DECODE']);
        if (opts) check(encodeOptions(opts).equals(cp.data), 'options do not re-encode to themselves');
      }
    }
    for (const d of this.dec) {
      const r = d.decrypt(b);
      if (r.ok) check(r.payload.length <= b.length, 'decrypted payload larger than the frame');
    }
  }
}

export const pppCodecTarget: Target = {
  name: 'ppp-codec',
  group: GROUP,
  about: 'parseFrame, decodeCp, decodeOptions (DecodeError only, exact re-encoding) and the MPPE decryptor on arbitrary bytes',
  generate(rng) {
    const steps: Step[] = [];
    for (let n = rng.range(1, 16); n > 0; n--) steps.push(step(seedOrNoise(rng, CODEC_SEEDS, 80)));
    return { steps, inputs: steps.length };
  },
  start: () => new CodecEpisode(),
};

// ---- authenticators and peer ----------------------------------------------------------------

const METHODS: readonly AuthProtocol[] = ['pap', 'chap', 'mschap', 'mschap-v2'];

/** The challenge value of a CHAP Challenge packet (Code 1, Id, Length, Value-Size, Value, Name). */
function chapChallenge(packet: Buffer): Buffer | undefined {
  if (packet.length < 5 || packet[0] !== 1) return undefined;
  return packet.subarray(5, 5 + packet[4]!);
}

/** What a CHAP-family verify request says the challenge was; undefined for PAP. */
function requestChallenge(r: AuthRequest): Buffer | undefined {
  if (r.kind === 'pap') return undefined;
  return r.kind === 'mschap-v2' ? r.authenticatorChallenge : r.challenge;
}

/** Checks the authenticator side of one auth exchange: verdicts come only from the backend, on our challenge. */
class AuthChecker {
  private challenge: Buffer | undefined;
  private verdict: boolean | undefined;
  private pending: AuthRequest | undefined;
  /** A packet the authenticator sent (only CHAP Challenges matter). */
  sent(packet: Buffer): void {
    const c = chapChallenge(packet);
    if (c) this.challenge = Buffer.from(c);
  }
  verify(r: AuthRequest): AuthResult {
    const c = requestChallenge(r);
    if (c !== undefined) check(this.challenge !== undefined && c.equals(this.challenge), 'verify request on a challenge we did not send');
    this.pending = r;
    const res = BACKEND.verify(r);
    this.verdict = res.ok;
    return res;
  }
  success(): void {
    check(this.verdict === true, 'authentication succeeded without an accepting backend verdict');
    this.verdict = undefined;
  }
  get lastRequest(): AuthRequest | undefined {
    return this.pending;
  }
}

/**
 * The MS-CHAPv2 peer's mutual authentication, checked from outside: a Success is accepted only if
 * its S= is the authenticator response for the Response the peer sent to that Identifier.
 */
class PeerChecker {
  /** Identifier → [challenge answered, Response packet sent]. */
  private readonly answers = new Map<number, { challenge: Buffer; response: Buffer }>();
  private lastChallenge: { id: number; value: Buffer } | undefined;
  constructor(private readonly method: AuthProtocol, private readonly username: string, private readonly password: string) {}

  /** A packet of the auth protocol the peer is about to handle. */
  fed(packet: Buffer): void {
    const c = chapChallenge(packet);
    if (c && packet.length >= 4) this.lastChallenge = { id: packet[1]!, value: Buffer.from(c) };
  }
  /** The peer answered (a Response to the last Challenge fed). */
  sent(packet: Buffer): void {
    if (packet[0] === 2 && this.lastChallenge && packet[1] === this.lastChallenge.id) {
      this.answers.set(packet[1]!, { challenge: this.lastChallenge.value, response: Buffer.from(packet) });
    }
  }
  /** The peer reported success on `packet`. */
  succeeded(packet: Buffer): void {
    if (this.method !== 'mschap-v2') return;
    check(packet.length >= 4 && packet[0] === 3, 'MS-CHAPv2 peer succeeded on something other than a Success');
    const a = this.answers.get(packet[1]!);
    check(a !== undefined, 'MS-CHAPv2 peer succeeded without having answered that Identifier');
    const value = a!.response.subarray(5, 5 + a!.response[4]!);
    const expected = generateAuthenticatorResponse(this.password, value.subarray(24, 48), value.subarray(0, 16), a!.challenge, this.username);
    const got = packet.subarray(4).toString('utf8').slice(0, 42).toUpperCase();
    check(got === expected.toUpperCase(), 'MS-CHAPv2 peer accepted a wrong authenticator response');
  }
}

/** Recorded packets of a good exchange per method: [server packets, peer packets]. */
function recordAuth(method: AuthProtocol): { toPeer: Buffer[]; toServer: Buffer[] } {
  const auth = createAuthenticator(method, { random: seededRandom(11), serverName: 'sstpd' });
  const peer = new AuthPeer(method, { username: USER, password: PASSWORD, random: seededRandom(12) });
  const toPeer: Buffer[] = [];
  const toServer: Buffer[] = [];
  const sends = (evs: readonly (AuthEvent | AuthPeerEvent)[]): Buffer[] => evs.flatMap((e) => (e.type === 'send' ? [e.packet] : []));
  let s = sends(auth.start(0));
  let p = sends(peer.start());
  for (let i = 0; i < 6 && s.length + p.length > 0; i++) {
    toPeer.push(...s);
    toServer.push(...p);
    const pe = s.flatMap((x) => peer.handle(x));
    const se = p.flatMap((x) => auth.handle(0, x).flatMap((e) => (e.type === 'verify' ? [e, ...auth.backendResult(0, BACKEND.verify(e.request))] : [e])));
    s = sends(se);
    p = sends(pe);
  }
  return { toPeer, toServer };
}

/** Steps: op 0 = packet to the authenticator, 1 = packet to the peer, 2 = clock only. The method is step 0's op - 10. */
class AuthEpisode implements Episode {
  private method: AuthProtocol | undefined;
  private auth: Authenticator | undefined;
  private peer: AuthPeer | undefined;
  private checker: AuthChecker | undefined;
  private peerCheck: PeerChecker | undefined;
  private now = 0;

  step(s: Step): void {
    if (this.method === undefined) {
      this.method = METHODS[(s.op - 10) & 3]!;
      this.auth = createAuthenticator(this.method, { random: seededRandom(11), serverName: 'sstpd' });
      this.peer = new AuthPeer(this.method, { username: USER, password: PASSWORD, random: seededRandom(12) });
      this.checker = new AuthChecker();
      this.peerCheck = new PeerChecker(this.method, USER, PASSWORD);
      this.serverEvents(this.auth.start(0));
      this.peerEvents(this.peer.start(), Buffer.alloc(0));
      return;
    }
    this.now += s.dt;
    const d = this.auth!.nextDeadline();
    if (d !== undefined && d <= this.now) this.serverEvents(this.auth!.handleTimeout(this.now));
    if (s.op === 0) this.serverEvents(this.auth!.handle(this.now, s.data));
    else if (s.op === 1) {
      this.peerCheck!.fed(s.data);
      this.peerEvents(this.peer!.handle(s.data), s.data);
    }
  }

  private serverEvents(evs: readonly AuthEvent[]): void {
    for (const e of evs) {
      if (e.type === 'send') this.checker!.sent(e.packet);
      else if (e.type === 'verify') this.serverEvents(this.auth!.backendResult(this.now, this.checker!.verify(e.request)));
      else if (e.type === 'success') this.checker!.success();
    }
  }

  private peerEvents(evs: readonly AuthPeerEvent[], fed: Buffer): void {
    for (const e of evs) {
      if (e.type === 'send') this.peerCheck!.sent(e.packet);
      else if (e.type === 'success') this.peerCheck!.succeeded(fed);
    }
  }
}

const AUTH_RECORDS = new Map<AuthProtocol, { toPeer: Buffer[]; toServer: Buffer[]; corpus: Buffer[] }>();
function authRecord(m: AuthProtocol): { toPeer: Buffer[]; toServer: Buffer[]; corpus: Buffer[] } {
  let r = AUTH_RECORDS.get(m);
  if (!r) {
    const rec = recordAuth(m);
    r = { ...rec, corpus: [...rec.toPeer, ...rec.toServer] };
    AUTH_RECORDS.set(m, r);
  }
  return r;
}

export const pppAuthTarget: Target = {
  name: 'ppp-auth',
  group: GROUP,
  about: 'PAP/CHAP/MS-CHAP/MS-CHAPv2 authenticators and AuthPeer: never throw; success only after an accepting backend verdict on our own challenge; MS-CHAPv2 peer accepts only the right S=',
  generate(rng) {
    const mi = rng.int(4);
    const rec = authRecord(METHODS[mi]!);
    const steps: Step[] = [step(Buffer.alloc(0), 10 + mi)];
    let sc = 0;
    let pc = 0;
    for (let n = rng.range(1, 12); n > 0; n--) {
      const toServer = rng.chance(0.5);
      const list = toServer ? rec.toServer : rec.toPeer;
      const base = list.length > 0 ? list[(toServer ? sc++ : pc++) % list.length]! : rng.pick(rec.corpus);
      const r = rng.int(10);
      const data = r < 4 ? base : r < 9 ? mutate(rng, base, rec.corpus) : rng.bytes(rng.length(80));
      steps.push(step(data, toServer ? 0 : 1, rng.chance(0.1) ? rng.int(40_000) : 0));
    }
    return { steps, inputs: steps.length - 1 };
  },
  start: () => new AuthEpisode(),
};

// ---- the server link ------------------------------------------------------------------------

interface LinkVariant {
  readonly method: AuthProtocol;
  readonly mppe: MppeMode | 'deny';
  /** The recorded client requires MPPE with these CCP bits. */
  readonly clientMppe?: number;
}

const LINK_VARIANTS: readonly LinkVariant[] = [
  { method: 'pap', mppe: 'prefer' },
  { method: 'chap', mppe: 'accept' },
  { method: 'mschap', mppe: 'require', clientMppe: MPPE_BIT_S | MPPE_BIT_H },
  { method: 'mschap-v2', mppe: 'require', clientMppe: MPPE_BIT_S | MPPE_BIT_H },
];

/** Moves a link's clock: fires its timeout when one is due; true if it fired. */
function timeoutDue(link: { nextDeadline(): number | undefined; handleTimeout(now: number): void }, now: number): boolean {
  const d = link.nextDeadline();
  if (d === undefined || d > now) return false;
  link.handleTimeout(now);
  return true;
}

function serverOptions(v: LinkVariant): PppLinkOptions {
  const random = seededRandom(7);
  return {
    mru: 1452,
    authProtocols: [v.method],
    makeAuthenticator: (m) => createAuthenticator(m, { random, serverName: 'sstpd' }),
    echo: { intervalS: 10, failure: 2, timeoutS: 0 },
    dns: ['192.0.2.53'],
    random,
    ipv6: true,
    mppe: v.mppe,
  };
}

const NETWORK = { ipv4: { local: '10.0.0.1', peer: '10.0.0.2' }, ipv6: true } as const;

function clientLink(v: LinkVariant): PppClientLink {
  const random = seededRandom(9);
  return new PppClientLink({
    authMethods: [v.method],
    makeAuthPeer: (m) => new AuthPeer(m, { username: USER, password: PASSWORD, random }),
    random,
    ipv6: true,
    ...(v.clientMppe !== undefined ? { mppe: { bits: v.clientMppe } } : {}),
  });
}

interface LinkRecording {
  /** Client → server frames, ending with an IPv4 and an IPv6 packet (encrypted when MPPE is up). */
  readonly toServer: Buffer[];
  /** Server → client frames. */
  readonly toClient: Buffer[];
  readonly corpus: Buffer[];
}

function recordLink(v: LinkVariant): LinkRecording {
  const server = new PppLink(serverOptions(v));
  const client = clientLink(v);
  const { toServer, toClient } = exchangeFrames(server, client, (ev) => {
    if (ev.type === 'verify') server.authResult(0, BACKEND.verify(ev.request));
    if (ev.type === 'authenticated') server.startNetwork(0, NETWORK);
  });
  for (const p of [IPV4_PACKET, IPV6_PACKET]) {
    const f = pppDataFrame(client, p);
    if (!f) throw new Error(`fuzz: the recorded ${v.method} link did not come up`);
    toServer.push(f);
  }
  // Server → client data as the session frames it (SSTP header dropped: these are PPP frames).
  for (const p of [IPV4_PACKET, IPV6_PACKET]) toClient.push(frameOutboundCopy(server.gate, p)?.subarray(4) ?? Buffer.alloc(0));
  // The same packets in clear: data while MPPE is required must not take them.
  for (const list of [toServer, toClient]) list.push(encodeFrame(0x21, IPV4_PACKET), encodeFrame(0x57, IPV6_PACKET));
  return { toServer, toClient, corpus: [...toServer, ...toClient] };
}

const RECORDINGS = new Map<string, LinkRecording>();
function recording(v: LinkVariant): LinkRecording {
  let r = RECORDINGS.get(v.method);
  if (!r) RECORDINGS.set(v.method, (r = recordLink(v)));
  return r;
}

/** The phase and gate invariants of the server link over one episode (see test/property/ppp-link*.test.ts). */
class LinkEpisode implements Episode {
  private readonly link: PppLink;
  private readonly auth: AuthChecker = new AuthChecker();
  private now = 0;
  private authenticated = false;
  private v4 = false;
  private v6 = false;
  private finished = false;
  private frame: Buffer | undefined;

  constructor(private readonly v: LinkVariant) {
    this.link = new PppLink(serverOptions(v));
    this.link.lowerUp(0);
    this.pump();
  }

  step(s: Step): void {
    this.now += s.dt;
    if (timeoutDue(this.link, this.now)) {
      this.frame = undefined;
      this.pump();
    }
    if (s.op === OP_DATA) {
      this.frame = s.data;
      this.link.receive(this.now, s.data);
      this.pump();
    }
    const next = this.link.nextDeadline();
    check(next === undefined || Number.isFinite(next), `deadline ${next}`);
    check(this.link.phase !== 'network' || this.authenticated, 'network phase without authentication');
  }

  private pump(): void {
    for (let guard = 0; guard < 100; guard++) {
      const evs = this.link.poll();
      if (evs.length === 0) return;
      for (const ev of evs) this.onEvent(ev);
    }
    check(false, 'link events did not settle');
  }

  private onEvent(ev: PppEvent): void {
    if (ev.type === 'log') return;
    check(!this.finished, `event ${ev.type} after finished`);
    switch (ev.type) {
      case 'send':
        check(ev.frame.readUInt16BE(0) === 0xff03, 'frame sent without FF 03');
        if (ev.frame.readUInt16BE(2) === PROTO_CHAP) this.auth.sent(ev.frame.subarray(4));
        return;
      case 'verify':
        this.link.authResult(this.now, this.auth.verify(ev.request));
        return;
      case 'authenticated':
        this.auth.success();
        this.authenticated = true;
        this.link.startNetwork(this.now, NETWORK);
        return;
      case 'ipcp-up':
      case 'ipv6cp-up':
        check(this.authenticated, `${ev.type} without authentication`);
        check(ev.type === 'ipcp-up' ? !this.v4 : !this.v6, `${ev.type} twice`);
        if (ev.type === 'ipcp-up') this.v4 = true;
        else this.v6 = true;
        return;
      case 'ipcp-down':
        check(this.v4, 'ipcp-down without ipcp-up');
        this.v4 = false;
        return;
      case 'ipv6cp-down':
        check(this.v6, 'ipv6cp-down without ipv6cp-up');
        this.v6 = false;
        return;
      case 'data': {
        check(ev.protocol === 0x21 ? this.v4 : ev.protocol === 0x57 ? this.v6 : false, `data 0x${ev.protocol.toString(16)} while its NCP is not open`);
        check(!this.link.gate.heldForMppe, 'data passed while MPPE is required and not up');
        if (this.v.mppe === 'require') {
          const p = this.frame ? pppProtocol(this.frame) : undefined;
          check(p === PROTO_MPPE, `clear data (protocol ${p}) accepted while MPPE is required`);
        }
        return;
      }
      case 'finished':
        check(!this.v4 && !this.v6, 'finished while an NCP is up');
        this.finished = true;
        this.authenticated = false;
        return;
      default:
        return;
    }
  }
}

function linkTarget(v: LinkVariant): Target {
  return {
    name: `ppp-link-${v.method}`,
    group: GROUP,
    about: `PppLink, ${v.method}, IPCP + IPV6CP, mppe ${v.mppe}: never throws; authenticated only on an accepting verdict for our challenge; no NCP before auth; data only with its NCP open${v.mppe === 'require' ? ' and encrypted' : ''}; silence after finished`,
    generate(rng: Rng) {
      const rec = recording(v);
      const s = sequence(rng, rec.toServer, rec.corpus, { maxSteps: 64 });
      return { steps: s.steps, inputs: s.inputs };
    },
    start: () => new LinkEpisode(v),
  };
}

export const pppLinkTargets: readonly Target[] = LINK_VARIANTS.map(linkTarget);

// ---- the client link ------------------------------------------------------------------------

const CLIENT_VARIANT = LINK_VARIANTS[3]!;

class ClientLinkEpisode implements Episode {
  private readonly link = clientLink(CLIENT_VARIANT);
  private readonly peerCheck = new PeerChecker('mschap-v2', USER, PASSWORD);
  private now = 0;
  private finished = false;
  private mppeUp = false;
  private frame: Buffer | undefined;

  constructor() {
    this.link.lowerUp(0);
    this.pump();
  }

  step(s: Step): void {
    this.now += s.dt;
    if (timeoutDue(this.link, this.now)) {
      this.frame = undefined;
      this.pump();
    }
    if (s.op !== OP_DATA) return;
    this.frame = s.data;
    const proto = pppProtocol(s.data);
    const info = decodeOnly(() => parseFrame(s.data))?.info;
    if (proto === PROTO_CHAP && info) this.peerCheck.fed(info);
    this.link.receive(this.now, s.data);
    this.pump();
  }

  private pump(): void {
    for (const ev of this.link.poll()) this.onEvent(ev);
  }

  private onEvent(ev: PppClientEvent): void {
    if (ev.type === 'log') return;
    check(!this.finished, `event ${ev.type} after finished`);
    switch (ev.type) {
      case 'send':
        if (ev.frame.readUInt16BE(2) === PROTO_CHAP) this.peerCheck.sent(ev.frame.subarray(4));
        return;
      case 'authenticated': {
        const info = this.frame ? decodeOnly(() => parseFrame(this.frame!))?.info : undefined;
        check(info !== undefined, 'authenticated outside a received frame');
        this.peerCheck.succeeded(info!);
        return;
      }
      case 'mppe-up':
        this.mppeUp = true;
        return;
      case 'data': {
        const p = this.frame ? pppProtocol(this.frame) : undefined;
        check(this.mppeUp && p === PROTO_MPPE, `clear data (protocol ${p}) accepted by a client that requires MPPE`);
        return;
      }
      case 'finished':
        this.finished = true;
        return;
      default:
        return;
    }
  }
}

export const pppClientTarget: Target = {
  name: 'ppp-client',
  group: GROUP,
  about: 'PppClientLink (MS-CHAPv2, IPV6CP, MPPE required) fed server frames: never throws; the server is authenticated by its S=; no clear data; silence after finished',
  generate(rng) {
    const rec = recording(CLIENT_VARIANT);
    const s = sequence(rng, rec.toClient, rec.corpus, { maxSteps: 64 });
    return { steps: s.steps, inputs: s.inputs };
  },
  start: () => new ClientLinkEpisode(),
};
