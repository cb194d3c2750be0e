// The public face of the Raft core, after etcd raft's rawnode.go. The caller owns the loop:
//
//   1. call tick() at a fixed interval, step() for every message received, and propose(),
//      proposeConfChange(), readIndex(), transferLeadership() on behalf of clients;
//   2. when hasReady(), take ready() and handle it IN THIS ORDER:
//      a. persist: snapshot (if any) first, then entries (replacing any conflicting suffix),
//         then hardState; durably (written and fsynced) when ready.mustSync. Writing all three
//         as one atomic batch is the contract to aim for (cluster/storage's LevelStorage
//         does); the core also accepts the states a crash between the parts leaves behind
//         (entries without the hard state that came with them), so a storage that writes the
//         parts separately stays correct;
//      b. only then send ready.messages (PERSIST BEFORE SEND). What must be durable before
//         they leave, because each message promises it:
//           - a vote (vote-resp granting): the term and vote of hardState, or a crash lets the
//             node vote twice in one term;
//           - an append acknowledgement (append-resp): the entries up to the index it names,
//             or the leader counts a copy toward commit that a power loss then erases;
//           - a snapshot acknowledgement (the append-resp answering a snapshot): the snapshot,
//             or the leader compacts past it and the node, after a power loss, comes back with
//             its old log and commits an entry it had replaced;
//           - the term of every message the node sends: hardState.term.
//         mustSync is true exactly when any of these is in the Ready. A hardState that only
//         moves commit need not be fsynced: commit is recomputed from the leader after a
//         restart. A snapshot the application takes for compaction is its own write and
//         must be durable before the log entries it replaces are dropped;
//      c. install ready.snapshot in the application, then apply ready.committedEntries in
//         order (skip 'normal' entries with empty data: leaders append one per term); a
//         'conf-change' entry's data decodes with decodeConfChange() and its confState is the
//         membership to record with snapshots taken at or after that index;
//      d. serve ready.readStates once the application has applied up to each index;
//   3. call advance().
// Snapshots for compaction are the application's: take one at an applied index and give it to
// the storage (MemoryStorage.createSnapshot + compact); the core sends it to lagging followers.
import { encodeConfChange } from './confchange.ts';
import type { ConfChange } from './confchange.ts';
import { flushBroadcast } from './leader.ts';
import { Raft } from './raft.ts';
import type { RaftConfig } from './raft.ts';
import { isLocalMessage, message, sameConfState } from './types.ts';
import type { ConfState, Entry, HardState, Message, NodeId, ReadState, Snapshot, SoftState, StateRole } from './types.ts';
import { validateMessage } from './validate.ts';

/** Everything the core wants done; see the loop at the top of this file for the order. */
export interface Ready {
  /** Set when the role or the known leader changed. Never persisted. */
  readonly softState: SoftState | undefined;
  /** Set when term, vote or commit changed: persist before sending `messages`. */
  readonly hardState: HardState | undefined;
  /** New log entries: persist before sending `messages`. */
  readonly entries: readonly Entry[];
  /** A snapshot from the leader: persist and install before applying `committedEntries`. */
  readonly snapshot: Snapshot | undefined;
  /** Committed entries to apply, in order (they are in storage or in `entries` above). */
  readonly committedEntries: readonly Entry[];
  /** Messages to send after persisting; each may be dropped, delayed or reordered safely. */
  readonly messages: readonly Message[];
  /** ReadIndex answers: serve each once the application has applied up to its index. */
  readonly readStates: readonly ReadState[];
  /**
   * Whether the persist step must be durable (fsync) before sending: new entries, a snapshot,
   * or a new term or vote. Only a commit-index change may stay unsynced.
   */
  readonly mustSync: boolean;
}

export interface ProgressStatus {
  readonly match: number;
  readonly next: number;
  readonly state: 'probe' | 'replicate' | 'snapshot';
  readonly isLearner: boolean;
  readonly recentActive: boolean;
}

export interface Status {
  readonly id: NodeId;
  readonly role: StateRole;
  readonly term: number;
  readonly vote: NodeId;
  readonly lead: NodeId;
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
  /** Membership in force: the newest configuration in the log, committed or not (§4.1). */
  readonly config: ConfState;
  readonly leadTransferee: NodeId;
  /** Per-member replication state, only on the leader. */
  readonly progress: ReadonlyMap<NodeId, ProgressStatus> | undefined;
}

interface Pending {
  lastEntry: Entry | undefined;
  snapshotIndex: number;
  lastCommitted: number;
}

export class RawNode {
  readonly #raft: Raft;
  #prevSoft: SoftState;
  #prevHard: HardState;
  #pending: Pending | undefined;

  constructor(config: RaftConfig) {
    this.#raft = new Raft(config);
    this.#prevSoft = this.#softState();
    this.#prevHard = this.#raft.hardState();
  }

  get id(): NodeId {
    return this.#raft.id;
  }

  /** Advances logical time by one tick (election and heartbeat timeouts count ticks). */
  tick(): void {
    this.#raft.tick();
  }

  /** Starts an election now (PreVote first when enabled). */
  campaign(): void {
    this.#raft.step(message({ type: 'hup', from: this.#raft.id }));
  }

  /**
   * Proposes `data` for the log. true: appended (on the leader) or forwarded to the known
   * leader; it may still be lost. false: dropped now (no leader known, or a transfer runs).
   * The application learns of success only by seeing the entry committed.
   */
  propose(data: Uint8Array): boolean {
    return this.#raft.step(message({ type: 'propose', from: this.#raft.id, entries: [{ index: 0, term: 0, type: 'normal', data }] }));
  }

  /**
   * Proposes a one-server membership change. The leader refuses it (false, or a silent drop
   * when forwarded) while another change is uncommitted, before it committed an entry of its
   * term, during a leadership transfer, when the change is invalid (removing the last voter,
   * changing nothing), or when it promotes a node that is not a caught-up learner: add a node
   * with 'add-learner', wait until status().progress shows its match at the commit index, then
   * 'add-voter'. The change takes effect on each node when appended to its log (thesis §4.1).
   */
  proposeConfChange(cc: ConfChange): boolean {
    const data = encodeConfChange({ change: cc, confState: { voters: [], learners: [] } });
    return this.#raft.step(message({ type: 'propose', from: this.#raft.id, entries: [{ index: 0, term: 0, type: 'conf-change', data }] }));
  }

  /**
   * Steps a message received from a peer. Malformed messages and local-only types are refused
   * (false) without changing any state: the network is hostile. Raft trusts `from` and `term`:
   * authenticating peers (mutual TLS, member ids bound to certificates) is the transport's job.
   */
  step(m: Message): boolean {
    if (isLocalMessage(m.type) || validateMessage(m) !== undefined) return false;
    if (m.from === this.#raft.id) return false;
    return this.#raft.step(m);
  }

  /** Why a message would be refused by step(), or undefined when it is well formed. */
  static checkMessage(m: Message): string | undefined {
    return validateMessage(m);
  }

  /** Asks the leader to hand leadership to `transferee` (thesis §3.10); best effort. */
  transferLeadership(transferee: NodeId): void {
    this.#raft.step(message({ type: 'transfer-leader', from: this.#raft.id, context: transferee }));
  }

  /**
   * Requests a linearizable read point (ReadIndex, thesis §6.4: one heartbeat round trip).
   * There are deliberately no lease-based reads: a lease (§6.4.1) is only safe if clocks drift
   * apart by less than the lease's margin, and nodes here are refused at join only beyond a
   * skew limit much larger than an election timeout, so a lease could serve stale reads. A ReadState with this context appears in a later
   * Ready if the leader confirms its leadership; otherwise nothing does, and the caller retries
   * after a timeout. Contexts must be unique across the cluster (prefix them with the node id).
   */
  readIndex(context: string): void {
    if (context === '') throw new Error('raft: readIndex needs a non-empty context');
    this.#raft.step(message({ type: 'read-index', from: this.#raft.id, context }));
  }

  /** The transport could not deliver to `id`: stop pipelining to it until it answers. */
  reportUnreachable(id: NodeId): void {
    this.#raft.step(message({ type: 'unreachable', from: id }));
  }

  /** The snapshot sent to `id` was delivered (ok) or failed; resumes replication either way. */
  reportSnapshot(id: NodeId, ok: boolean): void {
    this.#raft.step(message({ type: 'snap-status', from: id, reject: !ok }));
  }

  hasReady(): boolean {
    const r = this.#raft;
    flushBroadcast(r);
    if (r.msgs.length > 0 || r.readStates.length > 0) return true;
    if (r.log.unstableEntries().length > 0 || r.log.unstableSnapshot() !== undefined) return true;
    if (r.log.hasNextCommittedEntries()) return true;
    const soft = this.#softState();
    if (soft.lead !== this.#prevSoft.lead || soft.role !== this.#prevSoft.role) return true;
    return !sameHardState(r.hardState(), this.#prevHard);
  }

  /** The next batch of work; call advance() after handling it, before the next ready(). */
  ready(): Ready {
    if (this.#pending !== undefined) throw new Error('raft: ready() called again before advance()');
    const r = this.#raft;
    flushBroadcast(r);
    const soft = this.#softState();
    const hard = r.hardState();
    const entries = r.log.unstableEntries().slice();
    const snapshot = r.log.unstableSnapshot();
    const committedEntries = r.log.nextCommittedEntries(r.maxCommittedSize);
    const softChanged = soft.lead !== this.#prevSoft.lead || soft.role !== this.#prevSoft.role;
    const hardChanged = !sameHardState(hard, this.#prevHard);
    const rd: Ready = {
      softState: softChanged ? soft : undefined,
      hardState: hardChanged ? hard : undefined,
      entries,
      snapshot,
      committedEntries,
      messages: r.msgs,
      readStates: r.readStates,
      mustSync: entries.length > 0 || snapshot !== undefined || hard.term !== this.#prevHard.term || hard.vote !== this.#prevHard.vote,
    };
    r.msgs = [];
    r.readStates = [];
    this.#prevSoft = soft;
    this.#prevHard = hard;
    const lastCommitted = committedEntries[committedEntries.length - 1];
    this.#pending = {
      lastEntry: entries[entries.length - 1],
      snapshotIndex: snapshot?.metadata.index ?? 0,
      lastCommitted: lastCommitted?.index ?? 0,
    };
    return rd;
  }

  /** The last Ready was persisted, sent and applied. */
  advance(): void {
    const p = this.#pending;
    if (p === undefined) throw new Error('raft: advance() without a ready()');
    this.#pending = undefined;
    const log = this.#raft.log;
    if (p.lastEntry !== undefined) log.stableTo(p.lastEntry.index, p.lastEntry.term);
    if (p.snapshotIndex > 0) {
      log.stableSnapTo(p.snapshotIndex);
      if (p.snapshotIndex > log.applied) log.applied = p.snapshotIndex;
    }
    if (p.lastCommitted > 0) log.appliedTo(p.lastCommitted);
  }

  status(): Status {
    const r = this.#raft;
    let progress: Map<NodeId, ProgressStatus> | undefined;
    if (r.role === 'leader') {
      progress = new Map();
      for (const [id, pr] of r.progress) {
        progress.set(id, { match: pr.match, next: pr.next, state: pr.state, isLearner: pr.isLearner, recentActive: pr.recentActive });
      }
    }
    return {
      id: r.id,
      role: r.role,
      term: r.term,
      vote: r.vote,
      lead: r.lead,
      commit: r.log.committed,
      applied: r.log.applied,
      lastIndex: r.log.lastIndex(),
      config: { voters: r.voters, learners: r.learners },
      leadTransferee: r.leadTransferee,
      progress,
    };
  }

  /** Term of log entry `index`, or -1 when compacted or absent (for checkers and tools). */
  termAt(index: number): number {
    return this.#raft.log.term(index);
  }

  /** Whether `config` is the membership in force (for tests and the join workflow). */
  hasConfig(config: ConfState): boolean {
    return sameConfState({ voters: this.#raft.voters, learners: this.#raft.learners }, config);
  }

  #softState(): SoftState {
    return { lead: this.#raft.lead, role: this.#raft.role };
  }
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

