/**
 * The seed's own test recipe (sstp-readable.rst, "Testing SSTP"): its pppd peer file, dialled
 * with sstpc against the seed's example config (all protocols allowed). The transcript there
 * ends with an MS-CHAPv2 link, MTU 1452, an address from the pool and the gateway as peer.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInteropEnv, inSubnet, rootSkipReason, seedConfig, withDaemon, type InteropEnv } from '../support/daemon.js';
import { assertUp, describeRun, runSstpc } from '../support/vm.js';

/**
 * The seed's /etc/ppp/peers/vyos, verbatim. `lock` is harmless in the VM: checked with `dump`,
 * pppd lists it in effect, yet takes no lock file for the pty sstpc hands it, and the link comes
 * up (the guest has no /var/lock, so a real serial device would fail there).
 */
const SEED_PEER_FILE = [
  'usepeerdns',
  '#require-mppe',
  '#require-pap',
  'require-mschap-v2',
  'noauth',
  'lock',
  'refuse-pap',
  'refuse-eap',
  'refuse-chap',
  'refuse-mschap',
  '#refuse-mschap-v2',
  'nobsdcomp',
  'nodeflate',
  'debug',
].join('\n') + '\n';

describe("interop: the seed's sstpc peer file", { skip: rootSkipReason() }, () => {
  let env: InteropEnv | undefined;
  before(async () => {
    env = await createInteropEnv('sstpd-peer');
  });
  after(async () => {
    await env?.cleanup();
  });

  it('connects with MS-CHAPv2, MTU 1452, an address from the pool and the gateway as peer', { timeout: 20 * 60_000 }, async () => {
    const e = env!;
    const port = e.nextPort();
    const peerFile = join(e.certs.dir, 'peer-vyos');
    await writeFile(peerFile, SEED_PEER_FILE);
    await withDaemon({ configText: seedConfig({ port, certs: e.certs }), netns: e.ns }, async (d) => {
      const r = await runSstpc({ port, netns: e.ns, user: 'vyos', password: 'vyos', pppdFile: peerFile, ping: ['peer'] });
      assertUp(r, 'seed peer file');
      assert.equal(r.result['auth'], 'mschap-v2', describeRun(r));
      assert.equal(r.result['mtu'], '1452');
      assert.ok(inSubnet(r.result['ipv4'] ?? '', '192.0.2.0/25'), `ipv4 ${r.result['ipv4']} from the pool`);
      assert.equal(r.result['peer'], '192.0.2.254');
      assert.equal(r.result['dns1'], '10.0.0.1');
      assert.equal(r.result['dns2'], '10.0.0.2');
      assert.equal(r.result['ping'], 'ok');
      const up = await d.waitForLog((l) => l.msg === 'session-up' && l.username === 'vyos', 5_000);
      assert.equal(up.ip, r.result['ipv4']);
    });
  });
});
