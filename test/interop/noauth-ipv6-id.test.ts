/**
 * With the real client (sstpc + pppd in the VM): `authentication mode noauth` — pppd is not asked
 * to authenticate and its made-up credentials do not matter; the session has no user name — and
 * `ppp-options ipv6-peer-interface-id ipv4-addr`: pppd takes the interface id we Nak it to, made
 * from its IPv4 address as accel-ppp makes it (192.0.2.1 → ::192:0:2:1).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createInteropEnv, rootSkipReason, seedConfig, withDaemon, type InteropEnv } from '../support/daemon.js';
import { assertUp, describeRun, startSstpc, waitSessionUp } from '../support/vm.js';

describe('interop: noauth and ipv6-peer-interface-id with sstpc + pppd', { skip: rootSkipReason() }, () => {
  let env: InteropEnv | undefined;
  before(async () => {
    env = await createInteropEnv('sstpd-noauth-vm');
  });
  after(async () => {
    await env?.cleanup();
  });

  it('noauth: pppd gets a session without authenticating; its IPv6 link-local id comes from its IPv4 address', { timeout: 10 * 60_000 }, async () => {
    const e = env!;
    const port = e.nextPort();
    const lines = [
      'set vpn sstp client-ipv6-pool prefix 2001:db8:1::/48 mask 64',
      'set vpn sstp ppp-options ipv6-peer-interface-id ipv4-addr',
    ];
    const configText = seedConfig({ port, certs: e.certs, lines }).replace('authentication mode local', 'authentication mode noauth');
    await withDaemon({ configText, netns: e.ns }, async (d) => {
      const run = await startSstpc({ port, netns: e.ns, user: 'nobody', password: 'not-checked', exec: ['sleep 3'] });
      const up = await waitSessionUp(d, run, '');
      const row = await d.session(up.sid!);
      assert.equal(row?.username, '', 'no user name, as accel-ppp shows a noauth session');
      const r = await run.done;
      assertUp(r, 'the noauth client');
      assert.equal(r.result['auth'], 'none', describeRun(r));
      const ipv4 = String(r.result['ipv4']);
      const expected = `fe80::${ipv4.split('.').map((o) => String(Number(o))).join(':')}`;
      assert.ok(String(r.result['ipv6']).split(',').some((a) => a.startsWith(`${expected}/`)), `ppp0 has ${expected}\n${describeRun(r)}`);
    });
  });
});
