/**
 * `authentication mode radius` end to end, in a throwaway network namespace: the daemon, a real
 * FreeRADIUS 3.2 (stock and hardened) the test configures and starts, radclient for DM/CoA, and our
 * own SSTP client (real TLS, real TUN, kernel answering pings). Accounting is read back from
 * FreeRADIUS's detail file.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  createInteropEnv,
  eventually,
  inSubnet,
  isEvent,
  rootSkipReason,
  seedConfig,
  withDaemon,
  type Daemon,
  type InteropEnv,
  type LogEntry,
} from '../support/daemon.js';
import { ClientProc, type ClientEvent } from '../support/client-proc.js';
import { freeRadiusUnavailable, startFreeRadius, withFreeRadius, type FreeRadius, type FrUser, radiusServerLines } from '../support/freeradius.js';

const GATEWAY = '192.0.2.254';
const SECRET = 'sstpd-radius-secret';
const DAE_SECRET = 'sstpd-dae-secret';
const REJECT_TEXT = 'Wrong password, says FreeRADIUS';
const R = 'set vpn sstp authentication radius';
const PING_BYTES = 84; // ICMP echo with 56 data bytes, IPv4 header included

const USERS: FrUser[] = [
  {
    name: 'alice',
    password: 'alice-pw',
    reply: ['Framed-IP-Address = 192.0.2.77', 'Class = "gold"', 'MS-Primary-DNS-Server = 198.51.100.53', 'Framed-Route = "10.99.0.0/16 0.0.0.0 5"'],
  },
  { name: 'ivan', password: 'ivan-pw', reply: ['Acct-Interim-Interval = 2'] },
  { name: 'tim', password: 'tim-pw', reply: ['Session-Timeout = 2'] },
  { name: 'idle', password: 'idle-pw', reply: ['Idle-Timeout = 2'] },
  { name: 'pooled', password: 'pooled-pw', reply: ['Framed-IP-Address = 255.255.255.254', 'Framed-Pool = "default"'] },
  { name: 'nopool', password: 'nopool-pw', reply: ['Framed-Pool = "gold"'] },
  { name: 'bob', password: 'bob-pw' },
  { name: 'v6gold', password: 'v6gold-pw', reply: ['Framed-IPv6-Pool = "GOLD6"', 'Delegated-IPv6-Prefix-Pool = "GOLD6"'] },
  { name: 'v6none', password: 'v6none-pw', reply: ['Framed-IPv6-Pool = "NOPE"'] },
];

interface RadiusConfigOptions {
  readonly port: number;
  readonly authPort: number;
  readonly acctPort: number;
  readonly daePort?: number;
  readonly protocols?: readonly string[];
  /** Extra `set vpn sstp authentication radius …` tails. */
  readonly radius?: readonly string[];
  /** Replaces the single server 127.0.0.1. */
  readonly servers?: readonly string[];
  /** Other `set vpn sstp …` lines. */
  readonly extra?: readonly string[];
}

function radiusConfig(env: InteropEnv, o: RadiusConfigOptions): string {
  const servers = o.servers ?? radiusServerLines(SECRET, o.authPort, o.acctPort);
  const dae = o.daePort === undefined ? [] : [`${R} dynamic-author server 127.0.0.1`, `${R} dynamic-author port ${o.daePort}`, `${R} dynamic-author key ${DAE_SECRET}`];
  return seedConfig({
    port: o.port,
    certs: env.certs,
    ...(o.protocols ? { protocols: o.protocols } : {}),
    lines: [...servers, `${R} timeout 1`, `${R} max-try 2`, ...dae, ...(o.radius ?? []).map((l) => `${R} ${l}`), ...(o.extra ?? [])],
  }).replace('set vpn sstp authentication mode local', 'set vpn sstp authentication mode radius');
}

async function up(c: ClientProc): Promise<ClientEvent> {
  const ev = await c.next(['up', 'failed']);
  assert.equal(ev.event, 'up', JSON.stringify(ev));
  return ev;
}

async function sessionUp(d: Daemon, username: string, since = 0): Promise<LogEntry> {
  return d.waitForLog(isEvent('session-up', { username }), 20_000, since);
}

async function waitRecord(fr: FreeRadius, sid: string, status: string, timeoutMs = 10_000): Promise<Record<string, string>> {
  let hit: Record<string, string> | undefined;
  await eventually(
    async () => {
      hit = (await fr.records(sid)).find((r) => r['Acct-Status-Type'] === status);
      return hit !== undefined;
    },
    timeoutMs,
    `Accounting ${status} for ${sid} in the detail file`,
    200,
  );
  return hit!;
}

const skip = rootSkipReason() ?? freeRadiusUnavailable();

describe('RADIUS: sstpd + FreeRADIUS + our client in a network namespace', { skip }, () => {
  let env: InteropEnv;
  let fr: FreeRadius;
  let authPort: number;
  let acctPort: number;
  before(async () => {
    env = await createInteropEnv('sstpd-rad');
    authPort = env.nextPort();
    acctPort = env.nextPort();
    fr = await startFreeRadius({
      netns: env.ns,
      authPort,
      acctPort,
      clients: [{ ipaddr: '127.0.0.1', secret: SECRET }],
      users: USERS,
      rejectMessage: REJECT_TEXT,
    });
  });
  after(async () => {
    await fr?.stop();
    await env?.cleanup();
  });

  for (const proto of ['pap', 'chap', 'mschap', 'mschap-v2'] as const) {
    it(`${proto}: FreeRADIUS decides; Framed-IP, DNS and route apply; binding verified; Start and Stop accounted`, async () => {
      const port = env.nextPort();
      await withDaemon({ configText: radiusConfig(env, { port, authPort, acctPort, protocols: [proto] }), netns: env.ns }, async (d) => {
        const c = ClientProc.start(env.ns, { port, user: 'alice', password: 'alice-pw', auth: proto });
        try {
          const ev = await up(c);
          assert.equal(ev['ipv4'], '192.0.2.77', 'Framed-IP-Address is the client address');
          assert.deepEqual(ev['dns'], ['198.51.100.53', '10.0.0.2'], 'MS-Primary-DNS-Server replaces the first name-server');
          for (let i = 0; i < 3; i++) assert.ok(await c.ping(GATEWAY), 'the gateway answers through the tunnel');
          const row = (await d.sessions())[0]!;
          assert.equal(row.ip, '192.0.2.77');
          assert.equal(d.findLogs(isEvent('binding-verified', { sid: row.sid })).length, 1, 'crypto binding verified with the RADIUS keys');
          await eventually(async () => (await env.ns.exec('ip', ['route', 'show', '10.99.0.0/16'])).stdout.includes(`dev ${row.ifname}`), 5000, 'Framed-Route');
          assert.match((await env.ns.exec('ip', ['route', 'show', '10.99.0.0/16'])).stdout, /metric 5/);
          const start = await waitRecord(fr, row.sid, 'Start');
          assert.equal(start['User-Name'], 'alice');
          assert.equal(start['Framed-IP-Address'], '192.0.2.77');
          assert.equal(start['Class'], '0x676f6c64', 'Class echoed');
          assert.equal(start['NAS-Port-Id'], row.ifname);
          assert.equal(start['NAS-Port-Type'], 'Virtual');
          assert.equal(start['Calling-Station-Id'], '127.0.0.1');
          await c.close();
          const stop = await waitRecord(fr, row.sid, 'Stop');
          assert.equal(stop['Acct-Terminate-Cause'], 'User-Request');
          assert.equal(stop['Acct-Input-Octets'], String(3 * PING_BYTES), 'exactly the pings the client sent');
          // Towards the client: the three replies, plus whatever the kernel sends on a fresh link
          // (an IGMPv3 report of 48 bytes was seen).
          const out = Number(stop['Acct-Output-Octets']);
          assert.ok(out >= 3 * PING_BYTES && out <= 3 * PING_BYTES + 1500, `Acct-Output-Octets ${out}`);
          // The Stop can reach FreeRADIUS before the log line leaves (lines go out once per loop turn).
          assert.equal(out, (await d.waitForLog(isEvent('session-down', { sid: row.sid })))['txBytes'], 'what the session counted');
          assert.equal(stop['Acct-Input-Packets'], '3');
          assert.equal(stop['Acct-Input-Gigawords'], '0');
          assert.equal(stop['Class'], '0x676f6c64');
        } finally {
          c.kill();
        }
      });
    });
  }

  it('Interim-Update at the Acct-Interim-Interval, same Acct-Session-Id through Stop', async () => {
    const port = env.nextPort();
    await withDaemon({ configText: radiusConfig(env, { port, authPort, acctPort }), netns: env.ns }, async (d) => {
      const c = ClientProc.start(env.ns, { port, user: 'ivan', password: 'ivan-pw' });
      try {
        const ev = await up(c);
        assert.ok(inSubnet(String(ev['ipv4']), '192.0.2.0/25'), 'no Framed-IP-Address: from the pool');
        const sid = (await sessionUp(d, 'ivan')).sid!;
        assert.ok(await c.ping(GATEWAY));
        const interim = await waitRecord(fr, sid, 'Interim-Update', 8000);
        assert.ok(Number(interim['Acct-Session-Time']) >= 1, JSON.stringify(interim));
        await c.close();
        await waitRecord(fr, sid, 'Stop');
        const kinds = (await fr.records(sid)).map((r) => r['Acct-Status-Type']);
        assert.equal(kinds[0], 'Start');
        assert.equal(kinds[kinds.length - 1], 'Stop');
        assert.ok(kinds.filter((k) => k === 'Interim-Update').length >= 1, kinds.join(','));
      } finally {
        c.kill();
      }
    });
  });

  it('wrong password: refused with the RADIUS reason in the log, nothing accounted', async () => {
    const port = env.nextPort();
    await withDaemon({ configText: radiusConfig(env, { port, authPort, acctPort }), netns: env.ns }, async (d) => {
      const c = ClientProc.start(env.ns, { port, user: 'bob', password: 'not-bob', auth: 'mschap-v2' });
      try {
        assert.equal((await c.next(['up', 'failed'])).event, 'failed');
        const why = await d.waitForLog(isEvent('auth-failed', { username: 'bob' }));
        assert.equal(why.reason, `RADIUS Access-Reject from 127.0.0.1: ${REJECT_TEXT}`);
        const down = await d.waitForLog(isEvent('session-down', { username: 'bob' }));
        await new Promise((r) => setTimeout(r, 1000));
        assert.deepEqual(await fr.records(down.sid!), [], 'no accounting for a failed login');
        assert.equal((await fr.detail()).filter((r) => r['User-Name'] === 'bob').length, 0);
      } finally {
        c.kill();
      }
    });
  });

  it('radclient Disconnect-Request: ACK, session ends, Stop says Admin-Reset; wrong secret and strangers get nothing', async () => {
    const port = env.nextPort();
    const daePort = env.nextPort();
    await withDaemon({ configText: radiusConfig(env, { port, authPort, acctPort, daePort }), netns: env.ns }, async (d) => {
      const c = ClientProc.start(env.ns, { port, user: 'bob', password: 'bob-pw' });
      try {
        await up(c);
        const row = (await d.sessions())[0]!;
        await waitRecord(fr, row.sid, 'Start');
        const target = `127.0.0.1:${daePort}`;
        const wrong = await fr.radclient(target, 'disconnect', 'not-the-secret', 'User-Name = bob');
        assert.notEqual(wrong.code, 0, wrong.out);
        assert.match(wrong.out, /No reply/);
        assert.ok(await d.session(row.sid), 'a wrong secret changes nothing');
        assert.ok((await d.waitForLog(isEvent('dae-dropped'))).reason);
        const unknown = await fr.radclient(target, 'disconnect', DAE_SECRET, 'User-Name = carol');
        assert.match(unknown.out, /Received Disconnect-NAK/);
        assert.match(unknown.out, /Error-Cause = Session-Context-Not-Found/);
        const foreign = await fr.radclient(target, 'disconnect', DAE_SECRET, 'User-Name = bob, NAS-Identifier = "someone-else"');
        assert.match(foreign.out, /Error-Cause = NAS-Identification-Mismatch/);
        const ok = await fr.radclient(target, 'disconnect', DAE_SECRET, `User-Name = bob, Acct-Session-Id = "${row.sid}", Message-Authenticator = 0x00`);
        assert.equal(ok.code, 0, ok.out);
        assert.match(ok.out, /Received Disconnect-ACK/);
        const down = await d.waitForLog(isEvent('session-down', { sid: row.sid }));
        assert.equal(down.cause, 'admin-reset');
        const stop = await waitRecord(fr, row.sid, 'Stop');
        assert.equal(stop['Acct-Terminate-Cause'], 'Admin-Reset');
        await c.next(['closed'], 0, 10_000).catch(() => undefined);
      } finally {
        c.kill();
      }
    });
  });

  it('CoA: a rate limit goes to the tc shaper (ACK, shown by sstpctl); Session-Timeout applies at once (ACK)', async () => {
    const port = env.nextPort();
    const daePort = env.nextPort();
    const cfg = radiusConfig(env, { port, authPort, acctPort, daePort, radius: ['rate-limit enable'] });
    await withDaemon({ configText: cfg, netns: env.ns }, async (d) => {
      const c = ClientProc.start(env.ns, { port, user: 'bob', password: 'bob-pw' });
      try {
        await up(c);
        const row = (await d.sessions())[0]!;
        const target = `127.0.0.1:${daePort}`;
        const rate = await fr.radclient(target, 'coa', DAE_SECRET, 'User-Name = bob, Filter-Id = "2000/1000"');
        assert.match(rate.out, /Received CoA-ACK/);
        assert.equal((await d.session(row.sid))?.['rateLimit'], '2000/1000');
        const qdisc = (await env.ns.exec('tc', ['qdisc', 'show', 'dev', row.ifname])).stdout;
        assert.match(qdisc, /tbf|htb/, `a shaping qdisc on ${row.ifname}: ${qdisc}`);
        const st = await fr.radclient(target, 'coa', DAE_SECRET, `Acct-Session-Id = "${row.sid}", Session-Timeout = 1`);
        assert.match(st.out, /Received CoA-ACK/);
        const down = await d.waitForLog(isEvent('session-down', { sid: row.sid }), 10_000);
        assert.equal(down.cause, 'session-timeout');
        assert.equal((await waitRecord(fr, row.sid, 'Stop'))['Acct-Terminate-Cause'], 'Session-Timeout');
      } finally {
        c.kill();
      }
    });
  });

  it('Session-Timeout and Idle-Timeout from Access-Accept end sessions with those causes', async () => {
    const port = env.nextPort();
    await withDaemon({ configText: radiusConfig(env, { port, authPort, acctPort }), netns: env.ns }, async (d) => {
      const t = ClientProc.start(env.ns, { port, user: 'tim', password: 'tim-pw' });
      const i = ClientProc.start(env.ns, { port, user: 'idle', password: 'idle-pw' });
      try {
        await up(t);
        await up(i);
        const tDown = await d.waitForLog(isEvent('session-down', { username: 'tim' }), 10_000);
        assert.equal(tDown.cause, 'session-timeout');
        const iDown = await d.waitForLog(isEvent('session-down', { username: 'idle' }), 10_000);
        assert.equal(iDown.cause, 'idle-timeout');
        assert.equal((await waitRecord(fr, tDown.sid!, 'Stop'))['Acct-Terminate-Cause'], 'Session-Timeout');
        assert.equal((await waitRecord(fr, iDown.sid!, 'Stop'))['Acct-Terminate-Cause'], 'Idle-Timeout');
      } finally {
        t.kill();
        i.kill();
      }
    });
  });

  it('Framed-Pool selects the pool by name; an unknown pool refuses the session', async () => {
    const port = env.nextPort();
    await withDaemon({ configText: radiusConfig(env, { port, authPort, acctPort }), netns: env.ns }, async (d) => {
      const a = ClientProc.start(env.ns, { port, user: 'pooled', password: 'pooled-pw' });
      const b = ClientProc.start(env.ns, { port, user: 'nopool', password: 'nopool-pw' });
      try {
        assert.ok(inSubnet(String((await up(a))['ipv4']), '192.0.2.0/25'));
        assert.equal((await b.next(['up', 'failed'])).event, 'failed');
        const why = await d.waitForLog(isEvent('address-unavailable', { username: 'nopool' }));
        assert.equal(why.reason, 'address pool "gold" does not exist');
      } finally {
        a.kill();
        b.kill();
      }
    });
  });

  it('Framed-IPv6-Pool picks the named client-ipv6-pool; without it default-ipv6-pool; an unknown one leaves the session IPv4-only', async () => {
    const port = env.nextPort();
    const extra = [
      'set vpn sstp client-ipv6-pool DEFAULT6 prefix 2001:db8:d::/48 mask 64',
      'set vpn sstp client-ipv6-pool GOLD6 prefix 2001:db8:a::/48 mask 64',
      'set vpn sstp client-ipv6-pool GOLD6 delegate 2001:db8:b00::/40 delegation-prefix 56',
      'set vpn sstp default-ipv6-pool DEFAULT6',
      // The client starts no IPV6CP: the leased prefix stays with the session (`allow` waits for it).
      'set vpn sstp ppp-options ipv6 allow',
    ];
    await withDaemon({ configText: radiusConfig(env, { port, authPort, acctPort, extra }), netns: env.ns }, async (d) => {
      const clients = [
        ClientProc.start(env.ns, { port, user: 'v6gold', password: 'v6gold-pw' }),
        ClientProc.start(env.ns, { port, user: 'bob', password: 'bob-pw' }),
        ClientProc.start(env.ns, { port, user: 'v6none', password: 'v6none-pw' }),
      ];
      try {
        for (const c of clients) await up(c);
        const prefixOf = async (username: string): Promise<unknown> => (await d.waitForLog(isEvent('authenticated', { username })))['ipv6Prefix'];
        assert.equal(await prefixOf('v6gold'), '2001:db8:a::/64', 'from the pool RADIUS named');
        assert.equal(await prefixOf('bob'), '2001:db8:d::/64', 'from default-ipv6-pool');
        assert.equal(await prefixOf('v6none'), undefined, 'no prefix from a pool that does not exist');
        const why = await d.waitForLog(isEvent('ipv6-prefix-unavailable', { username: 'v6none' }));
        assert.equal(why.reason, 'IPv6 prefix pool "NOPE" does not exist');
      } finally {
        for (const c of clients) c.kill();
      }
    });
  });

  it('SIGTERM: the Stop (NAS-Reboot) reaches FreeRADIUS before the daemon exits', async () => {
    const port = env.nextPort();
    const { startDaemon } = await import('../support/daemon.js');
    const d = await startDaemon({ configText: radiusConfig(env, { port, authPort, acctPort }), netns: env.ns });
    const c = ClientProc.start(env.ns, { port, user: 'bob', password: 'bob-pw' });
    try {
      await up(c);
      const sid = (await sessionUp(d, 'bob')).sid!;
      await waitRecord(fr, sid, 'Start');
      assert.equal(await d.stop(), 0, d.dump());
      const stops = (await fr.records(sid)).filter((r) => r['Acct-Status-Type'] === 'Stop');
      assert.equal(stops.length, 1, 'the Stop was there when the daemon had exited');
      assert.equal(stops[0]!['Acct-Terminate-Cause'], 'NAS-Reboot');
    } finally {
      c.kill();
      await d.stop();
    }
  });

  it('Accounting-On at start and Accounting-Off after the Stops at a clean stop (RFC 2866 7/8), with the NAS identity', async () => {
    const port = env.nextPort();
    const onOff = async (): Promise<Record<string, string>[]> =>
      (await fr.detail()).filter((r) => r['Acct-Status-Type'] === 'Accounting-On' || r['Acct-Status-Type'] === 'Accounting-Off');
    const before = (await onOff()).length;
    const { startDaemon } = await import('../support/daemon.js');
    const d = await startDaemon({ configText: radiusConfig(env, { port, authPort, acctPort, radius: ['nas-identifier onoff-nas'] }), netns: env.ns });
    try {
      await eventually(async () => (await onOff()).length === before + 1, 10_000, 'Accounting-On in the detail file');
      const on = (await onOff())[before]!;
      assert.equal(on['Acct-Status-Type'], 'Accounting-On');
      assert.equal(on['NAS-Identifier'], 'onoff-nas');
      assert.equal(on['User-Name'], undefined, 'no user: it is about the NAS');
      await d.waitForLog(isEvent('acct-on'));
      const c = ClientProc.start(env.ns, { port, user: 'bob', password: 'bob-pw' });
      try {
        await up(c);
        const sid = (await sessionUp(d, 'bob')).sid!;
        await waitRecord(fr, sid, 'Start');
        assert.equal(await d.stop(), 0, d.dump());
        const all = await fr.detail();
        const stopAt = all.findIndex((r) => r['Acct-Session-Id'] === sid && r['Acct-Status-Type'] === 'Stop');
        const offAt = all.map((r) => r['Acct-Status-Type']).lastIndexOf('Accounting-Off');
        assert.equal(d.findLogs(isEvent('acct-off')).length, 1, d.dump());
        assert.ok(stopAt >= 0 && offAt > stopAt, 'the Off follows the session\'s Stop');
        assert.equal(all[offAt]!['NAS-Identifier'], 'onoff-nas');
        assert.equal(all[offAt]!['Acct-Terminate-Cause'], 'NAS-Reboot');
      } finally {
        c.kill();
      }
    } finally {
      await d.stop();
    }
  });
});

describe('RADIUS servers: failover, fail-time, disable, source-address, NAS identity, BlastRADIUS', { skip }, () => {
  let env: InteropEnv;
  before(async () => {
    env = await createInteropEnv('sstpd-radf');
  });
  after(async () => {
    await env?.cleanup();
  });

  const sends = (d: Daemon, server: string, since = 0): LogEntry[] => d.findLogs((e) => e.msg === 'radius-send' && e['server'] === server && e['code'] === 1, since);
  const ms = (e: LogEntry): number => Date.parse(String(e['time']));

  it('first server silent: the second answers after timeout × max-try; the silent one is skipped for fail-time, then tried again; disable takes it out', async () => {
    const authPort = env.nextPort();
    const acctPort = env.nextPort();
    await withFreeRadius({ netns: env.ns, authPort, acctPort, clients: [{ ipaddr: '127.0.0.1', secret: SECRET }], users: USERS }, async () => {
      const port = env.nextPort();
      const servers = [
        `${R} server 127.0.0.2 key dead-secret`, // nothing listens there
        `${R} server 127.0.0.2 fail-time 6`,
        ...radiusServerLines(SECRET, authPort, acctPort),
      ];
      const cfg = radiusConfig(env, { port, authPort, acctPort, servers });
      await withDaemon({ configText: cfg, netns: env.ns, env: { ...process.env, SSTPD_LOG_LEVEL: 'debug' } }, async (d) => {
        // 1: the first server gets max-try (2) attempts, timeout (1 s) apart, then the second one.
        const c1 = ClientProc.start(env.ns, { port, user: 'bob', password: 'bob-pw' });
        await up(c1);
        const dead = sends(d, '127.0.0.2');
        // Access-Requests only: the Accounting-On sent at start meets the dead server too.
        const retries = d.findLogs((e) => e.msg === 'radius-retransmit' && e['server'] === '127.0.0.2' && e['code'] === 1);
        const live = sends(d, '127.0.0.1');
        assert.equal(dead.length, 1);
        assert.equal(retries.length, 1, 'max-try 2 = the first send and one retransmission');
        const failed = await d.waitForLog(isEvent('radius-server-timeout', { server: '127.0.0.2' }));
        assert.equal(failed['tries'], 2);
        const failoverMs = ms(live[0]!) - ms(dead[0]!);
        assert.ok(failoverMs >= 1900 && failoverMs < 6000, `failover after ${failoverMs} ms (timeout 1 s × max-try 2)`);
        process.stderr.write(`# RADIUS failover measured: ${failoverMs} ms for timeout 1 s × max-try 2\n`);
        await c1.close();
        c1.kill();

        // 2: within fail-time, straight to the second server.
        const mark2 = d.mark();
        const c2 = ClientProc.start(env.ns, { port, user: 'bob', password: 'bob-pw' });
        await up(c2);
        assert.equal(sends(d, '127.0.0.2', mark2).length, 0, 'skipped during fail-time');
        assert.equal(sends(d, '127.0.0.1', mark2).length, 1);
        await c2.close();
        c2.kill();

        // 3: after fail-time the first server is tried first again.
        await eventually(() => Date.now() - ms(failed) > 6500, 10_000, 'fail-time to pass', 200);
        const mark3 = d.mark();
        const c3 = ClientProc.start(env.ns, { port, user: 'bob', password: 'bob-pw' });
        await up(c3);
        assert.equal(sends(d, '127.0.0.2', mark3).length, 1, 'tried again after fail-time');
        await c3.close();
        c3.kill();

        // 4: `disable` takes it out of service (SIGHUP).
        const since = await d.reload(cfg.replace(`${R} server 127.0.0.2 fail-time 6`, `${R} server 127.0.0.2 disable`));
        await d.waitForLog(isEvent('config-reloaded'), 10_000, since);
        const mark4 = d.mark();
        const c4 = ClientProc.start(env.ns, { port, user: 'bob', password: 'bob-pw' });
        await up(c4);
        assert.equal(sends(d, '127.0.0.2', mark4).length, 0, 'a disabled server is never asked');
        c4.kill();
      });
    });
  });

  it('acct-timeout: when Interim-Updates stay unanswered longer than it, the session ends (NAS-Error)', async () => {
    const authPort = env.nextPort();
    const acctPort = env.nextPort();
    const fr = await startFreeRadius({ netns: env.ns, authPort, acctPort, clients: [{ ipaddr: '127.0.0.1', secret: SECRET }], users: USERS });
    try {
      const port = env.nextPort();
      await withDaemon({ configText: radiusConfig(env, { port, authPort, acctPort, radius: ['acct-timeout 1'] }), netns: env.ns }, async (d) => {
        const c = ClientProc.start(env.ns, { port, user: 'ivan', password: 'ivan-pw' });
        try {
          await up(c);
          const sid = (await sessionUp(d, 'ivan')).sid!;
          await waitRecord(fr, sid, 'Interim-Update', 8000);
          await fr.stop(); // the accounting server goes away
          const down = await d.waitForLog(isEvent('session-down', { sid }), 15_000);
          assert.equal(down.cause, 'nas-error');
          assert.match(String(d.findLogs(isEvent('session-terminate', { sid }))[0]?.reason), /Interim-Update unanswered for 1 s \(acct-timeout\)/);
        } finally {
          c.kill();
        }
      });
    } finally {
      await fr.stop();
    }
  });

  it('source-address is the source of every RADIUS packet; NAS-Identifier and NAS-IP-Address carry the configured values', async () => {
    const authPort = env.nextPort();
    const acctPort = env.nextPort();
    // FreeRADIUS knows only 127.0.0.3 as a client: anything from elsewhere is ignored.
    await withFreeRadius({ netns: env.ns, authPort, acctPort, clients: [{ ipaddr: '127.0.0.3', secret: SECRET }], users: USERS }, async (fr) => {
      const port = env.nextPort();
      const radius = ['source-address 127.0.0.3', 'nas-identifier sstp-test-nas', 'nas-ip-address 192.0.2.254'];
      await withDaemon({ configText: radiusConfig(env, { port, authPort, acctPort, radius }), netns: env.ns }, async (d) => {
        const c = ClientProc.start(env.ns, { port, user: 'bob', password: 'bob-pw' });
        try {
          await up(c);
          const sid = (await sessionUp(d, 'bob')).sid!;
          const start = await waitRecord(fr, sid, 'Start');
          assert.equal(start['Packet-Src-IP-Address'], '127.0.0.3');
          assert.equal(start['NAS-Identifier'], 'sstp-test-nas');
          assert.equal(start['NAS-IP-Address'], '192.0.2.254');
          assert.match(fr.output, /Received Access-Request Id \d+ from 127\.0\.0\.3:/);
          assert.match(fr.output, /Login OK: \[bob\b.*\(from client c0 /, 'accepted as the client 127.0.0.3');
        } finally {
          c.kill();
        }
      });
    });
  });

  it('hardened FreeRADIUS (Message-Authenticator both ways): works and is then required; "require-message-authenticator" refuses a server that sends none', async () => {
    const authPort = env.nextPort();
    const acctPort = env.nextPort();
    await withFreeRadius({ netns: env.ns, authPort, acctPort, clients: [{ ipaddr: '127.0.0.1', secret: SECRET }], users: USERS, hardened: true }, async (fr) => {
      const port = env.nextPort();
      await withDaemon({ configText: radiusConfig(env, { port, authPort, acctPort, protocols: ['mschap-v2'] }), netns: env.ns }, async (d) => {
        const c = ClientProc.start(env.ns, { port, user: 'alice', password: 'alice-pw', auth: 'mschap-v2' });
        try {
          assert.equal((await up(c))['ipv4'], '192.0.2.77');
          await d.waitForLog(isEvent('radius-ma-required', { server: '127.0.0.1' }));
          const sid = (await sessionUp(d, 'alice')).sid!;
          await waitRecord(fr, sid, 'Start');
        } finally {
          c.kill();
        }
      });
    });
    await withFreeRadius({ netns: env.ns, authPort, acctPort, clients: [{ ipaddr: '127.0.0.1', secret: SECRET }], users: USERS }, async () => {
      const port = env.nextPort();
      const servers = [`${R} server 127.0.0.1 key ${SECRET}`, `${R} server 127.0.0.1 port ${authPort}`, `${R} server 127.0.0.1 require-message-authenticator`];
      await withDaemon({ configText: radiusConfig(env, { port, authPort, acctPort, servers }), netns: env.ns }, async (d) => {
        const c = ClientProc.start(env.ns, { port, user: 'bob', password: 'bob-pw' });
        try {
          assert.equal((await c.next(['up', 'failed'])).event, 'failed');
          const dropped = await d.waitForLog(isEvent('radius-reply-dropped'));
          assert.equal(dropped.reason, 'Message-Authenticator missing');
          const why = await d.waitForLog(isEvent('auth-failed', { username: 'bob' }));
          assert.equal(why.reason, 'RADIUS: no RADIUS server answered');
        } finally {
          c.kill();
        }
      });
    });
  });
});
