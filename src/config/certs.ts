/**
 * Certificates for the quick start and for tests, made with @peculiar/x509 on Node's WebCrypto.
 * Does file I/O (like load.ts); files are written atomically (temp file + rename), keys 0600.
 */
// @peculiar/x509 resolves its algorithms through tsyringe, which needs a Reflect metadata polyfill
// loaded first (ESM evaluates imports in order).
import 'reflect-metadata';
import { randomBytes, webcrypto } from 'node:crypto';
import { access, mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';

const crypto = webcrypto as unknown as Crypto;

const RSA: RsaHashedKeyGenParams = {
  name: 'RSASSA-PKCS1-v1_5',
  hash: 'SHA-256',
  publicExponent: new Uint8Array([1, 0, 1]),
  modulusLength: 2048,
};
const ECDSA: EcKeyGenParams & EcdsaParams = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };

const DAY = 86_400_000;

async function fileExists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** Writes via a temp file in the same directory and renames it over the target. */
async function writeAtomic(path: string, data: string, mode: number): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await writeFile(tmp, data, { mode, flag: 'wx' });
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
  const pkcs8 = await crypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(pkcs8, 'PRIVATE KEY');
}

function randomSerial(): string {
  // Positive (top bit clear), 16 bytes, as RFC 5280 §4.1.2.2 allows at most 20.
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f;
  return b.toString('hex');
}

function serverExtensions(names: readonly string[], ips: readonly string[]): x509.Extension[] {
  return [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    new x509.SubjectAlternativeNameExtension([
      ...names.map((value) => ({ type: 'dns' as const, value })),
      ...ips.map((value) => ({ type: 'ip' as const, value })),
    ]),
  ];
}

export interface CertFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

/**
 * Creates `dir/server.crt` and `dir/server.key` unless both exist: RSA 2048, CN = host name,
 * SAN DNS:<host name>, DNS:localhost, IP:127.0.0.1, EKU serverAuth, valid 10 years.
 */
export async function ensureSelfSignedCert(dir: string): Promise<CertFiles> {
  const certFile = join(dir, 'server.crt');
  const keyFile = join(dir, 'server.key');
  if ((await fileExists(certFile)) && (await fileExists(keyFile))) return { certFile, keyFile };
  await mkdir(dir, { recursive: true });
  const host = hostname() || 'localhost';
  const keys = await crypto.subtle.generateKey(RSA, true, ['sign', 'verify']);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomSerial(),
      name: [{ CN: [host] }],
      notBefore: new Date(now - DAY),
      notAfter: new Date(now + 3650 * DAY),
      signingAlgorithm: RSA,
      keys,
      extensions: serverExtensions(host === 'localhost' ? ['localhost'] : [host, 'localhost'], ['127.0.0.1']),
    },
    crypto,
  );
  // Key first: a cert whose key is missing is useless, a key without its cert is simply redone.
  await writeAtomic(keyFile, await privateKeyPem(keys.privateKey), 0o600);
  await writeAtomic(certFile, cert.toString('pem') + '\n', 0o644);
  return { certFile, keyFile };
}

export interface TestCertificates {
  /** The CA certificate (PEM) that signed the server certificates. */
  readonly caCert: string;
  /** Leaf only, signed by the CA, CN/SAN localhost, valid now. */
  readonly serverCert: string;
  readonly serverKey: string;
  /** A private key unrelated to any certificate (for the key-mismatch test). */
  readonly otherKey: string;
  /** A leaf for `serverKey`, signed by the CA, that expired on 2020-01-02T00:00:00Z. */
  readonly expiredCert: string;
  /** Leaf followed by the CA certificate (a chain file). */
  readonly chainCert: string;
}

/** Writes ca.crt, server.crt, server.key, other.key, expired.crt, chain.crt into `dir` (ECDSA P-256, fast). */
export async function generateTestCertificates(dir: string): Promise<TestCertificates> {
  await mkdir(dir, { recursive: true });
  const [caKeys, serverKeys, otherKeys] = await Promise.all(
    [0, 1, 2].map(() => crypto.subtle.generateKey(ECDSA, true, ['sign', 'verify'])),
  );
  const now = Date.now();
  const caName = 'CN=sstpd test CA';
  const ca = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomSerial(),
      name: caName,
      notBefore: new Date(now - DAY),
      notAfter: new Date(now + 3650 * DAY),
      signingAlgorithm: ECDSA,
      keys: caKeys!,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      ],
    },
    crypto,
  );
  const leaf = (notBefore: Date, notAfter: Date): Promise<x509.X509Certificate> =>
    x509.X509CertificateGenerator.create(
      {
        serialNumber: randomSerial(),
        subject: 'CN=localhost',
        issuer: ca.subject,
        notBefore,
        notAfter,
        signingAlgorithm: ECDSA,
        publicKey: serverKeys!.publicKey,
        signingKey: caKeys!.privateKey,
        extensions: serverExtensions(['localhost'], ['127.0.0.1']),
      },
      crypto,
    );
  const server = await leaf(new Date(now - DAY), new Date(now + 365 * DAY));
  const expired = await leaf(new Date('2019-01-01T00:00:00Z'), new Date('2020-01-02T00:00:00Z'));
  const files: TestCertificates = {
    caCert: join(dir, 'ca.crt'),
    serverCert: join(dir, 'server.crt'),
    serverKey: join(dir, 'server.key'),
    otherKey: join(dir, 'other.key'),
    expiredCert: join(dir, 'expired.crt'),
    chainCert: join(dir, 'chain.crt'),
  };
  await writeAtomic(files.caCert, ca.toString('pem') + '\n', 0o644);
  await writeAtomic(files.serverCert, server.toString('pem') + '\n', 0o644);
  await writeAtomic(files.serverKey, await privateKeyPem(serverKeys!.privateKey), 0o600);
  await writeAtomic(files.otherKey, await privateKeyPem(otherKeys!.privateKey), 0o600);
  await writeAtomic(files.expiredCert, expired.toString('pem') + '\n', 0o644);
  await writeAtomic(files.chainCert, `${server.toString('pem')}\n${ca.toString('pem')}\n`, 0o644);
  return files;
}
