// The Raft core reads its persisted log through Storage; it never writes to it. The caller
// writes: every Ready's hard state, entries and snapshot go to storage before the Ready's
// messages are sent (see RawNode.ready). Same contract as etcd raft's storage.go.
//
// Methods are synchronous on purpose: the core is a pure state machine. A disk-backed
// implementation (cluster/storage, LevelDB) keeps the retained log in memory, loaded at start,
// and writes through to disk while handling a Ready.
import { entryPayloadSize } from './types.ts';
import type { ConfState, Entry, HardState, Snapshot } from './types.ts';

/** The requested index is below firstIndex(): it was compacted into a snapshot. */
export class CompactedError extends Error {
  constructor(index: number) {
    super(`raft log index ${index} has been compacted`);
    this.name = 'CompactedError';
  }
}

/** The requested index is above lastIndex(). */
export class UnavailableError extends Error {
  constructor(index: number) {
    super(`raft log index ${index} is not available yet`);
    this.name = 'UnavailableError';
  }
}

/** The snapshot at or above the requested index is not ready yet. */
export class SnapshotOutOfDateError extends Error {
  constructor(index: number, have: number) {
    super(`snapshot at ${index} is older than the current snapshot at ${have}`);
    this.name = 'SnapshotOutOfDateError';
  }
}

export interface InitialState {
  hardState: HardState;
  /** Membership as of the snapshot; later conf-change entries in the log override it. */
  confState: ConfState;
}

export interface Storage {
  initialState(): InitialState;
  /**
   * Entries in [lo, hi), at least one if any, and then as many as fit in maxBytes of payload.
   * Throws CompactedError below firstIndex(), UnavailableError above lastIndex(). The caller
   * must not mutate the returned entries (they may be shared with the storage).
   */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  /** Term of entry i, for firstIndex()-1 <= i <= lastIndex() (firstIndex()-1 is the snapshot's). */
  term(i: number): number;
  lastIndex(): number;
  /** Index of the first entry still in the log (snapshot index + 1). */
  firstIndex(): number;
  /** The most recent snapshot. */
  snapshot(): Snapshot;
}

const emptyData = new Uint8Array(0);

/**
 * Storage held in memory: the simulator's stable storage, and the reference for the contract
 * that cluster/storage implements. ents[0] is a dummy entry holding the snapshot's index/term.
 */
export class MemoryStorage implements Storage {
  #hardState: HardState = { term: 0, vote: '', commit: 0 };
  #snapshot: Snapshot;
  #ents: Entry[];

  /** A fresh node; `confState` is the bootstrap membership (empty for a node that will join). */
  constructor(confState: ConfState = { voters: [], learners: [] }) {
    this.#snapshot = { metadata: { index: 0, term: 0, confState }, data: emptyData };
    this.#ents = [{ index: 0, term: 0, type: 'normal', data: emptyData }];
  }

  initialState(): InitialState {
    return { hardState: this.#hardState, confState: this.#snapshot.metadata.confState };
  }

  setHardState(hs: HardState): void {
    this.#hardState = hs;
  }

  hardState(): HardState {
    return this.#hardState;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    const offset = this.#offset();
    if (lo <= offset) throw new CompactedError(lo);
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1);
    return limitSize(this.#ents.slice(lo - offset, hi - offset), maxBytes);
  }

  term(i: number): number {
    const offset = this.#offset();
    if (i < offset) throw new CompactedError(i);
    const e = this.#ents[i - offset];
    if (e === undefined) throw new UnavailableError(i);
    return e.term;
  }

  lastIndex(): number {
    return this.#offset() + this.#ents.length - 1;
  }

  firstIndex(): number {
    return this.#offset() + 1;
  }

  snapshot(): Snapshot {
    return this.#snapshot;
  }

  /** Replaces the whole state with a snapshot received from the leader. */
  applySnapshot(snap: Snapshot): void {
    if (snap.metadata.index <= this.#snapshot.metadata.index) {
      throw new SnapshotOutOfDateError(snap.metadata.index, this.#snapshot.metadata.index);
    }
    this.#snapshot = snap;
    this.#ents = [{ index: snap.metadata.index, term: snap.metadata.term, type: 'normal', data: emptyData }];
  }

  /**
   * Records a snapshot the application took at applied index `index`, whose membership was
   * `confState`. Entries up to `index` may then be dropped with compact().
   */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.#snapshot.metadata.index) throw new SnapshotOutOfDateError(index, this.#snapshot.metadata.index);
    if (index > this.lastIndex()) throw new UnavailableError(index);
    this.#snapshot = { metadata: { index, term: this.term(index), confState }, data };
    return this.#snapshot;
  }

  /** Drops entries before `compactIndex`; the entry at compactIndex becomes the dummy. */
  compact(compactIndex: number): void {
    const offset = this.#offset();
    if (compactIndex <= offset) throw new CompactedError(compactIndex);
    if (compactIndex > this.lastIndex()) throw new UnavailableError(compactIndex);
    const dummy = this.#ents[compactIndex - offset] as Entry;
    this.#ents = [{ index: dummy.index, term: dummy.term, type: 'normal', data: emptyData }, ...this.#ents.slice(compactIndex - offset + 1)];
  }

  /** Appends entries, replacing any existing suffix they conflict with (the Ready's entries). */
  append(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    const firstKept = this.firstIndex();
    const last = first.index + entries.length - 1;
    if (last < firstKept) return; // all already compacted
    const fresh = first.index < firstKept ? entries.slice(firstKept - first.index) : entries;
    const start = (fresh[0] as Entry).index - this.#offset();
    if (start > this.#ents.length) throw new Error(`raft storage: missing log entries before ${(fresh[0] as Entry).index} (last ${this.lastIndex()})`);
    this.#ents.length = start;
    for (const e of fresh) this.#ents.push(e);
  }

  #offset(): number {
    return (this.#ents[0] as Entry).index;
  }
}

/** Keeps the first entry, then entries while the total payload stays within maxBytes. */
export function limitSize(ents: Entry[], maxBytes: number): Entry[] {
  if (ents.length <= 1) return ents;
  let size = entryPayloadSize(ents[0] as Entry);
  for (let i = 1; i < ents.length; i++) {
    size += entryPayloadSize(ents[i] as Entry);
    if (size > maxBytes) return ents.slice(0, i);
  }
  return ents;
}
