// One test per rule of the Raft paper (Ongaro & Ousterhout 2014), on RawNodes wired by hand:
// messages are collected from Readies and delivered explicitly, so each rule is seen in isolation.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryStorage, RawNode, message, seededRandom } from '../../../../cluster/raft/index.ts';
import type { Message } from '../../../../cluster/raft/index.ts';
import { Net } from './net.ts';

const data = (s: string): Uint8Array => new TextEncoder().encode(s);

test('§5.1: a node that sees a higher term adopts it and becomes a follower', () => {
  const net = new Net(['a', 'b', 'c']);
  net.elect('a');
  const term = net.n('a').status().term;
  net.n('a').step(message({ type: 'append-resp', from: 'b', to: 'a', term: term + 3 }));
  assert.deepEqual([net.n('a').status().role, net.n('a').status().term], ['follower', term + 3]);
});

test('§5.1: a message from an older term is ignored', () => {
  const net = new Net(['a', 'b', 'c']);
  net.elect('a');
  const before = net.n('b').status();
  net.n('b').step(message({ type: 'append', from: 'c', to: 'b', term: before.term - 1, index: 1, logTerm: 1 }));
  assert.equal(net.n('b').status().lead, 'a');
});

test('§5.2: a follower that hears nothing for an election timeout becomes a candidate and asks every peer for a vote', () => {
  const net = new Net(['a', 'b', 'c']);
  for (let i = 0; i < 20; i++) net.n('a').tick();
  assert.equal(net.n('a').status().role, 'candidate');
  const votes = net.take((m) => m.type === 'vote');
  assert.deepEqual(votes.map((m) => m.to).sort(), ['b', 'c']);
});

test('§5.2: election timeouts are randomized between one and two election timeouts', () => {
  const seen = new Set<number>();
  for (let seed = 1; seed <= 30; seed++) {
    const node = new RawNode({ id: 'a', storage: new MemoryStorage({ voters: ['a', 'b'], learners: [] }), random: seededRandom(seed), preVote: false, electionTicks: 10 });
    let ticks = 0;
    while (node.status().role === 'follower' && ticks < 100) {
      node.tick();
      ticks++;
    }
    assert.ok(ticks >= 10 && ticks < 20, `timed out after ${ticks} ticks`);
    seen.add(ticks);
  }
  assert.ok(seen.size > 3, 'timeouts vary');
});

test('§5.2: a node grants at most one vote per term, first come first served', () => {
  const net = new Net(['a', 'b', 'c']);
  net.n('c').step(message({ type: 'vote', from: 'a', to: 'c', term: 1, index: 0, logTerm: 0 }));
  net.n('c').step(message({ type: 'vote', from: 'b', to: 'c', term: 1, index: 0, logTerm: 0 }));
  const resps = net.take((m) => m.type === 'vote-resp');
  assert.deepEqual(resps.map((m) => [m.to, m.reject]), [['a', false], ['b', true]]);
});

test('§5.2: a candidate that wins a majority becomes leader; one that hears from a leader of its term steps down', () => {
  const net = new Net(['a', 'b', 'c']);
  net.n('a').campaign();
  net.n('b').campaign();
  net.settle();
  const roles = ['a', 'b', 'c'].map((id) => net.n(id).status().role);
  assert.ok(roles.filter((r) => r === 'leader').length <= 1);
  for (let i = 0; i < 30 && !roles.includes('leader'); i++) {
    for (const id of ['a', 'b', 'c']) net.n(id).tick();
    net.settle();
    roles.splice(0, 3, ...['a', 'b', 'c'].map((id) => net.n(id).status().role));
  }
  assert.equal(roles.filter((r) => r === 'leader').length, 1);
  assert.equal(roles.filter((r) => r === 'candidate').length, 0);
});

test('§5.3: the leader commits an entry once a majority stored it, and followers learn the commit', () => {
  const net = new Net(['a', 'b', 'c']);
  net.elect('a');
  net.n('a').propose(data('x'));
  net.settle((m) => m.to === 'c');
  const idx = net.n('a').status().lastIndex;
  assert.equal(net.n('a').status().commit, idx, 'a and b are a majority');
  assert.equal(net.n('b').status().commit, idx);
  assert.ok(net.n('c').status().lastIndex < idx);
});

test('§5.3: a follower rejects an append whose previous entry it lacks, and the leader backs up until logs match', () => {
  const net = new Net(['a', 'b', 'c']);
  net.elect('a');
  for (let i = 0; i < 5; i++) {
    net.n('a').propose(data(`e${i}`));
    net.settle((m) => m.to === 'c');
  }
  const rejects: Message[] = [];
  net.settle((m) => {
    if (m.type === 'append-resp' && m.reject) rejects.push(m);
    return false;
  });
  for (let i = 0; i < 3; i++) {
    net.n('a').tick();
    net.settle((m) => {
      if (m.type === 'append-resp' && m.reject) rejects.push(m);
      return false;
    });
  }
  assert.equal(net.n('c').status().lastIndex, net.n('a').status().lastIndex);
  assert.equal(net.n('c').status().commit, net.n('a').status().commit);
});

test('§5.4.1: a voter refuses a candidate whose log is less up to date', () => {
  const net = new Net(['a', 'b', 'c']);
  net.elect('a');
  net.n('a').propose(data('x'));
  net.settle((m) => m.to === 'c');
  net.n('b').step(message({ type: 'vote', from: 'c', to: 'b', term: 9, index: 1, logTerm: 1 }));
  const [resp] = net.take((m) => m.type === 'vote-resp');
  assert.equal(resp?.reject, true);
});

test('§5.4.2: a new leader does not count replicas of an older-term entry; it commits it with an entry of its own term', () => {
  const net = new Net(['a', 'b', 'c']);
  net.elect('a');
  net.n('a').propose(data('old'));
  net.settle((m) => m.type === 'append-resp'); // b and c store it, a never hears back
  const oldIndex = net.n('a').status().lastIndex;
  assert.ok(net.n('a').status().commit < oldIndex);
  net.elect('b');
  const st = net.n('b').status();
  assert.ok(st.commit >= oldIndex && net.n('b').termAt(st.commit) === st.term, 'committed through the new term\'s entry');
});

test('§5.5: a follower that receives the same append twice stays unchanged and answers the same', () => {
  const net = new Net(['a', 'b']);
  net.elect('a');
  net.n('a').propose(data('x'));
  const [app] = net.take((m) => m.type === 'append' && m.entries.length > 0);
  assert.ok(app);
  net.n('b').step(app);
  net.n('b').step(app);
  const resps = net.take((m) => m.type === 'append-resp');
  assert.deepEqual(resps.map((m) => m.index), [app.index + 1, app.index + 1]);
  assert.equal(net.n('b').status().lastIndex, app.index + 1);
});

test('a single-node cluster elects itself and commits proposals at once', () => {
  const net = new Net(['solo']);
  for (let i = 0; i < 25; i++) net.n('solo').tick();
  net.flush();
  assert.equal(net.n('solo').status().role, 'leader');
  assert.ok(net.n('solo').propose(data('x')));
  net.flush();
  assert.equal(net.n('solo').status().commit, net.n('solo').status().lastIndex);
});

test('§5.3: a follower commits only up to the last entry the leader vouched for, never a stale tail beyond it', () => {
  const storage = new MemoryStorage({ voters: ['a', 'b', 'c'], learners: [] });
  const e = (index: number, term: number) => ({ index, term, type: 'normal' as const, data: new Uint8Array([index]) });
  storage.append([e(1, 1), e(2, 1), e(3, 2)]); // index 3 is from a leader whose entry lost
  storage.setHardState({ term: 3, vote: '', commit: 1 });
  const b = new RawNode({ id: 'b', storage, random: seededRandom(1) });
  // The leader of term 3 holds (2, term 1) and has committed up to 3 with its own entry there.
  b.step(message({ type: 'append', from: 'a', to: 'b', term: 3, index: 1, logTerm: 1, entries: [e(2, 1)], commit: 3 }));
  assert.equal(b.status().commit, 2);
  const rd = b.ready();
  assert.deepEqual(rd.committedEntries.map((x) => x.index), [1, 2]);
});
