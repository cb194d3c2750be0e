// One transfer, whatever carries it: an SFTP-style handle (open-file.ts) or a whole stream (SCP,
// FTP, HTTP; streams.ts). The Session decides here, once for every protocol, what a transfer does
// to its file (read, create, modify, append) against what is there, with the permission and the
// storage capability each decision needs; the Transfer then counts its bytes, asks the session's
// limiter before bytes move (quotas, bandwidth), can be stopped (by an administrator, or because
// the session closes) and writes its transfer-log lines when it ends.
import type { Capabilities, EntryInfo } from '../vfs/vfs.ts';
import { FerryError } from './errors.ts';
import type { Operation } from './permissions.ts';
import type { OngoingTransfer, TransferLine } from './recorder.ts';

/** What a transfer does to its file, decided once, against what is there when it opens. */
export type TransferDecision = 'read' | 'create' | 'modify' | 'append';

/** What the client asked for, in protocol-neutral terms. */
export interface TransferIntent {
  readonly read: boolean;
  readonly write: boolean;
  /** A missing file may be created (SFTP CREAT, whole-stream uploads, FTP STOR/APPE). */
  readonly create: boolean;
  /** Fail with `exists` if the file exists (O_EXCL). */
  readonly exclusive: boolean;
  /** An existing file is emptied first. */
  readonly truncate: boolean;
  /** Every write goes to the end of the file (O_APPEND, FTP APPE). */
  readonly append: boolean;
  /** Where a whole-stream transfer starts (resume); handles pick offsets per request. */
  readonly offset: number;
}

/** Where the decision is taken: the permission check and the storage's capabilities. */
export interface DecisionPlace {
  readonly path: string;
  readonly capabilities: Capabilities;
  require(operation: Operation): void;
}

function unsupported(message: string, path: string): FerryError {
  return new FerryError('unsupported', message, { detail: path });
}

/**
 * The decision for `intent` on what is at the path now (`existing`, or undefined when nothing
 * is), or the refusal. Pure: the caller acts on it, opening exclusively for `create` and
 * without creating otherwise, and decides again if the act finds the file changed.
 */
export function decideTransfer(intent: TransferIntent, existing: EntryInfo | undefined, place: DecisionPlace): TransferDecision {
  const { path } = place;
  if (existing?.type === 'dir') throw new FerryError('is-a-directory', 'the path is a directory', { detail: path });
  if (existing && existing.type !== 'file') throw new FerryError('not-a-file', 'not a regular file', { detail: path });
  if (intent.read) place.require('readFile');
  if (intent.read && intent.offset > 0 && !place.capabilities.readAtOffset) unsupportedRead(path);
  if (!intent.write) {
    if (!existing) throw new FerryError('not-found', 'no such file or directory', { detail: path });
    return 'read';
  }
  if (!existing) {
    if (!intent.create) throw new FerryError('not-found', 'no such file or directory', { detail: path });
    place.require('createFile');
    if (intent.offset > 0 && !place.capabilities.writeAtOffset) unsupportedWrite(path);
    return 'create';
  }
  if (intent.exclusive) throw new FerryError('exists', 'a file or directory with that name already exists', { detail: path });
  place.require('modifyFile');
  const appending = intent.append && !intent.truncate;
  if (intent.offset > 0 && !place.capabilities.writeAtOffset) unsupportedWrite(path);
  if (appending && existing.size > 0 && !place.capabilities.append) throw unsupported('this storage cannot add to the end of a file', path);
  return appending ? 'append' : 'modify';
}

function unsupportedRead(path: string): never {
  throw unsupported('this storage cannot read from the middle of a file', path);
}

function unsupportedWrite(path: string): never {
  throw unsupported('this storage can only write files from start to end', path);
}

/**
 * Asked before bytes move (quotas, bandwidth limits). Returning a promise holds the bytes until
 * it settles; throwing (or rejecting) a FerryError fails the transfer with it. Undefined keeps
 * the hot path free of awaits.
 */
export interface TransferLimiter {
  admit(transfer: Transfer, bytes: number, direction: 'read' | 'write'): Promise<void> | undefined;
}

/** A transfer as an administrator sees it. */
export interface TransferInfo {
  readonly id: string;
  readonly path: string;
  readonly decision: TransferDecision;
  /** `upload` for anything that writes, `download` for reads only, `copy` for a server-side copy. */
  readonly operation: 'upload' | 'download' | 'copy';
  /** ms since the epoch. */
  readonly startedAt: number;
  readonly bytesRead: number;
  readonly bytesWritten: number;
}

export interface TransferOptions {
  readonly id: string;
  readonly path: string;
  readonly decision: TransferDecision;
  readonly readable: boolean;
  readonly writable: boolean;
  /** Size of the file when the decision was taken (where an append starts). */
  readonly size: number;
  /** The open-transfers journal entry; `end` writes the lines. */
  readonly journal: OngoingTransfer;
  /** A server-side copy: one `copy` line with the bytes written, instead of upload/download lines. */
  readonly copy?: boolean;
  readonly limiter: TransferLimiter | null;
  /** Runs once, when the transfer ended: the session forgets it. */
  readonly onEnd: (transfer: Transfer) => void;
}

/** How the carrier of a transfer ended. */
export interface TransferEnd {
  /** False when abandoned (the client or the session went away first). */
  readonly complete: boolean;
  readonly error: FerryError | undefined;
}

export class Transfer {
  readonly id: string;
  readonly path: string;
  readonly decision: TransferDecision;
  readonly readable: boolean;
  readonly writable: boolean;
  readonly size: number;
  readonly startedAt: number;
  bytesRead = 0;
  bytesWritten = 0;
  readonly #journal: OngoingTransfer;
  readonly #copy: boolean;
  readonly #limiter: TransferLimiter | null;
  readonly #onEnd: (transfer: Transfer) => void;
  /** Set by the carrier (handle or stream): how to cut it off. */
  #stopper: ((reason: FerryError) => Promise<void>) | undefined;
  #stopped: FerryError | undefined;
  #ended = false;
  readonly #endedSignal: Promise<void>;
  #signalEnd: () => void = () => {};

  constructor(options: TransferOptions) {
    this.id = options.id;
    this.path = options.path;
    this.decision = options.decision;
    this.readable = options.readable;
    this.writable = options.writable;
    this.size = options.size;
    this.startedAt = options.journal.started;
    this.#journal = options.journal;
    this.#copy = options.copy ?? false;
    this.#limiter = options.limiter;
    this.#onEnd = options.onEnd;
    this.#endedSignal = new Promise((resolve) => (this.#signalEnd = resolve));
  }

  get operation(): 'upload' | 'download' | 'copy' {
    if (this.#copy) return 'copy';
    return this.writable ? 'upload' : 'download';
  }

  /** Why the transfer was stopped, once it was: later requests on its handle fail with it. */
  get stopped(): FerryError | undefined {
    return this.#stopped;
  }

  info(): TransferInfo {
    return {
      id: this.id,
      path: this.path,
      decision: this.decision,
      operation: this.operation,
      startedAt: this.startedAt,
      bytesRead: this.bytesRead,
      bytesWritten: this.bytesWritten,
    };
  }

  /** Before `bytes` are read or written: undefined when they may move at once (hot path). */
  admit(bytes: number, direction: 'read' | 'write'): Promise<void> | undefined {
    if (this.#stopped) throw this.#stopped;
    return this.#limiter === null ? undefined : this.#limiter.admit(this, bytes, direction);
  }

  /** The carrier says how to cut it off; a transfer stopped before that is cut off at once. */
  onStop(stopper: (reason: FerryError) => Promise<void>): void {
    this.#stopper = stopper;
    if (this.#stopped) void stopper(this.#stopped);
  }

  /** Cuts the transfer off: it ends `incomplete` (or with `reason`); resolves once it was logged. */
  async stop(reason?: FerryError): Promise<void> {
    if (this.#ended) return;
    this.#stopped ??= reason ?? new FerryError('incomplete', 'the transfer was stopped by the server', { detail: `${this.path}: stopped` });
    if (!this.#stopper) return; // cut off as soon as its carrier exists
    await this.#stopper(this.#stopped);
    await this.#endedSignal;
  }

  /** Writes the transfer's log lines once and forgets it. */
  end(outcome: TransferEnd): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#journal.end(this.#lines(outcome));
    this.#onEnd(this);
    this.#signalEnd();
  }

  /** A handle that was only read or only written has one line; one both read and written, two. */
  #lines(outcome: TransferEnd): TransferLine[] {
    const error = outcome.error ?? this.#stopped;
    const status = error?.kind ?? (outcome.complete ? 'ok' : 'incomplete');
    if (this.#copy) return [{ operation: 'copy', status, bytes: this.bytesWritten }];
    const lines: TransferLine[] = [];
    if (this.writable) lines.push({ operation: 'upload', status, bytes: this.bytesWritten });
    if (this.readable && (this.bytesRead > 0 || !this.writable)) lines.push({ operation: 'download', status, bytes: this.bytesRead });
    return lines;
  }
}

/** The transfers of one session, by id: listed and stopped by an administrator, all aborted at close. */
export class TransferRegistry {
  readonly #active = new Map<string, Transfer>();

  add(transfer: Transfer): void {
    this.#active.set(transfer.id, transfer);
  }

  delete(transfer: Transfer): void {
    this.#active.delete(transfer.id);
  }

  list(): TransferInfo[] {
    return [...this.#active.values()].map((t) => t.info());
  }

  /** False when no such transfer is active. */
  async stop(id: string, reason?: FerryError): Promise<boolean> {
    const transfer = this.#active.get(id);
    if (!transfer) return false;
    await transfer.stop(reason);
    return true;
  }

  async stopAll(reason?: FerryError): Promise<void> {
    await Promise.allSettled([...this.#active.values()].map((t) => t.stop(reason)));
  }
}
