/**
 * The PPP part of the session policy from a VyOS 1.4 configuration (src/server/runtime.ts
 * pppPolicy): mtu, ppp-options mru / min-mtu / disable-ccp / ipv4 / ipv6, wins-server.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { formatIssues, loadConfigText } from '../../src/config/load.js';
import type { SstpConfig } from '../../src/config/model.js';
import { pppPolicy } from '../../src/server/runtime.js';
import { makeVyosPki, pkiSmoketestCommands, type VyosPki } from '../support/vyos-pki.js';

const S = 'set vpn sstp';
let pki: VyosPki;
before(async () => {
  pki = await makeVyosPki();
});

function configOf(extra: readonly string[]): SstpConfig {
  const lines = [
    ...pkiSmoketestCommands(pki),
    `${S} authentication local-users username vyos password 'vyos'`,
    `${S} authentication mode 'local'`,
    `${S} gateway-address '192.0.2.1'`,
    `${S} client-ip-pool P range '192.0.2.0/24'`,
    `${S} default-pool 'P'`,
    `${S} ssl ca-certificate 'sstp'`,
    `${S} ssl certificate 'sstp'`,
    ...extra,
  ];
  const r = loadConfigText(lines.join('\n') + '\n');
  if (!r.ok) assert.fail(formatIssues(r.issues));
  return r.config;
}

describe('pppPolicy: the PPP nodes reach the session policy', () => {
  it('defaults: MRU 1452, no peer MRU bounds of our own, no WINS, MPPE accepted, NCPs as before', () => {
    assert.deepEqual(pppPolicy(configOf([])), { wins: [], mru: 1452, mppe: 'accept' });
  });
  it('mtu, mru and min-mtu: capped at the SSTP 1452', () => {
    const p = pppPolicy(configOf([`${S} mtu 1400`, `${S} ppp-options mru 1200`, `${S} ppp-options min-mtu 1300`]));
    assert.deepEqual([p.mru, p.maxPeerMru, p.minPeerMru], [1200, 1400, 1300]);
    const big = pppPolicy(configOf([`${S} mtu 1500`, `${S} ppp-options mru 9000`]));
    assert.deepEqual([big.mru, big.maxPeerMru], [1452, 1452]);
  });
  it('wins-server', () => {
    assert.deepEqual(pppPolicy(configOf([`${S} wins-server 192.0.2.137`, `${S} wins-server 192.0.2.138`])).wins, ['192.0.2.137', '192.0.2.138']);
  });
  it('disable-ccp denies MPPE whatever ppp-options mppe says', () => {
    assert.equal(pppPolicy(configOf([`${S} ppp-options mppe require`, `${S} ppp-options disable-ccp`])).mppe, 'deny');
    assert.equal(pppPolicy(configOf([`${S} ppp-options mppe require`])).mppe, 'require');
  });
  it('ppp-options ipv4 / ipv6', () => {
    assert.deepEqual(pppPolicy(configOf([`${S} ppp-options ipv4 require`])).ncp, { ipv4: 'require' });
    const both = pppPolicy(configOf([`${S} ppp-options ipv4 allow`, `${S} ppp-options ipv6 prefer`, `${S} client-ipv6-pool V6 prefix 2001:db8::/48`, `${S} default-ipv6-pool V6`]));
    assert.deepEqual(both.ncp, { ipv4: 'allow', ipv6: 'prefer' });
  });
  it('ipv6-interface-id: a fixed id as 8 bytes; random leaves it to each session', () => {
    const v6 = [`${S} ppp-options ipv6 allow`, `${S} client-ipv6-pool V6 prefix 2001:db8::/48`, `${S} default-ipv6-pool V6`];
    assert.equal(pppPolicy(configOf([...v6, `${S} ppp-options ipv6-interface-id 0:0:0:1`])).interfaceId?.toString('hex'), '0000000000000001');
    assert.equal(pppPolicy(configOf([...v6, `${S} ppp-options ipv6-interface-id random`])).interfaceId, undefined);
  });
});
