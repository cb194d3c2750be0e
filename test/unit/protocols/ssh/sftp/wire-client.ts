// A raw SFTP client for unit tests: sends hand-built (and deliberately broken) packets and
// decodes replies. Real-client behaviour is covered by OpenSSH in test/integration/sftp.
import type { Duplex } from 'node:stream';
import { ATTR, FXP } from '../../../../../src/protocols/ssh/sftp/constants.ts';
import { PacketFramer } from '../../../../../src/protocols/ssh/sftp/framer.ts';
import { SftpReader } from '../../../../../src/protocols/ssh/sftp/reader.ts';
import { SftpWriter } from '../../../../../src/protocols/ssh/sftp/writer.ts';

export interface RawReply {
  readonly type: number;
  readonly id: number;
  readonly r: SftpReader;
}

export interface Name {
  readonly filename: string;
  readonly longname: string;
  readonly attrs: ReturnType<SftpReader['attrs']>;
}

export class WireClient {
  readonly #stream: Duplex;
  readonly #framer = new PacketFramer(1 << 24);
  readonly #waiting = new Map<number, (reply: RawReply) => void>();
  readonly #versionWaiters: ((payload: Buffer) => void)[] = [];
  #nextId = 1;
  /** Resolves when the server ends its side of the channel. */
  readonly ended: Promise<void>;

  constructor(stream: Duplex) {
    this.#stream = stream;
    stream.on('data', (chunk: Buffer) => this.#onData(chunk));
    this.ended = new Promise((resolve) => stream.once('end', () => resolve()));
    stream.resume();
  }

  #onData(chunk: Buffer): void {
    this.#framer.push(chunk);
    for (let p = this.#framer.next(); p; p = this.#framer.next()) {
      if (p[0] === FXP.VERSION) {
        this.#versionWaiters.shift()?.(p);
        continue;
      }
      const r = new SftpReader(p, 1);
      const id = r.u32();
      const waiter = this.#waiting.get(id);
      this.#waiting.delete(id);
      waiter?.({ type: p[0] as number, id, r });
    }
  }

  raw(bytes: Buffer): void {
    this.#stream.write(bytes);
  }

  async init(): Promise<Map<string, string>> {
    const reply = new Promise<Buffer>((resolve) => this.#versionWaiters.push(resolve));
    this.raw(new SftpWriter(FXP.INIT).u32(3).finish());
    const r = new SftpReader(await reply, 1);
    if (r.u32() !== 3) throw new Error('not version 3');
    const ext = new Map<string, string>();
    while (r.remaining > 0) ext.set(r.text(1000), r.text(1000));
    return ext;
  }

  /** Sends `type` with a fresh id and the fields `build` writes; resolves with the reply. */
  send(type: number, build: (w: SftpWriter) => void = () => {}): Promise<RawReply> {
    const id = this.#nextId++;
    const w = new SftpWriter(type).u32(id);
    build(w);
    const reply = this.expect(id);
    this.raw(w.finish());
    return reply;
  }

  expect(id: number): Promise<RawReply> {
    return new Promise((resolve) => this.#waiting.set(id, resolve));
  }

  get pending(): number {
    return this.#waiting.size;
  }

  end(): void {
    this.#stream.end();
  }
}

export function asStatus(reply: RawReply): { code: number; message: string } {
  if (reply.type !== FXP.STATUS) throw new Error(`expected STATUS, got ${reply.type}`);
  return { code: reply.r.u32(), message: reply.r.text(10000) };
}

export function asHandle(reply: RawReply): Buffer {
  if (reply.type !== FXP.HANDLE) throw new Error(`expected HANDLE, got ${reply.type}: ${JSON.stringify(tryStatus(reply))}`);
  return Buffer.from(reply.r.bytes(256));
}

export function asData(reply: RawReply): Buffer {
  if (reply.type !== FXP.DATA) throw new Error(`expected DATA, got ${reply.type}`);
  return Buffer.from(reply.r.bytes(1 << 24));
}

export function asNames(reply: RawReply): Name[] {
  if (reply.type !== FXP.NAME) throw new Error(`expected NAME, got ${reply.type}: ${JSON.stringify(tryStatus(reply))}`);
  const count = reply.r.u32();
  const names: Name[] = [];
  for (let i = 0; i < count; i++) {
    const filename = reply.r.text(10000);
    const longname = reply.r.text(10000);
    names.push({ filename, longname, attrs: reply.r.attrs() });
  }
  return names;
}

export function asAttrs(reply: RawReply): ReturnType<SftpReader['attrs']> {
  if (reply.type !== FXP.ATTRS) throw new Error(`expected ATTRS, got ${reply.type}: ${JSON.stringify(tryStatus(reply))}`);
  return reply.r.attrs();
}

function tryStatus(reply: RawReply): unknown {
  return reply.type === FXP.STATUS ? asStatus(reply) : undefined;
}

export const NO_ATTRS = (w: SftpWriter): SftpWriter => w.u32(0);
export const PERMS = (mode: number) => (w: SftpWriter): SftpWriter => w.u32(ATTR.PERMISSIONS).u32(mode);
