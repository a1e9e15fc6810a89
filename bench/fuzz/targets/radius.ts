/**
 * RADIUS targets: the packet decoder and hidden-value codecs, attribute readers (VSA, rate limit,
 * Framed-Route, vendor dictionaries), the client core (replies from anywhere, retries, failover,
 * requests built from peer-chosen names), the Dynamic Authorization decision and the auth
 * backend's reading of an Access-Accept. Authenticators are checked with our own MD5/HMAC, not
 * with the code under test.
 */
import { createHash, createHmac } from 'node:crypto';
import { RadiusAuthBackend, methodAttributes, parseFramedRoute, sessionAttributes } from '../../../src/auth/radius.js';
import type { AuthRequest } from '../../../src/auth/backend.js';
import { ACCT_STATUS, ATTR, MS, VENDOR_MICROSOFT } from '../../../src/radius/attributes.js';
import { VENDOR_MIKROTIK, builtinVendor, parseVendorDictionary, standardAttribute, vendorAttribute, type AttributeDef } from '../../../src/config/radius-dictionary.js';
import { accountingAttributes } from '../../../src/radius/accounting.js';
import { RadiusClientCore, type ClientOutput, type RadiusServer } from '../../../src/radius/client.js';
import { decideDae, type DaeSession } from '../../../src/radius/dae.js';
import {
  CODE,
  attr,
  decodePacket,
  decodeVsa,
  decryptMppeKey,
  encodePacket,
  encryptMppeKey,
  hidePassword,
  intAttr,
  ipAttr,
  maPlaceholder,
  revealMsChapMppeKeys,
  sealComputedRequest,
  textAttr,
  unhidePassword,
  vsa,
  type RadiusAttribute,
} from '../../../src/radius/packet.js';
import { MAX_KBIT, parseRateLimit } from '../../../src/radius/rate-limit.js';
import { replyTo } from '../../../test/support/radius-fake.js';
import { check, decodeOnly, mutate, seededRandom, seedOrNoise, step, type Episode, type Rng, type Step, type Target } from '../engine.js';

const GROUP = 'radius';
const SECRET = Buffer.from('testing123');
const SECRET_B = Buffer.from('another secret');
const AUTH16 = Buffer.alloc(16, 0xa5);
const RC = [CODE.ACCESS_ACCEPT, CODE.ACCESS_REJECT, CODE.ACCESS_CHALLENGE, CODE.ACCOUNTING_RESPONSE];

// ---- independent checks ---------------------------------------------------------------------

const md5 = (...parts: Buffer[]): Buffer => {
  const h = createHash('md5');
  for (const p of parts) h.update(p);
  return h.digest();
};

/** The Message-Authenticator (80) of a packet: 'absent', 'valid' or 'invalid', checked by us. */
function maOf(bytes: Buffer, authField: Buffer, secret: Buffer): 'absent' | 'valid' | 'invalid' {
  const len = bytes.readUInt16BE(2);
  for (let off = 20; off + 2 <= len; ) {
    const alen = bytes[off + 1]!;
    if (alen < 2) return 'invalid';
    if (bytes[off] === ATTR.MESSAGE_AUTHENTICATOR) {
      if (alen !== 18 || off + 18 > len) return 'invalid';
      const copy = Buffer.from(bytes.subarray(0, len));
      authField.copy(copy, 4);
      copy.fill(0, off + 2, off + 18);
      return createHmac('md5', secret).update(copy).digest().equals(bytes.subarray(off + 2, off + 18)) ? 'valid' : 'invalid';
    }
    off += alen;
  }
  return 'absent';
}

/** Response or computed-request authenticator: MD5(Code‖Id‖Len‖`authField`‖Attributes‖secret). */
function authenticatorOk(bytes: Buffer, authField: Buffer, secret: Buffer): boolean {
  const len = bytes.readUInt16BE(2);
  return md5(bytes.subarray(0, 4), authField, bytes.subarray(20, len), secret).equals(bytes.subarray(4, 20));
}

// ---- attribute generation -------------------------------------------------------------------

const TEXTS = ['1000/2000', '2M/1M', '10000k', '5G', '0/0', '1:1', '3\\4', 'rate-limit output 2000000 8000 8000 conform-action transmit', 'rate-limit input access-group 1 64000', '10.0.0.0/8 10.0.0.1 5', '192.0.2.1', '1,2/3', '', ' ', 'S=0123456789ABCDEF0123456789ABCDEF01234567 M=ok', 'E=691 R=1 C=00 V=3 M=no'];

function randomAttr(rng: Rng): RadiusAttribute {
  const r = rng.int(12);
  const text = (): Buffer => Buffer.from(rng.chance(0.7) ? rng.pick(TEXTS) || 'x' : rng.bytes(rng.range(1, 40)).toString('latin1'), 'utf8').subarray(0, 253);
  const nonEmpty = (b: Buffer): Buffer => (b.length === 0 ? Buffer.from([0]) : b);
  switch (r) {
    case 0:
      return intAttr(rng.pick([ATTR.SESSION_TIMEOUT, ATTR.IDLE_TIMEOUT, ATTR.ACCT_INTERIM_INTERVAL, ATTR.NAS_PORT, ATTR.SERVICE_TYPE, ATTR.NAS_PORT_TYPE]), rng.chance(0.5) ? rng.int(100) : rng.u32());
    case 1:
      return attr(ATTR.FRAMED_IP_ADDRESS, rng.chance(0.8) ? Buffer.from([192, 0, 2, rng.int(256)]) : rng.bytes(rng.range(1, 6)));
    case 2:
      return attr(rng.pick([ATTR.FILTER_ID, ATTR.FRAMED_ROUTE, ATTR.FRAMED_POOL, ATTR.REPLY_MESSAGE, ATTR.CLASS, ATTR.USER_NAME, ATTR.NAS_IDENTIFIER, ATTR.ACCT_SESSION_ID, ATTR.CALLING_STATION_ID]), nonEmpty(text()));
    case 3:
      return vsa(VENDOR_MICROSOFT, rng.pick([MS.MPPE_SEND_KEY, MS.MPPE_RECV_KEY]), rng.chance(0.6) ? encryptMppeKey(rng.bytes(rng.pick([16, 16, 8, 32, 1])), 0x8000 | rng.int(0x8000), SECRET, AUTH16) : rng.bytes(rng.length(60)));
    case 4:
      return vsa(VENDOR_MICROSOFT, MS.CHAP_MPPE_KEYS, rng.chance(0.6) ? hidePassword(rng.bytes(32), SECRET, AUTH16) : rng.bytes(rng.length(40)));
    case 5:
      return vsa(VENDOR_MICROSOFT, rng.pick([MS.CHAP2_SUCCESS, MS.CHAP_ERROR]), Buffer.concat([Buffer.from([rng.int(256)]), text()]).subarray(0, 240));
    case 6:
      return vsa(VENDOR_MICROSOFT, rng.pick([MS.PRIMARY_DNS_SERVER, MS.SECONDARY_DNS_SERVER]), rng.bytes(rng.chance(0.8) ? 4 : rng.range(0, 8)));
    case 7:
      return vsa(VENDOR_MIKROTIK, rng.pick([1, 2, 8]), rng.chance(0.5) ? text() : rng.bytes(4));
    case 8:
      return attr(ATTR.VENDOR_SPECIFIC, rng.bytes(rng.range(1, 40)));
    case 9:
      return attr(ATTR.PROXY_STATE, rng.bytes(rng.range(1, 20)));
    default:
      return attr(rng.int(256), rng.bytes(rng.range(1, 30)));
  }
}

const randomAttrs = (rng: Rng, max = 8): RadiusAttribute[] => Array.from({ length: rng.int(max + 1) }, () => randomAttr(rng)).filter((a) => a.type !== ATTR.MESSAGE_AUTHENTICATOR);

function randomPacket(rng: Rng): Buffer {
  return encodePacket({ code: rng.chance(0.7) ? rng.pick([1, 2, 3, 4, 5, 11, 40, 41, 42, 43, 44, 45]) : rng.int(256), identifier: rng.int(256), authenticator: rng.bytes(16), attributes: randomAttrs(rng) });
}

// ---- decoders -------------------------------------------------------------------------------

const RATE_DEFS: readonly AttributeDef[] = [
  standardAttribute('Filter-Id')!,
  standardAttribute('Session-Timeout')!,
  vendorAttribute(builtinVendor('Mikrotik')!, 'Mikrotik-Rate-Limit')!,
  vendorAttribute(builtinVendor('Cisco')!, 'Cisco-AVPair')!,
];
const DICTIONARY = 'VENDOR Acme 9999\nBEGIN-VENDOR Acme\nATTRIBUTE Acme-Rate 7 string\nATTRIBUTE Acme-Int 8 integer # c\nEND-VENDOR Acme\n';

/** Steps: 0 packet, 1 VSA value, 2 hidden values, 3 hide/reveal round trips, 4 rate-limit values, 5 Framed-Route, 6 dictionary text. */
class DecodeEpisode implements Episode {
  step(s: Step): void {
    const b = s.data;
    switch (s.op) {
      case 0: {
        const p = decodeOnly(() => decodePacket(b), ['E_RADIUS_DECODE']);
        if (!p) return;
        check(encodePacket(p).equals(b.subarray(0, b.readUInt16BE(2))), 'packet does not re-encode to itself');
        for (const a of p.attributes) if (a.type === ATTR.VENDOR_SPECIFIC) this.vsa(a.value);
        return;
      }
      case 1:
        return this.vsa(b);
      case 2:
        decodeOnly(() => unhidePassword(b, SECRET, AUTH16), ['E_RADIUS_DECODE']);
        decodeOnly(() => revealMsChapMppeKeys(b, SECRET, AUTH16), ['E_RADIUS_DECODE']);
        decodeOnly(() => decryptMppeKey(b, SECRET, AUTH16), ['E_RADIUS_DECODE']);
        return;
      case 3: {
        const key = b.subarray(0, 200);
        if (key.length > 0) check(decryptMppeKey(encryptMppeKey(key, 0x8123, SECRET, AUTH16), SECRET, AUTH16).equals(key), 'MPPE key does not survive hiding');
        const pw = b.subarray(0, 128);
        let end = pw.length;
        while (end > 0 && pw[end - 1] === 0) end--;
        check(unhidePassword(hidePassword(pw, SECRET, AUTH16), SECRET, AUTH16).equals(pw.subarray(0, end)), 'password does not survive hiding');
        return;
      }
      case 4: {
        const values: Buffer[] = [];
        for (let off = 0; off < b.length; ) {
          const n = b[off]! % 40;
          values.push(b.subarray(off + 1, off + 1 + n));
          off += 1 + n;
        }
        for (const def of RATE_DEFS) {
          const r = parseRateLimit(values, def, 1 + (b.length % 3));
          if (r?.ok) check([r.limit.downloadKbit, r.limit.uploadKbit].every((v) => Number.isInteger(v) && v >= 1 && v <= MAX_KBIT), `rate limit out of range: ${JSON.stringify(r.limit)}`);
        }
        return;
      }
      case 5: {
        const r = parseFramedRoute(b.toString('utf8'));
        if (r) check(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(r.prefix) && (r.metric === undefined || Number.isSafeInteger(r.metric)), `odd route: ${JSON.stringify(r)}`);
        return;
      }
      default: {
        const d = parseVendorDictionary(b.toString('latin1'), 'Acme');
        if (d) check(Number.isSafeInteger(d.id) && d.attributes.every((a) => a.type >= 0 && a.type < 256), 'vendor dictionary with impossible numbers');
        return;
      }
    }
  }
  private vsa(v: Buffer): void {
    const subs = decodeVsa(v);
    check(subs.reduce((n, x) => n + 2 + x.value.length, 4) <= Math.max(4, v.length), 'VSA sub-attributes overrun the value');
  }
}

const DECODE_SEEDS: Buffer[][] = [
  [encodePacket({ code: 2, identifier: 1, authenticator: AUTH16, attributes: [intAttr(27, 60), vsa(VENDOR_MICROSOFT, 26, Buffer.from('\x01S=00'))] })],
  [vsa(VENDOR_MICROSOFT, 16, Buffer.alloc(18)).value, vsa(VENDOR_MIKROTIK, 8, Buffer.from('1M/2M')).value],
  [encryptMppeKey(Buffer.alloc(16, 3), 0x8001, SECRET, AUTH16), hidePassword(Buffer.from('secret'), SECRET, AUTH16), hidePassword(Buffer.alloc(32, 9), SECRET, AUTH16)],
  [Buffer.alloc(16, 7), Buffer.from('password')],
  [Buffer.from('\x091000/2000\x05'), Buffer.from('\x3arate-limit output 2000000 8000 8000 conform-action transmit')],
  [Buffer.from('10.1.0.0/16 0.0.0.0 5'), Buffer.from('192.0.2.0/24')],
  [Buffer.from(DICTIONARY)],
];

export const radiusDecodeTarget: Target = {
  name: 'radius-decode',
  group: GROUP,
  about: 'decodePacket (E_RADIUS_DECODE only, exact re-encoding), VSAs, hidden values (round trips), rate-limit strings, Framed-Route, vendor dictionaries',
  generate(rng) {
    const steps: Step[] = [];
    for (let n = rng.range(1, 12); n > 0; n--) {
      const op = rng.int(7);
      const data = op === 0 && rng.chance(0.4) ? (rng.chance(0.5) ? randomPacket(rng) : mutate(rng, randomPacket(rng), DECODE_SEEDS[0]!)) : seedOrNoise(rng, DECODE_SEEDS[op]!, 120);
      steps.push(step(data, op));
    }
    return { steps, inputs: steps.length };
  },
  start: () => new DecodeEpisode(),
};

// ---- client core ----------------------------------------------------------------------------

const SERVERS: readonly RadiusServer[] = [
  { address: '192.0.2.1', authPort: 1812, acctPort: 1813, secret: SECRET, failTimeS: 30, requireMessageAuthenticator: 'always' },
  { address: '192.0.2.2', authPort: 1812, acctPort: 1813, secret: SECRET_B, failTimeS: 0, requireMessageAuthenticator: 'auto' },
];
const NAS = { identifier: 'sstpd', ipAddress: '192.0.2.254' };
const CTX = { sessionId: '0123456789abcdef', callingStationId: '198.51.100.7', calledStationId: '192.0.2.254', nasPort: 3 };
const STRANGER = { address: '198.51.100.9', port: 1812 };

/** Client steps: 0 access request (peer-chosen fields), 1 accounting request, 2 reply from the last server, 3 from a stranger, 4 right address wrong port, 5 clock only. */
const OP_ACCESS = 0;
const OP_ACCT = 1;
const OP_REPLY = 2;
const OP_STRANGER = 3;
const OP_WRONG_PORT = 4;

/** An AuthRequest as an authenticator would build it from peer bytes: [kind, name length, name…, rest…]. */
function peerRequest(b: Buffer): AuthRequest {
  const kind = (b[0] ?? 0) & 3;
  const nlen = b[1] ?? 0;
  const username = b.subarray(2, 2 + nlen).toString('utf8');
  const rest = b.subarray(2 + nlen);
  const take = (off: number, n: number): Buffer => {
    const out = Buffer.alloc(n);
    if (off < rest.length) rest.copy(out, 0, off, Math.min(rest.length, off + n));
    return out;
  };
  switch (kind) {
    case 0:
      return { kind: 'pap', username, password: rest.subarray(0, 255).toString('utf8') };
    case 1:
      return { kind: 'chap-md5', username, id: rest[0] ?? 0, challenge: rest.subarray(1, 1 + Math.max(1, (rest[0] ?? 16) % 64)), response: take(0, 16) };
    case 2:
      return { kind: 'mschap-v1', username, id: rest[0] ?? 0, challenge: take(0, 8), ntResponse: take(8, 24) };
    default:
      return { kind: 'mschap-v2', username, id: rest[0] ?? 0, authenticatorChallenge: take(0, 16), peerChallenge: take(16, 16), ntResponse: take(32, 24) };
  }
}

interface Sent {
  readonly handle: number;
  readonly address: string;
  readonly port: number;
  readonly bytes: Buffer;
}

/**
 * Submits requests the way the backends build them. Each request carries its own Acct-Session-Id
 * (`fuzz-<n>`), so every datagram the core sends can be traced back to its request.
 */
class Submitter {
  private n = 0;
  readonly bySid = new Map<string, number>();
  constructor(private readonly core: RadiusClientCore) {}

  submit(now: number, op: number, b: Buffer): number {
    const sid = `fuzz-${this.n++}`;
    const h = op === OP_ACCESS ? this.access(now, sid, b) : this.acct(now, sid, b);
    this.bySid.set(sid, h);
    return h;
  }
  private access(now: number, sid: string, b: Buffer): number {
    const req = peerRequest(b);
    return this.core.submit(now, { role: 'auth', code: CODE.ACCESS_REQUEST, attributes: [...sessionAttributes(NAS, req.username, { ...CTX, sessionId: sid }), ...methodAttributes(req)] });
  }
  private acct(now: number, sid: string, b: Buffer): number {
    const status = [ACCT_STATUS.START, ACCT_STATUS.INTERIM_UPDATE, ACCT_STATUS.STOP][(b[0] ?? 0) % 3]!;
    const session = { sid, username: b.subarray(1).toString('utf8'), ifname: 'sstp0', framedIp: '192.0.2.10', callingStationId: CTX.callingStationId, classes: [Buffer.from('c')] };
    const counters = { rxBytes: b.length * 2 ** 33, txBytes: 7, rxPackets: 1, txPackets: 2 };
    return this.core.submit(now, { role: 'acct', code: CODE.ACCOUNTING_REQUEST, attributes: accountingAttributes(status, session, NAS, counters, 10, 1_700_000_000, 'user-request') });
  }
  /** The request a datagram the core sent belongs to. */
  handleOf(bytes: Buffer): number {
    const sid = decodePacket(bytes).attributes.find((a) => a.type === ATTR.ACCT_SESSION_ID)?.value.toString('utf8');
    return (sid !== undefined ? this.bySid.get(sid) : undefined) ?? -1;
  }
}

const newCore = (): RadiusClientCore => new RadiusClientCore({ servers: SERVERS, timeoutMs: 3000, maxTry: 2 }, seededRandom(31));

class ClientEpisode implements Episode {
  private readonly core = newCore();
  private readonly submitter = new Submitter(this.core);
  private now = 0;
  private readonly codes = new Map<number, number>();
  private readonly done = new Set<number>();
  private readonly sent: Sent[] = [];
  private current: { from: { address: string; port: number }; bytes: Buffer } | undefined;
  private readonly maSeen = new Set<string>();

  step(s: Step): void {
    this.now += s.dt;
    this.current = undefined;
    const d = this.core.nextDeadline();
    if (d !== undefined && d <= this.now) this.core.handleTimeout(this.now);
    this.outputs();
    if (s.op === OP_ACCESS || s.op === OP_ACCT) {
      const h = this.submitter.submit(this.now, s.op, s.data);
      this.codes.set(h, s.op === OP_ACCESS ? CODE.ACCESS_REQUEST : CODE.ACCOUNTING_REQUEST);
      this.outputs();
      return;
    }
    const last = this.sent[this.sent.length - 1];
    const from = s.op === OP_REPLY && last ? { address: last.address, port: last.port } : s.op === OP_WRONG_PORT && last ? { address: last.address, port: last.port + 7 } : s.op >= OP_REPLY && s.op <= OP_WRONG_PORT ? STRANGER : undefined;
    if (!from) return;
    this.current = { from, bytes: s.data };
    this.core.receive(this.now, from, s.data);
    this.outputs();
  }

  private outputs(): void {
    for (const o of this.core.poll()) this.output(o);
  }

  private output(o: ClientOutput): void {
    if (o.type === 'send') {
      this.sent.push({ handle: this.submitter.handleOf(o.bytes), address: o.address, port: o.port, bytes: o.bytes });
      return;
    }
    if (o.type !== 'done') return;
    check(this.codes.has(o.handle), `done for unknown handle ${o.handle}`);
    check(!this.done.has(o.handle), `request ${o.handle} done twice`);
    this.done.add(o.handle);
    if (!o.outcome.ok) return;
    const cur = this.current;
    check(cur !== undefined, 'a request succeeded without a reply datagram');
    const reply = cur!.bytes;
    const req = [...this.sent].reverse().find((x) => x.handle === o.handle);
    check(req !== undefined && req.address === cur!.from.address && req.port === cur!.from.port && req.bytes[1] === reply[1], 'accepted a reply that does not answer the latest datagram of its request (source, port, Identifier)');
    const server = SERVERS.find((x) => x.address === req!.address)!;
    const reqCode = this.codes.get(o.handle)!;
    check(reqCode === CODE.ACCESS_REQUEST ? [2, 3, 11].includes(reply[0]!) : reply[0] === 5, `accepted reply code ${reply[0]} to request code ${reqCode}`);
    const reqAuth = req!.bytes.subarray(4, 20);
    check(authenticatorOk(reply, reqAuth, server.secret), 'accepted a reply with a bad Response Authenticator');
    const ma = maOf(reply, reqAuth, server.secret);
    check(ma !== 'invalid', 'accepted a reply with a bad Message-Authenticator');
    if (reqCode === CODE.ACCESS_REQUEST) {
      if (server.requireMessageAuthenticator === 'always' || this.maSeen.has(server.address)) check(ma === 'valid', 'accepted an Access reply without the required Message-Authenticator');
      if (ma === 'valid') this.maSeen.add(server.address);
    }
  }
}

/** Per step, the datagrams the core will send for the planned submits and clock steps (replies ignored). */
function plannedSends(steps: readonly Step[]): Buffer[][] {
  const core = newCore();
  const submitter = new Submitter(core);
  const perStep: Buffer[][] = [];
  let now = 0;
  try {
    for (const s of steps) {
      now += s.dt;
      const d = core.nextDeadline();
      if (d !== undefined && d <= now) core.handleTimeout(now);
      if (s.op === OP_ACCESS || s.op === OP_ACCT) submitter.submit(now, s.op, s.data);
      perStep.push(core.poll().flatMap((o) => (o.type === 'send' ? [o.bytes] : [])));
    }
  } catch {
    // The core threw on a planned request: the episode will show it; later replies stay generic.
  }
  return perStep;
}

function peerBytes(rng: Rng): Buffer {
  const name = rng.chance(0.8) ? Buffer.from(rng.pick(['vyos', 'alice', 'DOMAIN\\bob', ''])) : rng.bytes(rng.length(255));
  const nlen = Math.min(255, name.length);
  return Buffer.concat([Buffer.from([rng.int(4), nlen]), name.subarray(0, nlen), rng.bytes(rng.length(300))]);
}

export const radiusClientTarget: Target = {
  name: 'radius-client',
  group: GROUP,
  about: 'RadiusClientCore: requests from peer-chosen names never throw; a reply is accepted only from the right server and port, with its Identifier, a right code, Response Authenticator and Message-Authenticator (checked with our own MD5/HMAC); done once',
  generate(rng) {
    const plan: Step[] = [];
    for (let n = rng.range(1, 24); n > 0; n--) {
      const r = rng.int(10);
      const dt = rng.chance(0.25) ? rng.int(rng.chance(0.8) ? 4000 : 60_000) : 0;
      if (r < 2 || plan.length === 0) plan.push(step(rng.chance(0.8) ? peerBytes(rng) : Buffer.from([0, 4, ...Buffer.from('vyos'), ...Buffer.from('pw')]), rng.chance(0.8) ? OP_ACCESS : OP_ACCT, dt));
      else if (r < 3) plan.push(step(Buffer.alloc(0), 5, dt));
      else plan.push(step(Buffer.alloc(0), rng.pick([OP_REPLY, OP_REPLY, OP_REPLY, OP_STRANGER, OP_WRONG_PORT]), dt));
    }
    const sends = plannedSends(plan);
    const seen: Buffer[] = [];
    const steps = plan.map((s, i) => {
      seen.push(...(sends[i] ?? []));
      if (s.op < OP_REPLY || s.op > OP_WRONG_PORT) return s;
      const req = seen.length > 0 ? (rng.chance(0.8) ? seen[seen.length - 1]! : rng.pick(seen)) : undefined;
      let reply: Buffer;
      if (!req || rng.chance(0.1)) reply = randomPacket(rng);
      else {
        const code = req[0] === CODE.ACCOUNTING_REQUEST ? (rng.chance(0.9) ? CODE.ACCOUNTING_RESPONSE : rng.pick(RC)) : rng.chance(0.9) ? rng.pick([2, 3, 11]) : rng.int(256);
        const secret = rng.chance(0.5) ? SECRET : rng.chance(0.8) ? SECRET_B : Buffer.from('wrong');
        reply = replyTo(req, secret, { code, attributes: randomAttrs(rng, 4), ma: rng.chance(0.6), ...(rng.chance(0.05) ? { identifier: rng.int(256) } : {}) });
        if (rng.chance(0.4)) reply = mutate(rng, reply, [reply, req]);
      }
      return step(reply, s.op, s.dt);
    });
    return { steps, inputs: steps.length };
  },
  start: () => new ClientEpisode(),
};

// ---- Dynamic Authorization ------------------------------------------------------------------

const DAE_SESSIONS: readonly DaeSession[] = [
  { sid: 's1', username: 'alice', ip: '192.0.2.5', callingSid: '198.51.100.7', ifname: 'sstp0', nasPort: 1 },
  { sid: 's2', username: 'bob', ip: '192.0.2.6', callingSid: '198.51.100.8', ifname: 'sstp1', nasPort: 2 },
  { sid: 's3', callingSid: '198.51.100.9' },
];
const DAE_CFG = [
  { secret: SECRET, nas: { identifier: 'sstpd', ipAddress: '192.0.2.254' }, rateLimit: { attribute: RATE_DEFS[0]!, multiplier: 1 } },
  { secret: SECRET, nas: {}, rateLimit: { attribute: RATE_DEFS[2]!, multiplier: 1000 } },
  { secret: SECRET, nas: { identifier: 'x' } },
];

function daeRequest(rng: Rng): Buffer {
  const attrs: RadiusAttribute[] = rng.chance(0.8) ? [maPlaceholder()] : [];
  const pick = rng.pick(DAE_SESSIONS);
  if (rng.chance(0.8)) attrs.push(textAttr(ATTR.USER_NAME, pick.username ?? 'nobody'));
  if (rng.chance(0.3)) attrs.push(textAttr(ATTR.ACCT_SESSION_ID, pick.sid));
  if (rng.chance(0.3) && pick.ip) attrs.push(ipAttr(ATTR.FRAMED_IP_ADDRESS, pick.ip));
  if (rng.chance(0.3)) attrs.push(textAttr(ATTR.NAS_IDENTIFIER, rng.pick(['sstpd', 'x', 'other'])));
  if (rng.chance(0.3)) attrs.push(textAttr(ATTR.FILTER_ID, rng.pick(TEXTS) || '1'));
  attrs.push(...randomAttrs(rng, 3));
  return sealComputedRequest({ code: rng.chance(0.9) ? rng.pick([CODE.DISCONNECT_REQUEST, CODE.COA_REQUEST]) : rng.int(256), identifier: rng.int(256), attributes: attrs }, rng.chance(0.9) ? SECRET : SECRET_B);
}

/** Steps: data = the request; op picks the configuration. */
class DaeEpisode implements Episode {
  step(s: Step): void {
    const cfg = DAE_CFG[s.op % DAE_CFG.length]!;
    const d = decideDae(s.data, cfg, () => DAE_SESSIONS);
    if (d.kind === 'drop') return;
    const req = s.data;
    check(req[0] === CODE.DISCONNECT_REQUEST || req[0] === CODE.COA_REQUEST, `answered code ${req[0]}`);
    check(authenticatorOk(req, Buffer.alloc(16), cfg.secret), 'answered a request with a bad Request Authenticator');
    check(maOf(req, Buffer.alloc(16), cfg.secret) !== 'invalid', 'answered a request with a bad Message-Authenticator');
    const replies = d.kind === 'reply' ? [d.reply] : d.kind === 'disconnect' ? [d.ack] : [d.ack, d.nak(506)];
    for (const r of replies) {
      const p = decodePacket(r);
      const ok: number[] = req[0] === CODE.DISCONNECT_REQUEST ? [CODE.DISCONNECT_ACK, CODE.DISCONNECT_NAK] : [CODE.COA_ACK, CODE.COA_NAK];
      check(ok.includes(p.code) && p.identifier === req[1], `reply code ${p.code} id ${p.identifier}`);
      check(authenticatorOk(r, req.subarray(4, 20), cfg.secret) && maOf(r, req.subarray(4, 20), cfg.secret) === 'valid', 'reply badly sealed');
    }
    if (d.kind === 'disconnect' || d.kind === 'coa') {
      const user = decodePacket(req).attributes.find((a) => a.type === ATTR.USER_NAME)?.value.toString('utf8');
      check(DAE_SESSIONS.includes(d.session) && (user === undefined || user === d.session.username), 'acted on a session the request does not name');
    }
  }
}

export const radiusDaeTarget: Target = {
  name: 'radius-dae',
  group: GROUP,
  about: 'decideDae: never throws; answers only requests with a right Request Authenticator and Message-Authenticator (our own check); replies well sealed; acts only on the named session',
  generate(rng) {
    const steps: Step[] = [];
    for (let n = rng.range(1, 8); n > 0; n--) {
      const base = daeRequest(rng);
      const r = rng.int(10);
      steps.push(step(r < 5 ? base : r < 9 ? mutate(rng, base, [base]) : rng.bytes(rng.length(200)), rng.int(3)));
    }
    return { steps, inputs: steps.length };
  },
  start: () => new DaeEpisode(),
};

// ---- the auth backend reading replies -------------------------------------------------------

const ACCEPT_REQUESTS: readonly AuthRequest[] = [
  { kind: 'pap', username: 'u', password: 'p' },
  { kind: 'chap-md5', username: 'u', id: 1, challenge: Buffer.alloc(16), response: Buffer.alloc(16) },
  { kind: 'mschap-v1', username: 'u', id: 1, challenge: Buffer.alloc(8), ntResponse: Buffer.alloc(24, 1) },
  { kind: 'mschap-v2', username: 'u', id: 1, authenticatorChallenge: Buffer.alloc(16), peerChallenge: Buffer.alloc(16), ntResponse: Buffer.alloc(24) },
];
const BACKENDS = [
  new RadiusAuthBackend({ transport: { request: () => Promise.reject(new Error('unused')) }, nas: NAS, rateLimit: { attribute: RATE_DEFS[0]!, multiplier: 1 } }),
  new RadiusAuthBackend({ transport: { request: () => Promise.reject(new Error('unused')) }, nas: {}, rateLimit: { attribute: RATE_DEFS[2]!, multiplier: 1 } }),
  new RadiusAuthBackend({ transport: { request: () => Promise.reject(new Error('unused')) }, nas: {} }),
];

/** Steps: data = a reply packet; op = request kind (0..3) + 4 × backend. */
class AcceptEpisode implements Episode {
  step(s: Step): void {
    const reply = decodeOnly(() => decodePacket(s.data));
    // The client core passes on only codes that answer an Access-Request.
    if (!reply || ![CODE.ACCESS_ACCEPT, CODE.ACCESS_REJECT, CODE.ACCESS_CHALLENGE].includes(reply.code as 2)) return;
    const req = ACCEPT_REQUESTS[s.op & 3]!;
    const r = BACKENDS[(s.op >> 2) % BACKENDS.length]!.interpret(req, { ok: true, reply, requestAuthenticator: AUTH16, secret: SECRET, server: '192.0.2.1' });
    if (!r.ok) return;
    check(reply.code === CODE.ACCESS_ACCEPT, `accepted on code ${reply.code}`);
    check(r.hlaks.length > 0 && r.hlaks.every((h) => h.key.length === 32), 'HLAKs missing or not 32 bytes');
    if (r.mppeKeys) check(r.mppeKeys.send.length === 16 && r.mppeKeys.recv.length === 16, 'MPPE keys not 16 bytes');
    if (req.kind === 'mschap-v2') check(/^S=[0-9A-F]{40}/i.test(r.authenticatorResponse ?? ''), 'MS-CHAPv2 accept without S=');
    if (r.staticIp !== undefined) check(/^\d{1,3}(\.\d{1,3}){3}$/.test(r.staticIp), `odd static IP: ${r.staticIp}`);
    if (r.rateLimit) check(r.rateLimit.downloadKbit >= 1 && r.rateLimit.uploadKbit >= 1 && r.rateLimit.downloadKbit <= MAX_KBIT && r.rateLimit.uploadKbit <= MAX_KBIT, 'rate limit out of range');
  }
}

export const radiusAcceptTarget: Target = {
  name: 'radius-accept',
  group: GROUP,
  about: 'RadiusAuthBackend.interpret on any reply: never throws; accepts only Access-Accept; 32-byte HLAK, 16-byte MPPE keys, S= for MS-CHAPv2, sane IP and rate limit',
  generate(rng) {
    const steps: Step[] = [];
    for (let n = rng.range(1, 8); n > 0; n--) {
      const p = encodePacket({ code: rng.chance(0.8) ? CODE.ACCESS_ACCEPT : rng.pick([CODE.ACCESS_REJECT, CODE.ACCESS_CHALLENGE]), identifier: 0, authenticator: AUTH16, attributes: randomAttrs(rng, 10) });
      steps.push(step(rng.chance(0.3) ? mutate(rng, p, [p]) : p, rng.int(12)));
    }
    return { steps, inputs: steps.length };
  },
  start: () => new AcceptEpisode(),
};
