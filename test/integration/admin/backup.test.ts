// Configuration backup and restore as an administrator moving a node: a backup taken with curl
// (passphrase in a header) and with `ferry backup`, restored with `ferry restore` on a fresh data
// directory, then OpenSSH sftp logs in as the same user and accepts the host key pinned before
// the move. Archives that do not fit are refused with a reason and change nothing.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { importCsvUser, removeDir, runFerry, sftpBatch, startFerryNode, tempDir } from '../../helpers/ferry-node.ts';
import type { RunningNode } from '../../helpers/ferry-node.ts';
import { adminUrl, curl, loginSuperAdmin, SA_PASSWORD, setUpSuperAdmin } from '../../helpers/admin-api.ts';

const run = promisify(execFile);
const work = tempDir('ferry-backup-');
const nodes: RunningNode[] = [];
after(async () => {
  for (const node of nodes) await node.stop();
  removeDir(work);
});

const PASSPHRASE = 'moving day passphrase';
const ALIAS = 'ferry-moved';

/** curl -o FILE: the archive as bytes. */
async function download(url: string, token: string, file: string, headers: string[] = []): Promise<number> {
  const { stdout } = await run('curl', ['-sk', '--max-time', '30', '-o', file, '-w', '%{http_code}', '-H', `Authorization: Bearer ${token}`, ...headers, url]);
  return Number(stdout);
}

async function upload(url: string, token: string, file: string): Promise<{ status: number; body: string }> {
  const { stdout } = await run('curl', ['-sk', '--max-time', '60', '-o', '-', '-w', '\n%{http_code}', '-X', 'POST', '-H', `Authorization: Bearer ${token}`, '-H', 'Content-Type: application/zip', '--data-binary', `@${file}`, url]);
  const cut = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(cut + 1)), body: stdout.slice(0, cut) };
}

function pinnedSftp(node: RunningNode, knownHosts: string) {
  return ['-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${knownHosts}`, '-o', `HostKeyAlias=${ALIAS}`];
}

test('backup -> restore on a fresh data directory -> the same users, SuperAdmins and host keys', { timeout: 240_000 }, async () => {
  const original = await startFerryNode({ dataDir: path.join(work, 'a') });
  nodes.push(original);
  const token = await setUpSuperAdmin(original);
  const home = path.join(work, 'home-alice');
  mkdirSync(home);
  writeFileSync(path.join(home, 'report.txt'), 'quarterly numbers\n');
  await importCsvUser(original, { username: 'alice', password: 'alice password 1', home, subsystems: ['ssh2_sftp'], permissions: ['dirList', 'fileGet'], work });

  // Pin the original host key under an alias, as a client that connected before the move.
  const { stdout: scanned } = await run('ssh-keyscan', ['-p', String(original.sftpPort), original.host], { timeout: 30_000 });
  const knownHosts = path.join(work, 'known_hosts');
  writeFileSync(knownHosts, scanned.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => `${ALIAS} ${l.split(' ').slice(1).join(' ')}`).join('\n') + '\n');
  await sftpBatch(original, { user: 'alice', password: 'alice password 1', commands: 'ls\n', cwd: work, extra: pinnedSftp(original, knownHosts) });

  // The API: passphrase in its header; a passphrase too short is refused with a reason.
  const archive = path.join(work, 'api-backup.zip');
  assert.equal(await download(adminUrl(original, '/api/v1/sa/backup'), token, archive, ['-H', `X-Ferry-Backup-Passphrase: ${PASSPHRASE}`]), 200);
  assert.equal(readFileSync(archive).subarray(0, 2).toString(), 'PK');
  const short = await curl(adminUrl(original, '/api/v1/sa/backup'), { token, headers: { 'X-Ferry-Backup-Passphrase': 'short' } });
  assert.equal(short.status, 400, short.body);
  const { stdout: listing } = await run('unzip', ['-l', archive]);
  assert.match(listing, /manifest\.json/);
  assert.match(listing, /config\.json/);
  const { stdout: config } = await run('unzip', ['-p', archive, 'config.json']);
  assert.ok(!config.includes('BEGIN OPENSSH PRIVATE KEY'), 'host keys stay sealed');
  assert.ok(config.includes('fsec1:'));
  const masterKey = readFileSync(path.join(original.dataDir, 'secret.key'));
  const { stdout: whole } = await run('unzip', ['-p', archive], { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 });
  assert.ok(!whole.includes(masterKey) && !whole.toString().includes(masterKey.toString('base64')), 'the master key is not in the archive in clear');

  // The CLI: ferry backup -d DIR, without a passphrase.
  const cliDir = path.join(work, 'cli-backups');
  const cli = await runFerry(['backup', '-d', cliDir, '--data', original.dataDir]);
  assert.equal(cli.code, 0, cli.stderr);
  assert.match(cli.stdout, /^backup written to .*ferry-backup-.*\.zip \(1 sites, 2 users\)$/m);
  const cliArchive = path.join(cliDir, readdirSync(cliDir)[0]!);

  // Restoring onto the running node itself: the same key, validated, applied as one command.
  const self = await upload(adminUrl(original, '/api/v1/sa/restore'), token, cliArchive);
  assert.equal(self.status, 200, self.body);
  assert.equal((JSON.parse(self.body) as { users: number }).users, 2);
  // A damaged archive is refused with a reason and nothing changes.
  const damaged = path.join(work, 'damaged.zip');
  writeFileSync(damaged, readFileSync(archive).subarray(0, 200));
  const refused = await upload(adminUrl(original, '/api/v1/sa/restore'), token, damaged);
  assert.equal(refused.status, 400, refused.body);
  assert.match(refused.body, /not a Ferry backup|damaged/);
  await original.stop();

  // A fresh directory: refused without the key or with the wrong passphrase, nothing written.
  const fresh = path.join(work, 'b');
  const noKey = await runFerry(['restore', '-f', cliArchive, '--data', fresh]);
  assert.notEqual(noKey.code, 0);
  assert.match(noKey.stderr, /--key-file/);
  const wrong = path.join(work, 'wrong-pass');
  writeFileSync(wrong, 'not the passphrase at all\n');
  const badPass = await runFerry(['restore', '-f', archive, '--data', fresh, '--passphrase-file', wrong]);
  assert.notEqual(badPass.code, 0);
  assert.match(badPass.stderr, /passphrase does not open this backup/);

  const passFile = path.join(work, 'pass');
  writeFileSync(passFile, `${PASSPHRASE}\n`);
  const restored = await runFerry(['restore', '-f', archive, '--data', fresh, '--passphrase-file', passFile]);
  assert.equal(restored.code, 0, restored.stderr);
  assert.match(restored.stdout, /prepared from the backup \(1 sites, 2 users, 1 SuperAdmins\)/);

  const moved = await startFerryNode({ dataDir: fresh });
  nodes.push(moved);
  assert.match(moved.stdout.join('\n'), /configuration restored from the backup/);
  assert.equal(moved.setupCode, undefined, 'the restored SuperAdmin exists: no setup step');
  // The same user, the same host key (StrictHostKeyChecking=yes against the pinned key).
  const { stdout } = await sftpBatch(moved, { user: 'alice', password: 'alice password 1', commands: 'get report.txt report-moved.txt\n', cwd: work, extra: pinnedSftp(moved, knownHosts) });
  assert.match(stdout, /report\.txt/);
  assert.equal(readFileSync(path.join(work, 'report-moved.txt'), 'utf8'), 'quarterly numbers\n');
  // The same SuperAdmin password.
  const movedToken = await loginSuperAdmin(moved);
  assert.ok(movedToken.length > 20, SA_PASSWORD);
  // An initialized directory is not prepared offline again.
  await moved.stop();
  const again = await runFerry(['restore', '-f', archive, '--data', fresh, '--passphrase-file', passFile]);
  assert.notEqual(again.code, 0);
  assert.match(again.stderr, /holds a node already/);
  // The old node's key file works as well as the passphrase.
  const viaKey = await runFerry(['restore', '-f', cliArchive, '--data', path.join(work, 'c'), '--key-file', path.join(original.dataDir, 'secret.key')]);
  assert.equal(viaKey.code, 0, viaKey.stderr);
});

test('ferry backup with no node running says how to start one', async () => {
  const result = await runFerry(['backup', '-d', path.join(work, 'none'), '--data', path.join(work, 'no-node')]);
  assert.notEqual(result.code, 0);
  assert.match(result.stderr, /no Ferry node is running .*Start one with `.*ferry.* start/);
});
