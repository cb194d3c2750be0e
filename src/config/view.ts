// The read-only face of the configuration that the data plane (sessions, protocols, VFS) sees.
// It is a frozen snapshot: a config change produces a new view, never mutates an old one, so a
// session that resolved its mounts at login keeps a consistent picture.
import type { Notification } from './model/notification.ts';
import type { Admin, AuditEntry, SuperAdmin } from './model/admin.ts';
import type { GlobalSettings } from './model/settings.ts';
import type { Site } from './model/site.ts';
import type { User } from './model/user.ts';
import type { VfsProfile } from './model/vfs-profile.ts';
import type { ConfigState } from './state.ts';
import { userKey } from './state.ts';

export interface ConfigView {
  readonly revision: number;
  readonly settings: GlobalSettings;
  site(id: string): Site | undefined;
  sites(): readonly Site[];
  user(siteId: string, username: string): User | undefined;
  users(siteId: string): readonly User[];
  vfs(id: string): VfsProfile | undefined;
  vfsProfiles(): readonly VfsProfile[];
  superAdmin(name: string): SuperAdmin | undefined;
  superAdmins(): readonly SuperAdmin[];
  admin(name: string): Admin | undefined;
  admins(): readonly Admin[];
  /** Whether a token id was logged out (and has not expired since). */
  isRevoked(jti: string): boolean;
  /** The newest config writes, oldest first. */
  audit(): readonly AuditEntry[];
  /** Notifications to SuperAdmins, oldest first (ascending id). */
  notifications(): readonly Notification[];
}

/** Where the data plane gets the current view and hears about new ones. */
export interface ConfigSource {
  current(): ConfigView;
  /** Returns an unsubscribe function. */
  subscribe(listener: (view: ConfigView) => void): () => void;
}

/**
 * Freezes a value and everything below it; a part frozen already is skipped (the config store
 * freezes each state apply builds, whose unchanged parts are shared and frozen), so this costs
 * only the new objects.
 */
export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** Own-property lookup: `site('constructor')` must not find Object.prototype's. */
function own<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

function byKey<T>(record: Readonly<Record<string, T>>): T[] {
  // Sorted so every replica lists the same entities in the same order, whatever history
  // (or snapshot) built its state.
  return Object.keys(record)
    .sort()
    .map((key) => record[key] as T);
}

export function createView(state: ConfigState): ConfigView {
  // A frozen state is not copied (the config store freezes what apply builds), so publishing a
  // view after each change does not copy the whole configuration; its parts are frozen in place.
  let frozen: ConfigState;
  if (Object.isFrozen(state)) {
    for (const part of Object.values(state)) deepFreeze(part);
    frozen = state;
  } else {
    frozen = deepFreeze(structuredClone(state));
  }
  const sites = Object.freeze(byKey(frozen.sites));
  const usersBySite = new Map<string, User[]>();
  for (const user of byKey(frozen.users)) {
    const list = usersBySite.get(user.siteId) ?? [];
    list.push(user);
    usersBySite.set(user.siteId, list);
  }
  for (const list of usersBySite.values()) Object.freeze(list);
  const none: readonly User[] = Object.freeze([]);
  const superAdmins = frozen.superAdmins ?? {};
  const admins = frozen.admins ?? {};
  const revoked = new Set((frozen.revokedTokens ?? []).map((token) => token.jti));
  let profiles: readonly VfsProfile[] | undefined;
  const superAdminList = Object.freeze(byKey(superAdmins));
  const adminList = Object.freeze(byKey(admins));
  return Object.freeze({
    revision: frozen.appliedIndex,
    settings: frozen.settings,
    site: (id: string) => own(frozen.sites, id),
    sites: () => sites,
    user: (siteId: string, username: string) => own(frozen.users, userKey(siteId, username)),
    users: (siteId: string) => usersBySite.get(siteId) ?? none,
    vfs: (id: string) => own(frozen.vfs, id),
    vfsProfiles: () => (profiles ??= Object.freeze(byKey(frozen.vfs))),
    superAdmin: (name: string) => own(superAdmins, name),
    superAdmins: () => superAdminList,
    admin: (name: string) => own(admins, name),
    admins: () => adminList,
    isRevoked: (jti: string) => revoked.has(jti),
    audit: () => frozen.audit ?? [],
    notifications: () => frozen.notifications ?? [],
  });
}
