// The one table mapping session error kinds (session/errors.ts) to SFTP v3 status codes
// (draft-ietf-secsh-filexfer-02 section 7), in the spirit of sftp-server.c `errno_to_portable`.
// The client gets a code and a safe message; details and unknown errors go to the log only.
import type { ErrorKind } from '../../session/errors.ts';
import { isFerryError } from '../../session/errors.ts';
import type { StatusCode } from './sftp/constants.ts';
import { FX } from './sftp/constants.ts';

interface StatusRow {
  readonly code: StatusCode;
  /** Used when the error carries no message of its own. */
  readonly fallback: string;
}

export const INTERNAL_ERROR_MESSAGE = 'Internal server error; the server log has the details';

// v3 has no "already exists", "quota exceeded" or "directory not empty" codes: those are
// FAILURE with a message that says what happened (OpenSSH's client prints the code, GUI
// clients print the message).
export const STATUS_BY_KIND: Readonly<Record<ErrorKind, StatusRow>> = Object.freeze({
  'not-found': { code: FX.NO_SUCH_FILE, fallback: 'No such file or directory' },
  exists: { code: FX.FAILURE, fallback: 'The file or directory already exists' },
  'permission-denied': { code: FX.PERMISSION_DENIED, fallback: 'Permission denied' },
  'subsystem-denied': { code: FX.PERMISSION_DENIED, fallback: 'SFTP is not allowed for this account' },
  // ENOTDIR is NO_SUCH_FILE in errno_to_portable: a path through a file names nothing.
  'not-a-directory': { code: FX.NO_SUCH_FILE, fallback: 'A component of the path is not a directory' },
  'is-a-directory': { code: FX.FAILURE, fallback: 'The path is a directory' },
  'not-empty': { code: FX.FAILURE, fallback: 'The directory is not empty' },
  'invalid-path': { code: FX.NO_SUCH_FILE, fallback: 'The path is not valid' },
  // A refusal, not an absence: "No such file" would send the user looking for a typo.
  'name-not-allowed': { code: FX.PERMISSION_DENIED, fallback: 'File name not allowed' },
  // BAD_MESSAGE as errno_to_portable gives EINVAL: the request itself cannot be served.
  'invalid-request': { code: FX.BAD_MESSAGE, fallback: 'Invalid request' },
  'not-a-file': { code: FX.FAILURE, fallback: 'Not a regular file' },
  'not-a-link': { code: FX.BAD_MESSAGE, fallback: 'Not a symbolic link' },
  'quota-exceeded': { code: FX.FAILURE, fallback: 'Quota exceeded: delete files or ask the administrator for more space' },
  'no-space': { code: FX.FAILURE, fallback: 'No space left on the server storage' },
  unsupported: { code: FX.OP_UNSUPPORTED, fallback: 'Operation not supported by this storage' },
  io: { code: FX.FAILURE, fallback: 'The storage reported an error' },
  // FAILURE, not NO_CONNECTION/CONNECTION_LOST: those are the client's own pseudo-errors about
  // its SSH connection (a server must not send them), and that connection is fine.
  unavailable: { code: FX.FAILURE, fallback: 'The storage is unavailable right now; try again later' },
  throttled: { code: FX.FAILURE, fallback: 'The storage is busy; try again later' },
  incomplete: { code: FX.FAILURE, fallback: 'The transfer ended before all its data arrived' },
  aborted: { code: FX.FAILURE, fallback: 'The transfer was cancelled' },
  misconfigured: { code: FX.FAILURE, fallback: 'Your account\'s storage is misconfigured; ask your administrator' },
  internal: { code: FX.FAILURE, fallback: INTERNAL_ERROR_MESSAGE },
});

export interface SftpStatus {
  readonly code: StatusCode;
  readonly message: string;
  /** False for anything that is not a FerryError: the caller logs it. */
  readonly known: boolean;
}

export function sftpStatusFor(error: unknown): SftpStatus {
  if (isFerryError(error)) {
    const row = STATUS_BY_KIND[error.kind] ?? { code: FX.FAILURE, fallback: INTERNAL_ERROR_MESSAGE };
    return { code: row.code, message: error.message || row.fallback, known: true };
  }
  return { code: FX.FAILURE, message: INTERNAL_ERROR_MESSAGE, known: false };
}
