import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RaftLog } from '../../../../cluster/raft/log.ts';
import { CompactedError, MemoryStorage, UnavailableError } from '../../../../cluster/raft/storage.ts';
import type { Entry } from '../../../../cluster/raft/types.ts';

const e = (index: number, term: number, data = ''): Entry => ({ index, term, type: 'normal', data: new TextEncoder().encode(data) });

test('memory storage appends, truncates a conflicting suffix, compacts and refuses out-of-range reads', () => {
  const s = new MemoryStorage({ voters: ['a'], learners: [] });
  s.append([e(1, 1), e(2, 1), e(3, 1)]);
  s.append([e(3, 2), e(4, 2)]);
  assert.deepEqual([s.firstIndex(), s.lastIndex(), s.term(3)], [1, 4, 2]);
  s.createSnapshot(2, { voters: ['a'], learners: [] }, new Uint8Array([1]));
  s.compact(2);
  assert.equal(s.firstIndex(), 3);
  assert.equal(s.term(2), 1);
  assert.throws(() => s.entries(2, 4, Infinity), CompactedError);
  assert.throws(() => s.entries(3, 6, Infinity), UnavailableError);
  assert.deepEqual(s.entries(3, 5, Infinity).map((x) => x.term), [2, 2]);
});

test('entries are limited by size but always include the first one', () => {
  const s = new MemoryStorage();
  s.append([e(1, 1, 'aaaa'), e(2, 1, 'bbbb'), e(3, 1, 'cccc')]);
  assert.equal(s.entries(1, 4, 1).length, 1);
  assert.equal(s.entries(1, 4, 8).length, 2);
});

test('the raft log reads across stable and unstable entries and finds conflicts', () => {
  const s = new MemoryStorage();
  s.append([e(1, 1), e(2, 1)]);
  const log = new RaftLog(s, 0);
  log.append([e(3, 2), e(4, 2)]);
  assert.deepEqual(log.slice(1, 5, Infinity).map((x) => x.index), [1, 2, 3, 4]);
  assert.equal(log.findConflict([e(2, 1), e(3, 2), e(4, 3)]), 4);
  assert.equal(log.findConflict([e(2, 1)]), 0);
  log.append([e(3, 3)]);
  assert.deepEqual([log.lastIndex(), log.lastTerm()], [3, 3]);
  assert.deepEqual(log.findConflictByTerm(3, 2), { index: 2, term: 1 });
  assert.ok(log.isUpToDate(3, 3) && !log.isUpToDate(9, 2));
});

test('the raft log never lets committed entries be overwritten', () => {
  const s = new MemoryStorage();
  s.append([e(1, 1), e(2, 1)]);
  const log = new RaftLog(s, 0);
  log.commitTo(2);
  assert.throws(() => log.append([e(2, 2)]), /committed/);
  assert.throws(() => log.commitTo(5), /out of range/);
});
