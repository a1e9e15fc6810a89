/**
 * VyOS-style commit checks on schema-valid trees and the config built from them. Unlike VyOS,
 * which stops at the first ConfigError, every issue is collected. The order follows vyos-1x:
 * the pool ordering of `get_config` (next-pool chains), then `verify`: authentication, gateway and
 * addresses, pools, name-servers and WINS, the 1.3/1.4 syntax mix, SSL/PKI; then sstpd's own
 * checks and the features this build does not deliver yet. Texts are VyOS's where VyOS has one:
 * 1.3's (equuleus `verify_accel_ppp_base_service`) for the 1.3 nodes, the current ones
 * (`accel_ppp_util.py`, `configverify.py`, `vpn_sstp.py`) for the 1.4 nodes. VyOS's warnings are
 * notes. Pure: files are read through an injected `FileChecker`, certificates parsed with
 * node:crypto; the wall-clock `now` for certificate validity is an argument.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import type { ConfigIssue } from '../common/errors.js';
import { hasLegacyIpv6Pool, legacyIpv4Subnets, parseConnectionLimit } from './build.js';
import type { SstpConfig } from './model.js';
import { issuerChain, parseCertBody, parseKeyBody, pkiCaCertificates } from './pki.js';
import { tokenizeLine } from './lexer.js';
import { ConfigNode, ConfigTree, PKI_PREFIX } from './tree.js';
import { ipv4InPrefix, ipv4PoolSpan, parseInterfaceId, parseIpv4, parseIpv4Prefix } from './values.js';
import { resolveRateAttribute } from './radius-dictionary.js';

export type FileRead = { readonly ok: true; readonly data: Buffer } | { readonly ok: false; readonly reason: string };

/** Reads the files a config names; `reason` completes `File "<path>" …`, e.g. "does not exist". */
export interface FileChecker {
  read(path: string): FileRead;
  /**
   * Whether `path` is an executable file (extended-scripts); `reason` completes `File <path> …`
   * as VyOS's `script` validator words it: "does not exist", "is not an executable file".
   */
  executable?(path: string): { readonly ok: true } | { readonly ok: false; readonly reason: string };
}

export interface VerifyOptions {
  /** With it, the files the config names (ssl, extended-scripts) are read and checked. */
  readonly files?: FileChecker;
  /** Wall clock for certificate validity (this module reads no clock); without it, not checked. */
  readonly now?: Date;
  /** The `pki` tree `ssl certificate` / `ca-certificate` refer to; absent = empty. */
  readonly pki?: ConfigTree;
  /** Which format the text was in (only the wording of the empty-configuration error depends on it). */
  readonly format?: 'set-commands' | 'config.boot';
  /** config.boot footer: component syntax versions (`sstp@6`). */
  readonly versions?: ReadonlyMap<string, number>;
  /** Line of a `service sstp-server` command (VyOS 1.2's place for SSTP), if any. */
  readonly serviceSstpServerLine?: number;
}

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
  constructor(
    private readonly tree: ConfigTree,
    readonly list: ConfigIssue[] = [],
  ) {}

  /** The same list, with paths and lines taken from another tree (`pki`). */
  on(tree: ConfigTree): Issues {
    return new Issues(tree, this.list);
  }
  add(path: readonly string[], message: string, linePath: readonly string[] = path): void {
    this.addAt(path, message, this.tree.line(linePath));
  }
  addAt(path: readonly string[], message: string, line: number | undefined): void {
    const p = this.tree.pathText(path);
    this.list.push(line === undefined ? { path: p, message } : { path: p, message, line });
  }
}

/** Which VyOS syntax the config speaks; only decides the wording of checks on missing nodes. */
type Era = '1.3' | '1.4';

function syntaxEra(t: ConfigTree, pki: ConfigTree, versions: ReadonlyMap<string, number> | undefined): Era {
  const sstpVersion = versions?.get('sstp');
  if (sstpVersion !== undefined) return sstpVersion >= 4 ? '1.4' : '1.3';
  const newer =
    t.tagKeys(['client-ip-pool']).length > 0 ||
    t.tagKeys(['client-ipv6-pool']).length > 0 ||
    t.has(['default-pool']) ||
    t.has(['default-ipv6-pool']) ||
    t.has(['ssl', 'certificate']) ||
    t.has(['ssl', 'ca-certificate']) ||
    !pki.isEmpty;
  return newer ? '1.4' : '1.3';
}

// ---------------------------------------------------------------------------------------------
// Pool order (vyos-1x get_config → accel_ppp_util.get_pools_in_order)

function checkPoolOrder(t: ConfigTree, out: Issues): void {
  const pools = t.tagKeys(['client-ip-pool']);
  const next = new Map(pools.map((p) => [p, t.value(['client-ip-pool', p, 'next-pool'])]));
  for (const [p, n] of next) {
    if (n !== undefined && !next.has(n)) out.add(['client-ip-pool', p, 'next-pool'], `Pool '${n}' not defined in configuration data`);
  }
  // A chain that comes back to a pool loops; report each loop once, at its first pool in config order.
  const reported = new Set<string>();
  for (const start of pools) {
    const seen: string[] = [];
    let cur: string | undefined = start;
    while (cur !== undefined && next.has(cur) && !seen.includes(cur)) {
      seen.push(cur);
      cur = next.get(cur);
    }
    if (cur === undefined || !seen.includes(cur)) continue;
    const loop = seen.slice(seen.indexOf(cur));
    if (loop.some((p) => reported.has(p))) continue;
    for (const p of loop) reported.add(p);
    const first = pools.find((p) => loop.includes(p))!;
    out.add(['client-ip-pool', first, 'next-pool'], 'Circular reference in configuration data');
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

/**
 * noauth (accel-ppp `[auth] noauth=1`): nobody is asked for a password, so anyone who reaches the
 * port gets an address — said loudly. MPPE needs MS-CHAP's keys: `mppe require` cannot work.
 */
function checkNoauth(c: SstpConfig, out: Issues, notes: Issues): void {
  const mode = ['authentication', 'mode'];
  notes.add(
    mode,
    'NO AUTHENTICATION: every client that reaches the port gets a session and an address, with no user name ' +
      '(VyOS 1.4/1.5 render no noauth for SSTP, so there every login fails; sstpd does what accel-ppp\'s noauth=1 does). ' +
      'Restrict who can connect (firewall, limits) or use "local" or "radius"',
  );
  if (c.ppp.mppe === 'require' && !c.ppp.disableCcp) {
    out.add(['ppp-options', 'mppe'], '"require" cannot work with authentication mode noauth: MPPE keys come from MS-CHAP authentication, so every session would fail');
  }
}

function checkAuthentication(t: ConfigTree, c: SstpConfig, opts: VerifyOptions, out: Issues, notes: Issues): void {
  if (c.authMode === 'local') checkLocalUsers(t, c, out);
  else if (c.authMode === 'radius') checkRadius(t, c, opts, out);
  else checkNoauth(c, out, notes);
  // VyOS checks the DAE key in any mode.
  const dae = [...RADIUS, 'dynamic-author'];
  if (t.has([...dae, 'server']) && t.value([...dae, 'key']) === undefined) out.add(dae, 'DAE/CoA server key required!');
}

/**
 * A node behind a balancer (proxy-protocol) is usually one of several sharing a RADIUS back end
 * (README "Scaling out"). FreeRADIUS keys its SQL accounting and IP pool queries, and what
 * Accounting-On closes and frees, on NAS-IP-Address: nodes without distinct ones close or reuse
 * each other's sessions and leases. A single node behind a proxy is fine, hence a note.
 */
function noteNasIpBehindProxy(t: ConfigTree, c: SstpConfig, notes: Issues): void {
  if (c.authMode !== 'radius' || c.proxyProtocol === undefined || c.radius?.nasIpAddress !== undefined) return;
  notes.add(
    [...RADIUS, 'nas-ip-address'],
    'not set on a node behind a balancer (proxy-protocol): FreeRADIUS keys SQL accounting, its IP pool and Accounting-On on ' +
      'NAS-IP-Address, so nodes without distinct ones close or reuse each other\'s sessions and leases ' +
      '(set a distinct nas-ip-address on each node; a single node behind a proxy may ignore this)',
    ['proxy-protocol'],
  );
}

// ---------------------------------------------------------------------------------------------
// Gateway and client addresses

/**
 * The gateway inside a pool range is fine (VyOS accepts it; its own smoketests use gateway
 * 192.0.2.1 with pool 192.0.2.0/24): the pool excludes the gateway, so it is never handed out.
 */
function noteGatewayInPool(t: ConfigTree, c: SstpConfig, notes: Issues): void {
  const gw = c.gatewayAddress;
  if (gw === undefined) return;
  const gwNum = parseIpv4(gw)!;
  for (const s of legacyIpv4Subnets(t)) {
    if (ipv4InPrefix(gwNum, parseIpv4Prefix(s)!)) notes.add(['gateway-address'], `${gw} lies inside client-ip-pool subnet ${s}; it is never handed out`);
  }
  for (const name of t.tagKeys(['client-ip-pool'])) {
    for (const r of t.values(['client-ip-pool', name, 'range'])) {
      const span = ipv4PoolSpan(r.value);
      if (span !== undefined && gwNum >= span.first && gwNum <= span.last) {
        notes.add(['gateway-address'], `${gw} lies inside client-ip-pool ${name} range ${r.value}; it is never handed out`);
      }
    }
  }
}

function checkGatewayAndStaticIps(c: SstpConfig, out: Issues): void {
  const ranges = c.ipv4Pools.flatMap((p) => p.subnets);
  const users = [...c.localUsers.values()];
  const handsOutIpv4 = ranges.length > 0 || users.some((u) => u.staticIp !== undefined) || c.authMode === 'radius';
  const gw = c.gatewayAddress;
  // VyOS 1.4 only warns ("IPv4 Server requires gateway-address to be configured!"); without it a
  // session has no local address, so sstpd keeps 1.3's error.
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

/** verify_accel_ppp_ip_pool, IPv4 part: next-pool needs a range; default-pool must exist. */
function checkIpv4Pools(t: ConfigTree, out: Issues): void {
  const pools = t.tagKeys(['client-ip-pool']);
  for (const p of pools) {
    if (t.has(['client-ip-pool', p, 'next-pool']) && t.values(['client-ip-pool', p, 'range']).length === 0) {
      out.add(['client-ip-pool', p], `Pool "${p}" does not contain range but next-pool exists`);
    }
  }
  const dflt = t.value(['default-pool']);
  if (dflt !== undefined && !pools.includes(dflt)) out.add(['default-pool'], `Default pool "${dflt}" does not exists`);
}

function checkNameServers(t: ConfigTree, out: Issues): void {
  const all = t.values(['name-server']);
  const v4 = all.filter((v) => parseIpv4(v.value) !== undefined);
  const v6 = all.filter((v) => parseIpv4(v.value) === undefined);
  if (v4.length > 2) out.addAt(['name-server'], 'Not more then two IPv4 DNS name-servers can be configured', v4[2]!.line);
  if (v6.length > 3) out.addAt(['name-server'], 'Not more then three IPv6 DNS name-servers can be configured', v6[3]!.line);
  const wins = t.values(['wins-server']);
  if (wins.length > 2) out.addAt(['wins-server'], 'Not more then two WINS name-servers can be configured', wins[2]!.line);
}

/**
 * IPv6 pools. 1.3 (unnamed): 1.3's texts. Named: the current text; a missing delegation-prefix is
 * still refused (current VyOS dropped that check and renders a broken accel-ppp line).
 */
function checkIpv6Pools(t: ConfigTree, out: Issues): void {
  const delegationPrefix = (base: readonly string[]): void => {
    for (const d of t.keys([...base, 'delegate'])) {
      const at = [...base, 'delegate', d];
      if (!t.has([...at, 'delegation-prefix'])) out.add(at, 'delegation-prefix length required!');
    }
  };
  if (hasLegacyIpv6Pool(t)) {
    if (t.keys(['client-ipv6-pool', 'delegate']).length > 0 && t.keys(['client-ipv6-pool', 'prefix']).length === 0) {
      out.add(['client-ipv6-pool', 'delegate'], 'IPv6 "delegate" also requires "prefix" to be defined!');
    }
    delegationPrefix(['client-ipv6-pool']);
  }
  for (const name of t.tagKeys(['client-ipv6-pool'])) {
    const base = ['client-ipv6-pool', name];
    if (t.has([...base, 'delegate']) && !t.has([...base, 'prefix'])) {
      out.add([...base, 'delegate'], `IPv6 delegate-prefix requires IPv6 prefix to be configured in "${name}"!`);
    }
    delegationPrefix(base);
  }
}

/**
 * VyOS wants a pool in local (and noauth) mode; we also accept a config where every enabled user
 * has a static-ip, since then no address is ever taken from a pool.
 */
function checkClientPools(t: ConfigTree, c: SstpConfig, out: Issues): void {
  if (c.authMode === 'radius' || c.ipv4Pools.length > 0 || t.has(['client-ipv6-pool'])) return;
  // noauth has no users to give a static-ip to.
  const missing = c.authMode === 'local' ? [...c.localUsers.values()].filter((u) => !u.disabled && u.staticIp === undefined) : [];
  if (missing.length === 0 && c.authMode === 'local') return;
  const names = missing.map((u) => `"${u.name}"`).join(', ');
  const users = missing.length === 0 ? '' : ` (or a static-ip for ${missing.length === 1 ? 'user' : 'users'} ${names})`;
  out.add(['client-ip-pool'], `Local auth mode requires local client-ip-pool or client-ipv6-pool to be configured!${users}`);
}

/** VyOS's warnings about pools (local/noauth: no default pool), and its IPv6 default. */
function notePools(t: ConfigTree, c: SstpConfig, notes: Issues): void {
  if (c.authMode !== 'radius') {
    if (t.tagKeys(['client-ip-pool']).length > 0 && !t.has(['default-pool'])) {
      notes.add(['default-pool'], "'default-pool' is not defined: sessions without a static-ip get no IPv4 address", ['client-ip-pool']);
    }
    if (t.tagKeys(['client-ipv6-pool']).length > 0 && !t.has(['default-ipv6-pool'])) {
      notes.add(['default-ipv6-pool'], "'default-ipv6-pool' is not defined: sessions get no IPv6 prefix", ['client-ipv6-pool']);
    }
  }
  const d6 = t.value(['default-ipv6-pool']);
  if (d6 !== undefined && !c.ipv6Pools.some((p) => p.name === d6)) {
    notes.add(['default-ipv6-pool'], `"${d6}" names no client-ipv6-pool: sessions get no IPv6 prefix (VyOS does not check this)`);
  }
  if (c.ipv6Pools.length > 0 && c.ppp.ipv6 === 'deny' && !t.has(['ppp-options', 'ipv6'])) {
    notes.add(
      ['ppp-options', 'ipv6'],
      'client-ipv6-pool is configured but ppp-options ipv6 is not: VyOS\'s default "deny" leaves IPv6 off and the pools unused ' +
        '(set ppp-options ipv6 allow to hand them out)',
      ['client-ipv6-pool'],
    );
  }
}

// ---------------------------------------------------------------------------------------------
// The 1.3 syntax mixed with 1.4 nodes: what VyOS's migration would have written instead

const quoteSet = (words: readonly string[]): string => `"set vpn sstp ${words.join(' ')}"`;

function checkSyntaxMix(t: ConfigTree, out: Issues): void {
  const subnets = legacyIpv4Subnets(t);
  if (subnets.length > 0 && (t.tagKeys(['client-ip-pool']).length > 0 || t.has(['default-pool']))) {
    const rewrite = [...subnets.map((s) => quoteSet(['client-ip-pool', 'default-range-pool', 'range', s])), quoteSet(['default-pool', 'default-range-pool'])];
    out.add(
      ['client-ip-pool', 'subnet'],
      `the VyOS 1.3 "client-ip-pool subnet" cannot be mixed with named pools or default-pool; write it as VyOS 1.4 migrates it: ${rewrite.join(', ')}`,
    );
  }
  if (hasLegacyIpv6Pool(t) && (t.tagKeys(['client-ipv6-pool']).length > 0 || t.has(['default-ipv6-pool']))) {
    const rewrite = [
      ...t.keys(['client-ipv6-pool', 'prefix']).map((p) => quoteSet(['client-ipv6-pool', 'ipv6-pool', 'prefix', p, 'mask', t.value(['client-ipv6-pool', 'prefix', p, 'mask']) ?? '64'])),
      ...t.keys(['client-ipv6-pool', 'delegate']).map((p) =>
        quoteSet(['client-ipv6-pool', 'ipv6-pool', 'delegate', p, 'delegation-prefix', t.value(['client-ipv6-pool', 'delegate', p, 'delegation-prefix']) ?? '<length>']),
      ),
      ...(t.has(['client-ipv6-pool', 'prefix']) ? [quoteSet(['default-ipv6-pool', 'ipv6-pool'])] : []),
    ];
    const at = t.isLegacy(['client-ipv6-pool', 'prefix']) ? 'prefix' : 'delegate';
    out.add(
      ['client-ipv6-pool', at],
      `the VyOS 1.3 unnamed "client-ipv6-pool ${at}" cannot be mixed with named IPv6 pools or default-ipv6-pool; ` +
        `write it as VyOS 1.4 migrates it: ${rewrite.join(', ')}`,
    );
  }
  const fileNode = ['cert-file', 'key-file'].find((n) => t.has(['ssl', n]));
  if (fileNode !== undefined && t.has(['ssl', 'certificate'])) {
    out.add(
      ['ssl', fileNode],
      `the VyOS 1.3 "ssl ${fileNode}" cannot be mixed with "ssl certificate" (a pki certificate); VyOS 1.4 imports the files as ` +
        '"pki certificate sstp" and sets "ssl certificate sstp": keep either the pki certificate or cert-file with key-file',
    );
  }
  if (t.has(['ssl', 'ca-cert-file']) && t.has(['ssl', 'ca-certificate'])) {
    out.add(
      ['ssl', 'ca-cert-file'],
      'the VyOS 1.3 "ssl ca-cert-file" cannot be mixed with "ssl ca-certificate" (a pki ca); VyOS 1.4 imports the file as ' +
        '"pki ca sstp" and sets "ssl ca-certificate sstp": keep one of them',
    );
  } else if (fileNode !== undefined && !t.has(['ssl', 'certificate']) && t.has(['ssl', 'ca-certificate'])) {
    out.add(
      ['ssl', 'ca-certificate'],
      '"ssl ca-certificate" (a pki ca) goes with "ssl certificate" (a pki certificate); with the VyOS 1.3 "ssl cert-file" and ' +
        '"key-file", give the CA as "ssl ca-cert-file"',
    );
  } else if (fileNode === undefined && t.has(['ssl', 'certificate']) && t.has(['ssl', 'ca-cert-file'])) {
    out.add(
      ['ssl', 'ca-cert-file'],
      'the VyOS 1.3 "ssl ca-cert-file" goes with "ssl cert-file"; with "ssl certificate" (a pki certificate) name the CA as ' +
        '"ssl ca-certificate" (a pki ca)',
    );
  }
}

// ---------------------------------------------------------------------------------------------
// SSL: files (1.3) and PKI (1.4)

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

/** "expired on …" / "is not valid before …", or undefined when valid at `now`. */
function validityProblem(cert: X509Certificate, now: Date): string | undefined {
  const notAfter = new Date(cert.validTo);
  const notBefore = new Date(cert.validFrom);
  if (now.getTime() > notAfter.getTime()) return `expired on ${isoDate(notAfter)}`;
  if (now.getTime() < notBefore.getTime()) return `is not valid before ${isoDate(notBefore)}`;
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

function checkSslFiles(c: SstpConfig, files: FileChecker, now: Date | undefined, out: Issues): void {
  const at = (p: string): string[] => ['ssl', p];
  const reporter = (p: string) => (m: string) => out.add(at(p), m);
  const certs = c.ssl.certFile ? readParsed(files, c.ssl.certFile, parseCertificates, reporter('cert-file')) : undefined;
  const key = c.ssl.keyFile ? readParsed(files, c.ssl.keyFile, parseKey, reporter('key-file')) : undefined;
  const leaf = certs?.[0];
  if (leaf !== undefined && now !== undefined) {
    const problem = validityProblem(leaf, now);
    if (problem !== undefined) out.add(at('cert-file'), `Certificate in "${c.ssl.certFile}" ${problem}`);
  }
  if (leaf !== undefined && key !== undefined && !leaf.checkPrivateKey(key)) {
    out.add(at('key-file'), `Private key in "${c.ssl.keyFile}" does not match the certificate in "${c.ssl.certFile}"`);
  }
  if (c.ssl.caCertFile !== undefined) readParsed(files, c.ssl.caCertFile, parseCertificates, reporter('ca-cert-file'));
}

/** Where VyOS's ACME certificates live (vyos.defaults directories['certbot']). */
const CERTBOT_DIR = '/config/auth/letsencrypt';

/** configverify.verify_pki_certificate, then what sstpd needs of the material (parse, key, validity). */
function checkPkiCertificate(pki: ConfigTree, name: string, now: Date | undefined, out: Issues): X509Certificate | undefined {
  const at = ['ssl', 'certificate'];
  if (pki.isEmpty) return void out.add(at, 'PKI is not configured!');
  if (pki.keys(['certificate']).length === 0) return void out.add(at, 'PKI does not contain any certificates!');
  if (!pki.has(['certificate', name])) return void out.add(at, `Certificate "${name}" not found in configuration!`);
  const p = out.on(pki);
  const base = ['certificate', name];
  const body = pki.value([...base, 'certificate']);
  const keyBody = pki.value([...base, 'private', 'key']);
  if (body === undefined) {
    const acme = pki.has([...base, 'acme'])
      ? ` (an ACME certificate: VyOS keeps it in ${CERTBOT_DIR}/live/${name}/, not in the configuration; ` +
        'give its cert.pem and privkey.pem as ssl cert-file and key-file)'
      : '';
    out.add(at, `PEM certificate for "${name}" missing in configuration!${acme}`);
  }
  if (keyBody === undefined) out.add(at, `PEM private key for "${name}" missing in configuration!`);
  if (pki.has([...base, 'private', 'password-protected'])) {
    p.add(
      [...base, 'private', 'password-protected'],
      'Password protected PEM private key is not supported! (sstpd starts with nobody to type the passphrase: import the key unencrypted)',
    );
    return undefined;
  }
  if (body === undefined) return undefined;
  const cert = parseCertBody(body);
  if (!cert.ok) return void p.add([...base, 'certificate'], `PEM certificate for "${name}" cannot be parsed (${cert.reason})`);
  if (now !== undefined) {
    const problem = validityProblem(cert.value, now);
    if (problem !== undefined) p.add([...base, 'certificate'], `Certificate "${name}" ${problem}`);
  }
  if (keyBody === undefined) return cert.value;
  const key = parseKeyBody(keyBody);
  if (!key.ok) p.add([...base, 'private', 'key'], `PEM private key for "${name}" cannot be parsed (${key.reason})`);
  else if (!cert.value.checkPrivateKey(key.value.key)) p.add([...base, 'private', 'key'], `PEM private key for "${name}" does not match its certificate`);
  return cert.value;
}

/** configverify.verify_pki_ca_certificate (its "CA without PEM" branch has a NameError; the intended text here). */
function checkPkiCa(pki: ConfigTree, name: string, out: Issues): X509Certificate | undefined {
  const at = ['ssl', 'ca-certificate'];
  if (pki.isEmpty) return void out.add(at, 'PKI is not configured!');
  if (pki.keys(['ca']).length === 0) return void out.add(at, 'PKI does not contain any CA certificates!');
  if (!pki.has(['ca', name])) return void out.add(at, `CA Certificate "${name}" not found in configuration!`);
  const body = pki.value(['ca', name, 'certificate']);
  if (body === undefined) return void out.add(at, `PEM CA certificate for "${name}" missing in configuration!`);
  const cert = parseCertBody(body);
  if (!cert.ok) return void out.on(pki).add(['ca', name, 'certificate'], `PEM CA certificate for "${name}" cannot be parsed (${cert.reason})`);
  return cert.value;
}

/** What the chain sent to clients looks like: notes when it stops short or leaves the named CA out. */
function notePkiChain(pki: ConfigTree, certName: string, leaf: X509Certificate, caName: string | undefined, ca: X509Certificate | undefined, notes: Issues): void {
  const chain = issuerChain(leaf, pkiCaCertificates(pki));
  const last = chain[chain.length - 1] ?? leaf;
  const selfSigned = (c: X509Certificate): boolean => c.checkIssued(c) && c.verify(c.publicKey);
  if (!selfSigned(last)) {
    notes.add(
      ['ssl', 'certificate'],
      `the chain sent with certificate "${certName}" stops at "${last.subject.replace(/\n/g, ', ')}", whose issuer is not among the pki ca entries: ` +
        'clients must already have it (add the intermediate as a pki ca)',
    );
  }
  if (caName !== undefined && ca !== undefined && ![leaf, ...chain].some((c) => c.fingerprint256 === ca.fingerprint256)) {
    notes.add(['ssl', 'ca-certificate'], `CA "${caName}" is not an issuer of certificate "${certName}": it is not sent to clients`);
  }
}

/** The 1.4 path: vpn_sstp.py verify(), SSL part, in its order. */
function checkSslPki(t: ConfigTree, pki: ConfigTree, opts: VerifyOptions, out: Issues, notes: Issues): void {
  if (!t.has(['ssl'])) return void out.add(['ssl'], 'SSL missing on SSTP config!');
  const certName = t.value(['ssl', 'certificate']);
  const leaf = certName === undefined ? void out.add(['ssl', 'certificate'], 'SSL certificate missing on SSTP config!', ['ssl']) : checkPkiCertificate(pki, certName, opts.now, out);
  const caName = t.value(['ssl', 'ca-certificate']);
  let ca: X509Certificate | undefined;
  if (caName !== undefined) ca = checkPkiCa(pki, caName, out);
  else if (!t.has(['ssl', 'ca-cert-file'])) out.add(['ssl', 'ca-certificate'], 'SSL CA certificate missing on SSTP config!', ['ssl']); // else: a mix, reported above
  if (leaf !== undefined && certName !== undefined) notePkiChain(pki, certName, leaf, caName, ca, notes);
}

function checkSsl(t: ConfigTree, c: SstpConfig, pki: ConfigTree, era: Era, opts: VerifyOptions, out: Issues, notes: Issues): void {
  const hashes = t.has(['ssl', 'cert-hash-sha1']) || t.has(['ssl', 'cert-hash-sha256']);
  const files = t.has(['ssl', 'cert-file']) || t.has(['ssl', 'key-file']);
  const named = t.has(['ssl', 'certificate']);
  if (c.ssl.offload) {
    if (!t.has(['ssl', 'cert-file']) && !named && !(t.has(['ssl', 'cert-hash-sha1']) && t.has(['ssl', 'cert-hash-sha256']))) {
      // The crypto binding hashes the certificate the client saw: the proxy's. SHA-1 and SHA-256 are both offered.
      out.add(['ssl', 'offload'], 'with TLS offloaded, the crypto binding needs the certificate the proxy presents: set "ssl cert-file", or both "ssl cert-hash-sha1" and "ssl cert-hash-sha256"');
    }
  } else if (hashes) {
    out.add(['ssl', t.has(['ssl', 'cert-hash-sha256']) ? 'cert-hash-sha256' : 'cert-hash-sha1'], 'certificate hashes are only used with "ssl offload" (otherwise they come from cert-file)');
  }
  if (named || (!files && !c.ssl.offload && era === '1.4')) checkSslPki(t, pki, opts, out, notes);
  else if (!c.ssl.offload) {
    if (!t.has(['ssl', 'cert-file'])) out.add(['ssl', 'cert-file'], 'SSL public key file required!');
    if (!t.has(['ssl', 'key-file'])) out.add(['ssl', 'key-file'], 'SSL private key file required!');
  }
  if (opts.files !== undefined) checkSslFiles(c, opts.files, opts.now, out);
}

// ---------------------------------------------------------------------------------------------
// The other 1.4 nodes: what VyOS leaves unchecked but accel-ppp cannot use

function checkLimits(t: ConfigTree, out: Issues): void {
  const rate = t.value(['limits', 'connection-limit']);
  if (rate !== undefined && parseConnectionLimit(rate)?.count === 0) {
    out.add(['limits', 'connection-limit'], `"${rate}" allows no connection at all (accel-ppp divides the period by the count): use at least 1`);
  }
  for (const n of ['burst', 'timeout'] as const) {
    const v = t.value(['limits', n]);
    if (v !== undefined && !/^[0-9]{1,9}$/.test(v)) {
      out.add(['limits', n], `"${v}" is not a whole number${n === 'timeout' ? ' of seconds' : ' of connections'} (VyOS accepts any text here; accel-ppp reads a number)`);
    }
  }
}

/** VyOS's `script` validator (at `set` time there; needs the file system, so only with files here). */
function checkScripts(t: ConfigTree, files: FileChecker | undefined, out: Issues): void {
  if (files?.executable === undefined) return;
  for (const n of ['on-pre-up', 'on-up', 'on-down', 'on-change']) {
    const v = t.value(['extended-scripts', n]);
    if (v === undefined) continue;
    // "if the script is a script + stowaway arguments, this removes the arguments" (shlex.split()[0]).
    const words = tokenizeLine(v);
    const script = words.ok ? (words.tokens[0] ?? v) : v;
    const r = files.executable(script);
    if (!r.ok) out.add(['extended-scripts', n], `File ${script} ${r.reason}`);
  }
}

/**
 * IPV6CP interface ids: two fixed ids that are the same can never be negotiated (accel-ppp would
 * Nak the client for ever). calling-sid without newer VyOS's secret gets a per-process key.
 */
function checkInterfaceIds(t: ConfigTree, out: Issues, notes: Issues): void {
  const at = (n: string): string[] => ['ppp-options', n];
  const ours = t.value(at('ipv6-interface-id'));
  const peer = t.value(at('ipv6-peer-interface-id'));
  const oursId = ours !== undefined ? parseInterfaceId(ours) : undefined;
  const peerId = peer !== undefined ? parseInterfaceId(peer) : undefined;
  if (oursId && peerId?.equals(oursId)) {
    out.add(at('ipv6-peer-interface-id'), `"${peer}" is also ipv6-interface-id: both ends of the link would have the same link-local address`);
  }
  if (peer === 'calling-sid' && !t.has(at('ipv6-peer-interface-id-secret'))) {
    notes.add(
      at('ipv6-peer-interface-id'),
      'calling-sid: each client\'s id is a keyed hash of its address, with a key sstpd picks at start, so the ids change when sstpd restarts ' +
        '(set ppp-options ipv6-peer-interface-id-secret, which newer VyOS requires, to keep them)',
    );
  }
  if (t.has(at('ipv6-peer-interface-id-secret')) && peer !== 'calling-sid') {
    notes.add(at('ipv6-peer-interface-id-secret'), 'only used with "ipv6-peer-interface-id calling-sid"');
  }
}

/** Accepted VyOS nodes that mean nothing here, or something slightly different. */
function noteOthers(t: ConfigTree, notes: Issues): void {
  if (t.has(['snmp'])) {
    notes.add(
      t.has(['snmp', 'master-agent']) ? ['snmp', 'master-agent'] : ['snmp'],
      'sstpd has no SNMP agent (VyOS runs accel-ppp\'s net-snmp module); the same figures are served by the Prometheus endpoint: ' +
        '"set vpn sstp metrics" (listen-address, port 9474)',
    );
  }
  const mcs = t.value(['max-concurrent-sessions']);
  if (mcs !== undefined && mcs.includes('-')) {
    notes.add(['max-concurrent-sessions'], `"${mcs}" is read as ${/^[0-9]+/.exec(mcs)?.[0] ?? mcs}, as accel-ppp reads it`);
  }
  // VyOS's own smoketest sets both; accel-ppp then has no CCP to negotiate MPPE in, and neither have we.
  if (t.has(['ppp-options', 'disable-ccp']) && t.value(['ppp-options', 'mppe']) === 'require') {
    notes.add(['ppp-options', 'mppe'], '"require" has no effect with "ppp-options disable-ccp": CCP is rejected, so sessions run unencrypted (as with accel-ppp)');
  }
}

// ---------------------------------------------------------------------------------------------
// NOT YET DELIVERED FEATURES
//
// Every node below parses, validates and lands in the model (so a wrong value still gets its
// type error), but this build cannot act on it. Ignoring it silently would mislead the operator:
// a node whose absence of effect could change who gets in would be refused; the others are
// accepted with a note saying so (notActedOnYet), since VyOS's own smoketest configurations use
// them. Each later issue that delivers a feature deletes its lines here.

interface NotYet {
  readonly path: readonly string[];
  /** Only when the configured value would change what this build does. */
  readonly when?: (c: SstpConfig, t: ConfigTree) => boolean;
  readonly text: string;
}

// Empty since every 1.4/1.5 node is acted on; a node added to the schema before the runtime acts on it goes here.
const NOT_ACTED_ON_YET: readonly NotYet[] = [
];

export function notActedOnYet(t: ConfigTree, c: SstpConfig): ConfigNote[] {
  const notes = new Issues(t);
  for (const n of NOT_ACTED_ON_YET) {
    if (t.has(n.path) && (n.when === undefined || n.when(c, t))) notes.add(n.path, n.text);
  }
  return notes.list;
}

// ---------------------------------------------------------------------------------------------

function emptyMessage(opts: VerifyOptions): string {
  if (opts.serviceSstpServerLine !== undefined) {
    return '"service sstp-server" is the VyOS 1.2 syntax; load this configuration on VyOS 1.3 or later once, which migrates it to "vpn sstp"';
  }
  return opts.format === 'config.boot'
    ? 'the configuration is empty: no "vpn { sstp { ... } }" section found'
    : 'the configuration is empty: no "set vpn sstp ..." settings found';
}

export function verifyConfig(t: ConfigTree, c: SstpConfig, opts: VerifyOptions = {}): VerifyResult {
  const out = new Issues(t);
  const notes = new Issues(t);
  if (t.isEmpty) {
    out.addAt([], emptyMessage(opts), opts.serviceSstpServerLine);
    return { issues: out.list, notes: [] };
  }
  const pki = opts.pki ?? new ConfigTree(new ConfigNode(0), PKI_PREFIX);
  const era = syntaxEra(t, pki, opts.versions);
  checkPoolOrder(t, out);
  checkAuthentication(t, c, opts, out, notes);
  noteNasIpBehindProxy(t, c, notes);
  checkGatewayAndStaticIps(c, out);
  checkIpv4Pools(t, out);
  checkNameServers(t, out);
  checkIpv6Pools(t, out);
  checkClientPools(t, c, out);
  checkSyntaxMix(t, out);
  checkSsl(t, c, pki, era, opts, out, notes);
  checkLimits(t, out);
  checkScripts(t, opts.files, out);
  checkInterfaceIds(t, out, notes);
  noteGatewayInPool(t, c, notes);
  notePools(t, c, notes);
  noteOthers(t, notes);
  // Notes in line order (a stable sort keeps the order of several notes on one line).
  const allNotes = [...notes.list, ...notActedOnYet(t, c)].sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  return { issues: out.list, notes: allNotes };
}
