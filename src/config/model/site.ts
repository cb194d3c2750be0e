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

export interface SshBinding {
  readonly protocol: 'ssh';
  readonly host: string;
  /** 0 asks the OS for a free port (tests); the actual port is printed at start. */
  readonly port: number;
}

/** How an `ftp` binding treats TLS: AUTH TLS is always offered; `required` refuses USER before it. */
export const FTP_EXPLICIT_TLS = ['required', 'optional'] as const;
export type FtpExplicitTls = (typeof FTP_EXPLICIT_TLS)[number];

/**
 * The site's own certificate for its FTPS/FTPES listeners (PEM). Absent: the node uses a
 * self-signed one it makes in its data directory (<data>/tls/ftp-<site>.crt/.key).
 */
export interface FtpCertificate {
  readonly certificatePem: string;
  /** The private key (PEM), sealed with config/secrets under ftpCertificateContext(site). */
  readonly privateKeyEncrypted: string;
}

/**
 * An FTP listener of the site: `ftp` is FTP with explicit TLS (FTPES, AUTH TLS on the same
 * port), `ftps` is implicit TLS (TLS from the first byte, by convention port 990). Which users may
 * use which is their subsystems `ftp` (plain), `ftpes` and `ftps`. Every optional field has the
 * safe default: plain logins refused, protected data required, TLS session reuse required.
 */
export interface FtpBinding {
  readonly protocol: 'ftp' | 'ftps';
  readonly host: string;
  /** 0 asks the OS for a free port (tests); the actual port is printed at start. */
  readonly port: number;
  /** `ftp` only. Absent: `required` (DESIGN.md: plain FTP is off for new sites). */
  readonly explicitTls?: FtpExplicitTls;
  /** Data connections of a TLS session must be protected (PROT P). Absent: true. */
  readonly requireDataTls?: boolean;
  /** A TLS data connection must resume the control connection's TLS session (refused with 522). Absent: true. */
  readonly requireSessionReuse?: boolean;
  /** Passive data ports, inclusive, 1024-65535. Absent: any free port. */
  readonly passivePorts?: { readonly min: number; readonly max: number };
  /** IPv4 address announced in PASV replies instead of the listener's own (a server behind NAT). */
  readonly passiveAddress?: string;
  readonly certificate?: FtpCertificate;
}

export type ProtocolBinding = SshBinding | FtpBinding;

export function isFtpBinding(binding: ProtocolBinding): binding is FtpBinding {
  return binding.protocol === 'ftp' || binding.protocol === 'ftps';
}

/** The secrets context of a site's FTP certificate key (config/secrets). */
export function ftpCertificateContext(siteId: string): string {
  return `site/${siteId}/ftp-certificate`;
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

/**
 * Bounds on connections that have not logged in yet (protocol-neutral: session/admission.ts).
 * Every field is optional; DEFAULT_SITE_ADMISSION fills what a site leaves out.
 */
export interface SiteAdmission {
  /** Not-logged-in connections from one address (an IPv6 /64); more are refused at accept. */
  readonly maxStartupsPerSource?: number;
  /**
   * OpenSSH MaxStartups start:rate:full over all sources: from `start` not-logged-in
   * connections a new one is dropped with probability `rate`%, rising linearly to 100% at `full`.
   */
  readonly maxStartups?: { readonly start: number; readonly rate: number; readonly full: number };
  /** Time from accept to the client's first protocol line (SSH: its identification string). */
  readonly identificationGraceMs?: number;
  /** Time from accept to a successful login (OpenSSH LoginGraceTime). */
  readonly loginGraceMs?: number;
  /** Refusals are logged once per source per interval, with a count. */
  readonly refusalLogIntervalMs?: number;
}

export type ResolvedSiteAdmission = { readonly [K in keyof SiteAdmission]-?: NonNullable<SiteAdmission[K]> };

export const DEFAULT_SITE_ADMISSION: ResolvedSiteAdmission = Object.freeze({
  // Below maxStartups.start, so one source alone never triggers early drop for the others; a
  // client opening parallel connections (rclone, WinSCP) is past this in well under a second.
  maxStartupsPerSource: 8,
  // OpenSSH's default.
  maxStartups: Object.freeze({ start: 10, rate: 30, full: 100 }),
  // Real clients send their identification at once; 10 s covers a slow, lossy link.
  identificationGraceMs: 10_000,
  // Half of OpenSSH's 120 s: enough to type a password and a TOTP code.
  loginGraceMs: 60_000,
  // One line per flooding source per minute.
  refusalLogIntervalMs: 60_000,
});

/** The site's admission settings with defaults for what it leaves out. */
export function siteAdmission(site: Pick<Site, 'admission'>): ResolvedSiteAdmission {
  return { ...DEFAULT_SITE_ADMISSION, ...site.admission };
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
  /** Absent: DEFAULT_UPLOAD_MODE (configs written before the setting existed stay valid). */
  readonly uploadMode?: UploadMode;
  /** Absent: DEFAULT_SITE_ADMISSION. */
  readonly admission?: SiteAdmission;
}
