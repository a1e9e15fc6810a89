/**
 * The real Linux client (sstpc 1.0.18 + pppd 2.4.9 in a VM) against the daemon, once per PPP
 * authentication protocol, with the seed's example config narrowed to that protocol.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createInteropEnv, inSubnet, isEvent, rootSkipReason, seedConfig, withDaemon, type InteropEnv } from '../support/daemon.js';
import { assertUp, describeRun, startSstpc, waitSessionUp, type ClientAuth } from '../support/vm.js';

const POOL = '192.0.2.0/25';
const GATEWAY = '192.0.2.254';
const PROTOCOLS: readonly ClientAuth[] = ['pap', 'chap', 'mschap', 'mschap-v2'];

describe('interop: sstpc + pppd, one run per authentication protocol', { skip: rootSkipReason() }, () => {
  let env: InteropEnv | undefined;
  before(async () => {
    env = await createInteropEnv('sstpd-auth');
  });
  after(async () => {
    await env?.cleanup();
  });

  for (const proto of PROTOCOLS) {
    it(`${proto}: address from the pool, gateway as peer, both DNS servers, MTU 1452, gateway pings`, { timeout: 20 * 60_000 }, async () => {
      const e = env!;
      const port = e.nextPort();
      const configText = seedConfig({ port, certs: e.certs, protocols: [proto] });
      await withDaemon({ configText, netns: e.ns }, async (d) => {
        // The trailing sleep keeps the link up while we look at show sessions.
        const run = await startSstpc({
          port, netns: e.ns, user: 'vyos', password: 'vyos', auth: proto, ca: e.certs.caCert,
          pppd: ['usepeerdns'], ping: [GATEWAY], exec: ['sleep 6'],
        });
        try {
          const up = await waitSessionUp(d, run, 'vyos');
          assert.ok(up.sid, `session-up carries a sid: ${up.raw}`);
          const row = await d.session(up.sid);
          assert.ok(row, `session ${up.sid} is listed by show sessions while up`);
          assert.equal(row.username, 'vyos');
          assert.equal(row.ip, up.ip);
          assert.ok(inSubnet(row.ip, POOL), `${row.ip} in ${POOL}`);
          assert.ok((await d.interfaceNames()).includes(row.ifname), `interface ${row.ifname} exists while up`);
          if (proto === 'mschap' || proto === 'mschap-v2') {
            // Plain sstpc binds with its own MS-CHAPv1 form; MS-CHAPv2 has the one MS-SSTP form.
            const bound = await d.waitForLog(isEvent('binding-verified', { sid: up.sid }));
            assert.equal(bound['hlak'], proto === 'mschap' ? 'sstpc' : 'ms-sstp');
          }

          const r = await run.done;
          assertUp(r, proto);
          const res = r.result;
          assert.equal(res['auth'], proto, describeRun(r));
          assert.equal(res['ipv4'], row.ip, 'the client has the address the server lists');
          assert.equal(res['peer'], GATEWAY);
          assert.equal(res['dns1'], '10.0.0.1');
          assert.equal(res['dns2'], '10.0.0.2');
          assert.equal(res['ping'], 'ok');
          assert.equal(res['mtu'], '1452');

          await d.waitSessionGone(row.sid, row.ifname);
        } finally {
          await run.kill();
        }
      });
    });
  }
});
