// The protocol-neutral Session: every protocol calls these methods and nothing else decides.
// Each operation: normalize the client path (vfs/path.ts), route it through the mount table,
// resolve symlinks where permissions vary, check the permission its row in permissions.ts names,
// let the driver act, write the transfer log. DESIGN.md "The one path every transfer takes".
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Subsystem } from '../config/model/permissions.ts';
import type { User } from '../config/model/user.ts';
import type { ConfigView } from '../config/view.ts';
import type { TransferLog, TransferOperation } from '../logging/transfer-log.ts';
import { mapFsError } from '../vfs/drivers/fs-errors.ts';
import type { Mount, MountTable, PermissionSet } from '../vfs/mounts.ts';
import { virtualPathOf } from '../vfs/mounts.ts';
import { baseName, joinPath, normalizeVirtualPath, parentOf, relativeTo } from '../vfs/path.ts';
import type { EntryInfo, OpenReadOptions, OpenWriteOptions, SetStatChanges, SpaceInfo } from '../vfs/vfs.ts';
import { computeChecksum } from './checksum.ts';
import { FerryError, isFerryError } from './errors.ts';
import { buildMountTable } from './login.ts';
import { requirePermission } from './permissions.ts';
import type { Operation } from './permissions.ts';
import { MeteredWritable, meterReadable } from './streams.ts';
import { DriverOpenFile } from './transfer.ts';
import type { TransferSummary } from './transfer.ts';
import type { ChecksumAlgorithm, ConnectionInfo, OpenFile, OpenFlags, Session, SessionStat } from './types.ts';
import type { Readable, Writable } from 'node:stream';

export interface SessionDeps {
  readonly view: ConfigView;
  readonly transferLog: TransferLog;
  readonly logger: Logger;
  /** Clock, ms since the epoch: log times, durations, {{today}}. */
  readonly now: () => number;
}

export interface OpenSessionOptions {
  /** {{sess_custdata}}: set by event scripts. */
  readonly sessCustData?: string;
  /** {{user_home}}: the LDAP/AD home directory. */
  readonly ldapHome?: string;
}

/** A client path routed through the mount table. */
interface Target {
  readonly virtualPath: string;
  readonly mount: Mount;
  /** Driver path with symlinks resolved (the last one only when following). */
  readonly realPath: string;
  readonly permissions: PermissionSet;
  readonly isMountPoint: boolean;
  readonly isMountParent: boolean;
}

function asFerryError(error: unknown, path: string): FerryError {
  return isFerryError(error) ? error : mapFsError(error, path);
}

/** The path as the log shows it: canonical when it can be, else the raw text, bounded. */
function displayPath(path: string): string {
  try {
    return normalizeVirtualPath(path);
  } catch {
    return String(path).slice(0, 256);
  }
}

function virtualFolderRefusal(path: string): FerryError {
  return new FerryError('permission-denied', 'a virtual folder (or a folder containing one) cannot be removed, renamed or replaced', { detail: path });
}

export async function openSession(
  deps: SessionDeps,
  user: User,
  connection: ConnectionInfo,
  protocol: Subsystem,
  options: OpenSessionOptions = {},
): Promise<Session> {
  const record = (operation: TransferOperation, status: string) =>
    deps.transferLog.write({
      time: new Date(deps.now()),
      siteId: connection.siteId,
      connectionId: connection.connectionId,
      remoteAddress: connection.remoteAddress,
      remotePort: connection.remotePort,
      username: user.username,
      protocol,
      operation,
      path: '/',
      bytes: 0,
      durationMs: 0,
      status,
    });
  try {
    if (!user.enabled) throw new FerryError('permission-denied', 'this account is disabled', { detail: user.username });
    if (!user.subsystems.includes(protocol)) {
      throw new FerryError('subsystem-denied', `this account may not use ${protocol}; ask your administrator to allow it`, { detail: user.username });
    }
    const table = await buildMountTable(deps.view, user, {
      username: user.username,
      userDesc: user.description,
      userHome: options.ldapHome,
      sessCustData: options.sessCustData,
      now: deps.now(),
    });
    record('login', 'ok');
    return new ProtocolSession(deps, user, connection, protocol, table);
  } catch (error) {
    const failure = asFerryError(error, '/');
    record('login-failed', failure.kind);
    deps.logger.warn({ connectionId: connection.connectionId, user: user.username, kind: failure.kind, detail: failure.detail }, 'session refused');
    throw failure;
  }
}

class ProtocolSession implements Session {
  readonly id = randomUUID();
  readonly user: User;
  readonly connection: ConnectionInfo;
  readonly #deps: SessionDeps;
  readonly #protocol: Subsystem;
  readonly #table: MountTable;
  readonly #log: Logger;
  readonly #loginTime: number;
  readonly #files = new Set<OpenFile>();
  #closed = false;

  constructor(deps: SessionDeps, user: User, connection: ConnectionInfo, protocol: Subsystem, table: MountTable) {
    this.#deps = deps;
    this.user = user;
    this.connection = connection;
    this.#protocol = protocol;
    this.#table = table;
    this.#loginTime = deps.now();
    this.#log = deps.logger.child({ connectionId: connection.connectionId, user: user.username, protocol });
  }

  // ---- plumbing -------------------------------------------------------------------------

  #record(operation: TransferOperation, path: string, status: string, extra: { target?: string; bytes?: number; durationMs?: number } = {}): void {
    const c = this.connection;
    this.#deps.transferLog.write({
      time: new Date(this.#deps.now()),
      siteId: c.siteId,
      connectionId: c.connectionId,
      remoteAddress: c.remoteAddress,
      remotePort: c.remotePort,
      username: this.user.username,
      protocol: this.#protocol,
      operation,
      path,
      ...(extra.target === undefined ? {} : { target: extra.target }),
      bytes: extra.bytes ?? 0,
      durationMs: extra.durationMs ?? 0,
      status,
    });
  }

  #fail(error: unknown, path: string): FerryError {
    const failure = asFerryError(error, path);
    this.#log.debug({ path, kind: failure.kind, detail: failure.detail }, failure.message);
    return failure;
  }

  /** Runs an operation that the transfer log records, success or failure. */
  async #logged<T>(operation: TransferOperation, path: string, body: () => Promise<T>, target?: string): Promise<T> {
    const started = this.#deps.now();
    const extra = (bytes = 0) => ({ bytes, durationMs: this.#deps.now() - started, ...(target === undefined ? {} : { target: displayPath(target) }) });
    try {
      const result = await body();
      this.#record(operation, displayPath(path), 'ok', extra());
      return result;
    } catch (error) {
      const failure = this.#fail(error, path);
      this.#record(operation, displayPath(path), failure.kind, extra());
      throw failure;
    }
  }

  async #guard<T>(path: string, body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (error) {
      throw this.#fail(error, path);
    }
  }

  async #target(path: string, follow: boolean): Promise<Target> {
    if (this.#closed) throw new FerryError('invalid-argument', 'the session is closed', { detail: path });
    const r = this.#table.resolve(normalizeVirtualPath(path));
    const { mount, driverPath } = r;
    let realPath = driverPath;
    let permissions = r.permissions;
    if (mount.driver.capabilities.symlinks && driverPath !== '/') {
      const driver = mount.driver;
      realPath = follow ? await driver.realpath(driverPath) : joinPath(await driver.realpath(parentOf(driverPath)), baseName(driverPath));
      if (mount.needsRealpath) permissions = this.#table.permissionsAt(mount, realPath);
    }
    return { virtualPath: r.virtualPath, mount, realPath, permissions, isMountPoint: r.isMountPoint, isMountParent: r.isMountParent };
  }

  #require(t: Target, operation: Operation): void {
    requirePermission(t.permissions, operation, t.virtualPath);
  }

  #synthetic(name: string): EntryInfo {
    return { name, type: 'dir', size: 0, mtimeMs: this.#loginTime, atimeMs: this.#loginTime, mode: 0o755 };
  }

  /** lstat of the target's real path; mount points report their storage's root. */
  async #entry(t: Target): Promise<EntryInfo> {
    const name = baseName(t.virtualPath);
    try {
      return { ...(await t.mount.driver.stat(t.realPath)), name };
    } catch (error) {
      if (t.isMountParent && isFerryError(error) && error.kind === 'not-found') return this.#synthetic(name);
      throw error;
    }
  }

  async #entryOrUndefined(t: Target): Promise<EntryInfo | undefined> {
    try {
      return await this.#entry(t);
    } catch (error) {
      if (isFerryError(error) && error.kind === 'not-found') return undefined;
      throw error;
    }
  }

  // ---- metadata -------------------------------------------------------------------------

  async realpath(path: string): Promise<string> {
    return this.#guard(path, async () => normalizeVirtualPath(path));
  }

  stat(path: string, options: { follow?: boolean } = {}): Promise<SessionStat> {
    return this.#guard(path, async () => {
      const t = await this.#target(path, options.follow ?? true);
      return { ...(await this.#entry(t)), path: t.virtualPath };
    });
  }

  list(path: string): AsyncIterable<EntryInfo> {
    return this.#list(path);
  }

  async *#list(path: string): AsyncGenerator<EntryInfo> {
    const t = await this.#guard(path, async () => {
      const target = await this.#target(path, true);
      this.#require(target, 'list');
      return target;
    });
    const children = this.#table.childMounts(t.virtualPath);
    const shadowed = new Set(children.map((child) => child.name));
    try {
      for await (const entry of t.mount.driver.list(t.realPath)) if (!shadowed.has(entry.name)) yield entry;
    } catch (error) {
      if (!(t.isMountParent && isFerryError(error) && error.kind === 'not-found')) throw this.#fail(error, path);
    }
    for (const child of children) {
      const childPath = joinPath(t.virtualPath, child.name);
      const target = this.#table.resolve(childPath);
      yield await this.#entry({ ...target, realPath: target.driverPath }).catch(() => this.#synthetic(child.name));
    }
  }

  readlink(path: string): Promise<string> {
    return this.#guard(path, async () => {
      const t = await this.#target(path, false);
      this.#require(t, 'readlink');
      return virtualPathOf(t.mount, await t.mount.driver.readlink(t.realPath));
    });
  }

  statvfs(path: string): Promise<SpaceInfo> {
    return this.#guard(path, async () => {
      const t = await this.#target(path, true);
      this.#require(t, 'statvfs');
      return t.mount.driver.statvfs(t.isMountParent ? '/' : t.realPath);
    });
  }

  checksum(path: string, algorithm: ChecksumAlgorithm, range?: { offset: number; length: number }): Promise<Buffer> {
    return this.#guard(path, async () => {
      const t = await this.#target(path, true);
      this.#require(t, 'checksum');
      return computeChecksum(await t.mount.driver.openRead(t.realPath, range ?? {}), algorithm);
    });
  }

  allows(subsystem: Subsystem): boolean {
    return this.user.subsystems.includes(subsystem);
  }

  // ---- transfers ------------------------------------------------------------------------

  async open(path: string, flags: OpenFlags): Promise<OpenFile> {
    const writing = Boolean(flags.write || flags.append || flags.create || flags.truncate || flags.exclusive);
    const reading = Boolean(flags.read) || !writing;
    const t = await this.#guard(path, () => this.#target(path, true));
    const operation = writing ? 'upload' : 'download';
    const existing = await this.#guard(path, () => this.#entryOrUndefined(t));
    const initialWriter = await this.#guard(path, async () => {
      this.#checkOpenable(t, existing, { writing, reading, create: Boolean(flags.create), exclusive: Boolean(flags.exclusive) });
      if (writing && (!existing || flags.truncate)) {
        return t.mount.driver.openWrite(t.realPath, { exclusive: Boolean(flags.exclusive), truncate: Boolean(flags.truncate) });
      }
      return undefined;
    }).catch((error: FerryError) => {
      this.#record(operation, t.virtualPath, error.kind);
      throw error;
    });
    const openedAt = this.#deps.now();
    const file: DriverOpenFile = new DriverOpenFile({
      path: t.virtualPath,
      driver: t.mount.driver,
      driverPath: t.realPath,
      readable: reading,
      writable: writing,
      append: Boolean(flags.append),
      size: existing?.size ?? 0,
      initialWriter,
      stat: () => this.stat(t.virtualPath),
      setStat: (changes) => this.setStat(t.virtualPath, changes),
      onClose: (summary) => {
        this.#files.delete(file);
        this.#recordHandle(t.virtualPath, summary, this.#deps.now() - openedAt);
      },
    });
    this.#files.add(file);
    return file;
  }

  #checkOpenable(t: Target, existing: EntryInfo | undefined, mode: { writing: boolean; reading: boolean; create: boolean; exclusive: boolean }): void {
    if (existing?.type === 'dir') throw new FerryError('is-a-directory', 'the path is a directory', { detail: t.virtualPath });
    if (existing && existing.type !== 'file') throw new FerryError('invalid-argument', 'not a regular file', { detail: t.virtualPath });
    if (mode.reading) this.#require(t, 'readFile');
    if (!mode.writing) {
      if (!existing) throw new FerryError('not-found', 'no such file or directory', { detail: t.virtualPath });
      return;
    }
    if (existing) {
      if (mode.exclusive) throw new FerryError('exists', 'a file or directory with that name already exists', { detail: t.virtualPath });
      this.#require(t, 'modifyFile');
    } else {
      if (!mode.create) throw new FerryError('not-found', 'no such file or directory', { detail: t.virtualPath });
      this.#require(t, 'createFile');
    }
  }

  #recordHandle(path: string, summary: TransferSummary, durationMs: number): void {
    const status = summary.error?.kind ?? 'ok';
    if (summary.writable) this.#record('upload', path, status, { bytes: summary.bytesWritten, durationMs });
    if (summary.readable && (summary.bytesRead > 0 || !summary.writable)) this.#record('download', path, status, { bytes: summary.bytesRead, durationMs });
  }

  openRead(path: string, options: OpenReadOptions = {}): Promise<Readable> {
    return this.#transferStart('download', path, async () => {
      const t = await this.#target(path, true);
      this.#require(t, 'readFile');
      const started = this.#deps.now();
      const source = await t.mount.driver.openRead(t.realPath, options);
      return meterReadable(source, t.virtualPath, (bytes, error) => this.#transferEnd('download', t.virtualPath, started, bytes, error));
    });
  }

  openWrite(path: string, options: OpenWriteOptions = {}): Promise<Writable> {
    return this.#transferStart('upload', path, async () => {
      const t = await this.#target(path, true);
      const existing = await this.#entryOrUndefined(t);
      if (existing?.type === 'dir') throw new FerryError('is-a-directory', 'the path is a directory', { detail: t.virtualPath });
      if (existing && options.exclusive) throw new FerryError('exists', 'a file or directory with that name already exists', { detail: t.virtualPath });
      if (!existing && options.mustExist) throw new FerryError('not-found', 'no such file or directory', { detail: t.virtualPath });
      this.#require(t, existing ? 'modifyFile' : 'createFile');
      const started = this.#deps.now();
      const target = await t.mount.driver.openWrite(t.realPath, options);
      return new MeteredWritable(target, t.virtualPath, (bytes, error) => this.#transferEnd('upload', t.virtualPath, started, bytes, error));
    });
  }

  /** A whole-stream transfer that fails before its stream exists is logged here. */
  async #transferStart<T>(operation: TransferOperation, path: string, body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (error) {
      const failure = this.#fail(error, path);
      this.#record(operation, displayPath(path), failure.kind);
      throw failure;
    }
  }

  #transferEnd(operation: TransferOperation, path: string, started: number, bytes: number, error: FerryError | undefined): void {
    if (error) this.#log.debug({ path, kind: error.kind, detail: error.detail }, `${operation} ended early`);
    this.#record(operation, path, error?.kind ?? 'ok', { bytes, durationMs: this.#deps.now() - started });
  }

  // ---- changes --------------------------------------------------------------------------

  mkdir(path: string): Promise<void> {
    return this.#logged('mkdir', path, async () => {
      const t = await this.#target(path, false);
      if (t.virtualPath === '/' || t.isMountPoint || t.isMountParent) throw new FerryError('exists', 'a folder with that name already exists', { detail: path });
      this.#require(t, 'mkdir');
      await t.mount.driver.mkdir(t.realPath);
    });
  }

  rmdir(path: string): Promise<void> {
    return this.#logged('rmdir', path, async () => {
      const t = await this.#target(path, false);
      if (t.virtualPath === '/' || t.isMountPoint || t.isMountParent) throw virtualFolderRefusal(t.virtualPath);
      this.#require(t, 'rmdir');
      await t.mount.driver.rmdir(t.realPath);
    });
  }

  remove(path: string): Promise<void> {
    return this.#logged('delete', path, async () => {
      const t = await this.#target(path, false);
      if (t.virtualPath === '/' || t.isMountPoint || t.isMountParent) throw new FerryError('is-a-directory', 'the path is a directory', { detail: path });
      const entry = await this.#entry(t);
      if (entry.type === 'dir') throw new FerryError('is-a-directory', 'the path is a directory; remove it as a directory', { detail: path });
      this.#require(t, 'removeFile');
      await t.mount.driver.unlink(t.realPath);
    });
  }

  rename(from: string, to: string, options: { overwrite?: boolean } = {}): Promise<void> {
    return this.#logged(
      'rename',
      from,
      async () => {
        const source = await this.#target(from, false);
        const dest = await this.#target(to, false);
        for (const t of [source, dest]) if (t.virtualPath === '/' || t.isMountPoint || t.isMountParent) throw virtualFolderRefusal(t.virtualPath);
        if (source.mount !== dest.mount) {
          throw new FerryError('unsupported', 'cannot move between separately mounted folders; copy the data, then delete the original', {
            detail: `${source.virtualPath} (${source.mount.vfsId}) -> ${dest.virtualPath} (${dest.mount.vfsId})`,
          });
        }
        const entry = await this.#entry(source);
        const operation = entry.type === 'dir' ? 'renameDir' : 'renameFile';
        this.#require(source, operation);
        this.#require(dest, operation);
        this.#refuseMovingRules(source, dest, entry);
        const replaced = await this.#entryOrUndefined(dest);
        if (replaced) {
          if (!options.overwrite) throw new FerryError('exists', 'the destination already exists', { detail: dest.virtualPath });
          this.#require(dest, 'modifyFile');
        }
        await source.mount.driver.rename(source.realPath, dest.realPath, { overwrite: Boolean(options.overwrite) });
      },
      to,
    );
  }

  /** A directory holding an override or a mount must not carry its content out from under it. */
  #refuseMovingRules(source: Target, dest: Target, entry: EntryInfo): void {
    if (entry.type !== 'dir') return;
    const from = virtualPathOf(source.mount, source.realPath);
    const to = virtualPathOf(dest.mount, dest.realPath);
    if (this.#table.hasRulesBelow(from) || this.#table.hasRulesBelow(to)) {
      throw new FerryError('permission-denied', 'this folder contains folders with their own permissions and cannot be moved', { detail: `${from} -> ${to}` });
    }
  }

  setStat(path: string, changes: SetStatChanges): Promise<void> {
    return this.#logged('setstat', path, async () => {
      const t = await this.#target(path, true);
      const entry = await this.#entry(t);
      const isDir = entry.type === 'dir';
      this.#require(t, isDir ? 'setStatDir' : 'setStatFile');
      if (changes.size !== undefined) {
        if (isDir) throw new FerryError('is-a-directory', 'the path is a directory', { detail: path });
        this.#require(t, 'modifyFile');
      }
      if (changes.size === undefined && changes.mode === undefined && changes.mtimeMs === undefined && changes.atimeMs === undefined) return;
      await t.mount.driver.setStat(t.realPath, changes);
    });
  }

  symlink(target: string, path: string): Promise<void> {
    return this.#logged(
      'symlink',
      path,
      async () => {
        const link = await this.#target(path, false);
        if (link.virtualPath === '/' || link.isMountPoint || link.isMountParent) throw new FerryError('exists', 'a file or directory with that name already exists', { detail: path });
        const pointed = normalizeVirtualPath(target, parentOf(link.virtualPath));
        const mount = this.#table.mountOf(pointed);
        if (mount !== link.mount) {
          throw new FerryError('unsupported', 'a link can only point inside the same folder tree', { detail: `${link.virtualPath} -> ${pointed}` });
        }
        this.#require(link, 'symlink');
        await link.mount.driver.symlink(relativeTo(mount.path, pointed), link.realPath);
      },
      target,
    );
  }

  link(existing: string, path: string): Promise<void> {
    return this.#logged(
      'link',
      path,
      async () => {
        const source = await this.#target(existing, false);
        const dest = await this.#target(path, false);
        if (dest.virtualPath === '/' || dest.isMountPoint || dest.isMountParent) throw new FerryError('exists', 'a file or directory with that name already exists', { detail: path });
        if (source.mount !== dest.mount) throw new FerryError('unsupported', 'a link can only point inside the same folder tree', { detail: `${source.virtualPath} -> ${dest.virtualPath}` });
        this.#require(dest, 'hardlink');
        this.#require(source, 'modifyFile');
        await dest.mount.driver.link(source.realPath, dest.realPath);
      },
      existing,
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    const files = [...this.#files];
    await Promise.allSettled(files.map((file) => file.close()));
    this.#closed = true;
    await Promise.allSettled(this.#table.mounts.map((mount) => mount.driver.close()));
    this.#record('logout', '/', 'ok', { durationMs: this.#deps.now() - this.#loginTime });
  }
}
