// Where a whole-stream upload is written before it is complete, by the site's upload mode
// (config/model/site.ts UploadMode): a name beside the final one, in the same directory of the
// same storage, so that completing it is one rename on that storage.
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import type { UploadMode } from '../config/model/site.ts';
import type { VfsDriver } from '../vfs/vfs.ts';

/** NAME_MAX of common file systems, in bytes. */
const MAX_NAME_BYTES = 255;

export interface Staging {
  /** Driver path the upload is written to. */
  readonly path: string;
  /** Open `path` exclusively: a fresh temporary name must not meet an existing file. */
  readonly exclusive: boolean;
  /** Moves the complete upload to its final name; absent when it is already there. */
  readonly commit?: () => Promise<void>;
  /** An upload that did not complete keeps what arrived (resume, direct) or leaves nothing (atomic). */
  readonly keepPartial: boolean;
  discard(): Promise<void>;
}

/** `prefix + name + suffix`, the name shortened (by whole characters) to fit NAME_MAX. */
function sideName(name: string, prefix: string, suffix: string): string {
  const room = MAX_NAME_BYTES - Buffer.byteLength(prefix + suffix);
  let kept = name;
  while (Buffer.byteLength(kept) > room) kept = [...kept].slice(0, -1).join('');
  return prefix + kept + suffix;
}

/** `replace`: the commit may replace a file at the final name (the user may modify it). */
export function stagingFor(mode: UploadMode, driver: VfsDriver, finalPath: string, replace: boolean): Staging {
  if (mode === 'direct') return { path: finalPath, exclusive: !replace, keepPartial: true, discard: async () => {} };
  const dir = posix.dirname(finalPath);
  const name = posix.basename(finalPath);
  const path =
    mode === 'atomic'
      ? posix.join(dir, sideName(name, '.', `.ferry-upload-${randomBytes(6).toString('hex')}`))
      : posix.join(dir, sideName(name, '', '.partial'));
  return {
    path,
    exclusive: mode === 'atomic',
    keepPartial: mode === 'resume',
    // A create must not replace a file that appeared meanwhile unless the user may modify it.
    commit: () => driver.rename(path, finalPath, { overwrite: replace }),
    discard: mode === 'atomic' ? () => driver.remove(path) : async () => {},
  };
}
