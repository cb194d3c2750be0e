// SCP over the Session API: the legacy rcp protocol of `scp -O` (OpenSSH scp.c `sink` and
// `source`), never an OS shell. Wire records are parsed by scp-wire.ts; every file operation is
// one Session call, so permissions, overrides, virtual folders and confinement apply as for SFTP.
// Peer errors use the protocol's own status bytes: \x01 (this file failed, go on) and \x02
// (fatal), each with a one-line message that says what failed.
import { posix } from 'node:path';
import type { Duplex, Readable, Writable } from 'node:stream';
import type { Logger } from 'pino';
import { FerryError, isFerryError } from '../../session/errors.ts';
import { expandGlob } from '../../session/glob.ts';
import { waitDrain } from '../../session/streams.ts';
import type { Session } from '../../session/types.ts';
import type { ScpCommand } from './scp-wire.ts';
import { MAX_DEPTH, MAX_RECORD_LENGTH, ScpProtocolError, formatEntry, formatStatus, formatTimes, parseRecord } from './scp-wire.ts';
import { decodeClientPath } from '../../vfs/path.ts';

/** Reads lines, status bytes and exact byte counts from a channel, pulling (backpressure kept). */
class ChannelReader {
  readonly #chunks: AsyncIterator<Buffer>;
  #pending: Buffer = Buffer.alloc(0);
  #ended = false;

  constructor(stream: Readable) {
    this.#chunks = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  async #fill(): Promise<boolean> {
    if (this.#ended) return false;
    const next = await this.#chunks.next();
    if (next.done) {
      this.#ended = true;
      return false;
    }
    this.#pending = this.#pending.length === 0 ? next.value : Buffer.concat([this.#pending, next.value]);
    return true;
  }

  /** The next line without its newline; undefined at a clean end of input. */
  async line(): Promise<string | undefined> {
    for (;;) {
      const end = this.#pending.indexOf(0x0a);
      if (end !== -1) {
        // Strict UTF-8 (the same rule as every path): a lossy decode would invent file names.
        const line = decodeClientPath(this.#pending.subarray(0, end));
        this.#pending = this.#pending.subarray(end + 1);
        return line;
      }
      if (this.#pending.length > MAX_RECORD_LENGTH) throw new ScpProtocolError('record too long');
      if (!(await this.#fill())) {
        if (this.#pending.length === 0) return undefined;
        throw new ScpProtocolError('connection ended inside a record');
      }
    }
  }

  /** One status byte: 0 ok, 1 warning, 2 fatal; a message line follows 1 and 2. */
  async status(): Promise<{ level: 'ok' } | { level: 'warning' | 'error'; message: string }> {
    if (this.#pending.length === 0 && !(await this.#fill())) throw new ScpProtocolError('connection ended while waiting for a reply');
    const code = this.#pending[0]!;
    if (code === 0) {
      this.#pending = this.#pending.subarray(1);
      return { level: 'ok' };
    }
    if (code !== 1 && code !== 2) throw new ScpProtocolError(`unexpected reply byte ${code}`);
    const record = parseRecord((await this.line()) ?? '');
    return { level: record.type === 'warning' ? 'warning' : 'error', message: 'message' in record ? record.message : '' };
  }

  /** Reads and drops whatever the peer still sends, so the channel can reach its end and close. */
  async discardRest(): Promise<void> {
    this.#pending = Buffer.alloc(0);
    while (await this.#fill()) this.#pending = Buffer.alloc(0);
  }

  /** Yields exactly `size` bytes in chunks. */
  async *bytes(size: number): AsyncGenerator<Buffer> {
    let left = size;
    while (left > 0) {
      if (this.#pending.length === 0 && !(await this.#fill())) throw new ScpProtocolError('connection ended inside file data');
      const take = this.#pending.subarray(0, Math.min(left, this.#pending.length));
      this.#pending = this.#pending.subarray(take.length);
      left -= take.length;
      yield take;
    }
  }
}

function messageOf(error: unknown): string {
  if (isFerryError(error)) return error.message;
  if (error instanceof ScpProtocolError) return error.message;
  return 'internal error; the server log has details';
}

/** Streams that reported an error: nothing more is written to them (ssh2 would buffer it). */
const broken = new WeakSet<Writable>();

async function writeAll(stream: Writable, data: Buffer | string): Promise<void> {
  if (broken.has(stream) || stream.destroyed || stream.writableEnded) throw new ScpProtocolError('channel closed');
  if (stream.write(data)) return;
  await waitDrain(stream, () => new ScpProtocolError('channel closed'));
}

const OK = Buffer.from([0]);

/** The client answered with an error record mid-transfer: it cancelled, and the log says `aborted`. */
class ClientAborted extends ScpProtocolError {
  readonly transfer: FerryError;

  constructor(message: string) {
    super(`client aborted: ${message}`);
    this.transfer = new FerryError('aborted', 'the client cancelled the transfer', { detail: message });
  }
}

type Times = { readonly mtimeMs: number; readonly atimeMs: number };

interface Context {
  readonly channel: Duplex;
  readonly reader: ChannelReader;
  readonly session: Session;
  readonly command: ScpCommand;
  readonly log: Logger;
  /** Files that failed with a warning; the exit status is 1 when any did. */
  failures: number;
}

async function warn(ctx: Context, path: string, error: unknown): Promise<void> {
  ctx.failures++;
  ctx.log.info({ path, err: isFerryError(error) ? { kind: error.kind, detail: error.detail } : error }, 'scp: operation failed');
  await writeAll(ctx.channel, formatStatus('warning', `${path}: ${messageOf(error)}`));
}

// ---- sink: the client uploads (`scp -t`) ----

async function receiveFile(ctx: Context, path: string, record: { size: number; mode: number }, times: Times | undefined): Promise<void> {
  let target: Writable;
  try {
    // The announced size lets the session tell a complete upload from one cut short.
    target = await ctx.session.openWrite(path, { truncate: true, size: record.size });
  } catch (error) {
    return warn(ctx, path, error); // the client skips the data on a warning
  }
  let failure: unknown;
  target.on('error', (error) => (failure ??= error));
  try {
    await writeAll(ctx.channel, OK);
    for await (const chunk of ctx.reader.bytes(record.size)) {
      if (failure !== undefined) continue; // keep reading to stay in step with the client
      try {
        await writeAll(target, chunk);
      } catch (error) {
        failure ??= error;
      }
    }
    const end = await ctx.reader.status();
    if (end.level !== 'ok') failure ??= new ClientAborted(end.message);
  } catch (error) {
    target.destroy(); // the peer went away mid-file: abort the upload, never leave it open
    throw error;
  }
  // A failed or aborted file is not committed as if it were complete.
  if (failure !== undefined) target.destroy(failure instanceof ClientAborted ? failure.transfer : undefined);
  else await finishWrite(target).catch((error: unknown) => (failure ??= error));
  if (failure === undefined && ctx.command.preserve) failure = await preserve(ctx, path, record.mode, times);
  if (failure !== undefined) return warn(ctx, path, failure);
  await writeAll(ctx.channel, OK);
}

function finishWrite(stream: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    if (stream.destroyed) return reject(stream.errored ?? new ScpProtocolError('write aborted'));
    stream.once('error', reject);
    stream.end(() => resolve());
  });
}

/**
 * `-p`: the mode of the C/D record and the times of the T record before it, through the same
 * Session.setStat (and permission) as an SFTP setstat. Without -p the storage decides modes, as
 * for an SFTP upload without -p. Returns the error instead of throwing.
 */
async function preserve(ctx: Context, path: string, mode: number, times: Times | undefined): Promise<unknown> {
  try {
    await ctx.session.setStat(path, { mode, ...(times ? { mtimeMs: times.mtimeMs, atimeMs: times.atimeMs } : {}) });
    return undefined;
  } catch (error) {
    return error;
  }
}

async function isDirectory(session: Session, path: string): Promise<boolean> {
  try {
    return (await session.stat(path)).type === 'dir';
  } catch (error) {
    if (isFerryError(error) && error.kind === 'not-found') return false;
    throw error;
  }
}

async function enterDirectory(ctx: Context, path: string): Promise<boolean> {
  try {
    if (!(await isDirectory(ctx.session, path))) await ctx.session.mkdir(path);
  } catch (error) {
    await warn(ctx, path, error); // the client then skips the whole directory
    return false;
  }
  await writeAll(ctx.channel, OK);
  return true;
}

async function sink(ctx: Context): Promise<void> {
  const target = ctx.command.paths[0]!;
  const targetIsDir = await isDirectory(ctx.session, target);
  if (ctx.command.targetIsDir && !targetIsDir) throw new ScpProtocolError(`${target}: not a directory`);
  // A directory's mode and times are applied when it is left: writing its files changes its times,
  // and a mode without write permission would refuse them.
  const stack: { path: string; mode: number; times: Times | undefined }[] = [];
  let times: Times | undefined;
  await writeAll(ctx.channel, OK);
  for (;;) {
    const line = await ctx.reader.line();
    if (line === undefined) return;
    const record = parseRecord(line);
    const pathOf = (name: string) => (stack.length > 0 ? posix.join(stack.at(-1)!.path, name) : targetIsDir ? posix.join(target, name) : target);
    switch (record.type) {
      case 'times':
        times = record;
        await writeAll(ctx.channel, OK);
        continue;
      case 'warning':
        ctx.log.info({ message: record.message }, 'scp: client reported a problem');
        continue;
      case 'error':
        ctx.log.info({ message: record.message }, 'scp: client aborted');
        throw new ScpProtocolError('client aborted');
      case 'end': {
        const left = stack.pop();
        if (left === undefined) throw new ScpProtocolError('E record outside a directory');
        const failure = ctx.command.preserve ? await preserve(ctx, left.path, left.mode, left.times) : undefined;
        if (failure !== undefined) await warn(ctx, left.path, failure);
        else await writeAll(ctx.channel, OK);
        break;
      }
      case 'dir':
        if (!ctx.command.recursive) throw new ScpProtocolError('received directory without -r');
        if (stack.length >= MAX_DEPTH) throw new ScpProtocolError(`directories nested deeper than ${MAX_DEPTH}`);
        if (await enterDirectory(ctx, pathOf(record.name))) stack.push({ path: pathOf(record.name), mode: record.mode, times });
        break;
      case 'file':
        await receiveFile(ctx, pathOf(record.name), record, times);
        break;
    }
    times = undefined;
  }
}

// ---- source: the client downloads (`scp -f`) ----

/** Sends a control record and waits for the client's reply; false when it declined. */
async function offer(ctx: Context, line: string): Promise<boolean> {
  await writeAll(ctx.channel, line);
  const reply = await ctx.reader.status();
  if (reply.level === 'error') throw new ClientAborted(reply.message);
  if (reply.level === 'warning') ctx.log.info({ message: reply.message }, 'scp: client declined');
  return reply.level === 'ok';
}

async function sendFile(ctx: Context, path: string, name: string, stat: { size: number; mode: number; mtimeMs: number; atimeMs: number }): Promise<void> {
  let source: Readable;
  try {
    // Exactly the announced bytes: a file that grows meanwhile is cut at its size, so the
    // stream ends normally and the transfer is logged as complete.
    source = await ctx.session.openRead(path, { length: stat.size });
  } catch (error) {
    return warn(ctx, path, error);
  }
  try {
    if (ctx.command.preserve && !(await offer(ctx, formatTimes(stat.mtimeMs, stat.atimeMs)))) return;
    if (!(await offer(ctx, formatEntry('file', stat.mode, stat.size, name)))) return;
    let sent = 0;
    let failure: unknown;
    try {
      for await (const chunk of source as AsyncIterable<Buffer>) {
        const part = chunk.subarray(0, stat.size - sent); // never more than announced
        sent += part.length;
        if (part.length > 0) await writeAll(ctx.channel, part);
      }
    } catch (error) {
      failure = error;
    }
    // The announced size is a promise to the client: pad a file that shrank (or failed) with zeros.
    for (let left = stat.size - sent; left > 0; left -= 65536) await writeAll(ctx.channel, Buffer.alloc(Math.min(left, 65536)));
    if (failure === undefined && sent < stat.size) failure = new ScpProtocolError('file shrank while it was sent');
    if (failure !== undefined) await warn(ctx, path, failure);
    else await writeAll(ctx.channel, OK);
    const reply = await ctx.reader.status();
    if (reply.level === 'error') throw new ClientAborted(reply.message);
  } catch (error) {
    if (error instanceof ClientAborted) source.destroy(error.transfer);
    throw error;
  } finally {
    source.destroy();
  }
}

async function sendPath(ctx: Context, path: string, depth: number): Promise<void> {
  let stat;
  try {
    stat = await ctx.session.stat(path);
  } catch (error) {
    return warn(ctx, path, error);
  }
  const name = stat.path === '/' ? '/' : posix.basename(stat.path);
  if (stat.type === 'file') return sendFile(ctx, path, name, stat);
  if (stat.type !== 'dir') return warn(ctx, path, new ScpProtocolError('not a regular file'));
  if (!ctx.command.recursive) return warn(ctx, path, new ScpProtocolError('is a directory (use -r)'));
  if (depth >= MAX_DEPTH) return warn(ctx, path, new ScpProtocolError(`directories nested deeper than ${MAX_DEPTH}`));
  if (ctx.command.preserve && !(await offer(ctx, formatTimes(stat.mtimeMs, stat.atimeMs)))) return;
  if (!(await offer(ctx, formatEntry('dir', stat.mode, 0, name === '/' ? 'root' : name)))) return;
  try {
    for await (const entry of ctx.session.list(path)) {
      if (entry.name === '.' || entry.name === '..') continue;
      await sendPath(ctx, posix.join(path, entry.name), depth + 1);
    }
  } catch (error) {
    if (error instanceof ScpProtocolError) throw error;
    await warn(ctx, path, error);
  }
  await offer(ctx, 'E\n');
}

/**
 * The paths a source argument names: a word with unquoted wildcards is expanded over the Session
 * as OpenSSH's remote shell would (session/glob.ts); one that matches nothing stays as it is, so
 * the client hears "no such file", as from a shell.
 */
async function expandSource(ctx: Context, path: string, glob: string | undefined): Promise<string[]> {
  if (glob === undefined) return [path];
  try {
    const { paths, error } = await expandGlob(ctx.session, glob);
    if (paths.length > 0) return paths;
    if (error) await warn(ctx, path, error);
    else return [path];
  } catch (error) {
    await warn(ctx, path, error);
  }
  return [];
}

async function source(ctx: Context): Promise<void> {
  const first = await ctx.reader.status();
  if (first.level !== 'ok') return;
  for (const [index, path] of ctx.command.paths.entries()) {
    for (const each of await expandSource(ctx, path, ctx.command.globs[index])) await sendPath(ctx, each, 0);
  }
}

/**
 * Runs one SCP exchange on an exec channel. Returns the exit status (0: everything transferred,
 * 1: something failed, the client was told what). Never throws.
 */
export async function serveScp(channel: Duplex, command: ScpCommand, session: Session, log: Logger): Promise<number> {
  const ctx: Context = { channel, reader: new ChannelReader(channel), session, command, log, failures: 0 };
  channel.once('error', () => broken.add(channel));
  try {
    await (command.mode === 'sink' ? sink(ctx) : source(ctx));
    return ctx.failures > 0 ? 1 : 0;
  } catch (error) {
    const message = messageOf(error);
    log.info({ err: error instanceof ScpProtocolError || isFerryError(error) ? message : error }, 'scp: transfer ended with an error');
    if (!channel.destroyed && !channel.writableEnded) channel.write(formatStatus('error', message));
    return 1;
  } finally {
    ctx.reader.discardRest().catch(() => {});
  }
}
