// The disk driver: a VfsDriver over one directory of the node's file system (local disk or a
// shared NFS/SMB mount in a cluster). Confinement on the storage: see local-resolve.ts.
import { constants, promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import nodePath from 'node:path';
import { Readable } from 'node:stream';
import type { Writable } from 'node:stream';
import { FerryError } from '../errors.ts';
import { assertDriverPath, baseName, joinPath } from '../path.ts';
import type {
  AttachOptions,
  Capabilities,
  DriverLog,
  EntryInfo,
  OpenReadOptions,
  OpenWriteOptions,
  PositionalReader,
  SetStatChanges,
  SpaceInfo,
  VfsBackend,
  VfsDriver,
} from '../vfs.ts';
import { errnoOf, mapFsError } from './fs-errors.ts';
import { decodeName, entryOf, escapeName, renameNoReplace, statBatch } from './local-fs.ts';
import { driverPathOf, escapeError, isBeneath, resolveBeneath, verifyHandle } from './local-resolve.ts';

/**
 * ENOTEMPTY for a directory the client may have seen as empty: when every entry is one a
 * listing hides, the message says so instead of contradicting what the client was shown.
 */
async function notEmptyError(physical: string, cause: unknown): Promise<FerryError> {
  const reasons = new Set<string>();
  let count = 0;
  try {
    // Stops at the first entry a client can see: a big directory is not read whole for this.
    for await (const dirent of await fsp.opendir(physical, { encoding: 'buffer' as BufferEncoding })) {
      const decoded = decodeName(dirent.name as unknown as Buffer);
      if (!('hidden' in decoded)) return mapFsError(cause, physical);
      count++;
      reasons.add(decoded.hidden);
    }
  } catch {
    return mapFsError(cause, physical);
  }
  if (count === 0) return mapFsError(cause, physical);
  return new FerryError(
    'not-empty',
    `the directory is not empty: it holds ${count} ${count === 1 ? 'entry whose name' : 'entries whose names'} cannot be shown (${[...reasons].join('; ')}); ask your administrator to rename or remove ${count === 1 ? 'it' : 'them'}`,
    { detail: `ENOTEMPTY on ${physical}`, cause },
  );
}

/** realpath of the deepest existing ancestor, with the missing rest appended as named. */
async function realpathOfMissing(dir: string): Promise<string> {
  const rest: string[] = [];
  let current = dir;
  for (;;) {
    try {
      return nodePath.join(await fsp.realpath(current), ...rest.reverse());
    } catch (error) {
      const parent = nodePath.dirname(current);
      if (errnoOf(error) !== 'ENOENT' || parent === current) throw mapFsError(error, current);
      rest.push(nodePath.basename(current));
      current = parent;
    }
  }
}

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_APPEND } = constants;
// O_NONBLOCK: opening a FIFO planted in a user's folder must not park a libuv thread forever;
// it has no effect on regular files, and anything but a regular file is refused after fstat.
const OPEN_READ = O_RDONLY | O_NOFOLLOW | O_NONBLOCK;
const OPEN_WRITE = O_WRONLY | O_NOFOLLOW | O_NONBLOCK;

/** Read-ahead of one read stream (SFTP clients ask for 32-256 KiB at a time): fewer, larger reads
 * halved the user CPU of a 1 GiB download against 256 KiB, at 0.5-1 MiB of memory per open reader. */
const READ_CHUNK = 512 * 1024;

/**
 * `refuseRoot` is asked about the configured root, then its realpath, before the driver creates
 * or touches anything, so a root refused through a symlink is not even created. `log` receives
 * what a listing hides from the client (default: nowhere).
 */
export type LocalDriverOptions = AttachOptions;

/**
 * The disk back end: the node's own file system, nothing to connect or pool beyond it. Each
 * session gets a LocalDriver rooted at its expanded target.
 */
export class DiskBackend implements VfsBackend {
  async attach(root: string, options: AttachOptions): Promise<VfsDriver> {
    const driver = new LocalDriver(root, options);
    try {
      await driver.open();
    } catch (error) {
      await driver.close();
      throw error;
    }
    return driver;
  }

  async close(): Promise<void> {}
}

/** Hidden names named in one log line; the count covers them all. */
const MAX_HIDDEN_LOGGED = 20;

export class LocalDriver implements VfsDriver {
  readonly kind = 'disk';
  readonly capabilities: Capabilities = {
    writeAtOffset: true,
    overwriteInPlace: true,
    append: true,
    readAtOffset: true,
    symlinks: true,
    hardlinks: true,
    chmod: true,
    setTimes: true,
    rename: 'atomic',
    atomicRenameOverwrite: true,
    implicitDirectories: false,
    // Bytes are written in place: an SFTP client resumes a cut-off upload by its name.
    resumableUploads: true,
    statvfs: true,
  };
  readonly #configuredRoot: string;
  readonly #refuseRoot: ((root: string) => string | undefined) | undefined;
  readonly #log: DriverLog | undefined;
  #onClose: (() => void) | undefined;
  /** realpath of the root, once it exists; every physical path is checked against it. */
  #root: string | undefined;

  constructor(root: string, options: LocalDriverOptions = {}) {
    // Trailing or doubled slashes are forgiven; ".." never (it would make the root depend on
    // what the parent directories are), nor a relative path or the whole file system.
    const normalized = nodePath.resolve(root);
    if (!nodePath.isAbsolute(root) || root.split('/').includes('..') || root.includes('\0') || normalized === '/') {
      throw new FerryError('misconfigured', 'the storage location is misconfigured; ask your administrator', {
        detail: `disk VFS target must be an absolute directory without "..", other than "/": ${JSON.stringify(root)}`,
      });
    }
    this.#configuredRoot = normalized;
    this.#refuseRoot = options.refuseRoot;
    this.#log = options.log;
    this.#onClose = options.onClose;
    this.#checkRoot(normalized);
  }

  /** The root as named, as it is about to be created, and as the kernel resolves it. */
  #checkRoot(root: string): void {
    const why = this.#refuseRoot?.(root);
    if (why === undefined) return;
    throw new FerryError('permission-denied', 'your storage location is not allowed on this server; ask your administrator', {
      detail: `disk VFS root ${this.#configuredRoot}${root === this.#configuredRoot ? '' : ` (really ${root})`} ${why}`,
    });
  }

  async #realRoot(): Promise<string> {
    if (this.#root !== undefined) return this.#root;
    let real: string;
    try {
      real = await fsp.realpath(this.#configuredRoot);
      if (!(await fsp.stat(real)).isDirectory()) throw Object.assign(new Error('root is not a directory'), { code: 'ENOTDIR' });
    } catch (error) {
      throw mapFsError(error, this.#configuredRoot);
    }
    this.#checkRoot(real);
    this.#root = real;
    return real;
  }

  /**
   * Checks the root at attach: one realpath and one stat when it exists (every login after the
   * first), and the root created (mkdirp) only when it does not exist yet.
   */
  async open(): Promise<void> {
    try {
      await this.#realRoot();
    } catch (error) {
      if (!(error instanceof FerryError && error.kind === 'not-found')) throw error;
      await this.mkdirp('/');
    }
  }

  async #resolve(path: string, followLast: boolean): Promise<{ root: string; physical: string }> {
    const root = await this.#realRoot();
    return { root, physical: await resolveBeneath(root, path, followLast) };
  }

  async #openVerified(path: string, flags: number): Promise<{ handle: FileHandle; stats: Stats }> {
    const { root, physical } = await this.#resolve(path, true);
    let handle: FileHandle;
    try {
      handle = await fsp.open(physical, flags, 0o666);
    } catch (error) {
      // ELOOP under O_NOFOLLOW: the leaf became a symlink after the walk.
      if (errnoOf(error) === 'ELOOP') throw escapeError(`${physical} swapped for a symlink`);
      throw mapFsError(error, physical);
    }
    await verifyHandle(handle, root);
    try {
      return { handle, stats: await handle.stat() };
    } catch (error) {
      await handle.close().catch(() => {});
      throw mapFsError(error, physical);
    }
  }

  async #openFile(path: string, flags: number): Promise<FileHandle> {
    const { handle, stats } = await this.#openVerified(path, flags);
    if (stats.isFile()) return handle;
    await handle.close().catch(() => {});
    if (stats.isDirectory()) throw new FerryError('is-a-directory', 'the path is a directory', { detail: path });
    throw new FerryError('not-a-file', 'not a regular file', { detail: path });
  }

  async stat(path: string): Promise<EntryInfo> {
    const { physical } = await this.#resolve(path, false);
    try {
      return entryOf(baseName(path), await fsp.lstat(physical));
    } catch (error) {
      throw mapFsError(error, physical);
    }
  }

  async realpath(path: string): Promise<string> {
    const { root, physical } = await this.#resolve(path, true);
    return driverPathOf(root, physical);
  }

  async *list(path: string): AsyncIterable<EntryInfo> {
    const { physical } = await this.#resolve(path, true);
    let dir;
    try {
      dir = await fsp.opendir(physical, { encoding: 'buffer' as BufferEncoding, bufferSize: 256 });
    } catch (error) {
      throw mapFsError(error, physical);
    }
    let batch: string[] = [];
    const hidden: { name: string; why: string }[] = [];
    let hiddenCount = 0;
    try {
      for await (const dirent of dir) {
        // Names that are not valid UTF-8 or that the path rules refuse cannot be addressed by a
        // client, so they are not shown (they were created behind Ferry's back); the log says so.
        const decoded = decodeName(dirent.name as unknown as Buffer);
        if ('hidden' in decoded) {
          if (++hiddenCount <= MAX_HIDDEN_LOGGED) hidden.push({ name: escapeName(dirent.name as unknown as Buffer), why: decoded.hidden });
          continue;
        }
        batch.push(decoded.name);
        if (batch.length < 64) continue; // lstat 64 entries at a time: a huge listing is I/O-bound
        yield* await statBatch(physical, batch);
        batch = [];
      }
      yield* await statBatch(physical, batch);
    } finally {
      // Once per listing, also when the client stopped reading early.
      if (hiddenCount > 0) {
        this.#log?.warn(
          { path, physical, hidden: hiddenCount, names: hidden },
          `listing of ${path} hides ${hiddenCount} ${hiddenCount === 1 ? 'entry whose name' : 'entries whose names'} a client cannot use; rename them on the storage`,
        );
      }
    }
  }

  async openRead(path: string, options: OpenReadOptions = {}): Promise<Readable> {
    const start = options.offset ?? 0;
    if (!Number.isSafeInteger(start) || start < 0) throw new FerryError('invalid-request', 'invalid offset', { detail: String(start) });
    const handle = await this.#openFile(path, OPEN_READ);
    if (options.length === 0) {
      await handle.close();
      return Readable.from([]);
    }
    const end = options.length === undefined ? undefined : start + options.length - 1;
    return handle.createReadStream({ start, end, highWaterMark: READ_CHUNK });
  }

  async openPositional(path: string): Promise<PositionalReader> {
    const handle = await this.#openFile(path, OPEN_READ);
    return {
      read: async (target, position) => {
        if (!Number.isSafeInteger(position) || position < 0) throw new FerryError('invalid-request', 'invalid offset', { detail: String(position) });
        let filled = 0;
        try {
          // A regular file returns short only at its end; the loop is for the rare signal case.
          while (filled < target.length) {
            const { bytesRead } = await handle.read(target, filled, target.length - filled, position + filled);
            if (bytesRead === 0) break;
            filled += bytesRead;
          }
        } catch (error) {
          throw mapFsError(error, path);
        }
        return filled;
      },
      close: () => handle.close(),
    };
  }

  async openWrite(path: string, options: OpenWriteOptions = {}): Promise<Writable> {
    const offset = options.offset ?? 0;
    if (!Number.isSafeInteger(offset) || offset < 0) throw new FerryError('invalid-request', 'invalid offset', { detail: String(offset) });
    if (options.append && (offset > 0 || options.truncate)) throw new FerryError('invalid-request', 'an append cannot start at an offset or truncate', { detail: path });
    let flags = options.append ? OPEN_WRITE | O_APPEND : OPEN_WRITE;
    if (options.exclusive) flags |= O_CREAT | O_EXCL;
    else if (!options.mustExist) flags |= O_CREAT;
    const handle = await this.#openFile(path, flags);
    try {
      // Truncation on the verified handle, never O_TRUNC before verification.
      if (options.truncate && offset === 0) await handle.truncate(0);
    } catch (error) {
      await handle.close().catch(() => {});
      throw mapFsError(error, path);
    }
    // O_APPEND puts every write at the end, whatever position the stream asks for.
    return handle.createWriteStream({ start: options.append ? undefined : offset, highWaterMark: 1024 * 1024 });
  }

  async mkdir(path: string): Promise<void> {
    const { physical } = await this.#resolve(path, false);
    try {
      await fsp.mkdir(physical, 0o777);
    } catch (error) {
      throw mapFsError(error, physical);
    }
  }

  async mkdirp(path: string): Promise<void> {
    assertDriverPath(path);
    if (this.#root === undefined) {
      this.#checkRoot(await realpathOfMissing(this.#configuredRoot));
      try {
        await fsp.mkdir(this.#configuredRoot, { recursive: true, mode: 0o777 });
      } catch (error) {
        throw mapFsError(error, this.#configuredRoot);
      }
    }
    let current = '/';
    for (const segment of path === '/' ? [] : path.slice(1).split('/')) {
      current = joinPath(current, segment);
      const { physical } = await this.#resolve(current, true);
      try {
        await fsp.mkdir(physical, 0o777);
      } catch (error) {
        if (errnoOf(error) !== 'EEXIST') throw mapFsError(error, physical);
        const stats = await fsp.stat(physical).catch((e: unknown) => {
          throw mapFsError(e, physical);
        });
        if (!stats.isDirectory()) throw new FerryError('not-a-directory', 'a component of the path is not a directory', { detail: physical });
      }
    }
    await this.#realRoot();
  }

  async rmdir(path: string): Promise<void> {
    if (path === '/') throw new FerryError('permission-denied', 'the root folder cannot be removed', { detail: path });
    const { physical } = await this.#resolve(path, false);
    try {
      await fsp.rmdir(physical);
    } catch (error) {
      if (errnoOf(error) === 'ENOTEMPTY' || errnoOf(error) === 'EEXIST') throw await notEmptyError(physical, error);
      throw mapFsError(error, physical);
    }
  }

  async remove(path: string): Promise<void> {
    const { physical } = await this.#resolve(path, false);
    try {
      if ((await fsp.lstat(physical)).isDirectory()) throw new FerryError('is-a-directory', 'the path is a directory', { detail: path });
      await fsp.unlink(physical);
    } catch (error) {
      throw mapFsError(error, physical);
    }
  }

  async rename(from: string, to: string, options: { overwrite?: boolean } = {}): Promise<void> {
    if (from === '/' || to === '/') throw new FerryError('permission-denied', 'the root folder cannot be renamed', { detail: `${from} -> ${to}` });
    const source = (await this.#resolve(from, false)).physical;
    const target = (await this.#resolve(to, false)).physical;
    try {
      if (options.overwrite) return await fsp.rename(source, target);
      await renameNoReplace(source, target);
    } catch (error) {
      throw mapFsError(error, `${source} -> ${target}`);
    }
  }

  async setStat(path: string, changes: SetStatChanges): Promise<void> {
    if (changes.size !== undefined) await this.#truncate(path, changes.size);
    if (changes.mode === undefined && changes.mtimeMs === undefined && changes.atimeMs === undefined) return;
    const { handle, stats } = await this.#openVerified(path, OPEN_READ);
    try {
      // Only the 0o777 bits: setuid/setgid/sticky are never set on behalf of a remote user.
      if (changes.mode !== undefined) await handle.chmod(changes.mode & 0o777);
      if (changes.mtimeMs !== undefined || changes.atimeMs !== undefined) {
        await handle.utimes((changes.atimeMs ?? stats.atimeMs) / 1000, (changes.mtimeMs ?? stats.mtimeMs) / 1000);
      }
    } catch (error) {
      throw mapFsError(error, path);
    } finally {
      await handle.close().catch(() => {});
    }
  }

  async #truncate(path: string, size: number): Promise<void> {
    if (!Number.isSafeInteger(size) || size < 0) throw new FerryError('invalid-request', 'invalid size', { detail: String(size) });
    const handle = await this.#openFile(path, OPEN_WRITE);
    try {
      await handle.truncate(size);
    } catch (error) {
      throw mapFsError(error, path);
    } finally {
      await handle.close().catch(() => {});
    }
  }

  async readlink(path: string): Promise<string> {
    const { root, physical } = await this.#resolve(path, false);
    let text: string;
    try {
      text = await fsp.readlink(physical);
    } catch (error) {
      if (errnoOf(error) === 'EINVAL') throw new FerryError('not-a-link', 'not a symbolic link', { detail: physical });
      throw mapFsError(error, physical);
    }
    // Shown as a virtual path: lexical resolution against the link's own (real) directory.
    const target = nodePath.posix.resolve(nodePath.posix.dirname(physical), text);
    if (!isBeneath(root, target)) throw escapeError(`${physical} -> ${text}`);
    return driverPathOf(root, target);
  }

  async symlink(target: string, path: string): Promise<void> {
    assertDriverPath(target);
    const { root, physical } = await this.#resolve(path, false);
    // Stored relative, so the link stays right if the whole storage is moved or mounted elsewhere.
    const text = nodePath.posix.relative(nodePath.posix.dirname(physical), target === '/' ? root : root + target) || '.';
    try {
      await fsp.symlink(text, physical);
    } catch (error) {
      throw mapFsError(error, physical);
    }
  }

  async link(existing: string, path: string): Promise<void> {
    const source = (await this.#resolve(existing, false)).physical;
    const target = (await this.#resolve(path, false)).physical;
    try {
      if ((await fsp.lstat(source)).isDirectory()) throw new FerryError('is-a-directory', 'directories cannot be hard-linked', { detail: source });
      await fsp.link(source, target);
    } catch (error) {
      throw mapFsError(error, `${source} -> ${target}`);
    }
  }

  async sync(path: string): Promise<void> {
    const { handle } = await this.#openVerified(path, OPEN_READ);
    try {
      await handle.sync();
    } catch (error) {
      throw mapFsError(error, path);
    } finally {
      await handle.close().catch(() => {});
    }
  }

  async statvfs(path: string): Promise<SpaceInfo> {
    const { physical } = await this.#resolve(path, true);
    try {
      const s = await fsp.statfs(physical);
      return {
        blockSize: s.bsize,
        totalBlocks: s.blocks,
        freeBlocks: s.bfree,
        availableBlocks: s.bavail,
        totalFiles: s.files,
        freeFiles: s.ffree,
        maxNameLength: 255,
      };
    } catch (error) {
      throw mapFsError(error, physical);
    }
  }

  async close(): Promise<void> {
    const onClose = this.#onClose;
    this.#onClose = undefined;
    onClose?.();
  }
}
