/**
 * The real client against a VyOS 1.4-style configuration: `config.boot` with `vpn sstp` using a
 * named pool (`client-ip-pool NAME range`, `default-pool`) and its certificate from `pki` (root →
 * intermediate → leaf, base64 bodies as VyOS stores them). sstpc + pppd in the VM verify the chain
 * against the root (`--ca`), authenticate with MS-CHAPv2, get an address from the named range and
 * ping the gateway.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInteropEnv, isEvent, rootSkipReason, withDaemon, type InteropEnv } from '../support/daemon.js';
import { assertUp, describeRun, runSstpc } from '../support/vm.js';
import { makeVyosPki, type VyosPki } from '../support/vyos-pki.js';

const GATEWAY = '10.98.0.1';

function configBoot(p: VyosPki, port: number): string {
  return `pki {
    ca office-intermediate {
        certificate "${p.intermediateB64}"
    }
    ca office-root {
        certificate "${p.rootB64}"
    }
    certificate vpn {
        certificate "${p.leafB64}"
        private {
            key "${p.leafKeyB64}"
        }
    }
}
vpn {
    sstp {
        authentication {
            local-users {
                username carol {
                    password "carol-pw"
                }
            }
            mode "local"
        }
        client-ip-pool OFFICE {
            range "10.98.0.100-10.98.0.120"
        }
        default-pool "OFFICE"
        gateway-address "${GATEWAY}"
        name-server "${GATEWAY}"
        port "${port}"
        ssl {
            ca-certificate "office-root"
            certificate "vpn"
        }
    }
}
// Warning: Do not remove the following line.
// vyos-config-version: "sstp@6:pki@1"
// Release version: 1.4.0
`;
}

describe('interop: sstpc against a VyOS 1.4 config.boot (named pool, pki chain)', { skip: rootSkipReason() }, () => {
  let env: InteropEnv;
  let pki: VyosPki;
  before(async () => {
    env = await createInteropEnv('sstpd-vm14');
    pki = await makeVyosPki();
  });
  after(async () => {
    await env?.cleanup();
  });

  it('mschap-v2: chain verified against the root, an address from the named range, ping', { timeout: 10 * 60_000 }, async () => {
    const port = env.nextPort();
    const ca = join(env.certs.dir, 'vyos14-root.pem');
    await writeFile(ca, pki.rootPem);
    await withDaemon({ configText: configBoot(pki, port), netns: env.ns }, async (d) => {
      const r = await runSstpc({ port, netns: env.ns, user: 'carol', password: 'carol-pw', auth: 'mschap-v2', ca, ping: ['peer'] });
      assertUp(r, 'sstpc with the 1.4 configuration');
      assert.equal(r.result['peer'], GATEWAY, describeRun(r));
      const last = Number(String(r.result['ipv4']).split('.')[3]);
      assert.ok(String(r.result['ipv4']).startsWith('10.98.0.') && last >= 100 && last <= 120, `address from the named range: ${r.result['ipv4']}`);
      assert.equal(r.result['ping'], 'ok', describeRun(r));
      assert.equal(d.findLogs(isEvent('binding-verified')).length >= 1, true);
    });
  });
});
