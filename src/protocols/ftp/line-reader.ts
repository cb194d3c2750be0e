// The FTP control connection's command lines (RFC 959 section 4.1.3: a command ends with CRLF).
// Bytes arrive in any split across TCP segments; a line is only ever taken whole. Hostile input
// is bounded: a line longer than `maxLength` is dropped up to its end and reported once, so a
// client can never make the server buffer without limit. Telnet IAC sequences (RFC 854), which
// clients send before ABOR (IAC IP, IAC DM), are removed; IAC IAC stands for a 0xFF byte.
// `discard()` drops whatever was received and not yet taken: at AUTH TLS, commands the client
// pipelined in clear text must never run inside the TLS session (STARTTLS injection).

/** 4 KiB of path plus the verb and some room; vsftpd allows 4 KiB, ProFTPD 4 KiB + verb. */
export const MAX_LINE = 8 * 1024;

export type LineEvent = { readonly kind: 'line'; readonly line: string } | { readonly kind: 'too-long' };

const IAC = 0xff;
const LF = 0x0a;
const CR = 0x0d;

/** Telnet commands that carry an option byte after them (WILL, WONT, DO, DONT). */
function isNegotiation(byte: number): boolean {
  return byte >= 0xfb && byte <= 0xfe;
}

/** Removes Telnet IAC sequences from one line's bytes. */
export function stripTelnet(bytes: Buffer): Buffer {
  if (!bytes.includes(IAC)) return bytes;
  const out = Buffer.allocUnsafe(bytes.length);
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i] as number;
    if (byte !== IAC) {
      out[n++] = byte;
      continue;
    }
    const next = bytes[i + 1];
    if (next === IAC) out[n++] = IAC;
    i += next !== undefined && isNegotiation(next) ? 2 : 1;
  }
  return out.subarray(0, n);
}

const decoder = new TextDecoder('utf-8', { fatal: false });

export class LineReader {
  readonly #maxLength: number;
  #parts: Buffer[] = [];
  #size = 0;
  /** Inside an over-long line: its bytes are dropped until its end. */
  #skipping = false;

  constructor(maxLength = MAX_LINE) {
    this.#maxLength = maxLength;
  }

  /** Bytes received and not yet part of a taken line. */
  get buffered(): number {
    return this.#size;
  }

  /** Takes a chunk and returns the whole lines it completes, in order. */
  push(chunk: Buffer): LineEvent[] {
    const events: LineEvent[] = [];
    let start = 0;
    for (;;) {
      const lf = chunk.indexOf(LF, start);
      if (lf < 0) break;
      this.#take(chunk.subarray(start, lf), events, true);
      start = lf + 1;
    }
    if (start < chunk.length) this.#take(chunk.subarray(start), events, false);
    return events;
  }

  /** Drops everything received and not yet taken (AUTH TLS). */
  discard(): void {
    this.#parts = [];
    this.#size = 0;
    this.#skipping = false;
  }

  #take(piece: Buffer, events: LineEvent[], ended: boolean): void {
    if (!this.#skipping) {
      if (this.#size + piece.length > this.#maxLength) {
        // Reported once, when the limit is crossed; the rest of the line is ignored.
        this.discard();
        this.#skipping = true;
        events.push({ kind: 'too-long' });
      } else if (piece.length > 0) {
        // A copy: the caller may reuse its chunk.
        this.#parts.push(Buffer.from(piece));
        this.#size += piece.length;
      }
    }
    if (!ended) return;
    if (this.#skipping) {
      this.#skipping = false;
      return;
    }
    let bytes = this.#parts.length === 1 ? (this.#parts[0] as Buffer) : Buffer.concat(this.#parts, this.#size);
    this.#parts = [];
    this.#size = 0;
    if (bytes.length > 0 && bytes[bytes.length - 1] === CR) bytes = bytes.subarray(0, bytes.length - 1);
    events.push({ kind: 'line', line: decoder.decode(stripTelnet(bytes)) });
  }
}

export interface Command {
  /** Upper case, as the dispatch table names it. */
  readonly verb: string;
  /** Everything after the first space, as sent (file names may start or end with spaces). */
  readonly arg: string;
}

/** `VERB arg`: the verb is case-insensitive (RFC 959 5.3.1), the argument is taken as is. */
export function parseCommand(line: string): Command {
  const space = line.indexOf(' ');
  const verb = (space < 0 ? line : line.slice(0, space)).toUpperCase();
  return { verb, arg: space < 0 ? '' : line.slice(space + 1) };
}
