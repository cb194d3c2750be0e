// The clever quorum arithmetic checked against the definition on generated cases (etcd
// quorum/quick_test.go style).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { committedIndex, majority, voteResult } from '../../../../cluster/raft/quorum.ts';

/** Straight from the definition: the largest n such that more than half the voters matched >= n. */
function naiveCommitted(matches: number[]): number {
  if (matches.length === 0) return 0;
  let best = 0;
  for (const n of matches) {
    const count = matches.filter((m) => m >= n).length;
    if (count * 2 > matches.length && n > best) best = n;
  }
  return best;
}

test('the committed index equals the naive "largest index a majority has matched" on generated configurations', () => {
  fc.assert(
    fc.property(fc.array(fc.nat(50), { minLength: 0, maxLength: 9 }), (matches) => {
      const ids = matches.map((_, i) => `n${i}`);
      const got = committedIndex(ids, (id) => matches[Number(id.slice(1))] as number);
      assert.equal(got, naiveCommitted(matches));
    }),
    { numRuns: 2000 },
  );
});

test('an election is won, lost or pending exactly as counting votes by hand says', () => {
  fc.assert(
    fc.property(fc.array(fc.constantFrom<boolean | undefined>(true, false, undefined), { minLength: 1, maxLength: 9 }), (votes) => {
      const ids = votes.map((_, i) => `n${i}`);
      const map = new Map<string, boolean>();
      votes.forEach((v, i) => v !== undefined && map.set(`n${i}`, v));
      const yes = votes.filter((v) => v === true).length;
      const no = votes.filter((v) => v === false).length;
      const expected = yes * 2 > votes.length ? 'won' : no * 2 >= votes.length ? 'lost' : 'pending';
      assert.equal(voteResult(ids, map), expected);
    }),
    { numRuns: 2000 },
  );
});

test('majority is more than half', () => {
  assert.deepEqual([1, 2, 3, 4, 5].map(majority), [1, 2, 2, 3, 3]);
});
