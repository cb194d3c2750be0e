// Wire constants of SFTP version 3 (draft-ietf-secsh-filexfer-02) and the limits Ferry enforces.
// Names follow OpenSSH's sftp.h so the code reads side by side with sftp-server.c.

export const SFTP_VERSION = 3;

export const FXP = {
  INIT: 1,
  VERSION: 2,
  OPEN: 3,
  CLOSE: 4,
  READ: 5,
  WRITE: 6,
  LSTAT: 7,
  FSTAT: 8,
  SETSTAT: 9,
  FSETSTAT: 10,
  OPENDIR: 11,
  READDIR: 12,
  REMOVE: 13,
  MKDIR: 14,
  RMDIR: 15,
  REALPATH: 16,
  STAT: 17,
  RENAME: 18,
  READLINK: 19,
  SYMLINK: 20,
  STATUS: 101,
  HANDLE: 102,
  DATA: 103,
  NAME: 104,
  ATTRS: 105,
  EXTENDED: 200,
  EXTENDED_REPLY: 201,
} as const;

/** SSH_FX_* status codes; v3 has no more (no QUOTA_EXCEEDED, no FILE_ALREADY_EXISTS). */
export const FX = {
  OK: 0,
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  BAD_MESSAGE: 5,
  NO_CONNECTION: 6,
  CONNECTION_LOST: 7,
  OP_UNSUPPORTED: 8,
} as const;
export type StatusCode = (typeof FX)[keyof typeof FX];

export const ATTR = {
  SIZE: 0x1,
  UIDGID: 0x2,
  PERMISSIONS: 0x4,
  ACMODTIME: 0x8,
  EXTENDED: 0x80000000,
} as const;

/** SSH_FXF_* open flags (pflags). */
export const FXF = {
  READ: 0x1,
  WRITE: 0x2,
  APPEND: 0x4,
  CREAT: 0x8,
  TRUNC: 0x10,
  EXCL: 0x20,
} as const;

/** POSIX file type bits carried in the v3 permissions field; clients test them (S_ISDIR). */
export const S_IF = {
  FMT: 0o170000,
  REG: 0o100000,
  DIR: 0o040000,
  LNK: 0o120000,
} as const;

export interface SftpLimits {
  /** Longest packet accepted, length field excluded. Checked before any byte is buffered. */
  readonly maxPacketLength: number;
  /** Longest READ reply; larger READ requests are served short, as OpenSSH does. */
  readonly maxReadLength: number;
  readonly maxWriteLength: number;
  /** Open file and directory handles per channel; the next OPEN fails cleanly. */
  readonly maxOpenHandles: number;
  /** Requests being processed at once; beyond it the channel is not read (flow control). */
  readonly maxInFlightRequests: number;
  /** Bytes of request packets being processed at once (WRITE payloads dominate). */
  readonly maxInFlightBytes: number;
  /** Entries per READDIR reply (OpenSSH sends 100). */
  readonly readdirBatch: number;
}

// 256 KiB is OpenSSH's SFTP_MAX_MSG_LENGTH; its client sizes reads and writes from limits@openssh.com
// (max - 1024) and keeps 64 requests in flight, so 64 x 255 KiB must fit the in-flight budget.
export const DEFAULT_LIMITS: SftpLimits = Object.freeze({
  maxPacketLength: 256 * 1024,
  maxReadLength: 256 * 1024 - 1024,
  maxWriteLength: 256 * 1024 - 1024,
  maxOpenHandles: 256,
  maxInFlightRequests: 128,
  maxInFlightBytes: 32 * 1024 * 1024,
  readdirBatch: 100,
});

/** Longest path or name string accepted (Linux PATH_MAX). */
export const MAX_PATH_BYTES = 4096;
/** Handles are opaque strings of at most 256 bytes (filexfer-02 section 3). */
export const MAX_HANDLE_BYTES = 256;
