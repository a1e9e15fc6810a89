import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AuthAccept, AuthRequest } from '../../src/auth/backend.js';
import { LocalAuthBackend } from '../../src/auth/local.js';
import type { AuthProtocol, LocalUser } from '../../src/config/model.js';
import type { AuthEvent, Authenticator } from '../../src/ppp/auth/authenticator.js';
import { AuthPeer, type AuthPeerEvent } from '../../src/ppp/auth/peer.js';
import { createAuthenticator, lcpAuthOption, methodFromLcpOption } from '../../src/ppp/auth/index.js';
import { encodePacket } from '../../src/ppp/auth/chap-common.js';
import { vs, vx } from '../support/vectors.js';

const V2 = 'mschapv2_rfc2759';

/** Hands out the given chunks in order (each must be the size asked), then a counter pattern. */
function scriptedRandom(...chunks: Buffer[]): (n: number) => Buffer {
  let counter = 0xa0;
  return (n) => {
    const next = chunks.shift();
    if (next !== undefined) {
      assert.equal(next.length, n, 'scripted random chunk has the wrong size');
      return Buffer.from(next);
    }
    return Buffer.from(Array.from({ length: n }, () => counter++ & 0xff));
  };
}

const users = (...list: LocalUser[]): ReadonlyMap<string, LocalUser> => new Map(list.map((u) => [u.name, u]));
const ALICE: LocalUser = { name: 'alice', password: 'wonder land', disabled: false, staticIp: '192.0.2.9' };
const backend = new LocalAuthBackend(users(ALICE, { name: 'User', password: 'clientPass', disabled: false }));

const sends = (evs: readonly (AuthEvent | AuthPeerEvent)[]): Buffer[] =>
  evs.flatMap((e) => (e.type === 'send' ? [e.packet] : []));
const types = (evs: readonly (AuthEvent | AuthPeerEvent)[]): string[] => evs.map((e) => e.type);
const text = (packet: Buffer): string => packet.subarray(4).toString('utf8');

interface Outcome {
  readonly server: AuthEvent[];
  readonly peer: AuthPeerEvent[];
  readonly requests: AuthRequest[];
}

/** Runs server and peer against each other until quiet; verify requests go to the local backend. */
function exchange(auth: Authenticator, peer: AuthPeer, firstServer: AuthEvent[], firstPeer: AuthPeerEvent[]): Outcome {
  const out: Outcome = { server: [...firstServer], peer: [...firstPeer], requests: [] };
  let toPeer = sends(firstServer);
  let toServer = sends(firstPeer);
  for (let step = 0; step < 20 && (toPeer.length > 0 || toServer.length > 0); step++) {
    const pe = toPeer.flatMap((p) => peer.handle(p));
    const se = toServer.flatMap((p) => serverHandle(auth, p, out));
    out.peer.push(...pe);
    out.server.push(...se);
    toPeer = sends(se);
    toServer = sends(pe);
  }
  return out;
}

function serverHandle(auth: Authenticator, packet: Buffer, out: Outcome): AuthEvent[] {
  const evs = auth.handle(0, packet);
  const result: AuthEvent[] = [];
  for (const e of evs) {
    result.push(e);
    if (e.type !== 'verify') continue;
    out.requests.push(e.request);
    result.push(...auth.backendResult(0, backend.verify(e.request)));
  }
  return result;
}

function run(method: AuthProtocol, username: string, password: string, serverRandom = scriptedRandom()): Outcome {
  const auth = createAuthenticator(method, { random: serverRandom, serverName: 'sstpd' });
  const peer = new AuthPeer(method, { username, password, random: scriptedRandom() });
  return exchange(auth, peer, auth.start(0), peer.start());
}

const successOf = (o: Outcome): AuthAccept => {
  const s = o.server.find((e) => e.type === 'success');
  assert.ok(s && s.type === 'success', `no success in ${types(o.server).join(',')}`);
  return s.result;
};
const peerHlak = (o: Outcome): Buffer => {
  const s = o.peer.find((e) => e.type === 'success');
  assert.ok(s && s.type === 'success', `peer did not succeed: ${JSON.stringify(o.peer)}`);
  return s.hlak;
};

for (const method of ['pap', 'chap', 'mschap', 'mschap-v2'] as const) {
  test(`${method}: happy path against AuthPeer; both sides agree on the HLAK`, () => {
    const o = run(method, 'alice', 'wonder land');
    const accept = successOf(o);
    assert.equal(accept.username, 'alice');
    assert.equal(accept.staticIp, '192.0.2.9');
    // AuthPeer binds as plain sstpc does: the first form the server tries.
    assert.deepEqual(peerHlak(o), accept.hlaks[0]!.key);
    for (const h of accept.hlaks) assert.equal(h.key.length, 32);
    const zero = method === 'pap' || method === 'chap';
    assert.equal(accept.hlaks[0]!.key.equals(Buffer.alloc(32)), zero);
    assert.deepEqual(accept.hlaks.map((h) => h.label), zero ? ['zero'] : method === 'mschap' ? ['sstpc', 'mppe-keys'] : ['ms-sstp']);
    assert.equal(o.requests.length, 1);
    assert.deepEqual(types(o.server).filter((t) => t === 'success'), ['success']);
  });

  test(`${method}: wrong password → failure packet and failure events on both sides`, () => {
    const o = run(method, 'alice', 'wrong');
    const fail = o.server.at(-1);
    assert.ok(fail?.type === 'failure');
    assert.equal(fail.reason, 'wrong password');
    assert.equal(fail.username, 'alice');
    assert.equal(o.server.at(-2)?.type, 'send');
    assert.ok(!o.server.some((e) => e.type === 'success'));
    assert.ok(o.peer.some((e) => e.type === 'failure'));
  });
}

test('failure packet contents per method', () => {
  const id = Buffer.from([7]);
  const lastSend = (o: Outcome): Buffer => sends(o.server).at(-1)!;
  // PAP: Nak, msg-len + message, id of the request.
  const pap = run('pap', 'alice', 'bad');
  const papReq = pap.requests[0];
  assert.equal(papReq?.kind, 'pap');
  const nak = lastSend(pap);
  assert.equal(nak[0], 3);
  assert.deepEqual(nak.subarray(4), Buffer.concat([Buffer.from([21]), Buffer.from('Authentication failed')]));

  const md5 = lastSend(run('chap', 'alice', 'bad', scriptedRandom(id, Buffer.alloc(16, 1))));
  assert.deepEqual(md5, encodePacket(4, 7, Buffer.from('Authentication failed')));

  const v1 = lastSend(run('mschap', 'alice', 'bad', scriptedRandom(id, Buffer.alloc(8, 1), Buffer.alloc(8, 0xab))));
  assert.deepEqual(v1, encodePacket(4, 7, Buffer.from('E=691 R=0 C=ABABABABABABABAB V=2')));

  const v2 = lastSend(run('mschap-v2', 'alice', 'bad', scriptedRandom(id, Buffer.alloc(16, 1), Buffer.alloc(16, 0xcd))));
  assert.equal(v2[0], 4);
  assert.equal(v2[1], 7);
  assert.equal(text(v2), `E=691 R=0 C=${'CD'.repeat(16)} V=3 M=Authentication failed`);
});

test('a disabled account (right password) carries E=647 on the wire', () => {
  const off = new LocalAuthBackend(users({ name: 'bob', password: 'pw', disabled: true }));
  const auth = createAuthenticator('mschap-v2', { random: scriptedRandom(Buffer.from([1]), Buffer.alloc(16, 2), Buffer.alloc(16, 3)), serverName: '' });
  const peer = new AuthPeer('mschap-v2', { username: 'bob', password: 'pw', random: scriptedRandom() });
  const [challenge] = sends(auth.start(0));
  const [response] = sends(peer.handle(challenge!));
  const [verify] = auth.handle(0, response!);
  assert.ok(verify?.type === 'verify');
  const evs = auth.backendResult(0, off.verify(verify.request));
  assert.equal(text(sends(evs)[0]!), `E=647 R=0 C=${'03'.repeat(16)} V=3 M=Account disabled`);
  assert.deepEqual(evs[1], { type: 'failure', username: 'bob', reason: 'account disabled' });
});

test('chap_md5 vector: Challenge and Response packets byte-exact', () => {
  const g = 'chap_md5';
  const auth = createAuthenticator('chap', {
    random: scriptedRandom(Buffer.from([1]), vx(g, 'challenge')),
    serverName: 'server',
  });
  const [challenge] = sends(auth.start(0));
  assert.deepEqual(challenge, vx(g, 'challenge_packet'));
  const peer = new AuthPeer('chap', { username: 'user', password: vs(g, 'secret'), random: scriptedRandom() });
  const [response] = sends(peer.handle(challenge!));
  assert.deepEqual(response, vx(g, 'response_packet'));
  const [verify] = auth.handle(0, response!);
  assert.ok(verify?.type === 'verify' && verify.request.kind === 'chap-md5');
  assert.deepEqual(verify.request.response, vx(g, 'response'));
  const okBackend = new LocalAuthBackend(users({ name: 'user', password: 'secret', disabled: false }));
  const evs = auth.backendResult(0, okBackend.verify(verify.request));
  assert.deepEqual(sends(evs), [encodePacket(3, 1, Buffer.from('Authentication succeeded'))]);
});

test('mschapv2_rfc2759 vector: Response packet, verify request, Success packet byte-exact', () => {
  const auth = createAuthenticator('mschap-v2', {
    random: scriptedRandom(Buffer.from([1]), vx(V2, 'authenticator_challenge')),
    serverName: '',
  });
  const peer = new AuthPeer('mschap-v2', {
    username: vs(V2, 'username'),
    password: vs(V2, 'password'),
    random: scriptedRandom(vx(V2, 'peer_challenge')),
  });
  const [challenge] = sends(auth.start(0));
  assert.deepEqual(challenge, encodePacket(1, 1, Buffer.concat([Buffer.from([16]), vx(V2, 'authenticator_challenge')])));
  const [response] = sends(peer.handle(challenge!));
  assert.deepEqual(response, vx(V2, 'chap_response_packet'));
  const [verify] = auth.handle(0, response!);
  assert.ok(verify?.type === 'verify' && verify.request.kind === 'mschap-v2');
  assert.deepEqual(verify.request.ntResponse, vx(V2, 'nt_response'));
  assert.deepEqual(verify.request.peerChallenge, vx(V2, 'peer_challenge'));
  assert.equal(verify.request.username, 'User');
  const evs = auth.backendResult(0, backend.verify(verify.request));
  const success = sends(evs)[0]!;
  assert.deepEqual(success, encodePacket(3, 1, Buffer.from(`${vs(V2, 'authenticator_response')} M=Authentication succeeded`)));
  const accept = evs[1];
  assert.ok(accept?.type === 'success');
  assert.equal(accept.result.hlaks[0]!.key.toString('hex'), vs('sstp_binding_end_to_end', 'hlak_mschapv2'));
  const [done] = peer.handle(success);
  assert.ok(done?.type === 'success');
  assert.equal(done.hlak.toString('hex'), vs('sstp_binding_end_to_end', 'hlak_mschapv2'));
});

test('AuthPeer accepts the vector Success example ("M=Access granted") and rejects a wrong S=', () => {
  const mk = (): AuthPeer =>
    new AuthPeer('mschap-v2', { username: 'User', password: 'clientPass', random: scriptedRandom(vx(V2, 'peer_challenge')) });
  const challenge = encodePacket(1, 1, Buffer.concat([Buffer.from([16]), vx(V2, 'authenticator_challenge')]));
  const good = mk();
  good.handle(challenge);
  assert.deepEqual(types(good.handle(vx(V2, 'chap_success_packet_example'))), ['success']);
  const bad = mk();
  bad.handle(challenge);
  const forged = encodePacket(3, 1, Buffer.from(`S=${'0'.repeat(40)} M=ok`));
  assert.deepEqual(bad.handle(forged), [{ type: 'failure', message: 'server sent a wrong authenticator response' }]);
});

test('mschapv1_rfc2433 vector: the peer Response value is byte-exact', () => {
  const g = 'mschapv1_rfc2433';
  const peer = new AuthPeer('mschap', { username: 'u', password: vs(g, 'password'), random: scriptedRandom() });
  const [response] = sends(peer.handle(encodePacket(1, 9, Buffer.concat([Buffer.from([8]), vx(g, 'challenge')]))));
  assert.deepEqual(response, encodePacket(2, 9, Buffer.concat([Buffer.from([49]), vx(g, 'response_value_49'), Buffer.from('u')])));
});

test('CHAP: challenge retransmitted every restartMs, then failure after maxChallenges', () => {
  const auth = createAuthenticator('chap', {
    random: scriptedRandom(Buffer.from([5]), Buffer.alloc(16, 9)),
    serverName: 's',
    restartMs: 1000,
    maxChallenges: 3,
    timeoutMs: 60000,
  });
  const [first] = sends(auth.start(100));
  assert.equal(auth.nextDeadline(), 1100);
  assert.deepEqual(auth.handleTimeout(1099), []);
  assert.deepEqual(sends(auth.handleTimeout(1100)), [first]);
  assert.equal(auth.nextDeadline(), 2100);
  assert.deepEqual(sends(auth.handleTimeout(2100)), [first]);
  const evs = auth.handleTimeout(3100);
  assert.deepEqual(evs, [
    { type: 'send', packet: encodePacket(4, 5, Buffer.from('Authentication timed out')) },
    { type: 'failure', username: undefined, reason: 'peer did not answer the challenge' },
  ]);
  assert.equal(auth.nextDeadline(), undefined);
  assert.deepEqual(auth.handleTimeout(99999), []);
});

test('CHAP: default timers give up after 10 challenges at 30 s, reason "peer did not answer"', () => {
  const auth = createAuthenticator('mschap-v2', { random: scriptedRandom(), serverName: '' });
  let sent = sends(auth.start(0)).length;
  let last: AuthEvent[] = [];
  for (let now = auth.nextDeadline(); now !== undefined; now = auth.nextDeadline()) {
    last = auth.handleTimeout(now);
    sent += sends(last).length;
  }
  assert.equal(sent, 11); // 10 challenges + 1 failure
  assert.deepEqual(last.at(-1), { type: 'failure', username: undefined, reason: 'peer did not answer the challenge' });
});

test('overall timeout while the backend is silent → failure; the late answer is ignored', () => {
  const auth = createAuthenticator('mschap-v2', { random: scriptedRandom(), serverName: '', timeoutMs: 5000 });
  const peer = new AuthPeer('mschap-v2', { username: 'alice', password: 'wonder land', random: scriptedRandom() });
  const [challenge] = sends(auth.start(0));
  const [response] = sends(peer.handle(challenge!));
  const [verify] = auth.handle(10, response!);
  assert.ok(verify?.type === 'verify');
  assert.equal(auth.nextDeadline(), 5000); // restart timer stopped, overall still running
  const evs = auth.handleTimeout(5000);
  assert.equal(evs[0]?.type, 'send');
  assert.match(text(sends(evs)[0]!), /^E=691 R=0 C=[0-9A-F]{32} V=3 M=Authentication timed out$/);
  assert.deepEqual(evs[1], { type: 'failure', username: 'alice', reason: 'authentication timed out' });
  assert.deepEqual(auth.backendResult(6000, backend.verify(verify.request)), []);
});

test('CHAP: Response with a wrong id is ignored; one in flight during verification too', () => {
  const auth = createAuthenticator('chap', { random: scriptedRandom(Buffer.from([3])), serverName: '' });
  const peer = new AuthPeer('chap', { username: 'alice', password: 'wonder land', random: scriptedRandom() });
  const [challenge] = sends(auth.start(0));
  const [response] = sends(peer.handle(challenge!));
  const wrongId = Buffer.from(response!);
  wrongId[1] = 4;
  assert.deepEqual(auth.handle(0, wrongId), []);
  assert.equal(types(auth.handle(0, response!))[0], 'verify');
  assert.deepEqual(auth.handle(0, response!), []); // retransmission while verifying
});

test('duplicate Response after success re-sends the identical Success and no second success event', () => {
  for (const method of ['chap', 'mschap', 'mschap-v2'] as const) {
    const auth = createAuthenticator(method, { random: scriptedRandom(), serverName: '' });
    const peer = new AuthPeer(method, { username: 'alice', password: 'wonder land', random: scriptedRandom() });
    const [challenge] = sends(auth.start(0));
    const [response] = sends(peer.handle(challenge!));
    const [verify] = auth.handle(0, response!);
    assert.ok(verify?.type === 'verify');
    const evs = auth.backendResult(0, backend.verify(verify.request));
    assert.deepEqual(types(evs), ['send', 'success']);
    assert.deepEqual(auth.handle(1, response!), [{ type: 'send', packet: sends(evs)[0]! }]);
    assert.deepEqual(auth.backendResult(1, backend.verify(verify.request)), []);
    // The peer answers a retransmitted Challenge with its cached Response, byte for byte.
    assert.deepEqual(sends(peer.handle(challenge!)), [response]);
  }
});

test('MS-CHAPv1: LM-only response (UseNT = 0) is refused without asking the backend', () => {
  const auth = createAuthenticator('mschap', { random: scriptedRandom(Buffer.from([2]), Buffer.alloc(8, 1), Buffer.alloc(8, 0xee)), serverName: '' });
  auth.start(0);
  const value = Buffer.concat([Buffer.alloc(24, 0x11), Buffer.alloc(24), Buffer.from([0])]);
  const evs = auth.handle(0, encodePacket(2, 2, Buffer.concat([Buffer.from([49]), value, Buffer.from('alice')])));
  assert.deepEqual(evs, [
    { type: 'send', packet: encodePacket(4, 2, Buffer.from('E=691 R=0 C=EEEEEEEEEEEEEEEE V=2')) },
    { type: 'failure', username: 'alice', reason: 'LM-only MS-CHAPv1 response refused' },
  ]);
});

test('MS-CHAPv2: an accept without an authenticator response cannot succeed', () => {
  const auth = createAuthenticator('mschap-v2', { random: scriptedRandom(), serverName: '' });
  const peer = new AuthPeer('mschap-v2', { username: 'alice', password: 'x', random: scriptedRandom() });
  const [response] = sends(peer.handle(sends(auth.start(0))[0]!));
  auth.handle(0, response!);
  const evs = auth.backendResult(0, { ok: true, username: 'alice', hlaks: [{ label: 'zero', key: Buffer.alloc(32) }] });
  assert.deepEqual(types(evs), ['send', 'failure']);
  assert.equal(sends(evs)[0]![0], 4);
});

test('PAP: retransmitted Request ignored while verifying; verdict replayed to later Requests', () => {
  const auth = createAuthenticator('pap', { random: scriptedRandom(), serverName: '' });
  assert.deepEqual(auth.start(0), []);
  const req = (id: number, pw: string): Buffer =>
    encodePacket(1, id, Buffer.concat([Buffer.from([5]), Buffer.from('alice'), Buffer.from([pw.length]), Buffer.from(pw)]));
  const [verify] = auth.handle(0, req(1, 'wonder land'));
  assert.ok(verify?.type === 'verify');
  assert.deepEqual(verify.request, { kind: 'pap', username: 'alice', password: 'wonder land' });
  assert.deepEqual(auth.handle(0, req(2, 'wonder land')), []);
  const evs = auth.backendResult(0, backend.verify(verify.request));
  const ack = encodePacket(2, 1, Buffer.concat([Buffer.from([24]), Buffer.from('Authentication succeeded')]));
  assert.deepEqual(sends(evs), [ack]);
  assert.deepEqual(auth.handle(0, req(1, 'wonder land')), [{ type: 'send', packet: ack }]);
  assert.equal(types(auth.handle(0, req(3, 'wonder land'))).join(), 'send');
  assert.equal(auth.nextDeadline(), undefined);

  const nakAuth = createAuthenticator('pap', { random: scriptedRandom(), serverName: '' });
  nakAuth.start(0);
  const [v2] = nakAuth.handle(0, req(9, 'nope'));
  assert.ok(v2?.type === 'verify');
  const nakEvs = nakAuth.backendResult(0, backend.verify(v2.request));
  const nak = encodePacket(3, 9, Buffer.concat([Buffer.from([21]), Buffer.from('Authentication failed')]));
  assert.deepEqual(nakEvs, [{ type: 'send', packet: nak }, { type: 'failure', username: 'alice', reason: 'wrong password' }]);
  assert.deepEqual(nakAuth.handle(0, req(9, 'nope')), [{ type: 'send', packet: nak }]);
});

test('PAP: no Request before the deadline → failure without a packet; Requests before start are ignored', () => {
  const auth = createAuthenticator('pap', { random: scriptedRandom(), serverName: '', timeoutMs: 1000 });
  const req = encodePacket(1, 1, Buffer.from([1, 0x61, 1, 0x62]));
  assert.deepEqual(auth.handle(0, req), []);
  auth.start(50);
  assert.equal(auth.nextDeadline(), 1050);
  assert.deepEqual(auth.handleTimeout(1049), []);
  assert.deepEqual(auth.handleTimeout(1050), [{ type: 'failure', username: undefined, reason: 'peer sent no authenticate-request' }]);
  assert.deepEqual(auth.handle(1100, req), []);
});

test('PAP peer refuses credentials its 1-byte length fields cannot carry', () => {
  const peer = new AuthPeer('pap', { username: 'u', password: 'x'.repeat(256), random: scriptedRandom() });
  assert.throws(() => peer.start(), { code: 'E_PAP_CREDENTIAL_TOO_LONG' });
});

test('malformed packets are discarded silently', () => {
  const auth = createAuthenticator('mschap-v2', { random: scriptedRandom(Buffer.from([1])), serverName: '' });
  auth.start(0);
  const bad = [
    Buffer.alloc(0),
    Buffer.from([2, 1, 0]),
    Buffer.from([2, 1, 0, 3]), // length below 4
    Buffer.from([2, 1, 0, 60, 49]), // length beyond the packet
    encodePacket(2, 1, Buffer.from([49, 1, 2, 3])), // value shorter than its size
    encodePacket(2, 1, Buffer.concat([Buffer.from([16]), Buffer.alloc(16)])), // wrong value size for v2
  ];
  for (const p of bad) assert.deepEqual(auth.handle(0, p), [], p.toString('hex'));
  const pap = createAuthenticator('pap', { random: scriptedRandom(), serverName: '' });
  pap.start(0);
  assert.deepEqual(pap.handle(0, encodePacket(1, 1, Buffer.from([5, 0x61]))), []);
});

test('LCP Authentication-Protocol option data, both ways', () => {
  const expect: Record<AuthProtocol, string> = { pap: 'c023', chap: 'c22305', mschap: 'c22380', 'mschap-v2': 'c22381' };
  for (const [m, hexData] of Object.entries(expect) as [AuthProtocol, string][]) {
    assert.equal(lcpAuthOption(m).toString('hex'), hexData);
    assert.equal(methodFromLcpOption(Buffer.from(hexData, 'hex')), m);
  }
  for (const other of ['c227', 'c22306', 'c223', 'c02305', '', 'c0']) {
    assert.equal(methodFromLcpOption(Buffer.from(other, 'hex')), undefined, other);
  }
  assert.equal(createAuthenticator('pap', { random: scriptedRandom(), serverName: '' }).protocol, 0xc023);
  assert.equal(createAuthenticator('mschap', { random: scriptedRandom(), serverName: '' }).protocol, 0xc223);
});

