import type { GlobalSettings } from './model/settings.ts';
import type { Site } from './model/site.ts';
import type { User } from './model/user.ts';
import type { VfsProfile } from './model/vfs-profile.ts';

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
