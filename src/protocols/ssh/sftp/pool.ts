// Recycled DATA reply buffers of one channel. A fresh 256 KiB buffer per READ is external memory
// that V8 answers with garbage collections: GC was the largest item in the profile of a 1 GiB
// download over SSH. A buffer comes back once the channel has taken its bytes (write callback).

/** Buffers kept while a transfer runs (16 x 256 KiB); all are dropped when the channel idles. */
const MAX_POOLED = 16;

export class ReplyBufferPool {
  readonly #size: number;
  #free: Buffer[] = [];
  readonly #ours = new WeakSet<Buffer>();

  /** `size` is the largest packet a reply needs (DATA header plus the largest read). */
  constructor(size: number) {
    this.#size = size;
  }

  /** A buffer of at least `size` bytes; pooled when it is the full size, fresh otherwise. */
  take(size: number): Buffer {
    if (size > this.#size) return Buffer.allocUnsafe(size);
    const buffer = this.#free.pop() ?? Buffer.allocUnsafeSlow(this.#size);
    this.#ours.add(buffer);
    return buffer;
  }

  /** Gives `buffer` back once nothing refers to it any more; call at most once per take. */
  recycle(buffer: Buffer): void {
    if (this.#free.length < MAX_POOLED && this.#ours.has(buffer)) this.#free.push(buffer);
  }

  trim(): void {
    this.#free = [];
  }
}
