// File-system helpers of the disk driver: entries from stats, listing names, no-replace rename.
import { promises as fsp } from 'node:fs';
import type { Stats } from 'node:fs';
import { decodeUtf8, joinPath, nameProblem } from '../path.ts';
import type { EntryInfo, EntryType } from '../vfs.ts';
import { errnoOf, mapFsError } from './fs-errors.ts';

function typeOf(stats: Stats): EntryType {
  if (stats.isFile()) return 'file';
  if (stats.isDirectory()) return 'dir';
  if (stats.isSymbolicLink()) return 'symlink';
  return 'other';
}

export function entryOf(name: string, stats: Stats): EntryInfo {
  return { name, type: typeOf(stats), size: stats.size, mtimeMs: stats.mtimeMs, atimeMs: stats.atimeMs, mode: stats.mode & 0o777, identity: `${stats.dev}:${stats.ino}` };
}

/** A name read from disk, or why a client could not address it (the listing hides it). */
export function decodeName(raw: Buffer): { readonly name: string } | { readonly hidden: string } {
  const name = decodeUtf8(raw);
  if (name === undefined) return { hidden: 'not valid UTF-8' };
  const problem = nameProblem(name);
  return problem === undefined ? { name } : { hidden: problem };
}

/**
 * A raw name as printable ASCII for a log line: every other byte (and the backslash itself, so
 * the form cannot be forged) written as \xNN. Reversible, and never splits a line.
 */
export function escapeName(raw: Buffer): string {
  let out = '';
  for (const byte of raw) out += byte >= 0x20 && byte < 0x7f && byte !== 0x5c ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, '0')}`;
  return out;
}

/** lstat of a batch of listed names, concurrently (a huge directory is I/O-bound). */
export async function statBatch(dir: string, names: readonly string[]): Promise<EntryInfo[]> {
  const entries = await Promise.all(
    names.map((name) =>
      fsp.lstat(joinPath(dir, name)).then(
        (stats) => entryOf(name, stats),
        (error: unknown) => {
          // Removed between readdir and lstat: not an error, just gone.
          if (errnoOf(error) === 'ENOENT') return undefined;
          throw mapFsError(error, dir);
        },
      ),
    ),
  );
  return entries.filter((entry): entry is EntryInfo => entry !== undefined);
}

/**
 * rename(2) replaces its target; a no-replace rename of a regular file is done as link + unlink
 * (atomic refusal, as OpenSSH sftp-server does), anything else as check + rename.
 */
export async function renameNoReplace(source: string, target: string): Promise<void> {
  const stats = await fsp.lstat(source);
  if (stats.isFile()) {
    try {
      await fsp.link(source, target);
      await fsp.unlink(source);
      return;
    } catch (error) {
      const code = errnoOf(error);
      if (code !== 'EPERM' && code !== 'EXDEV' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EMLINK') throw error;
    }
  }
  const exists = await fsp.lstat(target).then(
    () => true,
    (error: unknown) => {
      if (errnoOf(error) === 'ENOENT') return false;
      throw error;
    },
  );
  if (exists) throw Object.assign(new Error('target exists'), { code: 'EEXIST' });
  await fsp.rename(source, target);
}
