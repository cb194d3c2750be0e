// The node's view of its log: what is on stable storage plus the "unstable" tail (entries and
// possibly a snapshot) that the caller has not persisted yet. Mirrors etcd raft's log.go and
// log_unstable.go. Invariant: unstable.entries[i].index === unstable.offset + i, and when a
// snapshot is pending, offset === snapshot index + 1.
import { CompactedError, UnavailableError, limitSize } from './storage.ts';
import type { Storage } from './storage.ts';
import type { Entry, Snapshot } from './types.ts';

/** Term returned for an index outside the log (compacted or beyond the end). */
export const noTerm = -1;

export class RaftLog {
  readonly storage: Storage;
  /** Highest index known to be stored on a quorum. */
  committed: number;
  /** Highest index handed to the application (in a Ready's committedEntries). */
  applied: number;
  #unstableEntries: Entry[] = [];
  #offset: number;
  #unstableSnapshot: Snapshot | undefined;

  constructor(storage: Storage, applied: number) {
    this.storage = storage;
    const first = storage.firstIndex();
    this.#offset = storage.lastIndex() + 1;
    this.committed = first - 1;
    this.applied = Math.max(first - 1, applied);
  }

  firstIndex(): number {
    if (this.#unstableSnapshot !== undefined) return this.#unstableSnapshot.metadata.index + 1;
    return this.storage.firstIndex();
  }

  lastIndex(): number {
    const n = this.#unstableEntries.length;
    if (n > 0) return this.#offset + n - 1;
    if (this.#unstableSnapshot !== undefined) return this.#unstableSnapshot.metadata.index;
    return this.storage.lastIndex();
  }

  lastTerm(): number {
    return this.term(this.lastIndex());
  }

  /** Term of entry i, or noTerm when i was compacted or lies beyond the last index. */
  term(i: number): number {
    if (i >= this.#offset) {
      const e = this.#unstableEntries[i - this.#offset];
      return e === undefined ? noTerm : e.term;
    }
    const snap = this.#unstableSnapshot;
    if (snap !== undefined) return i === snap.metadata.index ? snap.metadata.term : noTerm;
    if (i < this.storage.firstIndex() - 1 || i > this.storage.lastIndex()) return noTerm;
    return this.storage.term(i);
  }

  matchTerm(i: number, term: number): boolean {
    const t = this.term(i);
    return t !== noTerm && t === term;
  }

  /** §5.4.1: a candidate's log is at least as up to date as ours. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /**
   * Index of the first entry of `ents` that is new or conflicts with ours (same index, other
   * term), or 0 when all of them are already in the log.
   */
  findConflict(ents: readonly Entry[]): number {
    for (const e of ents) if (!this.matchTerm(e.index, e.term)) return e.index;
    return 0;
  }

  /**
   * The largest index <= `index` whose term is <= `term`, with that term (etcd's
   * findConflictByTerm): where a probe can next hope to match. Stops at compacted history.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (; index > 0; index--) {
      const t = this.term(index);
      if (t === noTerm) return { index, term: 0 };
      if (t <= term) return { index, term: t };
    }
    return { index: 0, term: 0 };
  }

  /** Appends (and truncates a conflicting unstable/stable suffix); entries must be contiguous. */
  append(ents: readonly Entry[]): void {
    const first = ents[0];
    if (first === undefined) return;
    if (first.index - 1 < this.committed) {
      throw new Error(`raft: refusing to overwrite committed index ${first.index} (committed ${this.committed})`);
    }
    const after = first.index;
    const n = this.#unstableEntries.length;
    if (after === this.#offset + n) {
      for (const e of ents) this.#unstableEntries.push(e);
    } else if (after <= this.#offset) {
      // Replaces everything unstable and (on persist) the stable suffix from `after` on.
      this.#offset = after;
      this.#unstableEntries = ents.slice();
    } else {
      const kept = this.#unstableEntries.slice(0, after - this.#offset);
      for (const e of ents) kept.push(e);
      this.#unstableEntries = kept;
    }
  }

  /** Entries in [lo, hi) within maxBytes (at least one). Throws CompactedError below firstIndex. */
  slice(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo >= hi) return [];
    if (lo < this.firstIndex()) throw new CompactedError(lo);
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1);
    let out: Entry[] = [];
    if (lo < this.#offset) {
      out = this.storage.entries(lo, Math.min(hi, this.#offset), maxBytes);
      // The storage part was cut short by the size limit: do not append unstable entries.
      if (out.length < Math.min(hi, this.#offset) - lo) return out;
    }
    if (hi > this.#offset) {
      const from = Math.max(lo, this.#offset) - this.#offset;
      const tail = this.#unstableEntries.slice(from, hi - this.#offset);
      out = out.length === 0 ? tail : out.concat(tail);
    }
    return limitSize(out, maxBytes);
  }

  commitTo(index: number): void {
    if (index <= this.committed) return;
    if (index > this.lastIndex()) {
      throw new Error(`raft: commit index ${index} is out of range (last index ${this.lastIndex()})`);
    }
    this.committed = index;
  }

  /** §5.4.2: commit `index` only if its entry is from `term` (the leader's current term). */
  maybeCommit(index: number, term: number): boolean {
    if (index > this.committed && this.term(index) === term) {
      this.commitTo(index);
      return true;
    }
    return false;
  }

  appliedTo(index: number): void {
    if (index === 0) return;
    if (index > this.committed || index < this.applied) {
      throw new Error(`raft: applied(${index}) out of range [${this.applied}, ${this.committed}]`);
    }
    this.applied = index;
  }

  /** Committed entries not yet applied; none while a snapshot is waiting to be installed. */
  hasNextCommittedEntries(): boolean {
    return this.#unstableSnapshot === undefined && this.committed > this.applied;
  }

  nextCommittedEntries(maxBytes: number): Entry[] {
    if (!this.hasNextCommittedEntries()) return [];
    return this.slice(Math.max(this.applied + 1, this.firstIndex()), this.committed + 1, maxBytes);
  }

  unstableEntries(): Entry[] {
    return this.#unstableEntries;
  }

  unstableSnapshot(): Snapshot | undefined {
    return this.#unstableSnapshot;
  }

  /** The caller persisted entries up to (index, term); a later overwrite keeps them unstable. */
  stableTo(index: number, term: number): void {
    if (index < this.#offset) return;
    const e = this.#unstableEntries[index - this.#offset];
    if (e === undefined || e.term !== term) return;
    this.#unstableEntries = this.#unstableEntries.slice(index + 1 - this.#offset);
    this.#offset = index + 1;
  }

  stableSnapTo(index: number): void {
    if (this.#unstableSnapshot !== undefined && this.#unstableSnapshot.metadata.index === index) {
      this.#unstableSnapshot = undefined;
    }
  }

  /** Replaces the log with a snapshot received from the leader (persisted via the next Ready). */
  restore(snap: Snapshot): void {
    this.committed = snap.metadata.index;
    this.#unstableSnapshot = snap;
    this.#unstableEntries = [];
    this.#offset = snap.metadata.index + 1;
  }

  /** The snapshot to send to a follower that needs entries we no longer have. */
  snapshot(): Snapshot {
    return this.#unstableSnapshot ?? this.storage.snapshot();
  }
}
