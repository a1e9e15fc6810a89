/**
 * The session lifecycle in the in-process daemon, with fake TUN devices, interface calls and a
 * recording shaper on one timeline, and our TLS client: the rate limit is on the interface before
 * the client is up and off it before the interface goes; a limit that cannot be enforced ends the
 * session; a user's new session gets the same static address only after the old interface and
 * lease are gone; IPv6 gets its interface setup, and its prefix goes back when the client refuses IPV6CP;
 * a session that ends with a backlog in its outbound queue gives every byte back to the process's budget.
 */
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Daemon } from '../../src/server/daemon.js';
import type { BatchHandler, TunDevice } from '../../src/dataplane/tun.js';
import { FakeTun } from '../support/fake-tun.js';
import type { Shaper } from '../../src/dataplane/shaper-api.js';
import type { RateLimit } from '../../src/config/model.js';
import { generateTestCertificates } from '../../src/config/certs.js';
import { TestClient } from '../support/client.js';
import { collectingLogger, startInProcess } from '../support/in-process.js';
import { eventually, freeHostPort } from '../support/daemon.js';
import { icmpEchoRequest } from '../support/icmp.js';
import { processQueueBudget } from '../../src/session/queue-budget.js';

/** Everything the fakes saw, in order: `open X`, `configure X local peer mtu`, `shape X d/u|none`, `close X`, … */
const timeline: string[] = [];
const tuns: FakeTun[] = [];
const logs: Record<string, unknown>[] = [];
const events = (msg: string): Record<string, unknown>[] => logs.filter((l) => l['msg'] === msg);

class TimelineTun extends FakeTun {
  override close(): Promise<void> {
    if (!this.closed) timeline.push(`close ${this.name}`);
    return super.close();
  }
}

class TimelineShaper implements Shaper {
  fail = false;
  apply(ifname: string, limit: RateLimit | undefined): Promise<void> {
    timeline.push(`shape ${ifname} ${limit ? `${limit.downloadKbit}/${limit.uploadKbit}` : 'none'}`);
    // The kernel takes a while: the session must not move on as if it were done.
    return new Promise((resolve, reject) => setTimeout(() => (this.fail && limit ? reject(new Error('tc: Operation not permitted')) : resolve()), 20));
  }
}

describe('session lifecycle in the in-process daemon', () => {
  let dir: string;
  let daemon: Daemon;
  let port: number;
  const shaper = new TimelineShaper();
  let tunCount = 0;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sstpd-lifecycle-'));
    const certs = await generateTestCertificates(dir);
    port = await freeHostPort();
    const U = 'set vpn sstp authentication local-users username';
    daemon = await startInProcess({
      dir,
      certs,
      port,
      lines: [
        'set vpn sstp authentication mode local',
        `${U} shaped password shaped-pw`,
        `${U} shaped rate-limit download 4000`,
        `${U} shaped rate-limit upload 2000`,
        `${U} fixed password fixed-pw`,
        `${U} fixed static-ip 192.0.2.9`,
        `${U} plain password plain-pw`,
        'set vpn sstp client-ipv6-pool prefix 2001:db8:7::/56 mask 64',
        // We start IPV6CP (1.3's implicit `allow` waits for the client): a client refusing it gives the prefix back.
        'set vpn sstp ppp-options ipv6 prefer',
      ],
      log: collectingLogger(logs),
      shaper,
      sessionIo: {
        openTun: (onPackets: BatchHandler): TunDevice => {
          const t = new TimelineTun(onPackets, { name: `sstpfake${tunCount++}` });
          tuns.push(t);
          timeline.push(`open ${t.name}`);
          return t;
        },
        configureInterface: (name, a) => void timeline.push(`configure ${name} ${a.local ?? '-'} ${a.peer ?? '-'} ${a.mtu}`),
        ipv6Interface: {
          prepare: (name) => void timeline.push(`prepare6 ${name}`),
          configure: (name, c) => void timeline.push(`configure6 ${name} ${c.linkLocal} ${c.prefix}`),
          route: (name, op, prefix) => void timeline.push(`route6 ${name} ${op} ${prefix}`),
        },
        addRoute: () => Promise.resolve(),
      },
    });
  });

  after(async () => {
    await daemon?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  // Each test starts from nothing: the last one's sessions and interfaces are gone.
  afterEach(() => eventually(() => daemon.sessions().length === 0 && tuns.every((t) => t.closed), 5000, 'every session and interface to go'));

  beforeEach(() => {
    timeline.length = 0;
    logs.length = 0;
    shaper.fail = false;
  });

  const sessionDown = (username: string): Promise<Record<string, unknown>> =>
    eventually(() => events('session-down').some((l) => l['username'] === username), 5000, `session-down of ${username}`).then(
      () => events('session-down').find((l) => l['username'] === username)!,
    );

  it('the rate limit is on the interface before its addresses and off it before the interface goes', async () => {
    const c = await TestClient.connect({ port, username: 'shaped', password: 'shaped-pw' });
    // The shaper is a pre-up hook: the session is up (data moves) once it is on.
    await eventually(() => events('session-up').length > 0, 5000, 'session-up');
    const ifname = String(events('session-up')[0]?.['ifname']);
    await c.close();
    await sessionDown('shaped');
    await eventually(() => timeline.includes(`close ${ifname}`), 5000, 'the interface to go');
    const mtu = timeline.find((t) => t.startsWith(`configure ${ifname} - -`))!;
    assert.deepEqual(timeline, [
      `open ${ifname}`,
      mtu,
      `shape ${ifname} 4000/2000`,
      `configure ${ifname} 192.0.2.254 ${c.info?.ipv4 ?? events('authenticated')[0]?.['ip']} ${mtu.split(' ').at(-1)}`,
      `shape ${ifname} none`,
      `close ${ifname}`,
    ]);
    assert.equal(daemon.sessions().length, 0);
  });

  it('a rate limit that cannot be enforced ends the session: nas-error, "rate limit cannot be enforced"', async () => {
    shaper.fail = true;
    const c = await TestClient.connect({ port, username: 'shaped', password: 'shaped-pw' }).catch(() => undefined);
    try {
      const down = await sessionDown('shaped');
      assert.equal(down['cause'], 'nas-error');
      assert.equal(down['reason'], 'rate limit cannot be enforced');
      assert.equal(events('rate-limit-failed').length, 1);
      await eventually(() => timeline.some((t) => t.startsWith('close ')), 5000, 'the interface to go');
    } finally {
      c?.destroy();
    }
  });

  it("a user's new session gets the same static address once the old interface and lease are gone", async () => {
    const first = await TestClient.connect({ port, username: 'fixed', password: 'fixed-pw' });
    const second = await TestClient.connect({ port, username: 'fixed', password: 'fixed-pw' });
    try {
      assert.equal(second.info?.ipv4, '192.0.2.9');
      assert.equal(events('session-replaced').length, 1);
      const [a, b] = events('session-up').map((l) => String(l['ifname']));
      assert.ok(a && b && a !== b);
      const closedOld = timeline.indexOf(`close ${a}`);
      const addressedNew = timeline.findIndex((t) => t.startsWith(`configure ${b} 192.0.2.254 192.0.2.9 `));
      assert.ok(closedOld >= 0 && addressedNew > closedOld, timeline.join('\n'));
      await first.waitFor(() => first.closedWith !== undefined, 5000, 'the old client to be disconnected');
      const sessions = daemon.sessions();
      assert.equal(sessions.length, 1);
      assert.equal(sessions[0]?.ip, '192.0.2.9');
    } finally {
      first.destroy();
      await second.close();
    }
  });

  it('IPv6: the interface is prepared, the link-local and prefix configured; the prefix goes back when the client refuses IPV6CP', async () => {
    const v6 = await TestClient.connect({ port, username: 'plain', password: 'plain-pw', ipv6: true });
    try {
      await eventually(() => events('ipv6-up').length === 1, 5000, 'ipv6-up');
      const ifname = String(events('session-up')[0]?.['ifname']);
      const prefix = String(events('ipv6-up')[0]?.['ipv6Prefix']);
      assert.equal(timeline[timeline.indexOf(`open ${ifname}`) + 1], `prepare6 ${ifname}`, 'IPv6 settings before the interface is up');
      assert.ok(timeline.includes(`configure6 ${ifname} ${String(events('ipv6-up')[0]?.['linkLocal'])} ${prefix}`), timeline.join('\n'));
      assert.equal(daemon.sessions()[0]?.ip6, prefix);
    } finally {
      await v6.close();
    }
    await sessionDown('plain');
    logs.length = 0;
    const v4 = await TestClient.connect({ port, username: 'plain', password: 'plain-pw' });
    try {
      const leased = String(events('authenticated')[0]?.['ipv6Prefix']);
      assert.match(leased, /^2001:db8:7:/);
      await eventually(() => daemon.sessions()[0]?.ip6 === undefined, 5000, 'the refused prefix to go back');
      assert.equal(daemon.sessions()[0]?.ip, v4.info?.ipv4);
    } finally {
      await v4.close();
    }
  });

  it('a session that ends with a backlog gives every queued byte back to the process budget', async () => {
    // The daemon runs in this process: its sessions draw from this process's budget.
    const budget = processQueueBudget();
    assert.equal(budget.used, 0);
    const c = await TestClient.connect({ port, username: 'plain', password: 'plain-pw' });
    try {
      await eventually(() => events('session-up').length > 0, 5000, 'session-up');
      const tun = tuns.find((t) => t.name === String(events('session-up')[0]?.['ifname']))!;
      // The client stops reading: the server's socket pushes back and the host's packets queue.
      (c as unknown as { c: { socket: { pause(): void } } }).c.socket.pause();
      const payload = Buffer.alloc(1372);
      for (let i = 0; i < 100 && budget.used < 1 << 20; i++) {
        tun.inject(Array.from({ length: 64 }, (_, j) => icmpEchoRequest('198.51.100.1', c.info!.ipv4, 1, i * 64 + j, payload)));
        await new Promise((r) => setTimeout(r, 5));
      }
      assert.ok(budget.used >= 1 << 20, `a backlog of ${budget.used} bytes`);
      assert.equal(budget.used, daemon.sessions()[0]?.dataPath?.queueHeldBytes, "the session's queue is what the budget holds");
    } finally {
      c.destroy();
    }
    await sessionDown('plain');
    assert.equal(budget.used, 0, 'every byte back once the session is gone');
  });
});
