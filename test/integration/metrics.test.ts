/**
 * The Prometheus endpoint, scraped for real: the text validated by `promtool check metrics`
 * (Debian's prometheus package), and counters that move as sessions come and go — setups by method
 * and result, sessions by state, traffic, ends by cause, pool use, drops, the outbound queues'
 * budget (back to 0 once the session is gone). No per-user label anywhere.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInteropEnv, eventually, isEvent, rootSkipReason, runCommand, seedConfig, withDaemon, type InteropEnv } from '../support/daemon.js';
import { ClientProc } from '../support/client-proc.js';

const GATEWAY = '192.0.2.254';

/** `name{labels} value` lines → map from `name{labels}` to value. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

describe('metrics: a real scrape, promtool, counters that move', { skip: rootSkipReason() }, () => {
  let env: InteropEnv;
  before(async () => {
    env = await createInteropEnv('sstpd-metrics');
  });
  after(async () => {
    await env?.cleanup();
  });

  async function scrape(port: number): Promise<string> {
    const r = await runCommand(process.execPath, ['-e', `fetch('http://127.0.0.1:${port}/metrics').then(async r=>{process.stdout.write(r.headers.get('content-type')+'\\n'+await r.text())})`], { netns: env.ns });
    assert.equal(r.code, 0, r.stderr);
    const nl = r.stdout.indexOf('\n');
    assert.match(r.stdout.slice(0, nl), /^text\/plain; version=0\.0\.4/);
    return r.stdout.slice(nl + 1);
  }

  async function promtool(text: string): Promise<{ code: number | null; out: string }> {
    return new Promise((resolve) => {
      const p = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      p.stderr.on('data', (d: Buffer) => (out += d.toString()));
      p.on('close', (code) => resolve({ code, out }));
      p.stdin.end(text);
    });
  }

  it('serves valid Prometheus text; setups, sessions, traffic, ends and pools move with a client', async () => {
    const port = env.nextPort();
    const mport = env.nextPort();
    const lines = ['set vpn sstp metrics listen-address 127.0.0.1', `set vpn sstp metrics port ${mport}`];
    await withDaemon({ configText: seedConfig({ port, certs: env.certs, protocols: ['mschap-v2'], lines }), netns: env.ns }, async (d) => {
      await d.waitForLog(isEvent('metrics-listening'));
      const first = await scrape(mport);
      const check = await promtool(first);
      assert.equal(check.code, 0, `promtool check metrics:\n${check.out}`);
      const s0 = samples(first);
      assert.equal(s0.get('sstpd_sessions{state="active"}'), 0);
      assert.equal(s0.get('sstpd_pool_size{family="ipv4",pool="default"}'), 126, '192.0.2.0/25 less network and broadcast');
      assert.equal(s0.get('sstpd_pool_used{family="ipv4",pool="default"}'), 0);
      assert.ok([...s0.keys()].some((k) => k.startsWith('sstpd_build_info{version=')));
      assert.ok(s0.has('sstpd_process_cpu_seconds_total'), 'process metrics');
      const budget = s0.get('sstpd_queue_budget_limit_bytes')!;
      assert.ok(budget > 0 && budget % (256 * 1024 * 1024) === 0, `${budget}: 256 MiB per worker (no SSTPD_QUEUE_BUDGET), summed`);
      assert.equal(s0.get('sstpd_queue_budget_used_bytes'), 0);

      const c = ClientProc.start(env.ns, { port, user: 'vyos', password: 'vyos' });
      const bad = ClientProc.start(env.ns, { port, user: 'vyos', password: 'wrong' });
      try {
        assert.equal((await c.next(['up', 'failed'])).event, 'up');
        assert.equal((await bad.next(['up', 'failed'])).event, 'failed');
        for (let i = 0; i < 3; i++) assert.ok(await c.ping(GATEWAY));
        await c.forgedPing('10.99.99.99', GATEWAY);
        const s1 = samples(await scrape(mport));
        assert.equal(s1.get('sstpd_sessions{state="active"}'), 1);
        assert.equal(s1.get('sstpd_setups_total{method="mschap-v2",result="success"}'), 1);
        assert.equal(s1.get('sstpd_setups_total{method="mschap-v2",result="failure"}'), 1);
        assert.equal(s1.get('sstpd_pool_used{family="ipv4",pool="default"}'), 1);
        assert.ok(s1.get('sstpd_receive_packets_total')! >= 3 && s1.get('sstpd_transmit_packets_total')! >= 3, 'traffic counted');
        assert.equal(s1.get('sstpd_dropped_packets_total{reason="source"}'), 1);
        assert.ok(s1.get('sstpd_connections_accepted_total')! >= 2);
        const rx1 = s1.get('sstpd_receive_bytes_total')!;
        await c.close();
        await eventually(async () => samples(await scrape(mport)).get('sstpd_sessions{state="active"}') === 0, 10_000, 'the session gone from the gauge');
        const s2 = samples(await scrape(mport));
        assert.equal(s2.get('sstpd_session_ends_total{cause="user-request"}'), 1);
        assert.ok(s2.get('sstpd_receive_bytes_total')! >= rx1, 'counters never go back when a session ends');
        assert.equal(s2.get('sstpd_pool_used{family="ipv4",pool="default"}'), 0);
        assert.equal(s2.get('sstpd_queue_budget_used_bytes'), 0, 'the ended session holds nothing of the budget');
        const text = await scrape(mport);
        assert.doesNotMatch(text, /vyos|username|sid=/, 'no per-user or per-session labels');
        assert.equal((await promtool(text)).code, 0);
        // The Grafana dashboard in examples/ asks only for metrics that exist.
        const dash = JSON.parse(await readFile(join(process.cwd(), 'examples', 'grafana', 'sstpd-dashboard.json'), 'utf8')) as { panels: { targets: { expr: string }[] }[] };
        const asked = new Set(dash.panels.flatMap((pn) => pn.targets.flatMap((t) => t.expr.match(/sstpd_[a-z_]+/g) ?? [])));
        assert.ok(asked.size >= 15, `${asked.size} metrics in the dashboard`);
        // (A family without series yet — per-server RADIUS counters in local mode — still has its TYPE line.)
        for (const m of asked) assert.match(text, new RegExp(`^# TYPE ${m} `, 'm'), `dashboard metric ${m} is served`);
      } finally {
        c.kill();
        bad.kill();
      }
    });
  });
});
