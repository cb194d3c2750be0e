// Majority arithmetic for one configuration (Raft §5.2, §5.3). Checked against a naive model
// on generated cases in test/unit/cluster/raft/quorum.test.ts.
import type { NodeId } from './types.ts';

export function majority(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

/**
 * The largest index that at least a majority of voters have matched: sort the voters' match
 * indexes descending and take the majority-th. An empty configuration commits nothing.
 */
export function committedIndex(voters: readonly NodeId[], matchOf: (id: NodeId) => number): number {
  const n = voters.length;
  if (n === 0) return 0;
  if (n === 1) return matchOf(voters[0] as NodeId);
  const matches = new Array<number>(n);
  for (let i = 0; i < n; i++) matches[i] = matchOf(voters[i] as NodeId);
  matches.sort((a, b) => b - a);
  return matches[majority(n) - 1] as number;
}

export type VoteResult = 'won' | 'lost' | 'pending';

/** Outcome of an election given the votes received so far (true: granted). */
export function voteResult(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  const q = majority(voters.length);
  let granted = 0;
  let rejected = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === true) granted++;
    else if (v === false) rejected++;
  }
  if (granted >= q) return 'won';
  if (voters.length - rejected < q) return 'lost';
  return 'pending';
}

/** Whether a majority of voters satisfies `pred` (CheckQuorum's "recently active"). */
export function quorumSatisfies(voters: readonly NodeId[], pred: (id: NodeId) => boolean): boolean {
  let yes = 0;
  for (const id of voters) if (pred(id)) yes++;
  return yes >= majority(voters.length);
}
