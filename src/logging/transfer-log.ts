// The transfer log: one line per file operation, W3C Extended Log File Format
// (https://www.w3.org/TR/WD-logfile.html), timestamps always in UTC as the format requires.

export type TransferOperation =
  | 'login'
  | 'login-failed'
  | 'logout'
  | 'download'
  | 'upload'
  | 'delete'
  | 'rename'
  | 'mkdir'
  | 'rmdir'
  | 'setstat'
  | 'symlink'
  | 'link';

export interface TransferRecord {
  readonly time: Date;
  readonly siteId: string;
  readonly connectionId: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly username: string;
  /** The subsystem: `ssh2_sftp`, `ssh2_scp`, `ftp`, ... */
  readonly protocol: string;
  readonly operation: TransferOperation;
  /** Virtual path as the user sees it. */
  readonly path: string;
  /** Rename/link target, virtual. */
  readonly target?: string;
  readonly bytes: number;
  readonly durationMs: number;
  /** `ok` or the session error kind. */
  readonly status: string;
}

export interface TransferLog {
  write(record: TransferRecord): void;
}

/** Discards records; for unit tests that do not look at the log. */
export const nullTransferLog: TransferLog = { write() {} };
