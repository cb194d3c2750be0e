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
}
