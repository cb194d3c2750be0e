// Error kinds of the protocol-neutral core. They live in vfs/ (the lowest layer that raises them:
// drivers throw them too) and session/errors.ts re-exports them. Each protocol edge maps a kind
// to its own wire code in one table (protocols/ssh/status.ts, protocols/ftp/replies.ts, ...). `message` is safe to
// show a client and says what to do; `detail` (paths on disk, errno, stack) goes to the log only.
//
// Every kind has a stable code, written to the application log beside the kind and explained in
// docs/errors.md ("how to solve"); test/unit/vfs/errors-doc.test.ts keeps the two in step. A code
// is never renumbered or reused: a retired kind keeps its number reserved in the document.

/** Kind -> stable code. Hundreds group the cause: 1 client request, 2 access, 3 storage, 4 transfer, 5 server. */
export const ERROR_CODES = Object.freeze({
  'not-found': 'FERRY-E101',
  exists: 'FERRY-E102',
  'not-a-directory': 'FERRY-E103',
  'is-a-directory': 'FERRY-E104',
  'not-empty': 'FERRY-E105',
  'invalid-path': 'FERRY-E106',
  // A client name whose characters are refused (control characters, backslash, broken
  // Unicode): the name is the problem, not a missing file, so clients hear a denial.
  'name-not-allowed': 'FERRY-E107',
  // The client asked for something that cannot mean anything (a negative offset, a write on a
  // handle opened for reading, more bytes than it announced, a wildcard matching too much).
  'invalid-request': 'FERRY-E108',
  // Facts of the storage, not mistakes of the request: the entry is there but of another type.
  'not-a-file': 'FERRY-E109',
  'not-a-link': 'FERRY-E110',
  'permission-denied': 'FERRY-E201',
  'subsystem-denied': 'FERRY-E202',
  'quota-exceeded': 'FERRY-E203',
  'no-space': 'FERRY-E301',
  unsupported: 'FERRY-E302',
  io: 'FERRY-E303',
  // The storage cannot be reached now (network mount gone, cloud endpoint down): retry later.
  unavailable: 'FERRY-E304',
  // The storage asks Ferry to slow down (cloud rate limits): retry later, with fewer requests.
  throttled: 'FERRY-E305',
  // A transfer that ended before all its data arrived or was sent (peer gone, short upload).
  incomplete: 'FERRY-E401',
  // The client itself cancelled the transfer (an SCP error record, a cancelled HTTP request).
  aborted: 'FERRY-E402',
  // The account's configuration cannot be served (a missing VFS profile, a target that does not
  // expand, folders that overlap): only an administrator can fix it.
  misconfigured: 'FERRY-E501',
  // Ferry's own state refused the call (a session or file already closed): a bug or a race.
  internal: 'FERRY-E502',
} as const);
export type ErrorKind = keyof typeof ERROR_CODES;
export const ERROR_KINDS = Object.freeze(Object.keys(ERROR_CODES) as ErrorKind[]);

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

  /** The kind's stable code (docs/errors.md). */
  get code(): string {
    return ERROR_CODES[this.kind];
  }
}

export function isFerryError(error: unknown): error is FerryError {
  return error instanceof FerryError;
}
