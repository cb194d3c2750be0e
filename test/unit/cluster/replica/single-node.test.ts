import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { Entry } from '../../../../cluster/raft/types.ts';
import { ReplicaFailedError, SingleNodeReplica } from '../../../../cluster/replica/single-node.ts';
import type { ReplicaStorage, StateMachine } from '../../../../cluster/replica/single-node.ts';
import { LevelStorage } from '../../../../cluster/storage/level-storage.ts';

const text = (data: Uint8Array) => new TextDecoder().decode(data);
const bytes = (value: string) => new TextEncoder().encode(value);

/** Appends each entry's text to a list; records how it was built. */
class ListMachine implements StateMachine<number> {
  items: string[] = [];
  restoredAt: number | undefined;
  applied: number[] = [];
  failOn: string | undefined;
  apply(entry: Entry): number {
    if (text(entry.data) === this.failOn) throw new Error('boom');
    this.applied.push(entry.index);
    this.items.push(text(entry.data));
    return this.items.length;
  }
  snapshot(): Uint8Array {
    return bytes(JSON.stringify(this.items));
  }
  restore(data: Uint8Array, index: number): void {
    this.items = JSON.parse(text(data)) as string[];
    this.restoredAt = index;
  }
}

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ferry-replica-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('a proposal resolves with its index and apply result once persisted and applied', async (t) => {
  const dir = await tempDir(t);
  const machine = new ListMachine();
  const replica = await SingleNodeReplica.open({ dir, stateMachine: machine });
  t.after(() => replica.close());
  const proposed = await replica.propose(bytes('a'));
  assert.deepEqual({ index: proposed.index, result: proposed.result }, { index: 1, result: 1 });
  assert.equal(replica.appliedIndex(), 1);
  assert.deepEqual(machine.items, ['a']);
});

test('concurrent proposals are serialized in call order', async (t) => {
  const dir = await tempDir(t);
  const machine = new ListMachine();
  const replica = await SingleNodeReplica.open({ dir, stateMachine: machine });
  t.after(() => replica.close());
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => replica.propose(bytes(`p${i}`))));
  assert.deepEqual(results.map((r) => r.index), Array.from({ length: 20 }, (_, i) => i + 1));
  assert.deepEqual(machine.items, Array.from({ length: 20 }, (_, i) => `p${i}`));
});

test('a reopened replica restores the latest snapshot and replays only the entries after it', async (t) => {
  const dir = await tempDir(t);
  const first = new ListMachine();
  const replica = await SingleNodeReplica.open({ dir, stateMachine: first, snapshotEvery: 3 });
  for (let i = 1; i <= 10; i++) await replica.propose(bytes(`e${i}`));
  await replica.close();

  const storage = await LevelStorage.open(dir);
  assert.equal(storage.snapshot().metadata.index, 9);
  assert.equal(storage.firstIndex(), 10, 'the log was compacted up to the snapshot');
  const term = storage.hardState().term;
  await storage.close();

  const second = new ListMachine();
  const reopened = await SingleNodeReplica.open({ dir, stateMachine: second, snapshotEvery: 3 });
  t.after(() => reopened.close());
  assert.equal(second.restoredAt, 9);
  assert.deepEqual(second.applied, [10]);
  assert.deepEqual(second.items, first.items);
  const next = await reopened.propose(bytes('e11'));
  assert.equal(next.index, 11);
  assert.equal(next.term, term + 1, 'a restart starts a new term');
});

test('a failed persist rejects the proposal and never applies it', async (t) => {
  const dir = await tempDir(t);
  const real = await LevelStorage.open(dir, { voters: ['local'], learners: [] });
  let failNext = false;
  // Fault injection around the real store: the disk refuses one write.
  const flaky: ReplicaStorage = {
    hardState: () => real.hardState(),
    snapshot: () => real.snapshot(),
    entries: (lo, hi, max) => real.entries(lo, hi, max),
    firstIndex: () => real.firstIndex(),
    lastIndex: () => real.lastIndex(),
    term: (i) => real.term(i),
    createSnapshot: (...args) => real.createSnapshot(...args),
    close: () => real.close(),
    save: (request) => {
      if (failNext && request.entries) {
        failNext = false;
        return Promise.reject(new Error('ENOSPC: no space left on device'));
      }
      return real.save(request);
    },
  };
  const machine = new ListMachine();
  const replica = await SingleNodeReplica.open({ dir, stateMachine: machine, storage: flaky });
  t.after(() => replica.close());
  await replica.propose(bytes('a'));
  failNext = true;
  await assert.rejects(replica.propose(bytes('lost')), /ENOSPC/);
  assert.deepEqual(machine.items, ['a']);
  assert.equal(replica.appliedIndex(), 1);
  const after = await replica.propose(bytes('b'));
  assert.equal(after.index, 2, 'the failed entry did not take an index');
  assert.deepEqual(real.entries(1, 3).map((e) => text(e.data)), ['a', 'b']);
});

test('a state machine that throws stops the replica instead of skipping the entry', async (t) => {
  const dir = await tempDir(t);
  const machine = new ListMachine();
  machine.failOn = 'poison';
  const replica = await SingleNodeReplica.open({ dir, stateMachine: machine });
  t.after(() => replica.close());
  await assert.rejects(replica.propose(bytes('poison')), ReplicaFailedError);
  await assert.rejects(replica.propose(bytes('next')), /restart the node/);
  assert.deepEqual(machine.items, []);
});
