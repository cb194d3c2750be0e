// The VFS driver interface: every storage backend (disk, encrypted disk, SFTP, S3, Azure, GCS)
// implements it, and test/contract/vfs-driver.contract.ts runs the same suite against each.
//
// Paths given to a driver are already normalized and confined by vfs/path.ts: POSIX, absolute
// within the driver's root ("/" is the root), no "." or ".." segments, no NUL or backslash.
// A driver still refuses to follow anything (symlink, junction) that leaves its root: confinement
// is enforced twice, once on the name and once on the storage.
//
// I/O is streams only: no method returns a whole file. Errors are FerryError (session/errors.ts
// kinds) with the physical detail in `detail`.
import type { Readable, Writable } from 'node:stream';

export type EntryType = 'file' | 'dir' | 'symlink' | 'other';

export interface EntryInfo {
  /** Base name (no slash); "/" for the root itself. */
  readonly name: string;
  readonly type: EntryType;
  readonly size: number;
  readonly mtimeMs: number;
  readonly atimeMs: number;
  /** POSIX permission bits (0o777 part); drivers without modes report 0o644 / 0o755. */
  readonly mode: number;
}

export interface Capabilities {
  /** openWrite with `offset > 0` on an existing file (resume, random-access writes). */
  readonly writeAtOffset: boolean;
  /** openRead with `offset > 0` without reading the skipped bytes. */
  readonly readAtOffset: boolean;
  readonly symlinks: boolean;
  readonly hardlinks: boolean;
  /** setStat with `mode`. */
  readonly chmod: boolean;
  /** setStat with `mtimeMs`/`atimeMs`. */
  readonly setTimes: boolean;
  /** rename replaces an existing target atomically. */
  readonly atomicRenameOverwrite: boolean;
  readonly statvfs: boolean;
}

export interface OpenWriteOptions {
  /** Byte position the stream starts writing at; requires `writeAtOffset` unless 0. */
  readonly offset?: number;
  /** Truncate an existing file first (ignored with `offset > 0`). */
  readonly truncate?: boolean;
  /** Fail with `exists` if the file exists. */
  readonly exclusive?: boolean;
  /** Fail with `not-found` if the file does not exist (resume/modify only). */
  readonly mustExist?: boolean;
}

export interface OpenReadOptions {
  readonly offset?: number;
  /** Bytes to read at most; undefined: to the end. */
  readonly length?: number;
}

export interface SetStatChanges {
  readonly mode?: number;
  readonly mtimeMs?: number;
  readonly atimeMs?: number;
  /** Truncate or extend. */
  readonly size?: number;
}

export interface SpaceInfo {
  readonly blockSize: number;
  readonly totalBlocks: number;
  readonly freeBlocks: number;
  readonly availableBlocks: number;
  readonly totalFiles: number;
  readonly freeFiles: number;
  readonly maxNameLength: number;
}

/** A file opened for positioned reads (pread): random access without a stream or a copy. */
export interface PositionalReader {
  /** Reads into `target` from file offset `position`; fewer bytes only at end of file, 0 past it. */
  read(target: Uint8Array, position: number): Promise<number>;
  close(): Promise<void>;
}

/**
 * Where a driver reports what it cannot tell the client (a pino Logger fits; the Session gives
 * one that names the connection and the user).
 */
export interface DriverLog {
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface VfsDriver {
  readonly kind: string;
  readonly capabilities: Capabilities;
  /** lstat semantics: a symlink is reported as a symlink. */
  stat(path: string): Promise<EntryInfo>;
  /**
   * The path with every symlink resolved (canonical, within the root). The last component need
   * not exist (then it is kept as is, after its parent is resolved); a link that leaves the root
   * fails with `permission-denied`. Drivers without symlinks return the path unchanged. The
   * Session evaluates permission overrides on this path, so a link cannot borrow the
   * permissions of the place it sits in.
   */
  realpath(path: string): Promise<string>;
  /**
   * Entries a client could not address (a name that is not valid UTF-8, or that the rules of
   * vfs/path.ts refuse) are left out, and the driver logs what it left out and why.
   */
  list(path: string): AsyncIterable<EntryInfo>;
  openRead(path: string, options?: OpenReadOptions): Promise<Readable>;
  /**
   * Optional, for storages where a positioned read is cheap (disk): the same checks as openRead.
   * SFTP reads then land straight in the reply buffer instead of going through a stream.
   */
  openPositional?(path: string): Promise<PositionalReader>;
  /**
   * The returned stream's 'finish' (or `await finished(stream)`) means the bytes are stored;
   * `fsync` support is via `sync(path)`.
   */
  openWrite(path: string, options?: OpenWriteOptions): Promise<Writable>;
  mkdir(path: string): Promise<void>;
  /** Creates the directory and its missing parents; no error if it exists. */
  mkdirp(path: string): Promise<void>;
  rmdir(path: string): Promise<void>;
  unlink(path: string): Promise<void>;
  rename(from: string, to: string, options?: { overwrite?: boolean }): Promise<void>;
  setStat(path: string, changes: SetStatChanges): Promise<void>;
  /** Returns the link text as stored (a virtual path). Needs `symlinks`. */
  readlink(path: string): Promise<string>;
  /** `target` is a virtual path within the same VFS. Needs `symlinks`. */
  symlink(target: string, path: string): Promise<void>;
  link(existing: string, path: string): Promise<void>;
  sync(path: string): Promise<void>;
  statvfs(path: string): Promise<SpaceInfo>;
  close(): Promise<void>;
}
