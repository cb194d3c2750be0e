// Client path -> Target: normalized (vfs/path.ts), routed through the mount table, symlinks
// resolved by the driver where needed, permissions of the place the path really leads to.
import type { Mount, MountTable, PermissionSet } from '../vfs/mounts.ts';
import { baseName, joinPath, normalizeVirtualPath, parentOf } from '../vfs/path.ts';
import type { EntryInfo } from '../vfs/vfs.ts';
import { FerryError, isFerryError } from './errors.ts';
import { allowsOperation, requirePermission } from './permissions.ts';
import type { Operation } from './permissions.ts';

export interface Target {
  readonly virtualPath: string;
  readonly mount: Mount;
  /** Driver path with symlinks resolved (the last component only when following). */
  readonly realPath: string;
  readonly permissions: PermissionSet;
  readonly isMountPoint: boolean;
  readonly isMountParent: boolean;
}

export class PathResolver {
  readonly table: MountTable;
  readonly #syntheticTime: number;
  closed = false;

  constructor(table: MountTable, syntheticTime: number) {
    this.table = table;
    this.#syntheticTime = syntheticTime;
  }

  async target(path: string, follow: boolean): Promise<Target> {
    if (this.closed) throw new FerryError('internal', 'the session is closed', { detail: path });
    const r = this.table.resolve(normalizeVirtualPath(path));
    const { mount, driverPath } = r;
    let realPath = driverPath;
    let permissions = r.permissions;
    if (mount.driver.capabilities.symlinks && driverPath !== '/') {
      const driver = mount.driver;
      realPath = follow ? await driver.realpath(driverPath) : joinPath(await driver.realpath(parentOf(driverPath)), baseName(driverPath));
      if (mount.needsRealpath) permissions = this.table.permissionsAt(mount, realPath);
    }
    return { virtualPath: r.virtualPath, mount, realPath, permissions, isMountPoint: r.isMountPoint, isMountParent: r.isMountParent };
  }

  /** The Target of a mount point or mount parent, which has no symlinks to resolve. */
  mountTarget(virtualPath: string): Target {
    const r = this.table.resolve(virtualPath);
    return { ...r, realPath: r.driverPath };
  }

  /**
   * `/`, a mount point and a folder above one are made by the mount table, not the storage, and
   * every operation that would change one is refused here, with the kind the same change meets
   * at a real folder of that name: creating there is `exists`, removing it as a file
   * `is-a-directory`. Displacing it (removing the folder, moving it, or putting something in its
   * place), which a real folder would allow, is `permission-denied`.
   */
  refuseVirtual(t: Target, change: 'create' | 'remove' | 'displace'): void {
    if (t.virtualPath !== '/' && !t.isMountPoint && !t.isMountParent) return;
    const detail = { detail: t.virtualPath };
    if (change === 'create') throw new FerryError('exists', 'a file or directory with that name already exists', detail);
    if (change === 'remove') throw new FerryError('is-a-directory', 'the path is a directory', detail);
    throw new FerryError('permission-denied', 'a virtual folder (or a folder containing one) cannot be removed, renamed or replaced', detail);
  }

  require(t: Target, operation: Operation): void {
    requirePermission(t.permissions, operation, t.virtualPath);
  }

  allows(t: Target, operation: Operation): boolean {
    return allowsOperation(t.permissions, operation);
  }

  synthetic(name: string): EntryInfo {
    return { name, type: 'dir', size: 0, mtimeMs: this.#syntheticTime, atimeMs: this.#syntheticTime, mode: 0o755 };
  }

  /** lstat of the target's real path; a mount parent missing on the home storage is a directory. */
  async entry(t: Target): Promise<EntryInfo> {
    const name = baseName(t.virtualPath);
    try {
      return { ...(await t.mount.driver.stat(t.realPath)), name };
    } catch (error) {
      if (t.isMountParent && isFerryError(error) && error.kind === 'not-found') return this.synthetic(name);
      throw error;
    }
  }

  async entryOrUndefined(t: Target): Promise<EntryInfo | undefined> {
    try {
      return await this.entry(t);
    } catch (error) {
      if (isFerryError(error) && error.kind === 'not-found') return undefined;
      throw error;
    }
  }
}
