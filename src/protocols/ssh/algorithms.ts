// The SSH algorithm policy of a site: secure defaults, validation of a configured policy, and
// the translation into ssh2's `algorithms` option. Names are those of RFC 4253 / OpenSSH `ssh -Q`.
//
// Refused outright: SHA-1 key exchange (group1, group14-sha1, group-exchange-sha1), CBC and
// arcfour ciphers, SHA-1/MD5/RIPEMD MACs and truncated MACs, pre-auth `zlib`, `ssh-dss`.
// `ssh-rsa` (SHA-1 signatures, RFC 8332 section 3) is off by default and may be switched on per
// site only by naming it explicitly; validation then returns a warning for the operator.
// Strict KEX (the Terrapin countermeasure, OpenSSH PROTOCOL `kex-strict-s-v00@openssh.com`) is
// always advertised by ssh2's server and cannot be configured away.
import { DEFAULT_SSH_ALGORITHMS } from '../../config/initial.ts';
import type { SshAlgorithmPolicy } from '../../config/model/site.ts';

export type AlgorithmCategory = keyof SshAlgorithmPolicy;

export const ALGORITHM_CATEGORIES: readonly AlgorithmCategory[] = ['kex', 'serverHostKey', 'cipher', 'hmac', 'compress'];

/** Everything a site may configure, strongest first. */
export const ALLOWED_SSH_ALGORITHMS: { readonly [K in AlgorithmCategory]: readonly string[] } = {
  kex: [
    'curve25519-sha256', // RFC 8731
    'curve25519-sha256@libssh.org',
    'ecdh-sha2-nistp256', // RFC 5656
    'ecdh-sha2-nistp384',
    'ecdh-sha2-nistp521',
    'diffie-hellman-group-exchange-sha256', // RFC 4419 + RFC 8270 (2048-bit minimum)
    'diffie-hellman-group16-sha512', // RFC 8268
    'diffie-hellman-group18-sha512',
    'diffie-hellman-group14-sha256',
    'diffie-hellman-group15-sha512',
    'diffie-hellman-group17-sha512',
  ],
  serverHostKey: [
    'ssh-ed25519', // RFC 8709
    'ecdsa-sha2-nistp256', // RFC 5656
    'ecdsa-sha2-nistp384',
    'ecdsa-sha2-nistp521',
    'rsa-sha2-512', // RFC 8332
    'rsa-sha2-256',
    'ssh-rsa', // SHA-1: explicit opt-in only, see LEGACY_SSH_ALGORITHMS
  ],
  cipher: [
    'chacha20-poly1305@openssh.com',
    'aes256-gcm@openssh.com', // RFC 5647 as OpenSSH names it
    'aes128-gcm@openssh.com',
    'aes256-ctr', // RFC 4344
    'aes192-ctr',
    'aes128-ctr',
  ],
  hmac: ['hmac-sha2-256-etm@openssh.com', 'hmac-sha2-512-etm@openssh.com', 'hmac-sha2-256', 'hmac-sha2-512'], // RFC 6668
  // `zlib@openssh.com` starts only after authentication; plain `zlib` exposes the decompressor
  // to unauthenticated peers.
  compress: ['none', 'zlib@openssh.com'],
};

/** Allowed, but only when named explicitly, and worth a warning. */
export const LEGACY_SSH_ALGORITHMS: ReadonlySet<string> = new Set(['ssh-rsa']);

/** The defaults live with the site model (config/initial.ts) because a new site stores them. */
export { DEFAULT_SSH_ALGORITHMS };

/** Names that are known but refused, with the reason an operator reads. */
const WEAK: Readonly<Record<string, string>> = {
  'diffie-hellman-group1-sha1': '1024-bit group and SHA-1',
  'diffie-hellman-group14-sha1': 'SHA-1 exchange hash',
  'diffie-hellman-group-exchange-sha1': 'SHA-1 exchange hash',
  'ssh-dss': 'DSA keys are limited to 1024 bits and SHA-1',
  'aes128-cbc': 'CBC mode (plaintext-recovery attacks)',
  'aes192-cbc': 'CBC mode (plaintext-recovery attacks)',
  'aes256-cbc': 'CBC mode (plaintext-recovery attacks)',
  '3des-cbc': 'CBC mode and a 64-bit block',
  'blowfish-cbc': 'CBC mode and a 64-bit block',
  'cast128-cbc': 'CBC mode and a 64-bit block',
  arcfour: 'RC4 is broken',
  arcfour128: 'RC4 is broken',
  arcfour256: 'RC4 is broken',
  'hmac-sha1': 'SHA-1 MAC',
  'hmac-sha1-etm@openssh.com': 'SHA-1 MAC',
  'hmac-sha1-96': 'SHA-1 MAC, truncated',
  'hmac-md5': 'MD5 MAC',
  'hmac-md5-96': 'MD5 MAC, truncated',
  'hmac-ripemd160': 'RIPEMD-160 MAC',
  'hmac-sha2-256-96': 'truncated MAC',
  'hmac-sha2-512-96': 'truncated MAC',
  zlib: 'compression before authentication exposes the decompressor to anyone',
};

export type PolicyValidation =
  | { readonly ok: true; readonly policy: SshAlgorithmPolicy; readonly warnings: readonly string[] }
  | { readonly ok: false; readonly errors: readonly string[] };

/** Checks a configured policy; every problem is reported, each naming the allowed names. */
export function validateSshAlgorithms(policy: SshAlgorithmPolicy): PolicyValidation {
  const errors: string[] = [];
  const warnings: string[] = [];
  for (const category of ALGORITHM_CATEGORIES) {
    const names = policy[category];
    const allowed = ALLOWED_SSH_ALGORITHMS[category];
    if (!Array.isArray(names) || names.length === 0) {
      errors.push(`${category}: the list is empty; allowed: ${allowed.join(', ')}`);
      continue;
    }
    const seen = new Set<string>();
    for (const name of names) {
      if (seen.has(name)) errors.push(`${category}: "${name}" is listed twice`);
      seen.add(name);
      if (typeof name === 'string' && name in WEAK) {
        errors.push(`${category}: "${name}" is refused (${WEAK[name]}); allowed: ${allowed.join(', ')}`);
      } else if (!allowed.includes(name)) {
        errors.push(`${category}: "${String(name)}" is not a supported algorithm; allowed: ${allowed.join(', ')}`);
      } else if (LEGACY_SSH_ALGORITHMS.has(name)) {
        warnings.push(`${category}: "${name}" enables SHA-1 RSA signatures; use Ed25519 or rsa-sha2-256/512 keys instead`);
      }
    }
  }
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, policy, warnings };
}

/** The host-key algorithms a private key of this type can serve. */
export function signatureAlgorithmsForKeyType(keyType: string): readonly string[] {
  switch (keyType) {
    case 'ssh-rsa':
    case 'rsa':
      return ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
    default:
      return [keyType];
  }
}

export interface Ssh2Algorithms {
  kex: string[];
  serverHostKey: string[];
  cipher: string[];
  hmac: string[];
  compress: string[];
}

/**
 * ssh2's `algorithms` option. `serverHostKey` keeps the policy's order; ssh2 builds
 * server-sig-algs (RFC 8308) from it (Ferry's patch), so it is also the list of signature
 * algorithms accepted for user public keys.
 */
export function toSsh2Algorithms(policy: SshAlgorithmPolicy): Ssh2Algorithms {
  return {
    kex: [...policy.kex],
    serverHostKey: [...policy.serverHostKey],
    cipher: [...policy.cipher],
    hmac: [...policy.hmac],
    compress: [...policy.compress],
  };
}

/** May a user key sign with this algorithm under the policy? (`ssh-rsa` means SHA-1.) */
export function acceptsUserSignature(policy: SshAlgorithmPolicy, signatureAlgorithm: string): boolean {
  return policy.serverHostKey.includes(signatureAlgorithm);
}
