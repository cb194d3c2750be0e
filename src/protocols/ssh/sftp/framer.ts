// Splits a byte stream into SFTP packets (uint32 length + payload). Chunks may split anywhere,
// including inside the length field. The length is checked against the limit as soon as its four
// bytes are here, before the payload is buffered (sftp-server.c `process()` does the same), so a
// hostile length costs nothing. At most one packet plus one chunk is ever held.

export class PacketTooLong extends Error {
  readonly length: number;

  constructor(length: number, max: number) {
    super(`SFTP packet of ${length} bytes exceeds the limit of ${max}`);
    this.name = 'PacketTooLong';
    this.length = length;
  }
}

/** Packets at least this long that arrive split are assembled in recycled buffers. */
const POOL_MIN = 64 * 1024;
/** Recycled assembly buffers kept per channel (16 x 256 KiB), dropped when the channel idles. */
const MAX_POOLED = 16;

export class PacketFramer {
  readonly #maxLength: number;
  /**
   * Assembly buffers given back by `recycle`: a fresh 256 KiB buffer per WRITE cost page faults
   * and GC that showed as the largest item in the profile of a 1 GiB upload.
   */
  #pool: Buffer[] = [];
  readonly #pooled = new WeakSet<ArrayBufferLike>();
  #chunks: Buffer[] = [];
  #buffered = 0;
  /** Payload length of the packet being assembled, once its length field is complete. */
  #expected = -1;

  constructor(maxLength: number) {
    this.#maxLength = maxLength;
  }

  get bufferedBytes(): number {
    return this.#buffered;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
  }

  /**
   * Takes back a payload returned by `next` once nothing refers to it any more (its request is
   * answered and the storage has copied its data). Call at most once per payload.
   */
  recycle(payload: Buffer): void {
    if (this.#pool.length >= MAX_POOLED || !this.#pooled.has(payload.buffer)) return;
    this.#pool.push(Buffer.from(payload.buffer, 0, payload.buffer.byteLength));
  }

  /** Frees the recycled buffers (nothing is being transferred). */
  trim(): void {
    this.#pool = [];
  }

  /** Drops everything buffered (the channel is being closed). */
  discard(): void {
    this.#chunks = [];
    this.#buffered = 0;
    this.#expected = -1;
  }

  /** The next complete payload (type byte first), or undefined until more bytes arrive. */
  next(): Buffer | undefined {
    if (this.#expected < 0) {
      if (this.#buffered < 4) return undefined;
      const length = this.#take(4).readUInt32BE(0);
      if (length > this.#maxLength) throw new PacketTooLong(length, this.#maxLength);
      this.#expected = length;
    }
    if (this.#buffered < this.#expected) return undefined;
    const payload = this.#take(this.#expected);
    this.#expected = -1;
    return payload;
  }

  /** Removes `n` buffered bytes; a view when they lie in one chunk, one copy otherwise. */
  #take(n: number): Buffer {
    this.#buffered -= n;
    const first = this.#chunks[0];
    if (first === undefined) return Buffer.alloc(0);
    if (first.length >= n) {
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = this.#assembly(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.#chunks[0] as Buffer;
      const used = Math.min(chunk.length, n - filled);
      chunk.copy(out, filled, 0, used);
      filled += used;
      if (used === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(used);
    }
    return out;
  }

  #assembly(n: number): Buffer {
    if (n < POOL_MIN) return Buffer.allocUnsafe(n);
    let buffer = this.#pool.pop();
    if (buffer === undefined || buffer.length < n) {
      buffer = Buffer.allocUnsafeSlow(Math.max(n, this.#maxLength));
      this.#pooled.add(buffer.buffer);
    }
    return buffer.subarray(0, n);
  }
}
