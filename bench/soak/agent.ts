/**
 * The soak's in-namespace client agent (started by bench/soak.ts inside the server's namespace):
 *
 * - ONE long-lived session (the production client, SstpConnection) kept up for the whole run; its
 *   LCP echo round trip is sampled every --probe-ms;
 * - hostile sessions one after another (every --hostile-every seconds): link up, every other one a
 *   burst of PPP garbage (the session should shrug it off and still answer an LCP echo), then SSTP
 *   input after which the server must close the connection by itself (the client goes mute).
 *
 * JSON lines on stdout: long-up, rtt, long-down, hostile, done. It stops when stdin closes (the soak
 * closes it at the end, and a dead parent closes it too): hostile loop ends, the long-lived session
 * says goodbye, then 'done'.
 */
import { randomInt } from 'node:crypto';
import { parseArgs } from 'node:util';
import { SstpConnection } from '../../src/client/io/socket.js';
import type { AuthProtocol } from '../../src/config/model.js';
import { FATAL_KINDS, fatalBytes, pppGarbage } from './hostile.js';
import { RawSession } from './raw-session.js';

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string' },
    password: { type: 'string' },
    'long-user': { type: 'string' },
    'hostile-user': { type: 'string' },
    'hostile-every': { type: 'string', default: '3' },
    'probe-ms': { type: 'string', default: '1000' },
  },
});
const HOST = values.host;
const PORT = Number(values.port);
const PASSWORD = values.password ?? '';
const emit = (o: Record<string, unknown>): void => void process.stdout.write(JSON.stringify(o) + '\n');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let stopping = false;
const stopped = new Promise<void>((resolve) => {
  process.stdin.on('end', resolve).on('close', resolve).resume();
}).then(() => void (stopping = true));

/** Sleeps ms, or less if the run is stopping. */
const nap = (ms: number): Promise<void> => Promise.race([sleep(ms), stopped]);

async function longLived(): Promise<void> {
  const t0 = performance.now();
  const c = await SstpConnection.connect({ host: HOST, port: PORT, username: values['long-user']!, password: PASSWORD, insecure: true, requestDns: false });
  emit({ event: 'long-up', setupMs: Math.round(performance.now() - t0), ip: c.info.ipv4 });
  let down = false;
  void c.ended().then((e) => {
    if (stopping) return;
    down = true;
    emit({ event: 'long-down', code: e.error?.code ?? e.code, reason: e.reason });
  });
  const every = Number(values['probe-ms']);
  while (!stopping && !down) {
    const at = performance.now();
    try {
      emit({ event: 'rtt', ms: Math.round((await c.probe(5000)) * 1000) / 1000 });
    } catch (err) {
      if (!down) emit({ event: 'rtt-lost', reason: err instanceof Error ? err.message : String(err) });
    }
    await nap(Math.max(0, every - (performance.now() - at)));
  }
  if (!down) {
    const e = await c.close(5000);
    emit({ event: 'long-closed', clean: e.error === undefined });
  }
}

const AUTH: readonly AuthProtocol[] = ['mschap-v2', 'pap'];

async function hostileOne(n: number): Promise<void> {
  const username = values['hostile-user']!.replace('%d', String(n % 4));
  let s: RawSession;
  try {
    s = await RawSession.connect({ host: HOST, port: PORT, username, password: PASSWORD, auth: [AUTH[n % AUTH.length]!], setupTimeoutMs: 15_000 });
  } catch (err) {
    emit({ event: 'hostile', outcome: 'setup-failed', reason: err instanceof Error ? err.message : String(err) });
    return;
  }
  // Half of them first get PPP garbage, which must not end the session: it still answers an echo.
  let survived: boolean | undefined;
  if (n % 2 === 0) {
    s.writeRaw(pppGarbage(randomInt(5, 40)));
    survived = await s.probe(5000).then(() => true, () => false);
    if (s.closed) {
      emit({ event: 'hostile', outcome: 'ended-by-garbage', garbageSurvived: false });
      return;
    }
  }
  const kind = FATAL_KINDS[randomInt(0, FATAL_KINDS.length)]!;
  s.mute();
  s.writeRaw(fatalBytes(kind));
  const endMs = await s.closedByServer(15_000);
  if (endMs === undefined) s.destroy();
  emit({
    event: 'hostile', kind, outcome: endMs === undefined ? 'not-ended' : 'ended-by-server',
    ...(endMs !== undefined ? { endMs: Math.round(endMs) } : {}),
    ...(survived !== undefined ? { garbageSurvived: survived } : {}),
  });
}

async function hostileLoop(): Promise<void> {
  const every = Number(values['hostile-every']) * 1000;
  if (!(every > 0)) return;
  for (let n = 0; !stopping; n++) {
    const at = performance.now();
    await hostileOne(n);
    await nap(Math.max(0, every - (performance.now() - at)));
  }
}

async function main(): Promise<void> {
  const long = longLived().catch((err: unknown) => {
    emit({ event: 'long-down', code: 'setup', reason: err instanceof Error ? err.message : String(err) });
  });
  await Promise.all([long, hostileLoop()]);
  emit({ event: 'done' });
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`soak agent: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
