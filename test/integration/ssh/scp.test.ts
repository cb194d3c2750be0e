// SCP served over the Session, driven by the real OpenSSH scp: the legacy protocol (`scp -O`)
// both ways, recursive and preserving times, refusals, and modern scp (which uses SFTP).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PASSWORD, execWithInput, run, startHarness, withPassword } from './harness.ts';
import type { Harness } from './harness.ts';

const sha256 = async (file: string) => createHash('sha256').update(await readFile(file)).digest('hex');
const OLD = new Date('2020-01-02T03:04:05Z');

async function makeTree(root: string): Promise<void> {
  await mkdir(path.join(root, 'tree/sub/deeper'), { recursive: true });
  await writeFile(path.join(root, 'tree/hello.txt'), 'hello\n');
  await writeFile(path.join(root, 'tree/sub/random.bin'), randomBytes(3 * 1024 * 1024 + 17));
  await writeFile(path.join(root, 'tree/sub/deeper/empty'), '');
  await writeFile(path.join(root, 'tree/with space.txt'), 'spaced');
  for (const file of ['tree/hello.txt', 'tree/sub/random.bin', 'tree/sub/deeper/empty', 'tree/with space.txt']) {
    await utimes(path.join(root, file), OLD, OLD);
  }
}

async function assertSameTree(a: string, b: string): Promise<void> {
  for (const file of ['hello.txt', 'sub/random.bin', 'sub/deeper/empty', 'with space.txt']) {
    assert.equal(await sha256(path.join(b, file)), await sha256(path.join(a, file)), file);
    assert.equal((await stat(path.join(b, file))).mtime.getTime(), OLD.getTime(), `${file} keeps its mtime`);
  }
}

describe('SCP with the OpenSSH scp and PuTTY pscp clients', () => {
  let h: Harness;
  let local: string;

  before(async () => {
    h = await startHarness();
    local = await mkdtemp(path.join(tmpdir(), 'ferry-scp-local-'));
    await makeTree(local);
  });
  after(async () => {
    await h?.stop();
    await rm(local, { recursive: true, force: true });
  });

  const scp = (args: string[], password?: string) => withPassword('scp', ['-P', String(h.port), ...h.sshOptions(['-o', 'LogLevel=error']), ...args], password);

  it('uploads a tree with scp -O -r -p: contents and times arrive intact', async () => {
    const result = await scp(['-O', '-r', '-p', path.join(local, 'tree'), 'alice@127.0.0.1:/']);
    assert.equal(result.code, 0, result.stderr);
    await assertSameTree(path.join(local, 'tree'), path.join(h.homeDir, 'tree'));
    assert.ok(h.records.some((r) => r.operation === 'upload' && r.protocol === 'ssh2_scp' && r.path === '/tree/sub/random.bin' && r.bytes === 3 * 1024 * 1024 + 17));
  });

  it('keeps file and directory modes with scp -O -p (0640 stays 0640), and the times', async () => {
    const dir = path.join(local, 'moded');
    await mkdir(dir);
    await writeFile(path.join(dir, 'secret.txt'), 'for the group only\n');
    await chmod(path.join(dir, 'secret.txt'), 0o640);
    await chmod(dir, 0o750);
    await utimes(path.join(dir, 'secret.txt'), OLD, OLD);
    const one = await scp(['-O', '-p', path.join(dir, 'secret.txt'), 'alice@127.0.0.1:/secret.txt']);
    assert.equal(one.code, 0, one.stderr);
    const stored = await stat(path.join(h.homeDir, 'secret.txt'));
    assert.equal((stored.mode & 0o777).toString(8), '640');
    assert.equal(stored.mtime.getTime(), OLD.getTime());
    const tree = await scp(['-O', '-r', '-p', dir, 'alice@127.0.0.1:/']);
    assert.equal(tree.code, 0, tree.stderr);
    assert.equal(((await stat(path.join(h.homeDir, 'moded'))).mode & 0o777).toString(8), '750');
    assert.equal(((await stat(path.join(h.homeDir, 'moded/secret.txt'))).mode & 0o777).toString(8), '640');
  });

  it('downloads a tree with scp -O -r -p: contents and times arrive intact', async () => {
    const into = path.join(local, 'down');
    await mkdir(into);
    const result = await scp(['-O', '-r', '-p', 'alice@127.0.0.1:/tree', into]);
    assert.equal(result.code, 0, result.stderr);
    await assertSameTree(path.join(local, 'tree'), path.join(into, 'tree'));
  });

  it('survives rekeying mid-transfer with group exchange and compression', async () => {
    const file = path.join(local, 'tree/sub/random.bin');
    const options = ['-C', '-o', 'RekeyLimit=1M', '-o', 'KexAlgorithms=diffie-hellman-group-exchange-sha256'];
    assert.equal((await scp(['-O', ...options, file, 'alice@127.0.0.1:/rekeyed.bin'])).code, 0);
    assert.equal(await sha256(path.join(h.homeDir, 'rekeyed.bin')), await sha256(file));
    const back = path.join(local, 'rekeyed-back.bin');
    assert.equal((await scp(['-O', ...options, 'alice@127.0.0.1:/rekeyed.bin', back])).code, 0);
    assert.equal(await sha256(back), await sha256(file));
  });

  it('uploads one file to a new name and into a directory', async () => {
    const file = path.join(local, 'tree/hello.txt');
    assert.equal((await scp(['-O', file, 'alice@127.0.0.1:/renamed.txt'])).code, 0);
    assert.equal(await readFile(path.join(h.homeDir, 'renamed.txt'), 'utf8'), 'hello\n');
    await mkdir(path.join(h.homeDir, 'inbox'));
    assert.equal((await scp(['-O', file, 'alice@127.0.0.1:inbox'])).code, 0);
    assert.equal(await readFile(path.join(h.homeDir, 'inbox/hello.txt'), 'utf8'), 'hello\n');
  });

  it('serves PuTTY pscp in SCP mode both ways', async () => {
    const pinned = h.hostKeys.flatMap((key) => ['-hostkey', key.fingerprint]);
    const pscp = (args: string[]) => run('pscp', ['-scp', '-batch', '-q', ...pinned, '-P', String(h.port), '-pw', PASSWORD, ...args]);
    const up = await pscp(['-r', '-p', path.join(local, 'tree'), 'alice@127.0.0.1:/putty']);
    assert.equal(up.code, 0, up.stderr);
    await assertSameTree(path.join(local, 'tree'), path.join(h.homeDir, 'putty'));
    const into = path.join(local, 'putty-down');
    await mkdir(into);
    const down = await pscp(['-r', '-p', 'alice@127.0.0.1:/putty', into]);
    assert.equal(down.code, 0, down.stderr);
    await assertSameTree(path.join(local, 'tree'), path.join(into, 'putty'));
  });

  it('expands wildcards in a legacy scp -O download over the VFS, honouring quotes', async () => {
    await mkdir(path.join(h.homeDir, 'globs/a'), { recursive: true });
    for (const name of ['f1', 'f2', 'g1', '.fhidden', 'f*']) await writeFile(path.join(h.homeDir, 'globs/a', name), name);
    const into = path.join(local, 'globbed');
    await mkdir(into);
    const result = await scp(['-O', 'alice@127.0.0.1:globs/a/f*', `${into}/`]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual((await readdir(into)).sort(), ['f*', 'f1', 'f2']);
    // Quoted for the remote side, the star is a literal name, as with OpenSSH's remote shell.
    const literal = path.join(local, 'literal');
    await mkdir(literal);
    // (-T: OpenSSH's client matches received names against the request as written, quotes
    // included, and so refuses the unquoted name any shell sends back.)
    const quoted = await scp(['-O', '-T', `alice@127.0.0.1:globs/a/'f*'`, `${literal}/`]);
    assert.equal(quoted.code, 0, quoted.stderr);
    assert.deepEqual(await readdir(literal), ['f*']);
    const none = await scp(['-O', 'alice@127.0.0.1:globs/a/zz*', `${literal}/`]);
    assert.notEqual(none.code, 0);
    assert.match(none.stderr, /scp: globs\/a\/zz\*: no such file or directory/i);
    // Confinement holds for patterns too: .. above the root stays at the user's root.
    const above = await scp(['-O', 'alice@127.0.0.1:../../*/a/g*', `${literal}/`]);
    assert.equal(above.code, 0, above.stderr);
    assert.deepEqual((await readdir(literal)).sort(), ['f*', 'g1']);
  });

  it('reports a missing file to the client and exits non-zero', async () => {
    const result = await scp(['-O', 'alice@127.0.0.1:/no-such-file', path.join(local, 'x')]);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /scp: \/no-such-file: /);
  });

  it('downloads with modern scp (SFTP protocol)', async () => {
    const target = path.join(local, 'modern.bin');
    const result = await scp(['alice@127.0.0.1:/tree/sub/random.bin', target]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(await sha256(target), await sha256(path.join(local, 'tree/sub/random.bin')));
  });

  it('uploads a tree with modern scp -r -p (SFTP protocol)', async () => {
    const result = await scp(['-r', '-p', path.join(local, 'tree'), 'alice@127.0.0.1:/modern-up']);
    assert.equal(result.code, 0, result.stderr);
    await assertSameTree(path.join(local, 'tree'), path.join(h.homeDir, 'modern-up'));
  });

  it('never lets an uploaded name climb out of the target', async () => {
    // A hostile peer: ssh feeds hand-written sink records into the exec channel.
    const out = await execWithInput(h, 'scp -t /inbox', 'C0644 5 ../escape.txt\nhello\0');
    assert.match(out.stdout, /\x02scp: unexpected filename: "\.\.\/escape\.txt"/);
    await assert.rejects(stat(path.join(h.homeDir, 'escape.txt')));
    await assert.rejects(stat(path.join(h.dir, 'homes/escape.txt')));
  });

  it('refuses a file name that is not valid UTF-8 instead of inventing one', async () => {
    const out = await execWithInput(h, 'scp -t /', 'C0644 5 bad\xffname.txt\nhello\0');
    assert.match(out.stdout, /\x02scp: .*UTF-8/);
    const names = await readdir(h.homeDir);
    assert.ok(!names.some((name) => name.startsWith('bad')), `no file was created: ${names.join(', ')}`);
  });

  it('aborts an upload whose data stops short, and logs it as incomplete', async () => {
    const out = await execWithInput(h, 'scp -t /', 'C0644 100 short.txt\n0123456789');
    assert.match(out.stdout, /\x02scp: connection ended inside file data/);
    const record = await uploadRecord(h, '/short.txt');
    assert.equal(record.status, 'incomplete');
    assert.equal(record.bytes, 10);
    await assert.rejects(stat(path.join(h.homeDir, 'short.txt')), 'the cut-off upload is not left under its name');
  });

  it('logs an upload the client cancels with an error record as aborted, and leaves no file', async () => {
    const out = await execWithInput(h, 'scp -t /', 'C0644 5 cancelled.txt\nhello\x01read error on the client\n');
    assert.match(out.stdout, /\x01scp: \/cancelled\.txt: client aborted: read error on the client/);
    const record = await uploadRecord(h, '/cancelled.txt');
    assert.equal(record.status, 'aborted');
    await assert.rejects(stat(path.join(h.homeDir, 'cancelled.txt')), 'the cancelled upload is not left under its name');
  });

  it('logs a download the client refuses mid-way as aborted, not incomplete', async () => {
    await writeFile(path.join(h.homeDir, 'refused.txt'), 'not wanted');
    await execWithInput(h, 'scp -f /refused.txt', '\0\x02no room here\n');
    let record;
    for (let i = 0; i < 100 && !record; i++, await new Promise((resolve) => setTimeout(resolve, 20))) {
      record = h.records.find((r) => r.operation === 'download' && r.path === '/refused.txt');
    }
    assert.equal(record?.status, 'aborted');
  });

  it('ignores shell syntax in the command: no command runs, the name is literal', async () => {
    const out = await execWithInput(h, 'scp -f "/tree/$(touch /tmp/ferry-pwned)"', '\0');
    assert.match(out.stdout, /scp: \/tree\/\$\(touch \/tmp\/ferry-pwned\): /);
    await assert.rejects(stat('/tmp/ferry-pwned'));
  });
});

/** The upload's transfer-log line, which is written once a cut-off upload was cleaned up. */
async function uploadRecord(h: Harness, file: string) {
  for (let i = 0; i < 100; i++) {
    const record = h.records.find((r) => r.operation === 'upload' && r.path === file);
    if (record) return record;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`no upload line for ${file}`);
}

describe('SCP uploads cut short under each site upload mode', () => {
  const cutShort = (h: Harness) => execWithInput(h, 'scp -t /', 'C0644 5 cut.txt\nabc');

  it('resume keeps what arrived as <name>.partial, never under the final name', async (t) => {
    const h = await startHarness({ site: { uploadMode: 'resume' } });
    t.after(() => h.stop());
    await cutShort(h);
    assert.equal((await uploadRecord(h, '/cut.txt')).status, 'incomplete');
    assert.equal(await readFile(path.join(h.homeDir, 'cut.txt.partial'), 'utf8'), 'abc');
    await assert.rejects(stat(path.join(h.homeDir, 'cut.txt')));
  });

  it('direct writes in place and still logs the upload incomplete', async (t) => {
    const h = await startHarness({ site: { uploadMode: 'direct' } });
    t.after(() => h.stop());
    await cutShort(h);
    assert.equal((await uploadRecord(h, '/cut.txt')).status, 'incomplete');
    assert.equal(await readFile(path.join(h.homeDir, 'cut.txt'), 'utf8'), 'abc');
    assert.deepEqual(await readdir(h.homeDir), ['cut.txt']);
  });
});

/** `scp -O` of a one-byte local file to `/f` as alice; the local copy is removed after the test. */
async function uploadOneFileWithScpO(h: Harness, t: { after(fn: () => Promise<void>): void }) {
  const local = await mkdtemp(path.join(tmpdir(), 'ferry-scp-'));
  t.after(() => rm(local, { recursive: true, force: true }));
  await writeFile(path.join(local, 'f'), 'x');
  return withPassword('scp', ['-O', '-P', String(h.port), ...h.sshOptions(['-o', 'LogLevel=error']), path.join(local, 'f'), 'alice@127.0.0.1:/f']);
}

describe('SCP refused by account settings and permissions', () => {
  it('tells a user without ssh2_scp that SCP is not enabled', async (t) => {
    const h = await startHarness({ subsystems: ['ssh2_sftp'] });
    t.after(() => h.stop());
    const result = await uploadOneFileWithScpO(h, t);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /SCP is not enabled for this account/);
  });

  it('applies -p modes only with the permission an SFTP setstat needs', async (t) => {
    const h = await startHarness({ permissions: ['dirList', 'fileGet', 'filePut', 'fileModify'] });
    t.after(() => h.stop());
    const local = await mkdtemp(path.join(tmpdir(), 'ferry-scp-'));
    t.after(() => rm(local, { recursive: true, force: true }));
    await writeFile(path.join(local, 'f'), 'x');
    await chmod(path.join(local, 'f'), 0o600);
    const result = await withPassword('scp', ['-O', '-p', '-P', String(h.port), ...h.sshOptions(['-o', 'LogLevel=error']), path.join(local, 'f'), 'alice@127.0.0.1:/f']);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /scp: \/f: .*fileEditMetadata/);
    assert.notEqual((await stat(path.join(h.homeDir, 'f'))).mode & 0o777, 0o600);
  });

  it('passes the session permission refusal through to the client', async (t) => {
    const h = await startHarness({ permissions: ['dirList', 'fileGet'] });
    t.after(() => h.stop());
    const result = await uploadOneFileWithScpO(h, t);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /scp: \/f: .*permission/i);
    await assert.rejects(stat(path.join(h.homeDir, 'f')));
  });
});
