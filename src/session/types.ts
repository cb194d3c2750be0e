// The protocol-neutral Session API. Every protocol handler (SFTP, SCP, FTP, HTTP) translates its
// wire format into these calls and nothing else: permissions, overrides, virtual folders, path
// confinement, quotas and events are enforced behind this interface, once for all protocols.
//
// Paths are virtual, POSIX, as the client sent them (relative ones resolve against "/", the
// user's root). Every method throws FerryError (session/errors.ts) on failure.
import type { Readable, Writable } from 'node:stream';
import type { Subsystem } from '../config/model/permissions.ts';
import type { User } from '../config/model/user.ts';
import type { TransferInfo } from './transfer.ts';
import type { EntryInfo, OpenReadOptions, OpenWriteOptions, SetStatChanges, SpaceInfo } from '../vfs/vfs.ts';

export interface ConnectionInfo {
  /** Unique per connection; appears in every log line of the connection. */
  readonly connectionId: string;
  readonly siteId: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
}

/**
 * What a session is opened for: one subsystem for its whole connection (FTP, HTTP), or `ssh`,
 * a connection whose channels each choose theirs (Session.channel).
 */
export type SessionProtocol = Subsystem | 'ssh';

export interface SessionStat extends EntryInfo {
  /** The normalized virtual path that was resolved. */
  readonly path: string;
}

/** How an SFTP-style open wants the file. */
export interface OpenFlags {
  readonly read?: boolean;
  readonly write?: boolean;
  readonly create?: boolean;
  readonly truncate?: boolean;
  readonly exclusive?: boolean;
  readonly append?: boolean;
}

/**
 * A random-access handle (SFTP). Built over the driver's streams: sequential reads and writes
 * reuse one stream (writes are coalesced into large chunks); a jump reopens at the new offset.
 */
export interface OpenFile {
  readonly path: string;
  /** Up to `length` bytes at `offset`; an empty buffer means end of file. */
  read(offset: number, length: number): Promise<Buffer>;
  /**
   * Optional: fills `target` with the bytes at `offset` and returns how many; fewer than
   * `target.length` only at end of file. Lets a protocol read into its own reply buffer.
   */
  readInto?(offset: number, target: Buffer): Promise<number>;
  /** The caller may reuse `data` once the write has settled: keep a copy, not the buffer. */
  write(offset: number, data: Buffer): Promise<void>;
  stat(): Promise<SessionStat>;
  setStat(changes: SetStatChanges): Promise<void>;
  /** Flushes coalesced writes and asks the storage to persist them. */
  sync(): Promise<void>;
  /** Whether both handles reach one file, by the storage's identity of it, not by name. */
  sameFileAs(other: OpenFile): Promise<boolean>;
  /** Flushes, closes, logs the transfer. Safe to call twice. */
  close(): Promise<void>;
  /**
   * Closes a file the client never closed (its channel or connection ended first): what was
   * written is flushed and kept, and the transfer is logged `incomplete`. A no-op once closed.
   */
  abandon(): Promise<void>;
}

export interface WriteOptions extends OpenWriteOptions {
  /** Bytes the client announced (SCP's C record): an upload that ends short is incomplete. */
  readonly size?: number;
  /**
   * Continue the file where it ends (FTP APPE); a missing file is created. Needs fileModify on
   * an existing file, filePut on a new one; written in place, never staged.
   */
  readonly append?: boolean;
}

export type ChecksumAlgorithm = 'md5' | 'sha1' | 'sha256' | 'sha512' | 'crc32';

export interface Session {
  readonly id: string;
  readonly user: User;
  readonly connection: ConnectionInfo;
  /** Normalizes a client path to the canonical virtual absolute path (no I/O beyond checks). */
  realpath(path: string): Promise<string>;
  /** Follows symlinks unless `follow` is false (lstat). */
  stat(path: string, options?: { follow?: boolean }): Promise<SessionStat>;
  /** Directory entries, virtual folders mounted below `path` included. Needs dirList. */
  list(path: string): AsyncIterable<EntryInfo>;
  open(path: string, flags: OpenFlags): Promise<OpenFile>;
  /** Whole-stream download (SCP, FTP, HTTP). Needs fileGet. Logged as one transfer on end. */
  openRead(path: string, options?: OpenReadOptions): Promise<Readable>;
  /**
   * Whole-stream upload. Needs filePut (new file) or fileModify (existing). An upload of a whole
   * file goes through the site's upload mode (config/model/site.ts): with the default, `atomic`,
   * it reaches its name only on 'finish', and a stream destroyed first leaves nothing behind.
   * Logged as one transfer when it closes; destroyed without an error it is `incomplete`.
   */
  openWrite(path: string, options?: WriteOptions): Promise<Writable>;
  mkdir(path: string): Promise<void>;
  rmdir(path: string): Promise<void>;
  remove(path: string): Promise<void>;
  rename(from: string, to: string, options?: { overwrite?: boolean }): Promise<void>;
  /**
   * Server-side copy of a file (WebClient copy, SFTP cp): needs fileGet on `from` and filePut
   * (new) or fileModify (existing, with `overwrite`) on `to`, through the same decision, upload
   * mode and limits as an upload; the same file under another name (hard link, symlink) is
   * refused. Logged as one `copy` line with the bytes written.
   */
  copy(from: string, to: string, options?: { overwrite?: boolean }): Promise<void>;
  /** With `follow: false` (lsetstat) a symbolic link itself is named, which is refused as unsupported. */
  setStat(path: string, changes: SetStatChanges, options?: { follow?: boolean }): Promise<void>;
  readlink(path: string): Promise<string>;
  symlink(target: string, path: string): Promise<void>;
  link(existing: string, path: string): Promise<void>;
  statvfs(path: string): Promise<SpaceInfo>;
  checksum(path: string, algorithm: ChecksumAlgorithm, range?: { offset: number; length: number }): Promise<Buffer>;
  /** May the user use this subsystem at all? Checked by protocols before serving it. */
  allows(subsystem: Subsystem): boolean;
  /**
   * This session as one channel of its connection serves it (an SSH connection's sftp and scp
   * channels): operations are logged under `subsystem` and closing the channel's view abandons
   * only the files it opened, while the login, the mounts and the logout stay the connection's.
   * Throws subsystem-denied when the user may not use `subsystem`.
   */
  channel(subsystem: Subsystem): Session;
  /** The transfers open now (handles and streams; on a connection's session, its channels' too), for an administrator. */
  transfers(): TransferInfo[];
  /**
   * Cuts a transfer off: a handle is closed keeping what was written, a stream is destroyed;
   * it is logged `incomplete`. False when no such transfer is open.
   */
  stopTransfer(id: string): Promise<boolean>;
  /** Ends the session (or a channel's view of it): stops every transfer still open (in-flight writes flushed), logs the logout. */
  close(): Promise<void>;
}
