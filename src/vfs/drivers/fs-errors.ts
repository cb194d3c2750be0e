// errno -> FerryError kind for drivers backed by a POSIX file system: the whole policy in one
// table (in the spirit of OpenSSH sftp-server.c errno_to_portable). The client sees the kind and
// a safe message; the physical path and errno go to `detail` for the log.
import { FerryError } from '../errors.ts';
import type { ErrorKind } from '../errors.ts';

const ERRNO_KINDS: Readonly<Record<string, readonly [ErrorKind, string]>> = {
  ENOENT: ['not-found', 'no such file or directory'],
  EEXIST: ['exists', 'a file or directory with that name already exists'],
  ENOTEMPTY: ['not-empty', 'the directory is not empty; remove its contents first'],
  ENOTDIR: ['not-a-directory', 'a component of the path is not a directory'],
  EISDIR: ['is-a-directory', 'the path is a directory'],
  EACCES: ['permission-denied', 'the storage refused access to this path'],
  EPERM: ['permission-denied', 'the storage refused this operation'],
  EROFS: ['permission-denied', 'the storage is read-only'],
  ENOSPC: ['no-space', 'the storage is full'],
  EDQUOT: ['quota-exceeded', 'the storage quota is exhausted'],
  EFBIG: ['no-space', 'the file is too large for the storage'],
  ENAMETOOLONG: ['invalid-path', 'a name in the path is too long'],
  ELOOP: ['invalid-path', 'too many levels of symbolic links'],
  EINVAL: ['invalid-request', 'the storage refused the request as invalid'],
  EXDEV: ['unsupported', 'cannot move between different storage devices'],
  ENOTSUP: ['unsupported', 'the storage does not support this operation'],
  EOPNOTSUPP: ['unsupported', 'the storage does not support this operation'],
  EBUSY: ['io', 'the file or directory is busy; try again'],
  EAGAIN: ['throttled', 'the storage is busy; try again later'],
  // A network mount (NFS, SMB) whose server stopped answering, or a stale handle after it moved
  // or restarted: the storage is there but cannot be reached now. EIO is how soft NFS mounts
  // report a timeout (and a local disk a device failure: the kernel log says which).
  EIO: ['unavailable', 'the storage is unavailable right now; try again later'],
  ENOTCONN: ['unavailable', 'the storage is unavailable right now; try again later'],
  ESTALE: ['unavailable', 'the storage is unavailable right now; log in again or try later'],
  ETIMEDOUT: ['unavailable', 'the storage did not answer in time; try again later'],
  EHOSTDOWN: ['unavailable', 'the storage is unavailable right now; try again later'],
  EHOSTUNREACH: ['unavailable', 'the storage is unavailable right now; try again later'],
  ENETDOWN: ['unavailable', 'the storage is unavailable right now; try again later'],
  ENETUNREACH: ['unavailable', 'the storage is unavailable right now; try again later'],
  ECONNREFUSED: ['unavailable', 'the storage is unavailable right now; try again later'],
  ECONNRESET: ['unavailable', 'the storage is unavailable right now; try again later'],
  ECONNABORTED: ['unavailable', 'the storage is unavailable right now; try again later'],
  ENXIO: ['not-a-file', 'not a regular file'],
  EMLINK: ['no-space', 'too many links'],
};

/** Wraps any error from node:fs; FerryErrors pass through unchanged. */
export function mapFsError(error: unknown, path: string): FerryError {
  if (error instanceof FerryError) return error;
  const code = (error as NodeJS.ErrnoException | null)?.code ?? '';
  const known = ERRNO_KINDS[code];
  const detail = `${code || 'error'} on ${path}: ${(error as Error | null)?.message ?? String(error)}`;
  if (known) return new FerryError(known[0], known[1], { detail, cause: error });
  return new FerryError('io', 'the storage failed; try again or ask your administrator', { detail, cause: error });
}

export function errnoOf(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | null)?.code;
}
