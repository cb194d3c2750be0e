// The `ls -l` line every protocol that lists for humans sends: SFTP's long name (filexfer-02
// section 7) and FTP's LIST. Times are UTC, as the transfer log's are.
import type { EntryInfo, EntryType } from '../vfs/vfs.ts';

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

/**
 * One `ls -l` line: SFTP's long name (OpenSSH's `ls -l` prints it verbatim; the layout of
 * sftp-common.c `ls_file`) and FTP's LIST line, which clients parse the same way. Virtual users
 * own their whole tree, so owner and group are the user's name.
 */
export function formatListLine(entry: EntryInfo, owner: string, nowMs: number): string {
  const user = owner.padEnd(8, ' ');
  const size = String(entry.size).padStart(8, ' ');
  return `${modeString(entry)}    1 ${user} ${user} ${size} ${timeString(entry.mtimeMs, nowMs)} ${entry.name}`;
}
