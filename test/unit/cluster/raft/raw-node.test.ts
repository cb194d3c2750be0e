import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryStorage, RawNode, message, seededRandom } from '../../../../cluster/raft/index.ts';

function solo(): { node: RawNode; storage: MemoryStorage } {
  const storage = new MemoryStorage({ voters: ['a'], learners: [] });
  const node = new RawNode({ id: 'a', storage, random: seededRandom(1) });
  node.campaign();
  return { node, storage };
}

function handle(node: RawNode, storage: MemoryStorage) {
  const rd = node.ready();
  storage.append(rd.entries);
  if (rd.hardState) storage.setHardState(rd.hardState);
  node.advance();
  return rd;
}

test('a Ready carries the entries to persist, the changed hard state and the committed entries, and advance() clears them', () => {
  const { node, storage } = solo();
  const rd = handle(node, storage);
  assert.equal(rd.softState?.role, 'leader');
  assert.ok(rd.hardState !== undefined && rd.mustSync);
  assert.equal(rd.entries.length, 1);
  node.propose(new TextEncoder().encode('x'));
  const rd2 = handle(node, storage);
  assert.deepEqual(rd2.committedEntries.map((e) => e.index), [2]);
  assert.equal(node.hasReady(), false);
});

test('ready() twice without advance() is a caller bug and throws', () => {
  const { node } = solo();
  node.ready();
  assert.throws(() => node.ready(), /advance/);
});

test('a restarted node recovers term, vote and commit from storage and re-delivers committed entries', () => {
  const { node, storage } = solo();
  handle(node, storage);
  node.propose(new TextEncoder().encode('x'));
  handle(node, storage);
  const again = new RawNode({ id: 'a', storage, random: seededRandom(2) });
  const st = again.status();
  assert.deepEqual([st.term, st.commit, st.role], [node.status().term, 2, 'follower']);
  const rd = again.ready();
  assert.deepEqual(rd.committedEntries.map((e) => e.index), [1, 2]);
});

test('malformed or local-only messages from the network are refused without changing state', () => {
  const { node, storage } = solo();
  handle(node, storage);
  const before = node.status();
  const bad = [
    message({ type: 'hup', from: 'b', to: 'a' }),
    message({ type: 'append', from: 'b', to: 'a', term: 99, index: 5, entries: [{ index: 9, term: 1, type: 'normal', data: new Uint8Array() }] }),
    message({ type: 'append', from: 'b', to: 'a', term: 99, entries: [{ index: 1, term: 100, type: 'normal', data: new Uint8Array() }] }),
    message({ type: 'vote', from: 'b', to: 'a', term: -1 }),
    message({ type: 'snapshot', from: 'b', to: 'a', term: 99 }),
    message({ type: 'append', from: 'b', to: 'a', term: 99, entries: [{ index: 1, term: 1, type: 'conf-change', data: new Uint8Array([1, 2]) }] }),
    { ...message({ type: 'heartbeat', from: 'b', to: 'a', term: 99 }), commit: Number.NaN },
  ];
  for (const m of bad) assert.equal(node.step(m), false, `refused ${m.type}`);
  assert.deepEqual(node.status(), before);
});

test('a proposal without a known leader is dropped at once', () => {
  const storage = new MemoryStorage({ voters: ['a', 'b', 'c'], learners: [] });
  const node = new RawNode({ id: 'a', storage, random: seededRandom(1) });
  assert.equal(node.propose(new Uint8Array([1])), false);
});
