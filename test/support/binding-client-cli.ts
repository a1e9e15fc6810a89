/**
 * Runs one BindingClient (test/support/binding-client.ts) over real TLS, inside a test's network
 * namespace: connect, bind with the chosen HLAK form, ping the peer through the tunnel, say goodbye.
 *
 *   ip netns exec NS node dist/test/support/binding-client-cli.js --port P --user U --password W \
 *     --method mschap --hlak mppe-keys
 *
 * Prints one JSON line: {"event":"up","ipv4":…,"peer":…,"pong":true|false} then
 * {"event":"closed",…}; or {"event":"failed","code":…,"reason":…} (exit 1).
 */
import { randomBytes } from 'node:crypto';
import { connect } from 'node:tls';
import { parseArgs } from 'node:util';
import type { AuthProtocol } from '../../src/config/model.js';
import { monotonicNow } from '../../src/common/time.js';
import { BindingClient, type BindingClientEvent, type ClientHlakForm } from './binding-client.js';
import { icmpEchoRequest, parseIcmpEchoReply } from './icmp.js';

const emit = (o: Record<string, unknown>): void => void process.stdout.write(JSON.stringify(o) + '\n');

function main(): void {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      user: { type: 'string', default: '' },
      password: { type: 'string', default: '' },
      method: { type: 'string', default: 'mschap' },
      hlak: { type: 'string', default: 'mppe-keys' },
    },
  });
  const giveUp = setTimeout(() => {
    emit({ event: 'failed', code: 'TIMEOUT', reason: 'no result within 20 s' });
    process.exit(1);
  }, 20_000);
  let client: BindingClient | undefined;
  let timer: NodeJS.Timeout | undefined;
  let upAt: { ipv4: string; peer: string } | undefined;
  let failed = false;
  const fail = (code: string, reason: string): void => {
    if (failed || upAt) return;
    failed = true;
    emit({ event: 'failed', code, reason });
    process.exitCode = 1;
  };
  const socket = connect({ host: values.host!, port: Number(values.port), servername: 'localhost', rejectUnauthorized: false });
  const flush = (): void => {
    if (!client) return;
    for (const ev of client.poll()) onEvent(ev);
    clearTimeout(timer);
    const at = client.nextDeadline();
    if (at !== undefined) {
      timer = setTimeout(() => {
        client!.handleTimeout(monotonicNow());
        flush();
      }, Math.max(0, at - monotonicNow()));
    }
  };
  const onEvent = (ev: BindingClientEvent): void => {
    if (ev.type === 'send') socket.write(ev.bytes);
    else if (ev.type === 'up') {
      upAt = { ipv4: ev.ipv4, peer: ev.peer };
      const bytes = client!.encodeIp(icmpEchoRequest(ev.ipv4, ev.peer, 0x5354, 1, Buffer.alloc(56, 1)));
      if (bytes) socket.write(bytes);
      setTimeout(() => finishUp(false), bytes ? 3000 : 0);
    } else if (ev.type === 'ip') {
      if (upAt && parseIcmpEchoReply(ev.packet)?.seq === 1) finishUp(true);
    } else if (ev.type === 'closed') {
      if (!upAt) fail(ev.code, ev.reason);
      else emit({ event: 'closed', code: ev.code, reason: ev.reason });
      clearTimeout(giveUp);
      clearTimeout(timer);
      socket.end();
    }
  };
  let reported = false;
  const finishUp = (pong: boolean): void => {
    if (reported) return;
    reported = true;
    emit({ event: 'up', ...upAt, pong });
    // A clean goodbye (LCP Terminate, SSTP Call Disconnect); 'closed' ends the process.
    setImmediate(() => {
      client!.close(monotonicNow());
      flush();
    });
  };
  socket.once('secureConnect', () => {
    const certDer = socket.getPeerCertificate().raw;
    const method = values.method as AuthProtocol;
    const hlak = values.hlak as ClientHlakForm;
    client = new BindingClient({ username: values.user!, password: values.password!, method, hlak, certDer, random: randomBytes }, monotonicNow());
    client.start(monotonicNow(), 'localhost');
    flush();
  });
  socket.on('data', (d: Buffer) => {
    client?.receive(monotonicNow(), d);
    flush();
  });
  socket.on('error', (err) => {
    fail('SOCKET', err.message);
    process.exit(1);
  });
  socket.on('close', () => {
    clearTimeout(giveUp);
    clearTimeout(timer);
    fail('CLOSED', 'the server closed the connection');
    process.exit();
  });
}

main();
