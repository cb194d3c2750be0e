// Notifications to SuperAdmins and Prometheus metrics as an operator meets them: curl scrapes
// /metrics after real OpenSSH logins and an upload, the allow list turns a scraper away, a site
// restart and a certificate about to expire raise notifications that the API and `ferry dbcmd`
// acknowledge, and `ferry repairhttp` repairs a broken binding and certificate.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import net from 'node:net';
import { promisify } from 'node:util';
import { CLIENT_SSH_OPTIONS, removeDir, runFerry, sftpBatch, startFerryNode, tempDir } from '../../helpers/ferry-node.ts';
import type { RunningNode } from '../../helpers/ferry-node.ts';
import { adminUrl, curl, setUpSuperAdmin } from '../../helpers/admin-api.ts';

const run = promisify(execFile);
const work = tempDir('ferry-notify-');
let node: RunningNode;
let token: string;
let password: string;
const url = (route: string) => adminUrl(node, route);

before(async () => {
  node = await startFerryNode({ dataDir: path.join(work, 'data') });
  token = await setUpSuperAdmin(node);
  password = /^first start: created site "default" and user "ferry" with password (\S+)$/m.exec(node.stdout.join('\n'))![1]!;
});

after(async () => {
  await node.stop();
  removeDir(work);
});

/** A port free right now on `host` (the site commands take a real port). */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, host, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

function metric(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && labels.split(',').every((label) => l.includes(label)));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

test('/metrics counts logins by result, transfers and bytes by site and protocol, and the config index', { timeout: 120_000 }, async () => {
  writeFileSync(path.join(work, 'up.bin'), Buffer.alloc(12_345, 7));
  await sftpBatch(node, { user: 'ferry', password, commands: 'put up.bin\nget up.bin down.bin\n', cwd: work });
  await assert.rejects(run('sshpass', ['-p', 'wrong password', 'sftp', '-o', 'BatchMode=no', '-o', 'NumberOfPasswordPrompts=1', ...CLIENT_SSH_OPTIONS, '-P', String(node.sftpPort), `ferry@${node.host}`], { timeout: 30_000 }));
  const scraped = await curl(url('/metrics'));
  assert.equal(scraped.status, 200, scraped.body);
  const text = scraped.body;
  assert.ok(metric(text, 'ferry_logins_total', 'site="default",result="success"') >= 1, text);
  assert.ok(metric(text, 'ferry_logins_total', 'site="default",result="failure"') >= 1, text);
  assert.equal(metric(text, 'ferry_transfer_bytes_total', 'site="default",protocol="ssh2_sftp",direction="upload"'), 12_345, text);
  assert.equal(metric(text, 'ferry_transfer_bytes_total', 'site="default",protocol="ssh2_sftp",direction="download"'), 12_345, text);
  assert.equal(metric(text, 'ferry_transfers_total', 'direction="upload",status="ok"'), 1, text);
  const status = await curl(url('/api/v1/sa/status'), { token });
  assert.match(text, new RegExp(`^ferry_config_log_index ${(status.json as { configIndex: number }).configIndex}$`, 'm'));
  assert.match(text, /^ferry_sessions \d+$/m);
  assert.match(text, /^# TYPE ferry_connections gauge$/m);
  // Off the allow list: 403 for everyone, with no token needed to be refused.
  const patched = await curl(url('/api/v1/sa/globalconfig'), { method: 'PATCH', token, json: { metricsAllowList: ['10.0.0.0/8'] } });
  assert.equal(patched.status, 200, patched.body);
  const refused = await curl(url('/metrics'));
  assert.equal(refused.status, 403, refused.body);
  assert.match(refused.body, /metricsAllowList/);
  await curl(url('/api/v1/sa/globalconfig'), { method: 'PATCH', token, json: { metricsAllowList: ['127.0.0.0/8'] } });
  assert.equal((await curl(url('/metrics'))).status, 200);
});

test('a site restart is notified; the API and ferry dbcmd acknowledge notifications', { timeout: 120_000 }, async () => {
  const added = await runFerry(['site', 'add', '--id', 'second', '--host', '127.0.0.1', '--port', String(await freePort('127.0.0.1')), '--data', node.dataDir]);
  assert.equal(added.code, 0, added.stderr);
  const moved = await runFerry(['site', 'bind', '--id', 'second', '--host', '127.0.0.2', '--port', String(await freePort('127.0.0.2')), '--data', node.dataDir]);
  assert.equal(moved.code, 0, moved.stderr);
  const deadline = Date.now() + 10_000;
  let items: { id: number; kind: string; subject: string; message: string }[] = [];
  while (Date.now() < deadline) {
    items = ((await curl(url('/api/v1/sa/notifications'), { token })).json as { items: typeof items }).items;
    if (items.some((n) => n.kind === 'site-restarted')) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const restart = items.find((n) => n.kind === 'site-restarted');
  assert.ok(restart, JSON.stringify(items));
  assert.equal(restart.subject, 'site second');
  assert.equal((await curl(url('/api/v1/sa/notifications'))).status, 401, 'no token, no notifications');
  const paged = await curl(url('/api/v1/sa/notifications?limit=1'), { token });
  assert.equal((paged.json as { items: unknown[] }).items.length, 1);
  const gone = await curl(url(`/api/v1/sa/notifications/${restart.id}`), { method: 'DELETE', token });
  assert.equal(gone.status, 200, gone.body);
  assert.equal((await curl(url(`/api/v1/sa/notifications/${restart.id}`), { method: 'DELETE', token })).status, 404);
  const back = await runFerry(['site', 'bind', '--id', 'second', '--host', '127.0.0.1', '--port', String(await freePort('127.0.0.1')), '--data', node.dataDir]);
  assert.equal(back.code, 0, back.stderr);
  for (let i = 0; i < 50 && ((await curl(url('/api/v1/sa/notifications'), { token })).json as { items: unknown[] }).items.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 200));
  const cleared = await runFerry(['dbcmd', '--clearallnotifications', '--data', node.dataDir]);
  assert.equal(cleared.code, 0, cleared.stderr);
  assert.match(cleared.stdout, /^[1-9]\d* notifications cleared$/m);
  assert.deepEqual(((await curl(url('/api/v1/sa/notifications'), { token })).json as { items: unknown[] }).items, []);
  const all = await curl(url('/api/v1/sa/notifications'), { method: 'DELETE', token });
  assert.deepEqual(all.json, { deleted: 0 });
});

test('ferry dbcmd and repairhttp with no node running', { timeout: 60_000 }, async () => {
  const none = await runFerry(['dbcmd', '--clearallnotifications', '--data', path.join(work, 'nothing-here')]);
  assert.notEqual(none.code, 0);
  assert.match(none.stderr, /no Ferry node is running/);
  const noAction = await runFerry(['dbcmd', '--data', node.dataDir]);
  assert.notEqual(noAction.code, 0);
  assert.match(noAction.stderr, /--clearallnotifications/);
});

test('a certificate expiring in under 30 days is notified; ferry repairhttp replaces it and resets the binding', { timeout: 120_000 }, async () => {
  const dataDir = path.join(work, 'expiring');
  const tls = path.join(dataDir, 'admin-tls');
  mkdirSync(tls, { recursive: true, mode: 0o700 });
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '10', '-subj', '/CN=127.0.0.1', '-keyout', path.join(tls, 'key.pem'), '-out', path.join(tls, 'cert.pem')]);
  const short = await startFerryNode({ dataDir });
  try {
    const saToken = await setUpSuperAdmin(short);
    const listed = await curl(adminUrl(short, '/api/v1/sa/notifications'), { token: saToken });
    const items = (listed.json as { items: { kind: string; message: string }[] }).items;
    assert.ok(items.some((n) => n.kind === 'certificate-expiring' && /in [0-9] days/.test(n.message)), listed.body);
    // Running: it edits the files and says to restart.
    const running = await runFerry(['repairhttp', '--data', dataDir]);
    assert.equal(running.code, 0, running.stderr);
    assert.match(running.stdout, /^admin binding set to 0\.0\.0\.0:6443 \(none stored\)$/m);
    assert.match(running.stdout, /restart it/);
  } finally {
    await short.stop();
  }
  // Stopped: a broken certificate and a wrong binding are repaired, the old certificate kept.
  writeFileSync(path.join(dataDir, 'admin-http.json'), '{"host":"10.9.9.9","port":7000}\n');
  writeFileSync(path.join(tls, 'cert.pem'), 'not a certificate\n');
  const repaired = await runFerry(['repairhttp', '--data', dataDir]);
  assert.equal(repaired.code, 0, repaired.stderr);
  assert.match(repaired.stdout, /^admin binding set to 0\.0\.0\.0:6443 \(was 10\.9\.9\.9:7000\)$/m);
  assert.match(repaired.stdout, /^new self-signed admin certificate .*cert\.pem \(the old one: the certificate is not a readable PEM certificate/m);
  assert.doesNotMatch(repaired.stdout, /restart it/);
  assert.ok(existsSync(path.join(tls, 'cert.pem.bak')));
  assert.deepEqual(JSON.parse(readFileSync(path.join(dataDir, 'admin-http.json'), 'utf8')), { host: '0.0.0.0', port: 6443 });
  await run('openssl', ['x509', '-in', path.join(tls, 'cert.pem'), '-noout', '-checkend', String(30 * 24 * 3600)]);
  const again = await runFerry(['repairhttp', '--data', dataDir]);
  assert.match(again.stdout, /nothing changed/);
});
