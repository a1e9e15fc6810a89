/**
 * A worker's view of the shared pools (src/server/worker.ts SharedState) against a primary-side
 * peer holding real books: one reservation per session, handed out by the books the session code
 * leases from, released back when the session lets go; a delegated prefix reserved with the
 * prefix goes back with it when it was never bound; a second worker never gets the same lease.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RpcPeer, type Envelope, type PrimaryCalls, type PrimaryNotes, type WorkerCalls, type WorkerNotes } from '../../src/server/ipc.js';
import { SharedState, type WorkerPeer } from '../../src/server/worker.js';
import { AddressBook, Ipv4Pool } from '../../src/ip/pool.js';
import { Ipv6PrefixBook, Ipv6PrefixPool } from '../../src/ip/pool6.js';
import { formatPrefix6 } from '../../src/ip/ipv6-addr.js';
import type { Runtime } from '../../src/server/runtime.js';
import type { Ipv6PoolSet } from '../../src/ip/pool6.js';
import type { AuthAccept } from '../../src/auth/backend.js';

const pools = (): Map<string, Ipv4Pool> => new Map([['default', new Ipv4Pool('default', ['192.0.2.0/30'])]]);
const v6 = (): Ipv6PoolSet => ({
  pools: new Map([
    [
      'default',
      {
        prefix: new Ipv6PrefixPool('p', [{ prefix: '2001:db8::/48', childLen: 64 }]),
        delegate: new Ipv6PrefixPool('d', [{ prefix: '2001:db8:100::/40', childLen: 56 }]),
      },
    ],
  ]),
  defaultPool: 'default',
});
const runtime = (ipv6: boolean): Runtime =>
  ({ policy: { ...(ipv6 ? { ipv6: { dns: [] } } : {}) }, pools: pools(), config: { defaultIpv4Pool: 'default' }, ipv6Pools: v6() }) as unknown as Runtime;
const accept = (username: string): AuthAccept => ({ username }) as AuthAccept;

/** A primary with real books, and a worker connected to it (messages delivered at once). */
function cluster() {
  const addresses = new AddressBook(pools(), 'default');
  const prefixes = new Ipv6PrefixBook(v6());
  const notes: string[] = [];
  let toWorker: (m: Envelope) => void = () => undefined;
  let toPrimary: (m: Envelope) => void = () => undefined;
  const primary = new RpcPeer<WorkerCalls, WorkerNotes, PrimaryCalls, PrimaryNotes>((m) => queueMicrotask(() => toWorker(structuredClone(m))), {
    reserve: (r) => {
      const prefix = r.ipv6 ? prefixes.lease(r.sid, 'prefix') : undefined;
      return {
        ...(r.ipv4 ? { ipv4: addresses.lease(r.sid, r.ipv4.staticIp, r.ipv4.poolName) } : {}),
        ...(prefix ? { prefix } : {}),
        ...(prefix && 'prefix' in prefix && r.ipv6?.delegate ? { delegate: prefixes.lease(r.sid, 'delegate') } : {}),
      };
    },
  }, {
    release: ({ sid, ip, prefix }) => {
      if (ip) addresses.release(sid, ip);
      if (prefix) prefixes.release(sid, prefix);
      notes.push(`release ${ip ?? formatPrefix6(prefix!)}`);
    },
    down: ({ sid }) => void notes.push(`down ${sid}`),
  });
  const worker = (): SharedState => {
    const peer: WorkerPeer = new RpcPeer((m) => queueMicrotask(() => toPrimary(structuredClone(m))), {}, {});
    toWorker = (m) => peer.receive(m);
    toPrimary = (m) => primary.receive(m);
    return new SharedState(peer);
  };
  return { addresses, prefixes, notes, worker };
}

describe('shared pools seen from a worker', () => {
  it('reserves once, hands out through the books, releases after the session', async () => {
    const c = cluster();
    const w = c.worker();
    w.configure(runtime(false));
    await w.authorizing('s1', accept('alice'));
    assert.equal(c.addresses.holderOf('192.0.2.1'), 's1', 'leased at the primary');
    assert.deepEqual(w.addresses.lease('s1'), { ip: '192.0.2.1' });
    assert.ok('error' in w.addresses.lease('s1'), 'a reservation is handed out once');
    await w.authorizing('s1', accept('alice')); // LCP renegotiation: no second reservation
    assert.equal(c.addresses.holderOf('192.0.2.2'), undefined);
    w.addresses.release('s1', '192.0.2.1');
    w.released('s1');
    await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(c.notes, ['release 192.0.2.1', 'down s1']);
    assert.equal(c.addresses.holderOf('192.0.2.1'), undefined);
  });

  it('IPv6: prefix and delegate reserved together; an unbound delegate goes back with the prefix', async () => {
    const c = cluster();
    const w = c.worker();
    w.configure(runtime(true));
    await w.authorizing('s1', accept('bob'));
    const p = w.prefixes.lease('s1', 'prefix');
    assert.ok('prefix' in p);
    assert.equal(formatPrefix6(p.prefix), '2001:db8::/64');
    assert.equal(c.prefixes.poolStats().find((x) => x.name === 'd')?.used, 1, 'the delegate is reserved');
    w.prefixes.release('s1', p.prefix);
    await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(c.notes, ['release 2001:db8::/64', 'release 2001:db8:100::/56']);
    assert.equal(c.prefixes.poolStats().find((x) => x.name === 'd')?.used, 0);
  });

  it('two workers never get the same address', async () => {
    const c = cluster();
    const a = c.worker();
    a.configure(runtime(false));
    await a.authorizing('a1', accept('u1'));
    const b = c.worker();
    b.configure(runtime(false));
    await b.authorizing('b1', accept('u2'));
    assert.deepEqual(a.addresses.lease('a1'), { ip: '192.0.2.1' });
    assert.deepEqual(b.addresses.lease('b1'), { ip: '192.0.2.2' });
  });
});
