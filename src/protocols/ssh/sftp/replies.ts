// Reply values produced by request handlers and their wire encoding (filexfer-02 section 7).
// Handlers return values, not bytes, so tests can read them and the server encodes in one place.
import type { EntryInfo } from '../../../vfs/vfs.ts';
import type { StatusCode } from './constants.ts';
import { FX, FXP } from './constants.ts';
import { writeAttrs, writeEmptyAttrs } from './attrs.ts';
import { SftpWriter } from './writer.ts';

export interface NameEntry {
  readonly filename: string;
  readonly longname: string;
  /** Omitted for REALPATH/READLINK answers, which carry empty attributes as OpenSSH's do. */
  readonly entry?: EntryInfo;
}

export type Reply =
  | { readonly kind: 'status'; readonly code: StatusCode; readonly message: string }
  | { readonly kind: 'handle'; readonly handle: Buffer }
  | { readonly kind: 'data'; readonly data: Buffer; readonly framed?: Buffer }
  | { readonly kind: 'name'; readonly entries: readonly NameEntry[] }
  | { readonly kind: 'attrs'; readonly entry: EntryInfo }
  | { readonly kind: 'extended'; readonly fields: (w: SftpWriter) => void };

/**
 * Bytes before the payload of a DATA reply (uint32 length, byte type, uint32 id, uint32 data
 * length). A `framed` DATA reply is a buffer with this much room in front of its data, so a file
 * read lands where it is sent from and the reply leaves as one write.
 */
export const DATA_HEADER = 13;

/** A protocol-level refusal (bad handle, too many handles) raised inside a handler. */
export class StatusError extends Error {
  readonly code: StatusCode;

  constructor(code: StatusCode, message: string) {
    super(message);
    this.name = 'StatusError';
    this.code = code;
  }
}

export const OK: Reply = Object.freeze({ kind: 'status', code: FX.OK, message: 'Success' });
export const EOF: Reply = Object.freeze({ kind: 'status', code: FX.EOF, message: 'End of file' });

export function status(code: StatusCode, message: string): Reply {
  return { kind: 'status', code, message };
}

/** Encodes `reply` to `id` as one or two buffers (a DATA payload is sent without a copy). */
export function encodeReply(id: number, reply: Reply): Buffer[] {
  switch (reply.kind) {
    case 'status':
      return [new SftpWriter(FXP.STATUS).u32(id).u32(reply.code).text(reply.message).text('en').finish()];
    case 'handle':
      return [new SftpWriter(FXP.HANDLE).u32(id).bytes(reply.handle).finish()];
    case 'data': {
      if (reply.framed) {
        const packet = reply.framed.subarray(0, DATA_HEADER + reply.data.length);
        packet.writeUInt32BE(packet.length - 4, 0);
        packet[4] = FXP.DATA;
        packet.writeUInt32BE(id >>> 0, 5);
        packet.writeUInt32BE(reply.data.length, 9);
        return [packet];
      }
      const head = new SftpWriter(FXP.DATA, 16).u32(id).u32(reply.data.length);
      return [head.finish(reply.data.length), reply.data];
    }
    case 'name': {
      const w = new SftpWriter(FXP.NAME, 1024).u32(id).u32(reply.entries.length);
      for (const e of reply.entries) {
        w.text(e.filename).text(e.longname);
        if (e.entry) writeAttrs(w, e.entry);
        else writeEmptyAttrs(w);
      }
      return [w.finish()];
    }
    case 'attrs': {
      const w = new SftpWriter(FXP.ATTRS, 64).u32(id);
      writeAttrs(w, reply.entry);
      return [w.finish()];
    }
    case 'extended': {
      const w = new SftpWriter(FXP.EXTENDED_REPLY, 128).u32(id);
      reply.fields(w);
      return [w.finish()];
    }
  }
}

export function encodeVersion(version: number, extensions: readonly (readonly [string, string])[]): Buffer {
  const w = new SftpWriter(FXP.VERSION).u32(version);
  for (const [name, value] of extensions) w.text(name).text(value);
  return w.finish();
}

/** A NAME reply with one entry, as REALPATH and READLINK send it (empty attributes). */
export function oneName(name: string): Reply {
  return { kind: 'name', entries: [{ filename: name, longname: name }] };
}

