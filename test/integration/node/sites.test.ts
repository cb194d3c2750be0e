// Sites follow the configuration without a restart: added through the control socket (the
// real CLI), a site listens at once; its binding moves; removed, it stops. A session on the
// default site, which none of this touches, keeps running throughout (real OpenSSH sftp).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { test } from 'node:test';
import { CLIENT_SSH_OPTIONS, removeDir, runFerry, startFerryNode, tempDir, waitForAppLog } from '../../helpers/ferry-node.ts';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** The SSH identification line at host:port, or the connection error's code. */
function banner(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let data = '';
    const timer = setTimeout(() => (socket.destroy(), resolve('timeout')), 5000);
    socket.on('data', (d) => {
      data += d.toString();
      if (data.includes('\n')) {
        clearTimeout(timer);
        socket.destroy();
        resolve(data.split('\r\n')[0] as string);
      }
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(error.code ?? error.message);
    });
  });
}

async function until(what: string, probe: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test('a site added, rebound and removed through the CLI is followed without a restart, and other sessions keep running', { timeout: 120_000 }, async (t) => {
  const root = tempDir();
  const node = await startFerryNode();
  t.after(async () => {
    await node.stop();
    removeDir(root);
  });
  const password = /ferry \/ (\S+)/.exec(node.stdout.join('\n'))?.[1] ?? /password (\S+)/.exec(node.stdout.join('\n'))?.[1];
  assert.ok(password, 'the first start printed a password');
  // A session on the default site that lives through every change below.
  const sftp = spawn('sshpass', ['-p', password, 'sftp', '-o', 'BatchMode=no', '-o', 'PubkeyAuthentication=no', ...CLIENT_SSH_OPTIONS, '-P', String(node.sftpPort), '-b', '-', 'ferry@127.0.0.1'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  sftp.stdout.on('data', (d) => (out += d.toString()));
  sftp.stdin.write('pwd\n');
  await until('the long session logged in', async () => out.includes('Remote working directory'));

  const [p1, p2] = [await freePort(), await freePort()];
  const data = ['--data', node.dataDir];
  const added = await runFerry(['site', 'add', '--id', 'second', '--host', '127.0.0.1', '--port', String(p1), ...data]);
  assert.equal(added.code, 0, added.stdout + added.stderr);
  assert.match(added.stdout, /site "second" added/);
  await until('the new site listens', async () => (await banner(p1)).startsWith('SSH-2.0-'));
  await until('the node says so', async () => node.stdout.includes(`listening sftp 127.0.0.1:${p1}`));

  const bound = await runFerry(['site', 'bind', '--id', 'second', '--host', '127.0.0.1', '--port', String(p2), ...data]);
  assert.equal(bound.code, 0, bound.stdout + bound.stderr);
  await until('the moved binding listens', async () => (await banner(p2)).startsWith('SSH-2.0-'));
  await until('the old binding is closed', async () => (await banner(p1)) === 'ECONNREFUSED');

  const removed = await runFerry(['site', 'remove', '--id', 'second', ...data]);
  assert.equal(removed.code, 0, removed.stdout + removed.stderr);
  await until('the removed site stopped', async () => (await banner(p2)) === 'ECONNREFUSED');
  assert.ok(node.stdout.includes(`stopped sftp 127.0.0.1:${p2}`));

  // A port taken by another process is refused with a clear log line; the node goes on.
  const squatter = net.createServer().listen(p1, '127.0.0.1');
  t.after(() => squatter.close());
  await new Promise((resolve) => squatter.once('listening', resolve));
  const again = await runFerry(['site', 'add', '--id', 'third', '--host', '127.0.0.1', '--port', String(p1), ...data]);
  assert.equal(again.code, 0, again.stdout + again.stderr);
  const [refused] = await waitForAppLog(node, (line) => line.msg === 'a site could not start listening; the other listeners go on' && line.siteId === 'third');
  assert.match(JSON.stringify(refused?.err), /in use|EADDRINUSE/i);

  sftp.stdin.end('pwd\nbye\n');
  await new Promise((resolve) => sftp.once('exit', resolve));
  assert.equal(out.match(/Remote working directory/g)?.length, 2, 'the default site\'s session ran through every change');
  assert.equal(await banner(node.sftpPort).then((b) => b.startsWith('SSH-2.0-')), true);
});
