import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { RaftReplica } from '../../../cluster/replica/raft-replica.ts';
import { LevelStorage } from '../../../cluster/storage/level-storage.ts';
import { encodeCommand, encodeSnapshot } from '../../../src/config/codec.ts';
import type { ConfigView } from '../../../src/config/view.ts';
import { configLogDir, ConfigValidationError, openConfigStore } from '../../../src/node/config-store.ts';
import type { ConfigStore } from '../../../src/node/config-store.ts';
import { command, site, user, vfs } from '../config/fixtures.ts';

// A node of one, as a first start names it (node/node-id.ts).
const nodeId = 'n-00000000000a';
// Every open of a node of one elects it anew, and a new leader's first entry is a no-op: the
// first command of a fresh store lands at index 2.

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ferry-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function populate(store: ConfigStore): Promise<void> {
  for (const cmd of [
    command({ type: 'site.put', site: site() }),
    command({ type: 'vfs.put', vfs: vfs() }),
    command({ type: 'vfs.put', vfs: vfs({ id: 'shared', target: '/srv/shared' }) }),
    command({ type: 'user.put', user: user() }),
    command({ type: 'settings.update', settings: { serverName: 'Quay' } }),
  ]) {
    const result = await store.propose(cmd);
    assert.equal(result.ok, true, JSON.stringify(result));
  }
}

test('a valid command is applied and visible in the next view', async (t) => {
  const store = await openConfigStore({ dataDir: await tempDir(t), nodeId });
  t.after(() => store.close());
  await populate(store);
  const view = store.current();
  assert.equal(view.revision, 6);
  assert.equal(view.user('default', 'alice')?.homeVfsId, 'home');
  assert.equal(view.settings.serverName, 'Quay');
  assert.ok(Object.isFrozen(store.state().users['default/alice']), 'state() cannot be mutated by callers');
});

test('an invalid command is rejected with its errors and nothing is appended', async (t) => {
  const store = await openConfigStore({ dataDir: await tempDir(t), nodeId });
  t.after(() => store.close());
  await populate(store);
  await assert.rejects(store.propose(command({ type: 'vfs.delete', vfsId: 'home' })), (error: ConfigValidationError) => {
    assert.ok(error instanceof ConfigValidationError);
    assert.match(error.errors[0]!.message, /still used by default\/alice/);
    return true;
  });
  assert.equal(store.state().appliedIndex, 6);
  const next = await store.propose(command({ type: 'user.put', user: user({ username: 'bob' }) }));
  assert.deepEqual(next, { ok: true, index: 7 });
});

test('a command that went stale before its turn is refused at apply and still takes its index', async (t) => {
  const store = await openConfigStore({ dataDir: await tempDir(t), nodeId });
  t.after(() => store.close());
  await populate(store);
  await store.propose(command({ type: 'vfs.put', vfs: vfs({ id: 'spare', target: '/srv/spare' }) }));
  // Both validate against the same state; the delete commits first.
  const [deleted, put] = await Promise.all([
    store.propose(command({ type: 'vfs.delete', vfsId: 'spare' })),
    store.propose(command({ type: 'user.put', user: user({ username: 'bob', homeVfsId: 'spare' }) })),
  ]);
  assert.deepEqual(deleted, { ok: true, index: 8 });
  assert.equal(put.ok, false);
  assert.equal(put.index, 9);
  assert.equal(store.current().user('default', 'bob'), undefined);
});

test('subscribers get a new frozen view after each apply until they unsubscribe', async (t) => {
  const store = await openConfigStore({ dataDir: await tempDir(t), nodeId });
  t.after(() => store.close());
  const seen: ConfigView[] = [];
  const unsubscribe = store.subscribe((view) => seen.push(view));
  await populate(store);
  assert.deepEqual(seen.map((view) => view.revision), [2, 3, 4, 5, 6]);
  assert.ok(Object.isFrozen(seen[4]!.user('default', 'alice')));
  assert.equal(seen[0]!.user('default', 'alice'), undefined, 'old views never change');
  unsubscribe();
  await store.propose(command({ type: 'settings.update', settings: { serverName: 'Pier' } }));
  assert.equal(seen.length, 5);
});

test('a restarted store replays to the same state, with or without snapshots', async (t) => {
  for (const snapshotEvery of [1, 2, 1000]) {
    const dataDir = await tempDir(t);
    const store = await openConfigStore({ dataDir, nodeId, snapshotEvery });
    await populate(store);
    await store.propose(command({ type: 'user.put', user: user({ username: 'bob' }) }));
    await store.propose(command({ type: 'user.delete', siteId: 'default', username: 'alice' }));
    const before = store.state();
    await store.close();
    const reopened = await openConfigStore({ dataDir, nodeId, snapshotEvery });
    // Equal but for the applied index, which the restarted leader's no-op moved by one.
    assert.equal(reopened.state().appliedIndex, before.appliedIndex + 1);
    assert.deepEqual(encodeSnapshot({ ...reopened.state(), appliedIndex: 0 }), encodeSnapshot({ ...before, appliedIndex: 0 }), `snapshotEvery ${snapshotEvery}`);
    assert.equal(reopened.current().user('default', 'bob')?.username, 'bob');
    await reopened.close();
  }
});

test('an entry persisted but not applied before a crash is applied on restart', async (t) => {
  const dataDir = await tempDir(t);
  const store = await openConfigStore({ dataDir, nodeId });
  await populate(store);
  await store.close();
  // Simulates the crash window: the entry reached the disk, the process died before apply.
  const log = await LevelStorage.open(configLogDir(dataDir));
  const index = log.lastIndex() + 1;
  const entry = { index, term: log.hardState().term, type: 'normal' as const, data: encodeCommand(command({ type: 'user.put', user: user({ username: 'carol' }) })) };
  await log.save({ entries: [entry], hardState: { ...log.hardState(), commit: index } });
  await log.close();
  const reopened = await openConfigStore({ dataDir, nodeId });
  t.after(() => reopened.close());
  assert.equal(reopened.state().appliedIndex, index + 1, 'applied, then the restarted leader\'s no-op');
  assert.ok(reopened.current().user('default', 'carol'));
});

test('a node killed right after proposals resolve keeps every acknowledged change', async (t) => {
  const dataDir = await tempDir(t);
  const modules = {
    store: path.resolve('src/node/config-store.ts'),
    fixtures: path.resolve('test/unit/config/fixtures.ts'),
  };
  const code = `import { openConfigStore } from ${JSON.stringify(modules.store)};
    import { command, site, user, vfs } from ${JSON.stringify(modules.fixtures)};
    const store = await openConfigStore({ dataDir: ${JSON.stringify(dataDir)}, nodeId: ${JSON.stringify(nodeId)}, snapshotEvery: 4 });
    await store.propose(command({ type: 'site.put', site: site() }));
    await store.propose(command({ type: 'vfs.put', vfs: vfs() }));
    await store.propose(command({ type: 'vfs.put', vfs: vfs({ id: 'shared', target: '/srv/shared' }) }));
    for (let i = 0; i < 7; i++) await store.propose(command({ type: 'user.put', user: user({ username: 'u' + i }) }));
    process.stdout.write('done\\n');
    process.kill(process.pid, 'SIGKILL');`;
  const outcome = await new Promise<{ stdout: string; signal: NodeJS.Signals | null }>((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('exit', (_code, signal) => {
      clearTimeout(timer);
      resolve({ stdout, signal });
    });
  });
  assert.equal(outcome.stdout, 'done\n');
  assert.equal(outcome.signal, 'SIGKILL');
  const store = await openConfigStore({ dataDir, nodeId, snapshotEvery: 4 });
  t.after(() => store.close());
  assert.equal(store.state().appliedIndex, 12, 'a no-op, 10 commands, the reopened leader\'s no-op');
  assert.deepEqual(store.current().users('default').map((u) => u.username), ['u0', 'u1', 'u2', 'u3', 'u4', 'u5', 'u6']);
});

test('the replica is pluggable: the store drives whatever replica it is given', async (t) => {
  const dataDir = await tempDir(t);
  const logDir = path.join(dataDir, 'elsewhere');
  let opened = 0;
  const store = await openConfigStore({
    dataDir,
    nodeId,
    openReplica: (stateMachine) => {
      opened++;
      return RaftReplica.open({ dir: logDir, stateMachine, nodeId: 'n7' });
    },
  });
  await populate(store);
  await store.close();
  assert.equal(opened, 1);
  const log = await LevelStorage.open(logDir);
  t.after(() => log.close());
  assert.equal(log.lastIndex(), 6);
  assert.deepEqual(log.snapshot().metadata.confState.voters, ['n7']);
});

test('a log entry that is not a valid command is refused on replay and the store carries on', async (t) => {
  const dataDir = await tempDir(t);
  const store = await openConfigStore({ dataDir, nodeId });
  await populate(store);
  const before = store.state();
  await store.close();
  const log = await LevelStorage.open(configLogDir(dataDir));
  const index = log.lastIndex() + 1;
  const data = new TextEncoder().encode('{"type":"future.command","id":"x","at":1,"actor":"newer"}');
  await log.save({ entries: [{ index, term: log.hardState().term, type: 'normal', data }], hardState: { ...log.hardState(), commit: index } });
  await log.close();
  const reopened = await openConfigStore({ dataDir, nodeId });
  t.after(() => reopened.close());
  assert.equal(reopened.state().appliedIndex, index + 1);
  assert.deepEqual({ ...reopened.state(), appliedIndex: 0 }, { ...before, appliedIndex: 0 });
  assert.deepEqual(await reopened.propose(command({ type: 'settings.update', settings: { serverName: 'Next' } })), { ok: true, index: index + 2 });
});

test('a corrupt config snapshot stops the store from opening with a clear error', async (t) => {
  const dataDir = await tempDir(t);
  const store = await openConfigStore({ dataDir, nodeId });
  await populate(store);
  await store.close();
  const log = await LevelStorage.open(configLogDir(dataDir));
  await log.createSnapshot(log.lastIndex(), log.snapshot().metadata.confState, new TextEncoder().encode('{"version":1,"state":{}}'), { compact: true });
  await log.close();
  await assert.rejects(openConfigStore({ dataDir, nodeId }), /invalid snapshot: state.appliedIndex is required/);
});

test('a proposal retried with the same command id is applied once and answers with the first outcome', async (t) => {
  const dataDir = await tempDir(t);
  const store = await openConfigStore({ dataDir, nodeId });
  await populate(store);
  const putBob = command({ type: 'user.put', user: user({ username: 'bob' }) });
  assert.deepEqual(await store.propose(putBob), { ok: true, index: 7 });
  await store.propose(command({ type: 'user.delete', siteId: 'default', username: 'bob' }));
  // The proposer never heard the answer (leader change, dropped socket) and retries.
  assert.deepEqual(await store.propose(putBob), { ok: true, duplicateOf: 7, index: 7 });
  assert.equal(store.state().appliedIndex, 8, 'nothing was appended for the retry');
  assert.equal(store.current().user('default', 'bob'), undefined);
  await store.close();
  // A retry that reached the log twice (two leaders both appended it) applies once on replay.
  const log = await LevelStorage.open(configLogDir(dataDir));
  const index = log.lastIndex() + 1;
  await log.save({ entries: [{ index, term: log.hardState().term, type: 'normal', data: encodeCommand(putBob) }], hardState: { ...log.hardState(), commit: index } });
  await log.close();
  const reopened = await openConfigStore({ dataDir, nodeId });
  t.after(() => reopened.close());
  assert.equal(reopened.state().appliedIndex, index + 1);
  assert.equal(reopened.current().user('default', 'bob'), undefined);
});

test('an entry committed under looser rules replays into the state after a restart', async (t) => {
  const dataDir = await tempDir(t);
  const store = await openConfigStore({ dataDir, nodeId });
  await populate(store);
  await store.close();
  // Written by an older version whose rules let this VFS target and username through.
  const legacy = [
    command({ type: 'vfs.put', vfs: vfs({ id: 'legacy', target: 'relative/dir' }) }),
    command({ type: 'user.put', user: user({ username: 'Legacy User', homeVfsId: 'legacy', virtualFolders: [] }) }),
  ];
  const log = await LevelStorage.open(configLogDir(dataDir));
  const first = log.lastIndex() + 1;
  await log.save({
    entries: legacy.map((cmd, i) => ({ index: first + i, term: log.hardState().term, type: 'normal' as const, data: encodeCommand(cmd) })),
    hardState: { ...log.hardState(), commit: first + legacy.length - 1 },
  });
  await log.close();
  const reopened = await openConfigStore({ dataDir, nodeId });
  t.after(() => reopened.close());
  assert.ok(reopened.validate(legacy[0]!).length > 0, 'today a proposal like it is refused');
  assert.equal(reopened.current().user('default', 'Legacy User')?.homeVfsId, 'legacy');
  assert.equal(reopened.state().vfs['legacy']?.target, 'relative/dir');
});
