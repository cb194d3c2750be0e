// Whole-node transfers with real clients at the sizes and concurrency users depend on: 1 GiB
// each way with OpenSSH sftp (checksums compared), 50 sessions at once, interrupted transfers
// resumed with reput/reget, and Python paramiko.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, statSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { importCsvUser, removeDir, sftpBatch, startFerryNode, tempDir } from '../../helpers/ferry-node.ts';
import type { RunningNode } from '../../helpers/ferry-node.ts';

const run = promisify(execFile);
const PASSWORD = 'transfer tests pw';

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function moverBatch(node: RunningNode, commands: string, cwd: string, timeoutMs = 300_000) {
  return sftpBatch(node, { user: 'mover', password: PASSWORD, commands, cwd, timeoutMs });
}

/** Writes `mib` MiB of random data without holding it in memory. */
async function randomFile(file: string, mib: number): Promise<void> {
  await run('sh', ['-c', `head -c ${mib * 1024 * 1024} /dev/urandom > '${file}'`], { timeout: 120_000 });
}

describe('transfers through a whole node', () => {
  const work = tempDir();
  const home = path.join(work, 'home');
  let node: RunningNode;

  before(async () => {
    node = await startFerryNode({ dataDir: path.join(work, 'data') });
    await importCsvUser(node, {
      username: 'mover',
      password: PASSWORD,
      home,
      work,
      subsystems: ['ssh2_sftp', 'ssh2_scp'],
      permissions: ['dirList', 'dirMake', 'dirRename', 'dirDelete', 'fileGet', 'filePut', 'fileModify', 'fileRename', 'fileDelete'],
    });
  });
  after(async () => {
    await node.stop();
    removeDir(work);
  });

  test('a 1 GiB file goes up and comes back down byte for byte with OpenSSH sftp', async () => {
    const source = path.join(work, 'big.bin');
    await randomFile(source, 1024);
    const expected = await sha256(source);
    await moverBatch(node, 'put big.bin\nget big.bin big.back\n', work);
    assert.equal(statSync(path.join(home, 'big.bin')).size, 1024 * 1024 * 1024);
    assert.equal(await sha256(path.join(home, 'big.bin')), expected, 'uploaded copy differs');
    assert.equal(await sha256(path.join(work, 'big.back')), expected, 'downloaded copy differs');
    removeDir(source);
    removeDir(path.join(work, 'big.back'));
    removeDir(path.join(home, 'big.bin'));
  });

  test('50 sessions at once each upload and download their own file intact', async () => {
    const clients = Array.from({ length: 50 }, (_, i) => i);
    for (const i of clients) writeFileSync(path.join(work, `c${i}.bin`), randomBytes(256 * 1024 + i));
    const runs = clients.map((i) => moverBatch(node, `put c${i}.bin\nget c${i}.bin c${i}.back\n`, work, 180_000));
    const results = await Promise.allSettled(runs);
    const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [`client ${i}: ${String(r.reason)}`] : []));
    assert.deepEqual(failed, []);
    for (const i of clients) {
      assert.equal(await sha256(path.join(home, `c${i}.bin`)), await sha256(path.join(work, `c${i}.bin`)));
      assert.equal(await sha256(path.join(work, `c${i}.back`)), await sha256(path.join(work, `c${i}.bin`)));
    }
  });

  test('an interrupted upload and download are resumed with reput and reget', async () => {
    const source = path.join(work, 'resume.bin');
    await randomFile(source, 64);
    const expected = await sha256(source);
    // A partial upload: the first 20 MiB are already on the server (as after a dropped link).
    await run('sh', ['-c', `head -c ${20 * 1024 * 1024} '${source}' > '${path.join(home, 'resume.bin')}'`]);
    await moverBatch(node, 'reput resume.bin\n', work);
    assert.equal(await sha256(path.join(home, 'resume.bin')), expected);

    await run('cp', [source, path.join(work, 'partial.bin')]);
    truncateSync(path.join(work, 'partial.bin'), 7 * 1024 * 1024 + 13);
    await moverBatch(node, 'reget resume.bin partial.bin\n', work);
    assert.equal(await sha256(path.join(work, 'partial.bin')), expected);
  });

  test('Python paramiko lists, uploads, stats, renames and downloads', async () => {
    const script = `
import paramiko, sys, io
t = paramiko.Transport(("127.0.0.1", ${node.sftpPort}))
t.connect(username="mover", password=${JSON.stringify(PASSWORD)})
s = paramiko.SFTPClient.from_transport(t)
s.mkdir("py")
s.putfo(io.BytesIO(b"x" * 100000), "py/data.bin")
assert s.stat("py/data.bin").st_size == 100000
s.rename("py/data.bin", "py/renamed.bin")
assert "renamed.bin" in s.listdir("py")
buf = io.BytesIO(); s.getfo("py/renamed.bin", buf)
assert buf.getvalue() == b"x" * 100000
try:
    s.stat("py/data.bin"); sys.exit("old name still there")
except FileNotFoundError:
    pass
s.close(); t.close()
print("paramiko ok")
`;
    const child = spawn('/usr/bin/python3', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise((resolve) => child.on('close', resolve));
    assert.equal(code, 0, out);
    assert.match(out, /paramiko ok/);
  });
});
