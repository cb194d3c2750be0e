// ATTRS encoding (filexfer-02 section 5): the session's EntryInfo out, the client's attribute
// changes in. The long name of section 7 is session/listing.ts, shared with FTP's LIST.
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
