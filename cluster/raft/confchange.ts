// Membership changes one server at a time (Raft thesis §4.1-4.3). Any majority of the old
// voters overlaps any majority of the new ones, so no joint consensus is needed, provided that:
//  - a node uses the newest configuration in its log, committed or not, and falls back to the
//    previous one if that entry is truncated;
//  - a leader has at most one uncommitted configuration entry;
//  - a leader proposes a change only after committing an entry of its own term (Ongaro's fix,
//    raft-dev 2015, "bug in single-server membership changes").
// A conf-change entry carries the change and the complete resulting configuration, so a
// follower adopts it without replaying history and the application can record it.
import { sameConfState } from './types.ts';
import type { ConfState, NodeId } from './types.ts';

export type ConfChangeType = 'add-voter' | 'add-learner' | 'remove-node';

/**
 * `add-voter` adds a node or promotes a learner; `add-learner` adds a non-voter (or demotes a
 * voter); `remove-node` removes either. `context` is opaque to Raft (e.g. the node's address).
 */
export interface ConfChange {
  readonly type: ConfChangeType;
  readonly nodeId: NodeId;
  readonly context?: string;
}

/** What a conf-change entry's data decodes to. */
export interface ConfChangeRecord {
  readonly change: ConfChange;
  readonly confState: ConfState;
}

/**
 * The configuration after `cc`, or an error message. Copies, changes, checks, returns: the
 * input is never modified and an invalid change leaves nothing half-applied.
 */
export function applyConfChange(cs: ConfState, cc: ConfChange): ConfState | string {
  if (typeof cc.nodeId !== 'string' || cc.nodeId === '') return 'conf change needs a non-empty node id';
  const voters = cs.voters.filter((id) => id !== cc.nodeId);
  const learners = cs.learners.filter((id) => id !== cc.nodeId);
  if (cc.type === 'add-voter') voters.push(cc.nodeId);
  else if (cc.type === 'add-learner') learners.push(cc.nodeId);
  else if (cc.type !== 'remove-node') return `unknown conf change type ${JSON.stringify(cc.type)}`;
  const next: ConfState = { voters: voters.sort(), learners: learners.sort() };
  if (next.voters.length === 0) return 'refusing to remove the last voter';
  if (sameConfState(cs, next)) return `conf change ${cc.type} ${cc.nodeId} changes nothing`;
  return next;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeConfChange(record: ConfChangeRecord): Uint8Array {
  return encoder.encode(JSON.stringify(record));
}

/** Decodes a conf-change entry's data; throws on anything that is not a valid record. */
export function decodeConfChange(data: Uint8Array): ConfChangeRecord {
  const raw: unknown = JSON.parse(decoder.decode(data));
  if (!isRecord(raw)) throw new Error('raft: malformed conf-change entry');
  return raw;
}

function isIdList(v: unknown): v is NodeId[] {
  return Array.isArray(v) && v.every((id) => typeof id === 'string' && id !== '');
}

function isRecord(v: unknown): v is ConfChangeRecord {
  if (typeof v !== 'object' || v === null) return false;
  const { change, confState } = v as Record<string, unknown>;
  if (typeof change !== 'object' || change === null || typeof confState !== 'object' || confState === null) return false;
  const c = change as Record<string, unknown>;
  const s = confState as Record<string, unknown>;
  const typeOk = c.type === 'add-voter' || c.type === 'add-learner' || c.type === 'remove-node';
  const ctxOk = c.context === undefined || typeof c.context === 'string';
  return typeOk && ctxOk && typeof c.nodeId === 'string' && isIdList(s.voters) && isIdList(s.learners);
}

/** Index-ordered history of configurations in the log, above a base taken from the snapshot. */
export class ConfigLog {
  #base: { index: number; confState: ConfState };
  #changes: { index: number; confState: ConfState }[] = [];

  constructor(index: number, confState: ConfState) {
    this.#base = { index, confState };
  }

  current(): ConfState {
    const last = this.#changes[this.#changes.length - 1];
    return last === undefined ? this.#base.confState : last.confState;
  }

  /** Index of the entry that set the current configuration (the snapshot's index for the base). */
  currentIndex(): number {
    const last = this.#changes[this.#changes.length - 1];
    return last === undefined ? this.#base.index : last.index;
  }

  /** The configuration in force once the log up to `index` is applied (the committed one, given the commit index). */
  at(index: number): ConfState {
    for (let i = this.#changes.length - 1; i >= 0; i--) {
      const change = this.#changes[i] as { index: number; confState: ConfState };
      if (change.index <= index) return change.confState;
    }
    return this.#base.confState;
  }

  /** Forgets configurations from entries at or after `index` (they were truncated). */
  truncateFrom(index: number): boolean {
    let n = this.#changes.length;
    while (n > 0 && (this.#changes[n - 1] as { index: number }).index >= index) n--;
    if (n === this.#changes.length) return false;
    this.#changes.length = n;
    return true;
  }

  push(index: number, confState: ConfState): void {
    this.#changes.push({ index, confState });
  }

  reset(index: number, confState: ConfState): void {
    this.#base = { index, confState };
    this.#changes = [];
  }
}
