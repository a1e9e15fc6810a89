/**
 * The real client (sstpc 1.0.18 + pppd 2.4.9 in the VM) through RADIUS: FreeRADIUS 3.2 started by
 * the test in the namespace decides every login. Each method connects with the address FreeRADIUS
 * gives; MS-CHAPv2 passes the crypto binding with the MPPE keys from RADIUS; accounting (Start,
 * Interim-Update, Stop with its cause) lands in FreeRADIUS's detail file; a dead first server costs
 * timeout × max-try; radclient's Disconnect- and CoA-Requests act on the live session.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createInteropEnv, eventually, isEvent, rootSkipReason, seedConfig, withDaemon, type Daemon, type InteropEnv, type LogEntry } from '../support/daemon.js';
import { assertRefused, assertUp, describeRun, holdTimeout, holdUntilReachableExec, pingLoopExec, pingLoopTimeout, runSstpc, startSstpc, waitRunEnds, waitSessionUp, type ClientAuth } from '../support/vm.js';
import { freeRadiusUnavailable, startFreeRadius, type FreeRadius, type FrUser, radiusServerLines } from '../support/freeradius.js';

const GATEWAY = '192.0.2.254';
/** Added on the server's side once the Interim-Update is in: the guest then ends the session. */
const RELEASE = '192.0.2.200';
const SECRET = 'interop-radius-secret';
const DAE_SECRET = 'interop-dae-secret';
const R = 'set vpn sstp authentication radius';
const REJECT_TEXT = 'FreeRADIUS says no';

const USERS: FrUser[] = [
  { name: 'alice', password: 'alice-pw', reply: ['Framed-IP-Address = 192.0.2.77', 'Class = "gold"', 'Acct-Interim-Interval = 2'] },
];

async function record(fr: FreeRadius, sid: string, status: string, timeoutMs = 15_000): Promise<Record<string, string>> {
  let hit: Record<string, string> | undefined;
  await eventually(
    async () => {
      hit = (await fr.records(sid)).find((r) => r['Acct-Status-Type'] === status);
      return hit !== undefined;
    },
    timeoutMs,
    `Accounting ${status} of ${sid}`,
    250,
  );
  return hit!;
}

/** Start, ≥ 1 Interim-Update, Stop, one Acct-Session-Id; counters equal to what the session counted. */
async function assertAccounted(d: Daemon, fr: FreeRadius, sid: string, cause: string): Promise<void> {
  const stop = await record(fr, sid, 'Stop');
  const kinds = (await fr.records(sid)).map((r) => r['Acct-Status-Type']);
  assert.equal(kinds[0], 'Start', kinds.join(','));
  assert.ok(kinds.includes('Interim-Update'), `an Interim-Update: ${kinds.join(',')}`);
  assert.equal(kinds[kinds.length - 1], 'Stop');
  assert.equal(stop['Acct-Terminate-Cause'], cause);
  assert.equal(stop['Class'], '0x676f6c64');
  // The Stop can reach FreeRADIUS before the log line leaves (lines go out once per loop turn).
  const down = await d.waitForLog(isEvent('session-down', { sid }));
  assert.equal(Number(stop['Acct-Input-Octets']), down['rxBytes'], 'input octets = what the session received from the client');
  assert.equal(Number(stop['Acct-Output-Octets']), down['txBytes']);
  assert.ok(Number(stop['Acct-Input-Packets']) >= 3, 'at least the three pings');
}

describe('interop: sstpc + pppd through RADIUS (FreeRADIUS)', { skip: rootSkipReason() ?? freeRadiusUnavailable() }, () => {
  let env: InteropEnv;
  let fr: FreeRadius;
  let authPort: number;
  let acctPort: number;
  before(async () => {
    env = await createInteropEnv('sstpd-vmrad');
    authPort = env.nextPort();
    acctPort = env.nextPort();
    fr = await startFreeRadius({ netns: env.ns, authPort, acctPort, clients: [{ ipaddr: '127.0.0.1', secret: SECRET }], users: USERS, rejectMessage: REJECT_TEXT });
  });
  after(async () => {
    await fr?.stop();
    await env?.cleanup();
  });

  const config = (port: number, proto: ClientAuth, o: { daePort?: number; deadFirst?: boolean } = {}): string =>
    seedConfig({
      port,
      certs: env.certs,
      protocols: [proto],
      lines: [
        ...(o.deadFirst ? [`${R} server 127.0.0.2 key nobody-there`, `${R} server 127.0.0.2 fail-time 30`] : []),
        ...radiusServerLines(SECRET, authPort, acctPort),
        `${R} timeout 2`,
        `${R} max-try 2`,
        ...(o.daePort !== undefined ? [`${R} dynamic-author server 127.0.0.1`, `${R} dynamic-author port ${o.daePort}`, `${R} dynamic-author key ${DAE_SECRET}`] : []),
      ],
    }).replace('set vpn sstp authentication mode local', 'set vpn sstp authentication mode radius');

  for (const proto of ['chap', 'mschap'] as const) {
    it(`${proto}: up with the Framed-IP-Address, pings, accounted Start/Interim/Stop with User-Request`, { timeout: 20 * 60_000 }, async () => {
      const port = env.nextPort();
      await withDaemon({ configText: config(port, proto), netns: env.ns }, async (d) => {
        const run = await startSstpc({
          port, netns: env.ns, user: 'alice', password: 'alice-pw', auth: proto, ca: env.certs.caCert, ping: [GATEWAY],
          exec: [holdUntilReachableExec(RELEASE)], execTimeoutS: holdTimeout(),
        });
        let r;
        try {
          const live = await waitSessionUp(d, run, 'alice');
          // The session stays until an Interim-Update is in; then the client hangs up (User-Request).
          await record(fr, live.sid!, 'Interim-Update', 60_000);
          await env.ns.exec('ip', ['addr', 'add', `${RELEASE}/32`, 'dev', 'lo']);
          r = await waitRunEnds(run, holdTimeout() * 1000 + 60_000, 'sstpc');
        } finally {
          await run.kill();
          await env.ns.exec('ip', ['addr', 'del', `${RELEASE}/32`, 'dev', 'lo']).catch(() => undefined);
        }
        assertUp(r, proto);
        assert.equal(r.result['auth'], proto, describeRun(r));
        assert.equal(r.result['ipv4'], '192.0.2.77', 'the address FreeRADIUS gave');
        assert.equal(r.result['ping'], 'ok');
        assert.match(r.output, /released=yes/, describeRun(r));
        const up = d.findLogs(isEvent('session-up', { username: 'alice' }))[0]!;
        await d.waitForLog(isEvent('session-down', { sid: up.sid! }));
        await assertAccounted(d, fr, up.sid!, 'User-Request');
        if (proto === 'mschap') assert.equal(d.findLogs(isEvent('binding-verified', { sid: up.sid! })).length, 1, 'binding with the MS-CHAP-MPPE-Keys HLAK');
      });
    });
  }

  it('pap: CoA-Request (Session-Timeout 1) is ACKed and ends the live session with Session-Timeout', { timeout: 20 * 60_000 }, async () => {
    const port = env.nextPort();
    const daePort = env.nextPort();
    await withDaemon({ configText: config(port, 'pap', { daePort }), netns: env.ns }, async (d) => {
      const run = await startSstpc({ port, netns: env.ns, user: 'alice', password: 'alice-pw', auth: 'pap', ca: env.certs.caCert, exec: [pingLoopExec(60)], execTimeoutS: pingLoopTimeout(60) });
      try {
        const up = await waitSessionUp(d, run, 'alice');
        await record(fr, up.sid!, 'Interim-Update');
        await eventually(async () => ((await d.session(up.sid!))?.rxPackets ?? 0) >= 3, 30_000, 'three pings through the tunnel', 500);
        const coa = await fr.radclient(`127.0.0.1:${daePort}`, 'coa', DAE_SECRET, `User-Name = alice, Session-Timeout = 1, Message-Authenticator = 0x00`);
        assert.match(coa.out, /Received CoA-ACK/, coa.out);
        const down = await d.waitForLog(isEvent('session-down', { sid: up.sid! }), 15_000);
        assert.equal(down.cause, 'session-timeout');
        const r = await run.done;
        assertUp(r, 'pap');
        assert.match(r.output, /ppp0=absent/, 'the server ended the link');
        await assertAccounted(d, fr, up.sid!, 'Session-Timeout');
      } finally {
        await run.kill();
      }
    });
  });

  it('mschap-v2: the dead first server costs timeout × max-try; binding passes with RADIUS keys; Disconnect-Request ends it (Admin-Reset)', { timeout: 20 * 60_000 }, async () => {
    const port = env.nextPort();
    const daePort = env.nextPort();
    await withDaemon({ configText: config(port, 'mschap-v2', { daePort, deadFirst: true }), netns: env.ns, env: { ...process.env, SSTPD_LOG_LEVEL: 'debug' } }, async (d) => {
      const run = await startSstpc({ port, netns: env.ns, user: 'alice', password: 'alice-pw', auth: 'mschap-v2', ca: env.certs.caCert, exec: [pingLoopExec(60)], execTimeoutS: pingLoopTimeout(60) });
      try {
        const up = await waitSessionUp(d, run, 'alice');
        const sends = (server: string): LogEntry[] => d.findLogs((e) => e.msg === 'radius-send' && e['server'] === server && e['code'] === 1);
        const t = (e: LogEntry): number => Date.parse(String(e['time']));
        const failoverMs = t(sends('127.0.0.1')[0]!) - t(sends('127.0.0.2')[0]!);
        process.stderr.write(`# sstpc via RADIUS: failover to the second server after ${failoverMs} ms (timeout 2 s × max-try 2)\n`);
        assert.ok(failoverMs >= 3900 && failoverMs < 10_000, `failover after ${failoverMs} ms`);
        assert.equal(d.findLogs(isEvent('binding-verified', { sid: up.sid! })).length, 1, 'crypto binding verified: HLAK = MS-MPPE-Recv-Key ‖ Send-Key');
        await record(fr, up.sid!, 'Interim-Update');
        await eventually(async () => ((await d.session(up.sid!))?.rxPackets ?? 0) >= 3, 30_000, 'three pings through the tunnel', 500);
        const dm = await fr.radclient(`127.0.0.1:${daePort}`, 'disconnect', DAE_SECRET, `User-Name = alice, Acct-Session-Id = "${up.sid!}"`);
        assert.match(dm.out, /Received Disconnect-ACK/, dm.out);
        const down = await d.waitForLog(isEvent('session-down', { sid: up.sid! }), 15_000);
        assert.equal(down.cause, 'admin-reset');
        const r = await run.done;
        assertUp(r, 'mschap-v2');
        assert.equal(r.result['ipv4'], '192.0.2.77');
        assert.match(r.output, /ppp0=absent/);
        await assertAccounted(d, fr, up.sid!, 'Admin-Reset');
      } finally {
        await run.kill();
      }
    });
  });

  it('wrong password: sstpc sees an authentication failure, the log has FreeRADIUS\'s reason, nothing is accounted', { timeout: 20 * 60_000 }, async () => {
    const port = env.nextPort();
    await withDaemon({ configText: config(port, 'mschap-v2'), netns: env.ns }, async (d) => {
      const r = await runSstpc({ port, netns: env.ns, user: 'alice', password: 'not-alice', auth: 'mschap-v2', expectFail: true });
      assertRefused(r, 'wrong password');
      assert.equal(r.result['reason'], 'auth-failed', describeRun(r));
      const failed = await d.waitForLog(isEvent('auth-failed', { username: 'alice' }));
      assert.equal(failed.reason, `RADIUS Access-Reject from 127.0.0.1: ${REJECT_TEXT}`);
      const down = await d.waitForLog(isEvent('session-down'));
      assert.deepEqual(await fr.records(down.sid!), []);
    });
  });
});
