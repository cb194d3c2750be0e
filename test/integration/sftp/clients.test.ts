// Other SFTP clients over real SSH (the site's ssh2 server with Ferry's SFTP codec): each has
// its own habits (rclone's posix-rename and statvfs, curl's quote commands, psftp's reput,
// paramiko's append mode and readlink) that OpenSSH's client alone would not exercise.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { lstat, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { PASSWORD, PYTHON, makeClientKey, startHarness } from '../ssh/harness.ts';
import type { Harness } from '../ssh/harness.ts';
import { tempDir } from './openssh-batch.ts';

function exec(cmd: string, args: string[], input = ''): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
    child.stdin.end(input);
  });
}

async function harness(t: TestContext): Promise<{ h: Harness; local: string; keyPath: string }> {
  const local = await tempDir(t);
  const key = await makeClientKey(local, 'ed25519');
  const h = await startHarness({ user: { authorizedKeys: [key.publicLine] } });
  t.after(() => h.stop());
  await mkdir(h.homeDir, { recursive: true });
  return { h, local, keyPath: key.privatePath };
}

test('rclone copies, lists, moves (posix-rename), reports space (statvfs) and purges', async (t) => {
  const { h, local, keyPath } = await harness(t);
  await writeFile(path.join(local, 'r.txt'), 'rclone data');
  const remote = `:sftp,host=127.0.0.1,port=${h.port},user=alice,key_file=${keyPath}:`;
  const rclone = (...args: string[]) => exec('rclone', ['--config', '/dev/null', ...args]);
  assert.equal((await rclone('copy', path.join(local, 'r.txt'), `${remote}dir`)).code, 0);
  assert.match((await rclone('lsl', remote)).out, /^ +11 \d{4}-\d\d-\d\d .* dir\/r\.txt$/m);
  assert.equal((await rclone('moveto', `${remote}dir/r.txt`, `${remote}dir/m.txt`)).code, 0);
  assert.equal(await readFile(path.join(h.homeDir, 'dir', 'm.txt'), 'utf8'), 'rclone data');
  assert.match((await rclone('about', remote)).out, /Total: +\d/);
  assert.equal((await rclone('purge', `${remote}dir`)).code, 0);
  await assert.rejects(stat(path.join(h.homeDir, 'dir')));
});

test('curl uploads, lists, downloads and runs quote commands', async (t) => {
  const { h, local } = await harness(t);
  await writeFile(path.join(local, 'c.txt'), 'curl data\n');
  const url = `sftp://127.0.0.1:${h.port}`;
  const curl = (...args: string[]) => exec('curl', ['-sS', '--insecure', '-u', `alice:${PASSWORD}`, ...args]);
  assert.equal((await curl('-T', path.join(local, 'c.txt'), `${url}/c.txt`)).code, 0);
  assert.match((await curl(`${url}/`)).out, /^-rw-r--r-- +1 alice +alice +10 .* c\.txt$/m);
  assert.equal((await curl(`${url}/c.txt`)).out, 'curl data\n');
  const quoted = await curl('-Q', 'mkdir /qdir', '-Q', 'rename /c.txt /qdir/c.txt', '-Q', 'chmod 600 /qdir/c.txt', '-Q', 'symlink /qdir/c.txt /l', `${url}/`);
  assert.equal(quoted.code, 0, quoted.out);
  assert.equal((await stat(path.join(h.homeDir, 'qdir', 'c.txt'))).mode & 0o777, 0o600);
  assert.ok((await lstat(path.join(h.homeDir, 'l'))).isSymbolicLink());
  const refused = await curl('-Q', 'rmdir /qdir', `${url}/`);
  assert.notEqual(refused.code, 0);
});

test('psftp (PuTTY) puts, resumes with reput, lists, renames and removes', async (t) => {
  const { h, local } = await harness(t);
  const body = Buffer.alloc(300_000, 'p');
  await writeFile(path.join(local, 'p.bin'), body);
  await writeFile(path.join(h.homeDir, 'half.bin'), body.subarray(0, 100_000));
  const script = [`put ${local}/p.bin p.bin`, `reput ${local}/p.bin half.bin`, 'ls', 'mkdir pd', 'mv p.bin pd/p.bin', `get pd/p.bin ${local}/back.bin`, 'rm pd/p.bin', 'rmdir pd', 'quit'];
  const r = await exec('psftp', ['-batch', '-P', String(h.port), '-pw', PASSWORD, '-hostkey', h.hostKeys[0]!.fingerprint, 'alice@127.0.0.1'], script.join('\n') + '\n');
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /reput: restarting at file position 100000/);
  assert.deepEqual(await readFile(path.join(h.homeDir, 'half.bin')), body);
  assert.deepEqual(await readFile(path.join(local, 'back.bin')), body);
  await assert.rejects(stat(path.join(h.homeDir, 'pd')));
});

test('paramiko appends, sets times and modes, follows links and reports missing files as ENOENT', async (t) => {
  const { h } = await harness(t);
  const script = `
import paramiko, sys, errno
t = paramiko.Transport(('127.0.0.1', int(sys.argv[1]))); t.connect(username='alice', password=sys.argv[2])
s = paramiko.SFTPClient.from_transport(t)
with s.open('a.txt', 'w') as f: f.write(b'one')
with s.open('a.txt', 'a') as f: f.write(b'two')
s.chmod('a.txt', 0o640); s.utime('a.txt', (1000000000, 1000000000))
s.symlink('a.txt', 'link')
st = s.stat('link'); print('size', st.st_size, 'mode', oct(st.st_mode), 'mtime', st.st_mtime)
print('names', sorted(s.listdir('.')))
print('cwd', s.normalize('.'))
try: s.stat('nope')
except IOError as e: print('missing', e.errno == errno.ENOENT)
t.close()
`;
  const r = await exec(PYTHON, ['-c', script, String(h.port), PASSWORD]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /size 6 mode 0o100640 mtime 1000000000/);
  assert.match(r.out, /names \['a\.txt', 'link'\]/);
  assert.match(r.out, /cwd \/\n/);
  assert.match(r.out, /missing True/);
  assert.equal(await readFile(path.join(h.homeDir, 'a.txt'), 'utf8'), 'onetwo');
});
