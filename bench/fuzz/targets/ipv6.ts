/**
 * IPv6 targets: the session's IPv6 services (Router Solicitation → RA, DHCPv6 with prefix
 * delegation) fed hostile client packets, and the IPv6/UDP/DHCPv6 decoders. Generated DHCPv6
 * packets carry correct checksums, so the DHCPv6 server itself is reached, not just the checksum test.
 */
import { parsePrefix6, type Prefix6 } from '../../../src/ip/ipv6-addr.js';
import { MSG, OPT, Dhcpv6Server, decodeMessage, decodeOptions, encodeMessage, encodeOption, type PrefixSource } from '../../../src/ipv6/dhcpv6.js';
import { isValidRouterSolicitation } from '../../../src/ipv6/nd.js';
import { ALL_DHCP, ALL_ROUTERS, NH_ICMPV6, NH_UDP, buildIpv6Packet, buildUdp, checksumOk, parseIpv6Packet, parseUdp } from '../../../src/ipv6/packet.js';
import { Ipv6Services } from '../../../src/ipv6/services.js';
import { addr6, dhcpv6Client, routerSolicitation } from '../../../test/support/ipv6.js';
import { check, decodeOnly, mutate, seededRandom, step, type Episode, type Rng, type Step, type Target } from '../engine.js';

const GROUP = 'ipv6';
const LL = addr6('fe80::1');
const PEER = 'fe80::2';
const DUID = Buffer.from('0003000102aabbccddee', 'hex');
const MTU = 1452;

/** A DHCPv6 client message with random options (valid TLVs), in a checksum-correct IPv6/UDP packet. */
export function dhcpv6Packet(rng: Rng, maxDuid = 3000, src = PEER): Buffer {
  const opts: Buffer[] = [];
  const duid = (): Buffer => (rng.chance(0.8) ? Buffer.from('000300010211223344ff', 'hex') : rng.bytes(rng.length(rng.chance(0.9) ? 140 : maxDuid)));
  if (rng.chance(0.9)) opts.push(encodeOption(OPT.CLIENTID, duid()));
  if (rng.chance(0.4)) opts.push(encodeOption(OPT.SERVERID, rng.chance(0.7) ? DUID : duid()));
  for (let i = rng.int(5); i > 0; i--) {
    const r = rng.int(7);
    const ia = Buffer.alloc(12);
    ia.writeUInt32BE(rng.chance(0.7) ? 1 : rng.u32(), 0);
    if (r < 3) opts.push(encodeOption(rng.pick([OPT.IA_PD, OPT.IA_PD, OPT.IA_NA, OPT.IA_TA]), rng.chance(0.8) ? ia : rng.bytes(rng.length(40))));
    else if (r < 4) opts.push(encodeOption(OPT.ORO, rng.chance(0.7) ? Buffer.from([0, OPT.DNS_SERVERS]) : rng.bytes(rng.length(20))));
    else if (r < 5) opts.push(encodeOption(OPT.RAPID_COMMIT, Buffer.alloc(0)));
    else if (r < 6) opts.push(encodeOption(OPT.ELAPSED_TIME, Buffer.alloc(2)));
    else opts.push(encodeOption(rng.int(64), rng.bytes(rng.length(60))));
  }
  const type = rng.chance(0.9) ? rng.pick([MSG.SOLICIT, MSG.REQUEST, MSG.RENEW, MSG.REBIND, MSG.RELEASE, MSG.DECLINE, MSG.INFORMATION_REQUEST, MSG.CONFIRM]) : rng.int(256);
  const msg = encodeMessage(type, rng.bytes(3), opts);
  const dst = rng.chance(0.8) ? ALL_DHCP : rng.chance(0.5) ? LL : rng.bytes(16);
  return buildIpv6Packet(addr6(src), dst, NH_UDP, rng.chance(0.8) ? 1 : 255, buildUdp(546, rng.chance(0.95) ? 547 : rng.int(65536), msg));
}

const SEEDS = [
  routerSolicitation(PEER),
  routerSolicitation('::'),
  dhcpv6Client(MSG.SOLICIT, PEER),
  dhcpv6Client(MSG.SOLICIT, PEER, { rapid: true, iaNa: true }),
  dhcpv6Client(MSG.REQUEST, PEER, { serverDuid: DUID }),
  dhcpv6Client(MSG.RENEW, PEER, { serverDuid: DUID }),
  dhcpv6Client(MSG.REBIND, PEER),
  dhcpv6Client(MSG.RELEASE, PEER, { serverDuid: DUID }),
  dhcpv6Client(MSG.INFORMATION_REQUEST, PEER, { iaPd: false }),
  buildIpv6Packet(addr6(PEER), ALL_ROUTERS, NH_ICMPV6, 255, Buffer.from([134, 0, 0, 0, 64, 0, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0])),
];

/** The delegate pool as the driver binds it: one prefix per session, acquire idempotent. */
class Pool implements PrefixSource {
  held: Prefix6 | undefined;
  private n = 0;
  acquire(): Prefix6 | undefined {
    if (this.held) return this.held;
    if (this.n >= 3) return undefined;
    this.held = parsePrefix6(`2001:db8:${(0x100 + this.n++).toString(16)}::/56`)!;
    return this.held;
  }
  release(p: Prefix6): void {
    check(this.held !== undefined && this.held.addr.equals(p.addr) && this.held.len === p.len, 'a prefix released that is not held');
    this.held = undefined;
  }
}

/** Steps: 0 = packet from the client, 1 = clock only. */
class ServicesEpisode implements Episode {
  private readonly pool = new Pool();
  private readonly s = new Ipv6Services(
    { linkLocal: LL, prefix: parsePrefix6('2001:db8:1::/64')!, mtu: MTU, dns: [addr6('2001:db8::53')], serverDuid: DUID, delegation: this.pool, random: seededRandom(41) },
    0,
  );
  private now = 0;
  private solicitedRas = 0;
  private bound: string | undefined;

  step(st: Step): void {
    this.now += st.dt;
    const d = this.s.nextDeadline();
    if (d !== undefined && d <= this.now) this.s.handleTimeout(this.now);
    this.events(false);
    if (st.op !== 0) return;
    const mine = this.s.intercept(this.now, st.data);
    const pkt = parseIpv6Packet(st.data);
    if (pkt && pkt.nextHeader === NH_ICMPV6 && pkt.payload.length >= 4 && [133, 134, 137].includes(pkt.payload[0]!)) check(mine, 'router message from the client left to the kernel');
    this.events(true);
    // A token bucket of 5, one more per second: solicited RAs never exceed it.
    check(this.solicitedRas <= 5 + Math.floor(this.now / 1000), `${this.solicitedRas} solicited RAs in ${this.now} ms`);
  }

  finish(): void {
    this.s.close();
    check(this.pool.held === undefined, 'delegated prefix not given back on close');
  }

  private events(solicited: boolean): void {
    for (const ev of this.s.poll()) {
      if (ev.type === 'packet') {
        check(ev.packet.length <= MTU, `a ${ev.packet.length}-byte packet for a link with MTU ${MTU}`);
        const p = parseIpv6Packet(ev.packet);
        check(p !== undefined && p.src.equals(LL) && checksumOk(p), 'answer is not a valid IPv6 packet from our link-local');
        if (solicited && p!.nextHeader === NH_ICMPV6 && p!.payload[0] === 134) this.solicitedRas++;
      } else if (ev.type === 'pd-bound') {
        check(this.bound === undefined || this.bound === ev.prefix.addr.toString('hex'), 'a second prefix bound');
        this.bound = ev.prefix.addr.toString('hex');
      } else if (ev.type === 'pd-released') {
        check(this.bound === ev.prefix.addr.toString('hex'), 'released a prefix never bound');
        this.bound = undefined;
      }
    }
  }
}

export const ipv6ServicesTarget: Target = {
  name: 'ipv6-services',
  group: GROUP,
  about: 'Ipv6Services (RS → RA, DHCPv6 + IA_PD): never throws; answers are valid IPv6 from our link-local within the link MTU; RS answers rate-limited; one bound prefix, released on close',
  generate(rng) {
    const steps: Step[] = [];
    let inputs = 0;
    for (let n = rng.range(1, 24); n > 0; n--) {
      const dt = rng.chance(0.3) ? rng.int(rng.chance(0.8) ? 2000 : 700_000) : 0;
      const r = rng.int(10);
      if (r < 1) {
        steps.push(step(Buffer.alloc(0), 1, dt));
        continue;
      }
      const data = r < 5 ? dhcpv6Packet(rng) : r < 7 ? rng.pick(SEEDS) : r < 9 ? mutate(rng, rng.pick(SEEDS), SEEDS) : rng.bytes(rng.length(120));
      steps.push(step(data, 0, dt));
      inputs++;
    }
    return { steps, inputs };
  },
  start: () => new ServicesEpisode(),
};

// ---- decoders -------------------------------------------------------------------------------

class CodecEpisode implements Episode {
  private readonly server = new Dhcpv6Server({ serverDuid: DUID, dns: [addr6('2001:db8::53')] });
  step(s: Step): void {
    const b = s.data;
    const pkt = parseIpv6Packet(b);
    if (pkt) {
      check(pkt.payload.length === b.readUInt16BE(4), 'payload not bounded by Payload Length');
      checksumOk(pkt);
      isValidRouterSolicitation(pkt);
      const udp = parseUdp(pkt.payload);
      if (udp) this.dhcp(udp.data);
    }
    this.dhcp(b);
  }
  private dhcp(b: Buffer): void {
    decodeOnly(() => decodeMessage(b), ['E_DHCPV6', 'E_DECODE']);
    decodeOnly(() => decodeOptions(b), ['E_DHCPV6', 'E_DECODE']);
    for (const ev of this.server.handle(b)) {
      if (ev.type !== 'reply') continue;
      const m = decodeMessage(ev.message);
      check(m.options.some((o) => o.code === OPT.SERVERID && o.data.equals(DUID)), 'reply without our SERVERID');
    }
  }
}

export const ipv6CodecTarget: Target = {
  name: 'ipv6-codec',
  group: GROUP,
  about: 'parseIpv6Packet/parseUdp (never throw), DHCPv6 decoders (DecodeError only) and Dhcpv6Server.handle on any message',
  generate(rng) {
    const steps: Step[] = [];
    for (let n = rng.range(1, 12); n > 0; n--) {
      const r = rng.int(10);
      const p = r < 4 ? dhcpv6Packet(rng) : r < 8 ? mutate(rng, rng.pick(SEEDS), SEEDS) : rng.bytes(rng.length(120));
      steps.push(step(rng.chance(0.3) ? (parseUdp(parseIpv6Packet(p)?.payload ?? Buffer.alloc(0))?.data ?? p) : p));
    }
    return { steps, inputs: steps.length };
  },
  start: () => new CodecEpisode(),
};
