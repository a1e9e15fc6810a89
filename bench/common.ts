/**
 * What the benchmark programs (run.ts, workers.ts, soak.ts) share: the sstpd they start and the
 * sstp-load report they read.
 */
import type { TestCertificates } from '../src/config/certs.js';

type Json = Record<string, unknown>;

/** sstpd's port and gateway address inside a bench namespace. */
export const BENCH_PORT = 4443;
export const BENCH_GATEWAY = '198.18.255.254';

/** What every bench sstpd has (the bench and the soak run): gateway, one pool, keepalives, certificate, port. */
export function benchServerLines(certs: Pick<TestCertificates, 'serverCert' | 'serverKey'>): string[] {
  return [
    `set vpn sstp gateway-address ${BENCH_GATEWAY}`,
    'set vpn sstp client-ip-pool subnet 198.18.0.0/17',
    'set vpn sstp ppp-options lcp-echo-interval 10',
    `set vpn sstp ssl cert-file ${certs.serverCert}`,
    `set vpn sstp ssl key-file ${certs.serverKey}`,
    `set vpn sstp port ${BENCH_PORT}`,
  ];
}

/** The bench sstpd's configuration: users u0…u(n-1) with password "pw", and the lines above. */
export function benchConfigLines(users: number, certs: Pick<TestCertificates, 'serverCert' | 'serverKey'>, extra: readonly string[] = []): string[] {
  return [
    ...Array.from({ length: users }, (_, i) => `set vpn sstp authentication local-users username u${i} password pw`),
    ...benchServerLines(certs),
    ...extra,
  ];
}

/** The `report` line of sstp-load's JSON output (other lines and non-JSON skipped), or undefined. */
export function loadReport(text: string): Json | undefined {
  for (const l of text.trim().split('\n')) {
    try {
      const j = JSON.parse(l) as Json;
      if (j['event'] === 'report') return j;
    } catch {
      // progress text or a partial line
    }
  }
  return undefined;
}
