/**
 * A whole configuration as a VyOS 1.4 router keeps it — config.boot with interfaces, system,
 * service and firewall sections, a node comment, the version footer, and `vpn sstp` with its
 * certificate in `pki` (a fresh root → intermediate → leaf chain) — and the same router's
 * `show configuration commands` output: both pass `sstpd --check`, and both start the daemon as
 * they are; our client connects, gets an address from the named range, reaches the gateway, and
 * is sent the chain the pki holds (leaf, intermediate, root).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkConfig, createInteropEnv, rootSkipReason, withDaemon, isEvent, type InteropEnv } from '../support/daemon.js';
import { ClientProc } from '../support/client-proc.js';
import { formatIssues, loadConfigText, nodeFileChecker } from '../../src/config/load.js';
import { makeVyosPki, type VyosPki } from '../support/vyos-pki.js';

const GATEWAY = '10.99.0.1';
const RANGE = { first: 10, last: 20 };

function configBoot(p: VyosPki, port: number): string {
  return `firewall {
    global-options {
        all-ping "enable"
        broadcast-ping "disable"
    }
    ipv4 {
        input {
            filter {
                default-action "drop"
                rule 10 {
                    action "accept"
                    state "established"
                    state "related"
                }
                rule 20 {
                    action "accept"
                    destination {
                        port "${port}"
                    }
                    protocol "tcp"
                }
            }
        }
    }
}
interfaces {
    ethernet eth0 {
        address "203.0.113.2/24"
        description "WAN \\"uplink\\""
        hw-id "00:53:00:00:00:01"
    }
    loopback lo {
    }
}
pki {
    ca sstp-intermediate {
        certificate "${p.intermediateB64}"
    }
    ca sstp-root {
        certificate "${p.rootB64}"
    }
    certificate sstp {
        certificate "${p.leafB64}"
        private {
            key "${p.leafKeyB64}"
        }
    }
}
service {
    ntp {
        allow-client {
            address "127.0.0.0/8"
            address "::1/128"
        }
        server time1.vyos.net {
        }
    }
    ssh {
        port "22"
    }
}
system {
    config-management {
        commit-revisions "100"
    }
    console {
        device ttyS0 {
            speed "115200"
        }
    }
    host-name "vyos"
    login {
        user vyos {
            authentication {
                encrypted-password "$6$rounds=656000$x.y/z$abc#def"
                plaintext-password ""
            }
        }
    }
    name-server "192.0.2.53"
    syslog {
        global {
            facility all {
                level "info"
            }
        }
    }
}
vpn {
    /* office VPN */
    sstp {
        authentication {
            local-users {
                username alice {
                    password "alice secret"
                }
                username bob {
                    disable
                    password "bob-pw"
                }
            }
            mode "local"
            protocols "mschap-v2"
        }
        client-ip-pool SSTP-POOL {
            range "10.99.0.${RANGE.first}-10.99.0.${RANGE.last}"
        }
        default-pool "SSTP-POOL"
        gateway-address "${GATEWAY}"
        name-server "${GATEWAY}"
        port "${port}"
        ssl {
            ca-certificate "sstp-root"
            certificate "sstp"
        }
    }
}


// Warning: Do not remove the following line.
// vyos-config-version: "bgp@5:broadcast-relay@1:cluster@2:config-management@1:conntrack@5:conntrack-sync@2:container@2:dhcp-relay@2:dhcp-server@8:dhcpv6-server@1:dns-dynamic@4:dns-forwarding@4:firewall@15:flow-accounting@1:https@6:ids@1:interfaces@32:ipoe-server@3:ipsec@13:isis@3:l2tp@8:lldp@2:mdns@1:monitoring@1:nat@8:nat66@3:ntp@3:openconnect@3:ospf@2:pim@1:policy@8:pppoe-server@8:pptp@4:qos@2:quagga@11:rip@1:rpki@2:salt@1:snmp@3:ssh@2:sstp@6:system@27:vrf@3:vrrp@4:vyos-accel-ppp@2:wanloadbalance@3:webproxy@2"
// Release version: 1.4.0
`;
}

/** The same router's `show configuration commands`: values single-quoted, as VyOS prints them. */
function showCommands(p: VyosPki, port: number): string {
  return `set firewall global-options all-ping 'enable'
set firewall global-options broadcast-ping 'disable'
set firewall ipv4 input filter default-action 'drop'
set firewall ipv4 input filter rule 10 action 'accept'
set firewall ipv4 input filter rule 10 state 'established'
set firewall ipv4 input filter rule 10 state 'related'
set firewall ipv4 input filter rule 20 action 'accept'
set firewall ipv4 input filter rule 20 destination port '${port}'
set firewall ipv4 input filter rule 20 protocol 'tcp'
set interfaces ethernet eth0 address '203.0.113.2/24'
set interfaces ethernet eth0 description 'WAN \\"uplink\\"'
set interfaces ethernet eth0 hw-id '00:53:00:00:00:01'
set interfaces loopback lo
set pki ca sstp-intermediate certificate '${p.intermediateB64}'
set pki ca sstp-root certificate '${p.rootB64}'
set pki certificate sstp certificate '${p.leafB64}'
set pki certificate sstp private key '${p.leafKeyB64}'
set service ntp allow-client address '127.0.0.0/8'
set service ntp allow-client address '::1/128'
set service ntp server time1.vyos.net
set service ssh port '22'
set system config-management commit-revisions '100'
set system console device ttyS0 speed '115200'
set system host-name 'vyos'
set system login user vyos authentication encrypted-password '$6$rounds=656000$x.y/z$abc#def'
set system login user vyos authentication plaintext-password ''
set system name-server '192.0.2.53'
set system syslog global facility all level 'info'
set vpn sstp authentication local-users username alice password 'alice secret'
set vpn sstp authentication local-users username bob disable
set vpn sstp authentication local-users username bob password 'bob-pw'
set vpn sstp authentication mode 'local'
set vpn sstp authentication protocols 'mschap-v2'
set vpn sstp client-ip-pool SSTP-POOL range '10.99.0.${RANGE.first}-10.99.0.${RANGE.last}'
set vpn sstp default-pool 'SSTP-POOL'
set vpn sstp gateway-address '${GATEWAY}'
set vpn sstp name-server '${GATEWAY}'
set vpn sstp port '${port}'
set vpn sstp ssl ca-certificate 'sstp-root'
set vpn sstp ssl certificate 'sstp'
comment vpn sstp 'office VPN'
`;
}

describe('a VyOS 1.4 router\'s whole configuration runs as it is', { skip: rootSkipReason() }, () => {
  let env: InteropEnv;
  let pki: VyosPki;
  before(async () => {
    env = await createInteropEnv('sstpd-vyos');
    pki = await makeVyosPki();
  });
  after(async () => {
    await env?.cleanup();
  });

  it('config.boot and show configuration commands load to the same model', () => {
    const a = loadConfigText(configBoot(pki, 4443), { files: nodeFileChecker });
    const b = loadConfigText(showCommands(pki, 4443), { files: nodeFileChecker });
    assert.ok(a.ok, a.ok ? '' : formatIssues(a.issues));
    assert.ok(b.ok, b.ok ? '' : formatIssues(b.issues));
    assert.deepEqual(a.config, b.config);
    assert.deepEqual(a.config.ipv4Pools, [{ name: 'SSTP-POOL', subnets: ['10.99.0.10-10.99.0.20'] }]);
    assert.deepEqual(a.notes, []);
  });

  for (const [format, text] of [
    ['config.boot', configBoot],
    ['show configuration commands', showCommands],
  ] as const) {
    it(`${format}: sstpd --check passes, the daemon starts, a client gets an address from the named range`, async () => {
      const port = env.nextPort();
      const file = join(env.certs.dir, `vyos-${format.replace(/\W+/g, '-')}.conf`);
      await writeFile(file, text(pki, port));
      const checked = await checkConfig(file);
      assert.equal(checked.code, 0, checked.stdout + checked.stderr);
      assert.equal(checked.stdout, `${file}: configuration is valid\n`);
      await withDaemon({ configText: text(pki, port), netns: env.ns }, async (d) => {
        const c = ClientProc.start(env.ns, { port, user: 'alice', password: 'alice secret', auth: 'mschap-v2' });
        const bob = ClientProc.start(env.ns, { port, user: 'bob', password: 'bob-pw', auth: 'mschap-v2' });
        try {
          const up = await c.next(['up', 'failed']);
          assert.equal(up.event, 'up', JSON.stringify(up));
          const last = Number(String(up['ipv4']).split('.')[3]);
          assert.ok(String(up['ipv4']).startsWith('10.99.0.') && last >= RANGE.first && last <= RANGE.last, `address ${String(up['ipv4'])} from SSTP-POOL`);
          assert.equal(up['peer'], GATEWAY);
          assert.deepEqual(up['dns'], [GATEWAY]);
          assert.ok(await c.ping(GATEWAY), 'the gateway answers through the tunnel');
          assert.equal((await bob.next(['up', 'failed'])).event, 'failed', 'bob is disabled');
          const [row] = await d.sessions();
          assert.equal(row?.username, 'alice');
          assert.equal(d.findLogs(isEvent('binding-verified', { sid: row!.sid })).length, 1);
        } finally {
          c.kill();
          bob.kill();
        }
        // The chain sent: the leaf, then the intermediate and the root found among the pki ca entries.
        const probe =
          `const t=require('tls');const s=t.connect({host:'127.0.0.1',port:${port},rejectUnauthorized:false},()=>{` +
          `const c=s.getPeerCertificate(true);const chain=[];let x=c;while(x&&!chain.includes(x.fingerprint256)){chain.push(x.fingerprint256);x=x.issuerCertificate;}` +
          `process.stdout.write(JSON.stringify(chain));s.end();});`;
        const chain = JSON.parse((await env.ns.exec(process.execPath, ['-e', probe])).stdout) as string[];
        const fp = (b64: string): string => new X509Certificate(Buffer.from(b64, 'base64')).fingerprint256;
        assert.deepEqual(chain, [fp(pki.leafB64), fp(pki.intermediateB64), fp(pki.rootB64)]);
      });
    });
  }
});
