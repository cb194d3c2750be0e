// What the node's JSON app log says about connections (issue 7 item 10): every closed
// connection says why it closed, and SFTP protocol warnings name the connection and the user.
// Whole node (bin/ferry.js), real OpenSSH sftp and Python paramiko.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { importCsvUser, removeDir, sftpBatch, startFerryNode, tempDir, waitForAppLog } from '../../helpers/ferry-node.ts';
import type { RunningNode } from '../../helpers/ferry-node.ts';

const USER = 'logged';
const PASSWORD = 'connection log pw';

/** Logs in with paramiko, opens the sftp subsystem and sends INIT, then an OPEN whose filename runs past the packet. */
const MALFORMED_OPEN = String.raw`
import sys, socket, struct, paramiko
port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
t = paramiko.Transport(socket.create_connection(('127.0.0.1', port), timeout=10))
t.connect(username=user, password=password)
ch = t.open_session()
ch.settimeout(10)
ch.invoke_subsystem('sftp')
def recvn(n):
    data = b''
    while len(data) < n:
        chunk = ch.recv(n - len(data))
        if not chunk:
            raise EOFError('channel closed')
        data += chunk
    return data
def send(payload):
    ch.sendall(struct.pack('>I', len(payload)) + payload)
def recv():
    return recvn(struct.unpack('>I', recvn(4))[0])
send(b'\x01' + struct.pack('>I', 3))
recv()
send(b'\x03' + struct.pack('>I', 7) + struct.pack('>I', 1000) + b'abc')
reply = recv()
print(reply[0], struct.unpack('>I', reply[1:5])[0], struct.unpack('>I', reply[5:9])[0])
ch.close()
t.close()
`;

function python(script: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('/usr/bin/python3', ['-c', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const closedLine = (conn: unknown) => (line: Record<string, unknown>) => line.msg === 'ssh: connection closed' && line.conn === conn;

describe('connection lines in the app log', () => {
  const work = tempDir();
  let node: RunningNode;

  before(async () => {
    node = await startFerryNode({ dataDir: path.join(work, 'data') });
    await importCsvUser(node, { username: USER, password: PASSWORD, home: path.join(work, 'home'), work, subsystems: ['ssh2_sftp'], permissions: ['dirList', 'fileGet', 'filePut'] });
  });
  after(async () => {
    await node.stop();
    removeDir(work);
  });

  test('a malformed SFTP request is logged with the connection id and the user, and the connection closes as the client ended it', async () => {
    const result = await python(MALFORMED_OPEN, [String(node.sftpPort), USER, PASSWORD]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), '101 7 5', 'STATUS BAD_MESSAGE for request 7');
    const [warning] = await waitForAppLog(node, (line) => line.msg === 'malformed sftp request');
    assert.ok(warning);
    assert.equal(warning.level, 40);
    assert.equal(warning.user, USER);
    assert.equal(warning.request, 'open');
    assert.equal(typeof warning.conn, 'string');
    const [opened] = await waitForAppLog(node, (line) => line.msg === 'ssh: connection' && line.conn === warning.conn);
    assert.equal(opened?.remote, '127.0.0.1', 'the id leads to the connection line with the address');
    const [closed] = await waitForAppLog(node, closedLine(warning.conn));
    // paramiko closes its socket with the server's last packets unread, which resets it.
    assert.match(String(closed?.reason), /^(client closed|connection reset by the client \(ECONNRESET\))$/);
    assert.equal(closed?.user, USER);
    assert.equal(closed?.loggedIn, true);
  });

  test('an OpenSSH sftp session that ends normally closes as the client closed it', async () => {
    const before = new Set((await waitForAppLog(node, (line) => line.msg === 'ssh: connection', { count: 0 })).map((line) => line.conn));
    await sftpBatch(node, { user: USER, password: PASSWORD, commands: 'ls\n', cwd: work });
    const [opened] = await waitForAppLog(node, (line) => line.msg === 'ssh: connection' && !before.has(line.conn));
    const [closed] = await waitForAppLog(node, closedLine(opened?.conn));
    assert.deepEqual([closed?.reason, closed?.user, closed?.loggedIn], ['client closed', USER, true]);
  });

  test('garbage instead of an identification string closes as a protocol error', async () => {
    const before = new Set((await waitForAppLog(node, (line) => line.msg === 'ssh: connection', { count: 0 })).map((line) => line.conn));
    await new Promise<void>((resolve) => {
      const socket = net.connect(node.sftpPort, '127.0.0.1', () => socket.write(Buffer.alloc(70_000, 'x')));
      socket.resume();
      socket.on('error', () => {});
      socket.on('close', () => resolve());
    });
    const [opened] = await waitForAppLog(node, (line) => line.msg === 'ssh: connection' && !before.has(line.conn));
    const [closed] = await waitForAppLog(node, closedLine(opened?.conn));
    assert.deepEqual([closed?.reason, closed?.loggedIn], ['protocol error: no valid identification string', false]);
  });
});
