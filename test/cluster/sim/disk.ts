// A simulated disk under one node's Raft storage, honest about durability. A write reaches
// the operating system at once: it survives a process crash, and the node reads it back. It
// survives a power loss only once fsynced; of the writes since the last fsync, a power loss
// keeps some prefix, chosen by the simulation's randomness (a write-ahead log such as
// LevelDB's reaches the platter in order, so a prefix is what can survive, never a hole).
//
// The storage the core reads is a MemoryStorage holding everything written. Writes are kept
// as a list of operations so that the state after a power loss can be rebuilt by replaying
// the synced ones and the surviving prefix of the rest on a fresh storage.
import { MemoryStorage } from '../../../cluster/raft/index.ts';
import type { ConfState, Entry, HardState, Snapshot } from '../../../cluster/raft/index.ts';

type Write =
  | { kind: 'snapshot'; snapshot: Snapshot }
  | { kind: 'entries'; entries: readonly Entry[] }
  | { kind: 'hard-state'; hardState: HardState }
  | { kind: 'app-snapshot'; index: number; confState: ConfState; data: Uint8Array }
  | { kind: 'compact'; index: number };

export class SimDisk {
  readonly #bootstrap: ConfState;
  #storage: MemoryStorage;
  /** Every write ever made, oldest first; the first `#synced` of them are durable. */
  #writes: Write[] = [];
  #synced = 0;
  /** Writes a power loss has erased over this disk's life (what the simulation exercised). */
  lost = 0;

  constructor(bootstrap: ConfState) {
    this.#bootstrap = bootstrap;
    this.#storage = new MemoryStorage(bootstrap);
  }

  /** What the node reads: everything written, synced or not. */
  get storage(): MemoryStorage {
    return this.#storage;
  }

  /** Writes not yet fsynced. */
  get unsynced(): number {
    return this.#writes.length - this.#synced;
  }

  applySnapshot(snapshot: Snapshot): void {
    this.#write({ kind: 'snapshot', snapshot });
  }

  append(entries: readonly Entry[]): void {
    if (entries.length > 0) this.#write({ kind: 'entries', entries });
  }

  setHardState(hardState: HardState): void {
    this.#write({ kind: 'hard-state', hardState });
  }

  /** A snapshot the application took, then compaction; the application syncs it itself. */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): void {
    this.#write({ kind: 'app-snapshot', index, confState, data });
  }

  compact(index: number): void {
    this.#write({ kind: 'compact', index });
  }

  /** fsync: everything written so far survives a power loss. */
  sync(): void {
    this.#synced = this.#writes.length;
  }

  /**
   * The power goes out: the synced writes stay, and of the rest only the first `keep`
   * (clamped to what there is). The node's storage becomes what a reboot would read.
   */
  powerLoss(keep: number): void {
    const kept = this.#synced + Math.max(0, Math.min(keep, this.unsynced));
    this.lost += this.#writes.length - kept;
    this.#writes.length = kept;
    this.#synced = kept;
    const storage = new MemoryStorage(this.#bootstrap);
    for (const w of this.#writes) replay(storage, w);
    this.#storage = storage;
  }

  #write(w: Write): void {
    replay(this.#storage, w);
    this.#writes.push(w);
  }
}

function replay(s: MemoryStorage, w: Write): void {
  switch (w.kind) {
    case 'snapshot':
      s.applySnapshot(w.snapshot);
      return;
    case 'entries':
      s.append(w.entries);
      return;
    case 'hard-state':
      s.setHardState(w.hardState);
      return;
    case 'app-snapshot':
      s.createSnapshot(w.index, w.confState, w.data);
      return;
    case 'compact':
      s.compact(w.index);
      return;
  }
}
