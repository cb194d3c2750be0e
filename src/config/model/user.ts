import type { Permission, Subsystem } from './permissions.ts';

export const AUTH_METHODS = ['password', 'publickey', 'keyboard-interactive'] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];

/**
 * An argon2id PHC string as hashPassword() writes it: memory, passes, parallelism, salt and
 * tag in groups 1 to 5 (unpadded base64). validate checks its form, auth/passwords.ts reads it.
 */
export const PASSWORD_HASH_PATTERN =
  /^\$argon2id\$v=19\$m=(\d{1,10}),t=(\d{1,10}),p=(\d{1,10})\$([A-Za-z0-9+/]{11,128})\$([A-Za-z0-9+/]{16,256})$/;

/** A VFS mounted at a virtual path inside the user's tree, with its own permissions. */
export interface VirtualFolder {
  /** POSIX, root-based virtual path, e.g. `/shared/reports`. Never `/`. */
  readonly path: string;
  readonly vfsId: string;
  readonly permissions: readonly Permission[];
}

/** Permissions replacing the inherited ones on a physical subfolder of the home VFS. */
export interface PermissionOverride {
  /** POSIX, root-based path relative to the home VFS root, e.g. `/incoming`. */
  readonly path: string;
  readonly permissions: readonly Permission[];
}

export interface User {
  /** Lowercase, no spaces; unique within its site. */
  readonly username: string;
  readonly siteId: string;
  readonly enabled: boolean;
  readonly description: string;
  /**
   * PHC-format memory-hard hash (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`); never the
   * password. Empty string: no password set (password auth always fails).
   */
  readonly passwordHash: string;
  /** OpenSSH `authorized_keys` lines (type, base64 blob, optional comment). */
  readonly authorizedKeys: readonly string[];
  readonly authMethods: readonly AuthMethod[];
  /**
   * Multi-step login: every one of these methods must pass, in this order (OpenSSH's
   * AuthenticationMethods "publickey,password"); each is also in authMethods. Absent or empty:
   * any one of authMethods is enough.
   */
  readonly authSteps?: readonly AuthMethod[];
  readonly subsystems: readonly Subsystem[];
  /** Permissions at the root of the home VFS, inherited by every subfolder not overridden. */
  readonly permissions: readonly Permission[];
  readonly homeVfsId: string;
  readonly virtualFolders: readonly VirtualFolder[];
  readonly permissionOverrides: readonly PermissionOverride[];
}
