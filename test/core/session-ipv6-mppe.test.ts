/**
 * The server session core against our client core, in memory with a fake clock, for what issue 5
 * adds: IPV6CP, RA answers, DHCPv6 prefix delegation, IPv6 data both ways; MPPE under every policy
 * (require / prefer / deny / default) against clients that require or refuse it; stateful MPPE
 * with injected loss (CCP Reset-Request/Ack) and stateless resynchronisation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClientAction } from '../../src/client/connection.js';
import type { AuthProtocol } from '../../src/config/model.js';
import { Ipv6PrefixPool } from '../../src/ip/pool6.js';
import { formatPrefix6, parsePrefix6, type Prefix6 } from '../../src/ip/ipv6-addr.js';
import { MPPE_BIT_H, MPPE_BIT_L, MPPE_BIT_M, MPPE_BIT_S } from '../../src/ppp/ccp/mppe-option.js';
import type { MppeMode } from '../../src/ppp/ccp/mppe-option.js';
import { icmpEchoRequest } from '../support/icmp.js';
import { MSG, dhcpv6Client, icmp6EchoRequest, parseDhcpv6Reply, parseRouterAdvertisement, routerSolicitation } from '../support/ipv6.js';
import { SessionPair } from '../support/session-pair.js';
import { peerIidFor } from '../../src/ppp/ipv6cp/iid.js';

const DUID = Buffer.from('00030001020000000001', 'hex');
const PREFIX = parsePrefix6('2001:db8:1:7::/64')!;

interface PairOptions {
  readonly method?: AuthProtocol;
  readonly mppe?: MppeMode | 'deny';
  readonly clientMppe?: number;
  readonly ipv6?: boolean;
  readonly clientIpv6?: boolean;
  readonly ipv4?: boolean;
  readonly dns6?: readonly string[];
  readonly delegate?: Ipv6PrefixPool;
  /** The driver's `ipv6-peer-interface-id` result (SessionAddresses.ipv6PeerId). */
  readonly peerId?: Buffer | null;
}

class Pair extends SessionPair {
  /** Drop the n-th (0-based) MPPE frame server → client / client → server. */
  dropToClient = new Set<number>();
  dropToServer = new Set<number>();
  private mppeToClient = 0;
  private mppeToServer = 0;
  readonly delegated: Prefix6[] = [];

  constructor(private readonly o: PairOptions = {}) {
    const method = o.method ?? 'mschap-v2';
    super({
      policy: {
        authProtocols: [method],
        ...(o.ipv6 ? { ipv6: { dns: o.dns6 ?? ['2001:db8::53', '2001:db8::54'], serverDuid: DUID } } : {}),
        ...(o.mppe ? { mppe: o.mppe } : {}),
      },
      client: {
        authMethods: [method],
        ...(o.clientIpv6 ? { ipv6: true } : {}),
        ...(o.clientMppe !== undefined ? { mppe: { bits: o.clientMppe } } : {}),
      },
    });
  }

  protected override assign(): void {
    const pool = this.o.delegate;
    this.server.networkAssigned(this.now, {
      ...(this.o.ipv4 === false ? {} : { ipv4: '192.0.2.1' }),
      ...(this.o.ipv6 ? { ipv6Prefix: PREFIX } : {}),
      ...(this.o.peerId !== undefined ? { ipv6PeerId: this.o.peerId } : {}),
      ...(pool
        ? {
            delegation: {
              acquire: () => {
                const p = pool.allocate();
                if (p) this.delegated.push(p);
                return p;
              },
              release: (p: Prefix6) => pool.release(p),
            },
          }
        : {}),
    });
  }

  /** SSTP data packet → PPP protocol; drops the chosen MPPE frames. */
  protected override passes(bytes: Buffer, to: 'client' | 'server'): boolean {
    if (bytes.length < 8 || (bytes[1]! & 1) === 1 || bytes.readUInt16BE(6) !== 0x00fd) return true;
    const n = to === 'client' ? this.mppeToClient++ : this.mppeToServer++;
    return !(to === 'client' ? this.dropToClient : this.dropToServer).has(n);
  }

  /** Client → server: one IP packet through the tunnel. */
  send(packet: Buffer): void {
    const b = this.client.encodeIp(packet);
    assert.ok(b, 'the client may send');
    this.ca.push({ type: 'send', bytes: b });
    if (this.passes(b, 'server')) this.toServer.push(b);
    this.drive();
  }

  /** Host → client through the fast lane (a TUN packet with its 8 bytes of headroom). */
  fromHost(packet: Buffer): boolean {
    const frame = Buffer.concat([Buffer.alloc(8), packet]);
    const out = this.server.encodeOutbound(frame);
    if (!out) return false;
    this.wire.push(out);
    if (this.passes(out, 'client')) this.toClient.push(out);
    this.drive();
    return true;
  }

  clientIp(): Buffer[] {
    return this.ca.filter((a): a is Extract<ClientAction, { type: 'ip' }> => a.type === 'ip').map((a) => a.packet);
  }
  serverIp(): Buffer[] {
    return this.of('ip').map((a) => a.packet);
  }
}

const clientLinkLocal = (p: Pair): string => {
  const up = p.ca.find((a): a is Extract<ClientAction, { type: 'ipv6-up' }> => a.type === 'ipv6-up');
  assert.ok(up, 'client IPV6CP up');
  return up.local;
};

// ---------------------------------------------------------------------------------------------
// IPv6

test('IPV6CP opens beside IPCP; the server announces its link-local and the session prefix', () => {
  const p = new Pair({ ipv6: true, clientIpv6: true });
  p.drive();
  const up = p.of('ipv6-up');
  assert.equal(up.length, 1);
  assert.equal(up[0]!.prefix, '2001:db8:1:7::/64');
  assert.match(up[0]!.local, /^fe80::/);
  const cl = p.ca.find((a) => a.type === 'ipv6-up') as Extract<ClientAction, { type: 'ipv6-up' }>;
  assert.equal(cl.peer, up[0]!.local, "the client learnt our link-local");
  assert.equal(up[0]!.peer, cl.local, 'we learnt the client\'s');
  assert.notEqual(cl.local, up[0]!.local, 'no collision');
  assert.equal(p.of('link-up').length, 1, 'IPv4 too');
});

test('a Router Solicitation gets an RA at once: prefix /64 on-link + autonomous, MTU, RDNSS, O flag', () => {
  const p = new Pair({ ipv6: true, clientIpv6: true });
  p.drive();
  const before = p.clientIp().length;
  p.send(routerSolicitation(clientLinkLocal(p)));
  assert.deepEqual(p.serverIp(), [], 'the RS is answered here, not passed to the kernel');
  const ras = p.clientIp().slice(before).map(parseRouterAdvertisement);
  assert.equal(ras.length, 1);
  const ra = ras[0]!;
  assert.equal(ra.checksumOk, true);
  assert.equal(ra.hopLimit, 255);
  assert.equal(ra.src, p.of('ipv6-up')[0]!.local);
  assert.equal(ra.dst, clientLinkLocal(p), 'unicast to the soliciting address');
  assert.deepEqual(ra.prefix && [ra.prefix.prefix, ra.prefix.len, ra.prefix.onLink, ra.prefix.autonomous], ['2001:db8:1:7::', 64, true, true]);
  assert.equal(ra.mtu, 1452, 'MTU = peer MRU (1500) capped at 1452 (MPPE denied here: no room kept)');
  assert.deepEqual(ra.rdnss, ['2001:db8::53', '2001:db8::54']);
  assert.equal(ra.otherConfig, true);
  assert.equal(ra.managed, false);
  assert.ok(ra.routerLifetime > 0, 'a default router');
});

test('invalid RS (hop limit 64) is dropped silently; RS floods are rate-limited', () => {
  const p = new Pair({ ipv6: true, clientIpv6: true });
  p.drive();
  const ll = clientLinkLocal(p);
  let n = p.clientIp().length;
  p.send(routerSolicitation(ll, 64));
  assert.equal(p.clientIp().length, n, 'no answer to an off-link RS');
  for (let i = 0; i < 20; i++) p.send(routerSolicitation(ll));
  const answered = p.clientIp().length - n;
  assert.ok(answered >= 1 && answered <= 5, `${answered} answers to 20 solicitations in one instant`);
  n = p.clientIp().length;
  p.now += 2000;
  p.send(routerSolicitation(ll));
  assert.equal(p.clientIp().length, n + 1, 'tokens come back with time');
});

test('unsolicited RAs: three initial ones to ff02::1, then periodic within 200..600 s', () => {
  const p = new Pair({ ipv6: true, clientIpv6: true });
  p.drive();
  const times: number[] = [];
  for (let i = 0; i < 400 && times.length < 6; i++) {
    const n = p.clientIp().length;
    p.tick();
    for (const pkt of p.clientIp().slice(n)) {
      const ra = parseRouterAdvertisement(pkt);
      if (ra) {
        assert.equal(ra.dst, 'ff02::1');
        times.push(p.now);
      }
    }
  }
  assert.ok(times.length >= 5, `RAs at ${times.join(', ')}`);
  assert.equal(times[1]! - times[0]!, 3000);
  assert.equal(times[2]! - times[1]!, 3000);
  for (let i = 3; i < times.length; i++) {
    const gap = times[i]! - times[i - 1]!;
    assert.ok(gap >= 200_000 && gap <= 600_000, `periodic gap ${gap}`);
  }
});

test('RAs and Redirects from the client are dropped; other IPv6 goes to the host, and back', () => {
  const p = new Pair({ ipv6: true, clientIpv6: true });
  p.drive();
  const ll = clientLinkLocal(p);
  const fakeRa = routerSolicitation(ll);
  fakeRa[40] = 134;
  p.send(fakeRa);
  assert.deepEqual(p.serverIp(), []);
  const echo = icmp6EchoRequest('2001:db8:1:7::5', '2001:db8:ffff::1', 7, 1);
  p.send(echo);
  assert.deepEqual(p.serverIp(), [echo]);
  const reply = icmp6EchoRequest('2001:db8:ffff::1', '2001:db8:1:7::5', 7, 2);
  assert.equal(p.fromHost(reply), true);
  assert.deepEqual(p.clientIp().at(-1), reply);
  assert.equal(p.wire.at(-1)!.readUInt16BE(6), 0x0057, 'sent as PPP IPv6');
});

test('DHCPv6-PD: Solicit → Advertise, Request → Reply + route, Renew keeps it, Release frees it', () => {
  const pool = new Ipv6PrefixPool('d', [{ prefix: '2001:db8:100::/40', childLen: 56 }]);
  const p = new Pair({ ipv6: true, clientIpv6: true, delegate: pool });
  p.drive();
  const ll = clientLinkLocal(p);
  const answer = (): ReturnType<typeof parseDhcpv6Reply> => {
    const last = p.clientIp().at(-1);
    return last ? parseDhcpv6Reply(last) : undefined;
  };
  p.send(dhcpv6Client(MSG.SOLICIT, ll, { hintLen: 60 }));
  const adv = answer();
  assert.ok(adv);
  assert.equal(adv.msg.type, MSG.ADVERTISE);
  assert.equal(adv.dst, ll);
  assert.equal(adv.dstPort, 546);
  assert.deepEqual(adv.prefix && [adv.prefix.prefix, adv.prefix.len], ['2001:db8:100::', 56], 'delegation-prefix length, not the hint');
  assert.deepEqual(adv.dns, ['2001:db8::53', '2001:db8::54']);
  assert.deepEqual(p.of('route6'), [], 'no route before the client commits');
  p.send(dhcpv6Client(MSG.REQUEST, ll, { serverDuid: adv.serverDuid! }));
  const rep = answer()!;
  assert.equal(rep.msg.type, MSG.REPLY);
  assert.equal(rep.prefix?.prefix, '2001:db8:100::');
  assert.ok(rep.t1! > 0 && rep.t2! > rep.t1!);
  assert.deepEqual(p.of('route6'), [{ type: 'route6', op: 'add', prefix: '2001:db8:100::/56' }]);
  assert.equal(formatPrefix6(p.server.delegatedPrefix!), '2001:db8:100::/56');
  p.send(dhcpv6Client(MSG.RENEW, ll, { serverDuid: adv.serverDuid! }));
  assert.equal(answer()!.prefix?.prefix, '2001:db8:100::');
  p.send(dhcpv6Client(MSG.RENEW, ll, { serverDuid: adv.serverDuid!, iaid: 9 }));
  assert.equal(answer()!.iaStatus, 3, 'NoBinding for an unknown IAID');
  const count = p.clientIp().length;
  p.send(dhcpv6Client(MSG.REQUEST, ll, { serverDuid: Buffer.from('0003000102ffffffffff', 'hex') }));
  assert.equal(p.clientIp().length, count, 'a Request for another server is ignored');
  p.send(dhcpv6Client(MSG.RELEASE, ll, { serverDuid: adv.serverDuid! }));
  assert.equal(answer()!.status, 0);
  assert.deepEqual(p.of('route6').at(-1), { type: 'route6', op: 'del', prefix: '2001:db8:100::/56' });
  assert.equal(pool.inUse, 0, 'the prefix is back in the pool');
  assert.equal(p.server.delegatedPrefix, undefined);
});

test('DHCPv6: Information-Request gets DNS; an exhausted delegate pool answers NoPrefixAvail; Rapid Commit binds at once', () => {
  const empty = new Ipv6PrefixPool('d', [{ prefix: '2001:db8:100::/56', childLen: 56 }]);
  empty.allocate();
  const p = new Pair({ ipv6: true, clientIpv6: true, delegate: empty });
  p.drive();
  const ll = clientLinkLocal(p);
  p.send(dhcpv6Client(MSG.INFORMATION_REQUEST, ll, { iaPd: false }));
  const info = parseDhcpv6Reply(p.clientIp().at(-1)!)!;
  assert.equal(info.msg.type, MSG.REPLY);
  assert.deepEqual(info.dns, ['2001:db8::53', '2001:db8::54']);
  p.send(dhcpv6Client(MSG.SOLICIT, ll, { iaNa: true }));
  const adv = parseDhcpv6Reply(p.clientIp().at(-1)!)!;
  assert.equal(adv.iaStatus, 6, 'NoPrefixAvail');
  assert.equal(adv.prefix, undefined);

  const pool = new Ipv6PrefixPool('d', [{ prefix: '2001:db8:200::/48', childLen: 64 }]);
  const q = new Pair({ ipv6: true, clientIpv6: true, delegate: pool });
  q.drive();
  q.send(dhcpv6Client(MSG.SOLICIT, clientLinkLocal(q), { rapid: true }));
  const rep = parseDhcpv6Reply(q.clientIp().at(-1)!)!;
  assert.equal(rep.msg.type, MSG.REPLY);
  assert.equal(rep.rapidCommit, true);
  assert.deepEqual(q.of('route6'), [{ type: 'route6', op: 'add', prefix: '2001:db8:200::/64' }]);
});

test('the session ends: a delegated prefix goes back to the pool', () => {
  const pool = new Ipv6PrefixPool('d', [{ prefix: '2001:db8:100::/48', childLen: 56 }]);
  const p = new Pair({ ipv6: true, clientIpv6: true, delegate: pool });
  p.drive();
  p.send(dhcpv6Client(MSG.SOLICIT, clientLinkLocal(p), { rapid: true }));
  assert.equal(pool.inUse, 1);
  p.server.terminate(p.now, 'admin-reset', 'test');
  p.drive();
  for (let i = 0; i < 10 && p.of('ended').length === 0; i++) p.tick();
  assert.equal(p.of('ended').length, 1);
  assert.equal(pool.inUse, 0);
});

test('an IPv4-only client against an IPv6 server: IPV6CP is Protocol-Rejected, IPv4 works', () => {
  const p = new Pair({ ipv6: true, clientIpv6: false });
  p.drive();
  assert.equal(p.of('link-up').length, 1);
  assert.equal(p.of('ipv6-up').length, 0);
  assert.equal(p.logs('ncp-stopped').length, 1);
  assert.equal(p.of('ipv6-released').length, 1, 'the driver is told to give the prefix back');
  const ping = icmpEchoRequest('192.0.2.1', '192.0.2.254', 1, 1, Buffer.alloc(8));
  p.send(ping);
  assert.deepEqual(p.serverIp(), [ping]);
  assert.equal(p.of('ended').length, 0);
});

test('an IPv6-only session (no IPv4 address): IPCP is Protocol-Rejected, IPv6 works', () => {
  const p = new Pair({ ipv6: true, clientIpv6: true, ipv4: false, method: 'pap' });
  p.drive();
  assert.equal(p.of('link-up').length, 0);
  assert.equal(p.of('ipv6-up').length, 1);
  const echo = icmp6EchoRequest('2001:db8:1:7::5', '2001:db8:ffff::1', 1, 1);
  p.send(echo);
  assert.deepEqual(p.serverIp(), [echo]);
  assert.equal(p.fromHost(icmpEchoRequest('192.0.2.254', '192.0.2.1', 1, 1, Buffer.alloc(8))), false, 'no IPv4 to an IPv6-only link');
});

// ---------------------------------------------------------------------------------------------
// MPPE

const MPPE_128_STATELESS = MPPE_BIT_S | MPPE_BIT_H;

function assertEncryptedTraffic(p: Pair): void {
  const ping = icmpEchoRequest('192.0.2.1', '192.0.2.254', 1, 1, Buffer.alloc(200, 7));
  p.send(ping);
  assert.deepEqual(p.serverIp().at(-1), ping, 'client → server decrypts to the same packet');
  const toServer = p.ca.filter((a): a is Extract<ClientAction, { type: 'send' }> => a.type === 'send').at(-1)!.bytes;
  assert.equal(toServer.readUInt16BE(6), 0x00fd, 'client → server is MPPE');
  assert.equal(toServer.includes(Buffer.alloc(200, 7)), false, 'no clear payload on the wire');
  const back = icmpEchoRequest('192.0.2.254', '192.0.2.1', 1, 2, Buffer.alloc(200, 9));
  assert.equal(p.fromHost(back), true);
  assert.deepEqual(p.clientIp().at(-1), back, 'server → client decrypts to the same packet');
  assert.equal(p.wire.at(-1)!.readUInt16BE(6), 0x00fd, 'server → client is MPPE');
}

test('mppe require + client requiring 128-bit stateless: MPPE both ways, data encrypted', () => {
  const p = new Pair({ mppe: 'require', clientMppe: MPPE_128_STATELESS });
  p.drive();
  const up = p.logs('mppe-up');
  assert.equal(up.length, 1);
  assert.deepEqual(up[0]!.fields, { send: '128-bit stateless', receive: '128-bit stateless' });
  assert.equal(p.of('link-up')[0]!.mtu, 1448);
  assertEncryptedTraffic(p);
  // Many packets: every one rekeyed, all decrypt.
  for (let i = 0; i < 300; i++) p.send(icmpEchoRequest('192.0.2.1', '192.0.2.254', 2, i, Buffer.alloc(64, i & 0xff)));
  assert.equal(p.serverIp().length, 301);
});

test('mppe require + client requiring MPPE over MS-CHAPv1: 128-bit with the v1 start key', () => {
  const p = new Pair({ mppe: 'require', clientMppe: MPPE_128_STATELESS, method: 'mschap' });
  p.drive();
  assert.equal(p.logs('mppe-up').length, 1);
  assertEncryptedTraffic(p);
});

test('mppe require + a client that refuses CCP: the session ends with a clear reason', () => {
  const p = new Pair({ mppe: 'require' });
  p.drive();
  for (let i = 0; i < 10 && p.of('ended').length === 0; i++) p.tick();
  const failed = p.logs('mppe-required-failed');
  assert.equal(failed.length, 1);
  assert.match(String(failed[0]!.fields?.['reason']), /client rejected CCP/);
  assert.equal(p.of('ended').length, 1);
  assert.equal(p.serverIp().length, 0);
});

test('mppe require + PAP: no MS-CHAP keys, the session ends right after authentication', () => {
  const p = new Pair({ mppe: 'require', method: 'pap', clientMppe: MPPE_128_STATELESS });
  p.drive();
  for (let i = 0; i < 10 && p.of('ended').length === 0; i++) p.tick();
  assert.match(String(p.logs('mppe-required-failed')[0]?.fields?.['reason']), /authentication by pap gives no MPPE keys/);
  assert.equal(p.of('link-up').length, 0);
});

test('mppe deny + a client requiring MPPE: CCP is Protocol-Rejected and the client gives up', () => {
  const p = new Pair({ mppe: 'deny', clientMppe: MPPE_128_STATELESS });
  p.drive();
  for (let i = 0; i < 10 && p.of('ended').length === 0; i++) p.tick();
  assert.equal(p.of('link-up').length, 0);
  const closed = p.ca.find((a): a is Extract<ClientAction, { type: 'closed' }> => a.type === 'closed');
  assert.ok(closed);
  assert.equal(p.of('ended').length, 1);
});

test('mppe prefer: a client requiring MPPE gets it; a client without MPPE gets a clear link', () => {
  const a = new Pair({ mppe: 'prefer', clientMppe: MPPE_128_STATELESS });
  a.drive();
  assert.equal(a.logs('mppe-up').length, 1);
  assertEncryptedTraffic(a);
  const b = new Pair({ mppe: 'prefer' });
  b.drive();
  assert.equal(b.logs('mppe-up').length, 0);
  assert.equal(b.logs('mppe-off').length, 1);
  const ping = icmpEchoRequest('192.0.2.1', '192.0.2.254', 1, 1, Buffer.alloc(8));
  b.send(ping);
  assert.deepEqual(b.serverIp(), [ping]);
});

test('default (no mppe option): the server does not ask, but accepts MPPE when the client asks', () => {
  const a = new Pair({ mppe: 'accept' });
  a.drive();
  assert.equal(a.wire.some((w) => (w[1]! & 1) === 0 && w.readUInt16BE(6) === 0x80fd), false, 'no CCP from the server');
  assert.equal(a.of('link-up').length, 1);
  const b = new Pair({ mppe: 'accept', clientMppe: MPPE_128_STATELESS });
  b.drive();
  assert.equal(b.logs('mppe-up').length, 1);
  assertEncryptedTraffic(b);
});

for (const [name, bits, want] of [
  ['40-bit', MPPE_BIT_L | MPPE_BIT_H, '40-bit stateless'],
  ['56-bit', MPPE_BIT_M | MPPE_BIT_H, '56-bit stateless'],
] as const) {
  test(`a client that insists on ${name} keys gets them (MS-CHAPv2)`, () => {
    const p = new Pair({ mppe: 'require', clientMppe: bits });
    p.drive();
    assert.deepEqual(p.logs('mppe-up')[0]?.fields, { send: want, receive: want });
    assertEncryptedTraffic(p);
  });
}

test('stateless MPPE with loss: the receiver rekeys across the gap, no reset needed', () => {
  const p = new Pair({ mppe: 'require', clientMppe: MPPE_128_STATELESS });
  p.drive();
  p.dropToClient = new Set([3, 4, 5]);
  const seen: number[] = [];
  for (let i = 0; i < 10; i++) {
    const n = p.clientIp().length;
    p.fromHost(icmpEchoRequest('192.0.2.254', '192.0.2.1', 1, i, Buffer.alloc(32, i)));
    if (p.clientIp().length > n) seen.push(i);
  }
  assert.deepEqual(seen, [0, 1, 2, 6, 7, 8, 9]);
  assert.equal(p.wire.some((w) => (w[1]! & 1) === 0 && w.readUInt16BE(6) === 0x80fd && w[8] === 14), false, 'no Reset-Request');
});

test('stateful MPPE with loss, server → client: Reset-Request, flushed packet, traffic resumes', () => {
  const p = new Pair({ mppe: 'require', clientMppe: MPPE_BIT_S });
  p.drive();
  assert.deepEqual(p.logs('mppe-up')[0]?.fields, { send: '128-bit stateful', receive: '128-bit stateful' });
  p.dropToClient = new Set([2]);
  const got: number[] = [];
  for (let i = 0; i < 8; i++) {
    const n = p.clientIp().length;
    p.fromHost(icmpEchoRequest('192.0.2.254', '192.0.2.1', 1, i, Buffer.alloc(32, i)));
    if (p.clientIp().length > n) got.push(i);
  }
  // Packet 2 is lost; 3 shows the gap (dropped, Reset-Request); 4 on is flushed and decrypts.
  assert.deepEqual(got, [0, 1, 4, 5, 6, 7]);
  const ccpFromClient = p.ca.filter((a) => a.type === 'send' && (a.bytes[1]! & 1) === 0 && a.bytes.readUInt16BE(6) === 0x80fd);
  assert.ok(ccpFromClient.some((a) => a.type === 'send' && a.bytes[8] === 14), 'the client sent a CCP Reset-Request');
  assert.ok(p.wire.some((w) => (w[1]! & 1) === 0 && w.readUInt16BE(6) === 0x80fd && w[8] === 15), 'we answered with a Reset-Ack');
});

test('stateful MPPE with loss, client → server: we send the Reset-Request and resync on the flushed packet', () => {
  const p = new Pair({ mppe: 'require', clientMppe: MPPE_BIT_S });
  p.drive();
  p.dropToServer = new Set([1]);
  const got: number[] = [];
  for (let i = 0; i < 6; i++) {
    const n = p.serverIp().length;
    p.send(icmpEchoRequest('192.0.2.1', '192.0.2.254', 1, i, Buffer.alloc(32, i)));
    if (p.serverIp().length > n) got.push(i);
  }
  assert.deepEqual(got, [0, 3, 4, 5]);
  assert.ok(p.wire.some((w) => (w[1]! & 1) === 0 && w.readUInt16BE(6) === 0x80fd && w[8] === 14), 'server Reset-Request');
  assert.equal(p.logs('mppe-drop').length, 1, 'the packet after the gap; then the flushed one resyncs');
});

test('MPPE on: unencrypted IP from the client is dropped', () => {
  const p = new Pair({ mppe: 'require', clientMppe: MPPE_128_STATELESS });
  p.drive();
  const ping = icmpEchoRequest('192.0.2.1', '192.0.2.254', 1, 1, Buffer.alloc(8));
  const clear = Buffer.concat([Buffer.from([0x10, 0x00, 0x00, 0x00, 0xff, 0x03, 0x00, 0x21]), ping]);
  clear.writeUInt16BE(clear.length, 2);
  p.server.receive(p.now, clear);
  p.drive();
  assert.deepEqual(p.serverIp(), []);
});

test('IPv6 over MPPE: RS answered with an encrypted RA', () => {
  const p = new Pair({ mppe: 'require', clientMppe: MPPE_128_STATELESS, ipv6: true, clientIpv6: true });
  p.drive();
  const n = p.clientIp().length;
  p.send(routerSolicitation(clientLinkLocal(p)));
  const ra = parseRouterAdvertisement(p.clientIp()[n]!);
  assert.equal(ra?.prefix?.prefix, '2001:db8:1:7::');
  assert.equal(p.wire.at(-1)!.readUInt16BE(6), 0x00fd);
});

// ---------------------------------------------------------------------------------------------
// The data gate: source addresses (BCP 38) and the fast lane the daemon installs

test('IPv6 sources: the prefix, a delegated prefix and the client link-local pass; a forged one is dropped, counted, logged once', () => {
  const pool = new Ipv6PrefixPool('d', [{ prefix: '2001:db8:100::/40', childLen: 56 }]);
  const p = new Pair({ ipv6: true, clientIpv6: true, delegate: pool });
  p.drive();
  const ll = clientLinkLocal(p);
  const fromPrefix = icmp6EchoRequest('2001:db8:1:7::5', '2001:db8:ffff::1', 7, 1);
  const fromLinkLocal = icmp6EchoRequest(ll, '2001:db8:ffff::1', 7, 2);
  const forged = icmp6EchoRequest('2001:db8:dead::1', '2001:db8:ffff::1', 7, 3);
  const fromDelegated = icmp6EchoRequest('2001:db8:100::1', '2001:db8:ffff::1', 7, 4);
  p.send(fromPrefix);
  p.send(fromLinkLocal);
  p.send(forged);
  p.send(forged);
  p.send(fromDelegated);
  assert.deepEqual(p.serverIp(), [fromPrefix, fromLinkLocal], 'nothing from outside the session, not even the prefix it was not delegated yet');
  assert.equal(p.server.drops.source, 3);
  assert.deepEqual(p.logs('data-dropped').map((l) => l.fields), [{ reason: 'source', source: '2001:db8:dead::1' }]);
  // DHCPv6-PD binds 2001:db8:100::/56: the client may now send from it, until it releases it.
  p.send(dhcpv6Client(MSG.SOLICIT, ll, { hintLen: 56 }));
  const adv = parseDhcpv6Reply(p.clientIp().at(-1)!)!;
  p.send(dhcpv6Client(MSG.REQUEST, ll, { serverDuid: adv.serverDuid! }));
  p.send(fromDelegated);
  assert.deepEqual(p.serverIp().at(-1), fromDelegated);
  p.send(dhcpv6Client(MSG.RELEASE, ll, { serverDuid: adv.serverDuid! }));
  p.send(fromDelegated);
  assert.equal(p.server.drops.source, 4, 'released: its prefix is no longer the client\'s');
});

test('IPv4 sources: the session address and its Framed-Routes pass; others are dropped', () => {
  const p = new Pair({});
  p.drive();
  // Framed-Routes arrive with the addresses (RADIUS); re-assign as the driver would on LCP renegotiation.
  p.server.networkAssigned(p.now, { ipv4: '192.0.2.1', routes: ['10.20.0.0/16'] });
  for (const src of ['192.0.2.1', '10.20.3.4', '10.21.0.1', '192.0.2.2']) p.send(icmpEchoRequest(src, '192.0.2.254', 1, 1, Buffer.alloc(8)));
  assert.deepEqual(
    p.serverIp().map((x) => [...x.subarray(12, 16)].join('.')),
    ['192.0.2.1', '10.20.3.4'],
  );
  assert.equal(p.server.drops.source, 2);
});

test('MPPE on, with the fast lane installed as the daemon runs it: clear IPv4 is dropped, encrypted IPv4 passes', () => {
  const p = new Pair({ mppe: 'require', clientMppe: MPPE_128_STATELESS });
  const sunk: Buffer[] = [];
  p.server.setIpSink((x) => sunk.push(Buffer.from(x)));
  p.drive();
  const ping = icmpEchoRequest('192.0.2.1', '192.0.2.254', 1, 1, Buffer.alloc(8));
  const clear = Buffer.concat([Buffer.from([0x10, 0x00, 0x00, 0x00, 0xff, 0x03, 0x00, 0x21]), ping]);
  clear.writeUInt16BE(clear.length, 2);
  p.server.receive(p.now, clear);
  p.drive();
  assert.deepEqual([...sunk, ...p.serverIp()], [], 'the clear packet reached nobody');
  assert.equal(p.server.drops.mppe, 1);
  p.send(ping);
  assert.deepEqual(p.serverIp(), [ping], 'encrypted IPv4 takes the event path (decryption) and passes');
});

test('ipv6-peer-interface-id ipv4-addr: the client is Nak\'d to the id from its IPv4 address; without IPv4 no IPV6CP runs', () => {
  const peerId = peerIidFor({ mode: 'ipv4-addr' }, { ipv4: '192.0.2.1', callingSid: '198.51.100.7' }, () => Buffer.alloc(8, 1));
  const p = new Pair({ ipv6: true, clientIpv6: true, peerId });
  p.drive();
  assert.equal(clientLinkLocal(p), 'fe80::192:0:2:1');
  const none = new Pair({ ipv6: true, clientIpv6: true, peerId: null });
  none.drive();
  assert.equal(none.ca.some((a) => a.type === 'ipv6-up'), false, 'IPV6CP did not run');
  assert.ok(none.ca.some((a) => a.type === 'up'), 'IPv4 runs on');
});
