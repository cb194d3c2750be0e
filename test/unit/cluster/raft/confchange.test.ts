import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigLog, applyConfChange, decodeConfChange, encodeConfChange } from '../../../../cluster/raft/confchange.ts';

const cs = { voters: ['a', 'b', 'c'], learners: [] };

test('a conf change returns a new configuration and leaves the old one untouched', () => {
  assert.deepEqual(applyConfChange(cs, { type: 'add-learner', nodeId: 'd' }), { voters: ['a', 'b', 'c'], learners: ['d'] });
  assert.deepEqual(applyConfChange({ voters: ['a'], learners: ['d'] }, { type: 'add-voter', nodeId: 'd' }), { voters: ['a', 'd'], learners: [] });
  assert.deepEqual(applyConfChange(cs, { type: 'remove-node', nodeId: 'b' }), { voters: ['a', 'c'], learners: [] });
  assert.deepEqual(cs, { voters: ['a', 'b', 'c'], learners: [] });
});

test('invalid conf changes are refused with a reason', () => {
  assert.match(applyConfChange({ voters: ['a'], learners: [] }, { type: 'remove-node', nodeId: 'a' }) as string, /last voter/);
  assert.match(applyConfChange(cs, { type: 'add-voter', nodeId: 'a' }) as string, /changes nothing/);
  assert.match(applyConfChange(cs, { type: 'add-voter', nodeId: '' }) as string, /node id/);
});

test('conf change records round-trip and malformed ones are rejected', () => {
  const rec = { change: { type: 'add-voter' as const, nodeId: 'd', context: '10.0.0.4:7000' }, confState: { voters: ['a', 'd'], learners: [] } };
  assert.deepEqual(decodeConfChange(encodeConfChange(rec)), rec);
  assert.throws(() => decodeConfChange(new TextEncoder().encode('{"change":{"type":"nuke","nodeId":"a"},"confState":{"voters":[],"learners":[]}}')));
  assert.throws(() => decodeConfChange(new TextEncoder().encode('not json')));
});

test('the configuration log falls back to the previous configuration when an entry is truncated', () => {
  const log = new ConfigLog(0, cs);
  log.push(5, { voters: ['a', 'b', 'c', 'd'], learners: [] });
  assert.equal(log.currentIndex(), 5);
  assert.ok(log.truncateFrom(5));
  assert.deepEqual(log.current(), cs);
  assert.ok(!log.truncateFrom(3));
});
