// What keeps FTP users and the node safe, driven by real clients and raw sockets: TLS policy and
// subsystems at login, one Session deciding every verb, confinement, the data connection's
// address rules, STARTTLS injection, ABOR, hostile input and a clean drain on shutdown.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PERMISSIONS } from '../../../src/config/model/permissions.ts';
import { curl, ftpUrl, ftplib, lftp } from '../../helpers/ftp-clients.ts';
import { FTP_PASSWORD, startFtpTestServer } from '../../helpers/ftp-server.ts';
import type { FtpTestServer } from '../../helpers/ftp-server.ts';

/** Reads a control connection's replies line by line. */
function control(port: number, host = '127.0.0.1') {
  const socket = net.connect(port, host);
  socket.setEncoding('utf8');
  let buffer = '';
  const waiters: (() => void)[] = [];
  socket.on('data', (d: string) => {
    buffer += d;
    for (const w of waiters.splice(0)) w();
  });
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  /** The next final reply line (`ddd text`), waiting at most `ms`. */
  const reply = async (ms = 5_000): Promise<string> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = /^(\d{3}) [^\r\n]*\r\n/m.exec(buffer);
      if (m) {
        const end = (m.index ?? 0) + m[0].length;
        buffer = buffer.slice(end);
        return m[0].trimEnd();
      }
      if (Date.now() > deadline || socket.destroyed) throw new Error(`no reply; have ${JSON.stringify(buffer)}`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  };
  const send = async (line: string) => {
    socket.write(`${line}\r\n`);
    return reply();
  };
  return { socket, reply, send, closed };
}

describe('FTP login policy', () => {
  let server: FtpTestServer;
  before(async () => {
    // The default site policy: no plain-FTP login, protected data, session reuse required.
    server = await startFtpTestServer({
      users: [
        { username: 'alice', password: FTP_PASSWORD },
        { username: 'esonly', password: FTP_PASSWORD, subsystems: ['ftpes'] },
        { username: 'sonly', password: FTP_PASSWORD, subsystems: ['ftps'] },
        { username: 'sftponly', password: FTP_PASSWORD, subsystems: ['ssh2_sftp'] },
      ],
    });
  });
  after(() => server.stop());

  it('refuses a login over plain FTP where plain FTP is off, and accepts it after AUTH TLS', async () => {
    const plainLogin = await ftplib<{ login: string }>('login_code', { host: server.host, port: server.port }, 'alice', FTP_PASSWORD);
    assert.equal(plainLogin.login, '530');
    const tlsLogin = await ftplib<{ login: string }>('login_code_tls', { host: server.host, port: server.port }, 'alice', FTP_PASSWORD);
    assert.equal(tlsLogin.login, '230');
  });

  it('lets a user log in only over the subsystems the account allows (ftp, ftpes, ftps)', async () => {
    const explicitPort = { host: server.host, port: server.port };
    assert.equal((await ftplib<{ login: string }>('login_code_tls', explicitPort, 'esonly', FTP_PASSWORD)).login, '230');
    assert.equal((await ftplib<{ login: string }>('login_code_tls', explicitPort, 'sonly', FTP_PASSWORD)).login, '530');
    assert.equal((await ftplib<{ login: string }>('login_code_tls', explicitPort, 'sftponly', FTP_PASSWORD)).login, '530');
    // Implicit FTPS: curl over ftps:// (ftplib has no implicit mode).
    const implicit = { host: server.host, port: server.ftpsPort };
    assert.match((await curl(['-l', ftpUrl('ftps', implicit, 'sonly', FTP_PASSWORD, '/')])).stdout, /^$/);
    await assert.rejects(curl(['-l', ftpUrl('ftps', implicit, 'esonly', FTP_PASSWORD, '/')]), /530|Access denied|denied/);
    assert.ok(server.records.some((r) => r.operation === 'login-failed' && r.username === 'esonly' && r.protocol === 'ftps'));
  });

  it('answers a wrong password with 530 and closes the connection after too many failures', async () => {
    const out = await ftplib<{ codes: string[] }>('many_failures', { host: server.host, port: server.port }, 'alice', 'wrong password');
    assert.deepEqual(out.codes.slice(0, 5), ['530', '530', '530', '530', '530']);
    assert.equal(out.codes[5], '421');
    assert.equal(out.codes.length, 6);
    assert.ok(server.records.filter((r) => r.operation === 'login-failed' && r.username === 'alice').length >= 6);
  });
});

describe('FTP operations through the Session', () => {
  let server: FtpTestServer;
  const seed = (user: string) => {
    const home = server.homeOf(user);
    writeFileSync(path.join(home, 'present.txt'), 'present\n');
    writeFileSync(path.join(home, 'movable.txt'), 'movable\n');
    writeFileSync(path.join(home, 'deletable.txt'), 'deletable\n');
    writeFileSync(path.join(home, 'big.bin'), Buffer.alloc(64 * 1024 * 1024, 1));
    mkdirSync(path.join(home, 'emptydir'), { recursive: true });
  };
  before(async () => {
    server = await startFtpTestServer({
      security: { allowPlainLogin: true },
      users: [
        { username: 'writer', password: FTP_PASSWORD },
        { username: 'reader', password: FTP_PASSWORD, permissions: ['dirList', 'fileGet'] },
        { username: 'putonly', password: FTP_PASSWORD, permissions: ['dirList', 'filePut'] },
      ],
    });
    for (const user of ['writer', 'reader', 'putonly']) seed(user);
  });
  after(() => server.stop());
  const target = () => ({ host: server.host, port: server.port });

  it('allows every verb to a user with every permission and denies each to one without it, as the Session decides', async () => {
    assert.equal(PERMISSIONS.length, 12);
    const all = await ftplib<Record<string, string>>('verbs', target(), 'writer', FTP_PASSWORD);
    for (const [verb, code] of Object.entries(all)) assert.ok(['ok', '213', '250', '257', '200', '226'].includes(code), `${verb}: ${code}`);
    const reader = await ftplib<Record<string, string>>('verbs', target(), 'reader', FTP_PASSWORD);
    for (const verb of ['LIST', 'NLST', 'MLSD', 'RETR', 'SIZE', 'XSHA256']) assert.ok(['ok', '213', '250', '226'].includes(reader[verb] as string), `${verb}: ${reader[verb]}`);
    for (const verb of ['STOR', 'STOR-existing', 'APPE', 'MKD', 'RMD', 'RNFR/RNTO', 'DELE', 'MFMT', 'SITE CHMOD']) assert.equal(reader[verb], '550', verb);
    const home = server.homeOf('reader');
    assert.equal(readFileSync(path.join(home, 'present.txt'), 'utf8'), 'present\n');
    assert.ok(existsSync(path.join(home, 'deletable.txt')) && existsSync(path.join(home, 'movable.txt')) && existsSync(path.join(home, 'emptydir')));
    assert.ok(!existsSync(path.join(home, 'new.txt')) && !existsSync(path.join(home, 'newdir')));
    // filePut without fileModify: a new file may be made, an existing one not changed.
    const putonly = await ftplib<Record<string, string>>('verbs', target(), 'putonly', FTP_PASSWORD);
    assert.equal(putonly.STOR, '226');
    assert.equal(putonly['STOR-existing'], '550');
    assert.equal(putonly.APPE, '550');
    assert.equal(putonly.RETR, '550');
    assert.equal(readFileSync(path.join(server.homeOf('putonly'), 'present.txt'), 'utf8'), 'present\n');
    const denied: string[] = server.records.filter((r) => r.username === 'reader' && r.status === 'permission-denied').map((r) => r.operation);
    for (const operation of ['upload', 'mkdir', 'rmdir', 'rename', 'delete', 'setstat']) assert.ok(denied.includes(operation), `${operation} logged as denied: ${denied.join(',')}`);
  });

  it('keeps every path inside the user\'s home: .., absolute paths and NUL never reach outside', async () => {
    const out = await ftplib<Record<string, unknown>>('escape', target(), 'writer', FTP_PASSWORD);
    assert.equal(out.cwd_up, '250');
    assert.equal(out.pwd, '/');
    for (const key of ['retr_passwd', 'retr_abs_passwd', 'size_escape', 'cwd_etc']) assert.equal(out[key], '550', key);
    assert.equal(out.nul, '553');
    // Writes aimed outside land at the root of the home, never beside it.
    const root = path.dirname(server.homeOf('writer'));
    assert.deepEqual(readdirSync(root).sort(), ['putonly', 'reader', 'writer']);
    assert.ok(existsSync(path.join(server.homeOf('writer'), 'escaped.txt')));
    assert.ok(!existsSync(path.join(server.dataDir, 'escaped.txt')) && !existsSync(path.join(root, 'escaped.txt')));
  });

  it('refuses a passive data connection from another address (127.0.0.2), logs it, and still serves the client\'s own', async () => {
    const out = await ftplib<{ thief: string; first: string; done: string; data: string }>('spoofed_data', target(), 'reader', FTP_PASSWORD);
    assert.notEqual(out.thief, 'got data');
    assert.match(out.first, /^150 /);
    assert.match(out.done, /^226 /);
    assert.equal(out.data, 'present\n');
    const refused = server.logs.filter((line) => line.msg === 'ftp: data connection from another address refused');
    assert.ok(refused.some((line) => line.remote === '127.0.0.2' && line.expected === '127.0.0.1'), JSON.stringify(refused));
  });

  it('connects active data connections only back to the client, never to another address or a privileged port', async () => {
    const out = await ftplib<Record<string, string>>('active_policy', target(), 'reader', FTP_PASSWORD);
    assert.equal(out.other_host, '500');
    assert.equal(out.privileged, '500');
    assert.equal(out.eprt_other, '500');
    assert.equal(out.active_retr, 'present\n');
    assert.ok(server.logs.some((line) => line.msg === 'ftp: active data connection to another address refused'));
  });

  it('reads ABOR during a download: 426 for the transfer, 226 for ABOR, logged aborted, and the session goes on', async () => {
    const out = await ftplib<{ first: string; second: string; after: string }>('abort', target(), 'reader', FTP_PASSWORD);
    assert.match(out.first, /^426 /);
    assert.match(out.second, /^226 /);
    assert.equal(out.after, '200 NOOP ok');
    const download = server.records.filter((r) => r.username === 'reader' && r.operation === 'download' && r.path === '/big.bin');
    assert.ok(download.some((r) => r.status === 'aborted'), JSON.stringify(download));
  });

  it('never runs a command pipelined behind AUTH TLS in clear text (no STARTTLS injection)', async () => {
    const out = await ftplib<{ first: string; after: string }>('pipelined_auth', target(), 'reader', FTP_PASSWORD);
    assert.equal(out.first, '234 AUTH TLS successful\r\n');
    assert.equal(out.after, '200 NOOP ok\r\n');
  });

  it('answers garbage and over-long lines and keeps the connection and the node alive', async () => {
    const out = await ftplib<{ garbage: string; long: string; noop: string }>('garbage', target(), 'reader', FTP_PASSWORD);
    assert.equal(out.garbage, '502 Command not implemented\r\n');
    assert.equal(out.long, '500 Command line too long\r\n');
    assert.equal(out.noop, '200 NOOP ok\r\n');
    // And the listener still serves new clients.
    assert.match((await curl([ftpUrl('ftp', target(), 'reader', FTP_PASSWORD, '/present.txt')])).stdout, /^present$/m);
  });

  it('closes passive listeners and half-open data connections when their control connection goes away', async () => {
    const c = control(server.port);
    await c.reply();
    await c.send('USER reader');
    assert.match(await c.send(`PASS ${FTP_PASSWORD}`), /^230 /);
    const ports: number[] = [];
    const held: net.Socket[] = [];
    for (let i = 0; i < 5; i++) {
      const m = /\(\|\|\|(\d+)\|\)/.exec(await c.send('EPSV'));
      ports.push(Number(m?.[1]));
      // Connected and never used: half-open from the server's point of view.
      const s = net.connect(Number(m?.[1]), '127.0.0.1');
      s.on('error', () => {});
      held.push(s);
      await new Promise((resolve) => s.once('connect', resolve));
    }
    // Each new EPSV closed the one before; the control connection's end closes the last.
    c.socket.destroy();
    await c.closed;
    await Promise.all(held.map((s) => new Promise((resolve) => (s.destroyed ? resolve(undefined) : s.once('close', resolve)))));
    for (const port of ports) {
      const refused = await new Promise<boolean>((resolve) => {
        const probe = net.connect(port, '127.0.0.1');
        probe.once('connect', () => {
          probe.destroy();
          resolve(false);
        });
        probe.once('error', () => resolve(true));
      });
      assert.ok(refused, `passive port ${port} still accepts`);
    }
  });

  it('uses the configured passive port range and external address in PASV replies', async () => {
    const nat = await startFtpTestServer({ security: { allowPlainLogin: true }, passive: { portMin: 50_100, portMax: 50_109, externalAddress: '203.0.113.9' } });
    try {
      const c = control(nat.port);
      await c.reply();
      await c.send('USER alice');
      await c.send(`PASS ${FTP_PASSWORD}`);
      const pasv = await c.send('PASV');
      const m = /\(203,0,113,9,(\d+),(\d+)\)/.exec(pasv);
      assert.ok(m, pasv);
      const port = Number(m[1]) * 256 + Number(m[2]);
      assert.ok(port >= 50_100 && port <= 50_109, String(port));
      const epsv = /\(\|\|\|(\d+)\|\)/.exec(await c.send('EPSV'));
      assert.ok(Number(epsv?.[1]) >= 50_100 && Number(epsv?.[1]) <= 50_109);
      c.socket.destroy();
    } finally {
      await nat.stop();
    }
  });
});

describe('FTP shutdown', () => {
  it('lets a running transfer finish, tells idle clients 421 and refuses new connections while draining', async () => {
    const server = await startFtpTestServer({ security: { allowPlainLogin: true }, limits: { closeGraceMs: 20_000 } });
    try {
      writeFileSync(path.join(server.homeOf('alice'), 'big.bin'), Buffer.alloc(256 * 1024 * 1024, 3));
      const idle = control(server.port);
      await idle.reply();
      await idle.send('USER alice');
      await idle.send(`PASS ${FTP_PASSWORD}`);
      // A slow download (rate-limited client) is under way when the close begins.
      const download = curl(['--limit-rate', '64M', '-o', path.join(server.dataDir, 'got.bin'), ftpUrl('ftp', { host: server.host, port: server.port }, 'alice', FTP_PASSWORD, '/big.bin')]);
      await new Promise((resolve) => setTimeout(resolve, 700));
      const closing = server.close();
      assert.match(await idle.reply(), /^421 /);
      await assert.rejects(lftp(`ftp://${server.host}:${server.port}`, 'alice', FTP_PASSWORD, 'ls', { timeoutMs: 10_000 }));
      await download;
      await closing;
      assert.equal(readFileSync(path.join(server.dataDir, 'got.bin')).length, 256 * 1024 * 1024);
      assert.ok(server.records.some((r) => r.operation === 'download' && r.path === '/big.bin' && r.status === 'ok'));
    } finally {
      await server.stop();
    }
  });
});
