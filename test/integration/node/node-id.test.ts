// A node's persisted id: generated at the first start, kept for good, and the migration of a
// data directory written by Ferry 0.1 (test/fixtures/datadir-0.1.tar.gz: a node's data
// directory after its first start, by the single-node replica that named every node `local`).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { LevelStorage } from '../../../cluster/storage/level-storage.ts';
import { configLogDir } from '../../../src/node/config-store.ts';
import { nodeIdFile } from '../../../src/node/node-id.ts';
import { removeDir, repoRoot, sftpBatch, startFerryNode, tempDir } from '../../helpers/ferry-node.ts';

async function logMembers(dataDir: string): Promise<{ voters: readonly string[]; vote: string }> {
  const log = await LevelStorage.open(configLogDir(dataDir));
  try {
    return { voters: log.snapshot().metadata.confState.voters, vote: log.hardState().vote };
  } finally {
    await log.close();
  }
}

test('a first start names the node by a new id of its own and keeps it across restarts', async (t) => {
  const root = tempDir();
  t.after(() => removeDir(root));
  const dataDir = path.join(root, 'data');
  const node = await startFerryNode({ dataDir });
  await node.stop();
  const id = readFileSync(nodeIdFile(dataDir), 'utf8').trim();
  assert.match(id, /^n-[0-9a-f]{12}$/);
  assert.deepEqual(await logMembers(dataDir), { voters: [id], vote: id });
  const again = await startFerryNode({ dataDir });
  await again.stop();
  assert.equal(readFileSync(nodeIdFile(dataDir), 'utf8').trim(), id);
});

test('a data directory written by Ferry 0.1 is migrated from the id "local" and keeps its users', async (t) => {
  const root = tempDir();
  t.after(() => removeDir(root));
  const dataDir = path.join(root, 'data');
  execFileSync('mkdir', ['-p', dataDir]);
  execFileSync('tar', ['-xzf', path.join(repoRoot, 'test/fixtures/datadir-0.1.tar.gz'), '-C', dataDir]);
  assert.deepEqual(await logMembers(dataDir), { voters: ['local'], vote: 'local' }, 'the fixture is a 0.1 directory');
  const password = /ferry \/ (\S+)/.exec(readFileSync(path.join(dataDir, 'initial-credentials.txt'), 'utf8'))?.[1] as string;

  const node = await startFerryNode({ dataDir });
  try {
    const id = readFileSync(nodeIdFile(dataDir), 'utf8').trim();
    assert.match(id, /^n-[0-9a-f]{12}$/);
    const appLog = readFileSync(path.join(dataDir, 'logs', 'ferry.log'), 'utf8');
    assert.match(appLog, /config log migrated/);
    // The first user of the 0.1 node still logs in with its password over real sftp.
    const work = path.join(root, 'client');
    execFileSync('mkdir', ['-p', work]);
    const { stdout } = await sftpBatch(node, { user: 'ferry', password, commands: 'pwd\n', cwd: work, extra: ['-o', 'PubkeyAuthentication=no'] });
    assert.match(stdout, /Remote working directory: \//);
  } finally {
    await node.stop();
  }
  const id = readFileSync(nodeIdFile(dataDir), 'utf8').trim();
  assert.deepEqual(await logMembers(dataDir), { voters: [id], vote: id });

  // A second start finds nothing left to migrate.
  const again = await startFerryNode({ dataDir });
  await again.stop();
  const migrations = readFileSync(path.join(dataDir, 'logs', 'ferry.log'), 'utf8').match(/config log migrated/g) ?? [];
  assert.equal(migrations.length, 1);
});

test('the first start\'s home VFS names no node\'s data directory: each node serves its own files area', async (t) => {
  const root = tempDir();
  t.after(() => removeDir(root));
  const dataDir = path.join(root, 'data');
  const node = await startFerryNode({ dataDir });
  await node.stop();
  const log = await LevelStorage.open(configLogDir(dataDir));
  try {
    const ents = log.entries(log.firstIndex(), log.lastIndex() + 1);
    const text = ents.map((e) => new TextDecoder().decode(e.data)).join('\n');
    assert.match(text, /"target":"\{\{node_files\}\}\/\{\{username\}\}"/);
    assert.ok(!text.includes(dataDir), 'the replicated config does not hold this node\'s data directory');
  } finally {
    await log.close();
  }
});
