/** Algorithm policy of an SSH binding; names as in RFC 4253 / OpenSSH `ssh -Q`. */
export interface SshAlgorithmPolicy {
  readonly kex: readonly string[];
  readonly serverHostKey: readonly string[];
  readonly cipher: readonly string[];
  readonly hmac: readonly string[];
  readonly compress: readonly string[];
}

export interface SshHostKey {
  /** `ssh-ed25519`, `ecdsa-sha2-nistp256`, `rsa` ... */
  readonly algorithm: string;
  /** OpenSSH public key line, shown to administrators and used for fingerprints. */
  readonly publicKey: string;
  /** The private key (OpenSSH PEM), encrypted at rest with config/secrets (never clear in the log). */
  readonly privateKeyEncrypted: string;
}

export interface ProtocolBinding {
  readonly protocol: 'ssh';
  readonly host: string;
  /** 0 asks the OS for a free port (tests); the actual port is printed at start. */
  readonly port: number;
}

/**
 * How a whole-stream upload (SCP; FTP and HTTP later) reaches its final name, as SFTPGo's upload
 * modes: `atomic` writes under a hidden temporary name, renames it over the final name when the
 * upload completes and removes it when it does not, so a cut-off upload never looks complete and
 * an overwritten file stays intact until its replacement is whole; `resume` keeps a cut-off upload
 * as `<name>.partial` for a later resume; `direct` writes in place (the transfer log still says
 * `incomplete`). SFTP handles always write in place: SFTP is random access and clients resume an
 * upload by its final name (`reput`).
 */
export const UPLOAD_MODES = ['atomic', 'resume', 'direct'] as const;
export type UploadMode = (typeof UPLOAD_MODES)[number];
export const DEFAULT_UPLOAD_MODE: UploadMode = 'atomic';

export interface Site {
  readonly id: string;
  readonly name: string;
  readonly enabled: boolean;
  readonly bindings: readonly ProtocolBinding[];
  readonly hostKeys: readonly SshHostKey[];
  readonly sshAlgorithms: SshAlgorithmPolicy;
  /** SSH identification comment / FTP greeting; `{{variables}}` expanded per connection. */
  readonly greeting: string;
  /** SSH pre-auth banner; `{{variables}}` expanded per connection; empty: none. */
  readonly banner: string;
  /** Absent: DEFAULT_UPLOAD_MODE (configs written before the setting existed stay valid). */
  readonly uploadMode?: UploadMode;
}
