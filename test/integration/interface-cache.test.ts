/**
 * `ppp-options interface-cache` with the real daemon, real TUN devices and our client in a throwaway
 * network namespace: an ended session's interface stays, down and empty; the next session gets it
 * (same name, no new device) and traffic flows; shutdown deletes it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createInteropEnv, rootSkipReason, seedConfig, withDaemon, isEvent, eventually, type InteropEnv } from '../support/daemon.js';
import { ClientProc } from '../support/client-proc.js';

const GATEWAY = '192.0.2.254';

interface IpAddr {
  readonly ifname: string;
  readonly ifindex: number;
  readonly flags: readonly string[];
  readonly addr_info: readonly { readonly family: string; readonly local: string }[];
}

describe('interface-cache: the daemon keeps and reuses session interfaces', { skip: rootSkipReason() }, () => {
  let env: InteropEnv;
  before(async () => {
    env = await createInteropEnv('sstpd-ifc');
  });
  after(async () => {
    await env?.cleanup();
  });

  const link = async (ifname: string): Promise<IpAddr | undefined> =>
    (JSON.parse((await env.ns.exec('ip', ['-j', 'addr', 'show'])).stdout) as IpAddr[]).find((l) => l.ifname === ifname);

  it('a second session gets the first one\'s interface, reset in between; shutdown deletes it', async () => {
    const port = env.nextPort();
    const configText = `${seedConfig({ port, certs: env.certs })}\nset vpn sstp ppp-options interface-cache 4\n`;
    let ifname = '';
    // One process: each worker keeps its own share of the cache, and the second connection could
    // land on the other worker (the share itself is covered by the workers' unit test).
    await withDaemon({ configText, netns: env.ns, extraArgs: ['--workers', '1'] }, async (d) => {
      const first = ClientProc.start(env.ns, { port, user: 'vyos', password: 'vyos', auth: 'mschap-v2' });
      let ifindex = 0;
      try {
        assert.equal((await first.next(['up', 'failed'])).event, 'up');
        assert.ok(await first.ping(GATEWAY));
        const [row] = await d.sessions();
        assert.ok(row);
        ifname = row.ifname;
        ifindex = (await link(ifname))!.ifindex;
        await first.close();
        await d.waitForLog(isEvent('session-down', { sid: row.sid }));
        await eventually(async () => {
          const l = await link(ifname);
          return l !== undefined && !l.flags.includes('UP') && l.addr_info.length === 0;
        }, 10_000, `${ifname} kept, down, without addresses`);
        const routes = (await env.ns.exec('ip', ['-j', 'route', 'show', 'dev', ifname])).stdout.trim();
        assert.deepEqual(JSON.parse(routes || '[]'), [], 'no route left through it');
      } finally {
        first.kill();
      }

      const second = ClientProc.start(env.ns, { port, user: 'vyos', password: 'vyos', auth: 'mschap-v2' });
      try {
        assert.equal((await second.next(['up', 'failed'])).event, 'up');
        const [row] = await d.sessions();
        assert.equal(row?.ifname, ifname, 'the cached interface');
        assert.equal((await link(ifname))?.ifindex, ifindex, 'the same device, not a new one of that name');
        assert.ok(await second.ping(GATEWAY), 'traffic flows through the reused interface');
        const now = await d.session(row.sid);
        assert.ok(now && now.rxPackets >= 1 && now.rxPackets < 50, `counters are this session's: ${JSON.stringify(now)}`);
        await second.close();
        await d.waitForLog(isEvent('session-down', { sid: row.sid }));
      } finally {
        second.kill();
      }
    });
    await eventually(async () => (await link(ifname)) === undefined, 15_000, `${ifname} deleted at shutdown`);
  });
});
