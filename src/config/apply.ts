// The deterministic transition function of the configuration state machine. Every replica
// applies the same log in the same order and must reach byte-identical state, so `apply` reads
// no clock, draws no randomness and does no I/O: ids and timestamps come in the command.
// Shape (etcd raft confchange): copy, change, check, return. It validates first and only then
// builds the new state, so it never throws halfway; a refused command still consumes its index.
import type { Command } from './commands.ts';
import type { ValidationError } from './schema.ts';
import type { ConfigState } from './state.ts';
import { userKey } from './state.ts';
import { validate } from './validate.ts';

/** One committed log entry as the config state machine sees it. */
export interface ConfigLogEntry {
  readonly index: number;
  readonly term: number;
  readonly command: Command;
}

export type ApplyResult = { readonly ok: true } | { readonly ok: false; readonly errors: readonly ValidationError[] };

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
  let errors: readonly ValidationError[];
  try {
    errors = validate(state, entry.command);
  } catch (error) {
    errors = [{ path: '', message: `validation failed unexpectedly: ${String(error)}` }];
  }
  if (errors.length > 0) return { state: { ...state, appliedIndex: entry.index }, result: { ok: false, errors } };
  return { state: change(state, entry.command, entry.index), result: { ok: true } };
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
    case 'users.import': {
      const users = { ...state.users };
      for (const user of command.users) users[userKey(user.siteId, user.username)] = clone(user);
      const vfs = { ...state.vfs };
      for (const profile of command.vfs) vfs[profile.id] = clone(profile);
      return { ...state, appliedIndex, users, vfs };
    }
  }
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
