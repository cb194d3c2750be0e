import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { Entry } from '../../../../cluster/raft/types.ts';
import { NotLeaderError, RaftReplica, ReplicaFailedError } from '../../../../cluster/replica/raft-replica.ts';
import type { ReplicaStorage, StateMachine } from '../../../../cluster/replica/raft-replica.ts';
import { decodeProposal } from '../../../../cluster/replica/ready-loop.ts';
import { LevelStorage } from '../../../../cluster/storage/level-storage.ts';

const text = (data: Uint8Array) => new TextDecoder().decode(data);
const bytes = (value: string) => new TextEncoder().encode(value);
const nodeId = 'n-00000000000a';

/** Appends each command entry's text to a list; records how it was built. */
class ListMachine implements StateMachine<number> {
  items: string[] = [];
  restoredAt: number | undefined;
  applied: number[] = [];
  batches = 0;
  failOn: string | undefined;
  apply(entry: Entry): number {
    this.applied.push(entry.index);
    if (entry.type !== 'normal' || entry.data.byteLength === 0) return this.items.length;
    if (text(entry.data) === this.failOn) throw new Error('boom');
    this.items.push(text(entry.data));
    return this.items.length;
  }
  afterApply(): void {
    this.batches++;
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

/** The command payloads in a closed replica's log, in order (no-ops left out). */
async function payloads(dir: string): Promise<string[]> {
  const log = await LevelStorage.open(dir);
  try {
    const ents = log.lastIndex() >= log.firstIndex() ? log.entries(log.firstIndex(), log.lastIndex() + 1) : [];
    return ents.filter((e) => e.type === 'normal' && e.data.byteLength > 0).map((e) => text(decodeProposal(e.data).payload));
  } finally {
    await log.close();
  }
}

test('a node of one is a Raft cluster of one: it elects itself on open and leads its own configuration', async (t) => {
  const dir = await tempDir(t);
  const replica = await RaftReplica.open({ dir, stateMachine: new ListMachine(), nodeId });
  const st = replica.status();
  assert.equal(st.role, 'leader');
  assert.equal(st.lead, nodeId);
  assert.deepEqual(st.config, { voters: [nodeId], learners: [] });
  await replica.close();
  const again = await RaftReplica.open({ dir, stateMachine: new ListMachine(), nodeId });
  t.after(() => again.close());
  assert.equal(again.status().term, st.term + 1, 'a restart wins the next term');
});

test('a proposal resolves with its index and apply result once persisted and applied', async (t) => {
  const dir = await tempDir(t);
  const machine = new ListMachine();
  const replica = await RaftReplica.open({ dir, stateMachine: machine, nodeId });
  const proposed = await replica.propose(bytes('a'));
  assert.equal(proposed.result, 1);
  assert.equal(replica.appliedIndex(), proposed.index);
  assert.deepEqual(machine.items, ['a']);
  await replica.close();
  assert.deepEqual(await payloads(dir), ['a'], 'durable in the log before it resolved');
});

test('concurrent proposals are applied in call order, and batched into fewer writes than proposals', async (t) => {
  const dir = await tempDir(t);
  const real = await LevelStorage.open(dir, { voters: [nodeId], learners: [] });
  let saves = 0;
  const counting = countingStorage(real, () => {
    saves++;
  });
  const machine = new ListMachine();
  const replica = await RaftReplica.open({ dir, stateMachine: machine, nodeId, storage: counting });
  t.after(() => replica.close());
  const before = saves;
  const results = await Promise.all(Array.from({ length: 50 }, (_, i) => replica.propose(bytes(`p${i}`))));
  const indexes = results.map((r) => r.index);
  assert.deepEqual(indexes, indexes.slice().sort((a, b) => a - b));
  assert.equal(new Set(indexes).size, 50);
  assert.deepEqual(machine.items, Array.from({ length: 50 }, (_, i) => `p${i}`));
  assert.ok(saves - before < 50, `50 proposals took ${saves - before} writes (group commit)`);
  assert.ok(machine.batches < machine.applied.length, 'afterApply runs once per batch, not per entry');
});

test('a reopened replica restores the latest snapshot and replays only the entries after it', async (t) => {
  const dir = await tempDir(t);
  const first = new ListMachine();
  const replica = await RaftReplica.open({ dir, stateMachine: first, nodeId, snapshotEvery: 3 });
  for (let i = 1; i <= 10; i++) await replica.propose(bytes(`e${i}`));
  const lastApplied = replica.appliedIndex();
  await replica.close();

  const storage = await LevelStorage.open(dir);
  const snapIndex = storage.snapshot().metadata.index;
  assert.ok(snapIndex > 0 && snapIndex <= lastApplied);
  assert.equal(storage.firstIndex(), snapIndex + 1, 'the log was compacted up to the snapshot');
  await storage.close();

  const second = new ListMachine();
  const reopened = await RaftReplica.open({ dir, stateMachine: second, nodeId, snapshotEvery: 3 });
  t.after(() => reopened.close());
  assert.equal(second.restoredAt, snapIndex);
  assert.ok(second.applied.every((index) => index > snapIndex), 'nothing before the snapshot is applied again');
  assert.deepEqual(second.items, first.items);
  const next = await reopened.propose(bytes('e11'));
  assert.ok(next.index > lastApplied);
  assert.deepEqual(second.items.at(-1), 'e11');
});

function countingStorage(real: LevelStorage, onSave: (request: Parameters<LevelStorage['save']>[0]) => Promise<void> | void): ReplicaStorage {
  return {
    initialState: () => real.initialState(),
    hardState: () => real.hardState(),
    snapshot: () => real.snapshot(),
    entries: (lo, hi, max) => real.entries(lo, hi, max),
    firstIndex: () => real.firstIndex(),
    lastIndex: () => real.lastIndex(),
    term: (i) => real.term(i),
    createSnapshot: (...args) => real.createSnapshot(...args),
    close: () => real.close(),
    save: async (request, options) => {
      await onSave(request);
      return real.save(request, options);
    },
  };
}

test('a failed write rejects the proposal, applies nothing, and the replica goes on', async (t) => {
  const dir = await tempDir(t);
  const real = await LevelStorage.open(dir, { voters: [nodeId], learners: [] });
  let failNext = false;
  // Fault injection around the real store: the disk refuses one write.
  const flaky = countingStorage(real, (request) => {
    if (failNext && request.entries?.some((e) => e.data.byteLength > 0)) {
      failNext = false;
      throw new Error('ENOSPC: no space left on device');
    }
  });
  const errors: Error[] = [];
  const machine = new ListMachine();
  const replica = await RaftReplica.open({ dir, stateMachine: machine, nodeId, storage: flaky, onError: (e) => errors.push(e) });
  await replica.propose(bytes('a'));
  failNext = true;
  await assert.rejects(replica.propose(bytes('lost')), /ENOSPC/);
  assert.deepEqual(machine.items, ['a']);
  assert.match(errors[0]?.message ?? '', /could not be written \(ENOSPC/);
  const after = await replica.propose(bytes('b'));
  assert.equal(after.result, 2);
  await replica.close();
  assert.deepEqual(await payloads(dir), ['a', 'b'], 'the failed entry never reached the log');
});

test('a state machine that throws stops the replica instead of skipping the entry', async (t) => {
  const dir = await tempDir(t);
  const machine = new ListMachine();
  machine.failOn = 'poison';
  const replica = await RaftReplica.open({ dir, stateMachine: machine, nodeId });
  t.after(() => replica.close());
  await assert.rejects(replica.propose(bytes('poison')), ReplicaFailedError);
  await assert.rejects(replica.propose(bytes('next')), /restart the node/);
  assert.deepEqual(machine.items, []);
});

test('a node that is not the leader refuses a proposal with a retryable NotLeaderError', async (t) => {
  const dir = await tempDir(t);
  // Two voters and no transport: this node can never win an election alone.
  const storage = await LevelStorage.open(dir, { voters: [nodeId, 'n-00000000000b'], learners: [] });
  const replica = await RaftReplica.open({ dir, stateMachine: new ListMachine(), nodeId, storage });
  t.after(() => replica.close());
  assert.equal(replica.status().role, 'follower');
  await assert.rejects(replica.propose(bytes('x')), (error: unknown) => error instanceof NotLeaderError && /retry/.test(error.message));
});
