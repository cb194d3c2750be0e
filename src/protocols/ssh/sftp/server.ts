// One SFTP v3 channel: frames requests off the stream, dispatches them through the tables,
// writes replies as they complete (in any order: each carries its request id) and keeps memory
// bounded. Flow control (STYLE.md point 4, sftp-server.c reads only while its queues can take a
// worst-case packet): the channel is paused while too many requests or request bytes are being
// processed or while the peer is not reading replies; pausing an ssh2 channel stops window
// adjusts, so the client stops sending. Bad input ends in a BAD_MESSAGE reply when the request
// id is known, otherwise in closing the channel; it never throws out of here.
import type { Duplex } from 'node:stream';
import { pino } from 'pino';
import type { Session } from '../../../session/types.ts';
import { sftpStatusFor } from '../status.ts';
import type { SftpLimits } from './constants.ts';
import { DEFAULT_LIMITS, FX, FXP, SFTP_VERSION } from './constants.ts';
import type { RequestContext, RequestRow } from './context.ts';
import { EXTENSION_ROWS } from './extensions.ts';
import { PacketFramer, PacketTooLong } from './framer.ts';
import { ReplyBufferPool } from './pool.ts';
import { HandleTable, closeHandle, serialize } from './handles.ts';
import { MalformedPacket, SftpReader } from './reader.ts';
import type { Reply } from './replies.ts';
import { DATA_HEADER, StatusError, encodeReply, encodeVersion, status } from './replies.ts';
import { REQUEST_ROWS } from './requests.ts';

/** The subset of a pino logger the SFTP server uses. */
export interface SftpLogger {
  debug(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface SftpServeOptions {
  /** Application log (pino). Unknown errors and protocol violations are logged here. */
  readonly log?: SftpLogger;
  readonly limits?: Partial<SftpLimits>;
  readonly now?: () => number;
}

/** Used when the caller passes no log: warnings and errors to stderr, never lost silently. */
let fallbackLog: SftpLogger | undefined;
function defaultLog(): SftpLogger {
  fallbackLog ??= pino({ name: 'ferry-sftp', level: 'warn' }, pino.destination(2));
  return fallbackLog;
}

const ROWS_BY_TYPE: ReadonlyMap<number, RequestRow<number>> = new Map(REQUEST_ROWS.map((row) => [row.key, row]));
const ADVERTISED = EXTENSION_ROWS.map((row) => [row.key, row.version] as const);

function replyForError(error: unknown): { reply: Reply; unknown: boolean } {
  if (error instanceof StatusError) return { reply: status(error.code, error.message), unknown: false };
  if (error instanceof MalformedPacket) return { reply: status(FX.BAD_MESSAGE, `Malformed request: ${error.message}`), unknown: false };
  const mapped = sftpStatusFor(error);
  return { reply: status(mapped.code, mapped.message), unknown: !mapped.known };
}

export class SftpServer {
  readonly #stream: Duplex;
  readonly #log: SftpLogger;
  readonly #limits: SftpLimits;
  readonly #framer: PacketFramer;
  readonly #replyBuffers: ReplyBufferPool;
  readonly #ctx: RequestContext;
  readonly #done: Promise<void>;
  #resolveDone: () => void = () => {};
  #initDone = false;
  #inFlight = 0;
  #inFlightBytes = 0;
  #paused = false;
  #inputDone = false;
  #outputDead = false;
  #finishing = false;
  /** Set by a protocol violation: nothing more is read or dispatched. */
  #stopped = false;

  constructor(stream: Duplex, session: Session, options: SftpServeOptions = {}) {
    this.#stream = stream;
    this.#log = options.log ?? defaultLog();
    this.#limits = Object.freeze({ ...DEFAULT_LIMITS, ...options.limits });
    this.#framer = new PacketFramer(this.#limits.maxPacketLength);
    const now = options.now ?? Date.now;
    const pool = (this.#replyBuffers = new ReplyBufferPool(DATA_HEADER + this.#limits.maxReadLength));
    this.#ctx = { session, handles: new HandleTable(this.#limits.maxOpenHandles), limits: this.#limits, now, dataBuffer: (size) => pool.take(size) };
    this.#done = new Promise((resolve) => (this.#resolveDone = resolve));
  }

  /** Serves until the stream ends or a protocol violation closes it; never rejects. */
  run(): Promise<void> {
    const s = this.#stream;
    s.on('data', this.#onData);
    s.on('end', this.#onInputEnd);
    s.on('close', this.#onClose);
    s.on('error', this.#onError);
    s.on('drain', this.#step);
    if (s.readableEnded || s.destroyed) this.#onClose();
    return this.#done;
  }

  readonly #onData = (chunk: Buffer | string): void => {
    if (this.#inputDone) return;
    this.#framer.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    // While paused at most one more chunk can arrive; more means the stream ignores pause().
    if (this.#framer.bufferedBytes > this.#limits.maxPacketLength + this.#limits.maxInFlightBytes) {
      this.#fatal('the channel keeps sending while paused', { buffered: this.#framer.bufferedBytes });
      return;
    }
    this.#step();
  };

  readonly #onInputEnd = (): void => {
    this.#inputDone = true;
    this.#step();
  };

  readonly #onClose = (): void => {
    this.#inputDone = true;
    this.#outputDead = true;
    this.#step();
  };

  readonly #onError = (error: Error): void => {
    this.#log.debug({ err: error }, 'sftp channel error');
    this.#onClose();
  };

  #blocked(): boolean {
    return (
      this.#inFlight >= this.#limits.maxInFlightRequests ||
      this.#inFlightBytes >= this.#limits.maxInFlightBytes ||
      (!this.#outputDead && this.#stream.writableNeedDrain)
    );
  }

  /** Dispatches what can run now, pauses or resumes the input, finishes when all is done. */
  readonly #step = (): void => {
    while (!this.#stopped && !this.#finishing && !this.#blocked()) {
      let payload: Buffer | undefined;
      try {
        payload = this.#framer.next();
      } catch (error) {
        if (!(error instanceof PacketTooLong)) throw error;
        this.#fatal(error.message, { length: error.length });
        break;
      }
      if (payload === undefined) break;
      this.#dispatch(payload);
    }
    this.#setPaused(this.#blocked() && !this.#inputDone);
    if (this.#inFlight === 0 && this.#framer.bufferedBytes === 0) {
      this.#framer.trim();
      this.#replyBuffers.trim();
    }
    const idle = this.#inFlight === 0 && (this.#outputDead || !this.#blocked());
    if (this.#inputDone && idle && !this.#finishing) void this.#finish();
  };

  #setPaused(paused: boolean): void {
    if (paused === this.#paused) return;
    this.#paused = paused;
    if (paused) this.#stream.pause();
    else this.#stream.resume();
  }

  #dispatch(payload: Buffer): void {
    const type = payload[0];
    if (type === undefined) return this.#fatal('empty SFTP packet');
    if (type === FXP.INIT) return this.#init(payload);
    if (!this.#initDone) return this.#fatal('SFTP request before INIT', { type });
    if (payload.length < 5) return this.#fatal('SFTP request without an id', { type });
    const id = payload.readUInt32BE(1);
    const row = ROWS_BY_TYPE.get(type);
    if (row === undefined) {
      this.#log.debug({ type }, 'unknown SFTP request type');
      return this.#send(id, status(FX.OP_UNSUPPORTED, `Unsupported request type ${type}`));
    }
    this.#inFlight++;
    this.#inFlightBytes += payload.length;
    let pending: Promise<Reply>;
    try {
      pending = row.run(this.#ctx, new SftpReader(payload, 5));
    } catch (error) {
      pending = Promise.reject(error);
    }
    pending
      .catch((error: unknown) => this.#errorReply(row.name, error))
      .then((reply) => this.#send(id, reply))
      .finally(() => {
        this.#inFlight--;
        this.#inFlightBytes -= payload.length;
        // A WRITE's data has been copied by the storage once it is answered (OpenFile.write).
        if (type === FXP.WRITE) this.#framer.recycle(payload);
        this.#step();
      })
      .catch((error: unknown) => this.#log.error({ err: error }, 'sftp reply failed'));
  }

  #errorReply(request: string, error: unknown): Reply {
    const { reply, unknown } = replyForError(error);
    if (unknown) this.#log.error({ err: error, request }, 'sftp request failed unexpectedly');
    else if (error instanceof MalformedPacket) this.#log.warn({ request, reason: error.message }, 'malformed sftp request');
    return reply;
  }

  // uint32 version [, extension pairs]: answered with version 3 whatever the client asks, as
  // OpenSSH does; the extension list tells clients what else is served.
  #init(payload: Buffer): void {
    if (this.#initDone) return this.#fatal('second SFTP INIT');
    if (payload.length < 5) return this.#fatal('SFTP INIT without a version');
    this.#initDone = true;
    this.#write([encodeVersion(SFTP_VERSION, ADVERTISED)]);
  }

  #send(id: number, reply: Reply): void {
    const framed = reply.kind === 'data' ? reply.framed : undefined;
    // The stream has finished with a chunk when its write callback runs without an error.
    const recycle = (error: Error | null | undefined): void => {
      if (framed && !error) this.#replyBuffers.recycle(framed);
    };
    this.#write(encodeReply(id, reply), framed && recycle);
  }

  #write(buffers: Buffer[], written?: (error: Error | null | undefined) => void): void {
    if (this.#outputDead || this.#stream.writableEnded || this.#stream.destroyed) return;
    for (const buffer of buffers) this.#stream.write(buffer, written);
  }

  /** A violation that leaves no request id to answer: stop reading and close the channel. */
  #fatal(reason: string, detail: object = {}): void {
    this.#log.warn({ ...detail, reason }, 'closing sftp channel after a protocol violation');
    this.#stopped = true;
    this.#inputDone = true;
    this.#stream.off('data', this.#onData);
    this.#framer.discard();
    this.#step();
  }

  async #finish(): Promise<void> {
    this.#finishing = true;
    const s = this.#stream;
    s.off('data', this.#onData);
    const closing = this.#ctx.handles.drain().map((handle) =>
      serialize(handle, () => closeHandle(handle, 'abandoned')).catch((error: unknown) =>
        this.#log.warn({ err: error, path: handle.path }, 'closing an sftp handle at channel end failed'),
      ),
    );
    await Promise.all(closing);
    s.off('end', this.#onInputEnd);
    s.off('close', this.#onClose);
    s.off('drain', this.#step);
    // Keep an error listener: a late socket error must not become an uncaught exception.
    if (!s.writableEnded && !s.destroyed) s.end();
    this.#resolveDone();
  }
}

