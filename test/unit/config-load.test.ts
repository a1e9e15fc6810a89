import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateTestCertificates, type TestCertificates } from '../../src/config/certs.js';
import { demoConfigText } from '../../src/config/demo.js';
import { formatIssues, loadConfigFile, loadConfigText, nodeFileChecker, type LoadResult } from '../../src/config/load.js';
import type { SstpConfig } from '../../src/config/model.js';

let dir: string;
let certs: TestCertificates;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sstpd-config-load-'));
  certs = await generateTestCertificates(dir);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function config(r: LoadResult): SstpConfig {
  if (!r.ok) assert.fail(`expected the config to load, got:\n${formatIssues(r.issues)}`);
  return r.config;
}

/** The nine lines of the seed's example, with our generated files in place of /config/auth. */
const seed = (c: TestCertificates): string => `set vpn sstp authentication local-users username vyos password vyos
set vpn sstp authentication mode local
set vpn sstp gateway-address 192.0.2.254
set vpn sstp client-ip-pool subnet 192.0.2.0/25
set vpn sstp name-server 10.0.0.1
set vpn sstp name-server 10.0.0.2
set vpn sstp ssl ca-cert-file ${c.caCert}
set vpn sstp ssl cert-file ${c.serverCert}
set vpn sstp ssl key-file ${c.serverKey}
`;

describe('config load: the seed example', () => {
  it('loads with the exact values and VyOS defaults', () => {
    const c = config(loadConfigText(seed(certs), { files: nodeFileChecker }));
    const expected: SstpConfig = {
      port: 443,
      gatewayAddress: '192.0.2.254',
      ssl: { certFile: certs.serverCert, keyFile: certs.serverKey, caCertFile: certs.caCert, offload: false },
      authMode: 'local',
      authProtocols: ['pap', 'chap', 'mschap', 'mschap-v2'],
      localUsers: new Map([['vyos', { name: 'vyos', password: 'vyos', disabled: false }]]),
      ipv4Pools: [{ name: 'default', subnets: ['192.0.2.0/25'] }],
      defaultIpv4Pool: 'default',
      ipv6Pools: [],
      nameServers: { ipv4: ['10.0.0.1', '10.0.0.2'], ipv6: [] },
      ppp: { lcpEchoInterval: 30, lcpEchoFailure: 3, lcpEchoTimeout: 0 },
    };
    assert.deepStrictEqual(c, expected);
  });

  it('loads the same from a file, with ssl paths relative to the file', async () => {
    const text = seed({ ...certs, caCert: 'ca.crt', serverCert: 'server.crt', serverKey: './server.key' });
    const file = join(dir, 'sstpd.conf');
    await writeFile(file, text);
    const c = config(await loadConfigFile(file));
    assert.deepEqual(c.ssl, { certFile: certs.serverCert, keyFile: certs.serverKey, caCertFile: certs.caCert, offload: false });
  });
});

describe('config load: every node', () => {
  const full = (c: TestCertificates): string => `# all the local-mode nodes this build supports
set vpn sstp authentication local-users username alice password 'se cret'
set vpn sstp authentication local-users username alice static-ip 192.0.2.200
set vpn sstp authentication local-users username bob password "b\\"ob"
set vpn sstp authentication local-users username bob disable
set vpn sstp authentication protocols mschap-v2
set vpn sstp authentication protocols chap
set vpn sstp authentication protocols mschap-v2
set vpn sstp gateway-address 10.1.0.1
set vpn sstp port 4443
set vpn sstp client-ip-pool subnet 10.1.1.0/24
set vpn sstp client-ip-pool subnet 10.1.2.0/25
set vpn sstp name-server 10.1.0.53
set vpn sstp ssl cert-file ${c.chainCert}
set vpn sstp ssl key-file ${c.serverKey}
set vpn sstp ppp-options lcp-echo-failure 5
set vpn sstp ppp-options lcp-echo-interval 10
set vpn sstp ppp-options lcp-echo-timeout 60
set vpn sstp ppp-options mppe deny
set vpn sstp port 4443
`;
  it('maps to the model (multi order kept, duplicates once, chain cert accepted)', () => {
    const c = config(loadConfigText(full(certs), { files: nodeFileChecker }));
    assert.equal(c.port, 4443);
    assert.deepEqual(c.authProtocols, ['mschap-v2', 'chap']);
    assert.deepEqual([...c.localUsers.values()], [
      { name: 'alice', password: 'se cret', disabled: false, staticIp: '192.0.2.200' },
      { name: 'bob', password: 'b"ob', disabled: true },
    ]);
    assert.deepEqual(c.ipv4Pools, [{ name: 'default', subnets: ['10.1.1.0/24', '10.1.2.0/25'] }]);
    assert.deepEqual(c.ppp, { lcpEchoInterval: 10, lcpEchoFailure: 5, lcpEchoTimeout: 60, mppe: 'deny' });
    assert.equal(c.ssl.caCertFile, undefined);
  });

  it('accepts static-ip for every enabled user instead of a pool', () => {
    const text = `set vpn sstp authentication local-users username a password x
set vpn sstp authentication local-users username a static-ip 10.0.0.2
set vpn sstp authentication local-users username b password y
set vpn sstp authentication local-users username b disable
set vpn sstp gateway-address 10.0.0.1
set vpn sstp ssl cert-file /c
set vpn sstp ssl key-file /k
`;
    const c = config(loadConfigText(text));
    assert.deepEqual(c.ipv4Pools, []);
    assert.equal(c.defaultIpv4Pool, undefined);
    assert.equal('defaultIpv4Pool' in c, false);
  });
});

describe('config load: demo config', () => {
  it('is the seed example on port 4433 by default and loads as is', () => {
    const text = demoConfigText(certs.serverCert, certs.serverKey);
    const c = config(loadConfigText(text, { files: nodeFileChecker }));
    assert.equal(c.port, 4433);
    assert.equal(c.gatewayAddress, '192.0.2.254');
    assert.deepEqual([...c.localUsers.keys()], ['vyos']);
    assert.deepEqual(c.ssl, { certFile: certs.serverCert, keyFile: certs.serverKey, offload: false });
  });
  it('takes the port as a parameter and quotes awkward paths', () => {
    const text = demoConfigText("/tmp/my certs/it's.crt", '/k', 8443);
    assert.match(text, /^set vpn sstp port 8443$/m);
    assert.match(text, /^set vpn sstp ssl cert-file "\/tmp\/my certs\/it's.crt"$/m);
    assert.equal(config(loadConfigText(text)).ssl.certFile, "/tmp/my certs/it's.crt");
  });
});

describe('config load: formatIssues and file errors', () => {
  it('formats issues one per line, with or without line and path', () => {
    assert.equal(
      formatIssues([
        { path: 'vpn sstp port', message: 'Port number must be in range 1 to 65535', line: 3 },
        { path: '', message: 'expected "set"', line: 4 },
        { path: 'vpn sstp ssl key-file', message: 'SSL private key file required!' },
      ]),
      'line 3: vpn sstp port: Port number must be in range 1 to 65535\nline 4: expected "set"\n' +
        'vpn sstp ssl key-file: SSL private key file required!',
    );
  });
  it('reports a missing config file', async () => {
    const file = join(dir, 'nope.conf');
    assert.deepEqual(await loadConfigFile(file), {
      ok: false,
      issues: [{ path: file, message: 'configuration file does not exist' }],
      notes: [],
    });
  });
});
