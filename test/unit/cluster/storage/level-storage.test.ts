import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { LevelStorage } from '../../../../cluster/storage/level-storage.ts';
import { CompactedError, MemoryStorage, UnavailableError } from '../../../../cluster/raft/storage.ts';
import type { Entry } from '../../../../cluster/raft/types.ts';

const conf = { voters: ['n1'], learners: [] };

function entry(index: number, term: number, text = `e${index}`): Entry {
  return { index, term, type: 'normal', data: new TextEncoder().encode(text) };
}

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ferry-log-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('a reopened store returns exactly what was written', async (t) => {
  const dir = await tempDir(t);
  const store = await LevelStorage.open(dir, conf);
  assert.equal(store.lastIndex(), 0);
  assert.equal(store.firstIndex(), 1);
  await store.save({ entries: [entry(1, 1), entry(2, 1), entry(3, 2)], hardState: { term: 2, vote: 'n1', commit: 3 } });
  await store.close();
  const again = await LevelStorage.open(dir);
  t.after(() => again.close());
  assert.deepEqual(again.entries(1, 4), [entry(1, 1), entry(2, 1), entry(3, 2)]);
  assert.deepEqual(again.hardState(), { term: 2, vote: 'n1', commit: 3 });
  assert.deepEqual(again.initialState().confState, conf);
  assert.equal(again.term(3), 2);
  assert.equal(again.lastIndex(), 3);
});

test('appending over a conflicting suffix replaces it on disk too', async (t) => {
  const dir = await tempDir(t);
  const store = await LevelStorage.open(dir, conf);
  await store.append([entry(1, 1), entry(2, 1), entry(3, 1), entry(4, 1)]);
  await store.append([entry(3, 2, 'new3')]);
  assert.equal(store.lastIndex(), 3);
  await store.close();
  const again = await LevelStorage.open(dir);
  t.after(() => again.close());
  assert.deepEqual(again.entries(1, 4), [entry(1, 1), entry(2, 1), entry(3, 2, 'new3')]);
  await assert.rejects(again.append([entry(6, 2)]), /missing entries before 6/);
});

test('a snapshot with compaction drops old entries and survives a reopen', async (t) => {
  const dir = await tempDir(t);
  const store = await LevelStorage.open(dir, conf);
  await store.append([1, 2, 3, 4, 5].map((i) => entry(i, 1)));
  const snap = await store.createSnapshot(3, conf, Uint8Array.of(9, 9), { compact: true });
  assert.deepEqual(snap.metadata, { index: 3, term: 1, confState: conf });
  await store.close();
  const again = await LevelStorage.open(dir);
  t.after(() => again.close());
  assert.equal(again.firstIndex(), 4);
  assert.equal(again.term(3), 1);
  assert.throws(() => again.entries(3, 5), CompactedError);
  assert.throws(() => again.entries(4, 7), UnavailableError);
  assert.deepEqual(again.entries(4, 6), [entry(4, 1), entry(5, 1)]);
  assert.deepEqual(again.snapshot().data, Uint8Array.of(9, 9));
  await assert.rejects(again.createSnapshot(2, conf, new Uint8Array()), /older than the current snapshot/);
});

test('a snapshot from the leader replaces the whole log', async (t) => {
  const dir = await tempDir(t);
  const store = await LevelStorage.open(dir, conf);
  await store.append([entry(1, 1), entry(2, 1)]);
  await store.save({ snapshot: { metadata: { index: 10, term: 4, confState: conf }, data: Uint8Array.of(1) }, entries: [entry(11, 4)], hardState: { term: 4, vote: '', commit: 11 } });
  await store.close();
  const again = await LevelStorage.open(dir);
  t.after(() => again.close());
  assert.equal(again.firstIndex(), 11);
  assert.equal(again.lastIndex(), 11);
  assert.equal(again.term(10), 4);
  assert.deepEqual(again.hardState().commit, 11);
});

test('it behaves like the Raft core\'s MemoryStorage on the same operations', async (t) => {
  const dir = await tempDir(t);
  const store = await LevelStorage.open(dir, conf);
  t.after(() => store.close());
  const memory = new MemoryStorage(conf);
  const steps: ((s: LevelStorage | MemoryStorage) => unknown)[] = [
    (s) => s.append([entry(1, 1), entry(2, 1), entry(3, 2), entry(4, 2)]),
    (s) => s.append([entry(3, 3), entry(4, 3), entry(5, 3)]),
    (s) => s.compact(2),
    (s) => s.append([entry(1, 1), entry(2, 1), entry(3, 3), entry(6, 3)].slice(0, 3)),
    (s) => s.append([entry(4, 4), entry(5, 4)]),
  ];
  for (const step of steps) {
    await step(store);
    step(memory);
    assert.equal(store.firstIndex(), memory.firstIndex());
    assert.equal(store.lastIndex(), memory.lastIndex());
    assert.deepEqual(store.entries(store.firstIndex(), store.lastIndex() + 1, 10), memory.entries(memory.firstIndex(), memory.lastIndex() + 1, 10));
  }
});

test('a second process cannot open a store that is in use', async (t) => {
  const dir = await tempDir(t);
  const store = await LevelStorage.open(dir, conf);
  t.after(() => store.close());
  const child = await runChild(`import { LevelStorage } from ${JSON.stringify(path.resolve('cluster/storage/level-storage.ts'))};
    try { await LevelStorage.open(${JSON.stringify(dir)}); console.log('opened'); } catch (e) { console.log(e.name + ': ' + e.message); }`);
  assert.match(child.stdout, /StorageLockedError: .*in use by another process/);
});

test('entries written before the process is killed are there after a restart', async (t) => {
  const dir = await tempDir(t);
  // The child appends, then dies by SIGKILL without closing: only fsynced data survives.
  const child = await runChild(`import { LevelStorage } from ${JSON.stringify(path.resolve('cluster/storage/level-storage.ts'))};
    const s = await LevelStorage.open(${JSON.stringify(dir)}, { voters: ['n1'], learners: [] });
    for (let i = 1; i <= 50; i++) await s.save({ entries: [{ index: i, term: 1, type: 'normal', data: new TextEncoder().encode('e' + i) }], hardState: { term: 1, vote: 'n1', commit: i } });
    process.kill(process.pid, 'SIGKILL');`);
  assert.equal(child.signal, 'SIGKILL');
  const store = await LevelStorage.open(dir);
  t.after(() => store.close());
  assert.equal(store.lastIndex(), 50);
  assert.equal(store.hardState().commit, 50);
  assert.deepEqual(store.entries(50, 51), [entry(50, 1)]);
});

function runChild(code: string): Promise<{ stdout: string; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('exit', (_code, signal) => {
      clearTimeout(timer);
      resolve({ stdout, signal });
    });
  });
}

test('a log with a gap is refused at open as corrupt, naming what to do', async (t) => {
  const dir = await tempDir(t);
  const store = await LevelStorage.open(dir, conf);
  await store.append([entry(1, 1), entry(2, 1)]);
  await store.close();
  const { Level } = await import('level');
  const { encodeEntry, entryKey } = await import('../../../../cluster/storage/codec.ts');
  const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.put(entryKey(5), encodeEntry(entry(5, 1)));
  await db.close();
  await assert.rejects(LevelStorage.open(dir), /corrupt .*gap in the log before entry 5.*restore the data directory/);
});

test('a write that is refused leaves the store as it was', async (t) => {
  const dir = await tempDir(t);
  const store = await LevelStorage.open(dir, conf);
  t.after(() => store.close());
  await store.append([entry(1, 1), entry(2, 1), entry(3, 1)]);
  await store.createSnapshot(2, conf, Uint8Array.of(1), { compact: true });
  await assert.rejects(store.applySnapshot({ metadata: { index: 1, term: 1, confState: conf }, data: new Uint8Array() }), /older than the current snapshot/);
  await assert.rejects(store.compact(7), /not available/);
  assert.deepEqual([store.firstIndex(), store.lastIndex(), store.snapshot().metadata.index], [3, 3, 2]);
});
