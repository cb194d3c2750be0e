// The safety properties of Raft (paper Figure 3), checked incrementally as the simulation runs,
// so a violation is caught at the step that caused it:
//  - Election Safety: at most one leader per term.
//  - Leader Append-Only: a leader never overwrites or deletes entries in its log.
//  - Log Matching: entries with the same index and term hold the same data and are preceded by
//    identical logs (checked by induction: same (index, term) => same data and same term at
//    index-1).
//  - Leader Completeness: a leader's log holds every entry committed in earlier terms.
//  - State Machine Safety: no two nodes apply different entries at the same index.
import type { Entry, NodeId, Ready, StateRole } from '../../../cluster/raft/index.ts';

export class SafetyViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SafetyViolation';
  }
}

/** What the checker needs to see of a node's log. */
export interface LogView {
  termAt(index: number): number;
  status(): { role: StateRole; term: number; lastIndex: number };
}

interface EntryRecord {
  term: number;
  data: Uint8Array;
  prevTerm: number;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class SafetyChecker {
  /** term -> leader */
  readonly leaders = new Map<number, NodeId>();
  /** `${index}:${term}` -> what every node must agree on for that entry. */
  #entries = new Map<string, EntryRecord>();
  /** index -> the entry applied there (by anyone). */
  readonly applied = new Map<number, { term: number; data: Uint8Array }>();
  /** Highest index any node has applied, with its term. */
  maxApplied = { index: 0, term: 0 };
  /** node -> the next index it may append while leader of `term`. */
  #leaderNext = new Map<NodeId, { term: number; next: number }>();
  checks = 0;

  fail(message: string): never {
    throw new SafetyViolation(message);
  }

  /** After a node persisted a Ready (before it applies it). */
  onPersisted(id: NodeId, rd: Ready, view: LogView): void {
    this.checks++;
    const st = view.status();
    if (st.role === 'leader') this.#checkElection(id, st.term, view, st.lastIndex);
    else this.#leaderNext.delete(id);
    const first = rd.entries[0];
    if (first !== undefined && st.role === 'leader') {
      const prev = this.#leaderNext.get(id);
      if (prev !== undefined && prev.term === st.term && first.index < prev.next) {
        this.fail(`Leader Append-Only: leader ${id} of term ${st.term} rewrote index ${first.index} (its log reached ${prev.next - 1})`);
      }
    }
    if (st.role === 'leader') this.#leaderNext.set(id, { term: st.term, next: st.lastIndex + 1 });
    for (const e of rd.entries) this.#checkEntry(id, e, view.termAt(e.index - 1));
  }

  #checkElection(id: NodeId, term: number, view: LogView, lastIndex: number): void {
    const known = this.leaders.get(term);
    if (known === undefined) {
      this.leaders.set(term, id);
      this.#checkCompleteness(id, term, view, lastIndex);
    } else if (known !== id) {
      this.fail(`Election Safety: ${known} and ${id} are both leaders of term ${term}`);
    }
  }

  /** By Log Matching, holding the newest applied entry means holding every one before it. */
  #checkCompleteness(id: NodeId, term: number, view: LogView, lastIndex: number): void {
    const { index, term: committedTerm } = this.maxApplied;
    if (index === 0 || committedTerm >= term) return;
    const t = view.termAt(index);
    if (t === -1 && index <= lastIndex) return; // compacted into a snapshot: it holds it
    if (t !== committedTerm) {
      this.fail(`Leader Completeness: ${id} leads term ${term} without the entry committed at ${index} (term ${committedTerm}); it has term ${t}`);
    }
  }

  #checkEntry(id: NodeId, e: Entry, prevTerm: number): void {
    const key = `${e.index}:${e.term}`;
    const rec = this.#entries.get(key);
    if (rec === undefined) {
      this.#entries.set(key, { term: e.term, data: e.data, prevTerm });
      return;
    }
    if (!sameBytes(rec.data, e.data)) this.fail(`Log Matching: ${id} holds different data at index ${e.index} term ${e.term}`);
    if (prevTerm !== -1 && rec.prevTerm !== -1 && prevTerm !== rec.prevTerm) {
      this.fail(`Log Matching: ${id} has term ${prevTerm} before ${key}, another node had term ${rec.prevTerm}`);
    }
    if (rec.prevTerm === -1) rec.prevTerm = prevTerm;
  }

  /** A node applied `e` (it was committed). */
  onApplied(id: NodeId, e: Entry): void {
    const seen = this.applied.get(e.index);
    if (seen === undefined) {
      this.applied.set(e.index, { term: e.term, data: e.data });
      if (e.index > this.maxApplied.index) this.maxApplied = { index: e.index, term: e.term };
      return;
    }
    if (seen.term !== e.term || !sameBytes(seen.data, e.data)) {
      this.fail(`State Machine Safety: ${id} applied term ${e.term} at index ${e.index}, another node applied term ${seen.term}`);
    }
  }

  /** A node installed a snapshot: it applied everything up to its index at once. */
  onSnapshotInstalled(id: NodeId, index: number, term: number): void {
    const seen = this.applied.get(index);
    if (seen !== undefined && seen.term !== term) {
      this.fail(`State Machine Safety: ${id} installed a snapshot at ${index} term ${term}, but term ${seen.term} was applied there`);
    }
  }
}
