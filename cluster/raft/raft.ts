// The Raft state machine (Ongaro & Ousterhout 2014; Ongaro's thesis 2014), shaped after etcd
// raft's raft.go: no I/O, no clock, no global randomness. Time is tick(); messages in are
// step(); everything the node wants done accumulates in `msgs`, the unstable log and
// `readStates`, which RawNode hands out as a Ready. Leader-only logic lives in leader.ts.
//
// Extensions over the paper, as in etcd: PreVote (thesis §9.6) so a rejoining node does not
// bump terms, CheckQuorum (§6.2) so a leader that lost its quorum steps down and followers
// ignore disruptive votes while they hear from a leader, leadership transfer (§3.10),
// ReadIndex (§6.4), and single-server membership changes applied when appended (§4.1).
import { ConfigLog, decodeConfChange } from './confchange.ts';
import { RaftLog } from './log.ts';
import { Progress } from './progress.ts';
import { voteResult } from './quorum.ts';
import type { VoteResult } from './quorum.ts';
import { ReadOnly } from './read-only.ts';
import type { Random } from './random.ts';
import type { Storage } from './storage.ts';
import { message, none } from './types.ts';
import type { ConfState, Entry, HardState, Message, MessageType, NodeId, ReadState, Snapshot, StateRole } from './types.ts';
import * as leader from './leader.ts';

export interface RaftConfig {
  /** This node's id; never empty. */
  id: NodeId;
  /** The persisted log, hard state and snapshot; read only by the core. */
  storage: Storage;
  /** Election-timeout jitter; seed it per node (a shared seed makes nodes time out together). */
  random: Random;
  /** Ticks without hearing from a leader before a follower campaigns (randomized in [n, 2n)). Default 10. */
  electionTicks?: number;
  /** Ticks between leader heartbeats; must be smaller than electionTicks. Default 1. */
  heartbeatTicks?: number;
  /**
   * Last index the application had applied before a restart. Default: the index of
   * storage.snapshot(), i.e. the application restarts from its latest snapshot.
   */
  applied?: number;
  /** Cap on entry payload bytes per append message (at least one entry is always sent). Default 1 MiB. */
  maxSizePerMsg?: number;
  /** Appends in flight per follower in the replicate state (flow control). Default 256. */
  maxInflightMsgs?: number;
  /**
   * Cap on entries appended but not yet committed at the leader; proposals beyond it are
   * dropped (backpressure when the leader cannot reach a quorum). Default 4096.
   */
  maxUncommittedEntries?: number;
  /** Cap on payload bytes of committed entries handed out per Ready. Default 64 MiB. */
  maxCommittedSizePerReady?: number;
  /** Default true. */
  preVote?: boolean;
  /** Default true. */
  checkQuorum?: boolean;
}

export type CampaignKind = 'pre-election' | 'election' | 'transfer';

/** The context of a vote request that leadership transfer forces past CheckQuorum's lease. */
export const campaignTransfer = 'transfer';

export class Raft {
  readonly id: NodeId;
  term = 0;
  vote: NodeId = none;
  lead: NodeId = none;
  role: StateRole = 'follower';
  readonly log: RaftLog;
  configLog: ConfigLog;
  voters: readonly NodeId[] = [];
  learners: readonly NodeId[] = [];
  /** Per-member replication state; only meaningful while leader. */
  progress = new Map<NodeId, Progress>();
  votes = new Map<NodeId, boolean>();
  msgs: Message[] = [];
  readStates: ReadState[] = [];
  readonly readOnly = new ReadOnly();
  /** Reads that arrived before this leader committed an entry of its term (§6.4 step 1). */
  pendingReadIndex: Message[] = [];
  leadTransferee: NodeId = none;
  /** Entries were appended or commit moved: broadcast appends when the next Ready is built. */
  pendingBroadcast = false;
  electionElapsed = 0;
  heartbeatElapsed = 0;
  randomizedElectionTimeout = 0;
  readonly electionTimeout: number;
  readonly heartbeatTimeout: number;
  readonly maxSizePerMsg: number;
  readonly maxInflight: number;
  readonly maxCommittedSize: number;
  readonly maxUncommitted: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly random: Random;

  constructor(c: RaftConfig) {
    if (typeof c.id !== 'string' || c.id === none) throw new Error('raft: config.id must be a non-empty string');
    this.id = c.id;
    this.electionTimeout = c.electionTicks ?? 10;
    this.heartbeatTimeout = c.heartbeatTicks ?? 1;
    if (!(this.heartbeatTimeout > 0 && this.electionTimeout > this.heartbeatTimeout)) {
      throw new Error('raft: need 0 < heartbeatTicks < electionTicks');
    }
    this.maxSizePerMsg = c.maxSizePerMsg ?? 1024 * 1024;
    this.maxInflight = c.maxInflightMsgs ?? 256;
    if (this.maxInflight < 1) throw new Error('raft: maxInflightMsgs must be at least 1');
    this.maxCommittedSize = c.maxCommittedSizePerReady ?? 64 * 1024 * 1024;
    this.maxUncommitted = c.maxUncommittedEntries ?? 4096;
    this.preVote = c.preVote ?? true;
    this.checkQuorum = c.checkQuorum ?? true;
    this.random = c.random;
    this.log = new RaftLog(c.storage, c.applied ?? c.storage.snapshot().metadata.index);
    const { hardState, confState } = c.storage.initialState();
    this.configLog = this.#loadConfigLog(c.storage, confState);
    this.#loadHardState(hardState);
    this.applyConfig(this.configLog.current());
    this.becomeFollower(this.term, none);
  }

  #loadConfigLog(storage: Storage, confState: ConfState): ConfigLog {
    const first = storage.firstIndex();
    const configLog = new ConfigLog(first - 1, confState);
    const last = storage.lastIndex();
    if (last >= first) {
      for (const e of storage.entries(first, last + 1, Infinity)) {
        if (e.type === 'conf-change') configLog.push(e.index, decodeConfChange(e.data).confState);
      }
    }
    return configLog;
  }

  #loadHardState(hs: HardState): void {
    if (hs.commit > this.log.lastIndex()) {
      throw new Error(`raft: stored commit ${hs.commit} is beyond the stored log (last index ${this.log.lastIndex()})`);
    }
    // A snapshot is committed by definition: a commit below it (say, a crash between writing
    // the snapshot and the hard state) is raised to it rather than refused.
    this.log.committed = Math.max(hs.commit, this.log.committed);
    // A crash may fall between a Ready's entries and its hard state when a storage writes
    // them separately, leaving entries of a term the hard state never reached. Their leader
    // held that term, so adopting it (with no vote cast in it) is safe and keeps the core's
    // invariant that no entry's term exceeds the node's.
    const logTerm = this.log.lastTerm();
    if (logTerm > hs.term) {
      this.term = logTerm;
      this.vote = none;
      return;
    }
    this.term = hs.term;
    this.vote = hs.vote;
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  /** Queues a message; the sender's term is stamped except on votes and forwarded requests. */
  send(m: Message): void {
    if (m.from === none) m.from = this.id;
    const t = m.type;
    if (t === 'vote' || t === 'pre-vote' || t === 'vote-resp' || t === 'pre-vote-resp') {
      if (m.term === 0) throw new Error(`raft: ${t} must carry a term`);
    } else if (t !== 'propose' && t !== 'read-index' && t !== 'transfer-leader') {
      m.term = this.term;
    }
    this.msgs.push(m);
  }

  /**
   * Whether this node may campaign: it is a voter in the configuration in force (the newest
   * in its log) or in the committed one. The second case is the removed leader of thesis
   * §4.2.2: a node whose uncommitted self-removal is in its log only must still campaign, or
   * the voters of the committed configuration, who need its vote, can never elect anyone.
   */
  promotable(): boolean {
    if (this.log.unstableSnapshot() !== undefined) return false;
    return this.voters.includes(this.id) || this.configLog.at(this.log.committed).voters.includes(this.id);
  }

  // ---- role transitions -------------------------------------------------------------------

  reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = none;
    }
    this.lead = none;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.electionTimeout + this.random.int(this.electionTimeout);
    this.leadTransferee = none;
    this.pendingBroadcast = false;
    this.votes.clear();
    const last = this.log.lastIndex();
    for (const [id, pr] of this.progress) this.progress.set(id, this.#newProgress(id, last, pr.isLearner));
    this.pendingReadIndex = [];
    this.readOnly.reset();
  }

  #newProgress(id: NodeId, last: number, isLearner: boolean): Progress {
    const pr = new Progress(last + 1, this.maxInflight, isLearner);
    // A new member counts as active so CheckQuorum does not fire before it could answer.
    pr.recentActive = true;
    if (id === this.id) pr.match = last;
    return pr;
  }

  becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.lead = lead;
    this.role = 'follower';
  }

  becomePreCandidate(): void {
    if (this.role === 'leader') throw new Error('raft: leader cannot become pre-candidate');
    // Pre-candidates keep their term and vote: PreVote changes nothing until it wins.
    this.votes.clear();
    this.lead = none;
    this.role = 'pre-candidate';
  }

  becomeCandidate(): void {
    if (this.role === 'leader') throw new Error('raft: leader cannot become candidate');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
  }

  becomeLeader(): void {
    if (this.role === 'follower') throw new Error('raft: follower cannot become leader');
    this.reset(this.term);
    this.lead = this.id;
    this.role = 'leader';
    const self = this.progress.get(this.id);
    if (self !== undefined) self.becomeReplicate();
    // §5.4.2 / §8: an entry of the new term lets the leader commit everything before it.
    leader.appendEntries(this, [{ index: 0, term: 0, type: 'normal', data: new Uint8Array(0) }]);
  }

  // ---- ticks ------------------------------------------------------------------------------

  tick(): void {
    if (this.role === 'leader') leader.tickHeartbeat(this);
    else this.#tickElection();
  }

  #tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  hup(transfer: boolean): void {
    if (this.role === 'leader' || !this.promotable()) return;
    // Leadership transfer skips PreVote: the leader asked for this election.
    this.campaign(transfer ? 'transfer' : this.preVote ? 'pre-election' : 'election');
  }

  campaign(kind: CampaignKind): void {
    let voteType: MessageType;
    let term: number;
    if (kind === 'pre-election') {
      this.becomePreCandidate();
      voteType = 'pre-vote';
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      voteType = 'vote';
      term = this.term;
    }
    if (this.poll(this.id, true) === 'won') {
      // A single-voter cluster wins at once.
      if (kind === 'pre-election') this.campaign('election');
      else this.becomeLeader();
      return;
    }
    const index = this.log.lastIndex();
    const logTerm = this.log.lastTerm();
    const context = kind === 'transfer' ? campaignTransfer : '';
    for (const id of this.voters) {
      if (id !== this.id) this.send(message({ type: voteType, to: id, term, index, logTerm, context }));
    }
  }

  poll(id: NodeId, granted: boolean): VoteResult {
    if (!this.votes.has(id)) this.votes.set(id, granted);
    return voteResult(this.voters, this.votes);
  }

  // ---- message dispatch -------------------------------------------------------------------

  /** Steps one message; false when it was a proposal or request that had to be dropped. */
  step(m: Message): boolean {
    if (m.term > this.term) {
      if (!this.#stepHigherTerm(m)) return true;
    } else if (m.term !== 0 && m.term < this.term) {
      this.#stepLowerTerm(m);
      return true;
    }
    switch (m.type) {
      case 'hup':
        this.hup(false);
        return true;
      case 'vote':
      case 'pre-vote':
        this.#handleVote(m);
        return true;
      default:
        if (this.role === 'leader') return leader.stepLeader(this, m);
        if (this.role === 'follower') return this.#stepFollower(m);
        return this.#stepCandidate(m);
    }
  }

  /** A message from a newer term; false when it must be ignored. */
  #stepHigherTerm(m: Message): boolean {
    if (m.type === 'vote' || m.type === 'pre-vote') {
      const force = m.context === campaignTransfer;
      const inLease = this.checkQuorum && this.lead !== none && this.electionElapsed < this.electionTimeout;
      // §6: a server that heard from a leader within the minimum election timeout neither
      // grants its vote nor updates its term; this keeps removed or partitioned nodes harmless.
      if (!force && inLease) return false;
    }
    if (m.type === 'pre-vote') return true; // never change term for a PreVote
    if (m.type === 'pre-vote-resp' && !m.reject) return true; // the term we asked for
    const fromLeader = m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot';
    const { electionElapsed, randomizedElectionTimeout, role } = this;
    this.becomeFollower(m.term, fromLeader ? m.from : none);
    if (m.type === 'vote' && role !== 'leader') {
      // Figure 2: the election timer restarts on hearing from a leader or on granting a vote
      // (#handleVote), not on a newer term alone. Otherwise a candidate whose log is behind,
      // which can never win, restarts the timer of the voter that can each time it tries, and
      // without PreVote the two keep timing out together (seen in the chaos soak: 300 rounds).
      // (A leader's counter measures CheckQuorum, not an election: it starts afresh.)
      this.electionElapsed = electionElapsed;
      this.randomizedElectionTimeout = randomizedElectionTimeout;
    }
    return true;
  }

  #stepLowerTerm(m: Message): void {
    if (m.type === 'heartbeat' || m.type === 'append' || m.type === 'snapshot') {
      // A stale leader (or one cut off while we moved on) learns our term and steps down
      // (paper §5.1: answer with the current term). Needed in every configuration: without
      // PreVote/CheckQuorum a learner, which never campaigns, whose term ran ahead of the
      // leader's would otherwise never be heard of again and stay stranded.
      this.send(message({ type: 'append-resp', to: m.from }));
    } else if (m.type === 'pre-vote') {
      this.send(message({ type: 'pre-vote-resp', to: m.from, term: this.term, reject: true }));
    }
  }

  #handleVote(m: Message): void {
    const canVote =
      this.vote === m.from ||
      (this.vote === none && this.lead === none) ||
      (m.type === 'pre-vote' && m.term > this.term);
    const respType: MessageType = m.type === 'vote' ? 'vote-resp' : 'pre-vote-resp';
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      // The response carries the request's term so a pre-candidate accepts it (etcd's note).
      this.send(message({ type: respType, to: m.from, term: m.term }));
      if (m.type === 'vote') {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send(message({ type: respType, to: m.from, term: this.term, reject: true }));
    }
  }

  #stepFollower(m: Message): boolean {
    switch (m.type) {
      case 'propose':
      case 'read-index':
      case 'transfer-leader':
        // Forward only our own requests: a forwarded one reaching a non-leader is dropped,
        // so two nodes with stale ideas of the leader cannot bounce it forever.
        if (this.lead === none || m.from !== this.id) return false;
        this.send({ ...m, to: this.lead });
        return true;
      case 'append':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppendEntries(m);
        return true;
      case 'heartbeat':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.#handleHeartbeat(m);
        return true;
      case 'snapshot':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.#handleSnapshot(m);
        return true;
      case 'timeout-now':
        this.hup(true);
        return true;
      case 'read-index-resp':
        this.readStates.push({ index: m.index, context: m.context });
        return true;
      default:
        return true;
    }
  }

  #stepCandidate(m: Message): boolean {
    const myResp: MessageType = this.role === 'pre-candidate' ? 'pre-vote-resp' : 'vote-resp';
    switch (m.type) {
      case 'propose':
      case 'read-index':
      case 'transfer-leader':
        return false;
      case 'append':
        this.becomeFollower(m.term, m.from);
        this.handleAppendEntries(m);
        return true;
      case 'heartbeat':
        this.becomeFollower(m.term, m.from);
        this.#handleHeartbeat(m);
        return true;
      case 'snapshot':
        this.becomeFollower(m.term, m.from);
        this.#handleSnapshot(m);
        return true;
      default:
        if (m.type !== myResp) return true;
        switch (this.poll(m.from, !m.reject)) {
          case 'won':
            if (this.role === 'pre-candidate') this.campaign('election');
            else this.becomeLeader();
            break;
          case 'lost':
            this.becomeFollower(this.term, none);
            break;
          default:
            break;
        }
        return true;
    }
  }

  // ---- follower side of replication -------------------------------------------------------

  handleAppendEntries(m: Message): void {
    if (m.index < this.log.committed) {
      this.send(message({ type: 'append-resp', to: m.from, index: this.log.committed }));
      return;
    }
    if (this.log.matchTerm(m.index, m.logTerm)) {
      const lastNew = m.index + m.entries.length;
      const conflict = this.log.findConflict(m.entries);
      if (conflict !== 0) {
        // A valid leader never conflicts with a committed entry (Leader Completeness).
        if (conflict <= this.log.committed) return;
        this.appendLog(m.entries.slice(conflict - m.index - 1));
      }
      this.log.commitTo(Math.min(m.commit, lastNew));
      this.send(message({ type: 'append-resp', to: m.from, index: lastNew }));
      return;
    }
    const hint = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
    this.send(message({ type: 'append-resp', to: m.from, index: m.index, reject: true, rejectHint: hint.index, logTerm: hint.term }));
  }

  #handleHeartbeat(m: Message): void {
    // The leader sends min(match, commit), so this never exceeds our log; a larger value can
    // only come from a broken peer and is ignored rather than trusted.
    if (m.commit <= this.log.lastIndex()) this.log.commitTo(m.commit);
    this.send(message({ type: 'heartbeat-resp', to: m.from, context: m.context }));
  }

  #handleSnapshot(m: Message): void {
    const snap = m.snapshot;
    if (snap === undefined) return;
    const index = this.restore(snap) ? this.log.lastIndex() : this.log.committed;
    this.send(message({ type: 'append-resp', to: m.from, index }));
  }

  /** Installs a leader's snapshot; false when our log already covers it. */
  restore(snap: Snapshot): boolean {
    const { index, term, confState } = snap.metadata;
    if (index <= this.log.committed || this.role !== 'follower') return false;
    if (this.log.matchTerm(index, term)) {
      // Our log already holds the snapshot's last entry: just fast-forward the commit.
      this.log.commitTo(index);
      return false;
    }
    this.log.restore(snap);
    this.configLog.reset(index, confState);
    this.applyConfig(confState);
    return true;
  }

  /** Appends to the log and adopts the newest configuration among the entries (§4.1). */
  appendLog(ents: readonly Entry[]): void {
    const first = ents[0];
    if (first === undefined) return;
    this.log.append(ents);
    let changed = this.configLog.truncateFrom(first.index);
    for (const e of ents) {
      if (e.type === 'conf-change') {
        this.configLog.push(e.index, decodeConfChange(e.data).confState);
        changed = true;
      }
    }
    if (changed) this.applyConfig(this.configLog.current());
  }

  /** Switches membership: progress for new members, none for removed ones. */
  applyConfig(cs: ConfState): void {
    this.voters = cs.voters;
    this.learners = cs.learners;
    const last = this.log.lastIndex();
    const members = new Set([...cs.voters, ...cs.learners]);
    for (const id of this.progress.keys()) if (!members.has(id)) this.progress.delete(id);
    for (const id of members) {
      const isLearner = !cs.voters.includes(id);
      const pr = this.progress.get(id);
      if (pr === undefined) this.progress.set(id, this.#newProgress(id, last, isLearner));
      else pr.isLearner = isLearner;
    }
    if (this.role === 'leader') leader.onConfigChanged(this);
  }
}
