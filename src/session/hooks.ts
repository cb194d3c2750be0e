// The Session's extension points, installed once per node (SessionDeps.hooks) and run from one
// place for every protocol: `before` hooks may veto an operation once it was decided and
// permitted, just before the storage is touched (event scripts, quotas); `after` hooks see every
// transfer-log record as it is written (metrics, the Protector's strikes, notifications); a
// limiter paces or stops the bytes of each transfer (bandwidth, quotas). Lists are compiled once:
// without hooks an operation does no work for them (STYLE.md 13).
import type { Subsystem } from '../config/model/permissions.ts';
import type { TransferRecord } from '../logging/transfer-log.ts';
import { FerryError, isFerryError } from './errors.ts';
import type { TransferDecision, TransferLimiter } from './transfer.ts';

/** Who is asking: enough for a script or a quota to decide, nothing to act on the session with. */
export interface SessionIdentity {
  readonly sessionId: string;
  readonly connectionId: string;
  readonly siteId: string;
  readonly username: string;
  /** The subsystem (`ssh2_sftp`, `ssh2_scp`, `ftp`, ...) or `ssh` for the connection itself. */
  readonly protocol: Subsystem | 'ssh';
  readonly remoteAddress: string;
}

export type PendingOperationName = 'upload' | 'download' | 'copy' | 'delete' | 'rename' | 'mkdir' | 'rmdir' | 'setstat' | 'symlink' | 'link';

/** An operation the Session has decided and permitted and is about to perform. */
export interface PendingOperation {
  readonly operation: PendingOperationName;
  /** Virtual path, as the transfer log shows it. */
  readonly path: string;
  /** The second path of a rename, copy, symlink or link. */
  readonly target?: string;
  /** A transfer's decision: what it does to its file. */
  readonly decision?: TransferDecision;
  /** A transfer's file size when it was decided (0 for a create); a copy's source size. */
  readonly size?: number;
  readonly session: SessionIdentity;
}

/** Throws (or rejects with) a FerryError to refuse the operation; the client hears that error. */
export type BeforeHook = (operation: PendingOperation) => void | Promise<void>;
/** Sees a record after it was written; what it throws is logged, never passed to the client. */
export type AfterHook = (record: TransferRecord) => void;

/** An operation of a session failed: what the client is told, and which operation it was. */
export interface SessionErrorEvent {
  readonly siteId: string;
  readonly connectionId: string;
  readonly remoteAddress: string;
  readonly username: string;
  /** `stat`, `list`, `download`, `upload`, `login` (the session could not be opened) ... */
  readonly operation: string;
  /** Virtual path, as the log shows it. */
  readonly path: string;
  readonly kind: FerryError['kind'];
}

/** Sees every failed operation, metadata included (the Protector's strict strikes); never throws to the client. */
export type ErrorHook = (event: SessionErrorEvent) => void;

export interface SessionHooks {
  readonly before?: readonly BeforeHook[];
  readonly after?: readonly AfterHook[];
  readonly error?: readonly ErrorHook[];
  /** The limiter for a session's transfers (a per-user quota, a per-site bandwidth cap), or none. */
  readonly limiter?: (session: SessionIdentity) => TransferLimiter | undefined;
}

/** Where a hook's own failure is reported. */
export interface HookLog {
  warn(fields: Record<string, unknown>, message: string): void;
}

/**
 * A veto is the hook's FerryError; anything else a hook throws is a bug in it, and the operation
 * is refused rather than let through (fail closed).
 */
function asVeto(error: unknown, operation: PendingOperation, log: HookLog): FerryError {
  if (isFerryError(error)) return error;
  log.warn({ err: error, operation: operation.operation, path: operation.path }, 'a before-operation hook failed; the operation is refused');
  return new FerryError('permission-denied', 'the server refused this operation', { detail: `hook failed on ${operation.operation} ${operation.path}`, cause: error });
}

export class HookRunner {
  /** Null when there are none: the Session skips building the operation at all. */
  readonly #before: readonly BeforeHook[] | null;
  readonly #after: readonly AfterHook[] | null;
  readonly #error: readonly ErrorHook[] | null;
  readonly #limiter: SessionHooks['limiter'] | null;

  constructor(hooks: SessionHooks | undefined) {
    this.#before = hooks?.before?.length ? [...hooks.before] : null;
    this.#after = hooks?.after?.length ? [...hooks.after] : null;
    this.#error = hooks?.error?.length ? [...hooks.error] : null;
    this.#limiter = hooks?.limiter ?? null;
  }

  get hasBefore(): boolean {
    return this.#before !== null;
  }

  /** Runs every before hook in order; the first veto wins. */
  async before(operation: PendingOperation, log: HookLog): Promise<void> {
    if (this.#before === null) return;
    for (const hook of this.#before) {
      try {
        await hook(operation);
      } catch (error) {
        throw asVeto(error, operation, log);
      }
    }
  }

  after(record: TransferRecord, log: HookLog): void {
    if (this.#after === null) return;
    for (const hook of this.#after) {
      try {
        hook(record);
      } catch (error) {
        log.warn({ err: error, operation: record.operation, path: record.path }, 'an after-operation hook failed');
      }
    }
  }

  error(event: SessionErrorEvent, log: HookLog): void {
    if (this.#error === null) return;
    for (const hook of this.#error) {
      try {
        hook(event);
      } catch (error) {
        log.warn({ err: error, operation: event.operation, path: event.path }, 'an error hook failed');
      }
    }
  }

  limiterFor(session: SessionIdentity): TransferLimiter | null {
    return this.#limiter?.(session) ?? null;
  }
}
