// A cluster of one: the same propose -> persist -> commit -> apply path the Raft replica takes,
// with the quorum being this node alone. An entry is durable (fsynced) before it is applied and
// before its proposal resolves; a restart restores the latest snapshot and replays the log
// after it, so the state machine ends where it was.
import type { ConfState, Entry, HardState } from '../raft/types.ts';
import { LevelStorage } from '../storage/level-storage.ts';
import type { Proposed, Replica, StateMachine } from './state-machine.ts';

export type { Proposed, Replica, StateMachine } from './state-machine.ts';

/** The subset of LevelStorage the replica uses (lets a test inject a failing disk). */
export type ReplicaStorage = Pick<
  LevelStorage,
  'hardState' | 'snapshot' | 'entries' | 'firstIndex' | 'lastIndex' | 'term' | 'save' | 'createSnapshot' | 'close'
>;

export interface SingleNodeOptions<R> {
  /** LevelDB directory of the log (ignored when `storage` is given). */
  readonly dir: string;
  readonly stateMachine: StateMachine<R>;
  /** Take a snapshot and compact the log after this many entries (default 1000). */
  readonly snapshotEvery?: number;
  readonly nodeId?: string;
  readonly storage?: ReplicaStorage;
  /** Told about background failures that do not fail a proposal (snapshotting). */
  readonly onError?: (error: Error) => void;
}

export class ReplicaFailedError extends Error {
  constructor(cause: unknown) {
    super('the replica stopped after its state machine failed to apply a persisted entry; restart the node (it will replay the log)', { cause });
    this.name = 'ReplicaFailedError';
  }
}

export class SingleNodeReplica<R> implements Replica<R> {
  readonly #storage: ReplicaStorage;
  readonly #machine: StateMachine<R>;
  readonly #snapshotEvery: number;
  readonly #confState: ConfState;
  readonly #onError: (error: Error) => void;
  #hardState: HardState;
  #applied = 0;
  #queue: Promise<unknown> = Promise.resolve();
  #failed: Error | undefined;
  #closed = false;

  private constructor(storage: ReplicaStorage, options: SingleNodeOptions<R>, hardState: HardState, confState: ConfState) {
    this.#storage = storage;
    this.#machine = options.stateMachine;
    this.#snapshotEvery = Math.max(1, options.snapshotEvery ?? 1000);
    this.#onError = options.onError ?? (() => undefined);
    this.#hardState = hardState;
    this.#confState = confState;
  }

  static async open<R>(options: SingleNodeOptions<R>): Promise<SingleNodeReplica<R>> {
    const nodeId = options.nodeId ?? 'local';
    const confState: ConfState = { voters: [nodeId], learners: [] };
    const storage = options.storage ?? (await LevelStorage.open(options.dir, confState));
    try {
      // A restarted node of one wins the election of the next term at once (Raft §5.2).
      const previous = storage.hardState();
      const hardState: HardState = { term: previous.term + 1, vote: nodeId, commit: previous.commit };
      await storage.save({ hardState });
      const replica = new SingleNodeReplica(storage, options, hardState, storage.snapshot().metadata.confState);
      replica.#recover();
      return replica;
    } catch (error) {
      await storage.close();
      throw error;
    }
  }

  /** Restores the snapshot, then applies every entry after it: all of them are committed. */
  #recover(): void {
    const snapshot = this.#storage.snapshot();
    const { index, term } = snapshot.metadata;
    if (index > 0) this.#machine.restore(snapshot.data, index, term);
    this.#applied = index;
    const last = this.#storage.lastIndex();
    if (last > index) {
      for (const entry of this.#storage.entries(index + 1, last + 1)) this.#applyOne(entry);
    }
  }

  appliedIndex(): number {
    return this.#applied;
  }

  /** Persists `data` as the next entry, applies it, and resolves with the apply result. */
  propose(data: Uint8Array): Promise<Proposed<R>> {
    const run = () => this.#proposeNow(data);
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  async #proposeNow(data: Uint8Array): Promise<Proposed<R>> {
    if (this.#closed) throw new Error('the replica is closed');
    if (this.#failed) throw new ReplicaFailedError(this.#failed);
    const index = this.#storage.lastIndex() + 1;
    const entry: Entry = { index, term: this.#hardState.term, type: 'normal', data };
    const hardState: HardState = { ...this.#hardState, commit: index };
    // Persisted and committed in one batch; if it throws, nothing was written or applied.
    await this.#storage.save({ entries: [entry], hardState });
    this.#hardState = hardState;
    const result = this.#applyOne(entry);
    await this.#maybeSnapshot();
    return { index, term: entry.term, result };
  }

  #applyOne(entry: Entry): R {
    try {
      const result = this.#machine.apply(entry);
      this.#applied = entry.index;
      return result;
    } catch (error) {
      this.#failed = error as Error;
      throw new ReplicaFailedError(error);
    }
  }

  /** Snapshots and compacts once `snapshotEvery` entries have been applied since the last one. */
  async #maybeSnapshot(): Promise<boolean> {
    const since = this.#applied - this.#storage.snapshot().metadata.index;
    if (since < this.#snapshotEvery) return false;
    try {
      await this.#storage.createSnapshot(this.#applied, this.#confState, this.#machine.snapshot(), { compact: true });
      return true;
    } catch (error) {
      // The log still holds everything, so nothing is lost; the next proposal retries.
      this.#onError(error as Error);
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue;
    await this.#storage.close();
  }
}
