// Directory listings sent on a data connection: LIST (the `ls -l` line of session/listing.ts),
// NLST (names) and MLSD (RFC 3659 facts). Each is read from the Session as it is sent; the first
// entry is read before the 150 reply, so a refused or missing directory is a 550, not an empty
// transfer.
import { FerryError } from '../../session/errors.ts';
import { formatListLine } from '../../session/listing.ts';
import type { Session } from '../../session/types.ts';
import type { EntryInfo } from '../../vfs/vfs.ts';
import { formatFacts } from './facts.ts';

export type ListingKind = 'LIST' | 'NLST' | 'MLSD';

/** LIST and NLST arguments may carry `ls` options (`-la`, `-a dir`): they are ignored. */
export function listingPath(arg: string): string {
  let rest = arg;
  while (/^-[A-Za-z0-9]+(\s|$)/.test(rest)) rest = rest.replace(/^-[A-Za-z0-9]+\s*/, '');
  return rest;
}

function lineFor(kind: ListingKind, entry: EntryInfo, owner: string, now: number): string {
  if (kind === 'NLST') return entry.name;
  if (kind === 'MLSD') return formatFacts(entry, entry.name);
  return formatListLine(entry, owner, now);
}

/**
 * The listing's lines (CRLF-terminated) as an iterator whose first step already ran: errors of
 * the directory itself are thrown here, before any reply. A file named by LIST/NLST lists itself
 * (MLSD of a file is refused: RFC 3659 7.2.1 says it names a directory).
 */
export async function openListing(session: Session, path: string, kind: ListingKind, now: number): Promise<AsyncIterable<string>> {
  const owner = session.user.username;
  const stat = await session.stat(path);
  if (stat.type !== 'dir') {
    if (kind === 'MLSD') throw new FerryError('not-a-directory', 'MLSD lists a directory; use MLST for a file', { detail: path });
    const line = lineFor(kind, { ...stat, name: kind === 'NLST' ? path : stat.name }, owner, now) + '\r\n';
    return (async function* () {
      yield line;
    })();
  }
  const entries = session.list(path)[Symbol.asyncIterator]();
  const first = await entries.next();
  return (async function* () {
    // Lines are batched: one TCP write per entry would cost a syscall (and a TLS record) each.
    let batch = '';
    for (let step = first; !step.done; step = await entries.next()) {
      batch += lineFor(kind, step.value, owner, now) + '\r\n';
      if (batch.length >= 16 * 1024) {
        yield batch;
        batch = '';
      }
    }
    if (batch !== '') yield batch;
  })();
}
