/**
 * A configuration generation made real: certificates read, policy frozen, backends built. A new
 * generation is built beside the running one and swapped in only when it is whole (SIGHUP).
 */
import { readFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import type { AuthProtocol, SstpConfig } from '../config/model.js';
import { loadConfigFile, loadConfigText, nodeFileChecker, type LoadResult } from '../config/load.js';
import { LocalAuthBackend } from '../auth/local.js';
import type { AuthBackend } from '../auth/backend.js';
import { Ipv4Pool } from '../ip/pool.js';
import { certHashes } from '../sstp/binding.js';
import type { SessionPolicy } from '../session/session.js';
import { ConfigError } from '../common/errors.js';

/** accel-ppp's SSTP `ppp-max-mtu`: the MRU we ask for and the most we accept (the seed shows mtu 1452). */
export const MAX_MTU = 1452;

const OFFER_ORDER: readonly AuthProtocol[] = ['mschap-v2', 'mschap', 'chap', 'pap'];

export interface Runtime {
  readonly generation: number;
  readonly config: SstpConfig;
  readonly tls: { readonly key: Buffer; readonly cert: Buffer; readonly ca?: Buffer };
  readonly policy: SessionPolicy;
  readonly auth: AuthBackend;
  readonly pools: Map<string, Ipv4Pool>;
}

let generations = 0;

export async function loadRuntime(source: { file: string } | { text: string; baseDir: string }): Promise<Runtime> {
  const res: LoadResult =
    'file' in source ? await loadConfigFile(source.file) : loadConfigText(source.text, { files: nodeFileChecker, baseDir: source.baseDir });
  if (!res.ok) throw new ConfigError(res.issues);
  return buildRuntime(res.config);
}

async function buildRuntime(config: SstpConfig): Promise<Runtime> {
  const key = await readFile(config.ssl.keyFile);
  const certPem = await readFile(config.ssl.certFile);
  const ca = config.ssl.caCertFile !== undefined ? await readFile(config.ssl.caCertFile) : undefined;
  // The chain we send: the cert file (leaf + any intermediates), then the CA file.
  const cert = ca ? Buffer.concat([certPem, Buffer.from('\n'), ca]) : certPem;
  const leaf = new X509Certificate(certPem);
  const gateway = config.gatewayAddress ?? '0.0.0.0';
  // The gateway and every user's static-ip are reserved: a pool never hands them to anyone else.
  const exclude = new Set([gateway, ...[...config.localUsers.values()].flatMap((u) => (u.staticIp ? [u.staticIp] : []))]);
  const pools = new Map(config.ipv4Pools.map((p) => [p.name, new Ipv4Pool(p.name, p.subnets, exclude)]));
  const policy: SessionPolicy = {
    // Offer the strongest allowed method first (accel-ppp offers config order, so VyOS's default
    // list makes it offer PAP first and every binding key zero); clients Nak to what they support.
    authProtocols: OFFER_ORDER.filter((m) => config.authProtocols.includes(m)),
    gateway,
    dns: config.nameServers.ipv4,
    mru: MAX_MTU,
    echo: { intervalS: config.ppp.lcpEchoInterval, failure: config.ppp.lcpEchoFailure, timeoutS: config.ppp.lcpEchoTimeout },
    certHashes: certHashes(leaf.raw),
    serverName: 'sstpd',
    negotiationTimeoutMs: 60_000,
    helloIntervalMs: 60_000,
  };
  return {
    generation: ++generations,
    config,
    tls: ca ? { key, cert, ca } : { key, cert },
    policy,
    auth: new LocalAuthBackend(config.localUsers),
    pools,
  };
}
