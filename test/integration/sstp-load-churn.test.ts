/**
 * sstp-load --duration (the churn the soak run drives) against the real daemon in a throwaway
 * namespace, one session kind at a time so every count is exact: clean sessions ping the gateway
 * through the tunnel and say goodbye; dropped sessions vanish without a goodbye and the daemon ends
 * them (lost-carrier); wrong passwords are all refused. After each, the daemon holds no session.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  createInteropEnv,
  distDir,
  eventually,
  rootSkipReason,
  runCommand,
  seedConfig,
  withDaemon,
  type CmdResult,
  type Daemon,
  type InteropEnv,
} from '../support/daemon.js';

const WORKERS = 3;
const cli = (): string => join(distDir(), 'src', 'cli', 'sstp-load.js');

interface Report {
  readonly event: string;
  readonly mode: string;
  readonly attempts: Record<string, number>;
  readonly established: number;
  readonly closedClean: number;
  readonly dropped: number;
  readonly rejected: number;
  readonly failed: number;
  readonly lost: number;
  readonly pingsSent: number;
  readonly pingsAnswered: number;
  readonly up: number;
}

function report(r: CmdResult): Report {
  const lines = r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Report);
  const rep = lines.find((l) => l.event === 'report');
  assert.ok(rep, `no report line: ${r.stdout}${r.stderr}`);
  assert.ok(lines.some((l) => l.event === 'progress'), 'progress lines');
  return rep;
}

describe('sstp-load churn against sstpd', { skip: rootSkipReason() }, () => {
  let env: InteropEnv;
  before(async () => {
    env = await createInteropEnv('sstpd-churn');
  });
  after(async () => {
    await env?.cleanup();
  });

  const users = Array.from({ length: WORKERS }, (_, i) => ({ name: `u${i}`, password: 'pw' }));
  const churn = (port: number, mix: string): Promise<CmdResult> =>
    runCommand(process.execPath, [cli(), '--user', 'u%d', '--password', 'pw', '--insecure', '--duration', '2', '-c', String(WORKERS),
      '--mix', mix, '--hold', '0.3-0.8', '--pings', '2', '--progress', '1', '--auth-mix', 'mschap-v2,pap', `127.0.0.1:${port}`],
    { netns: env.ns, timeoutMs: 60_000 });

  const withChurnDaemon = (fn: (d: Daemon, port: number) => Promise<void>): Promise<void> => {
    const port = env.nextPort();
    return withDaemon({ configText: seedConfig({ port, certs: env.certs, users }), netns: env.ns }, async (d) => {
      await fn(d, port);
      await eventually(async () => (await d.sessions()).length === 0, 15_000, 'no session left');
    });
  };

  it('clean: every session pings the gateway through the tunnel and says goodbye', async () => {
    await withChurnDaemon(async (d, port) => {
      const r = await churn(port, 'clean');
      const rep = report(r);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.equal(rep.mode, 'churn');
      assert.ok(rep.established >= WORKERS, `established ${rep.established}`);
      assert.equal(rep.attempts['clean'], rep.established);
      assert.equal(rep.closedClean, rep.established);
      assert.equal(rep.failed + rep.lost + rep.dropped + rep.up, 0);
      assert.equal(rep.pingsSent, 2 * rep.established);
      assert.equal(rep.pingsAnswered, rep.pingsSent);
      await eventually(() => d.findLogs((e) => e.msg === 'session-down' && e.cause === 'user-request').length === rep.established, 10_000, 'a user-request session-down per session');
    });
  });

  it('drop: sessions vanish without a goodbye and the daemon ends each of them', async () => {
    await withChurnDaemon(async (d, port) => {
      const r = await churn(port, 'drop');
      const rep = report(r);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.ok(rep.established >= WORKERS, `established ${rep.established}`);
      assert.equal(rep.dropped, rep.established);
      assert.equal(rep.closedClean + rep.failed + rep.lost, 0);
      await eventually(() => d.findLogs((e) => e.msg === 'session-down').length === rep.established, 10_000, 'a session-down per dropped session');
      assert.equal(d.findLogs((e) => e.msg === 'session-down' && e.cause === 'user-request').length, 0, 'no goodbye was sent');
    });
  });

  it('wrong-password: every attempt is refused, nothing is established', async () => {
    await withChurnDaemon(async (d, port) => {
      const r = await churn(port, 'wrong-password');
      const rep = report(r);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.ok(rep.rejected >= WORKERS, `rejected ${rep.rejected}`);
      assert.equal(rep.rejected, rep.attempts['wrong-password']);
      assert.equal(rep.established + rep.failed, 0);
      assert.equal(d.findLogs((e) => e.msg === 'session-up').length, 0);
      assert.equal(d.findLogs((e) => e.msg === 'auth-failed').length, rep.rejected);
    });
  });

  it('usage errors exit 2', async () => {
    for (const args of [['--mix', 'clean:1,bogus:2'], ['--hold', '5-2'], ['--mix', 'clean:0']]) {
      const r = await runCommand(process.execPath, [cli(), '--user', 'u%d', '--password', 'pw', '--duration', '1', ...args, '127.0.0.1:1']);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    }
  });
});
