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
  | 'link'
  | 'copy';

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
  /** Undefined when unknown: a transfer recovered after the node died does not know its bytes. */
  readonly bytes: number | undefined;
  readonly durationMs: number | undefined;
  /** `ok`, `incomplete` (ended before all its data arrived or was sent) or the session error kind. */
  readonly status: string;
}

/** What is known of a transfer when it starts: enough to log it if the node dies before its end. */
export type OpenTransfer = Omit<TransferRecord, 'target' | 'bytes' | 'durationMs' | 'status'>;

export interface TransferLog {
  write(record: TransferRecord): void;
  /**
   * Notes a streamed transfer that started; the returned function forgets it once its line was
   * written. A transfer still noted when the node dies is logged `incomplete` at the next start.
   * Logs without a journal (in-memory test logs) leave it out.
   */
  begin?(transfer: OpenTransfer): () => void;
}
