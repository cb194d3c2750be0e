// Bounded reader over one SFTP packet payload (RFC 4251 section 5 data types). Every read checks
// the bytes left first, so a length field can never make it read past the packet: malformed input
// ends in one MalformedPacket error, which the server answers with SSH_FX_BAD_MESSAGE.
import { decodeUtf8 } from '../../../vfs/path.ts';
import { ATTR, MAX_PATH_BYTES } from './constants.ts';

export class MalformedPacket extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedPacket';
  }
}

/** SFTP v3 ATTRS as sent by a client; absent fields are undefined. */
export interface WireAttrs {
  readonly size?: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly permissions?: number;
  readonly atime?: number;
  readonly mtime?: number;
}

export class SftpReader {
  readonly #buf: Buffer;
  #pos: number;

  constructor(buf: Buffer, start = 0) {
    this.#buf = buf;
    this.#pos = start;
  }

  get remaining(): number {
    return this.#buf.length - this.#pos;
  }

  #need(n: number, what: string): void {
    if (this.#buf.length - this.#pos < n) {
      throw new MalformedPacket(`packet too short for ${what}`);
    }
  }

  u8(what = 'byte'): number {
    this.#need(1, what);
    return this.#buf[this.#pos++] as number;
  }

  u32(what = 'uint32'): number {
    this.#need(4, what);
    const value = this.#buf.readUInt32BE(this.#pos);
    this.#pos += 4;
    return value;
  }

  /** A uint64 that must fit a JavaScript number exactly (offsets, sizes: 2^53 is 8 PiB). */
  u64(what = 'uint64'): number {
    this.#need(8, what);
    const value = this.#buf.readBigUInt64BE(this.#pos);
    this.#pos += 8;
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new MalformedPacket(`${what} too large`);
    }
    return Number(value);
  }

  /** A string's bytes, a view into the packet (no copy); `max` bounds its declared length. */
  bytes(max: number, what = 'string'): Buffer {
    const length = this.u32(`${what} length`);
    if (length > max) throw new MalformedPacket(`${what} longer than ${max} bytes`);
    this.#need(length, what);
    const view = this.#buf.subarray(this.#pos, this.#pos + length);
    this.#pos += length;
    return view;
  }

  /** UTF-8 text; invalid UTF-8 is refused rather than replaced, so two names never collide. */
  text(max: number, what = 'string'): string {
    const text = decodeUtf8(this.bytes(max, what));
    if (text === undefined) throw new MalformedPacket(`${what} is not valid UTF-8`);
    return text;
  }

  path(what = 'path'): string {
    return this.text(MAX_PATH_BYTES, what);
  }

  attrs(): WireAttrs {
    const flags = this.u32('attribute flags');
    const out: { -readonly [K in keyof WireAttrs]: WireAttrs[K] } = {};
    if (flags & ATTR.SIZE) out.size = this.u64('size');
    if (flags & ATTR.UIDGID) {
      out.uid = this.u32('uid');
      out.gid = this.u32('gid');
    }
    if (flags & ATTR.PERMISSIONS) out.permissions = this.u32('permissions');
    if (flags & ATTR.ACMODTIME) {
      out.atime = this.u32('atime');
      out.mtime = this.u32('mtime');
    }
    if (flags & ATTR.EXTENDED) {
      // Extended attribute pairs are read (to stay in step) and ignored, as OpenSSH does.
      const count = this.u32('extended count');
      for (let i = 0; i < count; i++) {
        this.bytes(this.remaining, 'extended type');
        this.bytes(this.remaining, 'extended data');
      }
    }
    return out;
  }
}
