/**
 * A line-driven wrapper around TestClient, run inside a test's network namespace
 * (`ip netns exec NS node dist/test/support/client-cli.js --port P --user U --password W [--auth m]`).
 * Prints one JSON object per line: {"event":"up",...} | {"event":"failed",...} | {"event":"pong",...}
 * | {"event":"closed",...}. Reads commands from stdin: `ping ADDRESS`, `close`, `exit`, and as a
 * hostile peer `raw-ping ADDRESS` (a clear IPv4 frame around our data gate, even with MPPE on) and
 * `forged-ping SOURCE ADDRESS` (an echo request from a source that is not ours).
 * `--mppe` requires 128-bit stateless MPPE, as pppd's require-mppe-128.
 * With `--tun` it also bridges the tunnel to a TUN device in its namespace (local = our address,
 * peer = the gateway), so ordinary programs (iperf3) there talk through the tunnel, like ppp0.
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import type { AuthProtocol } from '../../src/config/model.js';
import { TestClient } from './client.js';
import { icmpEchoRequest, parseIcmpEchoReply } from './icmp.js';
import { batchPacket, openTun, type TunDevice } from '../../src/dataplane/tun.js';
import { configureInterface } from '../../src/dataplane/iface.js';

/** CCP option 18 bits: H (stateless) | S (128-bit), what pppd's require-mppe-128 asks for. */
const MPPE_128_STATELESS = 0x01000040;

const emit = (o: Record<string, unknown>): void => void process.stdout.write(JSON.stringify(o) + '\n');

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      user: { type: 'string' },
      password: { type: 'string' },
      auth: { type: 'string' },
      'corrupt-binding': { type: 'boolean', default: false },
      tun: { type: 'boolean', default: false },
      mppe: { type: 'boolean', default: false },
      servername: { type: 'string' },
      'no-sni': { type: 'boolean', default: false },
      'host-header': { type: 'string' },
      'local-address': { type: 'string' },
    },
  });
  let client: TestClient;
  let tun: TunDevice | undefined;
  try {
    client = await TestClient.connect({
      host: values.host!,
      port: Number(values.port),
      username: values.user ?? '',
      password: values.password ?? '',
      ...(values.auth ? { auth: values.auth.split(',') as AuthProtocol[] } : {}),
      corruptBinding: values['corrupt-binding'],
      ...(values.mppe ? { mppe: { bits: MPPE_128_STATELESS } } : {}),
      ...(values.servername ? { servername: values.servername } : {}),
      ...(values['no-sni'] ? { servername: null } : {}),
      ...(values['host-header'] ? { hostHeader: values['host-header'] } : {}),
      ...(values['local-address'] ? { localAddress: values['local-address'] } : {}),
      ...(values.tun ? { onIp: (p: Buffer) => void tun?.write(p) } : {}),
    });
    if (values.tun) {
      client.keepPackets = false;
      tun = bridge(client);
    }
  } catch (err) {
    emit({ event: 'failed', reason: err instanceof Error ? err.message : String(err) });
    process.exit(1);
  }
  emit({ event: 'up', ...client.info, ...(tun ? { ifname: tun.name } : {}) });
  let seq = 0;
  const rl = createInterface({ input: process.stdin });
  for await (const line of rl) {
    const [cmd, arg, arg2] = line.trim().split(/\s+/);
    if ((cmd === 'ping' || cmd === 'raw-ping' || cmd === 'forged-ping') && arg) {
      const id = 0x5354;
      const s = ++seq;
      const before = client.received.length;
      const [src, dst] = cmd === 'forged-ping' ? [arg, arg2 ?? ''] : [client.info!.ipv4, arg];
      const echo = icmpEchoRequest(src, dst, id, s, Buffer.alloc(56, s));
      const sent = cmd === 'raw-ping' ? client.sendRawFrame(0x0021, echo) || client.info !== undefined : client.sendIp(echo);
      try {
        if (!sent) throw new Error('link not up');
        await client.waitFor(() => client.received.slice(before).some((p) => parseIcmpEchoReply(p)?.seq === s), 3000, 'echo reply');
        emit({ event: 'pong', seq: s, from: arg });
      } catch (err) {
        emit({ event: 'no-pong', seq: s, reason: err instanceof Error ? err.message : String(err) });
      }
    } else if (cmd === 'close') {
      await client.close();
      emit({ event: 'closed', ...client.closedWith });
    } else if (cmd === 'exit') {
      client.destroy();
      process.exit(0);
    } else if (cmd === 'status') {
      emit({ event: 'status', up: client.info !== undefined && !client.closedWith, closed: client.closedWith ?? null });
    }
  }
  client.destroy();
}

/** Packets the kernel routes into our TUN go through the tunnel; TCP back-pressure pauses it. */
function bridge(client: TestClient): TunDevice {
  const info = client.info!;
  const tun: TunDevice = openTun(
    (batch) => {
      let full = false;
      for (let i = 0; i < batch.count; i++) full = client.forward(Buffer.from(batchPacket(batch, i))) === 'full' || full;
      if (full) {
        tun.pause();
        void client.drained().then(() => tun.resume());
      }
    },
    { nameTemplate: 'cli%d' },
  );
  configureInterface(tun.name, { local: info.ipv4, peer: info.peer, mtu: 1400 });
  tun.setMtu(1400);
  return tun;
}

void main();
