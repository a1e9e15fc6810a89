/**
 * A session's network side with fake TUN devices and interface calls: IPv4 and IPv6 leases, the
 * interface's life (open, IPv4/IPv6 setup, delegated routes, close after `beforeClose`) and the
 * release that gives everything back exactly once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { SessionNetwork, type NetworkEnv } from '../../src/session/network.js';
import { AddressBook, Ipv4Pool } from '../../src/ip/pool.js';
import { Ipv6PrefixBook, Ipv6PrefixPool } from '../../src/ip/pool6.js';
import { formatPrefix6 } from '../../src/ip/ipv6-addr.js';
import { TunError, type OpenTunOptions, type TunDevice } from '../../src/dataplane/tun.js';
import { FakeTun } from '../support/fake-tun.js';
import { InterfaceCache } from '../../src/dataplane/iface-cache.js';
import type { AuthAccept } from '../../src/auth/backend.js';

const accept = (extra: Partial<AuthAccept> = {}): AuthAccept => ({ ok: true, username: 'alice', hlaks: [{ label: 'zero', key: Buffer.alloc(32) }], ...extra });

interface World {
  readonly env: NetworkEnv;
  readonly calls: string[];
  readonly logs: Record<string, unknown>[];
  readonly tuns: FakeTun[];
  readonly addresses: AddressBook;
  readonly prefixes: Ipv6PrefixBook;
  /** Makes the next opens fail with these errors, in order. */
  readonly openFailures: TunError[];
  readonly closing: string[];
  /** Every name an open was tried with. */
  readonly tried: string[];
  release: () => void;
  network(sid?: string): SessionNetwork;
}

function world(opts: { ipv6?: boolean; v4Size?: string; cache?: InterfaceCache } = {}): World {
  const calls: string[] = [];
  const logs: Record<string, unknown>[] = [];
  const tuns: FakeTun[] = [];
  const openFailures: TunError[] = [];
  const closing: string[] = [];
  const tried: string[] = [];
  const log = pino({ base: undefined, level: 'debug' }, { write: (l: string) => void logs.push(JSON.parse(l) as Record<string, unknown>) });
  const addresses = new AddressBook(new Map([['default', new Ipv4Pool('default', [opts.v4Size ?? '192.0.2.0/30'])]]), 'default');
  const prefixes = new Ipv6PrefixBook({
    pools: new Map([
      [
        'default',
        {
          prefix: new Ipv6PrefixPool('p', [{ prefix: '2001:db8:1::/62', childLen: 64 }]),
          delegate: new Ipv6PrefixPool('d', [{ prefix: '2001:db8:100::/55', childLen: 56 }]),
        },
      ],
    ]),
    defaultPool: 'default',
  });
  let gate: Promise<void> = Promise.resolve();
  const w: World = {
    calls,
    logs,
    tuns,
    addresses,
    prefixes,
    openFailures,
    closing,
    tried,
    release: () => undefined,
    env: {
      policy: { dns: ['10.0.0.1', '10.0.0.2'], ...(opts.ipv6 === false ? {} : { ipv6: { dns: [], serverDuid: Buffer.alloc(10) } }) },
      addresses,
      prefixes,
      ...(opts.cache ? { interfaceCache: opts.cache } : {}),
      openTun: (onPackets, o?: OpenTunOptions): TunDevice => {
        tried.push(o?.nameTemplate ?? '');
        const failure = openFailures.shift();
        if (failure) throw failure;
        const t = new FakeTun(onPackets, { name: o?.nameTemplate ?? 'sstpk' });
        tuns.push(t);
        return t;
      },
      configureInterface: (name, a) => void calls.push(`configure ${name} ${a.local ?? '-'} ${a.peer ?? '-'} ${a.mtu}${a.linkUp ? ' (link up)' : ''}${a.fresh ? ' (fresh)' : ''}`),
      ipv6Interface: {
        prepare: (name) => void calls.push(`prepare6 ${name}`),
        configure: (name, c) => void calls.push(`configure6 ${name} ${c.linkLocal} ${c.prefix}`),
        route: (name, op, prefix) => void calls.push(`route6 ${name} ${op} ${prefix}`),
      },
    },
    network: (sid = 's1') =>
      new SessionNetwork(sid, w.env, log, {
        onPackets: () => undefined,
        beforeClose: (ifname) => {
          closing.push(ifname);
          return gate;
        },
        username: () => 'alice',
      }),
  };
  gate = new Promise<void>((r) => (w.release = r));
  return w;
}

test('leases an IPv4 address and an IPv6 prefix; DNS and Framed-Routes go with them; re-used, not re-leased', () => {
  const w = world();
  const n = w.network();
  const given = n.lease(accept({ dns: { secondary: '10.9.9.9' }, routes: [{ prefix: '10.77.0.0/24' }] }));
  assert.ok(!('error' in given));
  assert.equal(given.ipv4, '192.0.2.1');
  assert.equal(formatPrefix6(given.ipv6Prefix!), '2001:db8:1::/64');
  assert.deepEqual(given.dns, ['10.0.0.1', '10.9.9.9']);
  assert.deepEqual(given.routes, ['10.77.0.0/24']);
  assert.ok(given.delegation, 'a delegate pool makes a delegation source');
  assert.equal(n.ipv4, '192.0.2.1');
  assert.equal(n.addresses, given);
  assert.equal(w.addresses.holderOf('192.0.2.1'), 's1');
});

test('the IPv6 prefix and delegation come from the pools the backend named; a missing one is logged and left out', () => {
  const w = world();
  const named = w.network('a').lease(accept({ ipv6PoolName: 'nope' }));
  assert.ok(!('error' in named) && named.ipv4 !== undefined && named.ipv6Prefix === undefined, 'IPv4 goes on alone');
  assert.deepEqual(w.logs.filter((l) => l['msg'] === 'ipv6-prefix-unavailable').map((l) => l['reason']), ['IPv6 prefix pool "nope" does not exist']);
  const noPd = w.network('b').lease(accept({ delegatedIpv6PoolName: 'default' }));
  assert.ok(!('error' in noPd) && noPd.delegation !== undefined, 'the named delegation pool (here the default one)');
});

test('one of IPv4 and IPv6 is enough; neither ends the session with a reason', () => {
  const w = world({ v4Size: '192.0.2.0/32' });
  assert.ok(!('error' in w.network('a').lease(accept({ staticIp: '192.0.2.9' }))));
  const v6only = w.network('b').lease(accept({ poolName: 'nope' }));
  assert.ok(!('error' in v6only) && v6only.ipv4 === undefined && v6only.ipv6Prefix !== undefined);
  assert.equal(w.logs.filter((l) => l['msg'] === 'address-unavailable').length, 1);

  const w4 = world({ ipv6: false });
  const none = w4.network().lease(accept({ poolName: 'nope' }));
  assert.deepEqual(none, { error: 'no IPv4 address and no IPv6 prefix available for this session' });
  assert.deepEqual(
    w4.logs.filter((l) => l['msg'] === 'address-unavailable').map((l) => l['reason']),
    ['address pool "nope" does not exist', 'no IPv4 address and no IPv6 prefix available for this session'],
  );
});

test('the interface: IPv6 prepared before it is up, IPv4 and IPv6 configured, the delegated route follows DHCPv6', () => {
  const w = world();
  const n = w.network();
  const given = n.lease(accept());
  assert.ok(!('error' in given));
  const tun = n.open(1400);
  assert.equal(n.tun, tun);
  n.configureIpv4('192.0.2.254', '192.0.2.1', 1400);
  n.ipv6Up('fe80::1', '2001:db8:1::/64');
  const dp = given.delegation!.acquire();
  assert.ok(dp);
  assert.equal(given.delegation!.acquire(), dp, 'at most one delegated prefix per session');
  assert.equal(n.delegatedPrefix, undefined, 'not shown before it is bound');
  n.route6('add', formatPrefix6(dp));
  assert.equal(n.delegatedPrefix, dp);
  assert.deepEqual(w.calls, [
    `prepare6 ${tun.name}`,
    `configure ${tun.name} - - 1400`,
    `configure ${tun.name} 192.0.2.254 192.0.2.1 1400 (link up) (fresh)`,
    `configure6 ${tun.name} fe80::1 2001:db8:1::/64`,
    `route6 ${tun.name} add 2001:db8:100::/56`,
  ]);
  assert.deepEqual(w.logs.map((l) => l['msg']), ['ipv6-up', 'delegated-prefix-route']);
});

test('the client rejects IPV6CP: the prefix and the delegated prefix go back at once, IPv4 stays', () => {
  const w = world();
  const n = w.network();
  const given = n.lease(accept({ dns: { primary: '10.9.9.9' }, routes: [{ prefix: '10.77.0.0/24' }] }));
  assert.ok(!('error' in given));
  given.delegation!.acquire();
  n.releaseIpv6();
  assert.equal(n.ipv6Prefix, undefined);
  assert.equal(n.addresses?.ipv6Prefix, undefined);
  assert.equal(n.addresses?.delegation, undefined);
  assert.equal(n.addresses?.ipv4, '192.0.2.1');
  assert.deepEqual(n.addresses?.dns, ['10.9.9.9', '10.0.0.2'], 'an LCP renegotiation keeps the DNS servers');
  assert.deepEqual(n.addresses?.routes, ['10.77.0.0/24'], 'and the Framed-Routes the client may send from');
  assert.equal(w.prefixes.holderOf(given.ipv6Prefix!), undefined);
  const again = w.network('s2').lease(accept());
  assert.ok(!('error' in again));
  assert.equal(formatPrefix6(again.ipv6Prefix!), '2001:db8:1::/64', 'the prefix is free for the next session');
});

test('close: beforeClose first, the device after it, once; release gives every lease back, once', async () => {
  const w = world();
  const n = w.network();
  const given = n.lease(accept());
  assert.ok(!('error' in given));
  given.delegation!.acquire();
  const tun = n.open(1400) as FakeTun;
  const closed = n.close();
  assert.equal(n.tun, undefined, 'no more writes to a closing interface');
  assert.equal(tun.paused, true);
  assert.deepEqual(w.closing, [tun.name]);
  assert.equal(n.close(), closed, 'closing twice waits for the same close');
  await new Promise((r) => setImmediate(r));
  assert.equal(tun.closed, false, 'the device waits for beforeClose');
  const released = n.release();
  assert.equal(n.release(), released);
  w.release();
  await released;
  assert.equal(tun.closed, true);
  assert.deepEqual(w.closing, [tun.name], 'beforeClose ran once');
  assert.equal(w.addresses.holderOf('192.0.2.1'), undefined);
  assert.equal(w.prefixes.holderOf(given.ipv6Prefix!), undefined);
  assert.ok(w.logs.some((l) => l['msg'] === 'interface-removed' && l['ifname'] === tun.name));
});

test('a name another device holds is skipped; another open error is thrown and the name given back', () => {
  const w = world();
  const n = w.network();
  w.openFailures.push(new TunError('E_TUN_OPEN', 'busy', { code: 'EBUSY' }));
  const tun = n.open(1400);
  const skipped = w.logs.find((l) => l['msg'] === 'interface-name-in-use');
  assert.ok(skipped, 'the busy name is logged');
  assert.notEqual(tun.name, skipped['ifname']);

  const m = w.network('s2');
  const perm = new TunError('E_TUN_OPEN', 'no permission', { code: 'EPERM' });
  w.openFailures.push(perm);
  assert.throws(() => m.open(1400), (e) => e === perm);
  assert.equal(m.tun, undefined);
  const failedName = w.tried.at(-1);
  const next = m.open(1400);
  assert.equal(w.tuns.length, 2);
  assert.equal(next.name, failedName, 'the name of the failed open is free again');
  assert.notEqual(next.name, tun.name);
});

test('the name is chosen before authentication and the interface opened under it; an unused name goes back', async () => {
  const w = world();
  const n = w.network();
  const name = n.reserveName();
  assert.equal(n.reserveName(), name, 'idempotent');
  assert.equal(n.ifname, name);
  assert.equal(n.tun, undefined, 'no interface before authentication');
  assert.ok(!('error' in n.lease(accept())));
  const tun = n.open(1400);
  assert.equal(tun.name, name);
  assert.equal(n.ifname, name);

  const m = w.network('s2');
  const unused = m.reserveName();
  assert.notEqual(unused, name, 'names stay unique');
  await m.release();
  const k = w.network('s3');
  assert.equal(k.reserveName(), unused, 'a session that never opened its interface gives the name back');
});

test('interface-cache: an ended session\'s interface is reset and kept; the next session gets it, name first, counters from zero', async () => {
  const resets: string[] = [];
  const restored: string[] = [];
  const cache = new InterfaceCache(1, { reset: async (n) => void resets.push(n), restoreIpv6: (n) => void restored.push(n) });
  const w = world({ cache });
  w.release();
  const a = w.network('a');
  assert.ok(!('error' in a.lease(accept())));
  const tunA = a.open(1400) as FakeTun;
  tunA.inject([Buffer.alloc(40, 1)]);
  assert.equal(tunA.stats.readPackets, 1);
  await a.release();
  assert.equal(tunA.closed, false, 'kept, not deleted');
  assert.equal(tunA.parked, 1);
  assert.deepEqual(resets, [tunA.name]);
  assert.deepEqual(restored, [tunA.name], 'the IPv6 settings of an IPv6 session go back to the defaults');
  assert.equal(cache.size, 1);
  assert.ok(w.logs.some((l) => l['msg'] === 'interface-cached'));

  const b = w.network('b');
  assert.equal(b.reserveName(), tunA.name, 'NAS-Port-Id of the first Access-Request: the cached interface');
  assert.equal(cache.size, 0);
  assert.ok(!('error' in b.lease(accept())));
  const tunB = b.open(1300);
  assert.equal(tunB, tunA, 'no new device');
  assert.equal(w.tuns.length, 1);
  assert.equal(tunB.stats.readPackets, 0, 'counters are per session');
  assert.equal(tunA.paused, false, 'reading again');
  assert.equal(w.calls.filter((c) => c.startsWith(`configure ${tunA.name} - - 1300`)).length, 1, 'brought up at the new MTU');

  // The cache holds one: a second ended interface is deleted, its name freed.
  const c = w.network('c');
  assert.ok(!('error' in c.lease(accept())));
  const tunC = c.open(1400) as FakeTun;
  await b.release();
  await c.release();
  assert.equal(tunC.closed, true);
  assert.equal(cache.size, 1);
  await cache.clear();
  assert.equal(tunA.closed, true, 'shutdown deletes the cached ones');
});

test('interface-cache: an unused reservation goes back to the cache; a failed reset deletes the interface', async () => {
  let fail = false;
  const cache = new InterfaceCache(2, {
    reset: () => (fail ? Promise.reject(new TunError('E_TUN_CONFIGURE', 'reset failed')) : Promise.resolve()),
    restoreIpv6: () => undefined,
  });
  const w = world({ cache, ipv6: false });
  w.release();
  const a = w.network('a');
  assert.ok(!('error' in a.lease(accept())));
  const tun = a.open(1400) as FakeTun;
  await a.release();
  const b = w.network('b');
  assert.equal(b.reserveName(), tun.name);
  await b.release();
  assert.equal(cache.size, 1, 'an authentication that failed hands the interface back');
  assert.equal(tun.closed, false);

  const c = w.network('c');
  c.reserveName();
  assert.ok(!('error' in c.lease(accept())));
  c.open(1400);
  fail = true;
  await c.release();
  assert.equal(tun.closed, true);
  assert.equal(cache.size, 0);
  assert.ok(w.logs.some((l) => l['msg'] === 'interface-reset-failed'));
});

test('IPCP at the MTU the interface was opened with sets only the addresses; at another MTU the link too', () => {
  const w = world({ ipv6: false });
  const n = w.network();
  assert.ok(!('error' in n.lease(accept())));
  const tun = n.open(1400);
  n.configureIpv4('192.0.2.254', '192.0.2.1', 1400);
  n.configureIpv4('192.0.2.254', '192.0.2.1', 1300);
  // Only the first finds the interface without an IPv4 address (one netlink request); the second changes it.
  assert.deepEqual(w.calls, [`configure ${tun.name} - - 1400`, `configure ${tun.name} 192.0.2.254 192.0.2.1 1400 (link up) (fresh)`, `configure ${tun.name} 192.0.2.254 192.0.2.1 1300`]);
});
