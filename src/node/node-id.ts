// A node's identity in the cluster: generated at its first start, kept in `<data>/node-id`,
// never changed. Raft names voters by it, so two nodes must never share one; Ferry 0.1 named
// every node `local`, and a data directory it wrote is migrated here at the next start.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { open, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { LevelStorage } from '../../cluster/storage/level-storage.ts';

/** The id Ferry 0.1 gave every node; a config log still naming it is migrated. */
export const LEGACY_NODE_ID = 'local';

/** Generated ids are n- and 12 hex digits; an operator may name a joining node (--node-id). */
const NODE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export function isValidNodeId(id: string): boolean {
  return NODE_ID.test(id);
}

export function newNodeId(): string {
  return `n-${randomBytes(6).toString('hex')}`;
}

export function nodeIdFile(dataDir: string): string {
  return path.join(dataDir, 'node-id');
}

/**
 * This node's id: read from the data directory, or generated and stored durably (written to a
 * temporary file, fsynced, renamed) before anything is named after it.
 */
export async function loadNodeId(dataDir: string): Promise<string> {
  const file = nodeIdFile(dataDir);
  if (existsSync(file)) {
    const id = (await readFile(file, 'utf8')).trim();
    if (!NODE_ID.test(id)) throw new Error(`${file} does not hold a node id (1-63 letters, digits, dots, dashes or underscores; found ${JSON.stringify(id.slice(0, 40))}); restore it from a backup of this data directory`);
    return id;
  }
  const id = newNodeId();
  const tmp = `${file}.tmp`;
  const handle = await open(tmp, 'w', 0o600);
  try {
    await handle.writeFile(`${id}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, file);
  return id;
}

/**
 * Renames the legacy voter `local` of a config log written by Ferry 0.1 to `nodeId`. Safe to
 * run at every start: it does nothing once done, and a crash part way leaves it to redo (the
 * node id is stored first, and the log's rename is one atomic write).
 */
export async function migrateLegacyNodeId(logDir: string, nodeId: string): Promise<boolean> {
  if (!existsSync(logDir)) return false;
  const store = await LevelStorage.open(logDir);
  try {
    return await store.renameMember(LEGACY_NODE_ID, nodeId);
  } finally {
    await store.close();
  }
}
