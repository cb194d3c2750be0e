// The TLS certificate of a site's FTPS/FTPES listeners when the site configures none: a
// self-signed one, made on first need and kept in this node's data directory,
//   <data>/tls/ftp-<site id>.key (0600) and <data>/tls/ftp-<site id>.crt,
// so clients that pin it (FileZilla's "trust this certificate") see the same one at every start.
// Replace both files (or configure a certificate for the site) to use a CA-signed one.
// node:crypto makes the key; node-forge builds and signs the X.509 (node:crypto cannot).
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import forge from 'node-forge';

export interface TlsMaterial {
  /** PEM (PKCS#8). */
  readonly key: string;
  readonly cert: string;
}

export function ftpCertificatePaths(dataDir: string, siteId: string): { key: string; cert: string } {
  const dir = path.join(dataDir, 'tls');
  return { key: path.join(dir, `ftp-${siteId}.key`), cert: path.join(dir, `ftp-${siteId}.crt`) };
}

/** A self-signed certificate for `commonName`, valid for 10 years (RSA 2048, SHA-256). */
export function selfSignedCertificate(commonName: string, altNames: readonly string[] = []): TlsMaterial {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const forgeKey = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e);
  const serial = randomBytes(16);
  serial[0] = (serial[0] as number) & 0x7f;
  cert.serialNumber = serial.toString('hex');
  cert.validity.notBefore = new Date(Date.now() - 3600_000);
  cert.validity.notAfter = new Date(Date.now() + 10 * 365 * 24 * 3600_000);
  const name = [{ name: 'commonName', value: commonName }];
  cert.setSubject(name);
  cert.setIssuer(name);
  const ips = altNames.filter((n) => /^[\d.]+$|:/.test(n));
  const dns = altNames.filter((n) => !ips.includes(n));
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: [...dns.map((value) => ({ type: 2, value })), ...ips.map((ip) => ({ type: 7, ip }))] },
  ]);
  cert.sign(forgeKey, forge.md.sha256.create());
  return { key: keyPem, cert: forge.pki.certificateToPem(cert) };
}

/** The site's FTP certificate from the data directory, made (once) when missing. */
export async function ensureFtpCertificate(dataDir: string, siteId: string): Promise<TlsMaterial & { readonly paths: { key: string; cert: string }; readonly created: boolean }> {
  const paths = ftpCertificatePaths(dataDir, siteId);
  if (existsSync(paths.key) && existsSync(paths.cert)) {
    return { key: await readFile(paths.key, 'utf8'), cert: await readFile(paths.cert, 'utf8'), paths, created: false };
  }
  await mkdir(path.dirname(paths.key), { recursive: true, mode: 0o700 });
  const made = selfSignedCertificate(os.hostname(), [os.hostname(), 'localhost', '127.0.0.1']);
  // Key first, each through a private temporary name: a crash leaves no half-written file.
  for (const [file, text, mode] of [[paths.key, made.key, 0o600], [paths.cert, made.cert, 0o644]] as const) {
    const temp = `${file}.${process.pid}.tmp`;
    await writeFile(temp, text, { mode });
    await chmod(temp, mode);
    await rename(temp, file);
  }
  return { ...made, paths, created: true };
}
