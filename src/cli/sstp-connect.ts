#!/usr/bin/env -S node --max-semi-space-size=4 --initial-old-space-size=64
/**
 * sstp-connect — an SSTP client that needs no kernel PPP: TLS, SSTP and PPP in user space, the
 * tunnel on a TUN interface (or none). Prints JSON lines on stdout; exit codes in src/client/errors.ts.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ClientError, ClientErrorCode, EXIT_CODES } from '../client/errors.js';
import { AUTH_METHODS as METHODS, UsageError, authList, parseTarget } from '../client/options.js';
import { SstpConnection } from '../client/io/socket.js';
import { ClientInterface } from '../client/io/tun.js';
import { MPPE_BIT_H, MPPE_BIT_S } from '../ppp/ccp/mppe-option.js';

const USAGE = `usage: sstp-connect [options] HOST[:PORT]
Connects to an SSTP server (port 443 by default) and brings up the tunnel.
  -u, --user USER           user name (may carry DOMAIN\\)
  -p, --password PASS       password; or --password-file FILE, or $SSTP_PASSWORD
      --ca FILE             verify the server certificate against this CA (PEM); default: system CAs
      --insecure            accept any server certificate (crypto binding still uses it)
      --servername NAME     TLS SNI and the name the certificate must carry (default: HOST)
      --host-header NAME    HTTP Host header (default: HOST)
      --auth LIST           methods we accept, preferred first (default mschap-v2,mschap,chap,pap)
      --require-METHOD      accept only METHOD (pap, chap, mschap, mschap-v2), like pppd require-*
      --refuse-METHOD       never do METHOD, like pppd refuse-*
      --require-mppe-128    ask for 128-bit stateless MPPE and end without it, like pppd require-mppe-128
      --no-tun              no interface: the link only (scripts, load tests)
      --ifname NAME         interface name or template (default sstpc%d)
      --netns NAME          move the interface into this network namespace (TLS stays here)
      --default-route       route everything through the tunnel
      --route CIDR          route CIDR through the tunnel (repeatable)
      --no-dns              do not ask for DNS servers
      --lcp-echo-interval S LCP keepalive interval (default 30, 0 = off)
      --lcp-echo-failure N  unanswered echoes before the link is declared dead (default 3)
      --timeout S           TCP connect to IPCP open (default 30)
      --once                connect, print the "up" line, disconnect, exit 0
  -v, --verbose             protocol events on stderr
Output: {"state":"up",...} once connected, {"state":"down",...} at the end; on failure
{"state":"failed","error":CODE,"stage":...,"message":...} and exit code:
  2 usage, 3 TCP, 4 TLS, 5 HTTP, 6 SSTP, 7 authentication, 8 PPP/LCP, 9 IPCP, 10 timeout,
  11 interface, 12 link lost after it was up.`;

const emit = (o: Record<string, unknown>): void => void process.stdout.write(JSON.stringify(o) + '\n');

function parse(argv: string[]): { values: ReturnType<typeof parseOptions>['values']; target: string } {
  const { values, positionals } = parseOptions(argv);
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    process.exit(0);
  }
  if (positionals.length !== 1) throw new UsageError('exactly one server address expected (HOST[:PORT])');
  return { values, target: positionals[0]! };
}

function parseOptions(argv: string[]) {
  const flags = Object.fromEntries(METHODS.flatMap((m) => [[`require-${m}`, { type: 'boolean' as const }], [`refuse-${m}`, { type: 'boolean' as const }]]));
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      user: { type: 'string', short: 'u' },
      password: { type: 'string', short: 'p' },
      'password-file': { type: 'string' },
      ca: { type: 'string' },
      insecure: { type: 'boolean', default: false },
      servername: { type: 'string' },
      'host-header': { type: 'string' },
      auth: { type: 'string' },
      'no-tun': { type: 'boolean', default: false },
      ifname: { type: 'string' },
      netns: { type: 'string' },
      'default-route': { type: 'boolean', default: false },
      route: { type: 'string', multiple: true },
      'no-dns': { type: 'boolean', default: false },
      'require-mppe-128': { type: 'boolean', default: false },
      'lcp-echo-interval': { type: 'string', default: '30' },
      'lcp-echo-failure': { type: 'string', default: '3' },
      timeout: { type: 'string', default: '30' },
      once: { type: 'boolean', default: false },
      verbose: { type: 'boolean', short: 'v', default: false },
      help: { type: 'boolean', short: 'h' },
      ...flags,
    },
  });
}

function positive(text: string, what: string, allowZero = false): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) throw new UsageError(`${what} must be a ${allowZero ? 'non-negative' : 'positive'} number`);
  return n;
}

function password(values: ReturnType<typeof parseOptions>['values']): string {
  if (values.password !== undefined) return values.password;
  if (values['password-file'] !== undefined) {
    try {
      return readFileSync(values['password-file'], 'utf8').replace(/\r?\n$/, '');
    } catch (e) {
      throw new UsageError(`cannot read --password-file: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  const env = process.env['SSTP_PASSWORD'];
  if (env !== undefined) return env;
  throw new UsageError('a password is required (--password, --password-file or $SSTP_PASSWORD)');
}

async function main(): Promise<number> {
  const { values, target } = parse(process.argv.slice(2));
  const { host, port } = parseTarget(target);
  if (values.user === undefined) throw new UsageError('--user is required');
  if (values.ca !== undefined && values.insecure) throw new UsageError('--ca and --insecure exclude each other');
  const flag = (name: string): boolean => (values as Record<string, unknown>)[name] === true;
  const auth = authList(values.auth, METHODS.filter((m) => flag(`require-${m}`)), METHODS.filter((m) => flag(`refuse-${m}`)));
  let ca: Buffer | undefined;
  if (values.ca !== undefined) {
    try {
      ca = readFileSync(values.ca);
    } catch (e) {
      throw new UsageError(`cannot read --ca: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  const echoInterval = positive(values['lcp-echo-interval'], '--lcp-echo-interval', true);
  const verbose = values.verbose;
  let iface: ClientInterface | undefined;

  const conn = await SstpConnection.connect({
    host,
    port,
    username: values.user,
    password: password(values),
    auth,
    ...(values.servername !== undefined ? { servername: values.servername } : {}),
    ...(values['host-header'] !== undefined ? { hostHeader: values['host-header'] } : {}),
    ...(ca ? { ca } : {}),
    insecure: values.insecure,
    requestDns: !values['no-dns'],
    ...(values['require-mppe-128'] ? { mppe: { bits: MPPE_BIT_S | MPPE_BIT_H } } : {}),
    ...(echoInterval > 0 ? { lcpEcho: { intervalS: echoInterval, failure: positive(values['lcp-echo-failure'], '--lcp-echo-failure'), timeoutS: 0 } } : {}),
    setupTimeoutMs: positive(values.timeout, '--timeout') * 1000,
    onIp: (p) => iface?.deliver(p),
    ...(verbose ? { onLog: (event: string, fields?: Record<string, string | number>) => void process.stderr.write(`sstp-connect: ${event} ${fields ? JSON.stringify(fields) : ''}\n`) } : {}),
  });
  const info = conn.info;
  if (!values['no-tun']) {
    try {
      iface = await ClientInterface.open(conn, info, {
        ...(values.ifname !== undefined ? { ifname: values.ifname } : {}),
        ...(values.netns !== undefined ? { netns: values.netns } : {}),
        defaultRoute: values['default-route'],
        routes: values.route ?? [],
        serverAddress: host,
      });
    } catch (e) {
      await conn.close();
      throw e;
    }
  }
  emit({
    state: 'up',
    ipv4: info.ipv4,
    peer: info.peer,
    dns: info.dns,
    mtu: info.mtu,
    auth: info.auth ?? 'none',
    binding: info.binding,
    ...(iface ? { ifname: iface.name, ...(iface.netns !== undefined ? { netns: iface.netns } : {}) } : {}),
    setupMs: Math.round(conn.timings.upMs ?? 0),
  });

  let why = 'once';
  if (!values.once) {
    why = await new Promise<string>((resolve) => {
      for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, () => resolve(sig));
      void conn.ended().then(() => resolve('link'));
    });
  }
  const end = why === 'link' ? await conn.ended() : await conn.close();
  await iface?.close();
  const s = conn.stats;
  if (end.error) {
    emit({ ...end.error.toJSON(), state: 'down', rxBytes: s.rxBytes, txBytes: s.txBytes });
    return end.error.exitCode;
  }
  emit({ state: 'down', reason: why === 'once' ? 'once' : `signal ${why}`, rxBytes: s.rxBytes, txBytes: s.txBytes });
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ClientError) {
      emit(err.toJSON());
      if (err instanceof UsageError) process.stderr.write(`sstp-connect: ${err.message}\n(--help for usage)\n`);
      process.exit(err.exitCode);
    }
    if (err instanceof TypeError && (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      emit({ state: 'failed', error: ClientErrorCode.USAGE, stage: 'tcp', message: err.message });
      process.stderr.write(`sstp-connect: ${err.message}\n(--help for usage)\n`);
      process.exit(EXIT_CODES.E_CLIENT_USAGE);
    }
    process.stderr.write(`sstp-connect: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
