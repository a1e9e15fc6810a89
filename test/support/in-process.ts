/**
 * The component tests' in-process daemon: a config file made of the lines every one of them needs
 * (gateway, IPv4 pool, certificate, port) plus the test's own, and a started `Daemon` with the
 * test's fakes. Also a logger that collects the JSON lines for assertions.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { Daemon, type DaemonOptions } from '../../src/server/daemon.js';

export interface InProcessOptions extends Omit<DaemonOptions, 'source' | 'stateDir' | 'host'> {
  readonly dir: string;
  readonly certs: { readonly serverCert: string; readonly serverKey: string };
  readonly port: number;
  /** The test's own `set vpn sstp …` lines. */
  readonly lines: readonly string[];
}

/** Writes `dir/sstpd.conf` and starts a daemon on 127.0.0.1 with it (state in `dir/state`). */
export async function startInProcess(o: InProcessOptions): Promise<Daemon> {
  const { dir, certs, port, lines, ...rest } = o;
  const config = [
    ...lines,
    'set vpn sstp gateway-address 192.0.2.254',
    'set vpn sstp client-ip-pool subnet 192.0.2.0/25',
    `set vpn sstp ssl cert-file ${certs.serverCert}`,
    `set vpn sstp ssl key-file ${certs.serverKey}`,
    `set vpn sstp port ${port}`,
  ];
  const file = join(dir, 'sstpd.conf');
  await writeFile(file, config.join('\n') + '\n');
  const daemon = new Daemon({ ...rest, source: { file }, stateDir: join(dir, 'state'), host: '127.0.0.1' });
  await daemon.start();
  return daemon;
}

/** A debug-level logger whose lines land, parsed, in `into`. */
export function collectingLogger(into: Record<string, unknown>[]): Logger {
  return pino({ base: undefined, level: 'debug' }, { write: (l: string) => void into.push(JSON.parse(l) as Record<string, unknown>) });
}
