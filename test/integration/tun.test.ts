/**
 * Real TUN devices in throwaway network namespaces. Node cannot enter a namespace itself, so this
 * file doubles as the helper: run as `node tun.test.js --tun-child` under `ip netns exec`, it opens
 * and drives TUN devices on JSON-line commands from stdin; the tests inspect the namespace with
 * `ip`, `tc` and `ping` from outside.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { findAddon } from '../../native/index.js';
import { cleanupStaleInterfaces, configureInterface, configureIpv6, FALLBACK_TXQUEUELEN, prepareIpv6, route6 } from '../../src/dataplane/iface.js';
import { InterfaceCache } from '../../src/dataplane/iface-cache.js';
import {
  TUN_HEADROOM,
  batchFrame,
  batchPacket,
  offloadWanted,
  openTun,
  type PacketBatch,
  type TunDevice,
  type TunStats,
} from '../../src/dataplane/tun.js';
import { FakeTun } from '../support/fake-tun.js';
import { netnsUnavailable, withNetns, type Netns } from '../support/netns.js';

// ---------------------------------------------------------------- IPv4 / ICMP helpers (both sides)

function checksum(b: Buffer): number {
  let sum = 0;
  for (let i = 0; i + 1 < b.length; i += 2) sum += b.readUInt16BE(i);
  if (b.length % 2 === 1) sum += (b[b.length - 1] ?? 0) << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

interface Echo {
  readonly src: string;
  readonly dst: string;
  readonly icmpType: number;
  readonly icmpId: number;
  readonly icmpSeq: number;
  readonly length: number;
}

/** The ICMP echo fields of an IPv4 packet, or undefined for anything else. */
function parseEcho(p: Buffer): Echo | undefined {
  if (p.length < 20 || (p[0] ?? 0) >> 4 !== 4 || p[9] !== 1) return undefined;
  const ihl = ((p[0] ?? 0) & 15) * 4;
  if (p.length < ihl + 8) return undefined;
  return {
    src: [...p.subarray(12, 16)].join('.'),
    dst: [...p.subarray(16, 20)].join('.'),
    icmpType: p[ihl] ?? -1,
    icmpId: p.readUInt16BE(ihl + 4),
    icmpSeq: p.readUInt16BE(ihl + 6),
    length: p.readUInt16BE(2),
  };
}

/** Echo reply to an echo request: addresses swapped, type 0, both checksums recomputed. */
function echoReply(req: Buffer): Buffer {
  const r = Buffer.from(req);
  const ihl = ((r[0] ?? 0) & 15) * 4;
  req.copy(r, 12, 16, 20);
  req.copy(r, 16, 12, 16);
  r[8] = 64;
  r.writeUInt16BE(0, 10);
  r.writeUInt16BE(checksum(r.subarray(0, ihl)), 10);
  r[ihl] = 0;
  r.writeUInt16BE(0, ihl + 2);
  r.writeUInt16BE(checksum(r.subarray(ihl, r.readUInt16BE(2))), ihl + 2);
  return r;
}

// ---------------------------------------------------------------- child side (inside the netns)

interface SeenPacket extends Echo {
  /** Packet start is 8-aligned with 8 bytes of headroom before it. */
  readonly aligned: boolean;
  /** Writing every headroom of the batch left every packet intact. */
  readonly headroomOk: boolean;
  readonly batchSize: number;
  readonly replied: boolean;
}

interface ChildDevice {
  readonly dev: TunDevice;
  readonly seen: SeenPacket[];
  other: number;
  respond: boolean;
}

type Command =
  | { op: 'open'; template?: string }
  | { op: 'configure'; name: string; local: string; peer: string; mtu: number; fresh?: boolean }
  | { op: 'close' | 'respond' | 'pause' | 'resume' | 'seen' | 'writeAfterClose' | 'ipv6' | 'park' | 'reuse'; name: string }
  | { op: 'cleanup'; prefix: string };

function onBatch(d: ChildDevice, batch: PacketBatch): void {
  const copies: Buffer[] = [];
  for (let i = 0; i < batch.count; i++) copies.push(Buffer.from(batchPacket(batch, i)));
  for (let i = 0; i < batch.count; i++) batchFrame(batch, i).fill(0xa5, 0, TUN_HEADROOM);
  for (let i = 0; i < batch.count; i++) {
    const view = batchPacket(batch, i);
    const copy = copies[i] ?? Buffer.alloc(0);
    const echo = parseEcho(view);
    if (!echo || echo.icmpType !== 8) {
      d.other++;
      continue;
    }
    const off = batch.offsets[i] ?? 0;
    const replied = d.respond && d.dev.write(echoReply(view));
    d.seen.push({
      ...echo,
      aligned: off >= TUN_HEADROOM && off % 8 === 0,
      headroomOk: view.equals(copy),
      batchSize: batch.count,
      replied,
    });
  }
}

function runChild(): void {
  const devices = new Map<string, ChildDevice>();
  const device = (name: string): ChildDevice => {
    const d = devices.get(name);
    if (!d) throw new Error(`no device ${name}`);
    return d;
  };
  const handle = async (c: Command): Promise<unknown> => {
    switch (c.op) {
      case 'open': {
        const holder: { d?: ChildDevice } = {};
        const dev = openTun((b) => holder.d && onBatch(holder.d, b), {
          ...(c.template !== undefined ? { nameTemplate: c.template } : {}),
          onError: (e) => process.stderr.write(`tun error: ${e.message}\n`),
        });
        holder.d = { dev, seen: [], other: 0, respond: false };
        devices.set(dev.name, holder.d);
        return { name: dev.name };
      }
      case 'configure':
        configureInterface(c.name, { local: c.local, peer: c.peer, mtu: c.mtu, ...(c.fresh ? { fresh: true } : {}) });
        return {};
      case 'close': {
        const d = device(c.name);
        const first = d.dev.close();
        assert.equal(d.dev.close(), first, 'close() is idempotent');
        await first;
        return { closed: d.dev.closed };
      }
      case 'writeAfterClose':
        return { written: device(c.name).dev.write(Buffer.alloc(20)) };
      case 'respond':
        device(c.name).respond = true;
        return {};
      case 'pause':
        device(c.name).dev.pause();
        return {};
      case 'resume':
        device(c.name).dev.resume();
        return {};
      case 'seen': {
        const d = device(c.name);
        return { seen: d.seen, other: d.other, stats: d.dev.stats };
      }
      case 'cleanup':
        return { removed: await cleanupStaleInterfaces(c.prefix) };
      case 'ipv6':
        prepareIpv6(c.name);
        configureIpv6(c.name, { linkLocal: 'fe80::1', prefix: '2001:db8:5::/64' });
        route6(c.name, 'add', '2001:db8:600::/56');
        return {};
      case 'park':
        return { kept: await new InterfaceCache(1).put(device(c.name).dev, true) };
      case 'reuse': {
        const d = device(c.name);
        d.seen.length = 0;
        d.other = 0;
        d.dev.reuse!((b) => onBatch(d, b));
        return {};
      }
    }
  };
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    const { seq, cmd } = JSON.parse(line) as { seq: number; cmd: Command };
    handle(cmd).then(
      (result) => process.stdout.write(JSON.stringify({ seq, ok: true, result }) + '\n'),
      (e: unknown) => {
        const err = e as { code?: string; errno?: string; message?: string };
        const error = { code: err.code, errno: err.errno, message: err.message ?? String(e) };
        process.stdout.write(JSON.stringify({ seq, ok: false, error }) + '\n');
      },
    );
  });
  rl.on('close', () => {
    void Promise.all([...devices.values()].map((d) => d.dev.close())).then(() => process.exit(0));
  });
}

// ---------------------------------------------------------------- parent side (the tests)

interface ChildError {
  readonly code?: string;
  readonly errno?: string;
  readonly message: string;
}

class ChildFailure extends Error {
  constructor(readonly error: ChildError) {
    super(`child: ${error.code ?? ''} ${error.message}`);
  }
}

/** Talks to a `--tun-child` process running inside a namespace. */
class TunChild {
  private seq = 0;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private exited: Error | undefined;

  constructor(private readonly proc: ChildProcess) {
    const rl = createInterface({ input: proc.stdout! });
    rl.on('line', (line) => {
      const msg = JSON.parse(line) as { seq: number; ok: boolean; result?: unknown; error?: ChildError };
      const p = this.pending.get(msg.seq);
      this.pending.delete(msg.seq);
      if (!p) return;
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new ChildFailure(msg.error ?? { message: 'unknown' }));
    });
    proc.once('exit', (code, signal) => {
      this.exited = new Error(`tun child exited (${code ?? signal})`);
      for (const p of this.pending.values()) p.reject(this.exited);
      this.pending.clear();
    });
  }

  call<T>(cmd: Command): Promise<T> {
    if (this.exited) return Promise.reject(this.exited);
    const seq = this.seq++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(seq, { resolve: (v) => resolve(v as T), reject });
      this.proc.stdin!.write(JSON.stringify({ seq, cmd }) + '\n');
    });
  }

  async open(template?: string): Promise<string> {
    const r = await this.call<{ name: string }>(template === undefined ? { op: 'open' } : { op: 'open', template });
    return r.name;
  }

  seen(name: string): Promise<{ seen: SeenPacket[]; other: number; stats: TunStats }> {
    return this.call({ op: 'seen', name });
  }
}

async function withChild(fn: (ns: Netns, child: TunChild) => Promise<void>): Promise<void> {
  await withNetns(async (ns) => {
    const self = fileURLToPath(import.meta.url);
    const proc = ns.spawn(process.execPath, ['--enable-source-maps', self, '--tun-child'], {
      stdio: ['pipe', 'pipe', 'inherit'],
      cwd: process.cwd(),
    });
    await fn(ns, new TunChild(proc));
  });
}

interface IpAddr {
  ifname: string;
  mtu: number;
  txqlen: number;
  flags: string[];
  addr_info: { family: string; local: string; address?: string; prefixlen: number }[];
}
interface IpRoute {
  dst: string;
  dev: string;
  prefsrc?: string;
  protocol?: string;
  scope?: string;
}
interface IpLink {
  ifname: string;
  linkinfo?: { info_kind?: string; info_data?: { type?: string; pi?: boolean; persist?: boolean } };
}

async function ipJson<T>(ns: Netns, args: string[]): Promise<T> {
  return JSON.parse((await ns.exec('ip', ['-j', ...args])).stdout) as T;
}

async function linkNames(ns: Netns): Promise<string[]> {
  return (await ipJson<IpLink[]>(ns, ['link', 'show'])).map((l) => l.ifname).sort();
}

/** Packets the qdisc of `dev` has handed to the driver (the TUN queue). */
async function qdiscSent(ns: Netns, dev: string): Promise<number> {
  const q = JSON.parse((await ns.exec('tc', ['-s', '-j', 'qdisc', 'show', 'dev', dev])).stdout) as {
    packets?: number;
  }[];
  return q.reduce((n, e) => n + (e.packets ?? 0), 0);
}

/** Polls `probe` until it returns true; a bound, not a timing assertion. */
async function waitFor(what: string, probe: () => Promise<boolean>, tries = 200): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await probe()) return;
    await sleep(25);
  }
  assert.fail(`gave up waiting for ${what}`);
}

const LINK = { local: '10.99.0.1', peer: '10.99.0.2', mtu: 1400 } as const;

function hasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function registerTests(): void {
  const noNetns = netnsUnavailable() ?? (existsSync('/dev/net/tun') ? undefined : 'no /dev/net/tun');
  const noPing = noNetns ?? (hasCommand('ping') ? undefined : 'ping (iputils-ping) is not installed');

  describe('native TUN in a network namespace', { skip: noNetns ?? false }, () => {
    it('has a built addon', () => {
      assert.ok(findAddon(), 'native/build/Release/sstpd_tun.node missing: npx node-gyp rebuild --directory native');
    });

    it('configures address, peer route, mtu and flags; close deletes the interface', async () => {
      await withChild(async (ns, child) => {
        const name = await child.open();
        assert.equal(name, 'sstp0');
        await child.call({ op: 'configure', name, ...LINK });

        const [addr] = await ipJson<IpAddr[]>(ns, ['addr', 'show', 'dev', name]);
        assert.ok(addr);
        assert.equal(addr.ifname, 'sstp0');
        assert.equal(addr.mtu, 1400);
        // Without offload the queue is lengthened (its overflow was the TCP retransmits); with it,
        // TUN's default 500 super-packets stay. The suite runs both ways (SSTPD_TUN_OFFLOAD=0).
        assert.equal(addr.txqlen, offloadWanted() ? 500 : FALLBACK_TXQUEUELEN);
        for (const f of ['UP', 'POINTOPOINT', 'NOARP']) assert.ok(addr.flags.includes(f), `flag ${f} in ${addr.flags}`);
        const inet = addr.addr_info.filter((a) => a.family === 'inet');
        assert.deepEqual(
          inet.map((a) => ({ local: a.local, address: a.address, prefixlen: a.prefixlen })),
          [{ local: '10.99.0.1', address: '10.99.0.2', prefixlen: 32 }],
        );

        const routes = await ipJson<IpRoute[]>(ns, ['route', 'show']);
        const peer = routes.find((r) => r.dst === '10.99.0.2');
        assert.ok(peer, `peer route missing: ${JSON.stringify(routes)}`);
        assert.equal(peer.dev, 'sstp0');
        assert.equal(peer.prefsrc, '10.99.0.1');
        assert.equal(peer.protocol, 'kernel');
        assert.equal(peer.scope, 'link');

        const [link] = await ipJson<IpLink[]>(ns, ['-d', 'link', 'show', 'dev', name]);
        assert.equal(link?.linkinfo?.info_kind, 'tun');
        assert.equal(link?.linkinfo?.info_data?.type, 'tun');
        assert.equal(link?.linkinfo?.info_data?.pi, false);
        assert.equal(link?.linkinfo?.info_data?.persist, false);

        assert.deepEqual(await child.call({ op: 'close', name }), { closed: true });
        assert.deepEqual(await linkNames(ns), ['lo']);
        const after = await ipJson<IpRoute[]>(ns, ['route', 'show']);
        assert.equal(after.find((r) => r.dst === '10.99.0.2'), undefined);
        assert.deepEqual(await child.call({ op: 'writeAfterClose', name }), { written: false });
      });
    });

    it('fresh: the addresses as one netlink request give the same address and peer route; a later configure changes them', async () => {
      await withChild(async (ns, child) => {
        const name = await child.open();
        await child.call({ op: 'configure', name, ...LINK, fresh: true });
        const inet = async (): Promise<unknown[]> =>
          (await ipJson<IpAddr[]>(ns, ['addr', 'show', 'dev', name]))[0]!.addr_info
            .filter((a) => a.family === 'inet')
            .map((a) => ({ local: a.local, address: a.address, prefixlen: a.prefixlen }));
        assert.deepEqual(await inet(), [{ local: '10.99.0.1', address: '10.99.0.2', prefixlen: 32 }]);
        const peer = (await ipJson<IpRoute[]>(ns, ['route', 'show'])).find((r) => r.dst === '10.99.0.2');
        assert.deepEqual(peer && { dev: peer.dev, prefsrc: peer.prefsrc, protocol: peer.protocol, scope: peer.scope }, { dev: name, prefsrc: '10.99.0.1', protocol: 'kernel', scope: 'link' });
        // An LCP renegotiation configures again (not fresh): the one address is changed, not doubled.
        await child.call({ op: 'configure', name, local: '10.99.0.1', peer: '10.99.0.3', mtu: 1400 });
        assert.deepEqual(await inet(), [{ local: '10.99.0.1', address: '10.99.0.3', prefixlen: 32 }]);
        // Fresh means no IPv4 address yet: the kernel refuses the same address twice (a netlink error).
        await assert.rejects(child.call({ op: 'configure', name, local: '10.99.0.1', peer: '10.99.0.3', mtu: 1400, fresh: true }), (e: ChildFailure) => {
          assert.equal(e.error.errno, 'EEXIST');
          assert.equal(e.error.code, 'E_TUN_CONFIGURE');
          assert.match(e.error.message, /netlink\(RTM_NEWADDR\)/);
          return true;
        });
        assert.deepEqual(await child.call({ op: 'close', name }), { closed: true });
      });
    });

    it('rejects bad configuration with E_TUN_CONFIGURE', async () => {
      await withChild(async (_ns, child) => {
        const name = await child.open();
        await assert.rejects(child.call({ op: 'configure', name, ...LINK, mtu: 5000 }), (e: ChildFailure) => {
          assert.equal(e.error.code, 'E_TUN_CONFIGURE');
          assert.match(e.error.message, /mtu 5000 is outside 68\.\.4087/);
          return true;
        });
        await assert.rejects(child.call({ op: 'configure', name: 'sstp5', ...LINK }), (e: ChildFailure) => {
          assert.equal(e.error.code, 'E_TUN_CONFIGURE');
          assert.equal(e.error.errno, 'ENODEV');
          return true;
        });
      });
    });

    it('delivers ping echo requests in batches with headroom; a JS-built reply completes ping', { skip: noPing ?? false }, async () => {
      await withChild(async (ns, child) => {
        const name = await child.open();
        await child.call({ op: 'configure', name, ...LINK });
        await child.call({ op: 'respond', name });

        const small = await ns.exec('ping', ['-n', '-c1', '-W5', '10.99.0.2']);
        assert.match(small.stdout, /1 received/);
        const big = await ns.exec('ping', ['-n', '-c1', '-W5', '-M', 'do', '-s', '1372', '10.99.0.2']);
        assert.match(big.stdout, /1 received/);

        const { seen, stats } = await child.seen(name);
        const echoes = seen.filter((s) => s.dst === '10.99.0.2');
        assert.equal(echoes.length, 2);
        for (const e of echoes) {
          assert.equal(e.src, '10.99.0.1');
          assert.equal(e.icmpType, 8);
          assert.ok(e.aligned, 'packet at an 8-aligned offset with headroom');
          assert.ok(e.headroomOk, 'headroom writes must not touch packets');
          assert.ok(e.replied);
          assert.ok(e.batchSize >= 1);
        }
        assert.deepEqual(echoes.map((e) => e.length), [84, 1400]);
        assert.ok(stats.readPackets >= 2 && stats.readBatches >= 1 && stats.readBatches <= stats.readPackets);
        assert.ok(stats.readBytes >= 84 + 1400);
        assert.equal(stats.writtenPackets, 2);
        assert.equal(stats.writtenBytes, 84 + 1400);
        assert.equal(stats.writeDropped, 0);
      });
    });

    it('drops and counts packets longer than 4096 bytes, then keeps reading', { skip: noPing ?? false }, async () => {
      await withChild(async (ns, child) => {
        const name = await child.open();
        await child.call({ op: 'configure', name, ...LINK });
        await child.call({ op: 'respond', name });
        await ns.exec('ip', ['link', 'set', 'dev', name, 'mtu', '9000']);
        await ns.exec('ping', ['-n', '-c1', '-W1', '-s', '5000', '10.99.0.2']).catch(() => undefined);
        await waitFor('the oversized packet to be dropped', async () => (await child.seen(name)).stats.readTruncated === 1);
        assert.match((await ns.exec('ping', ['-n', '-c1', '-W5', '10.99.0.2'])).stdout, /1 received/);
        const { seen, stats } = await child.seen(name);
        assert.deepEqual(seen.filter((e) => e.dst === '10.99.0.2').map((e) => e.length), [84]);
        assert.equal(stats.readTruncated, 1);
      });
    });

    it('pause() holds packets in the kernel queue until resume()', { skip: noPing ?? false }, async () => {
      await withChild(async (ns, child) => {
        const name = await child.open();
        await child.call({ op: 'configure', name, ...LINK });
        await child.call({ op: 'respond', name });
        await child.call({ op: 'pause', name });
        // IPv6 chatter may have been read before the pause; from here on nothing may be.
        const readBefore = (await child.seen(name)).stats.readPackets;
        const sentBefore = await qdiscSent(ns, name);
        const ping = ns.exec('ping', ['-n', '-c1', '-W20', '10.99.0.2']);
        ping.catch(() => undefined);
        await waitFor('the echo request to reach the TUN queue', async () => (await qdiscSent(ns, name)) > sentBefore);
        const paused = await child.seen(name);
        assert.equal(paused.stats.readPackets, readBefore, 'nothing read while paused');
        assert.equal(paused.seen.length, 0);
        await child.call({ op: 'resume', name });
        assert.match((await ping).stdout, /1 received/);
        const { seen } = await child.seen(name);
        assert.equal(seen.filter((s) => s.dst === '10.99.0.2').length, 1);
      });
    });

    it('interface cache: a parked interface is down with no address, route or queued packet; reused, it works afresh', { skip: noPing ?? false }, async () => {
      await withChild(async (ns, child) => {
        const name = await child.open();
        const defaults = async (): Promise<string[]> =>
          Promise.all(['disable_ipv6', 'addr_gen_mode', 'accept_ra', 'autoconf'].map(async (k) => (await ns.exec('cat', [`/proc/sys/net/ipv6/conf/default/${k}`])).stdout.trim()));
        const settings = async (): Promise<string[]> =>
          Promise.all(['disable_ipv6', 'addr_gen_mode', 'accept_ra', 'autoconf'].map(async (k) => (await ns.exec('cat', [`/proc/sys/net/ipv6/conf/${name}/${k}`])).stdout.trim()));
        await child.call({ op: 'configure', name, ...LINK });
        await child.call({ op: 'ipv6', name });
        // What else a session may leave: a second address and a Framed-Route through the interface.
        await ns.exec('ip', ['addr', 'add', '10.98.0.1/24', 'dev', name]);
        await ns.exec('ip', ['route', 'add', '10.97.0.0/16', 'dev', name]);
        assert.notDeepEqual(await settings(), await defaults(), 'the IPv6 settings were changed');
        // A packet for the old client waits in the kernel queue while the reader is paused.
        await child.call({ op: 'pause', name });
        const sentBefore = await qdiscSent(ns, name);
        const ping = ns.exec('ping', ['-n', '-c1', '-W1', '10.99.0.2']);
        ping.catch(() => undefined);
        await waitFor('the echo request to reach the TUN queue', async () => (await qdiscSent(ns, name)) > sentBefore);

        assert.deepEqual(await child.call({ op: 'park', name }), { kept: true });
        const [addr] = await ipJson<IpAddr[]>(ns, ['addr', 'show', 'dev', name]);
        assert.ok(addr);
        assert.ok(!addr.flags.includes('UP'), `down: ${addr.flags.join(',')}`);
        assert.deepEqual(addr.addr_info, [], 'no IPv4 or IPv6 address left');
        assert.deepEqual(await ipJson<IpRoute[]>(ns, ['route', 'show', 'dev', name]), []);
        assert.deepEqual(await ipJson<IpRoute[]>(ns, ['-6', 'route', 'show', 'dev', name]), []);
        assert.deepEqual(await settings(), await defaults(), 'IPv6 settings back to the defaults');
        assert.deepEqual(await linkNames(ns), ['lo', name], 'the interface itself is kept');

        await child.call({ op: 'reuse', name });
        await child.call({ op: 'respond', name });
        await child.call({ op: 'configure', name, local: '10.96.0.1', peer: '10.96.0.2', mtu: 1300 });
        const [again] = await ipJson<IpAddr[]>(ns, ['addr', 'show', 'dev', name]);
        assert.deepEqual(again?.addr_info.filter((a) => a.family === 'inet').map((a) => `${a.local} ${a.address ?? ''}`), ['10.96.0.1 10.96.0.2']);
        assert.equal(again?.mtu, 1300);
        assert.match((await ns.exec('ping', ['-n', '-c1', '-W5', '10.96.0.2'])).stdout, /1 received/);
        const { seen, stats } = await child.seen(name);
        assert.deepEqual(seen.map((e) => e.dst), ['10.96.0.2'], 'the old session\'s queued packet was discarded');
        assert.equal(stats.readPackets, seen.length + (await child.seen(name)).other, 'counters start from zero');
      });
    });

    it('numbers interfaces from the template: sstp0, sstp1, then reuses the first free', async () => {
      await withChild(async (ns, child) => {
        assert.equal(await child.open(), 'sstp0');
        assert.equal(await child.open(), 'sstp1');
        assert.deepEqual(await linkNames(ns), ['lo', 'sstp0', 'sstp1']);
        await child.call({ op: 'close', name: 'sstp0' });
        assert.deepEqual(await linkNames(ns), ['lo', 'sstp1']);
        assert.equal(await child.open(), 'sstp0');
        assert.equal(await child.open('vpn%d'), 'vpn0');
      });
    });

    it('cleanupStaleInterfaces removes only persistent sstpN TUNs', async () => {
      await withChild(async (ns, child) => {
        await ns.exec('ip', ['tuntap', 'add', 'dev', 'sstp7', 'mode', 'tun']);
        await ns.exec('ip', ['tuntap', 'add', 'dev', 'other3', 'mode', 'tun']);
        // A dummy when the kernel has it, else a bridge: any non-TUN device that shares the prefix.
        await ns.exec('ip', ['link', 'add', 'sstp9', 'type', 'dummy']).catch(() =>
          ns.exec('ip', ['link', 'add', 'sstp9', 'type', 'bridge']),
        );
        assert.equal(await child.open(), 'sstp0'); // live, non-persistent: someone's session
        assert.deepEqual(await linkNames(ns), ['lo', 'other3', 'sstp0', 'sstp7', 'sstp9']);
        assert.deepEqual(await child.call({ op: 'cleanup', prefix: 'sstp' }), { removed: ['sstp7'] });
        assert.deepEqual(await linkNames(ns), ['lo', 'other3', 'sstp0', 'sstp9']);
        assert.deepEqual(await child.call({ op: 'cleanup', prefix: 'sstp' }), { removed: [] });
      });
    });
  });

  describe('FakeTun', () => {
    const pkt = (n: number, fill: number): Buffer => Buffer.alloc(n, fill);

    it('delivers injected packets as one batch with the native layout, then poisons the slab', () => {
      let kept: Buffer | undefined;
      const got: { offsets: number[]; data: string[]; headroom: string[] } = { offsets: [], data: [], headroom: [] };
      const tun = new FakeTun((b) => {
        for (let i = 0; i < b.count; i++) {
          got.offsets.push(b.offsets[i] ?? -1);
          got.data.push(batchPacket(b, i).toString('hex'));
          const frame = batchFrame(b, i);
          frame.fill(0x11, 0, TUN_HEADROOM);
          got.headroom.push(frame.subarray(0, TUN_HEADROOM).toString('hex'));
        }
        kept = batchPacket(b, 0);
      });
      tun.inject([pkt(3, 0xab), pkt(20, 0xcd)]);
      assert.deepEqual(got.offsets, [8, 24]);
      assert.deepEqual(got.data, ['ababab', 'cd'.repeat(20)]);
      assert.deepEqual(got.headroom, ['11'.repeat(8), '11'.repeat(8)]);
      assert.equal(kept?.toString('hex'), 'eeeeee', 'views must not outlive the batch');
      assert.deepEqual({ ...tun.stats }, {
        readPackets: 2, readBytes: 23, readBatches: 1, writtenPackets: 0, writtenBytes: 0, writeDropped: 0, writeRefused: 0, readTruncated: 0,
        readSuperPackets: 0, readRefused: 0, writeCalls: 0,
      });
    });

    it('queues while paused (bounded), delivers on resume; records and drops writes', () => {
      const counts: number[] = [];
      const tun = new FakeTun((b) => counts.push(b.count), { queueLimit: 70 });
      tun.pause();
      tun.inject(Array.from({ length: 72 }, (_, i) => pkt(1, i)));
      assert.deepEqual(counts, []);
      assert.equal(tun.queueDropped, 2);
      tun.resume();
      assert.deepEqual(counts, [64, 6]);

      assert.equal(tun.write(Buffer.from([1, 2, 3])), true);
      tun.dropWrites = true;
      assert.equal(tun.write(Buffer.from([4])), false);
      assert.deepEqual(tun.written.map((b) => b.toString('hex')), ['010203']);
      assert.equal(tun.stats.writeDropped, 1);
      tun.close();
      assert.equal(tun.write(Buffer.from([5])), false);
    });

    it('reports failures to onError', () => {
      const errors: string[] = [];
      const tun = new FakeTun(() => undefined, { onError: (e) => errors.push(e.code) });
      tun.fail();
      assert.deepEqual(errors, ['E_TUN_IO']);
      assert.equal(tun.paused, true);
    });
  });
}

if (process.argv.includes('--tun-child')) runChild();
else registerTests();
