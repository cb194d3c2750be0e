// On-disk encoding of the Raft log in LevelDB. Keys sort in log order (big-endian index), so a
// range read is one iterator. Values are small binary records with a version byte: a store
// written by a newer Ferry is refused rather than misread.
import type { ConfState, Entry, EntryType, HardState, Snapshot } from '../raft/types.ts';

export const FORMAT_VERSION = 1;

/** Single-byte key prefixes; one LevelDB per node holds only the Raft log. */
const PREFIX = { entry: 0x65 /* e */, hardState: 0x68 /* h */, snapshot: 0x73 /* s */, offset: 0x6f /* o */ } as const;

export const HARD_STATE_KEY = Uint8Array.of(PREFIX.hardState);
export const SNAPSHOT_KEY = Uint8Array.of(PREFIX.snapshot);
/** Index and term of the entry just before the first retained one (the compaction point). */
export const OFFSET_KEY = Uint8Array.of(PREFIX.offset);

export class StorageCorruptError extends Error {
  constructor(what: string) {
    super(`raft log store is corrupt or from a newer version: ${what}; restore the data directory from a backup or re-join the node`);
    this.name = 'StorageCorruptError';
  }
}

export function entryKey(index: number): Uint8Array {
  const key = new Uint8Array(9);
  key[0] = PREFIX.entry;
  new DataView(key.buffer).setBigUint64(1, BigInt(index));
  return key;
}

export const ENTRY_RANGE = { gte: entryKey(0), lte: entryKey(Number.MAX_SAFE_INTEGER) };

export function indexOfEntryKey(key: Uint8Array): number {
  if (key.byteLength !== 9 || key[0] !== PREFIX.entry) throw new StorageCorruptError('bad entry key');
  return Number(new DataView(key.buffer, key.byteOffset, 9).getBigUint64(1));
}

/** A plain Uint8Array owning its bytes (LevelDB hands out Buffers that may share memory). */
function copyOf(view: Uint8Array): Uint8Array {
  const out = new Uint8Array(view.byteLength);
  out.set(view);
  return out;
}

const TYPES: readonly EntryType[] = ['normal', 'conf-change'];

/** version(1) | type(1) | term(8) | data */
export function encodeEntry(entry: Entry): Uint8Array {
  const out = new Uint8Array(10 + entry.data.byteLength);
  out[0] = FORMAT_VERSION;
  out[1] = TYPES.indexOf(entry.type);
  new DataView(out.buffer).setBigUint64(2, BigInt(entry.term));
  out.set(entry.data, 10);
  return out;
}

export function decodeEntry(index: number, value: Uint8Array): Entry {
  if (value.byteLength < 10 || value[0] !== FORMAT_VERSION) throw new StorageCorruptError(`entry ${index}`);
  const type = TYPES[value[1] as number];
  if (type === undefined) throw new StorageCorruptError(`entry ${index} type`);
  const term = Number(new DataView(value.buffer, value.byteOffset, value.byteLength).getBigUint64(2));
  return { index, term, type, data: copyOf(value.subarray(10)) };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function encodeJson(value: unknown): Uint8Array {
  const json = encoder.encode(JSON.stringify(value));
  const out = new Uint8Array(1 + json.byteLength);
  out[0] = FORMAT_VERSION;
  out.set(json, 1);
  return out;
}

function decodeJson(value: Uint8Array, what: string): unknown {
  if (value[0] !== FORMAT_VERSION) throw new StorageCorruptError(what);
  try {
    return JSON.parse(decoder.decode(value.subarray(1))) as unknown;
  } catch {
    throw new StorageCorruptError(what);
  }
}

function isIndex(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isIds(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((id) => typeof id === 'string');
}

export function encodeHardState(hs: HardState): Uint8Array {
  return encodeJson({ term: hs.term, vote: hs.vote, commit: hs.commit });
}

export function decodeHardState(value: Uint8Array): HardState {
  const hs = decodeJson(value, 'hard state') as Partial<HardState> | null;
  if (!hs || !isIndex(hs.term) || typeof hs.vote !== 'string' || !isIndex(hs.commit)) throw new StorageCorruptError('hard state');
  return { term: hs.term, vote: hs.vote, commit: hs.commit };
}

export interface Offset {
  readonly index: number;
  readonly term: number;
}

export function encodeOffset(offset: Offset): Uint8Array {
  return encodeJson({ index: offset.index, term: offset.term });
}

export function decodeOffset(value: Uint8Array): Offset {
  const offset = decodeJson(value, 'log offset') as Partial<Offset> | null;
  if (!offset || !isIndex(offset.index) || !isIndex(offset.term)) throw new StorageCorruptError('log offset');
  return { index: offset.index, term: offset.term };
}

/** version(1) | metadata length(4) | metadata JSON | data */
export function encodeSnapshot(snapshot: Snapshot): Uint8Array {
  const { index, term, confState } = snapshot.metadata;
  const meta = encoder.encode(JSON.stringify({ index, term, voters: confState.voters, learners: confState.learners }));
  const out = new Uint8Array(5 + meta.byteLength + snapshot.data.byteLength);
  out[0] = FORMAT_VERSION;
  new DataView(out.buffer).setUint32(1, meta.byteLength);
  out.set(meta, 5);
  out.set(snapshot.data, 5 + meta.byteLength);
  return out;
}

export function decodeSnapshot(value: Uint8Array): Snapshot {
  if (value.byteLength < 5 || value[0] !== FORMAT_VERSION) throw new StorageCorruptError('snapshot');
  const length = new DataView(value.buffer, value.byteOffset, value.byteLength).getUint32(1);
  if (5 + length > value.byteLength) throw new StorageCorruptError('snapshot metadata length');
  let meta: { index?: unknown; term?: unknown; voters?: unknown; learners?: unknown };
  try {
    meta = JSON.parse(decoder.decode(value.subarray(5, 5 + length))) as typeof meta;
  } catch {
    throw new StorageCorruptError('snapshot metadata');
  }
  if (!isIndex(meta.index) || !isIndex(meta.term) || !isIds(meta.voters) || !isIds(meta.learners)) {
    throw new StorageCorruptError('snapshot metadata');
  }
  const confState: ConfState = { voters: meta.voters, learners: meta.learners };
  return { metadata: { index: meta.index, term: meta.term, confState }, data: copyOf(value.subarray(5 + length)) };
}
