// Leader behaviour: proposals, replication with flow control, commitment, heartbeats,
// CheckQuorum, ReadIndex, leadership transfer and membership changes. Functions over the Raft
// object (raft.ts) rather than methods, to keep each file about one concept.
import { applyConfChange, decodeConfChange, encodeConfChange } from './confchange.ts';
import { noTerm } from './log.ts';
import type { Progress } from './progress.ts';
import { committedIndex, quorumSatisfies } from './quorum.ts';
import type { Raft } from './raft.ts';
import { CompactedError } from './storage.ts';
import { message, none } from './types.ts';
import type { Entry, Message, NodeId } from './types.ts';

/** Appends entries at the leader's term; the leader's own copy counts once persisted (see RawNode). */
export function appendEntries(r: Raft, ents: readonly Entry[]): void {
  let index = r.log.lastIndex();
  const stamped = ents.map((e) => ({ index: ++index, term: r.term, type: e.type, data: e.data }));
  r.appendLog(stamped);
  // Safe to count before the disk write: the caller persists a Ready's entries before it sends
  // the Ready's messages, and no commit is visible outside before that Ready is handled.
  r.progress.get(r.id)?.maybeUpdate(r.log.lastIndex());
  maybeCommit(r);
  r.pendingBroadcast = true;
}

/** Advances commit to the quorum's match index if that entry is of the current term (§5.4.2). */
export function maybeCommit(r: Raft): boolean {
  const index = committedIndex(r.voters, (id) => r.progress.get(id)?.match ?? 0);
  if (!r.log.maybeCommit(index, r.term)) return false;
  r.pendingBroadcast = true;
  releasePendingReadIndex(r);
  // §4.2.2: a leader removed from the voters steps down once the change is committed.
  if (!r.voters.includes(r.id) && r.log.committed >= r.configLog.currentIndex()) r.becomeFollower(r.term, none);
  return true;
}

export function committedEntryInCurrentTerm(r: Raft): boolean {
  return r.log.term(r.log.committed) === r.term;
}

export function onConfigChanged(r: Raft): void {
  if (r.leadTransferee !== none && !r.voters.includes(r.leadTransferee)) r.leadTransferee = none;
  // The quorum changed: what is committed may have changed with it.
  maybeCommit(r);
  if (r.role === 'leader') r.pendingBroadcast = true;
}

export function tickHeartbeat(r: Raft): void {
  r.heartbeatElapsed++;
  r.electionElapsed++;
  if (r.electionElapsed >= r.electionTimeout) {
    r.electionElapsed = 0;
    if (r.checkQuorum) checkQuorum(r);
    // A transfer that did not finish within an election timeout is abandoned.
    if (r.role === 'leader') r.leadTransferee = none;
  }
  if (r.role !== 'leader') return;
  for (const pr of r.progress.values()) {
    // A snapshot message may have been lost: fall back to probing, which resends it.
    if (pr.state === 'snapshot' && ++pr.snapshotTicks >= r.electionTimeout) pr.becomeProbe();
  }
  if (r.heartbeatElapsed >= r.heartbeatTimeout) {
    r.heartbeatElapsed = 0;
    bcastHeartbeat(r, r.readOnly.lastPendingContext());
  }
}

/** §6.2: step down unless a quorum was heard from during the last election timeout. */
function checkQuorum(r: Raft): void {
  const active = quorumSatisfies(r.voters, (id) => id === r.id || r.progress.get(id)?.recentActive === true);
  for (const [id, pr] of r.progress) if (id !== r.id) pr.recentActive = false;
  if (!active) r.becomeFollower(r.term, none);
}

/** Sends pending appends to every follower (batched: once per Ready, not once per proposal). */
export function flushBroadcast(r: Raft): void {
  if (!r.pendingBroadcast || r.role !== 'leader') return;
  r.pendingBroadcast = false;
  for (const id of r.progress.keys()) if (id !== r.id) maybeSendAppend(r, id, true);
}

/** Sends the next append to `to` if flow control allows; true when a message went out. */
export function maybeSendAppend(r: Raft, to: NodeId, sendIfEmpty: boolean): boolean {
  const pr = r.progress.get(to);
  if (pr === undefined || to === r.id || pr.isPaused()) return false;
  const prevIndex = pr.next - 1;
  const prevTerm = r.log.term(prevIndex);
  if (prevTerm === noTerm) return maybeSendSnapshot(r, to, pr);
  let entries: Entry[] = [];
  const last = r.log.lastIndex();
  if (pr.next <= last) {
    try {
      entries = r.log.slice(pr.next, last + 1, r.maxSizePerMsg);
    } catch (err) {
      if (err instanceof CompactedError) return maybeSendSnapshot(r, to, pr);
      throw err;
    }
  }
  if (entries.length === 0 && !sendIfEmpty) return false;
  r.send(message({ type: 'append', to, index: prevIndex, logTerm: prevTerm, entries, commit: r.log.committed }));
  pr.sentEntries(entries.length);
  return true;
}

function maybeSendSnapshot(r: Raft, to: NodeId, pr: Progress): boolean {
  // Only to a follower that answers: a snapshot can be large.
  if (!pr.recentActive) return false;
  const snapshot = r.log.snapshot();
  if (snapshot.metadata.index === 0) return false;
  r.send(message({ type: 'snapshot', to, snapshot }));
  pr.becomeSnapshot(snapshot.metadata.index);
  return true;
}

function bcastHeartbeat(r: Raft, context: string): void {
  for (const [id, pr] of r.progress) {
    if (id === r.id) continue;
    // Never more than the follower has matched: it may not have the entries yet.
    r.send(message({ type: 'heartbeat', to: id, commit: Math.min(pr.match, r.log.committed), context }));
  }
}

export function stepLeader(r: Raft, m: Message): boolean {
  switch (m.type) {
    case 'beat':
      bcastHeartbeat(r, r.readOnly.lastPendingContext());
      return true;
    case 'check-quorum':
      checkQuorum(r);
      return true;
    case 'propose':
      return propose(r, m);
    case 'read-index':
      readIndex(r, m);
      return true;
    case 'transfer-leader':
      transferLeader(r, m.context);
      return true;
    default:
      break;
  }
  const pr = r.progress.get(m.from);
  if (pr === undefined) return true;
  switch (m.type) {
    case 'append-resp':
      handleAppendResp(r, m, pr);
      break;
    case 'heartbeat-resp':
      handleHeartbeatResp(r, m, pr);
      break;
    case 'snap-status':
      if (pr.state !== 'snapshot') break;
      if (m.reject) pr.pendingSnapshot = 0;
      pr.becomeProbe();
      // Wait for the follower's answer (or the next heartbeat) before the next append.
      pr.probeSent = true;
      break;
    case 'unreachable':
      if (pr.state === 'replicate') pr.becomeProbe();
      break;
    default:
      break;
  }
  return true;
}

function propose(r: Raft, m: Message): boolean {
  // A leader that removed itself keeps leading only until the change commits; no new work.
  if (!r.progress.has(r.id) || r.leadTransferee !== none || m.entries.length === 0) return false;
  const uncommitted = r.log.lastIndex() - r.log.committed;
  if (uncommitted > 0 && uncommitted + m.entries.length > r.maxUncommitted) return false;
  const ents: Entry[] = [];
  for (const e of m.entries) {
    if (e.type !== 'conf-change') {
      ents.push(e);
      continue;
    }
    const data = validateConfChange(r, e.data, ents);
    if (data === undefined) return false;
    ents.push({ index: 0, term: 0, type: 'conf-change', data });
  }
  appendEntries(r, ents);
  return true;
}

/** The encoded record for a conf-change proposal, or undefined when it must be refused. */
function validateConfChange(r: Raft, data: Uint8Array, batch: readonly Entry[]): Uint8Array | undefined {
  // One uncommitted change at a time, and only once this term has committed an entry.
  const pending = r.configLog.currentIndex() > r.log.committed || batch.some((e) => e.type === 'conf-change');
  if (pending || !committedEntryInCurrentTerm(r)) return undefined;
  let change;
  try {
    change = decodeConfChange(data).change;
  } catch {
    return undefined;
  }
  const next = applyConfChange(r.configLog.current(), change);
  if (typeof next === 'string' || !caughtUp(r, change.type, change.nodeId)) return undefined;
  return encodeConfChange({ change, confState: next });
}

/**
 * A voter joins only as a learner that has caught up (thesis §4.2.1): a new voter with an empty
 * log would count toward every quorum while it cannot yet acknowledge anything, and with one
 * more failure the cluster could stall.
 */
function caughtUp(r: Raft, type: string, id: NodeId): boolean {
  if (type !== 'add-voter' || r.voters.includes(id)) return true;
  const pr = r.progress.get(id);
  return pr !== undefined && pr.isLearner && pr.match >= r.log.committed;
}

function handleAppendResp(r: Raft, m: Message, pr: Progress): void {
  pr.recentActive = true;
  if (m.index > r.log.lastIndex()) return; // acknowledges entries we never had: ignore
  if (m.reject) {
    let hint = m.rejectHint;
    // Skip every index whose term in our log exceeds the follower's term there (etcd).
    if (m.logTerm > 0) hint = r.log.findConflictByTerm(m.rejectHint, m.logTerm).index;
    if (pr.maybeDecrTo(m.index, hint)) {
      if (pr.state === 'replicate') pr.becomeProbe();
      maybeSendAppend(r, m.from, true);
    }
    return;
  }
  if (!(pr.maybeUpdate(m.index) || (pr.match === m.index && pr.state === 'probe'))) return;
  if (pr.state === 'probe') pr.becomeReplicate();
  else if (pr.state === 'snapshot' && pr.match + 1 >= r.log.firstIndex()) {
    pr.becomeProbe();
    pr.becomeReplicate();
  } else if (pr.state === 'replicate') pr.inflights.freeLE(m.index);
  if (maybeCommit(r) && r.role !== 'leader') return;
  while (maybeSendAppend(r, m.from, false));
  if (m.from === r.leadTransferee && pr.match === r.log.lastIndex()) {
    r.send(message({ type: 'timeout-now', to: m.from }));
  }
}

function handleHeartbeatResp(r: Raft, m: Message, pr: Progress): void {
  pr.recentActive = true;
  pr.probeSent = false;
  // Also restarts a follower whose appends were all lost (inflights full).
  if (pr.state === 'replicate' && pr.inflights.full()) pr.becomeProbe();
  if (pr.match < r.log.lastIndex() || pr.state === 'probe') maybeSendAppend(r, m.from, true);
  if (m.context === '') return;
  const acks = r.readOnly.recvAck(m.from, m.context);
  if (acks === undefined || !quorumSatisfies(r.voters, (id) => acks.has(id))) return;
  for (const rs of r.readOnly.advance(m.context)) respondToReadIndex(r, rs.req, rs.index);
}

// ---- ReadIndex (thesis §6.4) ---------------------------------------------------------------

function readIndex(r: Raft, m: Message): void {
  if (r.voters.length === 1 && r.voters[0] === r.id) {
    respondToReadIndex(r, m, r.log.committed);
  } else if (!committedEntryInCurrentTerm(r)) {
    // Until it commits an entry of its term, a new leader does not know the commit index.
    r.pendingReadIndex.push(m);
  } else {
    startReadIndex(r, m);
  }
}

function startReadIndex(r: Raft, m: Message): void {
  r.readOnly.add(r.log.committed, m);
  r.readOnly.recvAck(r.id, m.context);
  bcastHeartbeat(r, m.context);
}

function releasePendingReadIndex(r: Raft): void {
  if (r.pendingReadIndex.length === 0 || !committedEntryInCurrentTerm(r)) return;
  const pending = r.pendingReadIndex;
  r.pendingReadIndex = [];
  for (const m of pending) readIndex(r, m);
}

function respondToReadIndex(r: Raft, req: Message, index: number): void {
  if (req.from === none || req.from === r.id) r.readStates.push({ index, context: req.context });
  else r.send(message({ type: 'read-index-resp', to: req.from, index, context: req.context }));
}

// ---- leadership transfer (thesis §3.10) ----------------------------------------------------

function transferLeader(r: Raft, transferee: NodeId): void {
  const pr = r.progress.get(transferee);
  if (pr === undefined || pr.isLearner || transferee === r.id) return;
  if (r.leadTransferee === transferee) return;
  // Proposals stop while the transfer runs; it is abandoned after an election timeout.
  r.electionElapsed = 0;
  r.leadTransferee = transferee;
  if (pr.match === r.log.lastIndex()) r.send(message({ type: 'timeout-now', to: transferee }));
  else maybeSendAppend(r, transferee, true);
}
