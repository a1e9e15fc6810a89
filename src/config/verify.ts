/**
 * VyOS-style commit checks on a schema-valid tree and the config built from it. Unlike VyOS,
 * which stops at the first ConfigError, every issue is collected; the order is VyOS 1.3's
 * (`verify_accel_ppp_base_service`, then vpn_sstp.py): authentication, gateway and addresses,
 * name-servers, IPv6 pools, client pools, SSL; then the features this build does not deliver yet.
 * Texts are VyOS's where VyOS has one. Pure: files are read through an injected `FileChecker`,
 * parsed with node:crypto; the wall-clock `now` for certificate validity is an argument.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import type { ConfigIssue } from '../common/errors.js';
import type { SstpConfig } from './model.js';
import { pathText, type ConfigTree } from './tree.js';
import { ipv4InPrefix, parseIpv4, parseIpv4Prefix } from './values.js';
import { resolveRateAttribute } from './radius-dictionary.js';

export type FileRead = { readonly ok: true; readonly data: Buffer } | { readonly ok: false; readonly reason: string };

/** Reads the files a config names; `reason` completes `File "<path>" …`, e.g. "does not exist". */
export interface FileChecker {
  read(path: string): FileRead;
}

/**
 * With `files`, the ssl files are read and their contents checked; `now` (wall clock, for
 * certificate validity) comes with it, since this module reads no clock.
 */
export type VerifyOptions =
  | { readonly files?: undefined }
  | { readonly files: FileChecker; readonly now: Date };

const USERS = ['authentication', 'local-users', 'username'];
const RADIUS = ['authentication', 'radius'];

/**
 * Something worth telling the operator that is not an error: the configuration is accepted as is
 * (VyOS accepts it too). Same shape as an issue; printed with `note:` (see load.ts `formatNotes`).
 */
export type ConfigNote = ConfigIssue;

/** What the commit checks found: issues refuse the configuration, notes do not. */
export interface VerifyResult {
  readonly issues: readonly ConfigIssue[];
  readonly notes: readonly ConfigNote[];
}

/** Collects issues (or notes), taking the line from the tree node they are about (or `linePath`). */
class Issues {
  readonly list: ConfigIssue[] = [];
  constructor(private readonly tree: ConfigTree) {}

  add(path: readonly string[], message: string, linePath: readonly string[] = path): void {
    this.addAt(path, message, this.tree.line(linePath));
  }
  addAt(path: readonly string[], message: string, line: number | undefined): void {
    this.list.push(line === undefined ? { path: pathText(path), message } : { path: pathText(path), message, line });
  }
}

// ---------------------------------------------------------------------------------------------
// Authentication

function checkLocalUsers(t: ConfigTree, c: SstpConfig, out: Issues): void {
  if (c.localUsers.size === 0) {
    out.add(['authentication', 'local-users'], 'Authentication mode local requires local users to be configured!', [
      'authentication',
      'mode',
    ]);
  }
  for (const name of c.localUsers.keys()) {
    const user = [...USERS, name];
    if (!t.value([...user, 'password'])) out.add(user, `Password required for local user "${name}"`);
    const rl = [...user, 'rate-limit'];
    if (t.has(rl) && !(t.has([...rl, 'upload']) && t.has([...rl, 'download']))) {
      out.add(rl, `User "${name}" has rate-limit configured for only one direction but both upload and download must be given!`);
    }
  }
}

function checkRadius(t: ConfigTree, c: SstpConfig, opts: VerifyOptions, out: Issues): void {
  const servers = t.keys([...RADIUS, 'server']);
  if (servers.length === 0) {
    out.add([...RADIUS, 'server'], 'RADIUS authentication requires at least one server', ['authentication', 'mode']);
  } else if (servers.every((ip) => t.has([...RADIUS, 'server', ip, 'disable']))) {
    out.add([...RADIUS, 'server'], 'every RADIUS server is disabled: nobody could log in');
  }
  for (const ip of servers) {
    const s = [...RADIUS, 'server', ip];
    if (t.value([...s, 'key']) === undefined) out.add(s, `Missing RADIUS secret key for server "${ip}"`);
  }
  checkRateLimitAttribute(c, opts, out);
}

/** `rate-limit attribute/vendor` must name something we can read (vendor dictionaries are files). */
function checkRateLimitAttribute(c: SstpConfig, opts: VerifyOptions, out: Issues): void {
  const rl = c.radius?.rateLimit;
  if (!rl?.enabled) return;
  if (rl.vendor !== undefined && opts.files === undefined) return; // dictionary files are checked at start
  const files = opts.files;
  const read = (path: string): string | undefined => {
    const r = files?.read(path);
    return r?.ok ? r.data.toString('utf8') : undefined;
  };
  const res = resolveRateAttribute(rl.attribute, rl.vendor, read);
  if (!res.ok) out.add([...RADIUS, 'rate-limit', rl.vendor !== undefined ? 'vendor' : 'attribute'], res.reason);
}

function checkAuthentication(t: ConfigTree, c: SstpConfig, opts: VerifyOptions, out: Issues): void {
  if (c.authMode === 'local') checkLocalUsers(t, c, out);
  else checkRadius(t, c, opts, out);
  // VyOS checks the DAE key in any mode.
  const dae = [...RADIUS, 'dynamic-author'];
  if (t.has([...dae, 'server']) && t.value([...dae, 'key']) === undefined) out.add(dae, 'DAE/CoA server key required!');
}

// ---------------------------------------------------------------------------------------------
// Gateway and client addresses

/**
 * The gateway inside a pool subnet is fine (VyOS accepts it; its own smoketests use gateway
 * 192.0.2.1 with pool 192.0.2.0/24): the pool excludes the gateway, so it is never handed out.
 */
function noteGatewayInPool(c: SstpConfig, notes: Issues): void {
  const gw = c.gatewayAddress;
  if (gw === undefined) return;
  const gwNum = parseIpv4(gw)!;
  for (const s of c.ipv4Pools.flatMap((p) => p.subnets)) {
    if (ipv4InPrefix(gwNum, parseIpv4Prefix(s)!)) {
      notes.add(['gateway-address'], `${gw} lies inside client-ip-pool subnet ${s}; it is never handed out`);
    }
  }
}

function checkGatewayAndStaticIps(c: SstpConfig, out: Issues): void {
  const subnets = c.ipv4Pools.flatMap((p) => p.subnets);
  const users = [...c.localUsers.values()];
  const handsOutIpv4 = subnets.length > 0 || users.some((u) => u.staticIp !== undefined) || c.authMode === 'radius';
  const gw = c.gatewayAddress;
  if (gw === undefined && handsOutIpv4) out.add(['gateway-address'], 'Server requires gateway-address to be configured!');
  const owner = new Map<string, string>();
  for (const u of users) {
    if (u.staticIp === undefined) continue;
    const at = [...USERS, u.name, 'static-ip'];
    const first = owner.get(u.staticIp);
    if (u.staticIp === gw) out.add(at, `static-ip ${u.staticIp} of user "${u.name}" is the gateway-address`);
    else if (first !== undefined) out.add(at, `static-ip ${u.staticIp} of user "${u.name}" is already assigned to user "${first}"`);
    else owner.set(u.staticIp, u.name);
  }
}

function checkNameServers(t: ConfigTree, out: Issues): void {
  const all = t.values(['name-server']);
  const v4 = all.filter((v) => parseIpv4(v.value) !== undefined);
  const v6 = all.filter((v) => parseIpv4(v.value) === undefined);
  if (v4.length > 2) out.addAt(['name-server'], 'Not more then two IPv4 DNS name-servers can be configured', v4[2]!.line);
  if (v6.length > 3) out.addAt(['name-server'], 'Not more then three IPv6 DNS name-servers can be configured', v6[3]!.line);
}

/** The 1.3 checks (current VyOS dropped the delegation-prefix one and renders a broken line). */
function checkIpv6Pools(t: ConfigTree, out: Issues): void {
  const delegates = t.keys(['client-ipv6-pool', 'delegate']);
  if (delegates.length > 0 && t.keys(['client-ipv6-pool', 'prefix']).length === 0) {
    out.add(['client-ipv6-pool', 'delegate'], 'IPv6 "delegate" also requires "prefix" to be defined!');
  }
  for (const d of delegates) {
    const at = ['client-ipv6-pool', 'delegate', d];
    if (!t.has([...at, 'delegation-prefix'])) out.add(at, 'delegation-prefix length required!');
  }
}

/**
 * VyOS wants a pool in local mode; we also accept a config where every enabled user has a
 * static-ip, since then no address is ever taken from a pool.
 */
function checkClientPools(t: ConfigTree, c: SstpConfig, out: Issues): void {
  if (c.authMode !== 'local' || c.ipv4Pools.length > 0 || t.has(['client-ipv6-pool'])) return;
  const missing = [...c.localUsers.values()].filter((u) => !u.disabled && u.staticIp === undefined);
  if (missing.length === 0) return;
  const names = missing.map((u) => `"${u.name}"`).join(', ');
  out.add(
    ['client-ip-pool'],
    `Local auth mode requires local client-ip-pool or client-ipv6-pool to be configured! ` +
      `(or a static-ip for ${missing.length === 1 ? 'user' : 'users'} ${names})`,
  );
}

// ---------------------------------------------------------------------------------------------
// SSL files

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));
const isoDate = (d: Date): string => d.toISOString().replace(/\.000Z$/, 'Z');

type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly message: string };

/** All PEM certificates in a file, leaf first; intermediates may follow. */
function parseCertificates(file: string, data: Buffer): Parsed<X509Certificate[]> {
  const blocks = data.toString('latin1').match(PEM_CERT) ?? [];
  if (blocks.length === 0) return { ok: false, message: `File "${file}" does not contain a PEM certificate` };
  const certs: X509Certificate[] = [];
  for (const [i, b] of blocks.entries()) {
    try {
      certs.push(new X509Certificate(b));
    } catch (e) {
      return { ok: false, message: `File "${file}": certificate ${i + 1} cannot be parsed (${errorText(e)})` };
    }
  }
  return { ok: true, value: certs };
}

function parseKey(file: string, data: Buffer): Parsed<KeyObject> {
  try {
    return { ok: true, value: createPrivateKey(data) };
  } catch (e) {
    return { ok: false, message: `File "${file}" does not contain a usable unencrypted private key (${errorText(e)})` };
  }
}

function validityProblem(file: string, cert: X509Certificate, now: Date): string | undefined {
  const notAfter = new Date(cert.validTo);
  const notBefore = new Date(cert.validFrom);
  if (now.getTime() > notAfter.getTime()) return `Certificate in "${file}" expired on ${isoDate(notAfter)}`;
  if (now.getTime() < notBefore.getTime()) return `Certificate in "${file}" is not valid before ${isoDate(notBefore)}`;
  return undefined;
}

/** Reads and parses one configured file, reporting at `at` when anything fails. */
function readParsed<T>(
  files: FileChecker,
  file: string,
  parse: (file: string, data: Buffer) => Parsed<T>,
  report: (message: string) => void,
): T | undefined {
  const r = files.read(file);
  if (!r.ok) {
    report(`File "${file}" ${r.reason}`);
    return undefined;
  }
  const p = parse(file, r.data);
  if (!p.ok) {
    report(p.message);
    return undefined;
  }
  return p.value;
}

function checkSslFiles(c: SstpConfig, files: FileChecker, now: Date, out: Issues): void {
  const at = (p: string): string[] => ['ssl', p];
  const reporter = (p: string) => (m: string) => out.add(at(p), m);
  const certs = c.ssl.certFile ? readParsed(files, c.ssl.certFile, parseCertificates, reporter('cert-file')) : undefined;
  const key = c.ssl.keyFile ? readParsed(files, c.ssl.keyFile, parseKey, reporter('key-file')) : undefined;
  const leaf = certs?.[0];
  if (leaf !== undefined) {
    const problem = validityProblem(c.ssl.certFile, leaf, now);
    if (problem !== undefined) out.add(at('cert-file'), problem);
  }
  if (leaf !== undefined && key !== undefined && !leaf.checkPrivateKey(key)) {
    out.add(at('key-file'), `Private key in "${c.ssl.keyFile}" does not match the certificate in "${c.ssl.certFile}"`);
  }
  if (c.ssl.caCertFile !== undefined) readParsed(files, c.ssl.caCertFile, parseCertificates, reporter('ca-cert-file'));
}

function checkSsl(t: ConfigTree, c: SstpConfig, opts: VerifyOptions, out: Issues): void {
  const hashes = t.has(['ssl', 'cert-hash-sha1']) || t.has(['ssl', 'cert-hash-sha256']);
  if (!c.ssl.offload) {
    if (!t.has(['ssl', 'cert-file'])) out.add(['ssl', 'cert-file'], 'SSL public key file required!');
    if (!t.has(['ssl', 'key-file'])) out.add(['ssl', 'key-file'], 'SSL private key file required!');
    if (hashes) out.add(['ssl', t.has(['ssl', 'cert-hash-sha256']) ? 'cert-hash-sha256' : 'cert-hash-sha1'], 'certificate hashes are only used with "ssl offload" (otherwise they come from cert-file)');
  } else if (!t.has(['ssl', 'cert-file']) && !(t.has(['ssl', 'cert-hash-sha1']) && t.has(['ssl', 'cert-hash-sha256']))) {
    // The crypto binding hashes the certificate the client saw: the proxy's. SHA-1 and SHA-256 are both offered.
    out.add(['ssl', 'offload'], 'with TLS offloaded, the crypto binding needs the certificate the proxy presents: set "ssl cert-file", or both "ssl cert-hash-sha1" and "ssl cert-hash-sha256"');
  }
  if (opts.files !== undefined) checkSslFiles(c, opts.files, opts.now, out);
}

// ---------------------------------------------------------------------------------------------
// NOT YET DELIVERED FEATURES
//
// Every node below parses and validates (so a wrong value still gets its type error), but this
// build cannot act on it, and ignoring it silently would mislead the operator. Each later issue
// that delivers a feature deletes its lines here.

export function unsupportedYet(t: ConfigTree): ConfigIssue[] {
  const out = new Issues(t);
  return out.list;
}

// ---------------------------------------------------------------------------------------------

export function verifyConfig(t: ConfigTree, c: SstpConfig, opts: VerifyOptions = {}): VerifyResult {
  const out = new Issues(t);
  const notes = new Issues(t);
  if (t.isEmpty) {
    out.addAt([], 'the configuration is empty: no "set vpn sstp ..." settings found', undefined);
    return { issues: out.list, notes: [] };
  }
  checkAuthentication(t, c, opts, out);
  checkGatewayAndStaticIps(c, out);
  checkNameServers(t, out);
  checkIpv6Pools(t, out);
  checkClientPools(t, c, out);
  checkSsl(t, c, opts, out);
  noteGatewayInPool(c, notes);
  return { issues: [...out.list, ...unsupportedYet(t)], notes: notes.list };
}
