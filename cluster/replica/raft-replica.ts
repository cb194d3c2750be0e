// The production replica: a Raft RawNode on LevelDB, driven by the shared Ready loop
// (ready-loop.ts) on a timer. A node of one is this same replica with itself as the only
// voter, never a separate mode (DESIGN.md): it elects itself at once on open, and each batch
// of proposals becomes one Ready, one atomic fsynced write, then applied (group commit).
//
// A failed write leaves LevelStorage as it was, so the replica recovers the way a restart
// would: it rebuilds the RawNode from storage (the state machine keeps everything applied)
// and campaigns again; the proposals of the lost Ready reject with the write's error. A state
// machine that throws stops the replica: the node must restart and replay.
import { randomBytes } from 'node:crypto';
import { seededRandom } from '../raft/random.ts';
import { RawNode } from '../raft/raw-node.ts';
import type { ConfChange } from '../raft/confchange.ts';
import type { Status } from '../raft/raw-node.ts';
import { decodeConfChange } from '../raft/confchange.ts';
import type { ConfState, Message, NodeId } from '../raft/types.ts';
import { LevelStorage } from '../storage/level-storage.ts';
import { NotLeaderError, ReplicaLoop } from './ready-loop.ts';
import type { Finished } from './ready-loop.ts';
import type { Proposed, Replica, StateMachine } from './state-machine.ts';

export type { Proposed, Replica, StateMachine } from './state-machine.ts';
export { NotLeaderError } from './ready-loop.ts';

/** The subset of LevelStorage the replica uses (lets a test inject a failing disk). */
export type ReplicaStorage = Pick<
  LevelStorage,
  'initialState' | 'hardState' | 'snapshot' | 'entries' | 'firstIndex' | 'lastIndex' | 'term' | 'save' | 'createSnapshot' | 'close'
>;

export interface RaftReplicaOptions<R> {
  /** LevelDB directory of the log (ignored when `storage` is given). */
  readonly dir: string;
  readonly stateMachine: StateMachine<R>;
  /** This node's persisted id (see node/node-id.ts). */
  readonly nodeId: NodeId;
  /** Membership of a brand-new log (default: this node alone; empty for a node that joins). */
  readonly bootstrap?: ConfState | undefined;
  /** Take a snapshot and compact the log after this many entries (default 1000). */
  readonly snapshotEvery?: number;
  readonly storage?: ReplicaStorage;
  /** Messages for peers; a node of one has none to send. */
  readonly send?: (messages: readonly Message[]) => void;
  /** A member's cluster address, recorded with its promotion to voter. */
  readonly addressOf?: (id: NodeId) => string | undefined;
  /** Milliseconds per Raft tick (default 100: elections after 1-2 s, heartbeats every 100 ms). */
  readonly tickMs?: number;
  /** Told about background failures that do not fail a proposal (snapshotting). */
  readonly onError?: (error: Error) => void;
  /** Each membership change as this node applies it (the transport learns addresses here). */
  readonly onConfChange?: (change: ConfChange, confState: ConfState) => void;
  /**
   * How long a proposal may wait to be applied before it is refused as "no quorum" (default
   * 10 s). It may still be applied later: callers retry with the same command id.
   */
  readonly proposalTimeoutMs?: number;
}

/** A proposal was appended but not committed in time: a majority of voters is out of reach. */
export class NoQuorumError extends Error {
  constructor(seconds: number, reachable: string) {
    super(
      `the change was not committed within ${seconds} s: ${reachable}. File transfers and logins go on from the local configuration; configuration changes wait until a majority of the voters is back (this one may still be applied then)`,
    );
    this.name = 'NoQuorumError';
  }
}

export class ReplicaFailedError extends Error {
  constructor(cause: unknown) {
    super('the replica stopped after its state machine failed to apply a persisted entry; restart the node (it will replay the log)', { cause });
    this.name = 'ReplicaFailedError';
  }
}

interface Waiter<R> {
  resolve(p: Proposed<R>): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

export class RaftReplica<R> implements Replica<R> {
  readonly #storage: ReplicaStorage;
  readonly #machine: StateMachine<R>;
  readonly #options: RaftReplicaOptions<R>;
  readonly #snapshotEvery: number;
  readonly #onError: (error: Error) => void;
  #loop: ReplicaLoop<R>;
  readonly #waiting = new Map<string, Waiter<R>>();
  #draining: Promise<void> | undefined;
  #again = false;
  #failed: Error | undefined;
  #closed = false;
  #timer: NodeJS.Timeout | undefined;

  private constructor(storage: ReplicaStorage, options: RaftReplicaOptions<R>) {
    this.#storage = storage;
    this.#machine = options.stateMachine;
    this.#options = options;
    this.#snapshotEvery = Math.max(1, options.snapshotEvery ?? 1000);
    this.#onError = options.onError ?? (() => undefined);
    const snapshot = storage.snapshot();
    const { index, term, confState } = snapshot.metadata;
    if (index > 0) this.#machine.restore(snapshot.data, index, term);
    this.#loop = this.#newLoop(index, confState);
  }

  /**
   * Opens the log, restores the latest snapshot and, as a node of one, elects itself and
   * replays every entry after the snapshot before resolving.
   */
  static async open<R>(options: RaftReplicaOptions<R>): Promise<RaftReplica<R>> {
    const storage = options.storage ?? (await LevelStorage.open(options.dir, options.bootstrap ?? { voters: [options.nodeId], learners: [] }));
    try {
      const replica = new RaftReplica(storage, options);
      replica.#campaignIfAlone();
      await replica.#drain();
      if (replica.#failed) throw replica.#failed;
      replica.#timer = setInterval(() => replica.#tick(), options.tickMs ?? 100);
      replica.#timer.unref();
      return replica;
    } catch (error) {
      await storage.close();
      throw error;
    }
  }

  appliedIndex(): number {
    return this.#loop.applied;
  }

  status(): Status {
    return this.#loop.status();
  }

  /** Appends `data` and resolves once this node applied it, with the state machine's result. */
  propose(data: Uint8Array): Promise<Proposed<R>> {
    if (this.#closed) return Promise.reject(new Error('the replica is closed'));
    if (this.#failed) return Promise.reject(new ReplicaFailedError(this.#failed));
    let id: string;
    try {
      id = this.#loop.propose(data);
    } catch (error) {
      if (!(error instanceof NotLeaderError)) return Promise.reject(error as Error);
      const voters = this.#loop.status().config.voters.length;
      return Promise.reject(
        new NotLeaderError(
          error.leader,
          `configuration changes need the cluster's leader, and this node knows of none: a majority of the ${voters} voter(s) may be down or cut off, or an election is under way. File transfers and logins go on from the local configuration`,
        ),
      );
    }
    const timeoutMs = this.#options.proposalTimeoutMs ?? 10_000;
    const result = new Promise<Proposed<R>>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (!this.#waiting.delete(id)) return;
        reject(new NoQuorumError(timeoutMs / 1000, this.#reachability()));
      }, timeoutMs);
      timer.unref();
      this.#waiting.set(id, { resolve, reject, timer });
    });
    void this.#drain();
    return result;
  }

  /**
   * A one-server membership change (join and remove build on it). true: appended here or
   * forwarded to the leader; the change takes effect when this node applies it (onConfChange).
   */
  proposeConfChange(change: ConfChange): boolean {
    const ok = this.#loop.proposeConfChange(change);
    void this.#drain();
    return ok;
  }

  /** A message from a peer (the cluster transport delivers here). */
  step(message: Message): boolean {
    if (this.#closed || this.#failed) return false;
    const ok = this.#loop.raw.step(message);
    void this.#drain();
    return ok;
  }

  /** The transport could not deliver to `id`. */
  reportUnreachable(id: NodeId): void {
    if (this.#closed) return;
    this.#loop.raw.reportUnreachable(id);
  }

  /** The snapshot sent to `id` went out (or failed). */
  reportSnapshot(id: NodeId, ok: boolean): void {
    if (this.#closed) return;
    this.#loop.raw.reportSnapshot(id, ok);
    void this.#drain();
  }

  /** What a "no quorum" refusal says about who is reachable. */
  #reachability(): string {
    const st = this.#loop.status();
    const voters = st.config.voters;
    if (st.role !== 'leader') return st.lead === '' ? `this node knows of no leader among ${voters.length} voter(s)` : `the leader ${st.lead} did not commit it`;
    const active = [...(st.progress ?? new Map())].filter(([id, pr]) => voters.includes(id) && (pr.recentActive || id === st.id)).length;
    return `the leader reaches ${active} of ${voters.length} voters, and a majority is ${Math.floor(voters.length / 2) + 1}`;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopTimer();
    await this.#draining;
    this.#rejectAll(new Error('the replica closed before the proposal was applied'));
    await this.#storage.close();
  }

  #newLoop(applied: number, confState: ConfState): ReplicaLoop<R> {
    const raw = new RawNode({ id: this.#options.nodeId, storage: this.#storage, random: seededRandom(randomBytes(4).readUInt32LE(0)), applied, heartbeatTicks: 1, electionTicks: 10 });
    return new ReplicaLoop({
      raw,
      machine: this.#machine,
      send: this.#options.send ?? (() => undefined),
      applied,
      confState,
      incarnation: randomBytes(6).toString('base64url'),
    });
  }

  /** The only voter wins at once: no need to wait out an election timeout. */
  #campaignIfAlone(): void {
    const { voters } = this.#loop.status().config;
    if (voters.length === 1 && voters[0] === this.#options.nodeId) this.#loop.raw.campaign();
  }

  #tick(): void {
    if (this.#closed || this.#failed) return;
    this.#loop.raw.tick();
    this.#promoteCaughtUpLearners();
    void this.#drain();
  }

  /**
   * A joining node is added as a learner and made a voter once it holds everything committed
   * (thesis §4.2.1: a new server catches up before it counts toward a majority).
   */
  #promoteCaughtUpLearners(): void {
    const st = this.#loop.status();
    if (st.role !== 'leader' || st.progress === undefined) return;
    for (const [id, pr] of st.progress) {
      if (!pr.isLearner || pr.match < st.commit || !pr.recentActive) continue;
      if (this.#loop.proposeConfChange({ type: 'add-voter', nodeId: id, context: this.#options.addressOf?.(id) })) return;
    }
  }

  #stopTimer(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Handles Readies until there are none; one drain at a time, re-run if asked meanwhile. */
  #drain(): Promise<void> {
    if (this.#draining) {
      this.#again = true;
      return this.#draining;
    }
    const run = async (): Promise<void> => {
      try {
        do {
          this.#again = false;
          await this.#handleReadies();
        } while (this.#again && !this.#failed);
      } finally {
        this.#draining = undefined;
      }
    };
    this.#draining = run();
    return this.#draining;
  }

  async #handleReadies(): Promise<void> {
    for (let work = this.#loop.take(); work !== undefined; work = this.#loop.take()) {
      try {
        await this.#storage.save({ snapshot: work.snapshot, entries: work.entries, hardState: work.hardState }, { sync: work.sync });
      } catch (error) {
        this.#recoverFromWriteFailure(error as Error, work.entries.length);
        return;
      }
      let finished: Finished<R>;
      try {
        finished = this.#loop.finish(work);
      } catch (error) {
        this.#failed = error as Error;
        this.#stopTimer();
        this.#rejectAll(new ReplicaFailedError(error));
        return;
      }
      this.#settle(finished);
      await this.#maybeSnapshot();
    }
  }

  #settle(finished: Finished<R>): void {
    for (const a of finished.applied) {
      if (a.logEntry.type === 'conf-change') this.#tellConfChange(a.logEntry.data);
      if (a.proposalId === undefined) continue;
      const waiter = this.#waiting.get(a.proposalId);
      if (waiter === undefined) continue;
      this.#waiting.delete(a.proposalId);
      clearTimeout(waiter.timer);
      waiter.resolve({ index: a.logEntry.index, term: a.logEntry.term, result: a.result });
    }
    // A leader that lost office may still see its entries committed by the next one, or not:
    // the outcome is unknown, so the caller retries (config commands carry ids: once only).
    if (finished.softState !== undefined && finished.softState.role !== 'leader' && this.#waiting.size > 0) {
      const voters = this.#loop.status().config.voters.length;
      this.#rejectAll(
        new NotLeaderError(
          finished.softState.lead,
          `this node stopped leading before the change was committed (a majority of the ${voters} voter(s) may be down or cut off; the change may still be applied once they are back). File transfers and logins go on from the local configuration`,
        ),
      );
    }
  }

  #recoverFromWriteFailure(error: Error, lostEntries: number): void {
    // Nothing of the failed Ready reached the store or the state machine; the RawNode still
    // believes it did. Rebuild it from storage, as a restart would, and elect again.
    this.#onError(new Error(`the config log could not be written (${error.message}); ${lostEntries} entries not persisted`, { cause: error }));
    this.#rejectAll(error);
    this.#loop = this.#newLoop(this.#loop.applied, this.#loop.confState);
    // Retried by the next tick or proposal, not at once: a full disk must not spin the loop.
    this.#campaignIfAlone();
  }

  #tellConfChange(data: Uint8Array): void {
    try {
      const record = decodeConfChange(data);
      this.#options.onConfChange?.(record.change, record.confState);
    } catch (error) {
      this.#onError(error as Error);
    }
  }

  #rejectAll(error: Error): void {
    const waiting = [...this.#waiting.values()];
    this.#waiting.clear();
    for (const w of waiting) {
      clearTimeout(w.timer);
      w.reject(error);
    }
  }

  /** Snapshots and compacts once `snapshotEvery` entries have been applied since the last one. */
  async #maybeSnapshot(): Promise<void> {
    const since = this.#loop.applied - this.#storage.snapshot().metadata.index;
    if (since < this.#snapshotEvery) return;
    const { index, confState, data } = this.#loop.snapshotRequest();
    try {
      await this.#storage.createSnapshot(index, confState, data, { compact: true });
    } catch (error) {
      // The log still holds everything, so nothing is lost; the next batch retries.
      this.#onError(error as Error);
    }
  }
}
