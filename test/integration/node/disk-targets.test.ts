// A user's home must never be Ferry's own data directory (master key, config log, logs) nor a
// system directory: refused by `ferry importusers --makevfs` with the reason, refused at login
// when a symlink or a configuration received from another node leads there, and the files area
// served from inside the data directory cannot reach the secrets beside it. Real CLI, real
// OpenSSH sftp.
import assert from 'node:assert/strict';
import { cpSync, existsSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { removeDir, runFerry, sftpBatch, startFerryNode, tempDir } from '../../helpers/ferry-node.ts';
import type { RunningNode } from '../../helpers/ferry-node.ts';

const PASSWORD = 'password1';

async function importCsv(node: RunningNode, work: string, lines: readonly string[]) {
  const csv = path.join(work, `import-${Date.now()}-${Math.random().toString(36).slice(2)}.csv`);
  writeFileSync(csv, lines.join('\n') + '\n');
  return runFerry(['importusers', '--data', node.dataDir, '--csv', csv, '--vsite', 'default', '--makevfs']);
}

/** Waits (bounded) for the node's app log to hold a line matching `pattern`. */
async function logLine(node: RunningNode, pattern: RegExp): Promise<string> {
  const file = path.join(node.dataDir, 'logs', 'ferry.log');
  for (let i = 0; i < 100; i++) {
    const line = (existsSync(file) ? readFileSync(file, 'utf8') : '').split('\n').find((l) => pattern.test(l));
    if (line) return line;
    await sleep(100);
  }
  assert.fail(`no line matching ${pattern} in ${file}`);
}

/** `get secret.key` as `user` must fail and leave no copy of the master key behind. */
async function assertCannotReadSecret(node: RunningNode, user: string, cwd: string): Promise<void> {
  await assert.rejects(sftpBatch(node, { user, password: PASSWORD, commands: 'get secret.key\n', cwd }));
  assert.equal(existsSync(path.join(cwd, 'secret.key')), false, 'the master key was downloaded');
}

describe('disk VFS targets', () => {
  const work = tempDir();
  let node: RunningNode;

  before(async () => {
    node = await startFerryNode({ dataDir: path.join(work, 'data') });
  });
  after(async () => {
    await node.stop();
    removeDir(work);
  });

  test('importusers --makevfs refuses the data directory, its logs and system directories as homes, saying why', async () => {
    const data = node.dataDir;
    const result = await importCsv(node, work, [
      `u3,"${PASSWORD}",${data},ssh2_sftp,"dirList,fileGet"`,
      `u4,"${PASSWORD}",${path.join(data, 'logs')},ssh2_sftp,"dirList,fileGet"`,
      `u5,"${PASSWORD}",/etc,ssh2_sftp,"dirList,fileGet"`,
      `u6,"${PASSWORD}",/proc,ssh2_sftp,"dirList,fileGet"`,
      `u7,"${PASSWORD}",${work},ssh2_sftp,"dirList,fileGet"`,
    ]);
    assert.equal(result.code, 1, result.stdout + result.stderr);
    const out = result.stdout;
    assert.match(out, new RegExp(`line 1: home directory '${data}' is the node's data directory ${data}, which holds its master key \\(secret\\.key\\), config log and logs`));
    assert.match(out, /line 2: home directory '.*\/logs' is inside the node's data directory .* only its files area .*\/files may hold user folders/);
    assert.match(out, /line 3: home directory '\/etc' is inside the system directory \/etc: operating-system files must never be served/);
    assert.match(out, /line 4: home directory '\/proc' is inside the system directory \/proc/);
    assert.match(out, /line 5: home directory '.*' is a parent of the node's data directory/);
    assert.match(out, /nothing imported/);
    await assertCannotReadSecret(node, 'u3', work);
  });

  test('a home that leads into the data directory through a symlink is refused at login, and nothing is created there', async () => {
    const link = path.join(work, 'link-to-data');
    symlinkSync(node.dataDir, link);
    const result = await importCsv(node, work, [`s1,"${PASSWORD}",${link},ssh2_sftp,"dirList,fileGet"`, `s2,"${PASSWORD}",${path.join(link, 'sub')},ssh2_sftp,"dirList,fileGet"`]);
    assert.equal(result.code, 0, 'the path itself is outside the data directory: only the node can see where it leads');
    await assertCannotReadSecret(node, 's1', work);
    await assertCannotReadSecret(node, 's2', work);
    assert.equal(existsSync(path.join(node.dataDir, 'sub')), false, 'the refused home was not created in the data directory');
    await logLine(node, /"detail":"disk VFS root \S+link-to-data \(really \S+\) is the node's data directory.*"msg":"session refused"/);
  });

  test('the files area is served but cannot reach the data directory beside it', async () => {
    const home = path.join(node.dataDir, 'files', 'f1');
    const result = await importCsv(node, work, [`f1,"${PASSWORD}",${home},ssh2_sftp,"dirList,fileGet,filePut"`]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    writeFileSync(path.join(work, 'up.txt'), 'hello');
    await sftpBatch(node, { user: 'f1', password: PASSWORD, commands: 'put up.txt\n', cwd: work });
    assert.equal(readFileSync(path.join(home, 'up.txt'), 'utf8'), 'hello');
    symlinkSync(node.dataDir, path.join(home, 'escape'));
    for (const attempt of ['../secret.key', '../../secret.key', '/../secret.key', 'escape/secret.key']) {
      await assert.rejects(sftpBatch(node, { user: 'f1', password: PASSWORD, commands: `get ${attempt} stolen.key\n`, cwd: work }), attempt);
      assert.equal(existsSync(path.join(work, 'stolen.key')), false, attempt);
    }
  });
});

describe('a configuration received from another node', () => {
  const work = tempDir();
  after(() => removeDir(work));

  test('whose disk target is this node\'s data directory is applied but not served: logged, and its users refused', async (t) => {
    const a = await startFerryNode({ dataDir: path.join(work, 'a') });
    const bData = path.join(work, 'b');
    // Valid where it was proposed: node a's data directory is elsewhere.
    const imported = await importCsv(a, work, [`r1,"${PASSWORD}",${bData},ssh2_sftp,"dirList,fileGet"`]);
    assert.equal(imported.code, 0, imported.stdout + imported.stderr);
    await a.stop();
    // Node b starts from a's configuration log, as a replica receives it.
    cpSync(a.dataDir, bData, { recursive: true });
    rmSync(path.join(bData, 'logs'), { recursive: true, force: true });
    const b = await startFerryNode({ dataDir: bData });
    t.after(() => b.stop());
    await logLine(b, new RegExp(`disk VFS \\S+ is not served on this node: its target ${bData} is the node's data directory`));
    await assertCannotReadSecret(b, 'r1', work);
  });
});
