/**
 * A throwaway PKI for tests: a CA and a server certificate it signs, from the project's own
 * generateTestCertificates (ECDSA P-256, quick). sstpc checks only the chain when given --ca,
 * so the leaf's name (localhost) need not match 10.0.2.2.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateTestCertificates } from '../../src/config/certs.js';

export interface CertFiles {
  readonly dir: string;
  /** PEM of the CA certificate: the `ssl ca-cert-file`, and sstpc's `--ca`. */
  readonly caCert: string;
  /** PEM of the server certificate, signed by the CA. */
  readonly serverCert: string;
  readonly serverKey: string;
}

export interface CertFixture extends CertFiles {
  /** Removes the directory the fixture created. */
  cleanup(): Promise<void>;
}

/** Writes the certificates into dir (created if needed). */
export async function makeCertificates(dir: string): Promise<CertFiles> {
  const c = await generateTestCertificates(dir);
  return { dir, caCert: c.caCert, serverCert: c.serverCert, serverKey: c.serverKey };
}

/** A fresh temp dir with the certificates; call cleanup() in an after hook. */
export async function createCertFixture(): Promise<CertFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'sstpd-certs-'));
  try {
    const files = await makeCertificates(dir);
    return { ...files, cleanup: () => rm(dir, { recursive: true, force: true }) };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
