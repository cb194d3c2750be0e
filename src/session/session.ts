// The protocol-neutral Session: every protocol calls these methods and nothing else decides.
// Each operation: normalize the client path (vfs/path.ts), route it through the mount table,
// resolve symlinks where permissions vary, check the permission its row in permissions.ts names,
// let the driver act, write the transfer log. DESIGN.md "The one path every transfer takes".
import { randomUUID } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import path from 'node:path';
import { filesArea } from '../config/disk-target.ts';
import type { NodeFacts } from '../config/disk-target.ts';
import type { Subsystem } from '../config/model/permissions.ts';
import { DEFAULT_UPLOAD_MODE, UPLOAD_MODES } from '../config/model/site.ts';
import type { UploadMode } from '../config/model/site.ts';
import type { User } from '../config/model/user.ts';
import type { ConfigView } from '../config/view.ts';
import type { TransferLog } from '../logging/transfer-log.ts';
import { virtualPathOf } from '../vfs/mounts.ts';
import type { DriverPool } from '../vfs/pool.ts';
import { joinPath, normalizeVirtualPath, parentOf, relativeTo } from '../vfs/path.ts';
import type { EntryInfo, OpenReadOptions, SetStatChanges, SpaceInfo } from '../vfs/vfs.ts';
import { computeChecksum } from './checksum.ts';
import { FerryError, isFerryError } from './errors.ts';
import { buildMountTable } from './login.ts';
import { OperationRecorder, asFerryError } from './recorder.ts';
import { HookRunner } from './hooks.ts';
import type { PendingOperation, PendingOperationName, SessionHooks, SessionIdentity } from './hooks.ts';
import type { SessionRegistry } from './registry.ts';
import { PathResolver } from './resolver.ts';
import type { Target } from './resolver.ts';
import { MeteredWritable, meterReadable } from './streams.ts';
import { stagingFor } from './staging.ts';
import type { Staging } from './staging.ts';
import { DriverOpenFile } from './open-file.ts';
import { Transfer, TransferRegistry, decideTransfer } from './transfer.ts';
import type { DecisionPlace, TransferDecision, TransferInfo, TransferIntent, TransferLimiter } from './transfer.ts';
import type { ChecksumAlgorithm, ConnectionInfo, OpenFile, OpenFlags, Session, SessionProtocol, SessionStat, WriteOptions } from './types.ts';

export interface SessionDeps {
  readonly view: ConfigView;
  /** This node's own facts: a storage location is refused where it reaches its data directory. */
  readonly node: NodeFacts;
  /** The node's VFS back ends, one per profile; each login attaches drivers rooted for it. */
  readonly drivers: DriverPool;
  readonly transferLog: TransferLog;
  readonly logger: Logger;
  /** Clock, ms since the epoch: log times, durations, {{today}}. */
  readonly now: () => number;
  /** The node's sessions, counted per user from login to close. */
  readonly registry?: SessionRegistry;
  /** Vetoes before operations, events after them, transfer limits (hooks.ts). */
  readonly hooks?: SessionHooks;
}

export interface OpenSessionOptions {
  /** {{sess_custdata}}: set by event scripts. */
  readonly sessCustData?: string;
  /** {{user_home}}: the LDAP/AD home directory. */
  readonly ldapHome?: string;
}

/** What a server-side copy asks of its source and of its target. */
const COPY_SOURCE: TransferIntent = { read: true, write: false, create: false, exclusive: false, truncate: false, append: false, offset: 0 };
const COPY_TARGET: TransferIntent = { read: false, write: true, create: true, exclusive: true, truncate: true, append: false, offset: 0 };

/**
 * Two targets name one file: by the storage's identity where it has one (a hard link, a symlink,
 * two folders over one directory), else by mount and resolved storage path.
 */
function sameFile(a: Target, aEntry: EntryInfo, b: Target, bEntry: EntryInfo): boolean {
  if (aEntry.identity !== undefined && bEntry.identity !== undefined) return aEntry.identity === bEntry.identity;
  return a.mount === b.mount && a.realPath === b.realPath;
}

/** A file can appear and vanish between check and act more than once, but not forever. */
const DECISION_ATTEMPTS = 3;

function subsystemRefusal(user: User, subsystem: Subsystem): FerryError {
  return new FerryError('subsystem-denied', `this account may not use ${subsystem}; ask your administrator to allow it`, { detail: user.username });
}

/**
 * One session per authenticated connection: per-user session counts and quotas count
 * connections, and the mounts are built once however many channels the connection opens.
 */
export async function openSession(
  deps: SessionDeps,
  user: User,
  connection: ConnectionInfo,
  protocol: SessionProtocol,
  options: OpenSessionOptions = {},
): Promise<Session> {
  const hooks = new HookRunner(deps.hooks);
  const recorder = new OperationRecorder(deps, connection, user.username, protocol, hooks);
  try {
    if (!user.enabled) throw new FerryError('permission-denied', 'this account is disabled', { detail: user.username });
    if (protocol !== 'ssh' && !user.subsystems.includes(protocol)) throw subsystemRefusal(user, protocol);
    const params = {
      username: user.username,
      userDesc: user.description,
      userHome: options.ldapHome,
      sessCustData: options.sessCustData,
      now: deps.now(),
      nodeFiles: filesArea(path.posix.resolve(deps.node.dataDir)),
    };
    const table = await buildMountTable({ view: deps.view, node: deps.node, drivers: deps.drivers, params, log: recorder.logger }, user);
    recorder.record('login', '/', 'ok');
    const session = new ProtocolSession(deps, user, connection, recorder, new PathResolver(table, deps.now()), hooks, protocol);
    if (deps.registry) session.releaseOnClose(deps.registry.add(session));
    return session;
  } catch (error) {
    const failure = asFerryError(error, '/');
    recorder.reportError(failure, '/', 'login');
    recorder.record('login-failed', '/', failure.kind);
    recorder.logger.warn({ kind: failure.kind, code: failure.code, detail: failure.detail }, 'session refused');
    throw failure;
  }
}

class ProtocolSession implements Session {
  readonly id: string;
  readonly user: User;
  readonly connection: ConnectionInfo;
  readonly #deps: SessionDeps;
  readonly #rec: OperationRecorder;
  readonly #paths: PathResolver;
  readonly #loginTime: number;
  readonly #transfers = new TransferRegistry();
  readonly #hooks: HookRunner;
  readonly #protocol: SessionProtocol;
  /** Quotas and bandwidth limits, the connection's for all its channels; null keeps the hot path free of them. */
  readonly #limiter: TransferLimiter | null;
  /** Set on a channel's view: the connection's session, which owns the mounts and the logout. */
  readonly #owner: ProtocolSession | undefined;
  readonly #views = new Set<ProtocolSession>();
  #release: (() => void) | undefined;
  #closing: Promise<void> | undefined;

  constructor(
    deps: SessionDeps,
    user: User,
    connection: ConnectionInfo,
    recorder: OperationRecorder,
    paths: PathResolver,
    hooks: HookRunner,
    protocol: SessionProtocol,
    owner?: ProtocolSession,
  ) {
    this.#deps = deps;
    this.user = user;
    this.connection = connection;
    this.#rec = recorder;
    this.#loginTime = deps.now();
    this.#paths = paths;
    this.#owner = owner;
    this.id = owner?.id ?? randomUUID();
    this.#hooks = hooks;
    this.#protocol = protocol;
    this.#limiter = owner ? owner.#limiter : hooks.limiterFor(this.#identity());
  }

  #identity(): SessionIdentity {
    const c = this.connection;
    return { sessionId: this.id, connectionId: c.connectionId, siteId: c.siteId, username: this.user.username, protocol: this.#protocol, remoteAddress: c.remoteAddress };
  }

  /** The before hooks, once an operation is decided and permitted and before the storage acts. */
  async #before(operation: PendingOperationName, path: string, extra: Omit<PendingOperation, 'operation' | 'path' | 'session'> = {}): Promise<void> {
    if (!this.#hooks.hasBefore) return;
    await this.#hooks.before({ operation, path, ...extra, session: this.#identity() }, this.#rec.logger);
  }

  // ---- metadata -------------------------------------------------------------------------

  async realpath(path: string): Promise<string> {
    return this.#rec.guard(path, async () => normalizeVirtualPath(path), 'realpath');
  }

  stat(path: string, options: { follow?: boolean } = {}): Promise<SessionStat> {
    return this.#rec.guard(
      path,
      async () => {
        const t = await this.#paths.target(path, options.follow ?? true);
        return { ...(await this.#paths.entry(t)), path: t.virtualPath };
      },
      'stat',
    );
  }

  list(path: string): AsyncIterable<EntryInfo> {
    return this.#list(path);
  }

  async *#list(path: string): AsyncGenerator<EntryInfo> {
    const t = await this.#rec.guard(path, async () => {
      const target = await this.#paths.target(path, true);
      this.#paths.require(target, 'list');
      return target;
    }, 'list');
    const children = this.#paths.table.childMounts(t.virtualPath);
    const shadowed = new Set(children.map((child) => child.name));
    try {
      for await (const entry of t.mount.driver.list(t.realPath)) if (!shadowed.has(entry.name)) yield entry;
    } catch (error) {
      if (!(t.isMountParent && isFerryError(error) && error.kind === 'not-found')) throw this.#rec.fail(error, path, 'list');
    }
    for (const child of children) {
      const target = this.#paths.mountTarget(joinPath(t.virtualPath, child.name));
      yield await this.#paths.entry(target).catch(() => this.#paths.synthetic(child.name));
    }
  }

  readlink(path: string): Promise<string> {
    return this.#rec.guard(path, async () => {
      const t = await this.#paths.target(path, false);
      this.#paths.require(t, 'readlink');
      return virtualPathOf(t.mount, await t.mount.driver.readlink(t.realPath));
    }, 'readlink');
  }

  statvfs(path: string): Promise<SpaceInfo> {
    return this.#rec.guard(path, async () => {
      const t = await this.#paths.target(path, true);
      this.#paths.require(t, 'statvfs');
      return t.mount.driver.statvfs(t.isMountParent ? '/' : t.realPath);
    }, 'statvfs');
  }

  checksum(path: string, algorithm: ChecksumAlgorithm, range?: { offset: number; length: number }): Promise<Buffer> {
    return this.#rec.guard(path, async () => {
      const t = await this.#paths.target(path, true);
      this.#paths.require(t, 'checksum');
      return computeChecksum(await t.mount.driver.openRead(t.realPath, range ?? {}), algorithm);
    }, 'checksum');
  }

  allows(subsystem: Subsystem): boolean {
    return this.user.subsystems.includes(subsystem);
  }

  channel(subsystem: Subsystem): Session {
    const owner = this.#owner ?? this;
    if (owner.#closing) throw new FerryError('internal', 'the session is closed', { detail: subsystem });
    if (!this.allows(subsystem)) throw subsystemRefusal(this.user, subsystem);
    const recorder = new OperationRecorder(this.#deps, this.connection, this.user.username, subsystem, owner.#hooks);
    // Its own resolver over the shared table, so a closed view refuses work while the rest go on.
    const view = new ProtocolSession(this.#deps, this.user, this.connection, recorder, new PathResolver(owner.#paths.table, owner.#loginTime), owner.#hooks, subsystem, owner);
    owner.#views.add(view);
    return view;
  }

  // ---- transfers ------------------------------------------------------------------------

  open(path: string, flags: OpenFlags): Promise<OpenFile> {
    const write = Boolean(flags.write || flags.append || flags.create || flags.truncate || flags.exclusive);
    const intent: TransferIntent = {
      read: Boolean(flags.read) || !write,
      write,
      create: Boolean(flags.create),
      exclusive: Boolean(flags.exclusive),
      truncate: Boolean(flags.truncate),
      append: Boolean(flags.append),
      offset: 0,
    };
    return this.#rec.start(write ? 'upload' : 'download', path, async () => {
      const t = await this.#paths.target(path, true);
      const { transfer, opened, existing } = await this.#startTransfer(t, intent, async (decision) => {
        // Creation and truncation happen at open, as clients expect (a zero-byte upload exists).
        if (decision === 'create') return t.mount.driver.openWrite(t.realPath, { exclusive: true });
        if (decision === 'modify' && intent.truncate) return t.mount.driver.openWrite(t.realPath, { truncate: true, mustExist: true });
        return undefined;
      });
      return new DriverOpenFile({
        path: t.virtualPath,
        driver: t.mount.driver,
        driverPath: t.realPath,
        transfer,
        append: intent.append,
        initialWriter: opened,
        identity: existing?.identity,
        stat: () => this.stat(t.virtualPath),
        setStat: (changes) => this.setStat(t.virtualPath, changes),
      });
    });
  }

  openRead(path: string, options: OpenReadOptions = {}): Promise<Readable> {
    const intent: TransferIntent = { read: true, write: false, create: false, exclusive: false, truncate: false, append: false, offset: options.offset ?? 0 };
    return this.#rec.start('download', path, async () => {
      const t = await this.#paths.target(path, true);
      const { transfer, opened } = await this.#startTransfer(t, intent, () => t.mount.driver.openRead(t.realPath, options));
      return meterReadable(opened, transfer);
    });
  }

  openWrite(path: string, options: WriteOptions = {}): Promise<Writable> {
    const intent: TransferIntent = {
      read: false,
      write: true,
      create: !options.mustExist,
      exclusive: Boolean(options.exclusive),
      truncate: Boolean(options.truncate),
      append: Boolean(options.append),
      offset: options.offset ?? 0,
    };
    return this.#rec.start('upload', path, async () => {
      const t = await this.#paths.target(path, true);
      const { transfer, opened } = await this.#startTransfer(t, intent, (decision) => this.#openUpload(t, intent, decision));
      const { staging, target } = opened;
      return new MeteredWritable(target, transfer, {
        size: options.size,
        ...(staging.commit ? { commit: staging.commit } : {}),
        keepPartial: staging.keepPartial,
        discard: () => staging.discard().catch((error: unknown) => void this.#rec.fail(error, t.virtualPath)),
      });
    });
  }

  async #openUpload(t: Target, intent: TransferIntent, decision: TransferDecision): Promise<{ staging: Staging; target: Writable }> {
    const driver = t.mount.driver;
    // An append continues the file where it ends; a file created by an append is written in place too.
    if (intent.append) {
      const target = await driver.openWrite(t.realPath, decision === 'create' ? { exclusive: true } : { append: true, mustExist: true });
      return { staging: stagingFor('direct', driver, t.realPath, false), target };
    }
    // Only an upload that replaces the whole file can be staged; a resume writes in place.
    const whole = intent.offset === 0 && (decision === 'create' || intent.truncate);
    // A staged create may replace a file that appeared meanwhile only where the user may modify it.
    const replace = decision !== 'create' || (!intent.exclusive && this.#paths.allows(t, 'modifyFile'));
    const staging = stagingFor(whole ? this.#uploadMode() : 'direct', driver, t.realPath, replace);
    const direct = decision === 'create' ? { offset: intent.offset, exclusive: true } : { offset: intent.offset, truncate: intent.truncate, mustExist: true };
    const target = await driver.openWrite(staging.path, staging.path === t.realPath ? direct : { truncate: true, exclusive: staging.exclusive });
    return { staging, target };
  }

  /**
   * The one way a transfer starts, for handles and streams alike: decide against what is there
   * (transfer.ts), act on the decision (`open` opens the storage), register the transfer.
   */
  async #startTransfer<T>(
    t: Target,
    intent: TransferIntent,
    open: (decision: TransferDecision, existing: EntryInfo | undefined) => Promise<T>,
    copyFrom?: { readonly path: string; readonly size: number },
  ): Promise<{ transfer: Transfer; opened: T; existing: EntryInfo | undefined }> {
    const place = this.#place(t);
    const { existing, result } = await this.#decideAndAct(t, async (existing) => {
      const decision = decideTransfer(intent, existing, place);
      if (copyFrom) await this.#before('copy', copyFrom.path, { target: t.virtualPath, decision, size: copyFrom.size });
      else await this.#before(intent.write ? 'upload' : 'download', t.virtualPath, { decision, size: existing?.size ?? 0 });
      return { decision, opened: await open(decision, existing) };
    });
    const transfer = new Transfer({
      id: randomUUID(),
      path: t.virtualPath,
      decision: result.decision,
      readable: intent.read,
      writable: intent.write,
      size: intent.truncate ? 0 : (existing?.size ?? 0),
      journal: copyFrom === undefined ? this.#rec.begin(intent.write ? 'upload' : 'download', t.virtualPath) : this.#rec.begin('copy', copyFrom.path, t.virtualPath),
      copy: copyFrom !== undefined,
      limiter: this.#limiter,
      onEnd: (ended) => this.#transfers.delete(ended),
    });
    this.#transfers.add(transfer);
    return { transfer, opened: result.opened, existing };
  }

  #place(t: Target): DecisionPlace {
    return { path: t.virtualPath, capabilities: t.mount.driver.capabilities, require: (operation) => this.#paths.require(t, operation) };
  }

  /**
   * Decides against what is at `t` now, then acts on that decision. The act creates exclusively
   * and modifies without creating, so a file that appeared or vanished after the check makes it
   * fail (`exists`, `not-found`) instead of overwriting or creating what the user may not; the
   * decision is then taken again against what is there now.
   */
  async #decideAndAct<T>(t: Target, act: (existing: EntryInfo | undefined) => Promise<T>): Promise<{ existing: EntryInfo | undefined; result: T }> {
    for (let attempt = 1; ; attempt++) {
      const existing = await this.#paths.entryOrUndefined(t);
      try {
        return { existing, result: await act(existing) };
      } catch (error) {
        const changed = isFerryError(error) && error.kind === (existing ? 'not-found' : 'exists');
        if (!changed || attempt >= DECISION_ATTEMPTS) throw error;
      }
    }
  }

  transfers(): TransferInfo[] {
    return [this.#transfers, ...[...this.#views].map((view) => view.#transfers)].flatMap((registry) => registry.list());
  }

  async stopTransfer(id: string): Promise<boolean> {
    for (const registry of [this.#transfers, ...[...this.#views].map((view) => view.#transfers)]) if (await registry.stop(id)) return true;
    return false;
  }

  #uploadMode(): UploadMode {
    const mode = this.#deps.view.site(this.connection.siteId)?.uploadMode;
    // A mode written by a newer version is unknown here: fall back to the safe default.
    return mode !== undefined && UPLOAD_MODES.includes(mode) ? mode : DEFAULT_UPLOAD_MODE;
  }

  // ---- changes --------------------------------------------------------------------------

  mkdir(path: string): Promise<void> {
    return this.#rec.logged('mkdir', path, async () => {
      const t = await this.#paths.target(path, false);
      this.#paths.refuseVirtual(t, 'create');
      this.#paths.require(t, 'mkdir');
      await this.#before('mkdir', t.virtualPath);
      await t.mount.driver.mkdir(t.realPath);
    });
  }

  rmdir(path: string): Promise<void> {
    return this.#rec.logged('rmdir', path, async () => {
      const t = await this.#paths.target(path, false);
      this.#paths.refuseVirtual(t, 'displace');
      this.#paths.require(t, 'rmdir');
      await this.#before('rmdir', t.virtualPath);
      await t.mount.driver.rmdir(t.realPath);
    });
  }

  remove(path: string): Promise<void> {
    return this.#rec.logged('delete', path, async () => {
      const t = await this.#paths.target(path, false);
      this.#paths.refuseVirtual(t, 'remove');
      const entry = await this.#paths.entry(t);
      if (entry.type === 'dir') throw new FerryError('is-a-directory', 'the path is a directory; remove it as a directory', { detail: path });
      this.#paths.require(t, 'remove');
      await this.#before('delete', t.virtualPath, { size: entry.size });
      await t.mount.driver.remove(t.realPath);
    });
  }

  rename(from: string, to: string, options: { overwrite?: boolean } = {}): Promise<void> {
    return this.#rec.logged(
      'rename',
      from,
      async () => {
        const source = await this.#paths.target(from, false);
        const dest = await this.#paths.target(to, false);
        for (const t of [source, dest]) this.#paths.refuseVirtual(t, 'displace');
        if (source.mount !== dest.mount) {
          throw new FerryError('unsupported', 'cannot move between separately mounted folders; copy the data, then delete the original', {
            detail: `${source.virtualPath} (${source.mount.vfsId}) -> ${dest.virtualPath} (${dest.mount.vfsId})`,
          });
        }
        const entry = await this.#paths.entry(source);
        const operation = entry.type === 'dir' ? 'renameDir' : 'renameFile';
        this.#paths.require(source, operation);
        this.#paths.require(dest, operation);
        this.#refuseMovingRules(source, dest, entry);
        const replaced = await this.#paths.entryOrUndefined(dest);
        if (replaced) {
          if (!options.overwrite) throw new FerryError('exists', 'the destination already exists', { detail: dest.virtualPath });
          this.#paths.require(dest, 'modifyFile');
        }
        await this.#before('rename', source.virtualPath, { target: dest.virtualPath });
        // Replaces only what was checked: a target that appeared meanwhile fails the rename, and
        // replacing it is decided again, as if it had been there.
        try {
          await source.mount.driver.rename(source.realPath, dest.realPath, { overwrite: replaced !== undefined });
        } catch (error) {
          if (replaced || !options.overwrite || !isFerryError(error) || error.kind !== 'exists') throw error;
          this.#paths.require(dest, 'modifyFile');
          await source.mount.driver.rename(source.realPath, dest.realPath, { overwrite: true });
        }
      },
      to,
    );
  }

  copy(from: string, to: string, options: { overwrite?: boolean } = {}): Promise<void> {
    return this.#copy(from, to, Boolean(options.overwrite));
  }

  async #copy(from: string, to: string, overwrite: boolean): Promise<void> {
    const { input, output } = await this.#rec.start('copy', from, async () => {
      const source = await this.#paths.target(from, true);
      const dest = await this.#paths.target(to, true);
      this.#paths.refuseVirtual(dest, 'displace');
      const entry = await this.#paths.entryOrUndefined(source);
      decideTransfer(COPY_SOURCE, entry, this.#place(source));
      const input = await source.mount.driver.openRead(source.realPath);
      try {
        const intent: TransferIntent = { ...COPY_TARGET, exclusive: !overwrite };
        const open = async (decision: TransferDecision, existing: EntryInfo | undefined) => {
          if (existing && entry && sameFile(source, entry, dest, existing)) {
            throw new FerryError('invalid-request', 'the source and the destination are the same file', { detail: `${source.virtualPath} -> ${dest.virtualPath}` });
          }
          return this.#openUpload(dest, intent, decision);
        };
        const { transfer, opened } = await this.#startTransfer(dest, intent, open, { path: source.virtualPath, size: entry?.size ?? 0 });
        const { staging, target } = opened;
        const output = new MeteredWritable(target, transfer, {
          ...(staging.commit ? { commit: staging.commit } : {}),
          keepPartial: staging.keepPartial,
          discard: () => staging.discard().catch((error: unknown) => void this.#rec.fail(error, dest.virtualPath)),
        });
        return { input, output };
      } catch (error) {
        input.destroy();
        throw error;
      }
    });
    try {
      // The transfer writes the copy's line when the output closes, success or failure.
      await pipeline(input, output);
    } catch (error) {
      throw this.#rec.fail(error, from, 'copy');
    }
  }

  /** A directory holding an override or a mount must not carry its content out from under it. */
  #refuseMovingRules(source: Target, dest: Target, entry: EntryInfo): void {
    if (entry.type !== 'dir') return;
    const from = virtualPathOf(source.mount, source.realPath);
    const to = virtualPathOf(dest.mount, dest.realPath);
    if (this.#paths.table.hasRulesBelow(from) || this.#paths.table.hasRulesBelow(to)) {
      throw new FerryError('permission-denied', 'this folder contains folders with their own permissions and cannot be moved', { detail: `${from} -> ${to}` });
    }
  }

  setStat(path: string, changes: SetStatChanges, options: { follow?: boolean } = {}): Promise<void> {
    return this.#rec.logged('setstat', path, async () => {
      const t = await this.#paths.target(path, options.follow ?? true);
      const entry = await this.#paths.entry(t);
      // Storages change a link's target, not the link (there is no lchmod on Linux).
      if (entry.type === 'symlink') throw new FerryError('unsupported', 'changing the attributes of a symbolic link itself is not supported', { detail: t.virtualPath });
      const isDir = entry.type === 'dir';
      this.#paths.require(t, isDir ? 'setStatDir' : 'setStatFile');
      if (changes.size !== undefined) {
        if (isDir) throw new FerryError('is-a-directory', 'the path is a directory', { detail: path });
        this.#paths.require(t, 'modifyFile');
      }
      if (changes.size === undefined && changes.mode === undefined && changes.mtimeMs === undefined && changes.atimeMs === undefined) return;
      await this.#before('setstat', t.virtualPath, { size: entry.size });
      await t.mount.driver.setStat(t.realPath, changes);
    });
  }

  symlink(target: string, path: string): Promise<void> {
    return this.#rec.logged(
      'symlink',
      path,
      async () => {
        const link = await this.#paths.target(path, false);
        this.#paths.refuseVirtual(link, 'create');
        const pointed = normalizeVirtualPath(target, parentOf(link.virtualPath));
        const mount = this.#paths.table.mountOf(pointed);
        if (mount !== link.mount) {
          throw new FerryError('unsupported', 'a link can only point inside the same folder tree', { detail: `${link.virtualPath} -> ${pointed}` });
        }
        this.#paths.require(link, 'symlink');
        await this.#before('symlink', link.virtualPath, { target: pointed });
        await link.mount.driver.symlink(relativeTo(mount.path, pointed), link.realPath);
      },
      target,
    );
  }

  link(existing: string, path: string): Promise<void> {
    return this.#rec.logged(
      'link',
      path,
      async () => {
        const source = await this.#paths.target(existing, false);
        const dest = await this.#paths.target(path, false);
        this.#paths.refuseVirtual(dest, 'create');
        if (source.mount !== dest.mount) throw new FerryError('unsupported', 'a link can only point inside the same folder tree', { detail: `${source.virtualPath} -> ${dest.virtualPath}` });
        this.#paths.require(dest, 'hardlink');
        this.#paths.require(source, 'modifyFile');
        await this.#before('link', dest.virtualPath, { target: source.virtualPath });
        await dest.mount.driver.link(source.realPath, dest.realPath);
      },
      existing,
    );
  }

  /** `release` runs once the session has closed (its place in the SessionRegistry). */
  releaseOnClose(release: () => void): void {
    this.#release = release;
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    // Transfers the protocol never ended: the client went away with them open.
    await this.#transfers.stopAll();
    this.#paths.closed = true;
    if (this.#owner) {
      this.#owner.#views.delete(this);
      return;
    }
    await Promise.allSettled([...this.#views].map((view) => view.close()));
    await Promise.allSettled(this.#paths.table.mounts.map((mount) => mount.driver.close()));
    this.#rec.record('logout', '/', 'ok', { durationMs: this.#deps.now() - this.#loginTime });
    this.#release?.();
  }
}
