// The real OpenSSH sftp client (9.2 here) against Ferry's SFTP server over stdio: every
// command it issues, with the files checked on disk.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { link, lstat, mkdir, readFile, readdir, readlink, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { sftpBatch, tempDir } from './openssh-batch.ts';

async function setup(t: TestContext) {
  const root = await tempDir(t);
  const home = path.join(root, 'home');
  const local = path.join(root, 'local');
  await mkdir(home);
  await mkdir(local);
  return { root, home, local };
}

test('put, ls, get, rename and rm work and leave the right files on disk', async (t) => {
  const { home, local } = await setup(t);
  await writeFile(path.join(local, 'a.txt'), 'alpha\n');
  const r = await sftpBatch({ home }, local, ['put a.txt', 'ls', 'ls -l', 'get a.txt back.txt', 'rename a.txt b.txt', 'put a.txt gone.txt', 'rm gone.txt', 'ls -1']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^-rw-r--r-- +1 alice +alice +6 \w{3} [ \d]\d [\d:]{5} a\.txt$/m);
  assert.equal(await readFile(path.join(local, 'back.txt'), 'utf8'), 'alpha\n');
  assert.equal(await readFile(path.join(home, 'b.txt'), 'utf8'), 'alpha\n');
  await assert.rejects(stat(path.join(home, 'a.txt')));
  await assert.rejects(stat(path.join(home, 'gone.txt')));
  assert.match(r.stdout, /sftp> ls -1\nb\.txt\n/);
});

test('mkdir, cd, pwd and rmdir work, and rmdir of a non-empty directory fails cleanly', async (t) => {
  const { home, local } = await setup(t);
  await writeFile(path.join(local, 'f'), 'x');
  const r = await sftpBatch({ home }, local, ['mkdir d', 'mkdir d/e', 'cd d/e', 'pwd', 'put f', 'cd ..', 'pwd', '-rmdir e', 'rm e/f', 'rmdir e', 'cd /', 'rmdir d', 'ls']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Remote working directory: \/d\/e\n/);
  assert.match(r.stdout, /Remote working directory: \/d\n/);
  assert.match(r.stderr, /remote rmdir "\/d\/e": Failure/);
  await assert.rejects(stat(path.join(home, 'd')));
});

test('rename -l (v3 RENAME) refuses an existing target while rename (posix-rename) replaces it', async (t) => {
  const { home, local } = await setup(t);
  await writeFile(path.join(home, 'a'), 'A');
  await writeFile(path.join(home, 'b'), 'B');
  const r = await sftpBatch({ home }, local, ['-rename -l a b', 'rename a b']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /remote rename "\/a" to "\/b": Failure/);
  assert.equal(await readFile(path.join(home, 'b'), 'utf8'), 'A');
});

test('ln makes a hard link and ln -s a symbolic link that ls -l shows as a link', async (t) => {
  const { home, local } = await setup(t);
  await writeFile(path.join(home, 'target.txt'), 'T');
  const r = await sftpBatch({ home }, local, ['ln target.txt hard.txt', 'ln -s target.txt soft.txt', 'ls -l', 'get soft.txt via-link.txt']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await stat(path.join(home, 'hard.txt'))).nlink, 2);
  assert.ok((await lstat(path.join(home, 'soft.txt'))).isSymbolicLink());
  assert.match(r.stdout, /^lrwxrwxrwx .* soft\.txt$/m);
  assert.equal(await readFile(path.join(local, 'via-link.txt'), 'utf8'), 'T');
  assert.equal(await readlink(path.join(home, 'soft.txt')), 'target.txt');
});

test('chmod changes the mode on disk and chown is refused with a clear client error', async (t) => {
  const { home, local } = await setup(t);
  await writeFile(path.join(home, 'f'), 'x');
  const r = await sftpBatch({ home }, local, ['chmod 600 f', '-chown 0 f']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await stat(path.join(home, 'f'))).mode & 0o777, 0o600);
  assert.match(r.stderr, /ownership/);
});

test('df answers through statvfs@openssh.com', async (t) => {
  const { home, local } = await setup(t);
  const r = await sftpBatch({ home }, local, ['df', 'df -i']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Size +Used +Avail +\(root\) +%Capacity\n +\d+ +\d+ +\d+ +\d+ +\d+%/);
  assert.match(r.stdout, /Inodes +Used +Avail +\(root\) +%Capacity/);
});

test('put -r and get -r copy a tree, and -p preserves modification times and modes', async (t) => {
  const { home, local } = await setup(t);
  const tree = path.join(local, 'tree');
  await mkdir(path.join(tree, 'sub', 'deeper'), { recursive: true });
  await writeFile(path.join(tree, 'one.txt'), '1');
  await writeFile(path.join(tree, 'sub', 'two.txt'), '22');
  await writeFile(path.join(tree, 'sub', 'deeper', 'three.bin'), randomBytes(100_000), { mode: 0o640 });
  const old = new Date('2020-05-01T10:00:00Z');
  await utimes(path.join(tree, 'sub', 'two.txt'), old, old);
  const r = await sftpBatch({ home }, local, ['put -rp tree', 'get -rp tree copy']);
  assert.equal(r.code, 0, r.stderr);
  for (const rel of ['one.txt', 'sub/two.txt', 'sub/deeper/three.bin']) {
    assert.deepEqual(await readFile(path.join(home, 'tree', rel)), await readFile(path.join(tree, rel)), rel);
    assert.deepEqual(await readFile(path.join(local, 'copy', rel)), await readFile(path.join(tree, rel)), rel);
  }
  assert.equal((await stat(path.join(home, 'tree', 'sub', 'two.txt'))).mtime.toISOString(), old.toISOString());
  assert.equal((await stat(path.join(local, 'copy', 'sub', 'two.txt'))).mtime.toISOString(), old.toISOString());
  assert.equal((await stat(path.join(home, 'tree', 'sub', 'deeper', 'three.bin'))).mode & 0o777, 0o640);
});

test('reput, reget, put -a and get -a resume interrupted transfers from where they stopped', async (t) => {
  const { home, local } = await setup(t);
  const body = randomBytes(3_000_000);
  await writeFile(path.join(local, 'up.bin'), body);
  await writeFile(path.join(home, 'up.bin'), body.subarray(0, 1_234_567));
  await writeFile(path.join(home, 'down.bin'), body);
  await writeFile(path.join(local, 'down.bin'), body.subarray(0, 777_777));
  await writeFile(path.join(home, 'up2.bin'), body.subarray(0, 2_000_000));
  await writeFile(path.join(local, 'down2.bin'), body.subarray(0, 1));
  const log = path.join(local, 'transfer.log');
  const r = await sftpBatch({ home, log }, local, ['reput up.bin', 'reget down.bin', 'put -a up.bin up2.bin', 'get -a down.bin down2.bin']);
  assert.equal(r.code, 0, r.stderr);
  // Only the missing bytes travelled: the transfer log counts what each handle moved.
  const records = (await readFile(log, 'utf8')).split('\n').filter((l) => l.startsWith('{"time"')).map((l) => JSON.parse(l));
  const moved = (op: string, p: string) => records.filter((x) => x.operation === op && x.path === p).reduce((sum, x) => sum + x.bytes, 0);
  assert.equal(moved('upload', '/up.bin'), 3_000_000 - 1_234_567);
  assert.equal(moved('upload', '/up2.bin'), 1_000_000);
  assert.equal(moved('download', '/down.bin'), 3_000_000 - 777_777 + 3_000_000 - 1);
  for (const file of [path.join(home, 'up.bin'), path.join(local, 'down.bin'), path.join(home, 'up2.bin'), path.join(local, 'down2.bin')]) {
    assert.deepEqual(await readFile(file), body, file);
  }
});

test('cp copies a file on the server through copy-data', async (t) => {
  const { home, local } = await setup(t);
  const body = randomBytes(1_000_000);
  await writeFile(path.join(home, 'src.bin'), body);
  const r = await sftpBatch({ home }, local, ['cp src.bin dst.bin']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await readFile(path.join(home, 'dst.bin')), body);
});

test('a read-only user gets Permission denied from every write command and can still download', async (t) => {
  const { home, local } = await setup(t);
  await writeFile(path.join(home, 'keep.txt'), 'keep');
  await mkdir(path.join(home, 'dir'));
  await writeFile(path.join(local, 'new.txt'), 'new');
  const r = await sftpBatch({ home, permissions: ['dirList', 'fileGet'] }, local, [
    'get keep.txt',
    '-put new.txt',
    '-mkdir made',
    '-rmdir dir',
    '-rm keep.txt',
    '-rename keep.txt moved.txt',
    '-rename -l keep.txt moved.txt',
    '-chmod 600 keep.txt',
    '-ln -s keep.txt link',
    '-ln keep.txt hard',
    '-cp keep.txt copy.txt',
    'ls',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await readFile(path.join(local, 'keep.txt'), 'utf8'), 'keep');
  const denials = r.stderr.split('\n').filter((line) => /Permission denied/.test(line));
  assert.equal(denials.length, 10, r.stderr);
  assert.deepEqual((await readdir(home)).sort(), ['dir', 'keep.txt']);
});

test('a user without dirList cannot list, and an override allows uploads only in /incoming', async (t) => {
  const { home, local } = await setup(t);
  await mkdir(path.join(home, 'incoming'));
  await writeFile(path.join(local, 'u.txt'), 'u');
  const r = await sftpBatch({ home, permissions: ['fileGet'], overrides: ['/incoming=filePut'] }, local, ['-ls', '-put u.txt', 'put u.txt incoming/u.txt', '-ls incoming']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await readFile(path.join(home, 'incoming', 'u.txt'), 'utf8'), 'u');
  assert.equal(r.stderr.split('\n').filter((line) => /Permission denied/.test(line)).length, 3, r.stderr);
});

test('paths that try to leave the home are confined to it', async (t) => {
  const { root, home, local } = await setup(t);
  await writeFile(path.join(root, 'secret.txt'), 'secret');
  await link(path.join(root, 'secret.txt'), path.join(root, 'secret-hard.txt'));
  const r = await sftpBatch({ home }, local, [
    'cd ..',
    'pwd',
    '-get ../secret.txt s1',
    '-get ../../../../secret.txt s2',
    `-get ${path.join(root, 'secret.txt')} s3`,
    `-ln -s ${path.join(root, 'secret.txt')} out`,
    '-get out s4',
    '-ln -s ../secret.txt out2',
    '-get out2 s5',
    'ls -la',
  ]);
  assert.match(r.stdout, /Remote working directory: \/\n/);
  assert.equal(r.stderr.match(/not found/g)?.length, 3, r.stderr);
  assert.equal(r.stderr.match(/stat remote: No such file or directory/g)?.length, 2, r.stderr);
  for (const name of ['s1', 's2', 's3', 's4', 's5']) {
    const copied = await readFile(path.join(local, name), 'utf8').catch(() => undefined);
    assert.notEqual(copied, 'secret', name);
  }
});

test('globs, put -f (fsync@openssh.com), chmod -h (lsetstat@openssh.com) and ls -n work', async (t) => {
  const { home, local } = await setup(t);
  await writeFile(path.join(home, 'a.txt'), 'a');
  await writeFile(path.join(home, 'b.txt'), 'bb');
  await writeFile(path.join(home, 'c.log'), 'c');
  await writeFile(path.join(local, 'synced.bin'), randomBytes(500_000));
  const r = await sftpBatch({ home }, local, ['get *.txt', 'ls -n *.txt', 'put -f synced.bin', 'chmod -h 640 a.txt', 'ln -s a.txt l', '-chmod -h 600 l']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await readFile(path.join(local, 'a.txt'), 'utf8'), 'a');
  assert.equal(await readFile(path.join(local, 'b.txt'), 'utf8'), 'bb');
  await assert.rejects(stat(path.join(local, 'c.log')));
  assert.match(r.stdout, /^-rw-r--r-- +\? +0 +0 +2 .* b\.txt$/m);
  assert.deepEqual(await readFile(path.join(home, 'synced.bin')), await readFile(path.join(local, 'synced.bin')));
  assert.equal((await stat(path.join(home, 'a.txt'))).mode & 0o777, 0o640);
  assert.match(r.stderr, /Operation unsupported/);
});
