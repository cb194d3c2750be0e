// The mount router: a user's tree is the home VFS at "/" plus virtual folders mounted at their
// paths, each with its own permissions; permission overrides apply to physical subfolders of the
// home VFS (POSIX, root-based). Built once at login (a frozen table), consulted without I/O on
// every operation.
//
// Rules:
// - A virtual path belongs to the mount with the longest matching mount path.
// - Inside the home mount, the override with the longest path that equals or contains the
//   driver path wins and is inherited by everything below it; elsewhere the user's permissions
//   apply. A virtual folder has one permission set for its whole tree.
// - Parent directories of a mount path that do not exist on the home storage are shown as
//   directories ("synthetic"), so clients can navigate to the mount.
// - Home storage hidden under a mount path is unreachable ("shadowed"); a symlink resolving
//   into it is refused (see permissionsAt).
// - Mount points and their parents cannot be removed, renamed or replaced, and a directory with
//   a mount or an override below it cannot be moved (it would carry content out from under its
//   rules). Rename across mounts is refused with `unsupported` ("copy, then delete"), decided
//   over a silent copy: a copy of a large tree is not atomic, can half-fail, and would turn a
//   cheap rename into an unbounded transfer the client did not ask for.
import type { Permission } from '../config/model/permissions.ts';
import type { PermissionOverride } from '../config/model/user.ts';
import { FerryError } from './errors.ts';
import { baseName, isCanonicalPath, isWithin, joinPath, parentOf, relativeTo } from './path.ts';
import type { VfsDriver } from './vfs.ts';

export type PermissionSet = ReadonlySet<Permission>;

export interface Mount {
  /** Canonical virtual path; "/" for the home VFS. */
  readonly path: string;
  /** VFS profile id, for logs. */
  readonly vfsId: string;
  readonly driver: VfsDriver;
  readonly permissions: PermissionSet;
  /** Home only; longest path first. Paths are driver paths of this mount. */
  readonly overrides: readonly { readonly path: string; readonly permissions: PermissionSet }[];
  /**
   * Permissions differ inside this mount (overrides, or other mounts nested below it), so a
   * symlink could lead somewhere with other rights: the Session resolves it before checking.
   */
  readonly needsRealpath: boolean;
}

export interface Resolution {
  readonly virtualPath: string;
  readonly mount: Mount;
  readonly driverPath: string;
  /** Permissions by name, before any symlink is resolved. */
  readonly permissions: PermissionSet;
  /** The path is exactly a mount path (other than "/"). */
  readonly isMountPoint: boolean;
  /** The path is a parent directory of a mount path (other than "/"). */
  readonly isMountParent: boolean;
}

export interface MountSpec {
  readonly path: string;
  readonly vfsId: string;
  readonly driver: VfsDriver;
  readonly permissions: readonly Permission[];
}

function misconfigured(detail: string): FerryError {
  return new FerryError('misconfigured', 'your account\'s folders are misconfigured; ask your administrator', { detail });
}

export class MountTable {
  /** Longest path first. */
  readonly mounts: readonly Mount[];
  readonly #parents: ReadonlySet<string>;

  private constructor(mounts: Mount[]) {
    this.mounts = Object.freeze(mounts.sort((a, b) => b.path.length - a.path.length));
    const parents = new Set<string>();
    for (const mount of mounts) {
      for (let p = parentOf(mount.path); p !== '/'; p = parentOf(p)) parents.add(p);
    }
    this.#parents = parents;
  }

  /** Validates and freezes a user's mounts. Throws `misconfigured` on a bad configuration. */
  static build(home: MountSpec & { readonly overrides: readonly PermissionOverride[] }, folders: readonly MountSpec[]): MountTable {
    const seen = new Set<string>(['/']);
    for (const folder of folders) {
      if (!isCanonicalPath(folder.path) || folder.path === '/') throw misconfigured(`virtual folder path ${JSON.stringify(folder.path)}`);
      if (seen.has(folder.path)) throw misconfigured(`virtual folder ${folder.path} mounted twice`);
      seen.add(folder.path);
    }
    const overrides = home.overrides.map((o) => {
      if (!isCanonicalPath(o.path)) throw misconfigured(`permission override path ${JSON.stringify(o.path)}`);
      return Object.freeze({ path: o.path, permissions: new Set(o.permissions) as PermissionSet });
    });
    overrides.sort((a, b) => b.path.length - a.path.length);
    const specs = [{ ...home, path: '/' }, ...folders];
    const mounts = specs.map((spec): Mount => {
      const nested = specs.some((other) => other.path !== spec.path && isWithin(spec.path, other.path));
      const own = spec.path === '/' ? overrides : [];
      return Object.freeze({
        path: spec.path,
        vfsId: spec.vfsId,
        driver: spec.driver,
        permissions: new Set(spec.permissions) as PermissionSet,
        overrides: Object.freeze(own),
        needsRealpath: nested || own.length > 0,
      });
    });
    return new MountTable(mounts);
  }

  /** The mount a canonical virtual path belongs to. */
  mountOf(virtualPath: string): Mount {
    // The home mount at "/" always matches, so this never falls through.
    return this.mounts.find((m) => isWithin(m.path, virtualPath)) as Mount;
  }

  resolve(virtualPath: string): Resolution {
    const mount = this.mountOf(virtualPath);
    const driverPath = relativeTo(mount.path, virtualPath);
    return {
      virtualPath,
      mount,
      driverPath,
      permissions: permissionsByName(mount, driverPath),
      isMountPoint: mount.path !== '/' && driverPath === '/',
      isMountParent: this.#parents.has(virtualPath),
    };
  }

  /**
   * Permissions at a driver path of `mount` after symlinks were resolved. A path that leads
   * under another mount's path is home (or outer) storage the user cannot see: refused.
   */
  permissionsAt(mount: Mount, driverPath: string): PermissionSet {
    if (this.mountOf(virtualPathOf(mount, driverPath)) !== mount) {
      throw new FerryError('permission-denied', 'the path leads into a hidden location through a symbolic link', {
        detail: `${mount.vfsId}:${driverPath} is shadowed by a mount`,
      });
    }
    return permissionsByName(mount, driverPath);
  }

  /** Mount paths and mount parents directly inside `virtualPath` (shown as directories). */
  childMounts(virtualPath: string): { name: string; mount: Mount | undefined }[] {
    const children = new Map<string, Mount | undefined>();
    for (const mount of this.mounts) {
      if (mount.path !== '/' && parentOf(mount.path) === virtualPath) children.set(baseName(mount.path), mount);
    }
    for (const parent of this.#parents) {
      if (parentOf(parent) === virtualPath && !children.has(baseName(parent))) children.set(baseName(parent), undefined);
    }
    return [...children].map(([name, mount]) => ({ name, mount })).sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /**
   * Does anything with its own rules (a mount or an override) sit strictly below `virtualPath`?
   * Moving such a directory would carry content out from under its rules.
   */
  hasRulesBelow(virtualPath: string): boolean {
    const below = (p: string) => p !== virtualPath && isWithin(virtualPath, p);
    if (this.mounts.some((m) => m.path !== '/' && below(m.path))) return true;
    const home = this.mounts[this.mounts.length - 1] as Mount;
    return this.mountOf(virtualPath) === home && home.overrides.some((o) => below(o.path));
  }
}

function permissionsByName(mount: Mount, driverPath: string): PermissionSet {
  for (const override of mount.overrides) {
    if (isWithin(override.path, driverPath)) return override.permissions;
  }
  return mount.permissions;
}

/** Virtual path of a driver path of `mount`. */
export function virtualPathOf(mount: Mount, driverPath: string): string {
  if (mount.path === '/') return driverPath;
  return driverPath === '/' ? mount.path : joinPath(mount.path, driverPath.slice(1));
}
