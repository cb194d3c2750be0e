// Account changes from the command line against a running node: the first user's random
// password replaced with `ferry passwd`, and a public key added with `ferry addkey`, each
// checked with the real OpenSSH client; a private key given by mistake (made by the real
// ssh-keygen and puttygen) refused without a byte of it on the terminal.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { callNode } from '../../../src/node/control-client.ts';
import { CLIENT_SSH_OPTIONS, plainShellEnv, removeDir, runFerry, runShell, sftpBatch, startFerryNode, tempDir } from '../../helpers/ferry-node.ts';
import type { RunningNode } from '../../helpers/ferry-node.ts';

const run = promisify(execFile);

/** The command line of the first-start hint: "change it with `...`". */
function printedPasswdCommand(stdout: readonly string[]): string {
  const match = /change it with `([^`]+)`/.exec(stdout.join('\n'));
  assert.ok(match, `first start prints how to change the password; stdout was: ${stdout.join('\n')}`);
  return match[1]!;
}

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

  const addKey = (keyFile: string) => runFerry(['addkey', '--data', node.dataDir, '--vsite', 'default', '--username', 'ferry', '--key-file', keyFile]);

  /** Fails if any line of the key file, or any 16 characters of its key material, is in `output`. */
  function assertNoKeyMaterial(output: string, keyFile: string): void {
    for (const line of readFileSync(keyFile, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l.length >= 8)) {
      assert.ok(!output.includes(line), `${keyFile}: the output repeats the line "${line}"`);
      if (/[:-]/.test(line)) continue; // armor and PPK headers; what follows is key material
      for (let at = 0; at + 16 <= line.length; at++) {
        assert.ok(!output.includes(line.slice(at, at + 16)), `${keyFile}: the output holds key material "${line.slice(at, at + 16)}"`);
      }
    }
  }

  test('addkey refuses every kind of private key without echoing any of it', async () => {
    const passphrase = path.join(work, 'passphrase');
    const noPassphrase = path.join(work, 'no-passphrase');
    writeFileSync(passphrase, 'a long passphrase\n');
    writeFileSync(noPassphrase, '');
    const sshKeygen: [string, string[]][] = [
      ['openssh-ed25519', ['-t', 'ed25519', '-N', '']],
      ['openssh-ed25519-encrypted', ['-t', 'ed25519', '-N', 'a long passphrase']],
      ['pem-rsa', ['-t', 'rsa', '-b', '2048', '-m', 'PEM', '-N', '']],
      ['pem-rsa-encrypted', ['-t', 'rsa', '-b', '2048', '-m', 'PEM', '-N', 'a long passphrase']],
      ['pem-ec', ['-t', 'ecdsa', '-m', 'PEM', '-N', '']],
      ['pem-dsa', ['-t', 'dsa', '-m', 'PEM', '-N', '']],
      ['pkcs8-rsa', ['-t', 'rsa', '-b', '2048', '-m', 'PKCS8', '-N', '']],
      ['pkcs8-ec-encrypted', ['-t', 'ecdsa', '-m', 'PKCS8', '-N', 'a long passphrase']],
    ];
    const puttygen: [string, string[]][] = [
      ['ppk3-ed25519.ppk', ['-t', 'ed25519', '--new-passphrase', noPassphrase]],
      ['ppk3-rsa-encrypted.ppk', ['-t', 'rsa', '-b', '2048', '--new-passphrase', passphrase]],
      ['ppk2-ecdsa.ppk', ['-t', 'ecdsa', '--ppk-param', 'version=2', '--new-passphrase', noPassphrase]],
    ];
    const files: string[] = [];
    for (const [name, args] of sshKeygen) {
      files.push(path.join(work, name));
      await run('ssh-keygen', ['-q', ...args, '-C', 'me@test', '-f', path.join(work, name)]);
    }
    for (const [name, args] of puttygen) {
      files.push(path.join(work, name));
      await run('puttygen', [...args, '-C', 'me@test', '-o', path.join(work, name)]);
    }
    for (const file of files) {
      const result = await addKey(file);
      assert.equal(result.code, 1, `${file}: ${result.stdout}${result.stderr}`);
      assert.match(result.stdout, /this is a private key: pass the \.pub file/, file);
      assertNoKeyMaterial(result.stdout + result.stderr, file);
    }
    // ssh-keygen wrote the .pub beside each private key: the refusal names it.
    assert.match((await addKey(path.join(work, 'pem-ec'))).stdout, /\(\S*pem-ec\.pub\)/);
  });

  test('the node itself refuses private key lines that reach its control socket, echoing none', async () => {
    const key = path.join(work, 'id_socket');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    const pub = readFileSync(`${key}.pub`, 'utf8').trim();
    const lines = [pub, ...readFileSync(key, 'utf8').split('\n')];
    const result = (await callNode(node.dataDir, 'addAuthorizedKeys', { siteId: 'default', username: 'ferry', lines })) as { ok: boolean; lines: string[] };
    assert.equal(result.ok, false);
    assert.match(result.lines.join('\n'), /this is a private key/);
    assertNoKeyMaterial(result.lines.join('\n'), key);
    const again = await addKey(`${key}.pub`);
    assert.match(again.stdout, /1 key\(s\) added/, 'the public half was not added by the refused request');
  });

  test('adding a key that is already there says so and changes nothing', async () => {
    const key = path.join(work, 'id_twice');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'first comment', '-f', key]);
    const first = await addKey(`${key}.pub`);
    assert.equal(first.code, 0, first.stdout + first.stderr);
    const fingerprint = /SHA256:\S+/.exec(first.stdout)?.[0] ?? '';
    assert.ok(fingerprint, first.stdout);

    const second = await addKey(`${key}.pub`);
    assert.equal(second.code, 0, second.stdout + second.stderr);
    assert.ok(second.stdout.includes(`already present for "ferry" in site "default", not added again: ${fingerprint}`), second.stdout);
    assert.match(second.stdout, /nothing changed/);
    assert.doesNotMatch(second.stdout, /added to/);

    // The same key under another comment, beside a new key: only the new one is added.
    const other = path.join(work, 'id_other');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const renamed = readFileSync(`${key}.pub`, 'utf8').replace('first comment', 'laptop');
    writeFileSync(path.join(work, 'both.pub'), renamed + readFileSync(`${other}.pub`, 'utf8'));
    const both = await addKey(path.join(work, 'both.pub'));
    assert.equal(both.code, 0, both.stdout + both.stderr);
    assert.match(both.stdout, /^1 key\(s\) added to "ferry"/m);
    assert.ok(both.stdout.includes(`not added again: ${fingerprint}`), both.stdout);
  });

  test('the first-start hint runs as printed in a plain shell: it names the data directory and changes the password', async () => {
    const command = printedPasswdCommand(node.stdout);
    assert.ok(command.includes(`passwd --data ${node.dataDir} `), command);
    assert.ok(readFileSync(path.join(node.dataDir, 'initial-credentials.txt'), 'utf8').includes(`Change it with: ${command}\n`));
    const result = await runShell(command, { input: 'the printed hint works\n', env: plainShellEnv() });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /password of "ferry" in site "default" changed/);
    await withPassword('the printed hint works');
  });
});

describe('a first start through npx, as the README says', () => {
  test('the hint names npx ferry and the data directory, quoted, and works as printed in the checkout', async (t) => {
    const work = tempDir();
    t.after(() => removeDir(work));
    const node = await startFerryNode({ dataDir: path.join(work, 'my data'), launcher: ['npx', 'ferry'], timeoutMs: 90_000 });
    t.after(() => node.stop());
    const command = printedPasswdCommand(node.stdout);
    assert.equal(command, `npx ferry passwd --data '${node.dataDir}' --vsite default --username ferry`);
    const result = await runShell(command, { input: 'through npx as printed\n', env: plainShellEnv() });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    await sftpBatch(node, { user: 'ferry', password: 'through npx as printed', commands: 'pwd\n', cwd: work, extra: ['-o', 'PubkeyAuthentication=no'] });
    // npm ends on the signal itself; the node under it stops cleanly.
    await node.stop();
    assert.ok(node.stdout.includes('stopping (SIGTERM)'), node.stdout.join('\n'));
  });
});
