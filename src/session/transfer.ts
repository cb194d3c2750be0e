// OpenFile: random access (SFTP handles) over a driver's streams. Sequential writes go into one
// write stream through a CoalescingWriter (1 MiB chunks; a write per 32 KiB packet was 4x slower
// than OpenSSH, TESTING.md); sequential reads come from one read stream whose buffer is the
// read-ahead. An offset that breaks the sequence ends the stream and opens a new one there.
//
// Operations on one handle run strictly one after another in call order (SFTP clients keep many
// requests in flight on a handle; the codec calls without waiting). Reading after writing ends the
// writer first, so a read always sees every byte written before it.
import type { SessionStat, OpenFile } from './types.ts';
import type { SetStatChanges, VfsDriver } from '../vfs/vfs.ts';
import { FerryError } from './errors.ts';
import { CoalescingWriter, SequentialReader } from './streams.ts';
import type { Writable } from 'node:stream';

/** Largest single read served (SFTP clients ask for 32-256 KiB). */
export const MAX_READ_LENGTH = 16 * 1024 * 1024;

export interface TransferSummary {
  readonly bytesRead: number;
  readonly bytesWritten: number;
  readonly readable: boolean;
  readonly writable: boolean;
  readonly error: FerryError | undefined;
}

export interface OpenFileContext {
  /** Virtual path, for the client and the log. */
  readonly path: string;
  readonly driver: VfsDriver;
  /** Driver path with symlinks resolved at open time. */
  readonly driverPath: string;
  readonly readable: boolean;
  readonly writable: boolean;
  /** Every write goes to the end of the file, whatever offset the client sent (O_APPEND). */
  readonly append: boolean;
  /** Size at open, where appends start. */
  readonly size: number;
  /** A stream already opened at offset 0 (creation or truncation at open). */
  readonly initialWriter?: Writable | undefined;
  stat(): Promise<SessionStat>;
  setStat(changes: SetStatChanges): Promise<void>;
  onClose(summary: TransferSummary): void;
}

function misuse(message: string, detail: string): FerryError {
  return new FerryError('invalid-argument', message, { detail });
}

export class DriverOpenFile implements OpenFile {
  readonly path: string;
  readonly #ctx: OpenFileContext;
  #queue: Promise<unknown> = Promise.resolve();
  #writer: CoalescingWriter | null = null;
  #reader: SequentialReader | null = null;
  #appendAt: number;
  #bytesRead = 0;
  #bytesWritten = 0;
  #failure: FerryError | undefined;
  #closed = false;

  constructor(ctx: OpenFileContext) {
    this.#ctx = ctx;
    this.path = ctx.path;
    this.#appendAt = ctx.size;
    if (ctx.initialWriter) this.#writer = new CoalescingWriter(ctx.initialWriter, 0, ctx.path);
  }

  #enqueue<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(() => {
      if (this.#closed) throw misuse('the file is already closed', this.path);
      return operation();
    });
    this.#queue = result.catch(() => {});
    return result;
  }

  read(offset: number, length: number): Promise<Buffer> {
    return this.#enqueue(() => this.#read(offset, length));
  }

  write(offset: number, data: Buffer): Promise<void> {
    return this.#enqueue(() => this.#write(offset, data));
  }

  stat(): Promise<SessionStat> {
    return this.#enqueue(async () => {
      await this.#settle();
      return this.#ctx.stat();
    });
  }

  setStat(changes: SetStatChanges): Promise<void> {
    return this.#enqueue(async () => {
      await this.#settle();
      await this.#ctx.setStat(changes);
    });
  }

  sync(): Promise<void> {
    return this.#enqueue(async () => {
      await this.#settle();
      if (this.#ctx.writable) await this.#ctx.driver.sync(this.#ctx.driverPath);
    });
  }

  close(): Promise<void> {
    const result = this.#queue.then(() => this.#close());
    this.#queue = result.catch(() => {});
    return result;
  }

  async #close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#endWriter();
    } catch (error) {
      this.#failure ??= error as FerryError;
    } finally {
      this.#dropReader();
      const ctx = this.#ctx;
      ctx.onClose({ bytesRead: this.#bytesRead, bytesWritten: this.#bytesWritten, readable: ctx.readable, writable: ctx.writable, error: this.#failure });
    }
    if (this.#failure) throw this.#failure;
  }

  async #read(offset: number, length: number): Promise<Buffer> {
    if (!this.#ctx.readable) throw misuse('the file was not opened for reading', this.path);
    if (!Number.isSafeInteger(offset) || offset < 0) throw misuse('invalid offset', String(offset));
    if (!Number.isSafeInteger(length) || length < 0 || length > MAX_READ_LENGTH) throw misuse('invalid read length', String(length));
    await this.#endWriter();
    if (this.#reader && this.#reader.position !== offset) this.#dropReader();
    if (length === 0) return Buffer.alloc(0);
    if (!this.#reader) {
      if (offset > 0 && !this.#ctx.driver.capabilities.readAtOffset) {
        throw new FerryError('unsupported', 'this storage cannot read from the middle of a file', { detail: this.path });
      }
      const stream = await this.#ctx.driver.openRead(this.#ctx.driverPath, { offset });
      this.#reader = new SequentialReader(stream, offset, this.path);
    }
    const { data, eof } = await this.#reader.read(length).catch((error: unknown) => {
      this.#dropReader();
      throw error;
    });
    // At end of file the stream is spent; the next read reopens and sees the file if it grew.
    if (eof) this.#dropReader();
    this.#bytesRead += data.length;
    return data;
  }

  async #write(requested: number, data: Buffer): Promise<void> {
    if (!this.#ctx.writable) throw misuse('the file was not opened for writing', this.path);
    if (!Number.isSafeInteger(requested) || requested < 0) throw misuse('invalid offset', String(requested));
    if (data.length === 0) return;
    const offset = this.#ctx.append ? this.#appendAt : requested;
    this.#dropReader();
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
    this.#bytesWritten += data.length;
    this.#appendAt = Math.max(this.#appendAt, offset + data.length);
  }

  /** Flushes pending writes so that stat, setStat and reads see them. */
  async #settle(): Promise<void> {
    await this.#endWriter();
  }

  async #endWriter(): Promise<void> {
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

  #dropReader(): void {
    this.#reader?.destroy();
    this.#reader = null;
  }
}
