// The Storage contract the Raft core relies on, as one suite for every implementation
// (MemoryStorage here; cluster/storage's LevelStorage can run the same suite). Writes may be
// synchronous or return a promise: the suite awaits them either way.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CompactedError, UnavailableError } from '../../../../cluster/raft/index.ts';
import type { ConfState, Entry, HardState, Snapshot, Storage } from '../../../../cluster/raft/index.ts';

export interface WritableStorage extends Storage {
  append(entries: readonly Entry[]): unknown;
  setHardState(hs: HardState): unknown;
  applySnapshot(snap: Snapshot): unknown;
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): unknown;
  compact(index: number): unknown;
}

const conf: ConfState = { voters: ['a', 'b', 'c'], learners: [] };
const e = (index: number, term: number, text = ''): Entry => ({ index, term, type: 'normal', data: new TextEncoder().encode(text) });

export function storageContract(name: string, open: (bootstrap: ConfState) => Promise<WritableStorage> | WritableStorage): void {
  test(`${name}: a fresh storage holds the bootstrap membership, an empty log and a zero hard state`, async () => {
    const s = await open(conf);
    assert.deepEqual(s.initialState().confState, conf);
    assert.deepEqual(s.initialState().hardState, { term: 0, vote: '', commit: 0 });
    assert.deepEqual([s.firstIndex(), s.lastIndex(), s.term(0)], [1, 0, 0]);
    assert.equal(s.snapshot().metadata.index, 0);
  });

  test(`${name}: appending over a conflicting suffix replaces it`, async () => {
    const s = await open(conf);
    await s.append([e(1, 1, 'a'), e(2, 1, 'b'), e(3, 1, 'c')]);
    await s.append([e(2, 2, 'B')]);
    assert.equal(s.lastIndex(), 2);
    assert.deepEqual(s.entries(1, 3, Infinity).map((x) => [x.index, x.term]), [[1, 1], [2, 2]]);
    assert.equal(new TextDecoder().decode((s.entries(2, 3, Infinity)[0] as Entry).data), 'B');
  });

  test(`${name}: hard state round-trips`, async () => {
    const s = await open(conf);
    await s.append([e(1, 1)]);
    await s.setHardState({ term: 4, vote: 'b', commit: 1 });
    assert.deepEqual(s.initialState().hardState, { term: 4, vote: 'b', commit: 1 });
  });

  test(`${name}: a snapshot and compaction keep the term of the compaction point and refuse older reads`, async () => {
    const s = await open(conf);
    await s.append([e(1, 1), e(2, 1), e(3, 2), e(4, 2)]);
    await s.createSnapshot(3, conf, new Uint8Array([9]));
    await s.compact(3);
    assert.deepEqual([s.firstIndex(), s.lastIndex(), s.term(3)], [4, 4, 2]);
    assert.equal(s.snapshot().metadata.index, 3);
    assert.deepEqual([...s.snapshot().data], [9]);
    assert.throws(() => s.entries(2, 4, Infinity), CompactedError);
    assert.throws(() => s.entries(4, 6, Infinity), UnavailableError);
    assert.throws(() => s.term(1));
  });

  test(`${name}: installing a leader's snapshot replaces the whole log`, async () => {
    const s = await open(conf);
    await s.append([e(1, 1), e(2, 1)]);
    const snap: Snapshot = { metadata: { index: 10, term: 3, confState: { voters: ['a', 'b'], learners: ['c'] } }, data: new Uint8Array([1]) };
    await s.applySnapshot(snap);
    assert.deepEqual([s.firstIndex(), s.lastIndex(), s.term(10)], [11, 10, 3]);
    assert.deepEqual(s.initialState().confState, snap.metadata.confState);
    await s.append([e(11, 3)]);
    assert.equal(s.lastIndex(), 11);
  });

  test(`${name}: entries are limited by payload size but never fewer than one`, async () => {
    const s = await open(conf);
    await s.append([e(1, 1, 'xxxx'), e(2, 1, 'yyyy'), e(3, 1, 'zzzz')]);
    assert.equal(s.entries(1, 4, 0).length, 1);
    assert.equal(s.entries(1, 4, 8).length, 2);
    assert.equal(s.entries(1, 4, Infinity).length, 3);
  });
}
