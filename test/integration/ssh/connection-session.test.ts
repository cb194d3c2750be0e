// One Session per SSH connection, not per channel: OpenSSH multiplexes sftp, legacy scp (exec)
// and modern scp (sftp) over one ControlMaster connection, and the transfer log shows one
// login and one logout for it, each channel's operations under its own subsystem.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { logged, makeClientKey, run, startHarness } from './harness.ts';

describe('SSH connection session', () => {
  it('serves sftp, scp -O and scp over one OpenSSH connection from one session', async (t) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'ferry-mux-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const key = await makeClientKey(dir, 'ed25519');
    const h = await startHarness({ user: { authorizedKeys: [key.publicLine] } });
    t.after(() => h.stop());
    const control = path.join(dir, 'mux.sock');
    const options = h.sshOptions(['-i', key.privatePath, '-o', `ControlPath=${control}`, '-o', 'LogLevel=error']);
    const master = spawn('ssh', ['-M', '-N', '-p', String(h.port), ...options, 'alice@127.0.0.1'], { stdio: 'ignore' });
    t.after(() => master.kill('SIGKILL'));
    const deadline = Date.now() + 10_000;
    while ((await run('ssh', ['-O', 'check', ...options, 'alice@127.0.0.1'])).code !== 0) {
      assert.ok(Date.now() < deadline, 'the ControlMaster connection came up');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await writeFile(path.join(dir, 'a.txt'), 'by sftp');
    await writeFile(path.join(dir, 'b.txt'), 'by scp -O');
    const sftp = await run('sftp', ['-P', String(h.port), ...options, '-b', '-', 'alice@127.0.0.1'], { input: `put ${path.join(dir, 'a.txt')} /a.txt\n` });
    assert.equal(sftp.code, 0, sftp.stderr);
    const legacy = await run('scp', ['-O', '-P', String(h.port), ...options, path.join(dir, 'b.txt'), 'alice@127.0.0.1:/b.txt']);
    assert.equal(legacy.code, 0, legacy.stderr);
    const modern = await run('scp', ['-P', String(h.port), ...options, 'alice@127.0.0.1:/b.txt', path.join(dir, 'back.txt')]);
    assert.equal(modern.code, 0, modern.stderr);
    assert.equal(await readFile(path.join(dir, 'back.txt'), 'utf8'), 'by scp -O');
    await run('ssh', ['-O', 'exit', ...options, 'alice@127.0.0.1']);
    const closedBy = Date.now() + 5_000;
    while (!h.records.some((r) => r.operation === 'logout') && Date.now() < closedBy) await new Promise((resolve) => setTimeout(resolve, 50));

    assert.equal(logged(h, 'ssh: connection closed').length, 1, 'one connection carried everything');
    assert.deepEqual(
      h.records.map((r) => `${r.operation} ${r.path} ${r.protocol}`),
      ['login / ssh', 'upload /a.txt ssh2_sftp', 'upload /b.txt ssh2_scp', 'download /b.txt ssh2_sftp', 'logout / ssh'],
    );
    assert.equal(new Set(h.records.map((r) => r.connectionId)).size, 1);
  });
});
