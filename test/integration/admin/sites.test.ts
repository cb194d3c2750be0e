// Virtual sites through the admin API, driven with curl and checked with OpenSSH: a site created
// by the API serves SFTP with its own fresh host key, and a site moved and restarted onto a new
// port leaves another site's transfer running.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { adminUrl, curl, setUpSuperAdmin } from '../../helpers/admin-api.ts';
import { CLIENT_SSH_OPTIONS, importCsvUser, removeDir, runFerry, sftpBatch, startFerryNode, tempDir } from '../../helpers/ferry-node.ts';
import type { RunningNode } from '../../helpers/ferry-node.ts';

const run = promisify(execFile);
let node: RunningNode;
let token: string;
let work: string;
const url = (route: string) => adminUrl(node, route);

interface SiteOut {
  id: string;
  enabled: boolean;
  bindings: { protocol: string; host: string; port: number }[];
  hostKeys: { algorithm: string; publicKey: string }[];
}

async function listenersOf(id: string): Promise<string[]> {
  const status = await curl(url('/api/v1/sa/status'), { token });
  assert.equal(status.status, 200, status.body);
  return (status.json as { sites: { id: string; listeners: string[] }[] }).sites.find((s) => s.id === id)?.listeners ?? [];
}

function portOf(listener: string): number {
  return Number(/:(\d+)$/.exec(listener)?.[1]);
}

async function importInto(site: string, username: string, password: string): Promise<string> {
  const home = path.join(work, `${site}-${username}`);
  mkdirSync(home, { recursive: true });
  const csv = path.join(work, `${site}-${username}.csv`);
  writeFileSync(csv, `${username},"${password}",${home},"ssh2_sftp,ssh2_scp","dirList,fileGet,filePut"\n`);
  const imported = await runFerry(['importusers', '--data', node.dataDir, '--csv', csv, '--vsite', site, '--makevfs']);
  assert.equal(imported.code, 0, imported.stdout + imported.stderr);
  return home;
}

before(async () => {
  work = tempDir('ferry-sites-');
  node = await startFerryNode();
  token = await setUpSuperAdmin(node);
});

after(async () => {
  await node.stop();
  removeDir(work);
});

test('a site created through the API serves OpenSSH sftp with its own fresh host key, and no answer carries a sealed key', async () => {
  const created = await curl(url('/api/v1/sa/vsites'), { method: 'POST', token, json: { id: 'partners', name: 'Partners', bindings: [{ protocol: 'ssh', host: '127.0.0.1', port: 0 }] } });
  assert.equal(created.status, 201, created.body);
  const site = created.json as SiteOut;
  assert.equal(site.enabled, true);
  assert.ok(site.hostKeys.length > 0);
  assert.ok(!created.body.includes('privateKeyEncrypted'), created.body);
  const again = await curl(url('/api/v1/sa/vsites'), { method: 'POST', token, json: { id: 'partners' } });
  assert.equal(again.status, 409);
  const stray = await curl(url('/api/v1/sa/vsites'), { method: 'POST', token, json: { id: 'x', hostKeys: [] } });
  assert.equal(stray.status, 400, 'host keys are the node\'s to make');

  const listeners = await listenersOf('partners');
  assert.equal(listeners.length, 1, listeners.join());
  const port = portOf(listeners[0] as string);
  // The key OpenSSH sees is the one the API lists, not the default site's.
  const scan = await run('ssh-keyscan', ['-p', String(port), '-t', 'ed25519,ecdsa,rsa', '127.0.0.1'], { timeout: 20_000 });
  const served = scan.stdout.split('\n').filter(Boolean).map((line) => line.split(' ').slice(1, 3).join(' '));
  assert.ok(served.length > 0, scan.stderr);
  const listed = site.hostKeys.map((k) => k.publicKey.split(' ').slice(0, 2).join(' '));
  for (const key of served) assert.ok(listed.includes(key), `${key} not in ${listed.join(', ')}`);
  const defaultSite = (await curl(url('/api/v1/sa/vsites/default'), { token })).json as SiteOut;
  for (const key of served) assert.ok(!defaultSite.hostKeys.some((k) => k.publicKey.startsWith(key)), 'a fresh key, not the default site\'s');

  const home = await importInto('partners', 'carol', 'carol password 1');
  writeFileSync(path.join(work, 'hello.txt'), 'hello partners\n');
  await sftpBatch({ ...node, sftpPort: port }, { user: 'carol', password: 'carol password 1', commands: 'put hello.txt\nls\n', cwd: work });
  assert.equal(readFileSync(path.join(home, 'hello.txt'), 'utf8'), 'hello partners\n');

  const list = await curl(url('/api/v1/sa/vsites?limit=1'), { token });
  assert.equal(list.status, 200);
  const firstPage = list.json as { items: SiteOut[]; next?: string };
  assert.equal(firstPage.items.length, 1);
  assert.equal(firstPage.next, 'default');
  assert.ok(!list.body.includes('privateKeyEncrypted'));
});

test('a site moved and restarted onto a new port through the API while another site\'s sftp download keeps transferring', async () => {
  const moved = await curl(url('/api/v1/sa/vsites'), { method: 'POST', token, json: { id: 'movers', bindings: [{ protocol: 'ssh', host: '127.0.0.1', port: 0 }] } });
  assert.equal(moved.status, 201, moved.body);
  const oldPort = portOf((await listenersOf('movers'))[0] as string);

  // A slow download on the default site: 3 MB at 4 Mbit/s takes about 6 s.
  const alice = path.join(work, 'default-alice');
  mkdirSync(alice, { recursive: true });
  const payload = randomBytes(3 * 1024 * 1024);
  writeFileSync(path.join(alice, 'big.bin'), payload);
  await importCsvUser(node, { username: 'alice', password: 'alice password 1', home: alice, subsystems: ['ssh2_sftp'], permissions: ['dirList', 'fileGet'], work });
  const batch = path.join(work, 'slow-batch');
  writeFileSync(batch, 'get big.bin got.bin\n');
  const download = spawn('sshpass', ['-p', 'alice password 1', 'sftp', '-o', 'BatchMode=no', ...CLIENT_SSH_OPTIONS, '-l', '4000', '-P', String(node.sftpPort), '-b', batch, `alice@${node.host}`], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  download.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const finished = new Promise<number | null>((resolve) => download.once('exit', resolve));
  const killer = setTimeout(() => download.kill('SIGKILL'), 60_000);
  // Under way before the restart: part of the file has arrived.
  const deadline = Date.now() + 20_000;
  for (;;) {
    let size = 0;
    try {
      size = readFileSync(path.join(work, 'got.bin')).length;
    } catch {
      size = 0;
    }
    if (size > 0) break;
    assert.ok(Date.now() < deadline, `the download did not start: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  const patched = await curl(url('/api/v1/sa/vsites/movers'), { method: 'PATCH', token, json: { bindings: [{ protocol: 'ssh', host: '127.0.0.2', port: 0 }] } });
  assert.equal(patched.status, 200, patched.body);
  const restarted = await curl(url('/api/v1/sa/vsites/movers/restart'), { method: 'POST', token });
  assert.equal(restarted.status, 200, restarted.body);
  const now = (restarted.json as { listeners: string[] }).listeners;
  assert.equal(now.length, 1, now.join());
  assert.match(now[0] as string, /^sftp 127\.0\.0\.2:\d+$/);
  const newPort = portOf(now[0] as string);
  const scan = await run('ssh-keyscan', ['-p', String(newPort), '-t', 'ed25519', '127.0.0.2'], { timeout: 20_000 });
  assert.match(scan.stdout, /ssh-ed25519/);
  const old = await run('ssh-keyscan', ['-T', '3', '-p', String(oldPort), '-t', 'ed25519', '127.0.0.1'], { timeout: 20_000 }).catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? '' }));
  assert.doesNotMatch(old.stdout, /ssh-ed25519/, 'the old port is closed');

  const code = await finished;
  clearTimeout(killer);
  assert.equal(code, 0, stderr);
  assert.equal(createHash('sha256').update(readFileSync(path.join(work, 'got.bin'))).digest('hex'), createHash('sha256').update(payload).digest('hex'));

  // stop and start: enabled false closes the listener, true reopens it.
  const stopped = await curl(url('/api/v1/sa/vsites/movers/stop'), { method: 'POST', token });
  assert.equal((stopped.json as SiteOut).enabled, false);
  assert.deepEqual(await listenersOf('movers'), []);
  const started = await curl(url('/api/v1/sa/vsites/movers/start'), { method: 'POST', token });
  assert.equal((started.json as SiteOut).enabled, true);
  assert.equal((await listenersOf('movers')).length, 1);
  const gone = await curl(url('/api/v1/sa/vsites/movers'), { method: 'DELETE', token });
  assert.equal(gone.status, 200, gone.body);
  assert.equal((await curl(url('/api/v1/sa/vsites/movers'), { token })).status, 404);
});

test('ferry site list, show and restart and ferry status against the running node', async () => {
  const list = await runFerry(['site', 'list', '--json', '--data', node.dataDir]);
  assert.equal(list.code, 0, list.stderr);
  const sites = JSON.parse(list.stdout) as { id: string; listeners: string[] }[];
  assert.ok(sites.some((s) => s.id === 'default' && s.listeners.length > 0), list.stdout);
  const plain = await runFerry(['site', 'list', '--data', node.dataDir]);
  assert.match(plain.stdout, /^default\s+enabled\s+sftp 127\.0\.0\.1:\d+/m);
  const show = await runFerry(['site', 'show', 'partners', '--json', '--data', node.dataDir]);
  assert.equal(show.code, 0, show.stderr);
  const shown = JSON.parse(show.stdout) as SiteOut;
  assert.equal(shown.id, 'partners');
  assert.ok(!show.stdout.includes('privateKeyEncrypted'));
  const restart = await runFerry(['site', 'restart', 'partners', '--data', node.dataDir]);
  assert.equal(restart.code, 0, restart.stderr);
  assert.match(restart.stdout, /site "partners" restarted: sftp 127\.0\.0\.1:\d+/);
  const missing = await runFerry(['site', 'show', 'nope', '--data', node.dataDir]);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /no site "nope"/);
  const status = await runFerry(['status', '--json', '--data', node.dataDir]);
  assert.equal(status.code, 0, status.stderr);
  const parsed = JSON.parse(status.stdout) as { version: string; uptimeSeconds: number; configIndex: number; sites: unknown[] };
  assert.match(parsed.version, /^Ferry \d/);
  assert.ok(parsed.configIndex > 0);
  const human = await runFerry(['status', '--data', node.dataDir]);
  assert.match(human.stdout, /^Ferry \d+\.\d+\.\d+/m);
  assert.match(human.stdout, /^config index \d+$/m);
  const version = await runFerry(['--version']);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^Ferry \d+\.\d+\.\d+\n$/);
});
