// The replica's handling of Raft Readies (the loop at the top of cluster/raft/raw-node.ts),
// written once and used by every caller: the production replica (raft-replica.ts, which
// persists to LevelDB and ticks on a timer) and the simulator in test/cluster/sim (which
// persists to a simulated disk and ticks in rounds). The loop never does I/O itself: take()
// says what to persist, the caller makes it durable (however it writes), then finish() sends,
// installs, applies and advances. A caller that crashes between the two has persisted what a
// crash there would have left; the core copes with every such state.
//
// Proposals carry an id in an envelope, so the node that proposed an entry recognises it when
// it is applied, whichever node led when it was appended. Entries written before envelopes
// existed (the single-node log of Ferry 0.1) are plain payloads and still apply.
import { decodeConfChange } from '../raft/confchange.ts';
import type { ConfChange } from '../raft/confchange.ts';
import type { RawNode, Ready, Status } from '../raft/raw-node.ts';
import type { ConfState, Entry, Message, NodeId, Snapshot } from '../raft/types.ts';
import type { StateMachine } from './state-machine.ts';

/** The proposal was not appended: no leader is known here, or leadership is moving. Retry. */
export class NotLeaderError extends Error {
  /** The leader this node knows of ('' when none): where a retry may go. */
  readonly leader: NodeId;
  constructor(leader: NodeId, detail = 'this node is not the leader and knows of none to forward to') {
    super(`${detail}; retry shortly${leader === '' ? '' : ` (the leader is ${leader})`}`);
    this.name = 'NotLeaderError';
    this.leader = leader;
  }
}

/** What one Ready asks to make durable; write it as one atomic batch, fsynced when `sync`. */
export interface PersistWork {
  readonly snapshot: Snapshot | undefined;
  readonly entries: readonly Entry[];
  readonly hardState: Ready['hardState'];
  readonly sync: boolean;
  readonly ready: Ready;
}

/** One committed entry as the loop applied it. */
export interface AppliedEntry<R> {
  /** The entry as stored in the log (with its envelope). */
  readonly logEntry: Entry;
  /** The entry as the state machine saw it (payload only). */
  readonly entry: Entry;
  /** Set when this node proposed it. */
  readonly proposalId: string | undefined;
  readonly result: R;
}

export interface Finished<R> {
  readonly applied: readonly AppliedEntry<R>[];
  /** A snapshot from the leader was installed (the state machine was replaced). */
  readonly installed: Snapshot | undefined;
  /** ReadIndex contexts that may now be served: the state machine reached their index. */
  readonly reads: readonly string[];
  /** Set when the role or leader changed in this Ready. */
  readonly softState: Ready['softState'];
}

const ENVELOPE = 0x01;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Wraps a payload with the proposal id that lets its proposer recognise it. */
export function encodeProposal(id: string, payload: Uint8Array): Uint8Array {
  const idBytes = encoder.encode(id);
  if (idBytes.byteLength > 255) throw new Error('proposal id longer than 255 bytes');
  const out = new Uint8Array(2 + idBytes.byteLength + payload.byteLength);
  out[0] = ENVELOPE;
  out[1] = idBytes.byteLength;
  out.set(idBytes, 2);
  out.set(payload, 2 + idBytes.byteLength);
  return out;
}

/** The proposal id and payload of an entry's data; a plain payload (no envelope) has no id. */
export function decodeProposal(data: Uint8Array): { id: string | undefined; payload: Uint8Array } {
  if (data.byteLength < 2 || data[0] !== ENVELOPE) return { id: undefined, payload: data };
  const length = data[1] as number;
  if (2 + length > data.byteLength) return { id: undefined, payload: data };
  return { id: decoder.decode(data.subarray(2, 2 + length)), payload: data.subarray(2 + length) };
}

export interface ReplicaLoopOptions<R> {
  readonly raw: RawNode;
  readonly machine: StateMachine<R>;
  /** Delivers messages to peers (best effort: each may be lost). A node of one sends none. */
  readonly send: (messages: readonly Message[]) => void;
  /** Where the state machine stands as the loop starts (its restored snapshot, or later). */
  readonly applied: number;
  /** Membership as of `applied`. */
  readonly confState: ConfState;
  /**
   * Distinguishes this life of the node from earlier ones, whose proposal ids may still be in
   * the log: random in production, a restart counter in the simulator (which must replay).
   */
  readonly incarnation: string;
}

export class ReplicaLoop<R> {
  readonly raw: RawNode;
  readonly #machine: StateMachine<R>;
  readonly #send: (messages: readonly Message[]) => void;
  #applied: number;
  #confState: ConfState;
  #pendingReads: { index: number; context: string }[] = [];
  #inFlight: PersistWork | undefined;
  #nextProposal = 0;
  readonly #idPrefix: string;

  constructor(options: ReplicaLoopOptions<R>) {
    this.raw = options.raw;
    this.#machine = options.machine;
    this.#send = options.send;
    this.#applied = options.applied;
    this.#confState = options.confState;
    this.#idPrefix = `${this.raw.id}/${options.incarnation}/`;
  }

  /** Index of the last entry the state machine has applied. */
  get applied(): number {
    return this.#applied;
  }

  /** Membership as of the applied index (what a snapshot taken now records). */
  get confState(): ConfState {
    return this.#confState;
  }

  status(): Status {
    return this.raw.status();
  }

  /**
   * Appends `payload` (on the leader) or forwards it to the known leader; returns the id its
   * applied entry will carry. Throws NotLeaderError when it was dropped here.
   */
  propose(payload: Uint8Array): string {
    const id = `${this.#idPrefix}${++this.#nextProposal}`;
    if (!this.raw.propose(encodeProposal(id, payload))) throw new NotLeaderError(this.raw.status().lead, 'the proposal was not accepted here (no leader known, or a leadership transfer is under way)');
    return id;
  }

  /** Proposes a membership change; false when the leader refused it (see RawNode). */
  proposeConfChange(change: ConfChange): boolean {
    return this.raw.proposeConfChange(change);
  }

  readIndex(context: string): void {
    this.raw.readIndex(context);
  }

  /** The next Ready's writes, or undefined when there is nothing to do. One at a time. */
  take(): PersistWork | undefined {
    if (this.#inFlight !== undefined) throw new Error('replica loop: take() again before finish()');
    if (!this.raw.hasReady()) return undefined;
    const ready = this.raw.ready();
    this.#inFlight = { snapshot: ready.snapshot, entries: ready.entries, hardState: ready.hardState, sync: ready.mustSync, ready };
    return this.#inFlight;
  }

  /**
   * The writes of `work` are on disk (durably when work.sync): send its messages, install its
   * snapshot, apply its committed entries, advance. A state machine that throws stops here, and
   * the node must restart (it replays from its last snapshot).
   */
  finish(work: PersistWork): Finished<R> {
    if (work !== this.#inFlight) throw new Error('replica loop: finish() of a Ready that was not taken');
    this.#inFlight = undefined;
    const rd = work.ready;
    if (rd.messages.length > 0) this.#send(rd.messages);
    let installed: Snapshot | undefined;
    if (rd.snapshot !== undefined) {
      const { index, term, confState } = rd.snapshot.metadata;
      this.#machine.restore(rd.snapshot.data, index, term);
      this.#applied = index;
      this.#confState = confState;
      installed = rd.snapshot;
    }
    const applied: AppliedEntry<R>[] = [];
    for (const logEntry of rd.committedEntries) {
      if (logEntry.index <= this.#applied) continue; // covered by the snapshot just installed
      if (logEntry.index !== this.#applied + 1) throw new Error(`replica loop: entry ${logEntry.index} committed after ${this.#applied}`);
      let proposalId: string | undefined;
      let entry = logEntry;
      if (logEntry.type === 'conf-change') {
        this.#confState = decodeConfChange(logEntry.data).confState;
      } else if (logEntry.data.byteLength > 0) {
        const { id, payload } = decodeProposal(logEntry.data);
        proposalId = id?.startsWith(this.#idPrefix) === true ? id : undefined;
        entry = { ...logEntry, data: payload };
      }
      const result = this.#machine.apply(entry);
      this.#applied = logEntry.index;
      applied.push({ logEntry, entry, proposalId, result });
    }
    for (const rs of rd.readStates) this.#pendingReads.push(rs);
    if (installed !== undefined || applied.length > 0) this.#machine.afterApply?.();
    this.raw.advance();
    return { applied, installed, reads: this.#servableReads(), softState: rd.softState };
  }

  /** What to record for compaction when the application snapshots now. */
  snapshotRequest(): { index: number; confState: ConfState; data: Uint8Array } {
    return { index: this.#applied, confState: this.#confState, data: this.#machine.snapshot() };
  }

  #servableReads(): string[] {
    if (this.#pendingReads.length === 0) return [];
    const ready: string[] = [];
    const waiting: { index: number; context: string }[] = [];
    for (const rs of this.#pendingReads) {
      if (rs.index <= this.#applied) ready.push(rs.context);
      else waiting.push(rs);
    }
    this.#pendingReads = waiting;
    return ready;
  }
}
