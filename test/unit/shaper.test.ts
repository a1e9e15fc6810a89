/**
 * The tc shaper's commands, with a recording runner: what one limit sets up, what a change
 * replaces, what removal tears down (ifb included), and that changes to one interface never
 * interleave. The kernel side is measured in test/interop/rate-limit.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TcShaper, cleanupStaleShapers, ifbName, tbfArgs } from '../../src/dataplane/shaper.js';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function recorder(fail?: (cmd: string) => Error | undefined): { run: (c: string, a: readonly string[]) => Promise<void>; log: string[] } {
  const log: string[] = [];
  return {
    log,
    run: async (c, a) => {
      const line = `${c} ${a.join(' ')}`;
      log.push(line);
      await new Promise((r) => setImmediate(r));
      const err = fail?.(line);
      if (err) throw err;
    },
  };
}

test('burst and queue are 100 ms at the rate each (at least two packets)', () => {
  assert.deepEqual(tbfArgs(2000), ['tbf', 'rate', '2000kbit', 'burst', '25000', 'limit', '50000']);
  assert.deepEqual(tbfArgs(100), ['tbf', 'rate', '100kbit', 'burst', '3200', 'limit', '6400']);
  assert.equal(ifbName('sstp12'), 'ifb-sstp12');
  assert.equal(ifbName('sstp12345678901'), undefined);
});

test('a limit: tbf egress, an ifb with tbf, ingress redirected to it; a change replaces only the tbfs', async () => {
  const r = recorder();
  const s = new TcShaper(r.run);
  await s.apply('sstp3', { downloadKbit: 2000, uploadKbit: 1000 });
  assert.deepEqual(r.log, [
    'tc qdisc replace dev sstp3 root handle 1: tbf rate 2000kbit burst 25000 limit 50000',
    'ip link add ifb-sstp3 type ifb',
    'ip link set dev ifb-sstp3 up',
    'tc qdisc replace dev ifb-sstp3 root handle 1: tbf rate 1000kbit burst 12500 limit 25000',
    'tc qdisc replace dev sstp3 handle ffff: ingress',
    'tc filter replace dev sstp3 parent ffff: protocol all prio 1 handle 800::1 u32 match u32 0 0 action mirred egress redirect dev ifb-sstp3',
  ]);
  r.log.length = 0;
  await s.apply('sstp3', { downloadKbit: 4000, uploadKbit: 3000 });
  assert.deepEqual(r.log, [
    'tc qdisc replace dev sstp3 root handle 1: tbf rate 4000kbit burst 50000 limit 100000',
    'tc qdisc replace dev ifb-sstp3 root handle 1: tbf rate 3000kbit burst 37500 limit 75000',
  ]);
  r.log.length = 0;
  await s.apply('sstp3', undefined);
  assert.deepEqual(r.log, ['tc qdisc del dev sstp3 root', 'tc qdisc del dev sstp3 ingress', 'ip link del dev ifb-sstp3']);
});

test('changes to one interface run one after another, in call order', async () => {
  const r = recorder();
  const s = new TcShaper(r.run);
  await Promise.all([s.apply('sstp1', { downloadKbit: 10, uploadKbit: 10 }), s.apply('sstp1', undefined), s.apply('sstp1', { downloadKbit: 20, uploadKbit: 20 })]);
  const firstDel = r.log.findIndex((l) => l.includes(' del '));
  assert.ok(r.log.slice(0, firstDel).every((l) => !l.includes('20kbit')), r.log.join('\n'));
  assert.ok(r.log.at(-1)!.startsWith('tc filter replace'), 'the last apply set everything up again');
});

test('failures: a tc error rejects with E_SHAPER; bad names and rates are refused; removal tolerates what is gone', async () => {
  const r = recorder((l) => (l.startsWith('tc qdisc replace dev ifb') ? Object.assign(new Error('tc failed'), { stderr: 'RTNETLINK answers: no' }) : undefined));
  const s = new TcShaper(r.run);
  await assert.rejects(s.apply('sstp0', { downloadKbit: 1, uploadKbit: 1 }), (e: Error & { code?: string }) => e.code === 'E_SHAPER' && /RTNETLINK answers: no/.test(e.message));
  await assert.rejects(s.apply('bad name', { downloadKbit: 1, uploadKbit: 1 }), /invalid interface name/);
  await assert.rejects(new TcShaper(recorder().run).apply('sstp0', { downloadKbit: 0, uploadKbit: 1 }), /outside 1..10000000/);
  const gone = recorder((l) => (l.startsWith('ip link del') ? new Error('Cannot find device "ifb-sstp0"') : new Error('qdisc gone')));
  await new TcShaper(gone.run).apply('sstp0', undefined);
});

test('stale ifb devices of a crashed run are swept at start', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sstpd-sys-'));
  try {
    for (const n of ['ifb-sstp0', 'ifb-sstp12', 'ifb0', 'sstp1', 'ifb-sstpx']) await mkdir(join(dir, n));
    const r = recorder();
    assert.deepEqual(await cleanupStaleShapers('sstp', dir, r.run), ['ifb-sstp0', 'ifb-sstp12']);
    assert.deepEqual(r.log, ['ip link del dev ifb-sstp0', 'ip link del dev ifb-sstp12']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('shaper fwmark: the egress tbf sits in an htb whose direct queue takes the marked packets; a change replaces only the tbfs', async () => {
  const r = recorder();
  const s = new TcShaper(r.run);
  s.setFwmark(2);
  await s.apply('sstp3', { downloadKbit: 2000, uploadKbit: 1000 });
  assert.deepEqual(r.log, [
    'tc qdisc replace dev sstp3 root handle 1: htb default 2',
    'tc class replace dev sstp3 parent 1: classid 1:2 htb rate 10gbit quantum 1514',
    'tc filter replace dev sstp3 parent 1: protocol all prio 1 handle 800::1 u32 match mark 2 0xffffffff classid 1:0',
    'tc qdisc replace dev sstp3 parent 1:2 handle 10: tbf rate 2000kbit burst 25000 limit 50000',
    'ip link add ifb-sstp3 type ifb',
    'ip link set dev ifb-sstp3 up',
    'tc qdisc replace dev ifb-sstp3 root handle 1: tbf rate 1000kbit burst 12500 limit 25000',
    'tc qdisc replace dev sstp3 handle ffff: ingress',
    'tc filter replace dev sstp3 parent ffff: protocol all prio 1 handle 800::1 u32 match u32 0 0 action mirred egress redirect dev ifb-sstp3',
  ]);
  r.log.length = 0;
  // A reload dropping the mark does not rebuild a shaped interface; its next change is the tbfs only.
  s.setFwmark(undefined);
  await s.apply('sstp3', { downloadKbit: 4000, uploadKbit: 3000 });
  assert.deepEqual(r.log, [
    'tc qdisc replace dev sstp3 parent 1:2 handle 10: tbf rate 4000kbit burst 50000 limit 100000',
    'tc qdisc replace dev ifb-sstp3 root handle 1: tbf rate 3000kbit burst 37500 limit 75000',
  ]);
  r.log.length = 0;
  await s.apply('sstp3', undefined);
  assert.deepEqual(r.log, ['tc qdisc del dev sstp3 root', 'tc qdisc del dev sstp3 ingress', 'ip link del dev ifb-sstp3']);
  r.log.length = 0;
  // Shaped again after the removal: the layout of the mark in force now (none).
  await s.apply('sstp3', { downloadKbit: 2000, uploadKbit: 1000 });
  assert.equal(r.log[0], 'tc qdisc replace dev sstp3 root handle 1: tbf rate 2000kbit burst 25000 limit 50000');
});
