/**
 * Certificates as a VyOS router keeps them in its configuration: `pki ca NAME certificate` and
 * `pki certificate NAME certificate` / `private key` hold the base64 body of the DER (PEM without
 * its armour and line breaks). Made fresh for each test run (VyOS's own smoketest certificate
 * expired in July 2026): a root CA, an intermediate it signed, a server leaf (CN/SAN localhost,
 * 127.0.0.1) the intermediate signed, its PKCS#8 key, an unrelated key, an expired leaf, and a
 * self-signed certificate like the smoketests' (one body used as both `pki ca` and
 * `pki certificate`). ECDSA P-256, quick.
 */
import 'reflect-metadata';
import { randomBytes, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

const crypto = webcrypto as unknown as Crypto;
const ECDSA: EcKeyGenParams & EcdsaParams = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const DAY = 86_400_000;

export interface VyosPki {
  readonly rootB64: string;
  readonly intermediateB64: string;
  /** Signed by the intermediate; CN/SAN localhost and 127.0.0.1. */
  readonly leafB64: string;
  /** PKCS#8, as VyOS stores keys. */
  readonly leafKeyB64: string;
  readonly otherKeyB64: string;
  /** The leaf's key, expired on 2020-01-02T00:00:00Z. */
  readonly expiredLeafB64: string;
  /** Self-signed CA certificate with serverAuth, and its key (the smoketests' shape). */
  readonly selfSignedB64: string;
  readonly selfSignedKeyB64: string;
  /** PEM forms, for the tests' own TLS clients. */
  readonly rootPem: string;
  readonly selfSignedPem: string;
}

const b64 = (der: ArrayBuffer): string => Buffer.from(der).toString('base64');

function serial(): string {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f;
  return b.toString('hex');
}

const caExtensions = (): x509.Extension[] => [
  new x509.BasicConstraintsExtension(true, undefined, true),
  new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
];
const serverExtensions = (): x509.Extension[] => [
  new x509.BasicConstraintsExtension(false, undefined, true),
  new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
  new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
  new x509.SubjectAlternativeNameExtension([
    { type: 'dns', value: 'localhost' },
    { type: 'ip', value: '127.0.0.1' },
  ]),
];

export async function makeVyosPki(): Promise<VyosPki> {
  const [rootKeys, intKeys, leafKeys, otherKeys, selfKeys] = await Promise.all(
    [0, 1, 2, 3, 4].map(() => crypto.subtle.generateKey(ECDSA, true, ['sign', 'verify'])),
  );
  const now = Date.now();
  const notBefore = new Date(now - DAY);
  const notAfter = new Date(now + 3650 * DAY);
  const root = await x509.X509CertificateGenerator.createSelfSigned(
    { serialNumber: serial(), name: 'CN=sstpd test root CA', notBefore, notAfter, signingAlgorithm: ECDSA, keys: rootKeys!, extensions: caExtensions() },
    crypto,
  );
  const intermediate = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serial(),
      subject: 'CN=sstpd test intermediate CA',
      issuer: root.subject,
      notBefore,
      notAfter,
      signingAlgorithm: ECDSA,
      publicKey: intKeys!.publicKey,
      signingKey: rootKeys!.privateKey,
      extensions: caExtensions(),
    },
    crypto,
  );
  const leaf = (from: Date, to: Date): Promise<x509.X509Certificate> =>
    x509.X509CertificateGenerator.create(
      {
        serialNumber: serial(),
        subject: 'CN=localhost',
        issuer: intermediate.subject,
        notBefore: from,
        notAfter: to,
        signingAlgorithm: ECDSA,
        publicKey: leafKeys!.publicKey,
        signingKey: intKeys!.privateKey,
        extensions: serverExtensions(),
      },
      crypto,
    );
  const selfSigned = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serial(),
      name: 'CN=VyOS Test',
      notBefore,
      notAfter,
      signingAlgorithm: ECDSA,
      keys: selfKeys!,
      extensions: [...caExtensions(), new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth, x509.ExtendedKeyUsage.serverAuth])],
    },
    crypto,
  );
  const pkcs8 = async (k: CryptoKey): Promise<string> => b64(await crypto.subtle.exportKey('pkcs8', k));
  return {
    rootB64: b64(root.rawData),
    intermediateB64: b64(intermediate.rawData),
    leafB64: b64((await leaf(notBefore, new Date(now + 365 * DAY))).rawData),
    leafKeyB64: await pkcs8(leafKeys!.privateKey),
    otherKeyB64: await pkcs8(otherKeys!.privateKey),
    expiredLeafB64: b64((await leaf(new Date('2019-01-01T00:00:00Z'), new Date('2020-01-02T00:00:00Z'))).rawData),
    selfSignedB64: b64(selfSigned.rawData),
    selfSignedKeyB64: await pkcs8(selfKeys!.privateKey),
    rootPem: root.toString('pem'),
    selfSignedPem: selfSigned.toString('pem'),
  };
}

/** `set pki …` lines: a CA chain (root + intermediate) and the leaf with its key, under the given names. */
export function pkiChainCommands(p: VyosPki, names = { root: 'root-ca', intermediate: 'int-ca', cert: 'sstp' }): string[] {
  return [
    `set pki ca ${names.intermediate} certificate '${p.intermediateB64}'`,
    `set pki ca ${names.root} certificate '${p.rootB64}'`,
    `set pki certificate ${names.cert} certificate '${p.leafB64}'`,
    `set pki certificate ${names.cert} private key '${p.leafKeyB64}'`,
  ];
}

/** The smoketests' PKI: one self-signed body as `pki ca sstp` and `pki certificate sstp`. */
export function pkiSmoketestCommands(p: VyosPki): string[] {
  return [
    `set pki ca sstp certificate '${p.selfSignedB64}'`,
    `set pki certificate sstp certificate '${p.selfSignedB64}'`,
    `set pki certificate sstp private key '${p.selfSignedKeyB64}'`,
  ];
}
