/**
 * VyOS's own SSTP smoketest configurations (test/support/vyos-smoketests.ts, the PKI made fresh)
 * with the real client: sstpd runs each configuration, and sstpc 1.0.18 + pppd 2.4.9 in the VM
 * show that it behaves as the configuration says. The smoketests only render the accel-ppp file,
 * so the values a single client cannot exercise are narrowed, and every such edit is named here:
 *
 * - test_accel_next_pool: `default-pool VyOS-pool1` added (VyOS warns without it and sessions then
 *   get no IPv4 address); the first two pools narrowed to one free address each, so two sessions of
 *   our own client (test/support/client-cli.ts) exhaust them and the VM lands in the third.
 * - test_sstp_host_name: sstpc sends SNI only with `--tls-ext` (its `--host` name, else the
 *   `--server` string), and its HTTP Host is always the address it dialled (`10.0.2.2`: with a port
 *   in `--server`, which the harness always writes, sstpc ignores `--host` for the Host header). So
 *   host-name test.vyos.io can only be refused; acceptance is shown with host-name `10.0.2.2`,
 *   a value VyOS's host-name constraint takes.
 * - test_accel_limits: `burst 100` becomes `burst 1`, so the VM's second connection is over it.
 * - extended-scripts (no smoketest sets them): on-up/on-down added to basic_config().
 * - ipv4/ipv6 policies (test_accel_ppp_options sets one pair): basic_config() plus
 *   test_accel_ipv6_pool's prefix, `default-ipv6-pool` (without it sessions get no prefix, as
 *   VyOS warns) and each pair; pppd's `+ipv6` / `noipv6` / `noip` choose what the client runs.
 *
 * WINS: pppd 2.4.9 cannot ask for NBNS (it has only `ms-wins`, the server side; `usepeerwins` came
 * with pppd 2.5), so with sstpc what shows is that the configuration works with a client that
 * does not ask and that no NBNS option is pushed at it; the Nak/Ack answers to a client that does
 * ask are in test/core/ppp-link.test.ts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInteropEnv, eventually, isEvent, rootSkipReason, withDaemon, type Daemon, type InteropEnv } from '../support/daemon.js';
import { ClientProc } from '../support/client-proc.js';
import { assertRefused, assertUp, describeRun, runSstpc, startSstpc, waitSessionUp, type SstpcOptions, type SstpcResult } from '../support/vm.js';
import { pppdLog, pppdPackets } from '../support/vm-logs.js';
import { makeVyosPki, pkiSmoketestCommands, type VyosPki } from '../support/vyos-pki.js';
import { S, basicConfig, smoketestCase } from '../support/vyos-smoketests.js';

/** basic_config()'s gateway. */
const GATEWAY = '192.0.2.1';
const VM_TIMEOUT = 10 * 60_000;

/** `local-users` u1/p1 … uN/pN: runs against one daemon at once need distinct users (one session per user). */
const userLines = (n: number): string[] =>
  Array.from({ length: n }, (_, i) => `${S} authentication local-users username u${i + 1} password 'p${i + 1}'`);
const user = (i: number): { user: string; password: string } => ({ user: `u${i + 1}`, password: `p${i + 1}` });

/** Each `from` must occur in the lines (an edit that matches nothing would test the wrong thing). */
function edited(lines: readonly string[], edits: Readonly<Record<string, string>>): string[] {
  let out = [...lines];
  for (const [from, to] of Object.entries(edits)) {
    assert.ok(out.some((l) => l.includes(from)), `edit "${from}" matches no line of\n${out.join('\n')}`);
    out = out.map((l) => l.replace(from, to));
  }
  return out;
}

/** Our interface's MTU, as the kernel has it. */
async function linkMtu(d: Daemon, ifname: string): Promise<number> {
  const { stdout } = await (d.netns ?? assert.fail('the daemon runs in a namespace')).exec('ip', ['-j', 'link', 'show', 'dev', ifname]);
  return (JSON.parse(stdout) as { mtu: number }[])[0]!.mtu;
}

const hasLine = (r: SstpcResult, pred: (l: string) => boolean): boolean => pppdLog(r).some(pred);

describe('interop: VyOS smoketest configurations with sstpc + pppd', { skip: rootSkipReason() }, () => {
  let env: InteropEnv;
  let pki: VyosPki;
  let dir: string;
  before(async () => {
    env = await createInteropEnv('sstpd-vysm');
    pki = await makeVyosPki();
    dir = await mkdtemp(join(tmpdir(), 'sstpd-vysm-'));
  });
  after(async () => {
    await env?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** setUpClass's PKI, the `vpn sstp` lines, our port, then extra lines. */
  const configText = (lines: readonly string[], port: number, extra: readonly string[] = []): string =>
    [...pkiSmoketestCommands(pki), ...lines, `${S} port '${port}'`, ...extra].join('\n') + '\n';

  const vm = (port: number, o: Omit<SstpcOptions, 'port' | 'netns'>): SstpcOptions => ({ port, netns: env.ns, auth: 'mschap-v2', ...o });

  it('test_accel_next_pool: the default pool first, then next-pool down the chain as each is exhausted', { timeout: VM_TIMEOUT }, async () => {
    const port = env.nextPort();
    const lines = edited(smoketestCase('test_accel_next_pool').lines, {
      // .1 is the gateway (never handed out), so .2 is the one address left.
      "range '192.0.2.0/25'": "range '192.0.2.1-192.0.2.2'",
      "range '203.0.113.0/25'": "range '203.0.113.7/32'",
    });
    const text = configText(lines, port, [`${S} default-pool 'VyOS-pool1'`, ...userLines(3)]);
    await withDaemon({ configText: text, netns: env.ns }, async (d) => {
      const clients: ClientProc[] = [];
      try {
        const got: string[] = [];
        for (const i of [0, 1]) {
          const c = ClientProc.start(env.ns, { port, ...user(i) });
          clients.push(c);
          const up = await c.next(['up', 'failed']);
          assert.equal(up.event, 'up', JSON.stringify(up));
          got.push(String(up['ipv4']));
        }
        assert.deepEqual(got, ['192.0.2.2', '203.0.113.7'], 'VyOS-pool1 (default-pool), then Vyos-pool2');
        const r = await runSstpc(vm(port, { ...user(2), ping: ['peer'] }));
        assertUp(r, 'the VM with VyOS-pool1 and Vyos-pool2 exhausted');
        assert.equal(r.result['ipv4'], '198.51.100.1', `Vyos-pool3's first address\n${describeRun(r)}`);
        assert.equal(r.result['peer'], GATEWAY);
        assert.equal(r.result['ping'], 'ok');
      } finally {
        for (const c of clients) c.kill();
      }
    });
  });

  it('test_sstp_host_name: an SNI or HTTP Host naming another host is refused; the configured name is let in', { timeout: VM_TIMEOUT }, async () => {
    const tlsExt = (name: string): string[] => ['--sstpc-opt', '--tls-ext', '--sstpc-opt', '--host', '--sstpc-opt', name];
    const refusedPort = env.nextPort();
    await withDaemon({ configText: configText(smoketestCase('test_sstp_host_name').lines, refusedPort, userLines(3)), netns: env.ns }, async (d) => {
      const [plain, otherSni, rightSni] = await Promise.all([
        runSstpc(vm(refusedPort, { ...user(0), expectFail: true, timeoutS: 20 })),
        runSstpc(vm(refusedPort, { ...user(1), expectFail: true, timeoutS: 20, extraArgs: tlsExt('other.vyos.io') })),
        runSstpc(vm(refusedPort, { ...user(2), expectFail: true, timeoutS: 20, extraArgs: tlsExt('test.vyos.io') })),
      ]);
      assertRefused(plain!, 'no SNI, Host 10.0.2.2');
      assertRefused(otherSni!, 'SNI other.vyos.io');
      assertRefused(rightSni!, 'SNI test.vyos.io, Host 10.0.2.2');
      assert.equal(otherSni!.result['reason'], 'connect-failed', `refused in the TLS handshake\n${describeRun(otherSni!)}`);
      assert.equal(plain!.result['reason'], 'http-handshake-failed', describeRun(plain!));
      assert.equal(rightSni!.result['reason'], 'http-handshake-failed', describeRun(rightSni!));
      assert.equal(d.findLogs((l) => l.msg === 'tls-failed' && String(l.reason).includes('SNI other.vyos.io is not test.vyos.io')).length, 1);
      // Both HTTP refusals: 404 for the Host sstpc sends, with or without a right SNI (accel-ppp checks both).
      assert.equal(d.findLogs((l) => l.msg === 'http-rejected' && l['status'] === 404 && String(l.reason).includes('Host 10.0.2.2 is not test.vyos.io')).length, 2);
      assert.deepEqual(d.findLogs(isEvent('session-up')), []);
    });

    const acceptedPort = env.nextPort();
    const lines = edited(smoketestCase('test_sstp_host_name').lines, { "host-name 'test.vyos.io'": "host-name '10.0.2.2'" });
    await withDaemon({ configText: configText(lines, acceptedPort, userLines(2)), netns: env.ns }, async (d) => {
      const [sni, noSni] = await Promise.all([
        runSstpc(vm(acceptedPort, { ...user(0), extraArgs: tlsExt('10.0.2.2') })),
        runSstpc(vm(acceptedPort, user(1))),
      ]);
      assertUp(sni!, 'SNI and Host 10.0.2.2');
      assertUp(noSni!, 'no SNI, Host 10.0.2.2');
      assert.deepEqual(d.findLogs((l) => l.msg === 'tls-failed' || l.msg === 'http-rejected'), []);
    });
  });

  it('test_accel_limits: the connection beyond the burst is refused before TLS', { timeout: VM_TIMEOUT }, async () => {
    const port = env.nextPort();
    const lines = edited(smoketestCase('test_accel_limits').lines, { "limits burst '100'": "limits burst '1'" });
    await withDaemon({ configText: configText(lines, port), netns: env.ns }, async (d) => {
      const first = await runSstpc(vm(port, { user: 'vyos', password: 'vyos' }));
      assertUp(first, 'the first connection (the burst)');
      assert.equal(first.result['sstpc_retries'], '0', `a retried sstpc start spends the burst\n${describeRun(first)}`);
      const since = d.mark();
      const second = await runSstpc(vm(port, { user: 'vyos', password: 'vyos', expectFail: true, timeoutS: 20 }));
      assertRefused(second, 'the second connection within the minute');
      assert.equal(second.result['reason'], 'connect-failed', describeRun(second));
      const refused = d.findLogs(isEvent('connection-refused'), since);
      assert.equal(refused.length, 1, d.logs.slice(since).map((l) => l.raw).join('\n'));
      assert.match(String(refused[0]!.reason), /rate limit/);
      assert.deepEqual(d.findLogs(isEvent('session-start'), since), [], 'no session was started for it');
    });
  });

  it('test_accel_ppp_options: our MRU 1452 (mru 9000 capped), a client MRU below min-mtu Nak-ed up to it; the interface MTU follows; CCP refused', { timeout: VM_TIMEOUT }, async () => {
    const port = env.nextPort();
    await withDaemon({ configText: configText(smoketestCase('test_accel_ppp_options').lines, port, userLines(2)), netns: env.ns }, async (d) => {
      const runs = await Promise.all(
        [[], ['mru 1300']].map((pppd, i) => startSstpc(vm(port, { ...user(i), pppd, exec: ['sleep 8'] }))),
      );
      try {
        const mtus: number[] = [];
        for (const [i, run] of runs.entries()) {
          const up = await waitSessionUp(d, run, `u${i + 1}`);
          mtus.push(await linkMtu(d, String(up.ifname)));
          assert.equal(up['mtu'], mtus[i], 'session-up logs the interface MTU');
        }
        const [plain, small] = await Promise.all(runs.map((r) => r.done));
        assertUp(plain!, 'pppd without an mru option');
        assertUp(small!, 'pppd mru 1300');

        // Our LCP ConfReq: MRU 1452 (ppp-options mru 9000, capped at what SSTP carries).
        for (const r of [plain!, small!]) assert.ok(pppdPackets(r, 'rcvd', 'LCP').some((l) => l.includes('ConfReq') && l.includes('<mru 1452>')), describeRun(r));
        // pppd proposes no MRU (1500): we send up to 1452.
        assert.equal(plain!.result['mtu'], '1452', describeRun(plain!));
        assert.equal(mtus[0], 1452);
        // pppd asks 1300 < min-mtu 1400: Nak-ed to 1400, which it takes; both ends use 1400.
        const lcp = pppdLog(small!).filter((l) => /^(sent|rcvd) \[LCP Conf/.test(l) && l.includes('<mru'));
        assert.ok(lcp.some((l) => l.startsWith('sent [LCP ConfReq') && l.includes('<mru 1300>')), lcp.join('\n'));
        assert.ok(lcp.some((l) => l.startsWith('rcvd [LCP ConfNak') && l.includes('<mru 1400>')), lcp.join('\n'));
        assert.ok(lcp.some((l) => l.startsWith('rcvd [LCP ConfAck') && l.includes('<mru 1400>')), lcp.join('\n'));
        assert.equal(small!.result['mtu'], '1400', describeRun(small!));
        assert.equal(mtus[1], 1400, 'our interface MTU follows the client MRU');

        for (const r of [plain!, small!]) {
          // disable-ccp: CCP is Protocol-Rejected (80 fd), mppe require notwithstanding; no IPv6 pool:
          // IPV6CP too (80 57); ipv4 require: IPCP up.
          const protRej = pppdPackets(r, 'rcvd', 'LCP').filter((l) => l.includes('ProtRej'));
          assert.ok(protRej.some((l) => / 80 fd /.test(l)), `CCP Protocol-Rejected\n${protRej.join('\n')}`);
          assert.ok(protRej.some((l) => / 80 57 /.test(l)), `IPV6CP Protocol-Rejected\n${protRej.join('\n')}`);
          assert.equal(r.result['peer'], GATEWAY);
        }
      } finally {
        await Promise.all(runs.map((r) => r.kill()));
      }
    });
  });

  it('test_accel_wins_server: pppd 2.4.9 asks for no NBNS, none is pushed at it, and the link comes up', { timeout: VM_TIMEOUT }, async () => {
    const port = env.nextPort();
    await withDaemon({ configText: configText(smoketestCase('test_accel_wins_server').lines, port), netns: env.ns }, async () => {
      const r = await runSstpc(vm(port, { user: 'vyos', password: 'vyos', pppd: ['usepeerdns'] }));
      assertUp(r, 'with wins-server configured');
      const ipcp = [...pppdPackets(r, 'sent', 'IPCP'), ...pppdPackets(r, 'rcvd', 'IPCP')];
      assert.ok(ipcp.some((l) => l.startsWith('rcvd [IPCP ConfAck')), ipcp.join('\n'));
      assert.deepEqual(ipcp.filter((l) => l.includes('ms-wins')), [], 'no NBNS option either way');
    });
  });

  it('extended-scripts: on-up and on-down run with pppd_compat\'s arguments for the VM\'s session', { timeout: VM_TIMEOUT }, async () => {
    for (const hook of ['up', 'down']) {
      const file = join(dir, `${hook}.sh`);
      await writeFile(file, `#!/bin/sh\n{ echo "ARGV=$*"; echo "PEERNAME=$PEERNAME"; } > ${dir}/${hook}.$PEERNAME\n`);
      await chmod(file, 0o755);
    }
    const port = env.nextPort();
    const scripts = ['up', 'down'].map((h) => `${S} extended-scripts on-${h} '${dir}/${h}.sh'`);
    await withDaemon({ configText: configText(basicConfig(), port, scripts), netns: env.ns }, async (d) => {
      const r = await runSstpc(vm(port, { user: 'vyos', password: 'vyos' }));
      assertUp(r, 'with on-up and on-down');
      const up = await d.waitForLog(isEvent('session-up', { username: 'vyos' }));
      const start = d.findLogs(isEvent('session-start', { sid: up.sid! }))[0];
      await d.waitForLog(isEvent('script-run', { script: 'on-down', code: 0 }), 30_000);
      const argv = `${String(up.ifname)} none 0 ${GATEWAY} ${r.result['ipv4']} ${String(start?.['callingSid'])}`;
      for (const hook of ['up', 'down']) {
        const text = await readFile(join(dir, `${hook}.vyos`), 'utf8');
        assert.equal(text, `ARGV=${argv}\nPEERNAME=vyos\n`, `on-${hook}`);
      }
    });
  });

  describe('ppp-options ipv4 / ipv6 with pppd +ipv6, noipv6, noip', () => {
    type Family = 'ipv4' | 'ipv6';
    interface PolicyRun {
      readonly pppd: string;
      /** The families the link came up with, or 'refused' (the session ended: `because`). */
      readonly outcome: readonly Family[] | 'refused';
      readonly because?: string;
      /** Whether our Configure-Request for that NCP reached pppd (we start it: prefer/require). */
      readonly weStart?: Partial<Record<'IPCP' | 'IPV6CP', boolean>>;
      /** The NCP we Protocol-Rejected (deny). */
      readonly weReject?: 'IPCP' | 'IPV6CP';
    }
    const REJECT_NAME = { IPCP: 'Internet Protocol Control Protocol', IPV6CP: 'IPv6 Control Protocol' } as const;
    const CASES: readonly { ipv4: string; ipv6: string; runs: readonly PolicyRun[] }[] = [
      {
        ipv4: 'require', ipv6: 'require', runs: [
          { pppd: '+ipv6', outcome: ['ipv4', 'ipv6'], weStart: { IPCP: true, IPV6CP: true } },
          { pppd: 'noipv6', outcome: 'refused', because: 'peer rejected IPV6CP' },
          { pppd: '+ipv6 noip', outcome: 'refused', because: 'peer rejected IPCP' },
        ],
      },
      {
        ipv4: 'deny', ipv6: 'allow', runs: [
          { pppd: '+ipv6 noip', outcome: ['ipv6'] },
          // pppd's IPCP is rejected; IPV6CP carries the session. The harness waits for ip-up in vain.
          { pppd: '+ipv6', outcome: ['ipv6'], weReject: 'IPCP' },
        ],
      },
      {
        ipv4: 'allow', ipv6: 'prefer', runs: [
          { pppd: '+ipv6 noip', outcome: ['ipv6'], weStart: { IPCP: false } },
          { pppd: 'noipv6', outcome: ['ipv4'], weStart: { IPV6CP: true } },
        ],
      },
      {
        ipv4: 'prefer', ipv6: 'deny', runs: [
          { pppd: '+ipv6', outcome: ['ipv4'], weReject: 'IPV6CP' },
          { pppd: '+ipv6 noip', outcome: 'refused', because: 'peer rejected IPCP', weStart: { IPCP: true } },
        ],
      },
    ];
    const ipv6Pool = smoketestCase('test_accel_ipv6_pool').lines.filter((l) => l.includes('client-ipv6-pool') && l.includes(' prefix '));

    for (const k of CASES) {
      it(`ipv4 ${k.ipv4}, ipv6 ${k.ipv6}: ${k.runs.map((r) => `"${r.pppd}" ${r.outcome === 'refused' ? 'refused' : r.outcome.join('+')}`).join(', ')}`, { timeout: VM_TIMEOUT }, async () => {
        const port = env.nextPort();
        const extra = [
          ...ipv6Pool, `${S} default-ipv6-pool 'ipv6_test_pool'`,
          `${S} ppp-options ipv4 '${k.ipv4}'`, `${S} ppp-options ipv6 '${k.ipv6}'`, ...userLines(k.runs.length),
        ];
        await withDaemon({ configText: configText(basicConfig(), port, extra), netns: env.ns }, async (d) => {
          const results = await Promise.all(k.runs.map((p, i) => {
            // Up without IPCP counts for the harness only with noip: otherwise it waits for ip-up.
            const harnessUp = p.outcome !== 'refused' && (p.outcome.includes('ipv4') || p.pppd.includes('noip'));
            return runSstpc(vm(port, { ...user(i), pppd: [p.pppd], ...(harnessUp ? {} : { expectFail: true, timeoutS: 25 }) }));
          }));
          for (const [i, p] of k.runs.entries()) await checkPolicyRun(d, k.ipv4, `u${i + 1}`, p, results[i]!);
        });
      });
    }

    async function checkPolicyRun(d: Daemon, ipv4: string, username: string, p: PolicyRun, r: SstpcResult): Promise<void> {
      const what = `pppd "${p.pppd}"`;
      if (p.outcome === 'refused') {
        // Both NCPs start at once: with "+ipv6 noip", IPV6CP may open on the guest in the few ms
        // before our session ends on pppd's Protocol-Reject of IPCP (accel-ppp has the same race).
        // The harness then counts the link as up; what matters is that it went down at once and
        // that our session never came up (checked below).
        const briefIpv6 = p.pppd.includes('noip') && r.result['reason'] === 'unexpected-success';
        if (briefIpv6) assert.ok(r.output.includes('@@SSTPCVM ipv6-down '), `${what}: IPv6 went down again\n${describeRun(r)}`);
        else assertRefused(r, what);
        const down = await d.waitForLog(isEvent('session-down', { username }), 10_000);
        assert.equal(down.reason, p.because, `${what}: ${down.raw}`);
        assert.deepEqual(d.findLogs(isEvent('session-up', { username })), [], `${what}: never up`);
      } else {
        const up = await d.waitForLog(isEvent('session-up', { username }), 10_000);
        // The address is leased at authentication: with ipv4 allow a client that never starts IPCP
        // still holds one (accel-ppp leases at IPCP). With deny none is taken.
        if (p.outcome.includes('ipv4')) assert.ok(up.ip !== undefined, `${what}: IPv4 address: ${up.raw}`);
        else if (ipv4 === 'deny') assert.equal(up.ip, undefined, `${what}: ipv4 deny takes no address: ${up.raw}`);
        assert.equal(up['ipv6Prefix'] !== undefined, p.outcome.includes('ipv6'), `${what}: IPv6 prefix: ${up.raw}`);
        if (p.outcome.includes('ipv6')) await d.waitForLog(isEvent('ipv6-up', { username }), 10_000);
        if (p.outcome.includes('ipv4') || p.pppd.includes('noip')) {
          assertUp(r, what);
          assert.equal(r.result['ipv4'] !== '-', p.outcome.includes('ipv4'), `${what}: ppp0 IPv4\n${describeRun(r)}`);
        } else {
          // The guest saw IPV6CP come up (ipv6-up ran), but never ip-up.
          assertRefused(r, `${what} (no ip-up)`);
          assert.ok(r.output.includes('@@SSTPCVM ipv6-up '), `${what}: ipv6-up ran\n${describeRun(r)}`);
        }
        if (p.outcome.includes('ipv6')) assert.ok(/^fe80::/.test(r.result['peer6'] ?? ''), `${what}: IPV6CP peer\n${describeRun(r)}`);
        else assert.equal(r.result['ipv6'], '-', `${what}: no IPv6 on ppp0\n${describeRun(r)}`);
      }
      for (const [ncp, started] of Object.entries(p.weStart ?? {})) {
        const seen = hasLine(r, (l) => l.startsWith(`rcvd [${ncp} ConfReq`));
        assert.equal(seen, started, `${what}: our ${ncp} Configure-Request ${started ? 'reached' : 'did not reach'} pppd\n${pppdLog(r).join('\n')}`);
      }
      if (p.weReject !== undefined) {
        const name = REJECT_NAME[p.weReject];
        assert.ok(hasLine(r, (l) => l.includes(`Protocol-Reject for '${name}'`)), `${what}: we Protocol-Rejected ${p.weReject}\n${pppdLog(r).join('\n')}`);
      }
      await eventually(async () => (await d.sessions()).every((s) => s.username !== username), 30_000, `${username}'s session to end`);
    }
  });
});
