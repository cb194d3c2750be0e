// The Raft core's defects an independent fault simulation found (issue 14), each replayed as
// the few deterministic steps that reach it. Every step runs under the safety checker, so a
// story that breaks an invariant on the way throws where it breaks.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryStorage, RawNode, message, seededRandom } from '../../../cluster/raft/index.ts';
import type { NodeId, Ready } from '../../../cluster/raft/index.ts';
import { SimCluster, appliedPayloads, bytes } from './cluster.ts';

function stableLeader(c: SimCluster): NodeId {
  const l = c.waitForStableLeader(300);
  assert.ok(l !== undefined, 'a leader is elected');
  return l;
}

function commitOn(c: SimCluster, leader: NodeId, payload: string, ids: readonly NodeId[]): number {
  assert.ok(c.propose(leader, bytes(payload)), `${leader} accepts ${payload}`);
  const index = c.raft(leader).status().lastIndex;
  assert.ok(c.runUntil(() => c.appliedEverywhere(index, ids), 300), `${payload} applied on ${ids.join(',')}`);
  return index;
}

test('a follower that loses power right after installing a snapshot never applies the entry the snapshot replaced', () => {
  const ids = ['n1', 'n2', 'n3'];
  const c = new SimCluster({ seed: 11, ids, voters: ids });
  const old = stableLeader(c);
  commitOn(c, old, 'a', ids);
  commitOn(c, old, 'b', ids);
  // The old leader, cut off, appends P at k that nobody else gets.
  c.net.isolate(old, ids);
  assert.ok(c.propose(old, bytes('P, never committed')));
  const k = c.raft(old).status().lastIndex;
  const others = ids.filter((id) => id !== old);
  // The others elect L, whose first entry of its term lands at k and commits there.
  assert.ok(c.runUntil(() => others.some((id) => c.isUp(id) && c.raft(id).status().role === 'leader'), 300));
  const fresh = others.find((id) => c.raft(id).status().role === 'leader') as NodeId;
  assert.ok(c.runUntil(() => c.appliedEverywhere(k, others), 300));
  assert.ok(c.raft(fresh).termAt(k) > c.raft(old).termAt(k), 'L holds its own entry at k');
  // L snapshots exactly at k and compacts, so the old leader can only catch up by snapshot.
  c.snapshotNow(fresh, 0);
  assert.equal(c.node(fresh).storage.snapshot().metadata.index, k);
  // After installing it, the old leader loses power before anything else reaches its disk.
  let installed = false;
  c.hooks.onSnapshotInstalled = (node) => {
    if (node.id !== old || installed) return;
    installed = true;
    c.crashPoint.set(old, { at: 'before-persist', powerLoss: true, keep: 0 });
  };
  c.net.heal();
  assert.ok(c.runUntil(() => !c.isUp(old), 300), 'the snapshot was installed, then the power went out');
  c.restart(old);
  // L's heartbeats carry commit = min(match, commit) = k. Had the acknowledged snapshot not
  // been durable, the old leader would now commit and apply its own P at k (the checker throws).
  assert.ok(c.runUntil(() => c.node(old).applied >= k && c.raft(old).status().lead === fresh, 300));
  commitOn(c, fresh, 'c', ids);
  assert.ok(!appliedPayloads(c.node(old)).includes('P, never committed'));
  assert.equal(c.node(old).storage.snapshot().metadata.index, k, 'the snapshot survived the power loss');
});

test('a Ready that carries only a snapshot must be fsynced before its acknowledgement is sent', () => {
  const conf = { voters: ['n1', 'n2'], learners: [] };
  const storage = new MemoryStorage(conf);
  const follower = new RawNode({ id: 'n2', storage, random: seededRandom(3) });
  const persist = (rd: Ready): void => {
    if (rd.snapshot !== undefined) storage.applySnapshot(rd.snapshot);
    storage.append(rd.entries);
    if (rd.hardState !== undefined) storage.setHardState(rd.hardState);
    follower.advance();
  };
  // First learn the leader's term, so the snapshot's Ready changes neither term nor vote.
  follower.step(message({ type: 'heartbeat', from: 'n1', to: 'n2', term: 1 }));
  persist(follower.ready());
  const snapshot = { metadata: { index: 10, term: 1, confState: conf }, data: new Uint8Array(0) };
  follower.step(message({ type: 'snapshot', from: 'n1', to: 'n2', term: 1, snapshot }));
  const rd = follower.ready();
  assert.equal(rd.snapshot?.metadata.index, 10);
  assert.ok(rd.messages.some((m) => m.type === 'append-resp' && m.to === 'n1' && m.index === 10), 'it acknowledges the snapshot');
  assert.equal(rd.mustSync, true);
});

test('a leader that removed itself and crashed before sending the change still lets the cluster elect a leader', () => {
  const ids = ['n1', 'n2'];
  const c = new SimCluster({ seed: 5, ids, voters: ids });
  const leader = stableLeader(c);
  commitOn(c, leader, 'first', ids);
  const other = ids.find((id) => id !== leader) as NodeId;
  // The removal is persisted in the leader's log only: it crashes before sending anything.
  c.crashPoint.set(leader, { at: 'before-send', powerLoss: false });
  assert.ok(c.proposeConfChange(leader, { type: 'remove-node', nodeId: leader }));
  assert.equal(c.isUp(leader), false);
  c.restart(leader);
  // Its own log says it is no longer a voter, but the committed configuration (which n2 is
  // bound by, and which needs its vote) still does: it must still campaign.
  const elected = c.runUntil(() => c.leader() !== undefined, 3000);
  assert.ok(elected, 'a leader is elected within 3,000 ticks of a healthy network');
  // The removal commits, the removed node steps down, and the survivor leads alone.
  assert.ok(c.runUntil(() => c.leader() === other && c.raft(other).hasConfig({ voters: [other], learners: [] }), 3000));
  commitOn(c, other, 'after the removal', [other]);
});

test('a node restarted with entries of a term its hard state never reached answers votes instead of throwing', () => {
  // A crash between a Ready's entries and its hard state (a storage that writes them apart).
  const storage = new MemoryStorage({ voters: ['n1', 'n2', 'n3'], learners: [] });
  storage.append([{ index: 1, term: 2, type: 'normal', data: new Uint8Array(0) }]);
  storage.setHardState({ term: 0, vote: '', commit: 0 });
  const node = new RawNode({ id: 'n1', storage, random: seededRandom(9) });
  assert.equal(node.status().term, 2, 'the term of its newest entry');
  assert.equal(node.status().vote, '', 'with no vote cast in it');
  // A pre-vote from a node with an older log is refused, carrying the node's term.
  assert.ok(node.step(message({ type: 'pre-vote', from: 'n2', to: 'n1', term: 1, index: 0, logTerm: 0 })));
  const rd = node.ready();
  const answer = rd.messages.find((m) => m.type === 'pre-vote-resp');
  assert.ok(answer !== undefined && answer.reject === true && answer.term === 2);
});

test('a split write of one Ready cut short by a crash is recovered on restart, in the simulator too', () => {
  const ids = ['n1', 'n2', 'n3'];
  const c = new SimCluster({ seed: 21, ids, voters: ids, preVote: true });
  const leader = stableLeader(c);
  const follower = ids.find((id) => id !== leader) as NodeId;
  // The follower's next Ready (entries and hard state) is cut between its writes.
  c.crashPoint.set(follower, { at: 'mid-persist', powerLoss: true });
  c.propose(leader, bytes('x'));
  assert.ok(c.runUntil(() => !c.isUp(follower), 50));
  c.restart(follower);
  commitOn(c, leader, 'y', ids);
  assert.deepEqual(appliedPayloads(c.node(follower)).slice(-1), ['y']);
});

test('without PreVote and CheckQuorum, a learner whose term ran ahead answers a stale append with its term', () => {
  const conf = { voters: ['n1', 'n2', 'n3'], learners: ['n4'] };
  const storage = new MemoryStorage(conf);
  storage.setHardState({ term: 5, vote: '', commit: 0 });
  const learner = new RawNode({ id: 'n4', storage, random: seededRandom(4), preVote: false, checkQuorum: false });
  // The leader of term 3 never learns of term 5 from anyone else: a learner never campaigns.
  learner.step(message({ type: 'append', from: 'n1', to: 'n4', term: 3, index: 0, logTerm: 0, commit: 0 }));
  learner.step(message({ type: 'heartbeat', from: 'n1', to: 'n4', term: 3 }));
  const rd = learner.ready();
  const answers = rd.messages.filter((m) => m.to === 'n1' && m.type === 'append-resp');
  assert.equal(answers.length, 2, 'both stale messages are answered');
  for (const m of answers) assert.equal(m.term, 5);
});

test('the stranded learner catches up: the stale leader steps down and the voters elect one it follows', () => {
  const conf = { voters: ['n1', 'n2', 'n3'], learners: ['n4'] };
  const c = new SimCluster({ seed: 8, ids: ['n1', 'n2', 'n3', 'n4'], voters: ['n1', 'n2', 'n3'], preVote: false, checkQuorum: false });
  const leader = stableLeader(c);
  commitOn(c, leader, 'first', ['n1', 'n2', 'n3']);
  assert.ok(c.proposeConfChange(leader, { type: 'add-learner', nodeId: 'n4' }));
  assert.ok(c.runUntil(() => c.isUp('n4') && c.raft('n4').hasConfig(conf), 300));
  // The learner's term runs ahead: its disk says term 50 (as after following a deposed leader).
  c.crash('n4');
  const disk = c.node('n4').disk;
  disk.setHardState({ ...c.node('n4').storage.hardState(), term: 50 });
  disk.sync();
  c.restart('n4');
  assert.ok(c.propose(leader, bytes('sent to the learner at the old term')));
  const newer = (): NodeId | undefined => {
    const l = c.leader();
    return l !== undefined && c.raft(l).status().term > 50 ? l : undefined;
  };
  assert.ok(c.runUntil(() => newer() !== undefined, 600), 'the voters move past the learner\'s term');
  commitOn(c, newer() as NodeId, 'reaches the learner', ['n1', 'n2', 'n3', 'n4']);
});

test('a vote request from a candidate whose log is behind does not restart the timer of the voter that can win', () => {
  // Found by the chaos soak (seed 110725, plain Raft): the behind candidate kept restarting the
  // up-to-date voter's timer each time it tried, so the two timed out together for 300 rounds.
  const storage = new MemoryStorage({ voters: ['n2', 'n3'], learners: [] });
  storage.append([{ index: 1, term: 1, type: 'normal', data: new Uint8Array(0) }, { index: 2, term: 1, type: 'normal', data: new Uint8Array(0) }]);
  storage.setHardState({ term: 1, vote: '', commit: 1 });
  const fixedTimeout = { int: (n: number) => n - 1 }; // every election timeout is 2 * 10 - 1 ticks
  const voter = new RawNode({ id: 'n2', storage, random: fixedTimeout, electionTicks: 10, preVote: false, checkQuorum: false });
  const campaigned = (): boolean => {
    if (!voter.hasReady()) return false;
    const rd = voter.ready();
    storage.append(rd.entries);
    if (rd.hardState !== undefined) storage.setHardState(rd.hardState);
    voter.advance();
    return rd.messages.some((m) => m.type === 'vote' && m.to === 'n3');
  };
  for (let i = 0; i < 18; i++) {
    voter.tick();
    assert.equal(campaigned(), false, `no campaign after ${i + 1} ticks`);
  }
  voter.step(message({ type: 'vote', from: 'n3', to: 'n2', term: 2, index: 1, logTerm: 1 }));
  assert.equal(campaigned(), false, 'the behind candidate is refused');
  voter.tick();
  assert.equal(campaigned(), true, 'the 19th tick still ends the election timeout');
});
