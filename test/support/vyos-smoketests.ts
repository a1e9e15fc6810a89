/**
 * The configurations VyOS's own SSTP smoketests commit (vyos-1x smoketest/scripts/cli/
 * test_vpn_sstp.py with its base class base_accel_ppp_test.py), as `show configuration commands`
 * would print the `vpn sstp` part after each commit. The PKI (setUpClass) is not here: prepend
 * pkiSmoketestCommands() (test/support/vyos-pki.ts), made fresh because theirs expired.
 * test/component/vyos-smoketests.test.ts runs each through `sstpd --check`;
 * test/interop/vyos-smoketests.test.ts runs the real client against them.
 */
export const S = 'set vpn sstp';

/** BasicAccelPPPTest.basic_config(): the SSTP part, auth, gateway, pool (each optional as there). */
export function basicConfig(o: { auth?: boolean; gateway?: boolean; pool?: boolean } = {}): string[] {
  return [
    `${S} ssl ca-certificate 'sstp'`,
    `${S} ssl certificate 'sstp'`,
    ...(o.auth === false ? [] : [`${S} authentication local-users username vyos password 'vyos'`, `${S} authentication mode 'local'`]),
    ...(o.gateway === false ? [] : [`${S} gateway-address '192.0.2.1'`]),
    ...(o.pool === false ? [] : [`${S} client-ip-pool SIMPLE-POOL range '192.0.2.0/24'`, `${S} default-pool 'SIMPLE-POOL'`]),
  ];
}

export interface SmoketestCase {
  readonly test: string;
  readonly lines: readonly string[];
  /** The exact error where the smoketest expects the commit to fail. */
  readonly error?: string;
  /** Notes the output must contain (a substring each). */
  readonly notes?: readonly string[];
}

const radius = [
  `${S} authentication mode 'radius'`,
  `${S} authentication radius server 192.0.2.22 key 'secretVyOS'`,
  `${S} authentication radius server 192.0.2.22 port '2000'`,
  `${S} authentication radius acct-interim-jitter '10'`,
  `${S} authentication radius accounting-interim-interval '10'`,
  `${S} authentication radius acct-timeout '30'`,
  `${S} authentication radius dynamic-author server '4.4.4.4'`,
  `${S} authentication radius dynamic-author key 'testCoA'`,
  `${S} authentication radius nas-identifier 'VyOS-PPPoE'`,
  `${S} authentication radius nas-ip-address '7.7.7.7'`,
  `${S} authentication radius source-address '1.2.3.4'`,
];
const localUser = [
  `${S} authentication local-users username test password 'test2'`,
  `${S} authentication local-users username test rate-limit upload '5000'`,
];

export const SMOKETEST_CASES: readonly SmoketestCase[] = [
  { test: 'test_accel_name_servers', lines: [...basicConfig(), `${S} name-server '192.0.2.1'`, `${S} name-server '192.0.2.2'`, `${S} name-server '2001:db8::1'`] },
  {
    test: 'test_accel_local_authentication (upload only: the commit must fail)',
    lines: [`${S} port '8443'`, ...basicConfig(), ...localUser, `${S} authentication local-users username test static-ip '100.100.100.101'`],
    error:
      'line 13: vpn sstp authentication local-users username test rate-limit: User "test" has rate-limit configured for only one direction but both upload and download must be given!',
  },
  {
    test: 'test_accel_local_authentication (download added)',
    lines: [`${S} port '8443'`, ...basicConfig(), ...localUser, `${S} authentication local-users username test static-ip '100.100.100.101'`, `${S} authentication local-users username test rate-limit download '10000'`],
  },
  {
    test: 'test_accel_local_authentication (static-ip deleted)',
    lines: [`${S} port '8443'`, ...basicConfig(), ...localUser, `${S} authentication local-users username test rate-limit download '10000'`],
  },
  {
    test: 'test_accel_radius_authentication',
    lines: [...basicConfig().filter((l) => !l.includes('mode')), ...radius, `${S} authentication radius server 192.0.2.22 acct-port '3000'`],
  },
  {
    test: 'test_accel_radius_authentication (disable-accounting, backup, priority 10)',
    lines: [
      ...basicConfig().filter((l) => !l.includes('mode')),
      ...radius,
      `${S} authentication radius server 192.0.2.22 disable-accounting`,
      `${S} authentication radius server 192.0.2.22 backup`,
      `${S} authentication radius server 192.0.2.22 priority '10'`,
    ],
  },
  {
    test: 'test_accel_ipv4_pool',
    lines: [
      ...basicConfig({ gateway: false, pool: false }),
      `${S} gateway-address '192.0.2.1'`,
      `${S} client-ip-pool POOL1 range '172.16.0.0/24'`,
      `${S} client-ip-pool POOL1 next-pool 'POOL2'`,
      `${S} client-ip-pool POOL2 range '192.0.2.10-192.0.2.20'`,
      `${S} default-pool 'POOL1'`,
    ],
  },
  {
    test: 'test_accel_next_pool',
    lines: [
      ...basicConfig({ gateway: false, pool: false }),
      `${S} gateway-address '192.0.2.1'`,
      `${S} client-ip-pool VyOS-pool1 range '192.0.2.0/25'`,
      `${S} client-ip-pool VyOS-pool1 next-pool 'Vyos-pool2'`,
      `${S} client-ip-pool Vyos-pool2 range '203.0.113.0/25'`,
      `${S} client-ip-pool Vyos-pool2 next-pool 'Vyos-pool3'`,
      `${S} client-ip-pool Vyos-pool3 range '198.51.100.0/24'`,
    ],
    // VyOS's own warning: no default-pool (the test does not set one).
    notes: ["vpn sstp default-pool: note: 'default-pool' is not defined", '192.0.2.1 lies inside client-ip-pool VyOS-pool1 range 192.0.2.0/25'],
  },
  {
    test: 'test_accel_ipv6_pool',
    lines: [
      ...basicConfig({ gateway: false, pool: false }),
      `${S} ppp-options ipv6 'allow'`,
      `${S} client-ipv6-pool ipv6_test_pool prefix '2001:db8:fffe::/56' mask '64'`,
      `${S} client-ipv6-pool ipv6_test_pool prefix '2001:db8:ffff::/56' mask '64'`,
      `${S} client-ipv6-pool ipv6_test_pool delegate '2001:db8:fff1::/56' delegation-prefix '64'`,
      `${S} client-ipv6-pool ipv6_test_pool delegate '2001:db8:fff2::/56' delegation-prefix '64'`,
    ],
    notes: ["'default-ipv6-pool' is not defined"],
  },
  {
    test: 'test_accel_ppp_options',
    lines: [
      ...basicConfig(),
      `${S} ppp-options disable-ccp`,
      `${S} ppp-options mppe 'require'`,
      `${S} ppp-options min-mtu '1400'`,
      `${S} ppp-options mru '9000'`,
      `${S} ppp-options interface-cache '128000'`,
      `${S} ppp-options ipv4 'require'`,
      `${S} ppp-options ipv6 'allow'`,
      `${S} ppp-options ipv6-interface-id 'random'`,
      `${S} ppp-options ipv6-accept-peer-interface-id`,
      `${S} ppp-options ipv6-peer-interface-id 'random'`,
      `${S} ppp-options lcp-echo-failure '4'`,
      `${S} ppp-options lcp-echo-interval '40'`,
      `${S} ppp-options lcp-echo-timeout '100'`,
    ],
    notes: ['ppp-options mppe: note: "require" has no effect with "ppp-options disable-ccp"'],
  },
  { test: 'test_accel_wins_server', lines: [...basicConfig(), `${S} wins-server '192.0.2.1'`, `${S} wins-server '192.0.2.2'`] },
  { test: 'test_accel_snmp', lines: [...basicConfig(), `${S} snmp master-agent`], notes: ['snmp master-agent: note: sstpd has no SNMP agent'] },
  { test: 'test_accel_shaper', lines: [...basicConfig(), `${S} shaper fwmark '2'`] },
  {
    test: 'test_accel_limits',
    lines: [...basicConfig(), `${S} limits connection-limit '1/min'`, `${S} limits timeout '20'`, `${S} limits burst '100'`],
  },
  { test: 'test_accel_log_level (default)', lines: basicConfig() },
  ...[0, 1, 2, 3, 4].map((level) => ({ test: `test_accel_log_level (${level})`, lines: [...basicConfig(), `${S} log level '${level}'`] })),
  { test: 'test_sstp_host_name', lines: [...basicConfig(), `${S} host-name 'test.vyos.io'`] },
  {
    test: 'tearDown (vpn sstp deleted: the daemon must not run)',
    lines: [],
    error: 'vpn sstp: the configuration is empty: no "set vpn sstp ..." settings found',
  },
];

/** The case of that name (the test name up to any parenthesis is the smoketest function). */
export function smoketestCase(test: string): SmoketestCase {
  const k = SMOKETEST_CASES.find((c) => c.test === test);
  if (k === undefined) throw new Error(`no smoketest case ${test}`);
  return k;
}
