// Transfers cut off partway, with real clients against a whole node: the transfer log must tell
// them from complete ones (`incomplete`, never `ok`), an SCP upload cut short must not be left
// under its final name, and an upload in flight when the node itself is SIGKILLed still gets its
// line when the node starts again.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { CLIENT_SSH_OPTIONS, crashNode, importCsvUser, removeDir, startFerryNode, tempDir } from '../../helpers/ferry-node.ts';
import type { RunningNode } from '../../helpers/ferry-node.ts';

const run = promisify(execFile);
const PASSWORD = 'interrupted pw';
const USER = 'cutter';

interface LogLine {
  readonly method: string;
  readonly path: string;
  readonly bytes: string;
  readonly status: string;
}

/** Every W3C line of the default site so far (paths in these tests have no spaces). */
function transferLines(node: RunningNode): LogLine[] {
  const dir = path.join(node.dataDir, 'logs', 'transfers', 'default');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .flatMap((file) => readFileSync(path.join(dir, file), 'utf8').split('\n'))
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const f = line.split(' ');
      return { method: f[7]!, path: f[8]!, bytes: f[10]!, status: f[12]! };
    });
}

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function lineFor(node: RunningNode, method: string, file: string): Promise<LogLine> {
  return waitFor(`a ${method} line for ${file}`, () => transferLines(node).find((l) => l.method === method && l.path === file));
}

/**
 * A slow OpenSSH `sftp -b` (bandwidth-limited, so it is still running when it is killed) in its
 * own process group, so sshpass, sftp and ssh can be killed together as a crash would.
 */
function slowSftp(node: RunningNode, commands: string, cwd: string): ChildProcess {
  const batch = path.join(cwd, `batch-${Math.random().toString(36).slice(2)}`);
  writeFileSync(batch, commands);
  const args = ['-p', PASSWORD, 'sftp', '-o', 'BatchMode=no', ...CLIENT_SSH_OPTIONS, '-l', '4000', '-P', String(node.sftpPort), '-b', batch, `${USER}@127.0.0.1`];
  const child = spawn('sshpass', args, { cwd, detached: true, stdio: 'ignore' });
  const killer = setTimeout(() => killGroup(child), 120_000);
  child.once('exit', () => clearTimeout(killer));
  return child;
}

function killGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // already gone
  }
  return gone;
}

function sizeOf(file: string): number | undefined {
  try {
    return statSync(file).size;
  } catch {
    return undefined;
  }
}

async function randomFile(file: string, mib: number): Promise<void> {
  await run('sh', ['-c', `head -c ${mib * 1024 * 1024} /dev/urandom > '${file}'`], { timeout: 60_000 });
}

function importUser(node: RunningNode, work: string, home: string): Promise<void> {
  return importCsvUser(node, { username: USER, password: PASSWORD, home, work, subsystems: ['ssh2_sftp', 'ssh2_scp'], permissions: ['dirList', 'dirMake', 'fileGet', 'filePut', 'fileModify', 'fileRename', 'fileDelete'] });
}

describe('transfers cut off partway', () => {
  const work = tempDir();
  const home = path.join(work, 'home');
  let node: RunningNode;

  before(async () => {
    node = await startFerryNode({ dataDir: path.join(work, 'data') });
    await importUser(node, work, home);
    await randomFile(path.join(work, 'big.bin'), 32);
  });
  after(async () => {
    await node.stop();
    removeDir(work);
  });

  test('an upload whose sftp client is killed partway is logged incomplete, not ok', async () => {
    const client = slowSftp(node, 'put big.bin up.bin\n', work);
    await waitFor('upload bytes on the server', () => ((sizeOf(path.join(home, 'up.bin')) ?? 0) > 0 ? true : undefined));
    await killGroup(client);
    const line = await lineFor(node, 'upload', '/up.bin');
    assert.equal(line.status, 'incomplete');
    assert.ok(Number(line.bytes) > 0 && Number(line.bytes) < 32 * 1024 * 1024, `bytes: ${line.bytes}`);
  });

  test('a download whose sftp client is killed partway is logged incomplete, not ok', async () => {
    writeFileSync(path.join(home, 'down.bin'), readFileSync(path.join(work, 'big.bin')));
    const client = slowSftp(node, 'get down.bin down.local\n', work);
    await waitFor('downloaded bytes on the client', () => ((sizeOf(path.join(work, 'down.local')) ?? 0) > 0 ? true : undefined));
    await killGroup(client);
    const line = await lineFor(node, 'download', '/down.bin');
    assert.equal(line.status, 'incomplete');
    assert.ok(Number(line.bytes) < 32 * 1024 * 1024, `bytes: ${line.bytes}`);
  });

  test('a raw SCP upload that announces 5 bytes and sends 3 leaves no file and is logged incomplete', async () => {
    const args = ['-p', PASSWORD, 'ssh', ...CLIENT_SSH_OPTIONS, '-p', String(node.sftpPort), `${USER}@127.0.0.1`, 'scp -t /'];
    const child = execFile('sshpass', args, { timeout: 30_000, encoding: 'latin1' });
    child.stdin!.end('C0644 5 raw.txt\nabc');
    const stdout = await new Promise<string>((resolve) => {
      let out = '';
      child.stdout!.on('data', (d: string) => (out += d));
      child.on('close', () => resolve(out));
    });
    assert.match(stdout, /\x02scp: connection ended inside file data/);
    const line = await lineFor(node, 'upload', '/raw.txt');
    assert.equal(line.status, 'incomplete');
    assert.equal(line.bytes, '3');
    assert.deepEqual(readdirSync(home).filter((name) => name.includes('raw')), [], 'nothing under the final name, no temporary file left');
  });
});

describe('a node killed with an upload in flight', () => {
  test('logs the upload as incomplete when it starts again', async (t) => {
    const work = tempDir();
    t.after(() => removeDir(work));
    const home = path.join(work, 'home');
    const dataDir = path.join(work, 'data');
    const first = await startFerryNode({ dataDir });
    await importUser(first, work, home);
    await randomFile(path.join(work, 'big.bin'), 32);
    const client = slowSftp(first, 'put big.bin inflight.bin\n', work);
    t.after(() => killGroup(client));
    await waitFor('the upload to start', () => (existsSync(path.join(home, 'inflight.bin')) ? true : undefined));
    await crashNode(first);
    assert.equal(transferLines(first).find((l) => l.path === '/inflight.bin'), undefined, 'the killed node wrote no line for the upload');

    const second = await startFerryNode({ dataDir });
    t.after(() => second.stop());
    const line = await lineFor(second, 'upload', '/inflight.bin');
    assert.equal(line.status, 'incomplete');
    assert.equal(line.bytes, '-', 'the bytes of a transfer cut off by a crash are unknown');
    // Recovered once: a second restart adds no line.
    await second.stop();
    const third = await startFerryNode({ dataDir });
    t.after(() => third.stop());
    assert.equal(transferLines(third).filter((l) => l.path === '/inflight.bin').length, 1);
  });
});
