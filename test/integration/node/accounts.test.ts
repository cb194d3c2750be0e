// Account changes from the command line against a running node: the first user's random
// password replaced with `ferry passwd`, and a public key added with `ferry addkey`, each
// checked with the real OpenSSH client.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { CLIENT_SSH_OPTIONS, removeDir, runFerry, sftpBatch, startFerryNode, tempDir } from '../../helpers/ferry-node.ts';
import type { RunningNode } from '../../helpers/ferry-node.ts';

const run = promisify(execFile);

describe('ferry passwd and ferry addkey', () => {
  const work = tempDir();
  let node: RunningNode;
  let firstPassword: string;
  const batch = path.join(work, 'pwd.batch');
  writeFileSync(batch, 'pwd\n');

  const withPassword = (password: string) =>
    sftpBatch(node, { user: 'ferry', password, commands: 'pwd\n', cwd: work, extra: ['-o', 'PubkeyAuthentication=no'] });

  before(async () => {
    node = await startFerryNode({ dataDir: path.join(work, 'data') });
    firstPassword = /with password (\S+)/.exec(node.stdout.join('\n'))?.[1] ?? '';
    assert.ok(firstPassword, 'first start printed a password');
  });
  after(async () => {
    await node.stop();
    removeDir(work);
  });

  test('passwd replaces the password: the new one logs in, the old one no longer does', async () => {
    const result = await runFerry(['passwd', '--data', node.dataDir, '--vsite', 'default', '--username', 'ferry'], {
      input: 'a much better passphrase\n',
    });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /password of "ferry" in site "default" changed/);
    await withPassword('a much better passphrase');
    await assert.rejects(withPassword(firstPassword));
  });

  test('passwd refuses a short password and an unknown user, changing nothing', async () => {
    const short = await runFerry(['passwd', '--data', node.dataDir, '--vsite', 'default', '--username', 'ferry'], { input: 'short\n' });
    assert.equal(short.code, 1);
    assert.match(short.stdout, /at least 8 characters/);
    const unknown = await runFerry(['passwd', '--data', node.dataDir, '--vsite', 'default', '--username', 'nobody'], { input: 'long enough pw\n' });
    assert.equal(unknown.code, 1);
    assert.match(unknown.stdout, /no user "nobody" in site "default"/);
    await withPassword('a much better passphrase');
  });

  test('addkey lets the key log in without a password, and refuses a line that is not a key', async () => {
    const key = path.join(work, 'id_ed25519');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    const bad = path.join(work, 'bad.pub');
    writeFileSync(bad, 'ssh-ed25519 not-base64!!\n');
    const refused = await runFerry(['addkey', '--data', node.dataDir, '--vsite', 'default', '--username', 'ferry', '--key-file', bad]);
    assert.equal(refused.code, 1);
    assert.match(refused.stdout, /key line 1: .*\nno key added/);

    const added = await runFerry(['addkey', '--data', node.dataDir, '--vsite', 'default', '--username', 'ferry', '--key-file', `${key}.pub`]);
    assert.equal(added.code, 0, added.stdout + added.stderr);
    assert.match(added.stdout, /1 key\(s\) added to "ferry".*SHA256:/);
    const { stdout } = await run(
      'sftp',
      ['-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-i', key, ...CLIENT_SSH_OPTIONS, '-P', String(node.sftpPort), '-b', batch, 'ferry@127.0.0.1'],
      { timeout: 30_000 },
    );
    assert.match(stdout, /Remote working directory: \//);
  });
});
