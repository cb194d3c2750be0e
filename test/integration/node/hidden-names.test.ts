// Names a client cannot use (a newline, a backslash, bytes that are not UTF-8) when they were
// made on the storage behind Ferry's back, and when a client tries to make them: the listing
// hides them and the node log says which and why, rmdir of a directory that looks empty says
// what it holds, and an upload under such a name is refused as not allowed, not as missing.
// Real node, OpenSSH sftp and paramiko (which shows the status text OpenSSH's client drops).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { importCsvUser, removeDir, sftpBatch, startFerryNode, tempDir } from '../../helpers/ferry-node.ts';
import type { RunningNode } from '../../helpers/ferry-node.ts';

const PASSWORD = 'hidden names pw';

function logLines(node: RunningNode, pattern: RegExp): string[] {
  const file = path.join(node.dataDir, 'logs', 'ferry.log');
  return (existsSync(file) ? readFileSync(file, 'utf8') : '').split('\n').filter((line) => pattern.test(line));
}

/** Waits (bounded) until the node's app log holds `count` lines matching `pattern`. */
async function waitForLines(node: RunningNode, pattern: RegExp, count: number): Promise<string[]> {
  for (let i = 0; i < 100; i++) {
    const lines = logLines(node, pattern);
    if (lines.length >= count) return lines;
    await sleep(100);
  }
  return logLines(node, pattern);
}

/** Runs a paramiko script as user `odd`; resolves with its output. */
function paramiko(node: RunningNode, body: string): Promise<string> {
  const script = `
import paramiko, sys, io
t = paramiko.Transport(("127.0.0.1", ${node.sftpPort}))
t.connect(username="odd", password=${JSON.stringify(PASSWORD)})
s = paramiko.SFTPClient.from_transport(t)
${body}
s.close(); t.close()
`;
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/python3', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`paramiko exited ${code}: ${out}`));
    });
  });
}

describe('names a client cannot use', () => {
  const work = tempDir();
  const home = path.join(work, 'home');
  let node: RunningNode;

  before(async () => {
    node = await startFerryNode({ dataDir: path.join(work, 'data') });
    await importCsvUser(node, { username: 'odd', password: PASSWORD, home, work, subsystems: ['ssh2_sftp'], permissions: ['dirList', 'dirMake', 'dirDelete', 'fileGet', 'filePut', 'fileDelete'] });
    // Made on the storage directly, as another program or an NFS client would.
    mkdirSync(path.join(home, 'odd'), { recursive: true });
    writeFileSync(path.join(home, 'odd', 'new\nline'), 'x');
    writeFileSync(path.join(home, 'odd', 'back\\slash'), 'x');
    writeFileSync(Buffer.concat([Buffer.from(path.join(home, 'odd', 'latin1-')), Buffer.from([0xe9])]), 'x');
  });
  after(async () => {
    await node.stop();
    removeDir(work);
  });

  test('a listing hides them and the node log names each one, escaped, with the reason, once per listing', async () => {
    const { stdout } = await sftpBatch(node, { user: 'odd', password: PASSWORD, commands: 'ls -1 odd\n', cwd: work });
    assert.doesNotMatch(stdout, /line|slash|latin1/, 'the unusable names are not listed');
    const pattern = /"msg":"listing of \/odd hides 3 entries whose names a client cannot use/;
    const [line, ...more] = await waitForLines(node, pattern, 1);
    assert.ok(line, 'the hidden names were logged');
    assert.deepEqual(more, [], 'one line per listing');
    const record = JSON.parse(line) as { user: string; connectionId: string; names: { name: string; why: string }[] };
    assert.equal(record.user, 'odd');
    assert.ok(record.connectionId, 'the line names the connection');
    assert.deepEqual(
      record.names.map((n) => `${n.name}: ${n.why}`).sort(),
      ['back\\x5cslash: contains a backslash', 'latin1-\\xe9: not valid UTF-8', 'new\\x0aline: contains a control character'],
    );
  });

  test('rmdir of a directory that looks empty says it holds entries that cannot be shown', async () => {
    await assert.rejects(sftpBatch(node, { user: 'odd', password: PASSWORD, commands: 'rmdir odd\n', cwd: work }), /remote rmdir "\/odd": Failure/);
    const out = await paramiko(node, `
try:
    s.rmdir("odd"); sys.exit("rmdir succeeded")
except IOError as e:
    print("refused:", e)
`);
    const refusal = /refused: the directory is not empty: it holds 3 entries whose names cannot be shown \((.*)\); ask your administrator to rename or remove them/.exec(out);
    assert.ok(refusal, out);
    assert.deepEqual(refusal[1]!.split('; ').sort(), ['contains a backslash', 'contains a control character', 'not valid UTF-8']);
    assert.equal(readdirSync(path.join(home, 'odd')).length, 3, 'nothing was removed');
  });

  test('an upload under a name with a tab or a newline is refused as not allowed, not as missing', async () => {
    writeFileSync(path.join(work, 'up.txt'), 'payload');
    // sftp keeps a literal tab inside quotes; OpenSSH's client prints only the status code.
    const refused = await sftpBatch(node, { user: 'odd', password: PASSWORD, commands: '-put up.txt "tab\there"\n', cwd: work });
    assert.match(refused.stderr, /Permission denied/);
    assert.doesNotMatch(refused.stderr, /No such file/);
    const out = await paramiko(node, `
import errno
for name in ["new\\nline.txt", "tab\\there.txt"]:
    try:
        s.putfo(io.BytesIO(b"x"), name); sys.exit("upload succeeded: " + repr(name))
    except IOError as e:
        print("refused:", e.errno == errno.EACCES, e.strerror or e)
`);
    assert.equal(out.match(/refused: True file name not allowed: contains a control character/g)?.length, 2, out);
    assert.deepEqual(readdirSync(home).sort(), ['odd'], 'nothing was created');
  });
});
