// The Raft log, hard state and latest snapshot in LevelDB, behind the Raft core's Storage
// interface (cluster/raft/storage.ts). Reads are synchronous from memory: the retained log
// (everything after the last compaction) is loaded at open and kept there; compaction keeps it
// small. Writes go to disk first, in one atomic LevelDB batch written with fsync, and only
// then change memory; a failed write leaves both as they were. Writes are serialized.
import { Level } from 'level';
import { CompactedError, limitSize, SnapshotOutOfDateError, UnavailableError } from '../raft/storage.ts';
import type { InitialState, Storage } from '../raft/storage.ts';
import type { ConfState, Entry, HardState, Snapshot } from '../raft/types.ts';
import {
  decodeEntry,
  decodeHardState,
  decodeOffset,
  decodeSnapshot,
  encodeEntry,
  encodeHardState,
  encodeOffset,
  encodeSnapshot,
  ENTRY_RANGE,
  entryKey,
  HARD_STATE_KEY,
  indexOfEntryKey,
  OFFSET_KEY,
  SNAPSHOT_KEY,
  StorageCorruptError,
} from './codec.ts';

type Db = Level<Uint8Array, Uint8Array>;
type Op = { type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'del'; key: Uint8Array };

const EMPTY = new Uint8Array(0);

/** Everything a Raft Ready asks to persist, written as one atomic batch. */
export interface PersistRequest {
  /** A snapshot received from the leader: replaces the log (applied first). */
  readonly snapshot?: Snapshot;
  /** New entries; any existing suffix they conflict with is replaced. */
  readonly entries?: readonly Entry[];
  readonly hardState?: HardState;
}

export class StorageLockedError extends Error {
  constructor(dir: string, cause: unknown) {
    super(`the log store at ${dir} is in use by another process (is a Ferry node running on this data directory?)`, { cause });
    this.name = 'StorageLockedError';
  }
}

/** The in-memory picture; `ents[0]` is a dummy holding the compaction point's index/term. */
interface Mem {
  hardState: HardState;
  snapshot: Snapshot;
  ents: Entry[];
}

export class LevelStorage implements Storage {
  readonly #db: Db;
  #mem: Mem;
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(db: Db, mem: Mem) {
    this.#db = db;
    this.#mem = mem;
  }

  /** `bootstrap`: membership recorded for a brand-new store (ignored once one exists). */
  static async open(dir: string, bootstrap: ConfState = { voters: [], learners: [] }): Promise<LevelStorage> {
    const db: Db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
    try {
      await db.open();
    } catch (error) {
      const code = (error as { cause?: { code?: string } }).cause?.code;
      if (code === 'LEVEL_LOCKED') throw new StorageLockedError(dir, error);
      throw error;
    }
    try {
      return new LevelStorage(db, await load(db, bootstrap));
    } catch (error) {
      await db.close();
      throw error;
    }
  }

  // ---- Storage (cluster/raft): synchronous reads from memory ----

  initialState(): InitialState {
    return { hardState: this.#mem.hardState, confState: this.#mem.snapshot.metadata.confState };
  }

  hardState(): HardState {
    return this.#mem.hardState;
  }

  entries(lo: number, hi: number, maxBytes: number = Number.MAX_SAFE_INTEGER): Entry[] {
    const offset = this.#offset();
    if (lo <= offset) throw new CompactedError(lo);
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1);
    return limitSize(this.#mem.ents.slice(lo - offset, hi - offset), maxBytes);
  }

  term(i: number): number {
    const offset = this.#offset();
    if (i < offset) throw new CompactedError(i);
    const entry = this.#mem.ents[i - offset];
    if (entry === undefined) throw new UnavailableError(i);
    return entry.term;
  }

  lastIndex(): number {
    return this.#offset() + this.#mem.ents.length - 1;
  }

  firstIndex(): number {
    return this.#offset() + 1;
  }

  snapshot(): Snapshot {
    return this.#mem.snapshot;
  }

  // ---- Writes: each one atomic and durable, in call order ----

  /**
   * Persists a Raft Ready: snapshot, then entries, then hard state, in one batch. `sync: false`
   * (a Ready whose mustSync is false) skips the fsync; the default is durable.
   */
  save(request: PersistRequest, options: { sync?: boolean } = {}): Promise<void> {
    return this.#write(options.sync ?? true, (draft, ops) => {
      if (request.snapshot) applySnapshotTo(draft, ops, request.snapshot);
      if (request.entries && request.entries.length > 0) appendTo(draft, ops, request.entries);
      if (request.hardState) {
        draft.hardState = { ...request.hardState };
        ops.push({ type: 'put', key: HARD_STATE_KEY, value: encodeHardState(request.hardState) });
      }
    });
  }

  append(entries: readonly Entry[]): Promise<void> {
    return this.save({ entries });
  }

  setHardState(hardState: HardState): Promise<void> {
    return this.save({ hardState });
  }

  /** Replaces the whole log with a snapshot received from the leader. */
  applySnapshot(snapshot: Snapshot): Promise<void> {
    return this.save({ snapshot });
  }

  /**
   * Records a snapshot the application took at applied index `index`. With `compact`, entries up
   * to `index` are dropped in the same batch.
   */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array, options: { compact?: boolean } = {}): Promise<Snapshot> {
    let created: Snapshot | undefined;
    return this.#write(true, (draft, ops) => {
      const have = draft.snapshot.metadata.index;
      if (index <= have) throw new SnapshotOutOfDateError(index, have);
      created = { metadata: { index, term: termIn(draft, index), confState }, data };
      draft.snapshot = created;
      ops.push({ type: 'put', key: SNAPSHOT_KEY, value: encodeSnapshot(created) });
      if (options.compact) compactTo(draft, ops, index);
    }).then(() => created as Snapshot);
  }

  /** Drops entries up to and including `compactIndex` (which must be <= lastIndex()). */
  compact(compactIndex: number): Promise<void> {
    return this.#write(true, (draft, ops) => compactTo(draft, ops, compactIndex));
  }

  /**
   * Gives member `from` the id `to` in the recorded membership and the hard state's vote, in
   * one durable batch: an offline migration of a node's own id (nothing else may be running on
   * this store, and no peer may know the old id). false when `from` is not a member.
   */
  renameMember(from: string, to: string): Promise<boolean> {
    let renamed = false;
    return this.#write(true, (draft, ops) => {
      const rename = (ids: readonly string[]) => ids.map((id) => (id === from ? to : id)).sort();
      const { confState } = draft.snapshot.metadata;
      if (!confState.voters.includes(from) && !confState.learners.includes(from)) return;
      for (const entry of draft.ents.slice(1)) {
        if (entry.type === 'conf-change') throw new Error(`cannot rename member ${from}: the log holds membership changes (entry ${entry.index})`);
      }
      const metadata = { ...draft.snapshot.metadata, confState: { voters: rename(confState.voters), learners: rename(confState.learners) } };
      draft.snapshot = { ...draft.snapshot, metadata };
      ops.push({ type: 'put', key: SNAPSHOT_KEY, value: encodeSnapshot(draft.snapshot) });
      if (draft.hardState.vote === from) {
        draft.hardState = { ...draft.hardState, vote: to };
        ops.push({ type: 'put', key: HARD_STATE_KEY, value: encodeHardState(draft.hardState) });
      }
      renamed = true;
    }).then(() => renamed);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue.catch(() => undefined);
    await this.#db.close();
  }

  #offset(): number {
    return (this.#mem.ents[0] as Entry).index;
  }

  #write(sync: boolean, build: (draft: Mem, ops: Op[]) => void): Promise<void> {
    const run = async () => {
      if (this.#closed) throw new Error('raft log store is closed');
      const draft: Mem = { ...this.#mem, ents: this.#mem.ents.slice() };
      const ops: Op[] = [];
      build(draft, ops);
      if (ops.length > 0) await this.#db.batch(ops, { sync });
      this.#mem = draft;
    };
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => undefined);
    return result;
  }
}

function offsetOf(draft: Mem): number {
  return (draft.ents[0] as Entry).index;
}

function termIn(draft: Mem, index: number): number {
  const offset = offsetOf(draft);
  const entry = index >= offset ? draft.ents[index - offset] : undefined;
  if (entry === undefined) throw index < offset ? new CompactedError(index) : new UnavailableError(index);
  return entry.term;
}

function appendTo(draft: Mem, ops: Op[], entries: readonly Entry[]): void {
  const first = entries[0] as Entry;
  const offset = offsetOf(draft);
  const last = first.index + entries.length - 1;
  if (last <= offset) return; // all already compacted
  const fresh = first.index <= offset ? entries.slice(offset + 1 - first.index) : entries;
  const start = (fresh[0] as Entry).index - offset;
  const oldLast = offset + draft.ents.length - 1;
  if (start > draft.ents.length) {
    throw new Error(`raft log store: missing entries before ${(fresh[0] as Entry).index} (last is ${oldLast})`);
  }
  fresh.forEach((entry, i) => {
    if (entry.index !== (fresh[0] as Entry).index + i) throw new Error('raft log store: entries to append are not contiguous');
  });
  const newLast = (fresh[fresh.length - 1] as Entry).index;
  for (let index = newLast + 1; index <= oldLast; index++) ops.push({ type: 'del', key: entryKey(index) });
  draft.ents.length = start;
  for (const entry of fresh) {
    draft.ents.push(entry);
    ops.push({ type: 'put', key: entryKey(entry.index), value: encodeEntry(entry) });
  }
}

function applySnapshotTo(draft: Mem, ops: Op[], snapshot: Snapshot): void {
  const have = draft.snapshot.metadata.index;
  if (snapshot.metadata.index <= have) throw new SnapshotOutOfDateError(snapshot.metadata.index, have);
  for (const entry of draft.ents.slice(1)) ops.push({ type: 'del', key: entryKey(entry.index) });
  const { index, term } = snapshot.metadata;
  draft.snapshot = snapshot;
  draft.ents = [{ index, term, type: 'normal', data: EMPTY }];
  ops.push({ type: 'put', key: SNAPSHOT_KEY, value: encodeSnapshot(snapshot) });
  ops.push({ type: 'put', key: OFFSET_KEY, value: encodeOffset({ index, term }) });
}

function compactTo(draft: Mem, ops: Op[], compactIndex: number): void {
  const offset = offsetOf(draft);
  if (compactIndex <= offset) throw new CompactedError(compactIndex);
  const lastIndex = offset + draft.ents.length - 1;
  if (compactIndex > lastIndex) throw new UnavailableError(compactIndex);
  const dummy = draft.ents[compactIndex - offset] as Entry;
  for (let index = offset + 1; index <= compactIndex; index++) ops.push({ type: 'del', key: entryKey(index) });
  draft.ents = [{ index: dummy.index, term: dummy.term, type: 'normal', data: EMPTY }, ...draft.ents.slice(compactIndex - offset + 1)];
  ops.push({ type: 'put', key: OFFSET_KEY, value: encodeOffset({ index: dummy.index, term: dummy.term }) });
}

async function load(db: Db, bootstrap: ConfState): Promise<Mem> {
  const hardStateBytes = await db.get(HARD_STATE_KEY);
  const snapshotBytes = await db.get(SNAPSHOT_KEY);
  const offsetBytes = await db.get(OFFSET_KEY);
  const hardState = hardStateBytes ? decodeHardState(hardStateBytes) : { term: 0, vote: '', commit: 0 };
  let snapshot: Snapshot;
  if (snapshotBytes) {
    snapshot = decodeSnapshot(snapshotBytes);
  } else {
    // A brand-new store records its bootstrap membership so a restart sees the same cluster.
    snapshot = { metadata: { index: 0, term: 0, confState: bootstrap }, data: EMPTY };
    await db.put(SNAPSHOT_KEY, encodeSnapshot(snapshot), { sync: true });
  }
  const offset = offsetBytes ? decodeOffset(offsetBytes) : { index: 0, term: 0 };
  const ents: Entry[] = [{ index: offset.index, term: offset.term, type: 'normal', data: EMPTY }];
  for await (const [key, value] of db.iterator({ gt: entryKey(offset.index), lte: ENTRY_RANGE.lte })) {
    const index = indexOfEntryKey(key);
    if (index !== offset.index + ents.length) throw new StorageCorruptError(`gap in the log before entry ${index}`);
    ents.push(decodeEntry(index, value));
  }
  return { hardState, snapshot, ents };
}
