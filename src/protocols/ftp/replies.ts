// FTP replies (RFC 959 section 4.2) and the one table mapping session error kinds to reply codes
// (RFC 959, 3659, 4217). The client gets a code and a safe message; details go to the log.
// Every text that reaches the wire passes through `formatReply`, which keeps a reply a reply: a
// CR or LF inside a file name or a greeting variable can never start a forged line.
import type { ErrorKind } from '../../session/errors.ts';
import { isFerryError } from '../../session/errors.ts';

/** One line of reply text: no CR, LF or NUL (RFC 959 forbids them inside a line). */
function oneLine(text: string): string {
  return text.replace(/[\r\n\0]+/g, ' ');
}

/**
 * `code text` CRLF (a string is always one line), or a multi-line reply (an array): `code-first`, the middle lines, `code last`. A middle
 * line that starts with digits is indented, so a client cannot take it for the last line.
 */
export function formatReply(code: number, text: string | readonly string[]): string {
  const lines = (typeof text === 'string' ? [text] : [...text]).map(oneLine);
  if (lines.length <= 1) return `${code} ${lines[0] ?? ''}\r\n`;
  const first = lines[0] as string;
  const last = lines[lines.length - 1] as string;
  const middle = lines.slice(1, -1).map((line) => (/^\d/.test(line) ? ` ${line}` : line));
  return [`${code}-${first}`, ...middle, `${code} ${last}`].join('\r\n') + '\r\n';
}

/** A path in a 257 reply (RFC 959 appendix II): quoted, with embedded quotes doubled. */
export function quotePath(path: string): string {
  return `"${oneLine(path).replace(/"/g, '""')}"`;
}

interface ReplyRow {
  readonly code: number;
  /** Used when the error carries no message of its own. */
  readonly fallback: string;
}

export const INTERNAL_ERROR_MESSAGE = 'Internal server error; the server log has the details';

// 550: the file is unavailable (not found, no access); 553: the name is not allowed; 552: over
// the storage allocation; 452: out of space; 450/451: transient, try again; 426: the transfer
// was cut; 504/502: not implemented for this parameter / at all; 501: bad argument.
export const REPLY_BY_KIND: Readonly<Record<ErrorKind, ReplyRow>> = Object.freeze({
  'not-found': { code: 550, fallback: 'No such file or directory' },
  exists: { code: 550, fallback: 'The file or directory already exists' },
  'permission-denied': { code: 550, fallback: 'Permission denied' },
  'subsystem-denied': { code: 530, fallback: 'This account may not use this protocol' },
  'not-a-directory': { code: 550, fallback: 'Not a directory' },
  'is-a-directory': { code: 550, fallback: 'The path is a directory' },
  'not-empty': { code: 550, fallback: 'The directory is not empty' },
  'invalid-path': { code: 553, fallback: 'The path is not valid' },
  'name-not-allowed': { code: 553, fallback: 'File name not allowed' },
  'invalid-request': { code: 501, fallback: 'Invalid request' },
  'not-a-file': { code: 550, fallback: 'Not a regular file' },
  'not-a-link': { code: 550, fallback: 'Not a symbolic link' },
  'quota-exceeded': { code: 552, fallback: 'Quota exceeded: delete files or ask the administrator for more space' },
  'no-space': { code: 452, fallback: 'No space left on the server storage' },
  unsupported: { code: 504, fallback: 'Operation not supported by this storage' },
  io: { code: 451, fallback: 'The storage reported an error' },
  unavailable: { code: 450, fallback: 'The storage is unavailable right now; try again later' },
  throttled: { code: 450, fallback: 'The storage is busy; try again later' },
  incomplete: { code: 426, fallback: 'Connection closed; transfer aborted' },
  aborted: { code: 426, fallback: 'Connection closed; transfer aborted' },
  misconfigured: { code: 451, fallback: "Your account's storage is misconfigured; ask your administrator" },
  internal: { code: 451, fallback: INTERNAL_ERROR_MESSAGE },
});

export interface FtpErrorReply {
  readonly code: number;
  readonly message: string;
  /** False for anything that is not a FerryError: the caller logs it. */
  readonly known: boolean;
}

export function replyForError(error: unknown): FtpErrorReply {
  if (isFerryError(error)) {
    const row = REPLY_BY_KIND[error.kind] ?? { code: 451, fallback: INTERNAL_ERROR_MESSAGE };
    return { code: row.code, message: error.message || row.fallback, known: true };
  }
  return { code: 451, message: INTERNAL_ERROR_MESSAGE, known: false };
}
