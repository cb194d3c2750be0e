// The deterministic transition function of the configuration state machine. Every replica
// applies the same log in the same order and must reach byte-identical state, so `apply` reads
// no clock, draws no randomness and does no I/O: ids and timestamps come in the command.
// Shape (etcd raft confchange): copy, change, check, return. It checks first and only then
// builds the new state, so it never throws halfway; a refused command still consumes its index.
// It checks only what replays the same on every code version: the command format, a repeated
// command id, and references to the state (validate.ts `preconditions`); policy was checked
// before the command was proposed.
import type { Command } from './commands.ts';
import { COMMAND_FORMAT } from './commands.ts';
import type { AuditEntry, RevokedToken } from './model/admin.ts';
import { AUDIT_KEPT, REVOKED_TOKENS_KEPT } from './model/admin.ts';
import { NOTIFICATIONS_KEPT } from './model/notification.ts';
import type { ValidationError } from './schema.ts';
import type { ConfigState, RecentCommand } from './state.ts';
import { RECENT_COMMANDS_WINDOW, RECENT_ERRORS_KEPT, userKey } from './state.ts';
import { preconditions } from './validate.ts';

/** One committed log entry as the config state machine sees it. */
export interface ConfigLogEntry {
  readonly index: number;
  readonly term: number;
  readonly command: Command;
}

/** `duplicateOf`: the command id was applied already, at that index; this is its first outcome. */
export type ApplyResult =
  | { readonly ok: true; readonly duplicateOf?: number }
  | { readonly ok: false; readonly errors: readonly ValidationError[]; readonly duplicateOf?: number };

export interface ApplyOutcome {
  readonly state: ConfigState;
  readonly result: ApplyResult;
}

export function apply(state: ConfigState, entry: ConfigLogEntry): ApplyOutcome {
  if (!Number.isSafeInteger(entry.index) || entry.index <= state.appliedIndex) {
    // A replica applying an old index twice is a bug in the driver, not a bad command: refuse
    // and leave the state exactly as it is.
    const message = `entry ${entry.index} is not after the applied index ${state.appliedIndex}`;
    return { state, result: { ok: false, errors: [{ path: '', message }] } };
  }
  const first = findRecent(state, entry.command.id);
  if (first) return { state: { ...state, appliedIndex: entry.index }, result: { ...outcomeOf(first), duplicateOf: first.index } };
  let errors: readonly ValidationError[];
  try {
    errors = formatProblem(entry.command) ?? preconditions(state, entry.command);
  } catch (error) {
    errors = [{ path: '', message: `checking the command failed unexpectedly: ${String(error)}` }];
  }
  const result: ApplyResult = errors.length > 0 ? { ok: false, errors } : { ok: true };
  const changed = errors.length > 0 ? { ...state, appliedIndex: entry.index } : change(state, entry.command, entry.index);
  return { state: audited(remember(changed, entry.command.id, entry.index, result), entry, result.ok), result };
}

/** The audit trail: who asked for what and whether it applied; never a secret (only the target's name). */
function audited(state: ConfigState, entry: ConfigLogEntry, ok: boolean): ConfigState {
  const { command } = entry;
  const record: AuditEntry = { index: entry.index, at: command.at, actor: command.actor, type: command.type, target: auditTarget(command), ok };
  const audit = state.audit ?? [];
  const kept = audit.length >= AUDIT_KEPT ? audit.slice(audit.length - AUDIT_KEPT + 1) : audit;
  return { ...state, audit: [...kept, record] };
}

export function auditTarget(command: Command): string {
  switch (command.type) {
    case 'settings.update':
      return `settings ${Object.keys(command.settings).sort().join(',')}`;
    case 'site.put':
      return `site ${command.site.id}`;
    case 'site.delete':
      return `site ${command.siteId}`;
    case 'vfs.put':
      return `vfs ${command.vfs.id}`;
    case 'vfs.delete':
      return `vfs ${command.vfsId}`;
    case 'user.put':
      return `user ${command.user.siteId}/${command.user.username}`;
    case 'user.delete':
      return `user ${command.siteId}/${command.username}`;
    case 'users.import':
      return `users ${command.siteId} (${command.users.length})`;
    case 'superadmin.put':
      return `superadmin ${command.superAdmin.name}`;
    case 'superadmin.delete':
      return `superadmin ${command.name}`;
    case 'admin.put':
      return `admin ${command.admin.name}`;
    case 'admin.delete':
      return `admin ${command.name}`;
    case 'token.revoke':
      return `token ${command.jti}`;
    case 'notification.add':
      return `notification ${command.notification.kind} ${command.notification.subject}`;
    case 'notification.delete':
      return `notification ${command.notificationId}`;
    case 'notifications.clear':
      return 'notifications (all)';
    case 'state.restore':
      return `state restored (${Object.keys(command.state.sites).length} sites, ${Object.keys(command.state.users).length} users)`;
  }
}

/** Looks up a command id among the recent ones (newest last, so search from the end). */
export function findRecent(state: ConfigState, id: string): RecentCommand | undefined {
  const recent = state.recentCommands ?? [];
  for (let i = recent.length - 1; i >= 0; i--) if (recent[i]!.id === id) return recent[i];
  return undefined;
}

export function outcomeOf(recent: RecentCommand): ApplyResult {
  return recent.ok ? { ok: true } : { ok: false, errors: recent.errors ?? [] };
}

function remember(state: ConfigState, id: string, index: number, result: ApplyResult): ConfigState {
  const entry: RecentCommand = result.ok ? { id, index, ok: true } : { id, index, ok: false, errors: result.errors.slice(0, RECENT_ERRORS_KEPT) };
  const recent = state.recentCommands ?? [];
  const kept = recent.length >= RECENT_COMMANDS_WINDOW ? recent.slice(recent.length - RECENT_COMMANDS_WINDOW + 1) : recent;
  return { ...state, recentCommands: [...kept, entry] };
}

/** A format this code does not know is refused, not half-understood. */
function formatProblem(command: Command): ValidationError[] | undefined {
  const format = command.format ?? 1;
  if (format >= 1 && format <= COMMAND_FORMAT) return undefined;
  return [{ path: 'format', message: `command format ${format} is not one this node applies (1-${COMMAND_FORMAT}); upgrade this node to the version that proposed it` }];
}

/** Applies a command that passed validation; returns a new state sharing unchanged parts. */
function change(state: ConfigState, command: Command, appliedIndex: number): ConfigState {
  switch (command.type) {
    case 'settings.update':
      return { ...state, appliedIndex, settings: { ...state.settings, ...defined(command.settings) } };
    case 'site.put':
      return { ...state, appliedIndex, sites: { ...state.sites, [command.site.id]: clone(command.site) } };
    case 'site.delete':
      return { ...state, appliedIndex, sites: without(state.sites, command.siteId) };
    case 'vfs.put':
      return { ...state, appliedIndex, vfs: { ...state.vfs, [command.vfs.id]: clone(command.vfs) } };
    case 'vfs.delete':
      return { ...state, appliedIndex, vfs: without(state.vfs, command.vfsId) };
    case 'user.put': {
      const key = userKey(command.user.siteId, command.user.username);
      return { ...state, appliedIndex, users: { ...state.users, [key]: clone(command.user) } };
    }
    case 'user.delete':
      return { ...state, appliedIndex, users: without(state.users, userKey(command.siteId, command.username)) };
    case 'superadmin.put':
      return { ...state, appliedIndex, superAdmins: { ...state.superAdmins, [command.superAdmin.name]: clone(command.superAdmin) } };
    case 'superadmin.delete':
      return { ...state, appliedIndex, superAdmins: without(state.superAdmins ?? {}, command.name) };
    case 'admin.put':
      return { ...state, appliedIndex, admins: { ...state.admins, [command.admin.name]: clone(command.admin) } };
    case 'admin.delete':
      return { ...state, appliedIndex, admins: without(state.admins ?? {}, command.name) };
    case 'token.revoke':
      return { ...state, appliedIndex, revokedTokens: revoke(state.revokedTokens ?? [], command.jti, command.expiresAt, command.at) };
    case 'notification.add':
    case 'notification.delete':
    case 'notifications.clear':
      return { ...state, appliedIndex, notifications: notificationsAfter(state.notifications ?? [], command, appliedIndex) };
    case 'state.restore': {
      const restored = clone(command.state);
      return {
        ...state,
        appliedIndex,
        settings: restored.settings,
        sites: restored.sites,
        users: restored.users,
        vfs: restored.vfs,
        superAdmins: restored.superAdmins ?? {},
        admins: restored.admins ?? {},
      };
    }
    case 'users.import': {
      const users = { ...state.users };
      for (const user of command.users) users[userKey(user.siteId, user.username)] = clone(user);
      const vfs = { ...state.vfs };
      for (const profile of command.vfs) vfs[profile.id] = clone(profile);
      return { ...state, appliedIndex, users, vfs };
    }
  }
}

/** The bounded notification list after one notification command; a new one's id is its index. */
function notificationsAfter(kept: NonNullable<ConfigState['notifications']>, command: Command, index: number): NonNullable<ConfigState['notifications']> {
  switch (command.type) {
    case 'notification.add': {
      const trimmed = kept.length >= NOTIFICATIONS_KEPT ? kept.slice(kept.length - NOTIFICATIONS_KEPT + 1) : kept;
      return [...trimmed, { id: index, at: command.at, ...command.notification }];
    }
    case 'notification.delete':
      return kept.filter((n) => n.id !== command.notificationId);
    default:
      return [];
  }
}

/**
 * Adds a revocation and forgets those that expired by the command's time (a token past its
 * expiry is refused anyway). Ordered by expiry, so the bound drops the nearest-to-harmless first.
 */
function revoke(revoked: readonly RevokedToken[], jti: string, expiresAt: number, now: number): RevokedToken[] {
  const live = revoked.filter((token) => token.expiresAt > now && token.jti !== jti);
  live.push({ jti, expiresAt });
  live.sort((a, b) => a.expiresAt - b.expiresAt || (a.jti < b.jti ? -1 : a.jti > b.jti ? 1 : 0));
  return live.length > REVOKED_TOKENS_KEPT ? live.slice(live.length - REVOKED_TOKENS_KEPT) : live;
}

/** Drops explicitly undefined members: JSON (the log) cannot carry them, so neither may apply. */
function defined<T extends object>(patch: T): Partial<T> {
  return Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== undefined)) as Partial<T>;
}

/** The state owns its data: a caller mutating the command afterwards must not change it. */
function clone<T>(value: T): T {
  return structuredClone(value);
}

function without<T>(record: Readonly<Record<string, T>>, key: string): Record<string, T> {
  const copy = { ...record };
  delete copy[key];
  return copy;
}
