// SSH host keys: generated on a site's first start, Ed25519 first (RFC 8709), then ECDSA P-256
// (RFC 5656) and RSA 3072 (served only with rsa-sha2-256/512 signatures, RFC 8332) for older
// clients. Private keys come out as OpenSSH-format PEM; the caller seals them with
// config/secrets before they enter the config log.
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import ssh2 from 'ssh2';

export type HostKeyType = 'ssh-ed25519' | 'ecdsa-sha2-nistp256' | 'rsa';

export interface GeneratedHostKey {
  /** `ssh-ed25519`, `ecdsa-sha2-nistp256` or `rsa` (as SshHostKey.algorithm). */
  readonly algorithm: HostKeyType;
  /** OpenSSH public key line, `type base64 comment`. */
  readonly publicKey: string;
  /** OpenSSH private key PEM, unencrypted: seal it before storing. */
  readonly privateKeyPem: string;
  /** `SHA256:...` as `ssh-keygen -lf` prints it. */
  readonly fingerprint: string;
}

export const HOST_KEY_TYPES: readonly HostKeyType[] = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'rsa'];

const RSA_HOST_KEY_BITS = 3072;

type KeyPair = { public: string; private: string };
const generate = promisify(ssh2.utils.generateKeyPair) as (type: string, opts: object) => Promise<KeyPair>;

async function generateOne(type: HostKeyType, comment: string): Promise<GeneratedHostKey> {
  const pair =
    type === 'ssh-ed25519'
      ? await generate('ed25519', { comment })
      : type === 'ecdsa-sha2-nistp256'
        ? await generate('ecdsa', { bits: 256, comment })
        : await generate('rsa', { bits: RSA_HOST_KEY_BITS, comment });
  const publicKey = pair.public.trim();
  return { algorithm: type, publicKey, privateKeyPem: pair.private, fingerprint: fingerprintOf(publicKey) };
}

/** Generates the host keys a new site needs, in preference order. RSA takes about a second. */
export async function generateHostKeys(options: { comment?: string; types?: readonly HostKeyType[] } = {}): Promise<GeneratedHostKey[]> {
  const comment = options.comment ?? 'ferry host key';
  const keys: GeneratedHostKey[] = [];
  for (const type of options.types ?? HOST_KEY_TYPES) keys.push(await generateOne(type, comment));
  return keys;
}

/** SHA-256 fingerprint of an OpenSSH public key line or raw key blob (RFC 4716 wire format). */
export function fingerprintOf(publicKey: string | Buffer): string {
  const blob = typeof publicKey === 'string' ? Buffer.from(publicKey.trim().split(/\s+/)[1] ?? '', 'base64') : publicKey;
  if (blob.length === 0) throw new Error('not an OpenSSH public key line: expected "type base64 [comment]"');
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

export interface ParsedHostKey {
  /** ssh2 key type: `ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa` ... */
  readonly type: string;
  readonly fingerprint: string;
}

/** Parses a private host key PEM; throws with a readable message when it is not one. */
export function inspectHostKey(privateKeyPem: string): ParsedHostKey {
  const parsed = ssh2.utils.parseKey(privateKeyPem);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error) {
    throw new Error(`host key cannot be parsed: ${key instanceof Error ? key.message : 'empty key'}; regenerate it or supply an OpenSSH private key`);
  }
  if (key.getPrivatePEM() === null) throw new Error('host key is a public key; a private key is needed');
  return { type: key.type, fingerprint: fingerprintOf(key.getPublicSSH()) };
}
