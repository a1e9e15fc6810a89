/**
 * examples/cluster end to end: HAProxy (PROXY v2) in front of three sstpd nodes on one FreeRADIUS
 * with PostgreSQL (rlm_sql accounting, users in radcheck, rlm_sqlippool addresses), each machine
 * in its own namespace, brought up and torn down by the example's own script.
 *
 * 1. 50 sessions from sstp-load through HAProxy: spread over the nodes, every address distinct and
 *    leased from radippool to the node and session, one radacct row per session with Start and
 *    Interim data and the RADIUS Class echoed; each node lists exactly its rows.
 * 2. Disconnect to each node for a session it holds (by Acct-Session-Id, User-Name and
 *    Framed-IP-Address in turn): ACK and the session ends; the same request to the wrong node:
 *    NAK Session-Context-Not-Found.
 * 3. A node is killed: its leases stay held (no Stop), its users reconnect through HAProxy, land
 *    on the survivors and get new addresses; when it comes back its Accounting-On frees its leases
 *    and closes its radacct rows; the survivors' sessions never drop.
 * 4. `down` leaves no namespace, process, interface or file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { distDir, eventually, runCommand, type CmdResult } from '../support/daemon.js';

const SCRIPT = join(process.cwd(), 'examples', 'cluster', 'cluster');
const NAME = `sstpcl${process.pid}`;
const NODES = 3;
const SESSIONS = 50;
const LB = '10.77.0.2';
const nodeIp = (i: number): string => `10.77.0.${20 + i}`;
const ENV = { ...process.env, CLUSTER_NAME: NAME, CLUSTER_NODES: String(NODES), CLUSTER_INTERIM: '3', SSTPD_DIST: distDir() };

function cluster(args: readonly string[], timeoutMs = 60_000): Promise<CmdResult> {
  return runCommand('bash', [SCRIPT, ...args], { env: ENV, timeoutMs });
}

async function ok(args: readonly string[], timeoutMs?: number): Promise<string> {
  const r = await cluster(args, timeoutMs);
  assert.equal(r.code, 0, `cluster ${args.join(' ')} failed:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** Rows of a query, each a list of column texts. */
async function sql(query: string): Promise<string[][]> {
  const out = await ok(['sql', query]);
  return out
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split('|'));
}
const count = async (query: string): Promise<number> => Number((await sql(query))[0]![0]);

interface Row {
  readonly sid: string;
  readonly username: string;
  readonly ip: string;
  readonly state: string;
}
async function nodeSessions(dir: string, i: number): Promise<Row[]> {
  const out = await ok(['exec', `node${i}`, process.execPath, join(distDir(), 'src', 'cli', 'sstpctl.js'), '--state-dir', join(dir, `node${i}`, 'state'), 'show', 'sessions', '--json']);
  return JSON.parse(out) as Row[];
}

interface OpenRow {
  readonly sid: string;
  readonly username: string;
  readonly nas: string;
  readonly ip: string;
}
async function openRows(where = 'true'): Promise<OpenRow[]> {
  const rows = await sql(`SELECT acctsessionid, username, nasipaddress, host(framedipaddress) FROM radacct WHERE acctstoptime IS NULL AND ${where} ORDER BY 1`);
  return rows.map(([sid, username, nas, ip]) => ({ sid: sid!, username: username!, nas: nas!, ip: ip! }));
}

/** sstp-load in the client machine, holding its sessions until killed. */
class Load {
  readonly events: Record<string, unknown>[] = [];
  private readonly child: ChildProcess;
  private err = '';
  constructor(dir: string, users: readonly string[] | undefined, sessions: number) {
    const who = users ? ['--user-list', users.join(',')] : ['--user', 'user%d'];
    this.child = spawn(
      'bash',
      [SCRIPT, 'exec', 'client', process.execPath, join(distDir(), 'src', 'cli', 'sstp-load.js'), ...who, '--password', 'cluster-pw', '--ca', join(dir, 'pki', 'ca.crt'),
        '-n', String(sessions), '-c', '10', '--hold', '600', '--timeout', '60', `${LB}:443`],
      { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    createInterface({ input: this.child.stdout! }).on('line', (l) => {
      try {
        this.events.push(JSON.parse(l) as Record<string, unknown>);
      } catch {
        this.err += l + '\n';
      }
    });
    this.child.stderr!.on('data', (d: Buffer) => (this.err += d.toString()));
  }
  /** Waits until every session is up (the hold started). */
  async holding(n: number): Promise<void> {
    await eventually(() => this.events.some((e) => e['event'] === 'hold-start') || this.child.exitCode !== null, 90_000, 'sstp-load hold-start');
    const hold = this.events.find((e) => e['event'] === 'hold-start');
    assert.ok(hold, `sstp-load ended before its hold: ${JSON.stringify(this.events)}\n${this.err}`);
    assert.equal(hold['sessions'], n, `all sessions up: ${JSON.stringify(this.events)}`);
  }
  stop(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

function dumpLogs(dir: string): void {
  for (const f of ['radius', 'haproxy', ...Array.from({ length: NODES }, (_, i) => `node${i + 1}`)]) {
    const p = join(dir, 'log', `${f}.log`);
    if (existsSync(p)) process.stderr.write(`--- ${f} (tail) ---\n${readFileSync(p, 'utf8').split('\n').slice(-40).join('\n')}\n`);
  }
}

test('cluster example: 3 sstpd nodes behind HAProxy on FreeRADIUS + PostgreSQL (SQL accounting and IP pool, DAE, a node dying)', { timeout: 240_000 }, async (t) => {
  const t0 = Date.now();
  const phase = (what: string): void => t.diagnostic(`${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}`);
  const loads: Load[] = [];
  let dir = '';
  let down: CmdResult | undefined;
  try {
    await ok(['up'], 120_000);
    dir = readFileSync(`/run/sstpd-cluster/${NAME}`, 'utf8').trim();
    phase('up');

    // 1. 50 sessions through HAProxy.
    const first = new Load(dir, undefined, SESSIONS);
    loads.push(first);
    await first.holding(SESSIONS);
    phase(`${SESSIONS} sessions up`);
    // Every session has sent its Start and at least one Interim-Update (interim every 3 s).
    await eventually(async () => (await count('SELECT count(*) FROM radacct WHERE acctstoptime IS NULL AND acctinterval IS NOT NULL')) === SESSIONS, 30_000, 'an Interim-Update for every session');
    assert.deepEqual(await sql('SELECT count(*), count(DISTINCT acctsessionid), count(DISTINCT framedipaddress), count(DISTINCT username) FROM radacct'), [['50', '50', '50', '50']], 'one row per session, addresses distinct');
    assert.equal(await count('SELECT count(*) FROM radacct WHERE acctstarttime IS NOT NULL AND acctsessiontime > 0 AND acctupdatetime > acctstarttime'), SESSIONS, 'Start and Interim data');
    assert.equal(
      await count(`SELECT count(*) FROM radacct r JOIN radippool p ON p.framedipaddress = r.framedipaddress AND p.nasipaddress = host(r.nasipaddress)
                   AND p.pool_key = r.acctsessionid AND p.pool_name = 'sstp' AND p.expiry_time > now()`),
      SESSIONS,
      'every address leased from radippool to its node and session',
    );
    assert.equal(await count(`SELECT count(*) FROM radacct WHERE class = '0x' || encode(convert_to('cluster-' || username, 'UTF8'), 'hex')`), SESSIONS, 'Class echoed in accounting');
    const byNode = new Map<number, OpenRow[]>();
    const all = await openRows();
    for (let i = 1; i <= NODES; i++) {
      const rows = all.filter((r) => r.nas === nodeIp(i));
      byNode.set(i, rows);
      assert.ok(rows.length > 0, `node${i} got sessions: ${all.map((r) => r.nas).join(' ')}`);
      const live = (await nodeSessions(dir, i)).filter((s) => s.state === 'active');
      assert.deepEqual(live.map((s) => `${s.sid} ${s.username} ${s.ip}`).sort(), rows.map((r) => `${r.sid} ${r.username} ${r.ip}`).sort(), `node${i} holds exactly its radacct rows`);
      assert.ok(rows.every((r) => r.sid.startsWith(`${nodeIp(i).split('.').map((o) => Number(o).toString(16).padStart(2, '0')).join('')}-node${i}-`)), 'Acct-Session-Id names the node');
    }

    phase('accounting checked');
    // 2. Disconnect: to the node that holds the session, then to a wrong one.
    const matchBy = ['Acct-Session-Id', 'User-Name', 'Framed-IP-Address'] as const;
    const ended: string[] = [];
    for (let i = 1; i <= NODES; i++) {
      const victim = byNode.get(i)![0]!;
      const wrong = (i % NODES) + 1;
      const attr = matchBy[(i - 1) % matchBy.length]!;
      const value = attr === 'Acct-Session-Id' ? `"${victim.sid}"` : attr === 'User-Name' ? `"${victim.username}"` : victim.ip;
      const nak = await cluster(['radclient', String(wrong), 'disconnect', `${attr} = ${value}`]);
      assert.match(nak.stdout, /Received Disconnect-NAK/, `node${wrong} does not hold it:\n${nak.stdout}${nak.stderr}`);
      assert.match(nak.stdout, /Error-Cause = Session-Context-Not-Found/);
      const ack = await cluster(['radclient', String(i), 'disconnect', `${attr} = ${value}`]);
      assert.match(ack.stdout, /Received Disconnect-ACK/, `node${i} holds ${victim.sid}:\n${ack.stdout}${ack.stderr}`);
      ended.push(victim.sid);
    }
    await eventually(
      async () => (await count(`SELECT count(*) FROM radacct WHERE acctterminatecause = 'Admin-Reset' AND acctsessionid IN (${ended.map((s) => `'${s}'`).join(',')})`)) === NODES,
      15_000,
      'a Stop (Admin-Reset) for each disconnected session',
    );
    for (let i = 1; i <= NODES; i++) {
      const sids = (await nodeSessions(dir, i)).map((s) => s.sid);
      assert.ok(!sids.includes(ended[i - 1]!), `node${i} no longer holds ${ended[i - 1]}`);
    }
    // rlm_sql records the Stop before rlm_sqlippool frees the lease.
    await eventually(async () => (await count(`SELECT count(*) FROM radippool WHERE expiry_time > now()`)) === SESSIONS - NODES, 15_000, 'the Stops free their leases');

    phase('disconnects checked');
    // 3. Node 2 dies.
    const dead = 2;
    const survivors = await openRows(`nasipaddress <> '${nodeIp(dead)}'`);
    const orphans = await openRows(`nasipaddress = '${nodeIp(dead)}'`);
    assert.ok(orphans.length > 0);
    await ok(['kill-node', String(dead)]);
    assert.equal(await count(`SELECT count(*) FROM radippool WHERE nasipaddress = '${nodeIp(dead)}' AND expiry_time > now()`), orphans.length, 'a crash sends no Stop: its leases stay held');
    // Its users come back through HAProxy and land on the survivors, with fresh addresses.
    const again = new Load(dir, orphans.map((r) => r.username), orphans.length);
    loads.push(again);
    await again.holding(orphans.length);
    phase(`node ${dead} killed, its ${orphans.length} users back on the survivors`);
    // The client is up when IPCP is; the Start reaches SQL a moment later.
    const returning = `username IN (${orphans.map((r) => `'${r.username}'`).join(',')}) AND nasipaddress <> '${nodeIp(dead)}'`;
    await eventually(async () => (await openRows(returning)).length === orphans.length, 15_000, 'every orphaned user has a new session on a survivor');
    const back = await openRows(returning);
    const held = new Set([...survivors, ...orphans].map((r) => r.ip));
    assert.ok(back.every((r) => !held.has(r.ip)), 'new addresses, none of a live session nor of the dead node');
    assert.equal(new Set(back.map((r) => r.ip)).size, back.length);

    // The node comes back: Accounting-On frees its leases and closes its sessions in SQL.
    await ok(['start-node', String(dead)]);
    await eventually(async () => (await count(`SELECT count(*) FROM radippool WHERE nasipaddress = '${nodeIp(dead)}' AND expiry_time > now()`)) === 0, 15_000, 'Accounting-On frees the node\'s leases');
    assert.equal(await count(`SELECT count(*) FROM radacct WHERE nasipaddress = '${nodeIp(dead)}' AND acctstoptime IS NULL`), 0, 'and closes its radacct rows');
    assert.equal(await count(`SELECT count(*) FROM radacct WHERE nasipaddress = '${nodeIp(dead)}' AND acctterminatecause = 'NAS-Reboot'`), orphans.length);

    phase(`node ${dead} back, Accounting-On processed`);
    // The survivors' sessions never dropped: still listed by their nodes, still open in SQL.
    const stillOpen = new Set((await openRows()).map((r) => r.sid));
    for (const r of survivors) assert.ok(stillOpen.has(r.sid), `${r.sid} still open in radacct`);
    for (let i = 1; i <= NODES; i++) {
      if (i === dead) continue;
      const live = new Set((await nodeSessions(dir, i)).filter((s) => s.state === 'active').map((s) => s.sid));
      for (const r of survivors.filter((s) => s.nas === nodeIp(i))) assert.ok(live.has(r.sid), `node${i} still holds ${r.sid}`);
    }
    assert.ok(!first.events.some((e) => e['event'] === 'report'), 'the first load is still holding its sessions');
  } catch (err) {
    if (dir) dumpLogs(dir);
    throw err;
  } finally {
    for (const l of loads) l.stop();
    down = await cluster(['down'], 60_000);
    phase('down');
  }

  // 4. Nothing left behind.
  assert.equal(down.code, 0, `cluster down:\n${down.stdout}${down.stderr}`);
  const namespaces = (await runCommand('ip', ['netns', 'list'])).stdout;
  assert.ok(!namespaces.includes(`${NAME}-`), `namespaces left: ${namespaces}`);
  assert.ok(!existsSync(`/run/sstpd-cluster/${NAME}`), 'the record is gone');
  assert.ok(dir !== '' && !existsSync(dir), 'the scratch dir is gone');
  const procs = await runCommand('pgrep', ['-f', dir]);
  assert.equal(procs.stdout.trim(), '', 'no process of the cluster left');
  const links = (await runCommand('ip', ['-o', 'link', 'show'])).stdout;
  for (const m of ['lb', 'db', 'radius', 'client', 'node1', 'node2', 'node3', 'br0']) assert.ok(!new RegExp(`^\\d+: ${m}[@:]`, 'm').test(links), `no interface ${m} in the host`);
});
