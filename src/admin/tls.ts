// The admin listener's certificate. On first start Ferry makes a self-signed ECDSA P-256
// certificate naming this node's host name and addresses, so the API is HTTPS from the first
// minute; an administrator replaces it by writing a PEM certificate and key over the two files
// (`ferry repairhttp` makes a fresh self-signed one when they are broken).
import { webcrypto, X509Certificate as NodeX509, createPrivateKey } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
// @peculiar/x509's dependency injection needs the Reflect metadata API loaded first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

export interface AdminTlsFiles {
  readonly cert: string;
  readonly key: string;
}

export interface AdminTls {
  readonly cert: string;
  readonly key: string;
  /** When the certificate stops being valid (ms). */
  readonly validTo: number;
  readonly selfSigned: boolean;
}

export function adminTlsFiles(dataDir: string): AdminTlsFiles {
  const dir = path.join(dataDir, 'admin-tls');
  return { cert: path.join(dir, 'cert.pem'), key: path.join(dir, 'key.pem') };
}

/** Self-signed certificates live two years: long enough not to nag, short enough to be rotated. */
const SELF_SIGNED_DAYS = 730;

/** Names a client may use to reach this node: its host name, localhost and every address. */
function localNames(extra: readonly string[]): { dns: string[]; ips: string[] } {
  const dns = new Set(['localhost', os.hostname()]);
  const ips = new Set(['127.0.0.1', '::1']);
  for (const addresses of Object.values(os.networkInterfaces())) {
    for (const address of addresses ?? []) ips.add(address.address.split('%')[0] as string);
  }
  for (const name of extra) {
    if (name === '0.0.0.0' || name === '::' || name === '') continue;
    if (/^[0-9.]+$/.test(name) || name.includes(':')) ips.add(name);
    else dns.add(name);
  }
  return { dns: [...dns], ips: [...ips] };
}

export async function generateSelfSigned(names: readonly string[] = []): Promise<{ cert: string; key: string }> {
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const { dns, ips } = localNames(names);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString('hex').replace(/^[89a-f]/, '1'),
      name: `CN=${os.hostname() || 'ferry'} (Ferry admin, self-signed)`,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + SELF_SIGNED_DAYS * 86_400_000),
      keys,
      signingAlgorithm: algorithm,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension([...dns.map((value) => ({ type: 'dns' as const, value })), ...ips.map((value) => ({ type: 'ip' as const, value }))]),
      ],
    },
    webcrypto as unknown as Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[1],
  );
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const key = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END PRIVATE KEY-----\n`;
  return { cert: cert.toString('pem') + '\n', key };
}

/** Writes a certificate and key atomically (the key private to the service user). */
export async function writeAdminTls(files: AdminTlsFiles, pem: { cert: string; key: string }): Promise<void> {
  await mkdir(path.dirname(files.key), { recursive: true, mode: 0o700 });
  await writeFile(`${files.key}.tmp`, pem.key, { mode: 0o600 });
  await writeFile(`${files.cert}.tmp`, pem.cert, { mode: 0o644 });
  await rename(`${files.key}.tmp`, files.key);
  await rename(`${files.cert}.tmp`, files.cert);
}

/** Why a certificate and key cannot serve, or undefined when they can. */
export function tlsProblem(cert: string, key: string, now = Date.now()): string | undefined {
  let parsed: NodeX509;
  try {
    parsed = new NodeX509(cert);
  } catch (error) {
    return `the certificate is not a readable PEM certificate (${(error as Error).message})`;
  }
  try {
    if (!parsed.checkPrivateKey(createPrivateKey(key))) return 'the private key does not belong to the certificate';
  } catch (error) {
    return `the private key is not a readable PEM key (${(error as Error).message})`;
  }
  if (Date.parse(parsed.validTo) <= now) return `the certificate expired on ${parsed.validTo}`;
  return undefined;
}

/**
 * The certificate and key to serve: the files in the data directory, made (self-signed) when
 * they do not exist. A broken or expired pair is an error naming the fix, never silently replaced:
 * it may be the administrator's own certificate.
 */
export async function loadAdminTls(dataDir: string, names: readonly string[]): Promise<AdminTls & { created: boolean }> {
  const files = adminTlsFiles(dataDir);
  let created = false;
  let cert: string;
  let key: string;
  try {
    [cert, key] = await Promise.all([readFile(files.cert, 'utf8'), readFile(files.key, 'utf8')]);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    ({ cert, key } = await generateSelfSigned(names));
    await writeAdminTls(files, { cert, key });
    created = true;
  }
  const problem = tlsProblem(cert, key);
  if (problem !== undefined) {
    throw new Error(`admin HTTPS certificate ${files.cert}: ${problem}; replace the certificate and key, or run \`ferry repairhttp\` for a new self-signed one`);
  }
  const parsed = new NodeX509(cert);
  return { cert, key, validTo: Date.parse(parsed.validTo), selfSigned: parsed.issuer === parsed.subject, created };
}
