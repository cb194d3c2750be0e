// Open handles of one SFTP channel. A handle on the wire is a 4-byte id that is never reused
// within the channel, so a stale or forged handle cannot reach another file. Requests on one
// handle run one after the other in arrival order (a promise chain per handle): the session's
// OpenFile sees writes in offset order and can coalesce them, while different handles and
// path requests proceed concurrently.
import type { OpenFile } from '../../../session/types.ts';
import type { EntryInfo } from '../../../vfs/vfs.ts';
import { FX, MAX_HANDLE_BYTES } from './constants.ts';
import type { SftpReader } from './reader.ts';
import type { Reply } from './replies.ts';
import { DATA_HEADER, EOF, StatusError } from './replies.ts';

interface HandleBase {
  readonly id: number;
  /** Virtual path the handle was opened on. */
  readonly path: string;
  /** Settles when the last queued request on this handle has finished. */
  tail: Promise<void>;
}

export interface FileHandle extends HandleBase {
  readonly kind: 'file';
  readonly file: OpenFile;
}

export interface DirHandle extends HandleBase {
  readonly kind: 'dir';
  readonly entries: AsyncIterator<EntryInfo>;
  /** The next entry, read ahead so OPENDIR reports a listing error (denied, missing) itself. */
  lookahead: IteratorResult<EntryInfo> | undefined;
}

export type Handle = FileHandle | DirHandle;
export type NewHandle = Omit<FileHandle, 'id' | 'tail'> | Omit<DirHandle, 'id' | 'tail'>;

export interface HandleSlot {
  commit(handle: NewHandle): Buffer;
  release(): void;
}

export class HandleTable {
  readonly #max: number;
  readonly #open = new Map<number, Handle>();
  #reserved = 0;
  #nextId = 1;

  constructor(maxOpen: number) {
    this.#max = maxOpen;
  }

  get size(): number {
    return this.#open.size;
  }

  /** Claims room for one handle before the (slow) open, so concurrent OPENs respect the limit. */
  reserve(): HandleSlot {
    if (this.#open.size + this.#reserved >= this.#max) {
      throw new StatusError(FX.FAILURE, `Too many open handles (limit ${this.#max}); close some first`);
    }
    this.#reserved++;
    let settled = false;
    const settle = (): void => {
      if (settled) throw new Error('handle slot used twice');
      settled = true;
      this.#reserved--;
    };
    return {
      commit: (handle) => {
        settle();
        // Ids are never reused while a handle is open, even after 2^32 opens wrap the counter.
        let id = this.#nextId;
        while (this.#open.has(id) || id === 0) id = (id + 1) >>> 0;
        this.#nextId = (id + 1) >>> 0;
        this.#open.set(id, { ...handle, id, tail: Promise.resolve() } as Handle);
        const wire = Buffer.allocUnsafe(4);
        wire.writeUInt32BE(id, 0);
        return wire;
      },
      release: () => settle(),
    };
  }

  /** The handle named by `wire`, or a FAILURE status error as OpenSSH answers a bad handle. */
  lookup(wire: Buffer): Handle {
    const handle = wire.length === 4 ? this.#open.get(wire.readUInt32BE(0)) : undefined;
    if (handle === undefined) throw new StatusError(FX.FAILURE, 'Invalid handle');
    return handle;
  }

  lookupFile(wire: Buffer): FileHandle {
    const handle = this.lookup(wire);
    if (handle.kind !== 'file') throw new StatusError(FX.FAILURE, 'Handle is a directory, not a file');
    return handle;
  }

  lookupDir(wire: Buffer): DirHandle {
    const handle = this.lookup(wire);
    if (handle.kind !== 'dir') throw new StatusError(FX.FAILURE, 'Handle is a file, not a directory');
    return handle;
  }

  /** Forgets the handle: later requests naming it fail; queued ones still run. */
  remove(handle: Handle): void {
    this.#open.delete(handle.id);
  }

  /** Removes and returns every open handle (end of channel). */
  drain(): Handle[] {
    const all = [...this.#open.values()];
    this.#open.clear();
    return all;
  }
}

/** Runs `task` after every request queued earlier on `handle`; must be called synchronously. */
export function serialize<T>(handle: Handle, task: () => Promise<T>): Promise<T> {
  const run = handle.tail.then(task);
  handle.tail = run.then(
    () => undefined,
    () => undefined,
  );
  return run;
}

/** `abandoned`: the channel ended with the handle open, so its transfer did not complete. */
export async function closeHandle(handle: Handle, how: 'closed' | 'abandoned' = 'closed'): Promise<void> {
  if (handle.kind === 'file') await (how === 'closed' ? handle.file.close() : handle.file.abandon());
  else await handle.entries.return?.();
}

export function handleOf(r: SftpReader): Buffer {
  return r.bytes(MAX_HANDLE_BYTES, 'handle');
}

/** Fills the request from a storage that may return short reads: OpenSSH's client shrinks its
 *  request size after a short answer, which would slow the rest of the transfer. */
export async function readFull(file: OpenFile, offset: number, length: number): Promise<Buffer> {
  const first = await file.read(offset, length);
  if (first.length === 0 || first.length >= length) return first;
  const parts = [first];
  let got = first.length;
  while (got < length) {
    const more = await file.read(offset + got, length - got);
    if (more.length === 0) break;
    parts.push(more);
    got += more.length;
  }
  return Buffer.concat(parts, got);
}


/** A DATA reply (or EOF) for `length` bytes at `offset`, read straight into the reply packet when
 *  the file can (readInto), else through readFull. */
export async function readReply(file: OpenFile, offset: number, length: number, alloc: (size: number) => Buffer = Buffer.allocUnsafe): Promise<Reply> {
  if (!file.readInto) {
    const data = await readFull(file, offset, length);
    return data.length === 0 ? EOF : { kind: 'data', data };
  }
  const framed = alloc(DATA_HEADER + length);
  const n = await file.readInto(offset, framed.subarray(DATA_HEADER, DATA_HEADER + length));
  return n === 0 ? EOF : { kind: 'data', data: framed.subarray(DATA_HEADER, DATA_HEADER + n), framed };
}
