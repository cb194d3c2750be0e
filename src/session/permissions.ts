// What each Session operation needs: policy in one table (STYLE.md 3). Every method of the
// Session names its row; nothing else in the code decides which permission applies.
//
// The permission set consulted is the one of the path the operation names (after symlinks are
// resolved, where permissions vary inside the mount): a new entry inherits its parent's set,
// and an overridden folder itself carries its override, so a read-only override also protects
// the folder from being deleted or renamed away.
import type { Permission } from '../config/model/permissions.ts';
import { FerryError } from './errors.ts';

export const OPERATIONS = {
  /** Metadata of a path the client names: every client needs it to navigate. */
  stat: null,
  realpath: null,
  readlink: null,
  statvfs: null,
  list: 'dirList',
  mkdir: 'dirMake',
  rmdir: 'dirDelete',
  renameDir: 'dirRename',
  renameFile: 'fileRename',
  remove: 'fileDelete',
  setStatDir: 'dirEditMetadata',
  setStatFile: 'fileEditMetadata',
  /** Download, or reading through an SFTP handle. */
  readFile: 'fileGet',
  checksum: 'fileGet',
  /** Creating a file that does not exist yet. */
  createFile: 'filePut',
  /** Writing to an existing file: overwrite, truncate, append, resume, or being replaced by a rename. */
  modifyFile: 'fileModify',
  symlink: 'symlink',
  /** A hard link's new name; the existing file also needs modifyFile (it shares its content). */
  hardlink: 'symlink',
} as const satisfies Record<string, Permission | null>;

export type Operation = keyof typeof OPERATIONS;

export function allowsOperation(permissions: ReadonlySet<Permission>, operation: Operation): boolean {
  const needed = OPERATIONS[operation];
  return needed === null || permissions.has(needed);
}

export function requirePermission(permissions: ReadonlySet<Permission>, operation: Operation, virtualPath: string): void {
  if (allowsOperation(permissions, operation)) return;
  const needed = OPERATIONS[operation];
  throw new FerryError('permission-denied', `permission denied: this operation needs the ${needed} permission here`, {
    detail: `${operation} on ${virtualPath} needs ${needed}`,
  });
}
