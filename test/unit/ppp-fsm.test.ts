/**
 * The RFC 1661 §4.1 state transition table, cell by cell, plus the counters (Max-Configure,
 * Max-Terminate, Max-Failure) and the reply-matching rules.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CODE, decodeCp, encodeCp, type CpOption } from '../../src/ppp/cp.js';
import { Fsm, type FinishReason, type FsmOptions, type FsmState, type ReplyOutcome } from '../../src/ppp/fsm.js';

const OUR_OPTS: CpOption[] = [{ type: 1, data: Buffer.from([0x05, 0xac]) }];
const OUR_DATA = Buffer.from([1, 4, 0x05, 0xac]);
const PEER_OPTS = Buffer.from([1, 4, 0x05, 0xdc]);
const NAK_OPTS = Buffer.from([1, 4, 0x05, 0xb4]);
const ACTION: Record<number, string> = { 1: 'scr', 2: 'sca', 3: 'scn', 4: 'scn', 5: 'str', 6: 'sta', 7: 'scj' };

interface State {
  log: string[];
  sent: Buffer[];
  finish: FinishReason[];
  verdict: 'ack' | 'nak';
  nakOutcome: ReplyOutcome;
  now: number;
  lastReq: { id: number; data: Buffer } | undefined;
}
type H = State & { fsm: Fsm };

function harness(opts: FsmOptions = {}): H {
  const h: State = { log: [], sent: [], finish: [], verdict: 'ack', nakOutcome: 'ok', now: 1000, lastReq: undefined };
  const fsm = new Fsm(
    {
      buildRequest: () => OUR_OPTS,
      checkRequest: (options) =>
        h.verdict === 'ack' ? { verdict: 'ack', options } : { verdict: 'nak', options: [{ type: 1, data: Buffer.from([0x05, 0xb4]) }] },
      acked: () => {},
      nakked: () => h.nakOutcome,
      rejected: () => 'ok',
      negotiationFailed: (_now, reason) => h.log.push(`fail:${reason}`),
      thisLayerUp: () => h.log.push('tlu'),
      thisLayerDown: () => h.log.push('tld'),
      thisLayerStarted: () => h.log.push('tls'),
      thisLayerFinished: (_now, why) => {
        h.log.push('tlf');
        h.finish.push(why);
      },
      extraCode: (_now, pkt) => pkt.code === CODE.ECHO_REQ,
      send: (p) => {
        const pkt = decodeCp(p);
        h.sent.push(p);
        h.log.push(ACTION[pkt.code] ?? `code${pkt.code}`);
        if (pkt.code === CODE.CONF_REQ) h.lastReq = { id: pkt.id, data: pkt.data };
      },
    },
    opts,
  );
  return Object.assign(h, { fsm });
}

function recv(h: H, code: number, id: number, data: Buffer = Buffer.alloc(0)): void {
  const raw = encodeCp(code, id, data);
  h.fsm.receive(h.now, decodeCp(raw), raw);
}

type Ev = (h: H) => void;
const EV: Record<string, Ev> = {
  Up: (h) => h.fsm.up(h.now),
  Down: (h) => h.fsm.down(h.now),
  Open: (h) => h.fsm.open(h.now),
  Close: (h) => h.fsm.close(h.now),
  TO: (h) => {
    const d = h.fsm.nextDeadline();
    assert.notEqual(d, undefined, 'restart timer must be running');
    h.now = d!;
    h.fsm.handleTimeout(h.now);
  },
  'RCR+': (h) => {
    h.verdict = 'ack';
    recv(h, CODE.CONF_REQ, 0x42, PEER_OPTS);
  },
  'RCR-': (h) => {
    h.verdict = 'nak';
    recv(h, CODE.CONF_REQ, 0x43, PEER_OPTS);
  },
  RCA: (h) => recv(h, CODE.CONF_ACK, h.lastReq?.id ?? 0, h.lastReq?.data ?? OUR_DATA),
  RCN: (h) => recv(h, CODE.CONF_NAK, h.lastReq?.id ?? 0, NAK_OPTS),
  RTR: (h) => recv(h, CODE.TERM_REQ, 0x77),
  RTA: (h) => recv(h, CODE.TERM_ACK, 0x78),
  RUC: (h) => recv(h, 0x20, 0x79, Buffer.from('??')),
  'RXJ+': (h) => recv(h, CODE.CODE_REJ, 0x7a, encodeCp(CODE.ECHO_REQ, 1, Buffer.alloc(4))),
  'RXJ-': (h) => recv(h, CODE.CODE_REJ, 0x7b, encodeCp(CODE.CONF_REQ, 1)),
};

const REACH: Record<FsmState, string[]> = {
  initial: [],
  starting: ['Open'],
  closed: ['Up'],
  stopped: ['Open', 'Up', 'RXJ-'],
  closing: ['Open', 'Up', 'Close'],
  stopping: ['Open', 'Up', 'RCR+', 'RCA', 'RXJ-'],
  'req-sent': ['Open', 'Up'],
  'ack-rcvd': ['Open', 'Up', 'RCA'],
  'ack-sent': ['Open', 'Up', 'RCR+'],
  opened: ['Open', 'Up', 'RCR+', 'RCA'],
};

function reach(state: FsmState, opts?: FsmOptions): H {
  const h = harness(opts);
  for (const e of REACH[state]) EV[e]!(h);
  assert.equal(h.fsm.state, state, `reach ${state}`);
  h.log.length = 0;
  h.sent.length = 0;
  return h;
}

type Cell = readonly [actions: string, next: FsmState];
// RFC 1661 §4.1 table. TO+ / TO- are both "TO" with counters set accordingly. RCA/RCN in Ack-Rcvd
// and Opened cannot happen here: a request is answered once (tested separately below).
const TABLE: Record<FsmState, Record<string, Cell>> = {
  initial: { Up: ['', 'closed'], Open: ['tls', 'starting'], Close: ['', 'initial'] },
  starting: { Up: ['scr', 'req-sent'], Open: ['', 'starting'], Close: ['tlf', 'initial'] },
  closed: {
    Down: ['', 'initial'], Open: ['scr', 'req-sent'], Close: ['', 'closed'],
    'RCR+': ['sta', 'closed'], 'RCR-': ['sta', 'closed'], RCA: ['sta', 'closed'], RCN: ['sta', 'closed'],
    RTR: ['sta', 'closed'], RTA: ['', 'closed'], RUC: ['scj', 'closed'], 'RXJ+': ['', 'closed'], 'RXJ-': ['tlf', 'closed'],
  },
  stopped: {
    Down: ['tls', 'starting'], Open: ['', 'stopped'], Close: ['', 'closed'],
    'RCR+': ['scr,sca', 'ack-sent'], 'RCR-': ['scr,scn', 'req-sent'], RCA: ['sta', 'stopped'], RCN: ['sta', 'stopped'],
    RTR: ['sta', 'stopped'], RTA: ['', 'stopped'], RUC: ['scj', 'stopped'], 'RXJ+': ['', 'stopped'], 'RXJ-': ['tlf', 'stopped'],
  },
  closing: {
    Down: ['', 'initial'], Open: ['', 'stopping'], Close: ['', 'closing'],
    'RCR+': ['', 'closing'], 'RCR-': ['', 'closing'], RCA: ['', 'closing'], RCN: ['', 'closing'],
    RTR: ['sta', 'closing'], RTA: ['tlf', 'closed'], RUC: ['scj', 'closing'], 'RXJ+': ['', 'closing'], 'RXJ-': ['tlf', 'closed'],
  },
  stopping: {
    Down: ['', 'starting'], Open: ['', 'stopping'], Close: ['', 'closing'],
    'RCR+': ['', 'stopping'], 'RCR-': ['', 'stopping'], RCA: ['', 'stopping'], RCN: ['', 'stopping'],
    RTR: ['sta', 'stopping'], RTA: ['tlf', 'stopped'], RUC: ['scj', 'stopping'], 'RXJ+': ['', 'stopping'], 'RXJ-': ['tlf', 'stopped'],
  },
  'req-sent': {
    Down: ['', 'starting'], Open: ['', 'req-sent'], Close: ['str', 'closing'],
    'RCR+': ['sca', 'ack-sent'], 'RCR-': ['scn', 'req-sent'], RCA: ['', 'ack-rcvd'], RCN: ['scr', 'req-sent'],
    RTR: ['sta', 'req-sent'], RTA: ['', 'req-sent'], RUC: ['scj', 'req-sent'], 'RXJ+': ['', 'req-sent'], 'RXJ-': ['tlf', 'stopped'],
  },
  'ack-rcvd': {
    Down: ['', 'starting'], Open: ['', 'ack-rcvd'], Close: ['str', 'closing'],
    'RCR+': ['sca,tlu', 'opened'], 'RCR-': ['scn', 'ack-rcvd'],
    RTR: ['sta', 'req-sent'], RTA: ['', 'req-sent'], RUC: ['scj', 'ack-rcvd'], 'RXJ+': ['', 'req-sent'], 'RXJ-': ['tlf', 'stopped'],
  },
  'ack-sent': {
    Down: ['', 'starting'], Open: ['', 'ack-sent'], Close: ['str', 'closing'],
    'RCR+': ['sca', 'ack-sent'], 'RCR-': ['scn', 'req-sent'], RCA: ['tlu', 'opened'], RCN: ['scr', 'ack-sent'],
    RTR: ['sta', 'req-sent'], RTA: ['', 'ack-sent'], RUC: ['scj', 'ack-sent'], 'RXJ+': ['', 'ack-sent'], 'RXJ-': ['tlf', 'stopped'],
  },
  opened: {
    Down: ['tld', 'starting'], Open: ['', 'opened'], Close: ['tld,str', 'closing'],
    'RCR+': ['tld,scr,sca', 'ack-sent'], 'RCR-': ['tld,scr,scn', 'req-sent'],
    RTR: ['tld,sta', 'stopping'], RTA: ['tld,scr', 'req-sent'], RUC: ['scj', 'opened'], 'RXJ+': ['', 'opened'], 'RXJ-': ['tld,str', 'stopping'],
  },
};

const TO_PLUS: Partial<Record<FsmState, Cell>> = {
  closing: ['str', 'closing'],
  stopping: ['str', 'stopping'],
  'req-sent': ['scr', 'req-sent'],
  'ack-rcvd': ['scr', 'req-sent'],
  'ack-sent': ['scr', 'ack-sent'],
};
const TO_MINUS: Partial<Record<FsmState, Cell>> = {
  closing: ['tlf', 'closed'],
  stopping: ['tlf', 'stopped'],
  'req-sent': ['tlf', 'stopped'],
  'ack-rcvd': ['tlf', 'stopped'],
  'ack-sent': ['tlf', 'stopped'],
};

for (const [state, row] of Object.entries(TABLE) as [FsmState, Record<string, Cell>][]) {
  for (const [event, [actions, next]] of Object.entries(row)) {
    test(`fsm ${state} + ${event} → ${actions || '-'} / ${next}`, () => {
      const h = reach(state);
      EV[event]!(h);
      assert.equal(h.log.join(','), actions);
      assert.equal(h.fsm.state, next);
    });
  }
}
for (const [state, [actions, next]] of Object.entries(TO_PLUS) as [FsmState, Cell][]) {
  test(`fsm ${state} + TO+ → ${actions} / ${next}`, () => {
    const h = reach(state);
    EV['TO']!(h);
    assert.equal(h.log.join(','), actions);
    assert.equal(h.fsm.state, next);
    assert.notEqual(h.fsm.nextDeadline(), undefined, 'restart timer re-armed');
  });
}
for (const [state, [actions, next]] of Object.entries(TO_MINUS) as [FsmState, Cell][]) {
  test(`fsm ${state} + TO- → ${actions} / ${next}`, () => {
    const h = reach(state, { maxConfigure: 0, maxTerminate: 1 });
    EV['TO']!(h);
    assert.equal(h.log.join(','), actions);
    assert.equal(h.fsm.state, next);
    assert.equal(h.fsm.nextDeadline(), undefined, 'no timer in Closed/Stopped');
  });
}

test('fsm: the restart timer runs exactly in Closing, Stopping, Req-Sent, Ack-Rcvd, Ack-Sent', () => {
  for (const s of Object.keys(REACH) as FsmState[]) {
    const running = reach(s).fsm.nextDeadline() !== undefined;
    assert.equal(running, ['closing', 'stopping', 'req-sent', 'ack-rcvd', 'ack-sent'].includes(s), s);
  }
});

test('fsm: Max-Configure 10 requests, then This-Layer-Finished(timeout) in Stopped', () => {
  const h = reach('req-sent');
  const ids = new Set<number>();
  ids.add(h.lastReq!.id);
  for (let i = 0; i < 20 && h.fsm.state === 'req-sent'; i++) {
    EV['TO']!(h);
    if (h.lastReq) ids.add(h.lastReq.id);
  }
  assert.equal(h.log.filter((a) => a === 'scr').length, 9, 'nine retransmissions after the first request');
  assert.equal(ids.size, 1, 'retransmissions keep the Identifier');
  assert.equal(h.fsm.state, 'stopped');
  assert.deepEqual(h.finish, ['timeout']);
});

test('fsm: Max-Terminate 2 Terminate-Requests, then finished(closed) in Closed', () => {
  const h = reach('opened');
  h.fsm.close(h.now);
  EV['TO']!(h);
  EV['TO']!(h);
  assert.equal(h.log.join(','), 'tld,str,str,tlf');
  assert.equal(h.fsm.state, 'closed');
  assert.deepEqual(h.finish, ['closed']);
});

test('fsm: peer Terminate-Request in Opened finishes after one restart period with peer-terminated', () => {
  const h = reach('opened');
  EV['RTR']!(h);
  assert.equal(h.fsm.nextDeadline(), h.now + 3000);
  EV['TO']!(h);
  assert.equal(h.fsm.state, 'stopped');
  assert.deepEqual(h.finish, ['peer-terminated']);
});

test('fsm: after a Nak our next request carries a new Identifier', () => {
  const h = reach('req-sent');
  const first = h.lastReq!.id;
  EV['RCN']!(h);
  assert.notEqual(h.lastReq!.id, first);
});

test('fsm: Ack with a wrong Identifier or altered options is discarded', () => {
  const h = reach('req-sent');
  recv(h, CODE.CONF_ACK, (h.lastReq!.id + 1) & 0xff, h.lastReq!.data);
  recv(h, CODE.CONF_ACK, h.lastReq!.id, Buffer.from([1, 4, 0x05, 0xad]));
  assert.equal(h.fsm.state, 'req-sent');
  EV['RCA']!(h);
  assert.equal(h.fsm.state, 'ack-rcvd');
});

test('fsm: a duplicated Ack cannot bounce an Opened link', () => {
  const h = reach('opened');
  const { id, data } = h.lastReq!;
  recv(h, CODE.CONF_ACK, id, data);
  assert.equal(h.fsm.state, 'opened');
  assert.deepEqual(h.log, []);
});

test('fsm: a Configure-Reject must copy our options', () => {
  const h = reach('req-sent');
  recv(h, CODE.CONF_REJ, h.lastReq!.id, Buffer.from([9, 2]));
  assert.deepEqual(h.log, [], 'reject of an option we never sent is ignored');
  recv(h, CODE.CONF_REJ, h.lastReq!.id, OUR_DATA);
  assert.deepEqual(h.log, ['scr']);
});

test('fsm: Max-Failure: the sixth Nak becomes a Reject of the requested options; an Ack resets the count', () => {
  const h = reach('req-sent');
  for (let i = 0; i < 5; i++) EV['RCR-']!(h);
  assert.deepEqual(h.log, ['scn', 'scn', 'scn', 'scn', 'scn']);
  assert.ok(h.sent.every((p) => p[0] === CODE.CONF_NAK));
  EV['RCR-']!(h);
  const rej = decodeCp(h.sent.at(-1)!);
  assert.equal(rej.code, CODE.CONF_REJ);
  assert.deepEqual(rej.data, PEER_OPTS, 'the Reject carries the peer option unchanged');
  EV['RCR+']!(h);
  h.sent.length = 0;
  EV['RCR-']!(h);
  assert.equal(h.sent[0]![0], CODE.CONF_NAK, 'count restarted after our Ack');
});

test('fsm: a Nak the owner cannot live with ends in negotiationFailed, not a new request', () => {
  const h = reach('req-sent');
  h.nakOutcome = { fail: 'no common authentication protocol' };
  EV['RCN']!(h);
  assert.deepEqual(h.log, ['fail:no common authentication protocol']);
});

test('fsm: Code-Reject copies the rejected packet, truncated to the peer MRU', () => {
  const h = harness({ peerMru: () => 10 });
  h.fsm.up(h.now);
  const raw = encodeCp(0x30, 5, Buffer.alloc(20, 0xee));
  h.fsm.receive(h.now, decodeCp(raw), raw);
  const rej = decodeCp(h.sent.at(-1)!);
  assert.equal(rej.code, CODE.CODE_REJ);
  assert.deepEqual(rej.data, raw.subarray(0, 6));
});

test('fsm: codes the owner handles are not Code-Rejected', () => {
  const h = reach('opened');
  recv(h, CODE.ECHO_REQ, 1, Buffer.alloc(4));
  assert.deepEqual(h.log, []);
});

test('fsm: packets before the lower layer is up are ignored', () => {
  const h = harness();
  h.fsm.open(h.now);
  h.log.length = 0;
  recv(h, CODE.CONF_REQ, 1, PEER_OPTS);
  recv(h, 0x20, 1);
  assert.deepEqual(h.log, []);
});
