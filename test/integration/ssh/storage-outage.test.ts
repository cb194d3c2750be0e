// A storage that goes away under a logged-in client (an NFS mount whose server stopped
// answering: ENOTCONN/ESTALE/EIO from the disk) reaches real SFTP clients as a clear failure that
// says the storage is unavailable and to retry, the transfer log as `unavailable`, and the app log
// with the errno and the code FERRY-E304 for the operator. Faults come from
// test/helpers/faulty-backend.ts behind the real disk driver and its own errno table.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DriverPool } from '../../../src/vfs/pool.ts';
import { FaultInjector } from '../../helpers/faulty-backend.ts';
import { logged, makeClientKey, python, run, startHarness } from './harness.ts';
import type { ClientKey, Harness } from './harness.ts';

const UNAVAILABLE = 'the storage is unavailable right now; try again later';

describe('SFTP when the storage is unavailable', () => {
  let h: Harness;
  let dir: string;
  let key: ClientKey;
  const faults = new FaultInjector();

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'ferry-outage-'));
    key = await makeClientKey(dir, 'ed25519');
    h = await startHarness({ user: { authorizedKeys: [key.publicLine] }, drivers: new DriverPool({ factory: faults.factory }) });
    await writeFile(path.join(dir, 'up.txt'), 'upload me');
  });
  after(async () => {
    faults.fault = undefined;
    await h?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const sftp = (commands: string) =>
    run('sftp', ['-P', String(h.port), ...h.sshOptions(['-i', key.privatePath, '-o', 'LogLevel=error']), '-b', '-', 'alice@127.0.0.1'], { input: commands });

  it('fails the OpenSSH sftp client\'s upload, listing and download, and logs unavailable with the errno and code', async () => {
    await mkdir(h.homeDir, { recursive: true });
    await writeFile(path.join(h.homeDir, 'there.txt'), 'on the storage');
    faults.fault = 'ENOTCONN';
    try {
      const result = await sftp(`-put ${path.join(dir, 'up.txt')} /up.txt\n-ls /\n-get /there.txt ${path.join(dir, 'got.txt')}\n`);
      // OpenSSH prints the status code's own text, never the server's message, and words any
      // failed stat as "not found": the message is for clients that show it (paramiko, below).
      assert.match(result.stderr, /dest open "\/up\.txt": Failure/);
      assert.match(result.stderr, /Can't ls: "\/"/);
      assert.match(result.stderr, /"\/there\.txt"/);
    } finally {
      faults.fault = undefined;
    }
    const failed = h.records.filter((r) => r.status === 'unavailable').map((r) => `${r.operation} ${r.path}`);
    assert.ok(failed.includes('upload /up.txt'), `the transfer log says unavailable: ${JSON.stringify(h.records.map((r) => [r.operation, r.path, r.status]))}`);
    const line = logged(h, UNAVAILABLE).find((l) => l.code === 'FERRY-E304');
    assert.ok(line, 'the app log has the kind, the code and the errno');
    assert.equal(line.level, 40, 'an outage is the operator\'s problem: logged at warn');
    assert.match(String(line.detail), /^ENOTCONN on \/mnt\/faulty/);
    const again = await sftp(`put ${path.join(dir, 'up.txt')} /up.txt\n`);
    assert.equal(again.code, 0, `a new login works again once the storage is back: ${again.stderr}`);
  });

  it('gives paramiko the status message that says to retry later', async () => {
    faults.fault = 'ESTALE';
    let result;
    try {
      result = await python(String.raw`
import sys, paramiko
t = paramiko.Transport(('127.0.0.1', int(sys.argv[1])))
t.connect(username='alice', pkey=paramiko.Ed25519Key.from_private_key_file(sys.argv[2]))
sftp = paramiko.SFTPClient.from_transport(t)
for call in (lambda: sftp.stat('/there.txt'), lambda: sftp.open('/new.txt', 'w'), lambda: sftp.listdir('/')):
    try:
        call()
        print('ok')
    except IOError as e:
        print('error:', e)
t.close()
`, [String(h.port), key.privatePath]);
    } finally {
      faults.fault = undefined;
    }
    assert.deepEqual(result.stdout.trim().split('\n'), [
      'error: the storage is unavailable right now; log in again or try later',
      'error: the storage is unavailable right now; log in again or try later',
      'error: the storage is unavailable right now; log in again or try later',
    ], result.stderr);
  });
});
