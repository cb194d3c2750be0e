// What a replica drives: the application's state machine. The same contract serves the
// single-node replica now and the Raft replica later, so the config store does not change when
// a node joins a cluster.
import type { Entry } from '../raft/types.ts';

export interface StateMachine<R> {
  /**
   * Applies one committed entry, in log order, exactly once per process lifetime (replayed
   * after a restart). Must be deterministic and must not throw: a refused command is a result,
   * not an exception. Every index comes here: entries that carry no command (type
   * 'conf-change', whose membership the replica records, and 'normal' entries with empty data,
   * a new Raft leader's no-op) only consume their index.
   */
  apply(entry: Entry): R;
  /** Called once after each batch of entries applied (one per Raft Ready): publish here. */
  afterApply?(): void;
  /** The state after the last applied entry, as bytes to persist. */
  snapshot(): Uint8Array;
  /** Replaces the state with a snapshot taken at `index` (term `term`). */
  restore(data: Uint8Array, index: number, term: number): void;
}

export interface Proposed<R> {
  readonly index: number;
  readonly term: number;
  /** What the local state machine's `apply` returned for this entry. */
  readonly result: R;
}

/** A replicated log feeding a state machine; resolves a proposal once applied locally. */
export interface Replica<R> {
  /** Rejects with NotLeaderError (retryable) when this node cannot append it now. */
  propose(data: Uint8Array): Promise<Proposed<R>>;
  appliedIndex(): number;
  close(): Promise<void>;
}
