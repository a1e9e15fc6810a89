/**
 * Crypto binding with each HLAK form clients use, the whole server Session core (HTTP → SSTP →
 * PPP, local users) against a client assembled from the production cores that binds the way
 * plain sstpc does or the way sstpc with its pppd plugin does (NetworkManager-sstp). MS-SSTP
 * defines the HLAK for MS-CHAPv2 only; for MS-CHAPv1 both forms are in use and both must pass.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Session, type SessionAction } from '../../src/session/session.js';
import { LocalAuthBackend } from '../../src/auth/local.js';
import type { AuthProtocol } from '../../src/config/model.js';
import { icmpEchoRequest } from '../support/icmp.js';
import { BindingClient, type BindingClientEvent, type ClientHlakForm } from '../support/binding-client.js';
import { hashRandom } from '../support/random.js';
import { forwardsIpv4, pairCert, pairPolicy } from '../support/session-pair.js';

const CERT = pairCert();

/** Runs one connection to quiet, with the clock jumping over the abort teardown timers. */
function run(method: AuthProtocol, form: ClientHlakForm): { sa: SessionAction[]; ca: BindingClientEvent[]; server: Session; client: BindingClient } {
  const backend = new LocalAuthBackend(new Map([['vyos', { name: 'vyos', password: 'vyos', disabled: false }]]));
  let now = 0;
  const server = new Session(pairPolicy({ authProtocols: [method] }), hashRandom('s'), now, () => new Date(0));
  const client = new BindingClient({ username: 'vyos', password: 'vyos', method, hlak: form, certDer: CERT, random: hashRandom('c') }, now);
  client.start(now, 'vpn');
  const sa: SessionAction[] = [];
  const ca: BindingClientEvent[] = [];
  const drive = (): void => {
    for (let step = 0; step < 500; step++) {
      const c = client.poll();
      const s = server.poll();
      if (c.length === 0 && s.length === 0) return;
      for (const a of c) {
        ca.push(a);
        if (a.type === 'send') server.receive(now, a.bytes);
      }
      for (const a of s) {
        sa.push(a);
        if (a.type === 'send') client.receive(now, a.bytes);
        if (a.type === 'authenticate') server.authResult(now, backend.verify(a.request));
        if (a.type === 'authenticated') server.networkAssigned(now, { ipv4: '192.0.2.1' });
      }
    }
    throw new Error('did not settle');
  };
  drive();
  // Let an abort run its course (T1 3 s) so a refused binding ends in a close, not a pending state.
  for (let i = 0; i < 3 && !ca.some((a) => a.type === 'up') && server.nextDeadline() !== undefined; i++) {
    now = Math.max(now, Math.min(server.nextDeadline()!, client.nextDeadline() ?? Infinity));
    server.handleTimeout(now);
    client.handleTimeout(now);
    drive();
  }
  return { sa, ca, server, client };
}

const logsOf = (sa: SessionAction[], event: string): Record<string, unknown>[] =>
  sa.flatMap((a) => (a.type === 'log' && a.event === event ? [a.fields ?? {}] : []));

for (const form of ['sstpc', 'mppe-keys'] as const) {
  test(`MS-CHAPv1, client binds with the ${form} HLAK: verified (logged as ${form}), IPv4 passes`, () => {
    const { sa, ca, server, client } = run('mschap', form);
    const verified = logsOf(sa, 'binding-verified');
    assert.equal(verified.length, 1, JSON.stringify(logsOf(sa, 'binding-failed')));
    assert.equal(verified[0]!['hlak'], form);
    assert.equal(logsOf(sa, 'binding-failed').length, 0);
    assert.ok(ca.some((a) => a.type === 'up'));
    assert.equal(forwardsIpv4(server), true);
    const ping = icmpEchoRequest('192.0.2.1', '192.0.2.254', 1, 1, Buffer.alloc(8));
    server.receive(0, client.encodeIp(ping)!);
    const ip = server.poll().filter((a) => a.type === 'ip');
    assert.deepEqual(ip.map((a) => (a as { packet: Buffer }).packet), [ping]);
  });
}

test('MS-CHAPv1 with a HLAK of neither form: Call Abort, binding-failed names the forms tried, no data path', () => {
  const { sa, ca, server } = run('mschap', 'zero');
  const failed = logsOf(sa, 'binding-failed');
  assert.equal(failed.length, 1);
  assert.equal(failed[0]!['reason'], 'mac-mismatch');
  assert.equal(failed[0]!['hlaks'], 'sstpc,mppe-keys');
  assert.equal(logsOf(sa, 'binding-verified').length, 0);
  assert.equal(forwardsIpv4(server), false);
  assert.ok(ca.some((a) => a.type === 'closed'));
});

test('MS-CHAPv2: the plugin client binds with the MS-SSTP form (its MPPE keys send ‖ recv are that HLAK)', () => {
  for (const form of ['sstpc', 'mppe-keys'] as const) {
    const { sa, server } = run('mschap-v2', form);
    assert.deepEqual(logsOf(sa, 'binding-verified').map((f) => f['hlak']), ['ms-sstp'], form);
    assert.equal(forwardsIpv4(server), true);
  }
  // Only that form: a zero HLAK after MS-CHAPv2 is refused as before.
  const { sa } = run('mschap-v2', 'zero');
  assert.deepEqual(logsOf(sa, 'binding-failed').map((f) => f['hlaks']), ['ms-sstp']);
});

test('PAP and CHAP-MD5: one zero HLAK, as before', () => {
  for (const method of ['pap', 'chap'] as const) {
    const { sa, server } = run(method, 'mppe-keys');
    assert.deepEqual(logsOf(sa, 'binding-verified').map((f) => f['hlak']), ['zero'], method);
    assert.equal(forwardsIpv4(server), true);
  }
});
