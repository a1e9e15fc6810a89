/**
 * extended-scripts as a lifecycle subscriber against a fake session and a fake runner: pppd_compat's
 * arguments and environment, on-pre-up refusing, on-down holding the interface, one log line per run;
 * and the real runner (src/dataplane/scripts.ts) on /bin/sh: exit code, a missing file, the time limit.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SessionLifecycle } from '../../src/session/lifecycle.js';
import { scriptsFeature, type RunScript, type ScriptRun } from '../../src/session/features/scripts.js';
import { runScript } from '../../src/dataplane/scripts.js';
import { parsePrefix6 } from '../../src/ip/ipv6-addr.js';
import { fakeSession } from '../support/session-context.js';

interface Call {
  readonly path: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  finish(r?: Partial<ScriptRun>): void;
}

function fakeRunner(): { run: RunScript; calls: Call[] } {
  const calls: Call[] = [];
  const run: RunScript = (path, args, env) =>
    new Promise((resolve) => calls.push({ path, args, env, finish: (r = {}) => resolve({ code: 0, signal: null, durationMs: 5, ...r }) }));
  return { run, calls };
}

const flush = async (): Promise<void> => {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
};

const SCRIPTS = { onPreUp: '/etc/ppp/pre-up', onUp: '/etc/ppp/up', onDown: '/etc/ppp/down', onChange: '/etc/ppp/change' };

describe('extended-scripts subscriber', () => {
  it('each hook runs its script with pppd_compat\'s arguments and environment', async () => {
    const { run, calls } = fakeRunner();
    const s = fakeSession({ ifname: 'sstp3', ipv4: '192.0.2.10', ipv6Prefix: parsePrefix6('2001:db8:1::/64') });
    const lc = SessionLifecycle.create(s.ctx, [scriptsFeature(SCRIPTS, '192.0.2.254', run)]);
    lc.authResult({ method: 'pap', ok: true });
    const held = lc.preUp();
    assert.ok(held instanceof Promise, 'the session is held while on-pre-up runs');
    assert.equal(calls.length, 1);
    const pre = calls[0]!;
    assert.equal(pre.path, '/etc/ppp/pre-up');
    assert.deepEqual(pre.args, ['sstp3', 'none', '0', '192.0.2.254', '192.0.2.10', '198.51.100.7']);
    assert.deepEqual(
      { ...pre.env, PATH: undefined },
      { PEERNAME: 'alice', CALLING_SID: '198.51.100.7', CALLED_SID: '192.0.2.1', IFNAME: 'sstp3', IPLOCAL: '192.0.2.254', IPREMOTE: '192.0.2.10', IPV6_PREFIX: '2001:db8:1::/64', PATH: undefined },
    );
    pre.finish();
    assert.equal(await held, true, 'on-pre-up said yes: the session may go up');
    assert.deepEqual(s.ends, []);
    lc.up();
    await flush();
    assert.equal(calls[1]!.path, '/etc/ppp/up');
    calls[1]!.finish();
    await lc.changed({ origin: 'coa', sessionTimeoutS: 10 });
    assert.equal(calls[2]!.path, '/etc/ppp/change');
    calls[2]!.finish();
    // on-down: the counters and connect time; the interface stays until the script is done.
    s.counters.txBytes = 1000;
    s.counters.rxBytes = 200;
    s.counters.txPackets = 10;
    s.counters.rxPackets = 2;
    s.now = 65_000;
    s.facts.ifname = undefined; // as SessionNetwork: the closing interface is no longer in the facts
    let released = false;
    const down = lc.down('sstp3').then(() => (released = true));
    await flush();
    const d = calls[3]!;
    assert.equal(d.path, '/etc/ppp/down');
    assert.deepEqual([d.args[0], d.env['IFNAME']], ['sstp3', 'sstp3']);
    assert.deepEqual([d.env['CONNECT_TIME'], d.env['BYTES_SENT'], d.env['BYTES_RCVD'], d.env['PACKETS_SENT'], d.env['PACKETS_RCVD']], ['65', '1000', '200', '10', '2']);
    assert.equal(released, false, 'the interface waits for on-down');
    d.finish();
    await down;
    assert.ok(released);
    const runs = s.events('script-run');
    assert.deepEqual(runs.map((r) => r['script']), ['on-pre-up', 'on-up', 'on-change', 'on-down']);
    assert.deepEqual({ ...runs[0], time: undefined }, { time: undefined, level: 30, msg: 'script-run', username: 'alice', script: 'on-pre-up', path: '/etc/ppp/pre-up', code: 0, signal: null, durationMs: 5 });
  });

  it('a failing on-pre-up ends the session (nas-error) with the script and its exit code; on-up and on-down never run', async () => {
    const { run, calls } = fakeRunner();
    const s = fakeSession();
    const lc = SessionLifecycle.create(s.ctx, [scriptsFeature(SCRIPTS, '192.0.2.254', run)]);
    lc.preUp();
    lc.up(); // the lifecycle does not wait for on-pre-up; on-up does
    await flush();
    assert.equal(calls.length, 1, 'on-up waits for on-pre-up');
    calls[0]!.finish({ code: 1 });
    await flush();
    assert.deepEqual(s.ends, [{ cause: 'nas-error', reason: 'on-pre-up /etc/ppp/pre-up exited with 1' }]);
    await lc.down('sstp0');
    assert.deepEqual(calls.map((c) => c.path), ['/etc/ppp/pre-up'], 'neither on-up nor on-down after a refusing on-pre-up');
    assert.equal(s.events('script-run')[0]!['level'], 40);
    const killed = fakeRunner();
    const s2 = fakeSession();
    SessionLifecycle.create(s2.ctx, [scriptsFeature({ onPreUp: '/x' }, '192.0.2.254', killed.run)]).preUp();
    killed.calls[0]!.finish({ code: null, signal: 'SIGKILL', error: 'killed after 30000 ms' });
    await flush();
    assert.deepEqual(s2.ends, [{ cause: 'nas-error', reason: 'on-pre-up /x failed: killed after 30000 ms' }]);
  });

  it('without IPv4 the addresses are 0.0.0.0; unset hooks run nothing', async () => {
    const { run, calls } = fakeRunner();
    const s = fakeSession({ ipv4: undefined });
    const lc = SessionLifecycle.create(s.ctx, [scriptsFeature({ onUp: '/up' }, '192.0.2.254', run)]);
    assert.equal(lc.preUp(), true);
    assert.equal(calls.length, 0);
    lc.up();
    await flush();
    assert.deepEqual(calls[0]!.args.slice(3, 5), ['0.0.0.0', '0.0.0.0']);
  });
});

describe('runScript (child process)', () => {
  it('exit code, argv and env as given; a missing file is an error result; a slow script is killed', async () => {
    const ok = await runScript('/bin/sh', ['-c', 'test "$1" = a && test "$FOO" = bar && test -z "$HOME"', 'sh', 'a'], { FOO: 'bar' }, 10_000);
    assert.equal(ok.code, 0);
    assert.equal((await runScript('/bin/sh', ['-c', 'exit 3'], {}, 10_000)).code, 3);
    const missing = await runScript('/nonexistent/script', [], {}, 10_000);
    assert.equal(missing.code, null);
    assert.match(missing.error ?? '', /ENOENT/);
    const slow = await runScript('/bin/sleep', ['30'], {}, 100);
    assert.equal(slow.signal, 'SIGKILL');
    assert.match(slow.error ?? '', /killed after 100 ms/);
  });
});
