// The transfer-log side of the Session: every operation ends here, success or failure, with the
// session's identity, its virtual path, bytes and duration (W3C log, logging/transfer-log.ts).
import type { Logger } from 'pino';
import type { OpenTransfer, TransferLog, TransferOperation } from '../logging/transfer-log.ts';
import { mapFsError } from '../vfs/drivers/fs-errors.ts';
import { normalizeVirtualPath } from '../vfs/path.ts';
import type { FerryError } from './errors.ts';
import { HookRunner } from './hooks.ts';
import { isFerryError } from './errors.ts';
import type { ConnectionInfo } from './types.ts';

/** Kinds that are the operator's problem, not the user's: logged at warn. */
const OPERATOR_FAILURES: ReadonlySet<string> = new Set(['io', 'no-space', 'unavailable', 'throttled', 'misconfigured', 'internal']);

export function asFerryError(error: unknown, path: string): FerryError {
  return isFerryError(error) ? error : mapFsError(error, path);
}

/** The path as the log shows it: canonical when it can be, else the raw text, bounded. */
export function displayPath(path: string): string {
  try {
    return normalizeVirtualPath(path);
  } catch {
    // A refused path may hold control characters: never let them into a log line.
    return String(path).slice(0, 256).replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  }
}

export interface RecordExtra {
  readonly target?: string;
  readonly bytes?: number;
  readonly durationMs?: number;
}

export interface TransferLine {
  readonly operation: TransferOperation;
  readonly status: string;
  readonly bytes: number;
}

export interface OngoingTransfer {
  readonly started: number;
  /** Writes the transfer's lines (an SFTP handle both read and written has two), then forgets it. */
  end(lines: readonly TransferLine[]): void;
}

export class OperationRecorder {
  readonly #log: TransferLog;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #connection: ConnectionInfo;
  readonly #username: string;
  readonly #protocol: string;
  readonly #hooks: HookRunner;

  /** `hooks`: the after-operation hooks see every record written here, in the order written. */
  constructor(
    deps: { transferLog: TransferLog; logger: Logger; now: () => number },
    connection: ConnectionInfo,
    username: string,
    protocol: string,
    hooks: HookRunner = new HookRunner(undefined),
  ) {
    this.#hooks = hooks;
    this.#log = deps.transferLog;
    this.#logger = deps.logger.child({ connectionId: connection.connectionId, user: username, protocol });
    this.#now = deps.now;
    this.#connection = connection;
    this.#username = username;
    this.#protocol = protocol;
  }

  get logger(): Logger {
    return this.#logger;
  }

  #identity(operation: TransferOperation, path: string, time: number): OpenTransfer {
    const c = this.#connection;
    return {
      time: new Date(time),
      siteId: c.siteId,
      connectionId: c.connectionId,
      remoteAddress: c.remoteAddress,
      remotePort: c.remotePort,
      username: this.#username,
      protocol: this.#protocol,
      operation,
      path,
    };
  }

  /** The one place every operation's outcome goes: the transfer log, then the after hooks. */
  record(operation: TransferOperation, path: string, status: string, extra: RecordExtra = {}): void {
    const record = {
      ...this.#identity(operation, path, this.#now()),
      ...(extra.target === undefined ? {} : { target: extra.target }),
      bytes: extra.bytes ?? 0,
      durationMs: extra.durationMs ?? 0,
      status,
    };
    this.#log.write(record);
    this.#hooks.after(record, this.#logger);
  }

  /**
   * A streamed transfer has started: noted in the open-transfers journal now, so that a node
   * that dies before its end still logs it at the next start. `end` writes its line(s).
   */
  begin(operation: TransferOperation, path: string, target?: string): OngoingTransfer {
    const started = this.#now();
    const forget = this.#log.begin?.(this.#identity(operation, path, started));
    return {
      started,
      end: (lines) => {
        for (const line of lines) this.record(line.operation, path, line.status, { bytes: line.bytes, durationMs: this.#now() - started, ...(target === undefined ? {} : { target }) });
        forget?.();
      },
    };
  }

  /**
   * A FerryError for the client, with the detail in the application log; the error hooks hear
   * of it (`operation` names what failed: the Protector tells a stat from a download).
   */
  fail(error: unknown, path: string, operation = 'operation'): FerryError {
    const failure = asFerryError(error, path);
    this.reportError(failure, path, operation);
    // A user's mistake (missing file, denied permission) is routine; a storage failure is the
    // operator's problem and the client only sees a generic message, so it must reach the log.
    const level = OPERATOR_FAILURES.has(failure.kind) ? 'warn' : 'debug';
    this.#logger[level]({ path, kind: failure.kind, code: failure.code, detail: failure.detail, err: failure.cause }, failure.message);
    return failure;
  }

  /** Tells the error hooks that `operation` failed with `failure`. */
  reportError(failure: FerryError, path: string, operation: string): void {
    const c = this.#connection;
    this.#hooks.error({ siteId: c.siteId, connectionId: c.connectionId, remoteAddress: c.remoteAddress, username: this.#username, operation, path: displayPath(path), kind: failure.kind }, this.#logger);
  }

  /** Runs an operation without a transfer-log line (metadata), mapping its errors. */
  async guard<T>(path: string, body: () => Promise<T>, operation = 'operation'): Promise<T> {
    try {
      return await body();
    } catch (error) {
      throw this.fail(error, path, operation);
    }
  }

  /** Runs an operation that the transfer log records, success or failure. */
  async logged<T>(operation: TransferOperation, path: string, body: () => Promise<T>, target?: string): Promise<T> {
    const started = this.#now();
    const extra = () => ({ durationMs: this.#now() - started, ...(target === undefined ? {} : { target: displayPath(target) }) });
    try {
      const result = await body();
      this.record(operation, displayPath(path), 'ok', extra());
      return result;
    } catch (error) {
      const failure = this.fail(error, path, operation);
      this.record(operation, displayPath(path), failure.kind, extra());
      throw failure;
    }
  }

  /** Starts a streamed transfer: a failure before its stream exists is logged here. */
  async start<T>(operation: TransferOperation, path: string, body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (error) {
      const failure = this.fail(error, path, operation);
      this.record(operation, displayPath(path), failure.kind);
      throw failure;
    }
  }
}
