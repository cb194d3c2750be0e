// OpenFile: random access (SFTP handles) over a driver's streams. Sequential writes go into one
// write stream through a CoalescingWriter (1 MiB chunks; a write per 32 KiB packet was 4x slower
// than OpenSSH, TESTING.md); sequential reads come from one read stream whose buffer is the
// read-ahead. A write arriving a little ahead of the sequence waits in memory for the gap before
// it (REORDER_WINDOW); any other jump ends the stream and opens a new one at the new offset.
//
// Operations on one handle run strictly one after another in call order (SFTP clients keep many
// requests in flight on a handle; the codec calls without waiting). Reading after writing ends the
// writer first, so a read always sees every byte written before it.
import type { SessionStat, OpenFile } from './types.ts';
import type { PositionalReader, SetStatChanges, VfsDriver } from '../vfs/vfs.ts';
import { FerryError, isFerryError } from './errors.ts';
import { CoalescingWriter, KEEP_BEHIND, READ_WINDOW, ReadWindow } from './streams.ts';
import type { Writable } from 'node:stream';
import type { Transfer } from './transfer.ts';

/** Largest single read served (SFTP clients ask for 32-256 KiB). */
export const MAX_READ_LENGTH = 16 * 1024 * 1024;

export interface OpenFileContext {
  /** Virtual path, for the client and the log. */
  readonly path: string;
  readonly driver: VfsDriver;
  /** Driver path with symlinks resolved at open time. */
  readonly driverPath: string;
  /** Decided, counted and logged there; its `size` is where appends start. */
  readonly transfer: Transfer;
  /** Every write goes to the end of the file, whatever offset the client sent (O_APPEND). */
  readonly append: boolean;
  /** A stream already opened at offset 0 (creation or truncation at open). */
  readonly initialWriter?: Writable | undefined;
  /** The storage's identity of the file when it was opened, if it existed then. */
  readonly identity?: string | undefined;
  stat(): Promise<SessionStat>;
  setStat(changes: SetStatChanges): Promise<void>;
}

/**
 * How far ahead of the sequence a write may arrive and wait for the gap before it to fill, and how
 * many bytes may wait. Clients with concurrent writes (Go's pkg/sftp, used by rclone: 64 x 32 KiB
 * in flight) send a window slightly out of order; without this every such write would end the
 * stream and open a new one.
 */
export const REORDER_WINDOW = 4 * 1024 * 1024;

/** Writes that arrived ahead of the sequence; never overlapping each other. */
class AheadWrites {
  readonly #pieces = new Map<number, Buffer>();
  #bytes = 0;

  get size(): number {
    return this.#pieces.size;
  }

  overlaps(offset: number, length: number): boolean {
    for (const [start, piece] of this.#pieces) if (offset < start + piece.length && start < offset + length) return true;
    return false;
  }

  canHold(next: number, offset: number, length: number): boolean {
    return offset > next && offset + length - next <= REORDER_WINDOW && this.#bytes + length <= REORDER_WINDOW && !this.overlaps(offset, length);
  }

  /** Keeps a copy: the caller may reuse its buffer once the write resolved. */
  hold(offset: number, data: Buffer): void {
    this.#pieces.set(offset, Buffer.from(data));
    this.#bytes += data.length;
  }

  take(offset: number): Buffer | undefined {
    const piece = this.#pieces.get(offset);
    if (piece) {
      this.#pieces.delete(offset);
      this.#bytes -= piece.length;
    }
    return piece;
  }

  takeAll(): [number, Buffer][] {
    const all = [...this.#pieces].sort((a, b) => a[0] - b[0]);
    this.#pieces.clear();
    this.#bytes = 0;
    return all;
  }
}

function misuse(message: string, detail: string): FerryError {
  return new FerryError('invalid-request', message, { detail });
}

export class DriverOpenFile implements OpenFile {
  readonly path: string;
  readonly #ctx: OpenFileContext;
  readonly #transfer: Transfer;
  #queue: Promise<unknown> = Promise.resolve();
  #writer: CoalescingWriter | null = null;
  #reader: ReadWindow | null = null;
  /** Positioned reads on storages that offer them (disk): no stream, no read-ahead copy. */
  #positional: PositionalReader | null = null;
  #reordered = false;
  readonly #ahead = new AheadWrites();
  #appendAt: number;
  #failure: FerryError | undefined;
  #closed = false;
  #identity: Promise<string | undefined> | undefined;

  constructor(ctx: OpenFileContext) {
    this.#ctx = ctx;
    this.path = ctx.path;
    this.#transfer = ctx.transfer;
    this.#appendAt = ctx.transfer.size;
    if (ctx.initialWriter) this.#writer = new CoalescingWriter(ctx.initialWriter, 0, ctx.path);
    // Stopped by an administrator or because the session closes: what was written is kept.
    ctx.transfer.onStop(() => this.abandon());
  }

  #enqueue<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(() => {
      if (this.#closed) throw this.#transfer.stopped ?? new FerryError('internal', 'the file is already closed', { detail: this.path });
      return operation();
    });
    this.#queue = result.catch(() => {});
    return result;
  }

  read(offset: number, length: number): Promise<Buffer> {
    return this.#enqueue(() => this.#read(offset, length));
  }

  readInto(offset: number, target: Buffer): Promise<number> {
    return this.#enqueue(() => this.#readInto(offset, target));
  }

  write(offset: number, data: Buffer): Promise<void> {
    return this.#enqueue(() => this.#write(offset, data));
  }

  stat(): Promise<SessionStat> {
    return this.#enqueue(async () => {
      await this.#endWriter();
      return this.#ctx.stat();
    });
  }

  setStat(changes: SetStatChanges): Promise<void> {
    return this.#enqueue(async () => {
      await this.#endWriter();
      await this.#ctx.setStat(changes);
    });
  }

  sync(): Promise<void> {
    return this.#enqueue(async () => {
      await this.#endWriter();
      if (this.#transfer.writable) await this.#ctx.driver.sync(this.#ctx.driverPath);
    });
  }

  async sameFileAs(other: OpenFile): Promise<boolean> {
    if (!(other instanceof DriverOpenFile)) return false;
    const [mine, theirs] = await Promise.all([this.#identityOf(), other.#identityOf()]);
    if (mine !== undefined && theirs !== undefined) return mine === theirs;
    // A storage without identities has no hard links: the resolved storage path names the file.
    return this.#ctx.driver === other.#ctx.driver && this.#ctx.driverPath === other.#ctx.driverPath;
  }

  /** Known from the open when the file existed; a file the open created is asked once. */
  #identityOf(): Promise<string | undefined> {
    const ctx = this.#ctx;
    this.#identity ??= ctx.identity !== undefined ? Promise.resolve(ctx.identity) : ctx.driver.stat(ctx.driverPath).then((entry) => entry.identity, () => undefined);
    return this.#identity;
  }

  close(): Promise<void> {
    return this.#closeAfterQueue(true);
  }

  abandon(): Promise<void> {
    return this.#closeAfterQueue(false);
  }

  #closeAfterQueue(complete: boolean): Promise<void> {
    const result = this.#queue.then(() => this.#close(complete));
    this.#queue = result.catch(() => {});
    return result;
  }

  async #close(complete: boolean): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#endWriter();
    } catch (error) {
      this.#failure ??= error as FerryError;
    } finally {
      this.#dropReader();
      await this.#dropPositional();
      this.#transfer.end({ complete, error: this.#failure });
    }
    if (this.#failure) throw this.#failure;
  }

  async #readInto(offset: number, target: Buffer): Promise<number> {
    await this.#readable(offset, target.length);
    if (target.length === 0) return 0;
    if (!this.#ctx.driver.openPositional) {
      const data = await this.#streamRead(offset, target.length);
      target.set(data);
      return data.length;
    }
    return this.#positionalRead(offset, target);
  }

  async #read(offset: number, length: number): Promise<Buffer> {
    await this.#readable(offset, length);
    if (length === 0) return Buffer.alloc(0);
    if (!this.#ctx.driver.openPositional) return this.#streamRead(offset, length);
    const target = Buffer.allocUnsafe(length);
    return target.subarray(0, await this.#positionalRead(offset, target));
  }

  /** Checks a read request and ends the writer, so the read sees every byte written before. */
  async #readable(offset: number, length: number): Promise<void> {
    if (!this.#transfer.readable) throw misuse('the file was not opened for reading', this.path);
    if (!Number.isSafeInteger(offset) || offset < 0) throw misuse('invalid offset', String(offset));
    if (!Number.isSafeInteger(length) || length < 0 || length > MAX_READ_LENGTH) throw misuse('invalid read length', String(length));
    await this.#admit(length, 'read');
    await this.#endWriter();
  }

  /**
   * The limiter's word on the next bytes (quotas, bandwidth). Without a limiter it returns
   * undefined and the caller's await costs nothing more; a refusal is what the handle ends with.
   */
  #admit(bytes: number, direction: 'read' | 'write'): Promise<void> | undefined {
    let admitted: Promise<void> | undefined;
    try {
      admitted = this.#transfer.admit(bytes, direction);
    } catch (error) {
      throw this.#refused(error);
    }
    return admitted?.catch((error: unknown) => {
      throw this.#refused(error);
    });
  }

  #refused(error: unknown): unknown {
    if (isFerryError(error)) this.#failure ??= error;
    return error;
  }

  /** One pread per request, as sftp-server.c does: the page cache is the read-ahead. */
  async #positionalRead(offset: number, target: Buffer): Promise<number> {
    const ctx = this.#ctx;
    this.#positional ??= (await ctx.driver.openPositional?.(ctx.driverPath)) ?? null;
    if (!this.#positional) throw new FerryError('unsupported', 'this storage has no positioned reads', { detail: this.path });
    try {
      const n = await this.#positional.read(target, offset);
      this.#transfer.bytesRead += n;
      return n;
    } catch (error) {
      await this.#dropPositional();
      throw error;
    }
  }

  async #streamRead(offset: number, length: number): Promise<Buffer> {
    // Clients keep reads in flight past the end (64 of them for OpenSSH and rclone): answer those
    // with a stat rather than a new stream each; a file that grew meanwhile is reopened.
    if (this.#reader?.pastEnd(offset) && (await this.#ctx.driver.stat(this.#ctx.driverPath)).size <= offset) return Buffer.alloc(0);
    if (this.#reader && !this.#reader.canServe(offset)) {
      // A request just behind what was read: the client sends reads out of order. From now on
      // this handle reopens a little earlier and keeps some data behind its latest request.
      if (offset < this.#reader.start && this.#reader.start - offset <= READ_WINDOW) this.#reordered = true;
      this.#dropReader();
    }
    if (!this.#reader) {
      const from = this.#reordered ? Math.max(0, offset - KEEP_BEHIND) : offset;
      if (from > 0 && !this.#ctx.driver.capabilities.readAtOffset) {
        throw new FerryError('unsupported', 'this storage cannot read from the middle of a file', { detail: this.path });
      }
      const stream = await this.#ctx.driver.openRead(this.#ctx.driverPath, { offset: from });
      this.#reader = new ReadWindow(stream, from, this.path, this.#reordered ? KEEP_BEHIND : 0);
    }
    const data = await this.#reader.read(offset, length).catch((error: unknown) => {
      this.#dropReader();
      throw error;
    });
    this.#transfer.bytesRead += data.length;
    return data;
  }

  async #write(requested: number, data: Buffer): Promise<void> {
    if (!this.#transfer.writable) throw misuse('the file was not opened for writing', this.path);
    if (!Number.isSafeInteger(requested) || requested < 0) throw misuse('invalid offset', String(requested));
    if (data.length === 0) return;
    await this.#admit(data.length, 'write');
    const offset = this.#ctx.append ? this.#appendAt : requested;
    this.#dropReader();
    const next = this.#writer?.next;
    if (next !== undefined && offset !== next && this.#ahead.canHold(next, offset, data.length)) {
      this.#ahead.hold(offset, data);
    } else {
      // Anything else keeps arrival order: what was held goes first.
      if (this.#ahead.size > 0 && (offset !== next || this.#ahead.overlaps(offset, data.length))) await this.#flushAhead();
      await this.#writeAt(offset, data);
      await this.#drainAhead();
    }
    this.#transfer.bytesWritten += data.length;
    this.#appendAt = Math.max(this.#appendAt, offset + data.length);
  }

  /** Writes at `offset`, reusing the current stream when the offset continues it. */
  async #writeAt(offset: number, data: Buffer): Promise<void> {
    if (this.#writer && this.#writer.next !== offset) await this.#endWriter();
    if (!this.#writer) {
      if (offset > 0 && !this.#ctx.driver.capabilities.writeAtOffset) {
        throw new FerryError('unsupported', 'this storage can only write files from start to end', { detail: this.path });
      }
      const stream = await this.#ctx.driver.openWrite(this.#ctx.driverPath, { offset });
      this.#writer = new CoalescingWriter(stream, offset, this.path);
    }
    try {
      await this.#writer.write(data);
    } catch (error) {
      this.#failure ??= error as FerryError;
      throw error;
    }
  }

  /** Writes held pieces that now continue the sequence. */
  async #drainAhead(): Promise<void> {
    while (this.#writer && this.#ahead.size > 0) {
      const next = this.#writer.next;
      const piece = this.#ahead.take(next);
      if (!piece) return;
      await this.#writeAt(next, piece);
    }
  }

  async #flushAhead(): Promise<void> {
    for (const [offset, piece] of this.#ahead.takeAll()) await this.#writeAt(offset, piece);
  }

  /** Flushes pending writes so that stat, setStat and reads see them. */
  async #endWriter(): Promise<void> {
    if (this.#ahead.size > 0) await this.#flushAhead();
    const writer = this.#writer;
    if (!writer) return;
    this.#writer = null;
    try {
      await writer.end();
    } catch (error) {
      this.#failure ??= error as FerryError;
      throw error;
    }
  }

  async #dropPositional(): Promise<void> {
    const positional = this.#positional;
    this.#positional = null;
    await positional?.close().catch(() => {});
  }

  #dropReader(): void {
    this.#reader?.destroy();
    this.#reader = null;
  }
}
