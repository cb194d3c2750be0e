// The typed commands that produce all configuration. A command is what a proposer (admin API,
// CLI, first start) wants to happen; `validate` checks it against the current state before it
// is appended to the log and `apply` replays it, deterministically, on every replica.
// Ids and timestamps live in the envelope because `apply` may not invent them.
import type { Admin, SuperAdmin } from './model/admin.ts';
import { ADMIN_NAME, ADMIN_SCHEMA, REVOKED_TOKEN_SCHEMA, SUPERADMIN_SCHEMA } from './model/admin.ts';
import type { GlobalSettings } from './model/settings.ts';
import type { Site } from './model/site.ts';
import type { User } from './model/user.ts';
import type { ConfigState } from './state.ts';
import type { NewNotification } from './model/notification.ts';
import { NEW_NOTIFICATION_SCHEMA, NOTIFICATION_SCHEMA } from './model/notification.ts';
import type { VfsProfile } from './model/vfs-profile.ts';
import { ID, LIMITS, SETTINGS_PATCH_SHAPE, SITE_SHAPE, STATE_SHAPE, USER_SHAPE, VFS_SHAPE } from './shapes.ts';
import { arr, check, fieldPath, int, isPlainObject, literal, obj, str } from './schema.ts';
import type { Strength, TSchema, ValidationError } from './schema.ts';

export interface CommandEnvelope {
  /** Chosen by the proposer (`newId()` from ids.ts); unique per command. */
  readonly id: string;
  /** Milliseconds since the epoch on the proposer's clock; `apply` never reads a clock. */
  readonly at: number;
  /** Who asked: `cli`, `system`, `admin:<name>` ... (audit trail). */
  readonly actor: string;
  /**
   * The command format this command was written in (COMMAND_FORMAT when proposed; absent in
   * entries written before formats were numbered, which are format 1). `apply` refuses a format
   * it does not know instead of half-understanding it.
   */
  readonly format?: number;
}

/** The command format this code writes and the newest it applies. */
export const COMMAND_FORMAT = 1;

/**
 * Semantics (validate.ts refuses anything else, with a path and what to do):
 * - `*.put` creates or replaces the whole entity (keyed by id; users by site + username).
 * - `site.delete` / `vfs.delete` are refused while users still reference them (named).
 * - `user.delete` / `*.delete` of something absent is refused, not a silent no-op.
 * - `users.import` creates new users (and VFS profiles) all together or not at all.
 * - `settings.update` merges the given settings over the current ones.
 * - `superadmin.delete` of the last enabled SuperAdmin is refused (nobody could administer).
 * - `token.revoke` remembers a logged-out token until it expires (at most REVOKED_TOKENS_KEPT).
 * - `notification.add` keeps the newest NOTIFICATIONS_KEPT (its id is the index it applies at);
 *   `notification.delete` of an absent id is refused; `notifications.clear` drops them all.
 * - `state.restore` replaces settings, sites, users, VFS profiles, SuperAdmins and Admins with a
 *   backup's (one command, so every replica switches at the same index); the log's own
 *   bookkeeping (revoked tokens, audit, recent command ids) is this cluster's and is kept.
 */
export type CommandBody =
  | { readonly type: 'settings.update'; readonly settings: Partial<GlobalSettings> }
  | { readonly type: 'site.put'; readonly site: Site }
  | { readonly type: 'site.delete'; readonly siteId: string }
  | { readonly type: 'vfs.put'; readonly vfs: VfsProfile }
  | { readonly type: 'vfs.delete'; readonly vfsId: string }
  | { readonly type: 'user.put'; readonly user: User }
  | { readonly type: 'user.delete'; readonly siteId: string; readonly username: string }
  | {
      readonly type: 'users.import';
      readonly siteId: string;
      /** New users only: importing over an existing user is refused (all or nothing). */
      readonly users: readonly User[];
      /** VFS profiles created together with the users (CSV `--makevfs`). */
      readonly vfs: readonly VfsProfile[];
    }
  | { readonly type: 'superadmin.put'; readonly superAdmin: SuperAdmin }
  | { readonly type: 'superadmin.delete'; readonly name: string }
  | { readonly type: 'admin.put'; readonly admin: Admin }
  | { readonly type: 'admin.delete'; readonly name: string }
  | { readonly type: 'token.revoke'; readonly jti: string; readonly expiresAt: number }
  | { readonly type: 'state.restore'; readonly state: ConfigState }
  | { readonly type: 'notification.add'; readonly notification: NewNotification }
  | { readonly type: 'notification.delete'; readonly notificationId: number }
  | { readonly type: 'notifications.clear' };

export type Command = CommandEnvelope & CommandBody;
export type CommandType = CommandBody['type'];

const ENVELOPE = {
  id: str({ min: 1, max: 64, pattern: /^[A-Za-z0-9_-]+$/, hint: 'must be 1-64 letters, digits, "_" or "-" (use newId())' }),
  at: int(0, 8_640_000_000_000_000),
  actor: str({ min: 1, max: 256, line: true }),
  format: int(1, Number.MAX_SAFE_INTEGER),
};

const BODIES: Readonly<Record<CommandType, Record<string, TSchema>>> = {
  'settings.update': { settings: SETTINGS_PATCH_SHAPE },
  'site.put': { site: SITE_SHAPE },
  'site.delete': { siteId: ID },
  'vfs.put': { vfs: VFS_SHAPE },
  'vfs.delete': { vfsId: ID },
  'user.put': { user: USER_SHAPE },
  'user.delete': { siteId: ID, username: str({ min: 1, max: 64, line: true }) },
  'users.import': { siteId: ID, users: arr(USER_SHAPE, LIMITS.importUsers), vfs: arr(VFS_SHAPE, LIMITS.importUsers) },
  'superadmin.put': { superAdmin: SUPERADMIN_SCHEMA },
  'superadmin.delete': { name: ADMIN_NAME },
  'admin.put': { admin: ADMIN_SCHEMA },
  'admin.delete': { name: ADMIN_NAME },
  'token.revoke': REVOKED_TOKEN_SCHEMA.properties,
  'state.restore': { state: STATE_SHAPE },
  'notification.add': { notification: NEW_NOTIFICATION_SCHEMA },
  'notification.delete': { notificationId: NOTIFICATION_SCHEMA.properties.id },
  'notifications.clear': {},
};

export const COMMAND_TYPES = Object.keys(BODIES) as readonly CommandType[];

/** One schema per command type (the envelope, the fixed `type`, the body). */
export const COMMAND_SCHEMAS = new Map<string, TSchema>(
  COMMAND_TYPES.map((type) => [type, obj({ ...ENVELOPE, type: literal(type), ...BODIES[type] }, ['format'])]),
);

/**
 * Shape check of a command of unknown origin: with every bound and pattern (`policy`) before
 * proposing, or only what reading it safely needs (`structure`) for a committed entry.
 */
export function checkCommandShape(value: unknown, strength: Strength = 'policy'): ValidationError[] {
  if (!isPlainObject(value)) return [{ path: '', message: 'a command must be a JSON object' }];
  const type = value.type;
  const shape = typeof type === 'string' ? COMMAND_SCHEMAS.get(type) : undefined;
  if (!shape) {
    return [{ path: fieldPath('', 'type'), message: `must be one of ${COMMAND_TYPES.join(', ')}` }];
  }
  return check(shape, value, '', strength);
}
