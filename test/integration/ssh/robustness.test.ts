// Hostile and unusual peers: raw garbage, silent sockets, too many channels, subsystems the
// account may not use, and shutdown while a transfer is running. The node must stay up and
// serve the next client normally.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import ssh2 from 'ssh2';
import type { ClientChannel } from 'ssh2';
import { PASSWORD, logged, makeClientKey, python, run, startHarness, waitForLog, withPassword } from './harness.ts';
import type { Harness } from './harness.ts';

function connectClient(h: Harness, options: Partial<ssh2.ConnectConfig> = {}): Promise<ssh2.Client> {
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    client.once('ready', () => resolve(client)).once('error', reject);
    client.connect({ host: '127.0.0.1', port: h.port, username: 'alice', password: PASSWORD, readyTimeout: 10_000, ...options });
  });
}

/** Sends `bytes` on a raw TCP connection; resolves with what came back once the server hangs up. */
function rawExchange(port: number, bytes: Buffer, timeoutMs = 10_000): Promise<{ received: Buffer; closedByServer: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ received: Buffer.concat(chunks), closedByServer: false });
    }, timeoutMs);
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ received: Buffer.concat(chunks), closedByServer: true });
    });
    socket.write(bytes);
  });
}

async function stillServes(h: Harness): Promise<void> {
  const result = await withPassword('ssh', ['-p', String(h.port), ...h.sshOptions(), 'alice@127.0.0.1', 'true']);
  assert.match(result.stderr, /does not run a shell/, 'a normal client still gets in after the hostile one');
}

describe('SSH server under hostile input', () => {
  it('hangs up on garbage instead of an identification string, and keeps serving', async (t) => {
    const h = await startHarness();
    t.after(() => h.stop());
    const junk = await rawExchange(h.port, randomBytes(64 * 1024));
    assert.equal(junk.closedByServer, true);
    assert.match(junk.received.toString('latin1'), /^SSH-2\.0-Ferry /);
    const badPacket = Buffer.concat([Buffer.from('SSH-2.0-OpenSSH_9.2\r\n'), Buffer.from([0xff, 0xff, 0xff, 0xf0, 4]), randomBytes(1024)]);
    assert.equal((await rawExchange(h.port, badPacket)).closedByServer, true);
    await stillServes(h);
  });

  it('disconnects a client that does not log in within the login grace time', async (t) => {
    const h = await startHarness({ site: { admission: { loginGraceMs: 300 } } });
    t.after(() => h.stop());
    const started = Date.now();
    const silent = await rawExchange(h.port, Buffer.from('SSH-2.0-Silent_1.0\r\n'), 5_000);
    assert.equal(silent.closedByServer, true);
    assert.ok(Date.now() - started < 3_000);
    await waitForLog(h, 'ssh: connection closed');
    assert.deepEqual(logged(h, 'ssh: connection closed').map((l) => l.reason), ['login grace time expired']);
  });

  it('bounds connections that have not logged in, and still admits one when a slot frees', async (t) => {
    const h = await startHarness({ site: { admission: { maxStartups: { start: 2, rate: 30, full: 2 } } } });
    t.after(() => h.stop());
    const idle = [net.connect(h.port, '127.0.0.1'), net.connect(h.port, '127.0.0.1')];
    for (const socket of idle) {
      socket.on('error', () => {});
      await once(socket, 'data'); // the server's identification: the connection is counted
    }
    const third = await rawExchange(h.port, Buffer.from('SSH-2.0-Third_1.0\r\n'), 5_000);
    assert.equal(third.closedByServer, true);
    assert.equal(third.received.length, 0, 'refused before a byte is sent');
    assert.equal(logged(h, 'too many connections not yet logged in').length, 1);
    idle[0]!.destroy();
    await once(idle[0]!, 'close');
    await new Promise((resolve) => setTimeout(resolve, 100));
    await stillServes(h);
    idle[1]!.destroy();
  });

  it('refuses session channels beyond the per-connection limit', async (t) => {
    const h = await startHarness({ limits: { maxChannelsPerConnection: 2, closeGraceMs: 2_000 } });
    t.after(() => h.stop());
    const client = await connectClient(h);
    const open = () =>
      new Promise<ClientChannel | Error>((resolve) => client.exec('scp -f /nothing', (err, channel) => resolve(err ?? channel)));
    const first = await open();
    const second = await open();
    const third = await open();
    assert.ok(!(first instanceof Error) && !(second instanceof Error));
    assert.ok(third instanceof Error, 'the third channel is refused');
    assert.equal(logged(h, 'too many channels').length, 1);
    client.end();
  });

  it('refuses port forwarding in both directions', async (t) => {
    const h = await startHarness();
    t.after(() => h.stop());
    const client = await connectClient(h);
    const local = await new Promise<Error | undefined>((resolve) => client.forwardOut('127.0.0.1', 0, '127.0.0.1', h.port, (err) => resolve(err)));
    assert.ok(local instanceof Error, 'direct-tcpip (ssh -L) is refused');
    const remote = await new Promise<Error | undefined>((resolve) => client.forwardIn('127.0.0.1', 0, (err) => resolve(err)));
    assert.ok(remote instanceof Error, 'tcpip-forward (ssh -R) is refused');
    client.end();
  });

  it('tells a user without ssh2_sftp that SFTP is not enabled, through the sftp client', async (t) => {
    const keyDir = await mkdtemp(path.join(tmpdir(), 'ferry-keys-'));
    t.after(() => rm(keyDir, { recursive: true, force: true }));
    const key = await makeClientKey(keyDir, 'ed25519');
    const h = await startHarness({ subsystems: ['ssh2_scp'], user: { authorizedKeys: [key.publicLine] } });
    t.after(() => h.stop());
    const result = await run('sftp', ['-P', String(h.port), ...h.sshOptions(['-i', key.privatePath]), '-b', '-', 'alice@127.0.0.1'], { input: 'ls\n' });
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /SFTP is not enabled for this account; ask your administrator/);
  });

  it('refuses a disabled account like a wrong password', async (t) => {
    const h = await startHarness({ user: { enabled: false } });
    t.after(() => h.stop());
    const result = await withPassword('ssh', ['-p', String(h.port), ...h.sshOptions(['-o', 'NumberOfPasswordPrompts=1']), 'alice@127.0.0.1', 'true']);
    assert.match(result.stderr, /Permission denied \(publickey,password\)/);
    assert.ok(logged(h, 'ssh: login failed').some((l) => l.reason === 'account disabled'));
  });

  it('refuses the right password for an account that allows only public keys', async (t) => {
    const h = await startHarness({ user: { authMethods: ['publickey'] } });
    t.after(() => h.stop());
    const result = await withPassword('ssh', ['-p', String(h.port), ...h.sshOptions(['-o', 'NumberOfPasswordPrompts=1']), 'alice@127.0.0.1', 'true']);
    assert.match(result.stderr, /Permission denied/);
    assert.ok(logged(h, 'ssh: login failed').some((l) => l.reason === 'password authentication is not enabled for this account'));
  });

  it('takes as long to refuse an unknown user as a wrong password', async (t) => {
    const h = await startHarness();
    t.after(() => h.stop());
    // Only the authentication request is timed (paramiko, one fresh connection per attempt), so
    // the key exchange's variance does not hide or fake a difference.
    const script = String.raw`
import sys, socket, time, statistics, paramiko
port = int(sys.argv[1])
def timed(user):
    t = paramiko.Transport(socket.create_connection(('127.0.0.1', port), timeout=10))
    t.start_client(timeout=10)
    started = time.perf_counter()
    try:
        t.auth_password(user, 'not the password')
    except paramiko.AuthenticationException:
        pass
    elapsed = time.perf_counter() - started
    t.close()
    return elapsed * 1000
timed('warmup')
unknown, wrong = [], []
for i in range(7):
    unknown.append(timed('nobody'))
    wrong.append(timed('alice'))
print('%.1f %.1f' % (statistics.median(unknown), statistics.median(wrong)))
`;
    const result = await python(script, [String(h.port)], 60_000);
    const [u, w] = result.stdout.trim().split(' ').map(Number) as [number, number];
    assert.ok(Number.isFinite(u) && Number.isFinite(w), result.stderr);
    assert.ok(Math.abs(u - w) < Math.max(u, w) * 0.5 + 25, `unknown ${u} ms vs wrong password ${w} ms`);
  });
});

describe('SSH server when clients vanish', () => {
  it('ends the transfer and the session when the connection drops mid-download', async (t) => {
    const h = await startHarness();
    t.after(() => h.stop());
    await mkdir(h.homeDir, { recursive: true });
    await writeFile(path.join(h.homeDir, 'big.bin'), randomBytes(8 * 1024 * 1024));
    const client = await connectClient(h);
    const channel = await new Promise<ClientChannel>((resolve, reject) => client.exec('scp -f /big.bin', (err, ch) => (err ? reject(err) : resolve(ch))));
    channel.write(Buffer.from([0, 0])); // start, and accept the C record
    await once(channel, 'data');
    (client as unknown as { _sock: net.Socket })._sock.destroy(); // a cable pulled, not a polite close
    const deadline = Date.now() + 5_000;
    while (!h.records.some((r) => r.operation === 'logout') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    const download = h.records.find((r) => r.operation === 'download' && r.path === '/big.bin');
    assert.ok(download, 'the interrupted download is logged');
    assert.notEqual(download.status, 'ok');
    assert.ok(h.records.some((r) => r.operation === 'logout'), 'the session was closed');
    await stillServes(h);
  });
});

describe('SSH server: why a connection closed', () => {
  it('says a logged-in client that stopped answering keepalives timed out', async (t) => {
    const h = await startHarness({ limits: { keepaliveIntervalMs: 200, keepaliveCountMax: 1 } });
    t.after(() => h.stop());
    const client = await connectClient(h);
    client.on('error', () => {});
    // The process hangs: nothing is read, so no keepalive is answered (TCP still acknowledges).
    (client as unknown as { _sock: net.Socket })._sock.pause();
    const [closed] = await waitForLog(h, 'ssh: connection closed', { timeoutMs: 5_000 });
    assert.deepEqual([closed?.reason, closed?.user, closed?.loggedIn], ['keepalive timeout: the client stopped answering', 'alice', true]);
    client.end();
  });

  it('says a client was cut off after too many failed logins', async (t) => {
    const h = await startHarness({ limits: { maxAuthTries: 1 } });
    t.after(() => h.stop());
    const result = await withPassword('ssh', ['-p', String(h.port), ...h.sshOptions(['-o', 'NumberOfPasswordPrompts=1']), 'alice@127.0.0.1', 'true'], 'wrong password');
    assert.notEqual(result.code, 0);
    const [closed] = await waitForLog(h, 'ssh: connection closed');
    assert.deepEqual([closed?.reason, closed?.loggedIn], ['too many failed login attempts', false]);
  });
});

describe('SSH server when an SFTP client vanishes', () => {
  it('closes the session when the connection drops during an SFTP download', async (t) => {
    const h = await startHarness();
    t.after(() => h.stop());
    await mkdir(h.homeDir, { recursive: true });
    await writeFile(path.join(h.homeDir, 'big.bin'), randomBytes(16 * 1024 * 1024));
    const client = await connectClient(h);
    const sftp = await new Promise<ssh2.SFTPWrapper>((resolve, reject) => client.sftp((err, s) => (err ? reject(err) : resolve(s))));
    const stream = sftp.createReadStream('/big.bin');
    stream.on('error', () => {});
    await once(stream, 'data');
    stream.pause();
    (client as unknown as { _sock: net.Socket })._sock.destroy();
    const deadline = Date.now() + 5_000;
    while (!h.records.some((r) => r.operation === 'logout') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(h.records.some((r) => r.operation === 'logout'), 'the session was closed');
    await stillServes(h);
  });
});

describe('SSH server start', () => {
  it('says which address is taken and what to do when the port is in use', async (t) => {
    const first = await startHarness();
    t.after(() => first.stop());
    await assert.rejects(startHarness({ port: first.port }), (error: Error) => {
      assert.match(error.message, new RegExp(`site default: cannot listen for SSH on 127\\.0\\.0\\.1:${first.port}: another process uses it; stop it or choose another port`));
      return true;
    });
  });
});

describe('SSH server shutdown', () => {
  it('lets an in-flight download finish before closing, and refuses new connections', async (t) => {
    const h = await startHarness({ limits: { closeGraceMs: 20_000 } });
    t.after(() => h.stop());
    const size = 8 * 1024 * 1024;
    await mkdir(h.homeDir, { recursive: true });
    await writeFile(path.join(h.homeDir, 'big.bin'), randomBytes(size));
    const client = await connectClient(h);
    const channel = await new Promise<ClientChannel>((resolve, reject) => client.exec('scp -f /big.bin', (err, ch) => (err ? reject(err) : resolve(ch))));
    // A slow reader: pause between chunks so the transfer is still running at close.
    let received = 0;
    channel.on('data', (chunk: Buffer) => {
      received += chunk.length;
      channel.pause();
      setTimeout(() => channel.resume(), 2);
    });
    channel.write(Buffer.from([0]));
    await new Promise((resolve) => setTimeout(resolve, 100));
    channel.write(Buffer.from([0])); // ack the C record
    const closing = h.server.close();
    const refused = await rawExchange(h.port, Buffer.from('SSH-2.0-Late_1.0\r\n'), 3_000).catch(() => ({ closedByServer: true, received: Buffer.alloc(0) }));
    assert.equal(refused.received.length, 0, 'no new connection is served while closing');
    await once(channel, 'data'); // still flowing after close() was called
    channel.write(Buffer.from([0]));
    const drained = once(channel, 'close');
    await closing;
    await drained; // what the paused reader still buffers arrives after the server is gone
    assert.ok(received >= size, `received ${received} of ${size} bytes before the server closed`);
    assert.equal(logged(h, 'download ended early').length, 0);
    client.end();
  });
});
