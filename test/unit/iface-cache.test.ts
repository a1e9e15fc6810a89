/**
 * The interface cache (`ppp-options interface-cache`) with fake devices: what it keeps and hands
 * out, in which order the reset steps run, and how a reload or a shutdown deletes what it holds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InterfaceCache } from '../../src/dataplane/iface-cache.js';
import { InterfaceNames } from '../../src/dataplane/iface.js';
import type { TunDevice } from '../../src/dataplane/tun.js';
import { FakeTun } from '../support/fake-tun.js';

function setup(limit: number): { cache: InterfaceCache; steps: string[]; names: InterfaceNames; tun: () => FakeTun } {
  const steps: string[] = [];
  const names = new InterfaceNames('sstp');
  const cache = new InterfaceCache(limit, { reset: async (n) => void steps.push(`reset ${n}`), restoreIpv6: (n) => void steps.push(`ipv6 ${n}`), names });
  return { cache, steps, names, tun: () => new FakeTun(() => undefined, { name: names.take() }) };
}

test('keeps up to its limit, newest first out; IPv6 settings go back before the reset (going down removes what they add)', async () => {
  const { cache, steps, tun } = setup(2);
  const [a, b, c] = [tun(), tun(), tun()];
  assert.equal(await cache.put(a, true), true);
  assert.equal(await cache.put(b, false), true);
  assert.equal(await cache.put(c, false), false, 'full');
  assert.deepEqual(steps, ['ipv6 sstp0', 'reset sstp0', 'reset sstp1']);
  assert.equal(a.parked, 1);
  assert.equal(c.parked, 0, 'a device that is not kept is left alone');
  assert.equal(cache.take(), b);
  assert.equal(cache.take(), a);
  assert.equal(cache.take(), undefined);
});

test('off (0), a closed device or one that cannot be parked: not kept', async () => {
  const off = setup(0);
  assert.equal(await off.cache.put(off.tun(), false), false);
  const { cache, tun, steps } = setup(4);
  const closed = tun();
  void closed.close();
  assert.equal(await cache.put(closed, false), false);
  const f = tun();
  const plain: TunDevice = { name: f.name, closed: false, stats: f.stats, offload: false, write: () => true, setMtu: () => undefined, pause: () => undefined, resume: () => undefined, close: () => Promise.resolve() };
  assert.equal(await cache.put(plain, false), false);
  assert.deepEqual(steps, []);
});

test('a failed reset rejects and keeps nothing; a reset under way counts against the limit', async () => {
  const failing = new InterfaceCache(2, { reset: () => Promise.reject(new Error('EPERM')) });
  await assert.rejects(failing.put(new FakeTun(() => undefined), false), /EPERM/);
  assert.equal(failing.size, 0);
  let finish = (): void => undefined;
  const slow = new InterfaceCache(1, { reset: () => new Promise<void>((r) => (finish = r)) });
  const first = slow.put(new FakeTun(() => undefined, { name: 'sstp0' }), false);
  assert.equal(await slow.put(new FakeTun(() => undefined, { name: 'sstp1' }), false), false, 'the one being reset holds the only place');
  finish();
  assert.equal(await first, true);
});

test('a reload that shrinks the cache while a reset is under way: that interface is not kept', async () => {
  let finish = (): void => undefined;
  const cache = new InterfaceCache(1, { reset: () => new Promise<void>((r) => (finish = r)) });
  const put = cache.put(new FakeTun(() => undefined), false);
  await cache.resize(0);
  finish();
  assert.equal(await put, false);
  assert.equal(cache.size, 0);
});

test('a reload that shrinks it deletes the surplus and frees their names; shutdown deletes the rest', async () => {
  const { cache, names, tun } = setup(3);
  const t = [tun(), tun(), tun()];
  for (const x of t) assert.ok(await cache.put(x, false));
  await cache.resize(1);
  assert.equal(cache.capacity, 1);
  assert.deepEqual(t.map((x) => x.closed), [false, true, true]);
  assert.equal(names.take(), 'sstp1', 'the deleted interfaces\' names are free again');
  await cache.clear();
  assert.equal(t[0]!.closed, true);
  assert.equal(cache.size, 0);
  assert.equal(await cache.put(tun(), false), true, 'still on after clear (stop resizes it to 0 first)');
});
