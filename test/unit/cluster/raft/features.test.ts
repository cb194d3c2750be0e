// The extensions beyond the paper's core: flow control, batching, learners, PreVote,
// CheckQuorum, ReadIndex and leadership transfer, each seen on hand-delivered messages.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryStorage, RawNode, encodeConfChange, message, seededRandom } from '../../../../cluster/raft/index.ts';
import { Net } from './net.ts';

const data = (s: string): Uint8Array => new TextEncoder().encode(s);

test('proposals made between two Readies travel to each follower in one append message', () => {
  const net = new Net(['a', 'b', 'c']);
  net.elect('a');
  for (let i = 0; i < 50; i++) net.n('a').propose(data(`p${i}`));
  const apps = net.take((m) => m.type === 'append' && m.entries.length > 0);
  assert.deepEqual(apps.map((m) => [m.to, m.entries.length]).sort(), [['b', 50], ['c', 50]]);
});

test('an append message carries no more entry bytes than maxSizePerMsg, except a single larger entry', () => {
  const net = new Net(['a', 'b'], { maxSizePerMsg: 10 });
  net.elect('a');
  for (let i = 0; i < 6; i++) net.n('a').propose(data('1234'));
  net.n('a').propose(data('a much larger entry than ten bytes'));
  net.settle();
  assert.equal(net.n('b').status().lastIndex, net.n('a').status().lastIndex);
  const net2 = new Net(['a', 'b'], { maxSizePerMsg: 10 });
  net2.elect('a');
  for (let i = 0; i < 6; i++) net2.n('a').propose(data('1234'));
  const apps = net2.take((m) => m.type === 'append' && m.entries.length > 0);
  for (const m of apps) assert.ok(m.entries.reduce((n, e) => n + e.data.byteLength, 0) <= 10 || m.entries.length === 1);
});

test('a follower that does not answer gets at most maxInflightMsgs appends until it does', () => {
  const net = new Net(['a', 'b', 'c'], { maxInflightMsgs: 3 });
  net.elect('a');
  let toC = 0;
  for (let i = 0; i < 20; i++) {
    net.n('a').propose(data(`p${i}`));
    for (const m of net.take()) {
      if (m.to === 'c' && m.type === 'append') toC++;
      else if (m.to !== 'c') net.n(m.to).step(m);
    }
  }
  assert.equal(toC, 3);
  assert.equal(net.n('a').status().progress?.get('c')?.state, 'replicate');
});

test('a learner receives the log but neither votes in quorums nor campaigns', () => {
  const net = new Net(['a', 'b', 'l'], {}, { voters: ['a', 'b'], learners: ['l'] });
  for (let i = 0; i < 50; i++) net.n('l').tick();
  assert.equal(net.n('l').status().role, 'follower', 'a learner never campaigns');
  net.elect('a');
  net.n('a').propose(data('x'));
  net.settle((m) => m.to === 'b');
  assert.ok(net.n('a').status().commit < net.n('a').status().lastIndex, "the learner's copy does not commit");
  assert.equal(net.n('l').status().lastIndex, net.n('a').status().lastIndex, 'but it has the entry');
});

test('a learner is promoted only after it caught up, and a new node cannot become a voter directly', () => {
  const net = new Net(['a', 'b', 'c'], {}, { voters: ['a', 'b'], learners: [] });
  net.elect('a');
  net.n('a').propose(data('x'));
  net.settle();
  assert.equal(net.n('a').proposeConfChange({ type: 'add-voter', nodeId: 'c' }), false);
  assert.equal(net.n('a').proposeConfChange({ type: 'add-learner', nodeId: 'c' }), true);
  net.settle((m) => m.to === 'c');
  assert.equal(net.n('a').proposeConfChange({ type: 'add-voter', nodeId: 'c' }), false, 'c has not caught up');
  net.n('a').tick();
  net.settle();
  assert.equal(net.n('a').proposeConfChange({ type: 'add-voter', nodeId: 'c' }), true);
  net.settle();
  assert.deepEqual(net.n('c').status().config, { voters: ['a', 'b', 'c'], learners: [] });
});

test('PreVote: a node that cannot win does not raise its term, and the cluster keeps its leader', () => {
  const net = new Net(['a', 'b', 'c'], { preVote: true, checkQuorum: true });
  net.elect('a');
  const term = net.n('a').status().term;
  net.n('c').campaign();
  net.settle();
  assert.equal(net.n('c').status().term, term);
  assert.equal(net.n('a').status().role, 'leader');
});

test('CheckQuorum: a leader that hears from no quorum for an election timeout steps down', () => {
  const net = new Net(['a', 'b', 'c'], { checkQuorum: true, electionTicks: 10 });
  net.elect('a');
  for (let i = 0; i < 25; i++) {
    net.n('a').tick();
    net.take();
  }
  assert.equal(net.n('a').status().role, 'follower');
});

test('ReadIndex: the leader answers with its commit index only after a quorum acknowledged a heartbeat', () => {
  const net = new Net(['a', 'b', 'c']);
  net.elect('a');
  net.flush();
  net.n('a').readIndex('r1');
  const rd0 = net.n('a').ready();
  net.n('a').advance();
  assert.deepEqual(rd0.readStates, [], 'no answer before the quorum acknowledged');
  const hbs = rd0.messages.filter((m) => m.type === 'heartbeat');
  assert.deepEqual(hbs.map((m) => m.context), ['r1', 'r1']);
  net.n('b').step(hbs.find((m) => m.to === 'b') ?? assert.fail());
  const [ack] = net.take((m) => m.type === 'heartbeat-resp');
  net.n('a').step(ack ?? assert.fail());
  const rd = net.n('a').ready();
  assert.deepEqual(rd.readStates, [{ index: net.n('a').status().commit, context: 'r1' }]);
  net.n('a').advance();
});

test('ReadIndex on a follower is forwarded to the leader and answered to the follower', () => {
  const net = new Net(['a', 'b', 'c']);
  net.elect('a');
  net.n('b').readIndex('from-b');
  const seen: string[] = [];
  for (let i = 0; i < 10; i++) {
    for (const m of net.take()) net.n(m.to).step(m);
    if (net.n('b').hasReady()) {
      const rd = net.n('b').ready();
      seen.push(...rd.readStates.map((r) => r.context));
      net.outbox.push(...rd.messages);
      net.n('b').advance();
    }
  }
  assert.deepEqual(seen, ['from-b']);
});

test('leadership transfer: proposals pause, the transferee campaigns at once and wins', () => {
  const net = new Net(['a', 'b', 'c'], { preVote: true, checkQuorum: true });
  net.elect('a');
  net.n('a').transferLeadership('c');
  assert.equal(net.n('a').propose(data('x')), false);
  net.settle();
  assert.equal(net.n('c').status().role, 'leader');
  assert.equal(net.n('a').status().lead, 'c');
});

test('a follower steps down any stale leader that still sends it appends of an older term', () => {
  const net = new Net(['a', 'b', 'c'], { preVote: true, checkQuorum: true });
  net.elect('a');
  net.n('a').transferLeadership('c');
  net.settle();
  const stale = net.n('a').status().term - 1;
  net.n('b').step(message({ type: 'append', from: 'a', to: 'b', term: stale, index: 0, logTerm: 0 }));
  const [resp] = net.take((m) => m.to === 'a');
  assert.ok(resp !== undefined && resp.type === 'append-resp' && resp.term === net.n('b').status().term);
  net.n('a').step(resp);
  assert.equal(net.n('b').status().lead, 'c');
});

test('a configuration entry that is overwritten by a new leader stops being in force (thesis §4.1)', () => {
  const storage = new MemoryStorage({ voters: ['a', 'b', 'c'], learners: [] });
  const b = new RawNode({ id: 'b', storage, random: seededRandom(1) });
  const change = encodeConfChange({ change: { type: 'add-learner', nodeId: 'd' }, confState: { voters: ['a', 'b', 'c'], learners: ['d'] } });
  b.step(message({ type: 'append', from: 'a', to: 'b', term: 2, index: 0, logTerm: 0, entries: [{ index: 1, term: 2, type: 'conf-change', data: change }] }));
  assert.deepEqual(b.status().config.learners, ['d'], 'in force as soon as it is in the log');
  b.step(message({ type: 'append', from: 'c', to: 'b', term: 3, index: 0, logTerm: 0, entries: [{ index: 1, term: 3, type: 'normal', data: new Uint8Array() }] }));
  assert.deepEqual(b.status().config, { voters: ['a', 'b', 'c'], learners: [] });
});

test('a leader that cannot commit stops accepting proposals beyond maxUncommittedEntries', () => {
  const net = new Net(['a', 'b', 'c'], { maxUncommittedEntries: 5 });
  net.elect('a');
  const accepted = Array.from({ length: 8 }, (_, i) => net.n('a').propose(data(`p${i}`)));
  assert.deepEqual(accepted, [true, true, true, true, true, false, false, false]);
  net.settle();
  assert.equal(net.n('a').propose(data('after commit')), true);
});
