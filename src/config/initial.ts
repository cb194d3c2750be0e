// The state before the first log entry, and the secure defaults a new site starts from.
import type { Site, SshAlgorithmPolicy, SshHostKey } from './model/site.ts';
import type { ConfigState } from './state.ts';

export function initialState(): ConfigState {
  return { appliedIndex: 0, settings: { serverName: 'Ferry' }, sites: {}, users: {}, vfs: {}, recentCommands: [], superAdmins: {}, admins: {}, revokedTokens: [], audit: [] };
}

/**
 * Secure SSH defaults, strongest first: no SHA-1 (`ssh-rsa` signatures, hmac-sha1), no CBC,
 * no DH groups below 2048 bits. Strict KEX (Terrapin, CVE-2023-48795) is negotiated by ssh2
 * itself. Names as in OpenSSH `ssh -Q`.
 */
export const DEFAULT_SSH_ALGORITHMS: SshAlgorithmPolicy = Object.freeze({
  kex: Object.freeze([
    'curve25519-sha256',
    'curve25519-sha256@libssh.org',
    'ecdh-sha2-nistp256',
    'ecdh-sha2-nistp384',
    'ecdh-sha2-nistp521',
    'diffie-hellman-group-exchange-sha256',
    'diffie-hellman-group16-sha512',
    'diffie-hellman-group18-sha512',
  ]),
  serverHostKey: Object.freeze(['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256']),
  cipher: Object.freeze([
    'chacha20-poly1305@openssh.com',
    'aes256-gcm@openssh.com',
    'aes128-gcm@openssh.com',
    'aes256-ctr',
    'aes192-ctr',
    'aes128-ctr',
  ]),
  hmac: Object.freeze(['hmac-sha2-256-etm@openssh.com', 'hmac-sha2-512-etm@openssh.com', 'hmac-sha2-256', 'hmac-sha2-512']),
  compress: Object.freeze(['none', 'zlib@openssh.com']),
});

export interface DefaultSiteInput {
  readonly id: string;
  readonly name?: string;
  readonly host: string;
  readonly port: number;
  /** Already sealed with config/secrets. */
  readonly hostKeys: readonly SshHostKey[];
}

/** A site with one SSH binding and the secure defaults (what `ferry start` creates first). */
export function defaultSite(input: DefaultSiteInput): Site {
  return {
    id: input.id,
    name: input.name ?? input.id,
    enabled: true,
    bindings: [{ protocol: 'ssh', host: input.host, port: input.port }],
    hostKeys: input.hostKeys,
    sshAlgorithms: structuredClone(DEFAULT_SSH_ALGORITHMS) as SshAlgorithmPolicy,
    greeting: 'Ferry',
    banner: '',
  };
}
