/**
 * The primary ↔ worker protocol (src/server/ipc.ts), the Stop rebuilt for a dead worker's session
 * (src/radius/acct-recovery.ts) and the interface names a worker slot takes.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { IpcError, RpcPeer, decodeEnvelope, isEnvelope, type Envelope } from '../../src/server/ipc.js';
import { acctRequestKind, stopFromStart } from '../../src/radius/acct-recovery.js';
import { accountingAttributes } from '../../src/radius/accounting.js';
import { ACCT_STATUS } from '../../src/radius/attributes.js';
import { InterfaceNames } from '../../src/dataplane/iface.js';

interface ACalls {
  add: { req: { a: number; b: number }; res: number };
  fail: { req: Record<string, never>; res: never };
}
interface BNotes {
  ping: { n: number };
}

/** Two peers wired back to back through queues, delivered on flush() (as a pipe would, later). */
function pair() {
  const toA: Envelope[] = [];
  const toB: Envelope[] = [];
  const seen: number[] = [];
  const bad: string[] = [];
  // A serves `add`/`fail` and hears `ping`; B calls them.
  const a = new RpcPeer<Record<never, never>, Record<never, never>, ACalls, BNotes>(
    (m) => toB.push(m),
    { add: ({ a: x, b: y }) => x + y, fail: () => Promise.reject(new Error('refused here')) },
    { ping: ({ n }) => void seen.push(n) },
    (r) => bad.push(r),
  );
  const b = new RpcPeer<ACalls, BNotes, Record<never, never>, Record<never, never>>((m) => toA.push(m), {}, {}, (r) => bad.push(r));
  const flush = async (): Promise<void> => {
    for (let i = 0; i < 10; i++) {
      while (toA.length > 0) a.receive(structuredClone(toA.shift()));
      await new Promise((r) => setImmediate(r));
      while (toB.length > 0) b.receive(structuredClone(toB.shift()));
    }
  };
  return { a, b, flush, seen, bad };
}

describe('ipc', () => {
  it('answers requests by id, in any order, and delivers notes', async () => {
    const { b, flush, seen } = pair();
    const one = b.call('add', { a: 1, b: 2 });
    const two = b.call('add', { a: 40, b: 2 });
    b.notify('ping', { n: 7 });
    assert.equal(b.outstanding, 2);
    await flush();
    assert.deepEqual(await Promise.all([one, two]), [3, 42]);
    assert.deepEqual(seen, [7]);
    assert.equal(b.outstanding, 0);
  });

  it('a handler that throws refuses that request only', async () => {
    const { b, flush } = pair();
    const failed = assert.rejects(b.call('fail', {}), (e: unknown) => e instanceof IpcError && e.code === 'E_IPC_REFUSED' && e.message === 'refused here');
    const ok = b.call('add', { a: 2, b: 2 });
    await flush();
    await failed;
    assert.equal(await ok, 4);
  });

  it('close fails every waiting call and every later one', async () => {
    const { b } = pair();
    const waiting = b.call('add', { a: 1, b: 1 });
    b.close('worker 1 exited');
    await assert.rejects(waiting, (e: unknown) => e instanceof IpcError && e.code === 'E_IPC_CLOSED' && /worker 1 exited/.test(e.message));
    await assert.rejects(b.call('add', { a: 1, b: 1 }), /worker 1 exited/);
  });

  it('malformed messages and unknown ops are reported, never thrown at the channel', async () => {
    const { a, bad } = pair();
    for (const m of [null, 5, { t: 'q', op: 'add' }, { t: 'r', id: 0, ok: true }, { t: 'r', id: 3, ok: 'x' }, { t: 'z' }, { t: 'n' }]) a.receive(m);
    assert.equal(bad.length, 7);
    a.receive({ t: 'r', id: 99, ok: true, body: 1 });
    a.receive({ t: 'n', op: 'nope', body: {} });
    assert.equal(bad.length, 9);
    assert.deepEqual(decodeEnvelope({ t: 'q', id: 1, op: 'x', body: { y: 1n } }), { t: 'q', id: 1, op: 'x', body: { y: 1n } });
    assert.throws(() => decodeEnvelope({ t: 'r', id: 1.5, ok: true }), IpcError);
    assert.equal(isEnvelope({ cmd: 'NODE_CLUSTER' }), false);
    assert.equal(isEnvelope({ t: 'n', op: 'x' }), true);
  });
});

describe('accounting after a worker died', () => {
  const session = {
    sid: 'abc000001',
    username: 'alice',
    nasPort: 1048577,
    ifname: 'sstp1',
    framedIp: '192.0.2.7',
    callingStationId: '198.51.100.9',
    calledStationId: '203.0.113.1',
    classes: [Buffer.from('gold')],
  };
  const nas = { identifier: 'vpn1', ipAddress: '10.0.0.1' };
  const counters = { rxBytes: 5 * 2 ** 32 + 9, txBytes: 1234, rxPackets: 77, txPackets: 88 };

  it('the Stop carries the Start identity, the last counters and the cause', () => {
    const start = accountingAttributes(ACCT_STATUS.START, session, nas, counters, 0, 1_700_000_000);
    assert.deepEqual(acctRequestKind(start), { status: ACCT_STATUS.START, sid: 'abc000001' });
    const stop = stopFromStart(start, counters, 65, 1_700_000_065, 'nas-error');
    assert.deepEqual(stop, accountingAttributes(ACCT_STATUS.STOP, session, nas, counters, 65, 1_700_000_065, 'nas-error'));
    assert.deepEqual(acctRequestKind(stop!), { status: ACCT_STATUS.STOP, sid: 'abc000001' });
  });

  it('no Stop from anything but a session Start', () => {
    const interim = accountingAttributes(ACCT_STATUS.INTERIM_UPDATE, session, nas, counters, 5, 1);
    assert.equal(stopFromStart(interim, counters, 5, 1, 'nas-error'), undefined);
    assert.equal(stopFromStart([], counters, 5, 1, 'nas-error'), undefined);
  });
});

describe('interface names of a worker slot', () => {
  it('slot 1 of 3 takes sstp1, sstp4, sstp7 and gets released ones back', () => {
    const n = new InterfaceNames('sstp');
    n.spread(1, 3);
    assert.deepEqual([n.take(), n.take(), n.take()], ['sstp1', 'sstp4', 'sstp7']);
    n.release('sstp4');
    n.release('sstp5'); // another slot's: ignored
    n.release('sstp0');
    assert.deepEqual([n.take(), n.take()], ['sstp4', 'sstp10']);
  });
});
