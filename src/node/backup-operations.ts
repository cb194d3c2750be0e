// Backup and restore for the API and the CLI. A running node restores by one `state.restore`
// config command (every replica switches at the same index), and only an archive sealed with
// its own master key: re-sealing another key's secrets would need each secret's context. An
// archive from another node is restored on a fresh data directory before its first start
// (`ferry restore -f FILE --data DIR`): the old master key (key file, or unwrapped with the
// passphrase) becomes the new node's, and the first start applies the backup instead of
// creating the default site.
import { existsSync } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { decodeSnapshot, encodeSnapshot } from '../config/codec.ts';
import { createSecretBox, MASTER_KEY_FILE } from '../config/secrets.ts';
import type { SecretBox } from '../config/secrets.ts';
import type { ConfigState } from '../config/state.ts';
import type { Logger } from '../logging/app-log.ts';
import { proposer } from './admin-http.ts';
import { backupKey, BackupError, checkSecrets, createBackup, keyIdOf, readBackup } from './backup.ts';
import { isFirstStart } from './bootstrap.ts';
import type { ConfigStore } from './config-store.ts';
import type { ControlHandler } from './control-server.ts';

/** A validated backup waiting for the first start of a fresh data directory. */
export const PENDING_RESTORE_FILE = 'restore-pending.json';

export interface RestoreSummary {
  readonly sites: number;
  readonly users: number;
  readonly superAdmins: number;
  readonly configIndex: number;
}

export interface BackupDeps {
  readonly store: ConfigStore;
  readonly secrets: SecretBox;
  readonly masterKey: Buffer;
  readonly software: string;
  readonly logger: Logger;
}

function summary(state: ConfigState, configIndex: number): RestoreSummary {
  return { sites: Object.keys(state.sites).length, users: Object.keys(state.users).length, superAdmins: Object.keys(state.superAdmins ?? {}).length, configIndex };
}

export function backupFileName(now: Date): string {
  return `ferry-backup-${now.toISOString().replace(/[:.]/g, '-')}.zip`;
}

export function makeBackup(deps: BackupDeps, passphrase: string | undefined): Promise<Buffer> {
  return createBackup({ state: deps.store.state(), secrets: deps.secrets, masterKey: deps.masterKey, software: deps.software, passphrase, now: new Date() });
}

/** Validates everything, then replaces the running configuration in one command. */
export async function restoreRunning(deps: BackupDeps, bytes: Buffer, actor: string): Promise<RestoreSummary> {
  const { manifest, state } = await readBackup(bytes);
  if (manifest.keyId !== keyIdOf(deps.secrets)) {
    throw new BackupError(
      'this backup\'s secrets are sealed with another node\'s master key; restore it on a fresh data directory before its first start: `ferry restore -f FILE --data NEWDIR --passphrase-file F` (or --key-file OLD/secret.key)',
    );
  }
  checkSecrets(state, deps.secrets);
  const outcome = await proposer(deps.store)({ type: 'state.restore', state }, actor);
  if (!outcome.ok) {
    if (outcome.kind === 'unavailable') throw new Error(outcome.message);
    throw new BackupError(`the backup does not fit: ${outcome.errors.map((e) => `${e.path || '(state)'}: ${e.message}`).join('; ')}`);
  }
  deps.logger.warn({ actor, createdAt: manifest.createdAt, index: outcome.index }, 'configuration restored from a backup');
  return summary(state, outcome.index);
}

/**
 * `ferry restore --data DIR` with no node running: only for a data directory that was never
 * started (nothing to lose); writes the backup's master key and the pending state.
 */
export async function prepareOfflineRestore(dataDir: string, bytes: Buffer, from: { keyFile?: Buffer | undefined; passphrase?: string | undefined }): Promise<RestoreSummary> {
  if (!isFirstStart(dataDir)) {
    throw new BackupError(`${dataDir} holds a node already: start it (\`ferry start --data ${dataDir}\`) and run \`ferry restore\` against it, or restore into a new, empty data directory`);
  }
  const { manifest, state } = await readBackup(bytes);
  const key = await backupKey(manifest, from);
  checkSecrets(state, createSecretBox(key));
  const keyFile = path.join(dataDir, MASTER_KEY_FILE);
  if (existsSync(keyFile) && !(await readFile(keyFile)).equals(key)) {
    throw new BackupError(`${keyFile} exists with another key; restore into a new, empty data directory`);
  }
  const { mkdir } = await import('node:fs/promises');
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  if (!existsSync(keyFile)) await writeFile(keyFile, key, { mode: 0o600, flag: 'wx' });
  const pending = path.join(dataDir, PENDING_RESTORE_FILE);
  await writeFile(`${pending}.tmp`, encodeSnapshot(state), { mode: 0o600 });
  await rename(`${pending}.tmp`, pending);
  return summary(state, 0);
}

/** The state a fresh data directory's first start applies instead of creating the default site. */
export async function takePendingRestore(dataDir: string): Promise<{ state: ConfigState; done(): Promise<void> } | undefined> {
  const file = path.join(dataDir, PENDING_RESTORE_FILE);
  if (!existsSync(file)) return undefined;
  const state = decodeSnapshot(await readFile(file));
  return { state, done: () => rm(file, { force: true }) };
}

function optionalString(params: unknown, key: string): string | undefined {
  const value = (params as Record<string, unknown> | null)?.[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new Error(`parameter "${key}" must be a string`);
  return value;
}

export function backupHandlers(deps: BackupDeps): Record<string, ControlHandler> {
  return {
    backup: async (params) => {
      const now = new Date();
      const archive = await makeBackup(deps, optionalString(params, 'passphrase'));
      return { archive: archive.toString('base64'), name: backupFileName(now), sites: Object.keys(deps.store.state().sites).length, users: Object.keys(deps.store.state().users).length };
    },
    restore: async (params) => {
      const archive = optionalString(params, 'archive');
      if (archive === undefined) throw new Error('restore needs { archive: base64 }');
      return restoreRunning(deps, Buffer.from(archive, 'base64'), 'cli:restore');
    },
  };
}
