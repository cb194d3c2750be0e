// Stream plumbing under the Session's transfers: a coalescing writer and a read-ahead reader
// over a driver's streams (the SFTP hot path), and meters that count bytes of whole-stream
// transfers for the transfer log.
import { Transform, Writable } from 'node:stream';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { mapFsError } from '../vfs/drivers/fs-errors.ts';
import { FerryError } from './errors.ts';
import type { Transfer } from './transfer.ts';

/** Sequential writes are gathered into chunks of this size before they reach the storage. */
export const WRITE_CHUNK = 1024 * 1024;
/**
 * Bytes the storage stream may hold before a write waits: several chunks in flight keep the
 * disk busy while the protocol keeps accepting packets.
 */
export const MAX_QUEUED = 4 * WRITE_CHUNK;
const MAX_POOLED = MAX_QUEUED / WRITE_CHUNK + 2;

/**
 * Resolves on 'drain'; rejects if the stream fails or closes first (a close without an error
 * rejects with what `closed` makes: a protocol names its own channel's end).
 */
export function waitDrain(stream: Writable, closed: () => Error = () => new Error('stream closed before drain')): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (error?: unknown) => {
      stream.off('drain', onDrain).off('error', done).off('close', onClose);
      if (error) reject(error);
      else resolve();
    };
    const onDrain = () => done();
    const onClose = () => done(stream.errored ?? closed());
    stream.on('drain', onDrain).on('error', done).on('close', onClose);
  });
}

function waitReadable(stream: Readable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('readable', done).off('end', done).off('error', done).off('close', done);
      resolve();
    };
    stream.on('readable', done).on('end', done).on('error', done).on('close', done);
  });
}

/**
 * Writes arriving at consecutive offsets, copied into large chunks (the caller may reuse its
 * buffer once a write resolves). A write resolves when accepted; a storage error is kept and
 * thrown by the next write, flush or end.
 */
export class CoalescingWriter {
  readonly #stream: Writable;
  readonly #path: string;
  #next: number;
  #chunk: Buffer | null = null;
  #fill = 0;
  #error: FerryError | undefined;
  /**
   * Chunks the storage has finished with, reused: a fresh 1 MiB buffer per chunk cost a page
   * fault per 4 KiB on first touch and dominated the profile of a 1 GiB upload.
   */
  readonly #free: Buffer[] = [];

  constructor(stream: Writable, offset: number, path: string) {
    this.#stream = stream;
    this.#next = offset;
    this.#path = path;
    stream.on('error', (error) => {
      this.#error ??= mapFsError(error, path);
    });
  }

  /** Offset the next sequential write must start at. */
  get next(): number {
    return this.#next;
  }

  #throwIfFailed(): void {
    if (this.#error) throw this.#error;
  }

  async write(data: Uint8Array): Promise<void> {
    this.#throwIfFailed();
    let pos = 0;
    while (pos < data.length) {
      this.#chunk ??= this.#free.pop() ?? Buffer.allocUnsafeSlow(WRITE_CHUNK);
      const n = Math.min(data.length - pos, WRITE_CHUNK - this.#fill);
      this.#chunk.set(data.subarray(pos, pos + n), this.#fill);
      this.#fill += n;
      pos += n;
      if (this.#fill === WRITE_CHUNK) await this.#push();
    }
    this.#next += data.length;
  }

  async #push(): Promise<void> {
    if (this.#chunk === null || this.#fill === 0) return;
    const whole = this.#chunk;
    const chunk = this.#fill === whole.length ? whole : whole.subarray(0, this.#fill);
    this.#chunk = null;
    this.#fill = 0;
    // The callback runs once the storage has copied the bytes: the buffer is free again.
    const accepted = this.#stream.write(chunk, (error) => {
      if (!error && this.#free.length < MAX_POOLED) this.#free.push(whole);
    });
    if (!accepted && this.#stream.writableLength >= MAX_QUEUED) {
      await waitDrain(this.#stream).catch((error: unknown) => {
        this.#error ??= mapFsError(error, this.#path);
      });
    }
    this.#throwIfFailed();
  }

  /** Pushes the partial chunk, ends the stream and waits until the storage has the bytes. */
  async end(): Promise<void> {
    try {
      await this.#push();
      this.#stream.end();
      await finished(this.#stream);
    } catch (error) {
      this.#error ??= mapFsError(error, this.#path);
      this.#stream.destroy();
    }
    this.#throwIfFailed();
  }

  destroy(): void {
    this.#chunk = null;
    this.#free.length = 0;
    this.#stream.destroy();
  }
}

/** Serves reads at consecutive offsets from one stream; the stream's buffer is the read-ahead. */
export class SequentialReader {
  readonly #stream: Readable;
  readonly #path: string;
  #position: number;
  #leftover: Buffer | null = null;
  #ended = false;
  #error: FerryError | undefined;

  constructor(stream: Readable, offset: number, path: string) {
    this.#stream = stream;
    this.#position = offset;
    this.#path = path;
    stream.on('end', () => {
      this.#ended = true;
    });
    stream.on('error', (error) => {
      this.#error ??= mapFsError(error, path);
    });
  }

  get position(): number {
    return this.#position;
  }

  /** Up to `length` bytes; fewer only at end of file (then the reader is spent). */
  async read(length: number): Promise<{ data: Buffer; eof: boolean }> {
    const parts: Buffer[] = [];
    let got = 0;
    while (got < length) {
      let chunk = this.#leftover ?? (this.#stream.read() as Buffer | null);
      this.#leftover = null;
      if (chunk === null) {
        // `errored` is set at once; the 'error' event only on the next tick.
        if (this.#stream.errored) this.#error ??= mapFsError(this.#stream.errored, this.#path);
        if (this.#error) throw this.#error;
        if (this.#ended) break;
        if (this.#stream.destroyed) throw (this.#error = mapFsError(new Error('the stream was closed early'), this.#path));
        await waitReadable(this.#stream);
        continue;
      }
      if (chunk.length > length - got) {
        this.#leftover = chunk.subarray(length - got);
        chunk = chunk.subarray(0, length - got);
      }
      parts.push(chunk);
      got += chunk.length;
    }
    if (this.#error) throw this.#error;
    this.#position += got;
    const data = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, got);
    return { data, eof: got < length };
  }

  destroy(): void {
    this.#leftover = null;
    this.#stream.destroy();
  }
}

/** How far past the data already read a request may start and still be served by read-ahead. */
export const READ_WINDOW = 4 * 1024 * 1024;
/**
 * Bytes kept behind the latest request once a handle has shown out-of-order reads: a little more
 * than 64 requests of 32 KiB in flight. Handles read in order keep nothing behind.
 */
export const KEEP_BEHIND = 2 * 1024 * 1024 + 256 * 1024;
/** Smallest piece taken from the stream at once: fewer, larger pieces keep the cache short. */
const MIN_PIECE = 128 * 1024;

/**
 * Random-access reads over one sequential stream: requests that arrive out of order within a
 * window (concurrent SFTP reads) are served from what was already read or by reading ahead,
 * never by reopening. `canServe` says whether a request is within reach.
 */
export class ReadWindow {
  readonly #reader: SequentialReader;
  /** File offset of the first cached byte; the cache ends at the reader's position. */
  #start: number;
  #pieces: Buffer[] = [];
  #eof = false;
  readonly #keepBehind: number;

  constructor(stream: Readable, offset: number, path: string, keepBehind: number) {
    this.#reader = new SequentialReader(stream, offset, path);
    this.#start = offset;
    this.#keepBehind = keepBehind;
  }

  /** File offset of the oldest byte still at hand. */
  get start(): number {
    return this.#start;
  }

  /** The stream reached the end of the file and `offset` lies at or past that end. */
  pastEnd(offset: number): boolean {
    return this.#eof && offset >= this.#reader.position;
  }

  canServe(offset: number): boolean {
    const end = this.#reader.position;
    if (offset < this.#start || offset > end + READ_WINDOW) return false;
    // Past the end of a file that was read to its end: reopen, the file may have grown.
    return !(this.#eof && offset >= end);
  }

  async read(offset: number, length: number): Promise<Buffer> {
    const want = offset + length;
    while (!this.#eof && this.#reader.position < want) {
      const { data, eof } = await this.#reader.read(Math.max(want - this.#reader.position, MIN_PIECE));
      if (data.length > 0) this.#pieces.push(data);
      this.#eof = eof;
    }
    const result = this.#slice(offset, Math.min(want, this.#reader.position));
    this.#evict(offset);
    return result;
  }

  #slice(from: number, to: number): Buffer {
    if (to <= from) return Buffer.alloc(0);
    const parts: Buffer[] = [];
    let at = this.#start;
    for (const piece of this.#pieces) {
      const end = at + piece.length;
      if (end > from && at < to) parts.push(piece.subarray(Math.max(from - at, 0), Math.min(to, end) - at));
      if (end >= to) break;
      at = end;
    }
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, to - from);
  }

  #evict(offset: number): void {
    let cached = this.#reader.position - this.#start;
    while (this.#pieces.length > 0) {
      const first = this.#pieces[0] as Buffer;
      const end = this.#start + first.length;
      if (end > offset - this.#keepBehind && !(cached > READ_WINDOW && end <= offset)) return;
      this.#pieces.shift();
      this.#start = end;
      cached -= first.length;
    }
  }

  destroy(): void {
    this.#pieces = [];
    this.#reader.destroy();
  }
}

function incomplete(path: string, detail: string): FerryError {
  return new FerryError('incomplete', 'the transfer ended before all its data arrived', { detail: `${path}: ${detail}` });
}

/**
 * A pass-through that counts what the consumer reads into its transfer and ends it once, when it
 * closes: a consumer that stops before the end (the client went away) makes it `incomplete`.
 */
export function meterReadable(source: Readable, transfer: Transfer): Readable {
  const path = transfer.path;
  let failure: FerryError | undefined;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      let admitted;
      try {
        admitted = transfer.admit(chunk.length, 'read');
      } catch (error) {
        return callback(error as Error);
      }
      transfer.bytesRead += chunk.length;
      if (admitted) admitted.then(() => callback(null, chunk), callback);
      else callback(null, chunk);
    },
  });
  source.on('error', (error) => meter.destroy(error));
  meter.on('error', (error) => {
    failure ??= mapFsError(error, path);
  });
  meter.on('close', () => {
    source.destroy();
    const error = meter.readableEnded ? undefined : (failure ?? incomplete(path, `download stopped after ${transfer.bytesRead} bytes`));
    transfer.end({ complete: error === undefined, error });
  });
  transfer.onStop(async (reason) => void meter.destroy(reason));
  source.pipe(meter);
  return meter;
}

export interface MeteredWritableOptions {
  /** Bytes the client announced (SCP's C record, HTTP Content-Length): fewer at the end is `incomplete`. */
  readonly size?: number | undefined;
  /** Runs after the storage has every byte, before 'finish' (atomic uploads rename here). */
  readonly commit?: () => Promise<void>;
  /** An upload that did not complete keeps what arrived (flushed to the storage) instead of dropping it. */
  readonly keepPartial?: boolean;
  /** Runs when the upload did not complete (atomic uploads remove their temporary file). */
  readonly discard?: () => Promise<void>;
}

/**
 * A writable whose 'finish' means the storage has the bytes (it waits for the driver stream to
 * finish) and the upload is committed, counting bytes into its transfer and ending it once, when
 * it closes. A destroy without an error (the client went away) is `incomplete`.
 */
export class MeteredWritable extends Writable {
  readonly #target: Writable;
  readonly #transfer: Transfer;
  readonly #options: MeteredWritableOptions;
  #failure: FerryError | undefined;

  constructor(target: Writable, transfer: Transfer, options: MeteredWritableOptions = {}) {
    super({ highWaterMark: WRITE_CHUNK });
    this.#target = target;
    this.#transfer = transfer;
    this.#options = options;
    target.on('error', (error) => this.destroy(error));
    this.on('error', (error) => {
      this.#failure ??= mapFsError(error, transfer.path);
    });
    this.on('close', () => {
      if (this.writableFinished) return transfer.end({ complete: true, error: undefined });
      const failure = this.#failure ?? incomplete(transfer.path, this.#shortBy());
      void this.#abort().finally(() => transfer.end({ complete: false, error: failure }));
    });
    transfer.onStop(async (reason) => void this.destroy(reason));
  }

  async #abort(): Promise<void> {
    const target = this.#target;
    if (this.#options.keepPartial && !target.destroyed && !target.writableEnded) {
      // Destroying would drop the bytes still queued for the storage.
      target.end();
      await finished(target).catch(() => target.destroy());
    } else {
      target.destroy();
    }
    await this.#options.discard?.();
  }

  #shortBy(): string {
    const size = this.#options.size;
    const bytes = this.#transfer.bytesWritten;
    return size === undefined ? `upload stopped after ${bytes} bytes` : `received ${bytes} of ${size} announced bytes`;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const transfer = this.#transfer;
    const size = this.#options.size;
    if (size !== undefined && transfer.bytesWritten + chunk.length > size) {
      transfer.bytesWritten += chunk.length;
      return callback(new FerryError('invalid-request', 'more data than announced', { detail: `${transfer.path}: ${transfer.bytesWritten} of ${size}` }));
    }
    let admitted;
    try {
      admitted = transfer.admit(chunk.length, 'write');
    } catch (error) {
      return callback(error as Error);
    }
    if (admitted) admitted.then(() => this.#pass(chunk, callback), callback);
    else this.#pass(chunk, callback);
  }

  #pass(chunk: Buffer, callback: (error?: Error | null) => void): void {
    this.#transfer.bytesWritten += chunk.length;
    if (this.#target.write(chunk)) callback();
    else waitDrain(this.#target).then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#target.end();
    finished(this.#target)
      .then(() => {
        const size = this.#options.size;
        if (size !== undefined && this.#transfer.bytesWritten < size) throw incomplete(this.#transfer.path, this.#shortBy());
        return this.#options.commit?.();
      })
      .then(() => callback(), callback);
  }
}
