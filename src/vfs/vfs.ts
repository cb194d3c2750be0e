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
//
// Each driver maps its back end's own errors (errno, HTTP status, SDK codes) to these kinds in
// one table, as drivers/fs-errors.ts does for POSIX: `unavailable` when the back end cannot be
// reached now (a network mount gone, an endpoint down), `throttled` when it asks to slow down.
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
  /**
   * Equal for two names of one file and only for them (disk: device and inode, so hard links
   * and symlinks are seen through); absent where the storage cannot tell.
   */
  readonly identity?: string;
}

/**
 * What a storage can do. The Session refuses what a driver lacks (`unsupported`) or works around
 * it, instead of each protocol guessing: object stores (S3, Azure, GCS) answer differently from a
 * disk on almost every line here.
 */
export interface Capabilities {
  /**
   * Random writes: openWrite with `offset > 0` on an existing file (resume, SFTP writes at any
   * offset). Object stores without it take a file only as one whole stream from offset 0.
   */
  readonly writeAtOffset: boolean;
  /**
   * openWrite without `truncate` on an existing file changes the bytes written and keeps the
   * rest. Without it every write replaces the whole object (an object store's PUT).
   */
  readonly overwriteInPlace: boolean;
  /** openWrite with `append` (FTP APPE, resume by size) without reading or resending the file. */
  readonly append: boolean;
  /** openRead with `offset > 0` without reading the skipped bytes. */
  readonly readAtOffset: boolean;
  readonly symlinks: boolean;
  readonly hardlinks: boolean;
  /** setStat with `mode`. */
  readonly chmod: boolean;
  /** setStat with `mtimeMs`/`atimeMs`. */
  readonly setTimes: boolean;
  /**
   * `atomic`: rename is one step that either happened or did not (disk). `copy`: the storage copies
   * and then deletes (object stores): it takes time in proportion to the size, a directory moves
   * object by object, and a failure half-way can leave both names.
   */
  readonly rename: 'atomic' | 'copy';
  /** rename replaces an existing target atomically (only with `rename: 'atomic'`). */
  readonly atomicRenameOverwrite: boolean;
  /**
   * Directories exist only through the entries below them (object-store prefixes): a write
   * creates its parents, and a directory emptied of its last entry may vanish. Without it
   * directories are entries of their own (disk) and a write into a missing one is `not-found`.
   */
  readonly implicitDirectories: boolean;
  /**
   * An upload stream destroyed before 'finish' keeps what it stored so far under its name, so a
   * client can resume it (a disk writes in place). Without it an aborted upload leaves no partial
   * object, and an object it was replacing stays as it was (a multipart upload is aborted).
   */
  readonly resumableUploads: boolean;
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
  /**
   * Every write lands at the end of the file as it is then (FTP APPE); creates the file unless
   * `mustExist`. Requires `append`; cannot be combined with `offset` or `truncate`.
   */
  readonly append?: boolean;
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
   * `fsync` support is via `sync(path)`. `destroy()` before 'finish', with or without an error,
   * aborts the upload: the driver releases what it holds, and unless it declares
   * `resumableUploads` it leaves no partial object and the previous content, if any, in place.
   * After 'finish', destroy changes nothing.
   */
  openWrite(path: string, options?: OpenWriteOptions): Promise<Writable>;
  mkdir(path: string): Promise<void>;
  /** Creates the directory and its missing parents; no error if it exists. */
  mkdirp(path: string): Promise<void>;
  rmdir(path: string): Promise<void>;
  /** Removes a file or a link (never a directory: `rmdir`). */
  remove(path: string): Promise<void>;
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

/** How a session's driver is attached to a back end. */
export interface AttachOptions {
  /**
   * Why this node must not serve `root` (an absolute physical path), or undefined: disk roots are
   * judged against the node's data directory (config/disk-target.ts) as named and as resolved.
   */
  readonly refuseRoot?: (root: string) => string | undefined;
  /** Receives what the driver hides from the client (names a listing leaves out). */
  readonly log?: DriverLog | undefined;
  /** Called once by the driver's close(): the pool counts the sessions on a back end. */
  readonly onClose?: () => void;
}

/**
 * One back end per VFS profile (a cloud client and its connections, an SFTP connection, a mount),
 * made by the factory in drivers/index.ts and shared through vfs/pool.ts by every session of the
 * profile: a login attaches a driver rooted where the session's target points, without a client
 * or connection of its own.
 */
export interface VfsBackend {
  /**
   * A driver confined to `root` (the profile's target, expanded for the session). Checks the root
   * each time (a refused root fails here, `permission-denied`), and creates it only when it does
   * not exist yet (a parametric home at the first login), never on every login.
   */
  attach(root: string, options: AttachOptions): Promise<VfsDriver>;
  /** Ends the back end's connections; called once no session uses it. */
  close(): Promise<void>;
}
