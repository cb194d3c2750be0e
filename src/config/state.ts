import type { Admin, AuditEntry, RevokedToken, SuperAdmin } from './model/admin.ts';
import type { Notification } from './model/notification.ts';
import type { GlobalSettings } from './model/settings.ts';
import type { Site } from './model/site.ts';
import type { User } from './model/user.ts';
import type { VfsProfile } from './model/vfs-profile.ts';
import type { ValidationError } from './schema.ts';

/**
 * How many recently applied command ids the state remembers. A proposer that lost its answer
 * (a leader change, a dropped connection) retries with the same id within seconds; a window of
 * this many commands makes the retry apply once and report the first outcome.
 */
export const RECENT_COMMANDS_WINDOW = 1024;
/** Errors kept per remembered outcome: enough to report it, bounded so the state stays small. */
export const RECENT_ERRORS_KEPT = 8;

/** The outcome of a command applied at `index`, kept for deduplication. */
export interface RecentCommand {
  readonly id: string;
  readonly index: number;
  readonly ok: boolean;
  readonly errors?: readonly ValidationError[];
}

/**
 * The whole configuration: what applying the command log from the start produces.
 * Plain JSON data (no Maps, no classes) so snapshots serialize canonically.
 */
export interface ConfigState {
  /** Index of the last log entry applied (0: none). */
  readonly appliedIndex: number;
  readonly settings: GlobalSettings;
  readonly sites: Readonly<Record<string, Site>>;
  /** Keyed by `${siteId}/${username}`. */
  readonly users: Readonly<Record<string, User>>;
  readonly vfs: Readonly<Record<string, VfsProfile>>;
  /**
   * Oldest first, at most RECENT_COMMANDS_WINDOW; absent in snapshots written before commands
   * were deduplicated (read as empty).
   */
  readonly recentCommands?: readonly RecentCommand[];
  /** Keyed by name. Absent in snapshots written before the admin API (read as empty). */
  readonly superAdmins?: Readonly<Record<string, SuperAdmin>>;
  readonly admins?: Readonly<Record<string, Admin>>;
  /** Logged-out tokens not expired yet, ordered by expiry. */
  readonly revokedTokens?: readonly RevokedToken[];
  /** The newest AUDIT_KEPT config writes, oldest first. */
  readonly audit?: readonly AuditEntry[];
  /** The newest NOTIFICATIONS_KEPT notifications to SuperAdmins, oldest first. */
  readonly notifications?: readonly Notification[];
}

export function userKey(siteId: string, username: string): string {
  return `${siteId}/${username}`;
}

/**
 * Whether `record` holds `key` itself. Plain `record[key]` would find Object.prototype members
 * for ids such as `constructor` or `toString`, which are valid ids.
 */
export function has(record: Readonly<Record<string, unknown>>, key: string): boolean {
  return Object.hasOwn(record, key);
}
