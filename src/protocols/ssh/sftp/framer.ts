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

export class PacketFramer {
  readonly #maxLength: number;
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
    const out = Buffer.allocUnsafe(n);
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
}
