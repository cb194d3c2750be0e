// What the CLI can ask a running node to do over the control socket. Each handler checks its
// parameters (they come from another process), then goes through the same validate-and-propose
// path as every other configuration change.
import { hashPassword } from '../auth/passwords.ts';
import { newId } from '../config/ids.ts';
import { planImport } from '../config/import-csv.ts';
import type { Logger } from '../logging/app-log.ts';
import { ConfigValidationError } from './config-store.ts';
import type { ConfigStore } from './config-store.ts';
import type { ControlHandler } from './control-server.ts';
import { addAuthorizedKeys, setPassword } from './user-operations.ts';
import { addSite, bindSite, removeSite, siteParams } from './site-operations.ts';
import type { SecretBox } from '../config/secrets.ts';

export interface ImportUsersParams {
  readonly csv: string;
  readonly siteId: string;
  readonly makeVfs: boolean;
  readonly dryRun: boolean;
}

/** Lines for the operator, and whether the import (or the dry run) succeeded. */
export interface ImportUsersResult {
  readonly ok: boolean;
  readonly lines: readonly string[];
}

function importUsersParams(params: unknown): ImportUsersParams {
  const p = params as Partial<ImportUsersParams> | null;
  if (!p || typeof p.csv !== 'string' || typeof p.siteId !== 'string' || typeof p.makeVfs !== 'boolean' || typeof p.dryRun !== 'boolean') {
    throw new Error('importUsers needs { csv: string, siteId: string, makeVfs: boolean, dryRun: boolean }');
  }
  return p as ImportUsersParams;
}

export async function importUsers(store: ConfigStore, logger: Logger, params: ImportUsersParams): Promise<ImportUsersResult> {
  const state = store.state();
  if (!state.sites[params.siteId]) {
    const known = Object.keys(state.sites).join(', ') || 'none';
    return { ok: false, lines: [`no virtual site with id "${params.siteId}" (sites: ${known}); --vsite takes the site id, not its name`] };
  }
  const plan = await planImport({ csv: params.csv, siteId: params.siteId, makeVfs: params.makeVfs, dryRun: params.dryRun, state, facts: store.facts, hashPassword, newId, actor: 'cli:importusers' });
  if (!plan.ok) {
    return {
      ok: false,
      lines: [...plan.errors.map((e) => `line ${e.line}: ${e.message}`), `nothing imported: fix the lines above and run the import again`],
    };
  }
  const users = plan.command.users.map((u) => u.username);
  const what = `${users.length} user(s)${plan.command.vfs.length ? ` and ${plan.command.vfs.length} disk VFS(s)` : ''}`;
  if (params.dryRun) {
    return { ok: true, lines: [`dry run: ${what} would be imported into site "${params.siteId}": ${users.join(', ')}`, 'nothing was changed'] };
  }
  let outcome;
  try {
    outcome = await store.propose(plan.command);
  } catch (error) {
    if (!(error instanceof ConfigValidationError)) throw error;
    outcome = { ok: false as const, errors: error.errors };
  }
  if (!outcome.ok) {
    // Only reachable if the configuration changed between planning and proposing.
    return { ok: false, lines: [...outcome.errors.map((e) => `${e.path}: ${e.message}`), 'nothing imported; run the import again'] };
  }
  logger.info({ siteId: params.siteId, users }, 'users imported from CSV');
  return { ok: true, lines: [`imported ${what} into site "${params.siteId}": ${users.join(', ')}`] };
}

function stringParams<K extends string>(params: unknown, keys: readonly K[]): Record<K, string> {
  const p = params as Record<string, unknown> | null;
  for (const key of keys) {
    if (!p || typeof p[key] !== 'string') throw new Error(`missing or invalid parameter "${key}"`);
  }
  return p as Record<K, string>;
}

export function controlHandlers(deps: { store: ConfigStore; logger: Logger; secrets: SecretBox }): Record<string, ControlHandler> {
  return {
    siteAdd: (params) => addSite(deps.store, deps.secrets, siteParams(params, true)),
    siteBind: (params) => bindSite(deps.store, siteParams(params, true)),
    siteRemove: (params) => removeSite(deps.store, siteParams(params, false)),
    importUsers: (params) => importUsers(deps.store, deps.logger, importUsersParams(params)),
    setPassword: (params) => setPassword(deps.store, stringParams(params, ['siteId', 'username', 'password'])),
    addAuthorizedKeys: (params) => {
      const p = stringParams(params, ['siteId', 'username']);
      const lines = (params as { lines?: unknown }).lines;
      if (!Array.isArray(lines) || !lines.every((l) => typeof l === 'string')) throw new Error('addAuthorizedKeys needs lines: string[]');
      return addAuthorizedKeys(deps.store, { ...p, lines });
    },
    ping: async () => ({ pid: process.pid }),
  };
}
