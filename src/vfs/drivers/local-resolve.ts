// Confinement of the disk driver on the storage itself (the name was already confined by
// vfs/path.ts). Node has no openat2(RESOLVE_BENEATH), so the driver resolves every path itself:
//
// 1. `resolveBeneath` walks the path one component at a time with lstat, following each symlink
//    by reading its text and continuing the walk from there (skipped when one realpath(3) shows
//    that no component is a symlink: the common case costs one call, not one per component). The walk never lets the kernel
//    resolve a link: it yields a physical path free of symlinks whose every component was seen
//    inside the root; a link (or "..") that would leave the root is refused.
// 2. Files are then opened with O_NOFOLLOW (a leaf swapped for a symlink after the walk fails
//    with ELOOP), and `verifyHandle` reads /proc/self/fd/N: the kernel's own name of what was
//    actually opened must lie under the root, so a directory swapped for a symlink between walk
//    and open is caught before a single byte is read or written (or truncated: truncation is done
//    on the verified handle, never with O_TRUNC).
//
// Residual risk (documented, not hidden): path-based calls without a handle (mkdir, rename,
// unlink, rmdir, symlink, link) keep a check-to-use window in which someone with direct access
// to the storage could swap an intermediate directory for a symlink. Ferry users cannot create
// such a link through Ferry (symlink targets are confined), so this needs a local attacker or
// another VFS sharing the same storage with a wider root. An O_CREAT open raced the same way can
// leave an empty file outside the root, but nothing is written to it.
import { existsSync, promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { FerryError } from '../errors.ts';
import { assertDriverPath } from '../path.ts';
import { errnoOf, mapFsError } from './fs-errors.ts';

/** Same bound as Linux's MAXSYMLINKS. */
const MAX_LINK_HOPS = 40;

const HAVE_PROC_FD = existsSync('/proc/self/fd');

export function escapeError(detail: string): FerryError {
  return new FerryError('permission-denied', 'the path leads outside your folder through a symbolic link', { detail });
}

export function isBeneath(root: string, physical: string): boolean {
  return physical === root || physical.startsWith(root + '/');
}

function physicalOf(root: string, segments: readonly string[]): string {
  return segments.length === 0 ? root : `${root}/${segments.join('/')}`;
}

/** Lexically appends `rest` (which may hold "." and ".." from a link text) to `resolved`. */
function appendLexically(resolved: string[], rest: readonly string[], root: string): void {
  for (const segment of rest) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (resolved.length === 0) throw escapeError(`".." above ${root}`);
      resolved.pop();
    } else {
      resolved.push(segment);
    }
  }
}

/** The segments a symlink's text contributes, relative to the root, or refusal. */
async function linkSegments(root: string, linkPhysical: string): Promise<{ absolute: boolean; segments: string[] }> {
  const text = await fsp.readlink(linkPhysical);
  if (!text.startsWith('/')) return { absolute: false, segments: text.split('/') };
  if (!isBeneath(root, text)) throw escapeError(`${linkPhysical} -> ${text} leaves ${root}`);
  return { absolute: true, segments: text.slice(root.length).split('/') };
}

/**
 * Physical, symlink-free path of the canonical driver path `path` under the real root `root`.
 * With `followLast` false the last component is not followed (lstat, unlink, rename, readlink).
 * Missing components are kept as named (creation targets).
 */
export async function resolveBeneath(root: string, path: string, followLast: boolean): Promise<string> {
  assertDriverPath(path);
  const lexical = path === '/' ? root : root + path;
  if (await isSymlinkFree(lexical === root || followLast ? lexical : lexical.slice(0, lexical.lastIndexOf('/')))) return lexical;
  const pending = path === '/' ? [] : path.slice(1).split('/');
  const resolved: string[] = [];
  let hops = 0;
  while (pending.length > 0) {
    const segment = pending.shift() as string;
    if (segment === '' || segment === '.' || segment === '..') {
      appendLexically(resolved, [segment], root);
      continue;
    }
    if (pending.length === 0 && !followLast) {
      resolved.push(segment);
      break;
    }
    const candidate = physicalOf(root, [...resolved, segment]);
    let isLink: boolean;
    try {
      isLink = (await fsp.lstat(candidate)).isSymbolicLink();
    } catch (error) {
      const code = errnoOf(error);
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw mapFsError(error, candidate);
      appendLexically(resolved, [segment, ...pending], root);
      break;
    }
    if (!isLink) {
      resolved.push(segment);
      continue;
    }
    if (++hops > MAX_LINK_HOPS) throw new FerryError('invalid-path', 'too many levels of symbolic links', { detail: candidate });
    const link = await linkSegments(root, candidate).catch((error: unknown) => {
      throw mapFsError(error, candidate);
    });
    if (link.absolute) resolved.length = 0;
    pending.unshift(...link.segments);
  }
  return physicalOf(root, resolved);
}

/**
 * Fast path: one realpath(3) call instead of an lstat per component. When the kernel's answer
 * equals the name, no component is a symlink and the walk would return the name unchanged.
 * Anything else (a symlink on the way, a missing component) takes the walk.
 */
async function isSymlinkFree(physical: string): Promise<boolean> {
  try {
    return (await fsp.realpath(physical)) === physical;
  } catch {
    return false;
  }
}

/** Refuses a handle whose kernel-reported path is not under `root` (closing it). */
export async function verifyHandle(handle: FileHandle, root: string): Promise<void> {
  if (!HAVE_PROC_FD) return;
  let actual: string;
  try {
    actual = await fsp.readlink(`/proc/self/fd/${handle.fd}`);
  } catch (error) {
    await handle.close().catch(() => {});
    throw mapFsError(error, `/proc/self/fd/${handle.fd}`);
  }
  if (actual.endsWith(' (deleted)')) actual = actual.slice(0, -' (deleted)'.length);
  if (!isBeneath(root, actual)) {
    await handle.close().catch(() => {});
    throw escapeError(`opened ${actual}, outside ${root}`);
  }
}

/** Driver path (canonical) of a physical path under `root`. */
export function driverPathOf(root: string, physical: string): string {
  if (!isBeneath(root, physical)) throw escapeError(`${physical} outside ${root}`);
  return physical === root ? '/' : physical.slice(root.length);
}
