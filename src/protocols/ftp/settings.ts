// What one FTP listener of a site is told, resolved from the site's binding by the node: whether
// TLS starts at the first byte (implicit FTPS) or on AUTH TLS (FTP/FTPES), what the site demands
// of clients, and where passive data connections listen.

export interface FtpSecurity {
  /**
   * Plain FTP: a login without TLS. Off by default (DESIGN.md "Defaults that protect users"):
   * USER over a clear control connection is refused until the client sends AUTH TLS.
   */
  readonly allowPlainLogin: boolean;
  /** Data connections of a TLS control connection must be protected (PBSZ 0, PROT P). */
  readonly requireDataTls: boolean;
  /**
   * A TLS data connection must resume the control connection's TLS session: it proves the data
   * connection comes from the client that logged in (FileZilla, lftp, curl resume; Python's
   * ftplib does not unless told to). Refused with 522 otherwise.
   */
  readonly requireSessionReuse: boolean;
}

export interface FtpPassive {
  /** Inclusive port range for passive data listeners; 0-0 lets the OS pick any free port. */
  readonly portMin: number;
  readonly portMax: number;
  /** IPv4 address put in 227 replies instead of the control connection's (a server behind NAT). */
  readonly externalAddress?: string | undefined;
}

export interface FtpSettings {
  readonly security: FtpSecurity;
  readonly passive: FtpPassive;
}

export const DEFAULT_FTP_SECURITY: FtpSecurity = Object.freeze({ allowPlainLogin: false, requireDataTls: true, requireSessionReuse: true });
export const DEFAULT_FTP_PASSIVE: FtpPassive = Object.freeze({ portMin: 0, portMax: 0 });

/** `A-B` as the `--pasv-ports` flag and the config write it; undefined when malformed. */
export function parsePortRange(text: string): { portMin: number; portMax: number } | undefined {
  const m = /^(\d{1,5})-(\d{1,5})$/.exec(text.trim());
  if (!m) return undefined;
  const portMin = Number(m[1]);
  const portMax = Number(m[2]);
  if (portMin < 1024 || portMax > 65535 || portMin > portMax) return undefined;
  return { portMin, portMax };
}

/** Bounds of one FTP listener (per connection unless said otherwise). */
export interface FtpLimits {
  /** Failed logins per connection before it is closed (as SSH's MaxAuthTries). */
  readonly maxAuthTries: number;
  /** Concurrent connections to this listener. */
  readonly maxConnections: number;
  /** On close: how long in-flight transfers may run before their connections are cut. */
  readonly closeGraceMs: number;
  /** A logged-in control connection with no command and no transfer for this long is closed (vsftpd: 300 s). */
  readonly idleMs: number;
  /** From a transfer command to the data connection being there (accepted or connected). */
  readonly dataConnectMs: number;
  /** A passive listener nobody used is closed after this long. */
  readonly passiveIdleMs: number;
  /** A data connection that moves no byte for this long is cut (vsftpd data_connection_timeout). */
  readonly dataIdleMs: number;
  /** Commands received and not yet served; past this the control connection stops reading. */
  readonly maxQueuedCommands: number;
}

export const DEFAULT_FTP_LIMITS: FtpLimits = Object.freeze({
  maxAuthTries: 6,
  maxConnections: 1_000,
  closeGraceMs: 30_000,
  idleMs: 300_000,
  dataConnectMs: 30_000,
  passiveIdleMs: 60_000,
  dataIdleMs: 300_000,
  maxQueuedCommands: 64,
});
