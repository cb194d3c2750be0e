// Error kinds of the protocol-neutral core. They live in vfs/ (the lowest layer that raises them:
// drivers throw them too) and session/errors.ts re-exports them. Each protocol edge maps a kind
// to its own wire code in one table (protocols/ssh/status.ts, protocols/ftp/replies.ts, ...). `message` is safe to
// show a client and says what to do; `detail` (paths on disk, errno, stack) goes to the log only.

export const ERROR_KINDS = [
  'not-found',
  'exists',
  'permission-denied',
  'not-a-directory',
  'is-a-directory',
  'not-empty',
  'invalid-path',
  // A client name whose characters are refused (control characters, backslash, broken
  // Unicode): the name is the problem, not a missing file, so clients hear a denial.
  'name-not-allowed',
  'invalid-argument',
  'quota-exceeded',
  'no-space',
  'unsupported',
  'subsystem-denied',
  'io',
  // A transfer that ended before all its data arrived or was sent (peer gone, short upload).
  'incomplete',
] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

export class FerryError extends Error {
  readonly kind: ErrorKind;
  /** For the log only: never sent to a client (may hold physical paths, errno, causes). */
  readonly detail: string | undefined;

  constructor(kind: ErrorKind, message: string, options: { detail?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FerryError';
    this.kind = kind;
    this.detail = options.detail;
  }
}

export function isFerryError(error: unknown): error is FerryError {
  return error instanceof FerryError;
}
