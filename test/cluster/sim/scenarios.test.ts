// The classic Raft stories, scripted on the simulated cluster. Every step still runs under the
// safety checker (cluster.ts), so a story that ends well but broke an invariant on the way fails.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Message, NodeId } from '../../../cluster/raft/index.ts';
import { SimCluster, appliedPayloads, bytes } from './cluster.ts';
import type { SimOptions } from './cluster.ts';

function cluster(ids: NodeId[], extra: Partial<SimOptions> = {}): SimCluster {
  return new SimCluster({ seed: 7, ids, voters: ids, ...extra });
}

function stableLeader(c: SimCluster): NodeId {
  const l = c.waitForStableLeader(200);
  assert.ok(l !== undefined, 'a leader is elected');
  return l;
}

function commitEverywhere(c: SimCluster, leader: NodeId, payload: string, ids: readonly NodeId[] = c.ids): number {
  assert.ok(c.propose(leader, bytes(payload)), `${leader} accepts ${payload}`);
  const index = c.raft(leader).status().lastIndex;
  assert.ok(c.runUntil(() => c.appliedEverywhere(index, ids), 200), `${payload} applied on ${ids.join(',')}`);
  return index;
}

test('a leader cut off from the cluster steps down, and on rejoining drops its uncommitted entry and follows the new leader', () => {
  const c = cluster(['n1', 'n2', 'n3']);
  const old = stableLeader(c);
  const oldTerm = c.raft(old).status().term;
  c.net.isolate(old, c.ids);
  assert.ok(c.propose(old, bytes('written to a lonely leader')));
  const others = c.ids.filter((id) => id !== old);
  assert.ok(c.runUntil(() => others.some((id) => c.raft(id).status().role === 'leader'), 200), 'the majority elects a new leader');
  const fresh = others.find((id) => c.raft(id).status().role === 'leader') as NodeId;
  assert.ok(c.runUntil(() => c.raft(old).status().role === 'follower', 50), 'CheckQuorum makes the isolated leader step down');
  commitEverywhere(c, fresh, 'written by the majority', others);
  c.net.heal();
  assert.ok(c.runUntil(() => c.raft(old).status().lead === fresh && c.node(old).applied >= c.node(fresh).applied, 200));
  assert.deepEqual(appliedPayloads(c.node(old)), ['written by the majority']);
  assert.ok(c.raft(fresh).status().term > oldTerm);
});

test('a stale leader on the minority side cannot commit, and its entries vanish after the partition heals', () => {
  const c = cluster(['n1', 'n2', 'n3', 'n4', 'n5']);
  const stale = stableLeader(c);
  const buddy = c.ids.find((id) => id !== stale) as NodeId;
  const majority = c.ids.filter((id) => id !== stale && id !== buddy);
  c.net.partition([stale, buddy], c.ids);
  const commitBefore = c.raft(stale).status().commit;
  assert.ok(c.propose(stale, bytes('stale write')));
  c.runUntil(() => false, 8);
  assert.equal(c.raft(stale).status().commit, commitBefore, 'two of five acknowledgements commit nothing');
  assert.ok(c.runUntil(() => majority.some((id) => c.raft(id).status().role === 'leader'), 200));
  const fresh = majority.find((id) => c.raft(id).status().role === 'leader') as NodeId;
  commitEverywhere(c, fresh, 'majority write', majority);
  c.net.heal();
  assert.ok(c.runUntil(() => c.appliedEverywhere(c.node(fresh).applied), 200));
  for (const id of c.ids) assert.deepEqual(appliedPayloads(c.node(id)), ['majority write'], `${id} applied only the majority's write`);
});

test('figure 8: an entry from an older term replicated on a majority is not committed by counting, and is safely overwritten', () => {
  // Plain Raft as in the paper (no PreVote, no CheckQuorum), one entry per append message.
  const c = cluster(['s1', 's2', 's3', 's4', 's5'], { preVote: false, checkQuorum: false, maxSizePerMsg: 1 });
  const isApp = (m: Message): boolean => m.type === 'append' || m.type === 'snapshot';
  // (a) s1 leads and appends index 2, which reaches nobody before s1 crashes.
  c.raft('s1').campaign();
  c.process('s1');
  c.stabilize();
  assert.equal(c.raft('s1').status().role, 'leader');
  c.net.drop = (m) => m.from === 's1' && isApp(m);
  assert.ok(c.propose('s1', bytes('figure-8 entry')));
  c.stabilize();
  const t2 = c.raft('s1').status().term;
  assert.equal(c.raft('s1').termAt(2), t2);
  // (b) s1 crashes; s5 wins with s3 and s4 and appends at index 2 in its own term, alone.
  c.crash('s1');
  c.net.drop = (m) => m.from === 's5' && isApp(m);
  c.raft('s5').campaign();
  c.process('s5');
  c.stabilize();
  assert.equal(c.raft('s5').status().role, 'leader');
  const t3 = c.raft('s5').status().term;
  assert.equal(c.raft('s5').termAt(2), t3);
  // (c) s5 crashes; s1 returns, wins, and gets its old index 2 onto s2 and s3: a majority holds it,
  // but its own-term entry (index 3) reaches nobody, so index 2 must stay uncommitted.
  c.crash('s5');
  c.restart('s1');
  // Appends carrying index 3 pass only to a node that would reject them (it lacks index 2).
  const holdsIndex2 = (id: NodeId): boolean => c.isUp(id) && c.raft(id).termAt(2) === t2;
  c.net.drop = (m) => m.from === 's1' && isApp(m) && (m.to === 's4' || (m.entries.some((e) => e.index >= 3) && holdsIndex2(m.to)));
  // Its first try may reuse s5's term, in which s3 and s4 already voted: it tries again.
  for (let i = 0; i < 3 && c.raft('s1').status().role !== 'leader'; i++) {
    c.raft('s1').campaign();
    c.process('s1');
    c.stabilize();
  }
  assert.equal(c.raft('s1').status().role, 'leader');
  assert.equal(c.raft('s3').termAt(2), t2, 'index 2 of the old term is now on s1, s2 and s3');
  assert.ok(c.raft('s1').status().commit < 2, 'a majority of copies of an old-term entry does not commit it (§5.4.2)');
  // (d) s1 crashes again; s5 wins with s2, s3, s4 and overwrites index 2 everywhere.
  c.crash('s1');
  c.restart('s5');
  c.net.drop = undefined;
  for (let i = 0; i < 3 && c.raft('s5').status().role !== 'leader'; i++) {
    c.raft('s5').campaign();
    c.process('s5');
    c.stabilize();
  }
  assert.equal(c.raft('s5').status().role, 'leader');
  for (const id of ['s2', 's3', 's4']) assert.equal(c.raft(id).termAt(2), t3, `${id} now holds s5's entry at index 2`);
  c.restart('s1');
  const leader = stableLeader(c);
  commitEverywhere(c, leader, 'after figure 8');
  for (const id of c.ids) assert.ok(!appliedPayloads(c.node(id)).includes('figure-8 entry'), `${id} never applied the overwritten entry`);
});

test('membership changes while a voter is partitioned: a learner catches up, is promoted, and the unreachable voter is removed', () => {
  const c = new SimCluster({ seed: 11, ids: ['n1', 'n2', 'n3', 'n4'], voters: ['n1', 'n2', 'n3'] });
  let leader = stableLeader(c);
  const cutOff = c.ids.find((id) => id !== leader && id !== 'n4') as NodeId;
  c.net.isolate(cutOff, c.ids);
  commitEverywhere(c, leader, 'before the change', c.ids.filter((id) => id !== cutOff && id !== 'n4'));
  assert.ok(c.proposeConfChange(leader, { type: 'add-learner', nodeId: 'n4', context: '10.0.0.4:7000' }));
  assert.ok(!c.proposeConfChange(leader, { type: 'add-voter', nodeId: 'n4' }), 'one change at a time');
  assert.ok(c.runUntil(() => c.node('n4').appliedLog.length > 0 && c.raft('n4').status().config.learners.includes('n4'), 100));
  assert.ok(c.runUntil(() => c.proposeConfChange(leader, { type: 'add-voter', nodeId: 'n4' }), 100), 'the learner is promoted');
  assert.ok(c.runUntil(() => c.proposeConfChange(leader, { type: 'remove-node', nodeId: cutOff }), 100), 'the unreachable voter is removed');
  assert.ok(c.runUntil(() => c.raft(leader).status().commit >= c.raft(leader).status().lastIndex, 100));
  assert.deepEqual(c.raft(leader).status().config, { voters: [leader, 'n4', ...['n1', 'n2', 'n3'].filter((id) => id !== leader && id !== cutOff)].sort(), learners: [] });
  const term = c.raft(leader).status().term;
  c.net.heal();
  c.runUntil(() => false, 100);
  leader = stableLeader(c);
  assert.equal(c.raft(leader).status().term, term, 'the removed node cannot disrupt the new configuration');
  commitEverywhere(c, leader, 'after the change', c.ids.filter((id) => id !== cutOff));
});

test('a leader that removes itself keeps leading until the change commits, then steps down and the others elect a leader', () => {
  const c = cluster(['n1', 'n2', 'n3']);
  const leader = stableLeader(c);
  commitEverywhere(c, leader, 'warm-up');
  assert.ok(c.proposeConfChange(leader, { type: 'remove-node', nodeId: leader }));
  const rest = c.ids.filter((id) => id !== leader);
  assert.ok(c.runUntil(() => c.raft(leader).status().role === 'follower', 100), 'the removed leader steps down');
  assert.ok(c.runUntil(() => rest.some((id) => c.raft(id).status().role === 'leader'), 200));
  const fresh = rest.find((id) => c.raft(id).status().role === 'leader') as NodeId;
  assert.deepEqual(c.raft(fresh).status().config.voters, rest);
  commitEverywhere(c, fresh, 'without the old leader', rest);
});

test('a follower that fell behind the compacted log catches up through a snapshot', () => {
  const c = cluster(['n1', 'n2', 'n3'], { snapshotEvery: 5, compactionMargin: 0 });
  const leader = stableLeader(c);
  const lagging = c.ids.find((id) => id !== leader) as NodeId;
  c.crash(lagging);
  let last = 0;
  for (let i = 0; i < 30; i++) last = commitEverywhere(c, leader, `entry ${i}`, c.ids.filter((id) => id !== lagging));
  assert.ok(c.node(leader).storage.firstIndex() > 2, 'the leader compacted its log');
  c.restart(lagging);
  assert.ok(c.runUntil(() => c.node(lagging).applied >= last, 200), 'the lagging follower catches up');
  assert.ok(c.node(lagging).storage.snapshot().metadata.index > 1, 'it installed a snapshot');
  assert.deepEqual([...c.node(lagging).kv.map], [...c.node(leader).kv.map]);
  commitEverywhere(c, leader, 'after catch-up');
});

test('leadership moves to a lagging follower only once it has caught up, and no committed entry is lost', () => {
  const c = cluster(['n1', 'n2', 'n3']);
  const leader = stableLeader(c);
  const target = c.ids.find((id) => id !== leader) as NodeId;
  c.net.cut(leader, target);
  for (let i = 0; i < 10; i++) c.propose(leader, bytes(`while ${target} lags ${i}`));
  const last = c.raft(leader).status().lastIndex;
  assert.ok(c.runUntil(() => c.raft(leader).status().commit >= last, 100));
  assert.ok(c.raft(target).status().lastIndex < last, `${target} lags behind`);
  c.net.heal();
  c.transferLeadership(leader, target);
  assert.equal(c.raft(leader).status().leadTransferee, target);
  assert.ok(!c.propose(leader, bytes('during transfer')), 'proposals pause during a transfer');
  assert.ok(c.runUntil(() => c.raft(target).status().role === 'leader', 50), `${target} becomes leader`);
  assert.ok(c.raft(target).status().lastIndex >= last);
  commitEverywhere(c, target, 'after transfer');
  assert.equal(appliedPayloads(c.node(target)).filter((p) => p.startsWith('while')).length, 10);
});

test('a node partitioned for a long time rejoins without deposing the healthy leader (PreVote + CheckQuorum)', () => {
  const c = cluster(['n1', 'n2', 'n3']);
  const leader = stableLeader(c);
  const term = c.raft(leader).status().term;
  const loner = c.ids.find((id) => id !== leader) as NodeId;
  c.net.isolate(loner, c.ids);
  c.runUntil(() => false, 150);
  assert.equal(c.raft(loner).status().term, term, 'pre-votes that fail do not raise the term');
  c.net.heal();
  c.runUntil(() => false, 50);
  assert.equal(c.leader(), leader);
  assert.equal(c.raft(leader).status().term, term);
});

test('a read through ReadIndex on a deposed leader is never answered, while the new leader serves reads', () => {
  const c = cluster(['n1', 'n2', 'n3']);
  const old = stableLeader(c);
  commitEverywhere(c, old, 'first');
  c.net.isolate(old, c.ids);
  const answered: string[] = [];
  c.hooks = { onRead: (node, ctx) => answered.push(`${node.id}:${ctx}`) };
  c.readIndex(old, 'old-read');
  const others = c.ids.filter((id) => id !== old);
  assert.ok(c.runUntil(() => others.some((id) => c.raft(id).status().role === 'leader'), 200));
  const fresh = others.find((id) => c.raft(id).status().role === 'leader') as NodeId;
  const follower = others.find((id) => id !== fresh) as NodeId;
  assert.ok(c.runUntil(() => c.raft(follower).status().lead === fresh, 50));
  c.readIndex(follower, 'follower-read');
  assert.ok(c.runUntil(() => answered.length > 0, 50));
  assert.deepEqual(answered, [`${follower}:follower-read`]);
});
