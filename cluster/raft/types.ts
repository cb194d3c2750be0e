// Wire and storage types of the Raft core (Ongaro & Ousterhout, "In Search of an Understandable
// Consensus Algorithm", 2014; Ongaro's thesis, 2014). Shapes follow etcd raft's raftpb, but ids
// are strings and a message is one flat object so the transport can encode it field by field.

/** A member of the cluster. The empty string means "nobody" (no leader, no vote). */
export type NodeId = string;
export const none: NodeId = '';

export type EntryType = 'normal' | 'conf-change';

/**
 * One log entry. A leader appends an empty 'normal' entry when it takes office (Raft §5.4.2:
 * it can only commit entries of its own term); the application skips entries whose data is empty.
 */
export interface Entry {
  readonly index: number;
  readonly term: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** What must be on stable storage before any message of the same Ready is sent. */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
}

/** The membership at some log index: voters count toward quorums, learners only receive the log. */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

export interface SnapshotMetadata {
  readonly index: number;
  readonly term: number;
  readonly confState: ConfState;
}

/** Application state up to and including metadata.index, with the membership at that index. */
export interface Snapshot {
  readonly metadata: SnapshotMetadata;
  readonly data: Uint8Array;
}

export type StateRole = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

/** Volatile state, reported in a Ready only when it changed; never persisted. */
export interface SoftState {
  readonly lead: NodeId;
  readonly role: StateRole;
}

/**
 * A linearizable read point (Raft thesis §6.4): once the application has applied entries up to
 * `index`, reading its state answers the read request identified by `context`.
 */
export interface ReadState {
  readonly index: number;
  readonly context: string;
}

/**
 * Message types. 'hup', 'beat', 'check-quorum', 'propose', 'read-index', 'transfer-leader',
 * 'unreachable' and 'snap-status' may also be generated locally; of those only 'propose',
 * 'read-index' and 'transfer-leader' are ever sent over the network (forwarded to the leader).
 */
export type MessageType =
  | 'hup'
  | 'beat'
  | 'check-quorum'
  | 'propose'
  | 'append'
  | 'append-resp'
  | 'vote'
  | 'vote-resp'
  | 'pre-vote'
  | 'pre-vote-resp'
  | 'snapshot'
  | 'heartbeat'
  | 'heartbeat-resp'
  | 'unreachable'
  | 'snap-status'
  | 'transfer-leader'
  | 'timeout-now'
  | 'read-index'
  | 'read-index-resp';

/**
 * One message between nodes. Fields not used by a type keep their zero value, so every message
 * has the same shape (cheap to build, easy to encode).
 * - append: `index`/`logTerm` name the entry preceding `entries`; `commit` is the leader's commit.
 * - append-resp: `index` is the last index matched, or on `reject` the index that was rejected,
 *   with `rejectHint`/`logTerm` pointing at where the follower's log may match (etcd's probe
 *   optimisation, so divergent tails cost one round trip per term, not per entry).
 * - vote/pre-vote: `index`/`logTerm` are the candidate's last entry (§5.4.1 up-to-date check).
 * - heartbeat(-resp), read-index(-resp): `context` identifies a ReadIndex round.
 */
export interface Message {
  type: MessageType;
  from: NodeId;
  to: NodeId;
  term: number;
  logTerm: number;
  index: number;
  entries: Entry[];
  commit: number;
  reject: boolean;
  rejectHint: number;
  snapshot: Snapshot | undefined;
  context: string;
}

const emptyEntries: Entry[] = [];

/** A message with every field at its zero value, overridden by `fields`. */
export function message(fields: Partial<Message> & Pick<Message, 'type'>): Message {
  return {
    from: none,
    to: none,
    term: 0,
    logTerm: 0,
    index: 0,
    entries: emptyEntries,
    commit: 0,
    reject: false,
    rejectHint: 0,
    snapshot: undefined,
    context: '',
    ...fields,
  };
}

/** Messages that only ever come from the local node, never from the network. */
export function isLocalMessage(type: MessageType): boolean {
  return type === 'hup' || type === 'beat' || type === 'check-quorum' || type === 'unreachable' || type === 'snap-status';
}

export function entryPayloadSize(e: Entry): number {
  return e.data.byteLength;
}

export function sameConfState(a: ConfState, b: ConfState): boolean {
  return sameIds(a.voters, b.voters) && sameIds(a.learners, b.learners);
}

function sameIds(a: readonly NodeId[], b: readonly NodeId[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
