// Builds SFTP reply packets: uint32 length, byte type, then fields (RFC 4251 section 5). The
// buffer grows by doubling; `finish` patches the length, so callers never count bytes by hand.
export class SftpWriter {
  #buf: Buffer;
  #pos = 4;

  constructor(type: number, capacity = 256) {
    this.#buf = Buffer.allocUnsafe(Math.max(capacity, 16));
    this.u8(type);
  }

  get length(): number {
    return this.#pos;
  }

  #ensure(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#pos + n) size *= 2;
    const grown = Buffer.allocUnsafe(size);
    this.#buf.copy(grown, 0, 0, this.#pos);
    this.#buf = grown;
  }

  u8(value: number): this {
    this.#ensure(1);
    this.#buf[this.#pos++] = value;
    return this;
  }

  u32(value: number): this {
    this.#ensure(4);
    this.#buf.writeUInt32BE(value >>> 0, this.#pos);
    this.#pos += 4;
    return this;
  }

  u64(value: number): this {
    this.#ensure(8);
    this.#buf.writeBigUInt64BE(BigInt(Math.max(0, Math.trunc(value))), this.#pos);
    this.#pos += 8;
    return this;
  }

  bytes(value: Uint8Array): this {
    this.u32(value.length);
    this.#ensure(value.length);
    this.#buf.set(value, this.#pos);
    this.#pos += value.length;
    return this;
  }

  text(value: string): this {
    const length = Buffer.byteLength(value, 'utf8');
    this.u32(length);
    this.#ensure(length);
    this.#buf.write(value, this.#pos, length, 'utf8');
    this.#pos += length;
    return this;
  }

  /**
   * The packet. With `trailing`, the length field also counts bytes the caller sends right after
   * this header (a DATA payload written separately, so 255 KiB reads are never copied).
   */
  finish(trailing = 0): Buffer {
    this.#buf.writeUInt32BE(this.#pos - 4 + trailing, 0);
    return this.#buf.subarray(0, this.#pos);
  }
}
