// Frames between nodes: a 4-byte big-endian length, then a JSON document. Raft messages carry
// their byte fields (entry data, snapshot data) as base64. Decoding never throws on hostile
// input: it answers undefined, and RawNode.step's own validation refuses what is left.
import type { Entry, Message, Snapshot } from '../raft/types.ts';

/** Largest frame accepted; a snapshot bigger than a frame travels in parts. */
export const MAX_FRAME = 4 * 1024 * 1024;

interface WireEntry {
  i: number;
  t: number;
  y: string;
  d: string;
}

export interface WireMessage {
  type: string;
  from: string;
  to: string;
  term: number;
  logTerm: number;
  index: number;
  commit: number;
  reject: boolean;
  rejectHint: number;
  context: string;
  entries: WireEntry[];
  snapshot?: { index: number; term: number; voters: string[]; learners: string[]; data: string };
}

/** Every frame says who sent it, when by its clock, and where it can be reached. */
export interface FrameHeader {
  /** Sender's clock (ms since the epoch) when the frame was made: the clock guard's input. */
  clock: number;
  /** Sender's advertised cluster address (host:port). */
  addr: string;
}

export type Frame = FrameHeader &
  (
    | { kind: 'raft'; msg: WireMessage }
    /** One part of a large frame (a snapshot): `data` is base64 of that part of its JSON. */
    | { kind: 'part'; id: string; seq: number; total: number; data: string }
    | { kind: 'join'; token: string; nodeId: string; nodeAddr: string }
    | { kind: 'join-ok'; grant: unknown }
    | { kind: 'join-refused'; reason: string }
  );

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
const unb64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));

export function toWire(m: Message): WireMessage {
  const w: WireMessage = {
    type: m.type, from: m.from, to: m.to, term: m.term, logTerm: m.logTerm, index: m.index, commit: m.commit,
    reject: m.reject, rejectHint: m.rejectHint, context: m.context,
    entries: m.entries.map((e) => ({ i: e.index, t: e.term, y: e.type, d: b64(e.data) })),
  };
  if (m.snapshot !== undefined) {
    const { index, term, confState } = m.snapshot.metadata;
    w.snapshot = { index, term, voters: [...confState.voters], learners: [...confState.learners], data: b64(m.snapshot.data) };
  }
  return w;
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isIds = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

function entriesFromWire(raw: unknown[]): Entry[] | undefined {
  const entries: Entry[] = [];
  for (const e of raw) {
    const we = e as Partial<WireEntry>;
    if (typeof e !== 'object' || e === null || !isInt(we.i) || !isInt(we.t) || typeof we.d !== 'string') return undefined;
    if (we.y !== 'normal' && we.y !== 'conf-change') return undefined;
    entries.push({ index: we.i, term: we.t, type: we.y, data: unb64(we.d) });
  }
  return entries;
}

function snapshotFromWire(s: WireMessage['snapshot']): Snapshot | undefined {
  if (typeof s !== 'object' || s === null || !isInt(s.index) || !isInt(s.term) || !isIds(s.voters) || !isIds(s.learners) || typeof s.data !== 'string') return undefined;
  return { metadata: { index: s.index, term: s.term, confState: { voters: s.voters, learners: s.learners } }, data: unb64(s.data) };
}

/** The Message a wire form stands for, or undefined when it is not one. */
export function fromWire(raw: unknown): Message | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const w = raw as Partial<WireMessage>;
  if (typeof w.type !== 'string' || typeof w.from !== 'string' || typeof w.to !== 'string') return undefined;
  if (!isInt(w.term) || !isInt(w.logTerm) || !isInt(w.index) || !isInt(w.commit) || !isInt(w.rejectHint)) return undefined;
  if (typeof w.reject !== 'boolean' || typeof w.context !== 'string' || !Array.isArray(w.entries)) return undefined;
  const entries = entriesFromWire(w.entries as unknown[]);
  if (entries === undefined) return undefined;
  const snapshot = w.snapshot === undefined ? undefined : snapshotFromWire(w.snapshot);
  if (w.snapshot !== undefined && snapshot === undefined) return undefined;
  return {
    type: w.type as Message['type'], from: w.from, to: w.to, term: w.term, logTerm: w.logTerm, index: w.index, commit: w.commit,
    reject: w.reject, rejectHint: w.rejectHint, context: w.context, entries, snapshot,
  };
}

export function encodeFrame(frame: Frame): Buffer {
  const body = Buffer.from(JSON.stringify(frame));
  const out = Buffer.allocUnsafe(4 + body.byteLength);
  out.writeUInt32BE(body.byteLength, 0);
  body.copy(out, 4);
  return out;
}

/** Splits a stream into frames; refuses (throws) a frame over MAX_FRAME: the peer is broken. */
export class FrameReader {
  #buffer: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): unknown[] {
    this.#buffer = this.#buffer.byteLength === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    const frames: unknown[] = [];
    while (this.#buffer.byteLength >= 4) {
      const length = this.#buffer.readUInt32BE(0);
      if (length > MAX_FRAME) throw new Error(`frame of ${length} bytes is over the ${MAX_FRAME}-byte limit`);
      if (this.#buffer.byteLength < 4 + length) break;
      const body = this.#buffer.subarray(4, 4 + length);
      this.#buffer = this.#buffer.subarray(4 + length);
      frames.push(JSON.parse(body.toString('utf8')));
    }
    return frames;
  }
}
