// ATTRS encoding and the `ls -l` long name (filexfer-02 sections 5 and 7): the session's
// EntryInfo out, the client's attribute changes in.
import type { EntryInfo, EntryType, SetStatChanges } from '../../../vfs/vfs.ts';
import { ATTR, S_IF } from './constants.ts';
import type { WireAttrs } from './reader.ts';
import type { SftpWriter } from './writer.ts';

const TYPE_BITS: Record<EntryType, number> = {
  file: S_IF.REG,
  dir: S_IF.DIR,
  symlink: S_IF.LNK,
  other: 0,
};

/** v3 times are uint32 seconds; clamp rather than wrap a pre-1970 or post-2106 time. */
function seconds(ms: number): number {
  return Math.min(0xffffffff, Math.max(0, Math.floor(ms / 1000)));
}

export function wireMode(entry: EntryInfo): number {
  return TYPE_BITS[entry.type] | (entry.mode & 0o7777);
}

export function writeAttrs(w: SftpWriter, entry: EntryInfo): void {
  // No UIDGID: virtual users own their whole tree; the long name carries the user's name.
  w.u32(ATTR.SIZE | ATTR.PERMISSIONS | ATTR.ACMODTIME);
  w.u64(entry.size);
  w.u32(wireMode(entry));
  w.u32(seconds(entry.atimeMs));
  w.u32(seconds(entry.mtimeMs));
}

export function writeEmptyAttrs(w: SftpWriter): void {
  w.u32(0);
}

const TYPE_CHAR: Record<EntryType, string> = { file: '-', dir: 'd', symlink: 'l', other: '?' };

function modeString(entry: EntryInfo): string {
  const m = entry.mode;
  const rwx = (bits: number, special: boolean, specialChar: string): string =>
    (bits & 4 ? 'r' : '-') +
    (bits & 2 ? 'w' : '-') +
    (special ? (bits & 1 ? specialChar : specialChar.toUpperCase()) : bits & 1 ? 'x' : '-');
  return (
    TYPE_CHAR[entry.type] +
    rwx((m >> 6) & 7, (m & 0o4000) !== 0, 's') +
    rwx((m >> 3) & 7, (m & 0o2000) !== 0, 's') +
    rwx(m & 7, (m & 0o1000) !== 0, 't')
  );
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const HALF_YEAR_MS = (365 * 24 * 60 * 60 * 1000) / 2;

/** `%b %e %H:%M` for the last six months, `%b %e  %Y` otherwise (ls and sftp-common.c), in UTC. */
function timeString(mtimeMs: number, nowMs: number): string {
  const d = new Date(mtimeMs);
  if (Number.isNaN(d.getTime())) return '';
  const day = String(d.getUTCDate()).padStart(2, ' ');
  const head = `${MONTHS[d.getUTCMonth()]} ${day}`;
  if (nowMs - HALF_YEAR_MS < mtimeMs && nowMs >= mtimeMs) {
    const hh = String(d.getUTCHours()).padStart(2, '0');
    const mm = String(d.getUTCMinutes()).padStart(2, '0');
    return `${head} ${hh}:${mm}`;
  }
  return `${head}  ${d.getUTCFullYear()}`;
}

/** The long name OpenSSH's `ls -l` prints verbatim; same layout as sftp-common.c `ls_file`. */
export function longName(entry: EntryInfo, owner: string, nowMs: number): string {
  const user = owner.padEnd(8, ' ');
  const size = String(entry.size).padStart(8, ' ');
  return `${modeString(entry)}    1 ${user} ${user} ${size} ${timeString(entry.mtimeMs, nowMs)} ${entry.name}`;
}

/** What a SETSTAT asks for; `ownerOnly` when it only asks for uid/gid, which Ferry cannot set. */
export function changesFromAttrs(attrs: WireAttrs): { changes: SetStatChanges; ownerOnly: boolean } {
  const changes: { -readonly [K in keyof SetStatChanges]: SetStatChanges[K] } = {};
  if (attrs.size !== undefined) changes.size = attrs.size;
  if (attrs.permissions !== undefined) changes.mode = attrs.permissions & 0o7777;
  if (attrs.atime !== undefined) changes.atimeMs = attrs.atime * 1000;
  if (attrs.mtime !== undefined) changes.mtimeMs = attrs.mtime * 1000;
  const ownerOnly = Object.keys(changes).length === 0 && attrs.uid !== undefined;
  return { changes, ownerOnly };
}
