/**
 * VyOS's `pki` store as `ssl certificate NAME` / `ssl ca-certificate NAME` use it: the base64
 * bodies VyOS keeps in `pki certificate NAME certificate`, `… private key` and `pki ca NAME
 * certificate` (PEM without its armour, line breaks removed) turned back into PEM, parsed, and the
 * certificate's issuer chain collected from every `pki ca` entry. Pure: node:crypto parses, nothing
 * is read from disk. Used by build (the model carries the PEMs) and verify (the problems).
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import type { PkiTlsMaterial } from './model.js';
import type { ConfigTree } from './tree.js';

/** PEM armour around a base64 body, 64 characters a line (RFC 7468). */
export function wrapPem(label: string, body: string): string {
  const b64 = body.replace(/\s+/g, '');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export function parseCertBody(body: string): Parsed<X509Certificate> {
  try {
    return { ok: true, value: new X509Certificate(wrapPem('CERTIFICATE', body)) };
  } catch (e) {
    return { ok: false, reason: errorText(e) };
  }
}

/**
 * The key body as VyOS stores it: PKCS#8 (what VyOS writes), or SEC1 / PKCS#1 when it was pasted
 * from an "EC PRIVATE KEY" / "RSA PRIVATE KEY" file (VyOS's own loader tries EC too). Returns the
 * key and the PEM form that loads.
 */
export function parseKeyBody(body: string): Parsed<{ key: KeyObject; pem: string }> {
  let first: string | undefined;
  for (const label of ['PRIVATE KEY', 'EC PRIVATE KEY', 'RSA PRIVATE KEY']) {
    const pem = wrapPem(label, body);
    try {
      return { ok: true, value: { key: createPrivateKey(pem), pem } };
    } catch (e) {
      first ??= errorText(e);
    }
  }
  return { ok: false, reason: first ?? 'no key' };
}

/** Certificates of every `pki ca` entry that parses, by name. */
export function pkiCaCertificates(pki: ConfigTree): Map<string, X509Certificate> {
  const out = new Map<string, X509Certificate>();
  for (const name of pki.keys(['ca'])) {
    const body = pki.value(['ca', name, 'certificate']);
    if (body === undefined) continue;
    const c = parseCertBody(body);
    if (c.ok) out.set(name, c.value);
  }
  return out;
}

const selfSigned = (c: X509Certificate): boolean => c.checkIssued(c) && c.verify(c.publicKey);

/**
 * The issuers of `leaf` among `cas`, nearest first: each one's subject is the previous one's issuer
 * and its key verifies that signature; it stops at a self-signed certificate or when none fits.
 * A self-signed leaf has no chain. Bounded by the number of CAs.
 */
export function issuerChain(leaf: X509Certificate, cas: ReadonlyMap<string, X509Certificate>): X509Certificate[] {
  const chain: X509Certificate[] = [];
  let cur = leaf;
  while (!selfSigned(cur) && chain.length < cas.size) {
    const next = [...cas.values()].find(
      (c) => !chain.some((x) => x.fingerprint256 === c.fingerprint256) && c.fingerprint256 !== leaf.fingerprint256 && cur.checkIssued(c) && cur.verify(c.publicKey),
    );
    if (next === undefined) break;
    chain.push(next);
    cur = next;
  }
  return chain;
}

/**
 * The material `ssl certificate` / `ssl ca-certificate` name, when every part is there and parses;
 * undefined otherwise (verify reports why). The private key's PEM is the one that loads.
 */
export function resolvePkiMaterial(pki: ConfigTree, certName: string, caName: string | undefined): PkiTlsMaterial | undefined {
  const certBody = pki.value(['certificate', certName, 'certificate']);
  const keyBody = pki.value(['certificate', certName, 'private', 'key']);
  if (certBody === undefined || keyBody === undefined || pki.has(['certificate', certName, 'private', 'password-protected'])) return undefined;
  const cert = parseCertBody(certBody);
  const key = parseKeyBody(keyBody);
  if (!cert.ok || !key.ok) return undefined;
  const chain = issuerChain(cert.value, pkiCaCertificates(pki));
  const caBody = caName === undefined ? undefined : pki.value(['ca', caName, 'certificate']);
  const ca = caBody === undefined ? undefined : parseCertBody(caBody);
  if (caName !== undefined && (ca === undefined || !ca.ok)) return undefined;
  return {
    certificateName: certName,
    certPem: cert.value.toString(),
    keyPem: key.value.pem,
    chainPem: chain.map((c) => c.toString()),
    ...(caName !== undefined && ca?.ok ? { caCertificateName: caName, caPem: ca.value.toString() } : {}),
  };
}
