// The operator interface as a newcomer uses it: `ferry start` on a fresh data directory, a
// client logging in with the printed credentials, `ferry importusers` against the running node,
// a restart that keeps everything, and SIGTERM ending the node cleanly.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { crashNode, ferryBin, removeDir, runFerry, sftpBatch, startFerryNode, tempDir, waitForAppLog } from '../../helpers/ferry-node.ts';
import type { RunningNode } from '../../helpers/ferry-node.ts';

const run = promisify(execFile);

/** OpenSSH sftp as `user` with `password`, running `commands`; rejects when sftp fails. */
function sftpAs(node: RunningNode, user: string, password: string, commands: string, cwd: string, extra: string[] = []) {
  return sftpBatch(node, { user, password, commands, cwd, extra });
}

function firstPassword(node: RunningNode): string {
  const line = node.stdout.find((l) => l.startsWith('first start:'));
  const match = /with password (\S+)/.exec(line ?? '');
  assert.ok(match, `first start prints the first user's password; stdout was: ${node.stdout.join('\n')}`);
  return match[1] as string;
}

describe('ferry start on a fresh data directory', () => {
  const work = tempDir();
  const dataDir = path.join(work, 'data');
  let node: RunningNode;
  let password: string;

  before(async () => {
    node = await startFerryNode({ dataDir });
    password = firstPassword(node);
  });
  after(async () => {
    await node.stop();
    removeDir(work);
  });

  test('prints where to connect and how to log in, and keeps the credentials in a 0600 file', () => {
    assert.match(node.stdout.join('\n'), /^listening sftp 127\.0\.0\.1:\d+$/m);
    const file = path.join(dataDir, 'initial-credentials.txt');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.match(readFileSync(file, 'utf8'), new RegExp(`ferry / ${password}`));
    assert.equal(statSync(dataDir).mode & 0o777, 0o700);
  });

  test('the first user logs in with OpenSSH sftp and gets a home directory of their own', async () => {
    writeFileSync(path.join(work, 'hello.txt'), 'hello ferry\n');
    const { stdout } = await sftpAs(node, 'ferry', password, 'put hello.txt\nls -l\n', work);
    assert.match(stdout, /hello\.txt/);
    assert.equal(readFileSync(path.join(dataDir, 'files', 'ferry', 'hello.txt'), 'utf8'), 'hello ferry\n');
    const logDir = path.join(dataDir, 'logs', 'transfers', 'default');
    const log = readdirSync(logDir).map((f) => readFileSync(path.join(logDir, f), 'utf8')).join('');
    assert.match(log, /^#Fields: date time c-ip/m);
    assert.match(log, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d 127\.0\.0\.1 \d+ ferry ssh2_sftp \S+ upload \/hello\.txt - 12 /m);
  });

  test('the default site negotiates DH group exchange for clients that ask for it, and never a CBC cipher', async () => {
    const { stdout } = await sftpAs(node, 'ferry', password, 'pwd\n', work, ['-o', 'KexAlgorithms=diffie-hellman-group-exchange-sha256']);
    assert.match(stdout, /Remote working directory: \//);
    await assert.rejects(sftpAs(node, 'ferry', password, 'pwd\n', work, ['-o', 'Ciphers=aes128-cbc']), /no matching cipher|Connection closed|exit code/);
  });

  test('a wrong password is refused', async () => {
    await assert.rejects(sftpAs(node, 'ferry', 'not-the-password', 'ls\n', work), /Permission denied|exit code|Command failed/);
  });

  test('importusers --dryrun checks the file and changes nothing', async () => {
    const csv = path.join(work, 'dry.csv');
    writeFileSync(csv, `dryuser,"pass word",${path.join(work, 'dry-home')},"ssh2_sftp","dirList,fileGet"\n`);
    const result = await runFerry(['importusers', '--data', dataDir, '--csv', csv, '--vsite', 'default', '--makevfs', '--dryrun']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /dry run: 1 user\(s\) and 1 disk VFS\(s\) would be imported.*dryuser/);
    await assert.rejects(sftpAs(node, 'dryuser', 'pass word', 'ls\n', work));
  });

  test('importusers reports each bad line with its number and imports nothing', async () => {
    const csv = path.join(work, 'bad.csv');
    writeFileSync(
      csv,
      [
        `gooduser,pw1,${path.join(work, 'g')},"ssh2_sftp","dirList"`,
        `Bad User,pw2,${path.join(work, 'b')},"ssh2_sftp","dirList"`,
        `third,pw3,${path.join(work, 't')},"ssh2_sftp","dirList,fly"`,
      ].join('\n') + '\n',
    );
    const result = await runFerry(['importusers', '--data', dataDir, '--csv', csv, '--vsite', 'default', '--makevfs']);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /^line 2: .*username/m);
    assert.match(result.stdout, /^line 3: .*fly/m);
    assert.match(result.stdout, /nothing imported/);
    await assert.rejects(sftpAs(node, 'gooduser', 'pw1', 'ls\n', work));
  });

  test('imported users log in with their permissions: a read-only user cannot upload', async () => {
    const homes = path.join(work, 'imported');
    const csv = path.join(work, 'users.csv');
    writeFileSync(
      csv,
      `reader,"read only",${path.join(homes, 'reader')},"ssh2_sftp,ssh2_scp","dirList,fileGet"\n` +
        `writer,"write too",${path.join(homes, 'writer')},"ssh2_sftp","dirList,fileGet,filePut,dirMake"\n`,
    );
    const result = await runFerry(['importusers', '--data', dataDir, '--csv', csv, '--vsite', 'default', '--makevfs']);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /imported 2 user\(s\)/);

    writeFileSync(path.join(work, 'up.txt'), 'upload\n');
    await sftpAs(node, 'writer', 'write too', 'put up.txt\nmkdir sub\n', work);
    assert.equal(readFileSync(path.join(homes, 'writer', 'up.txt'), 'utf8'), 'upload\n');

    await assert.rejects(sftpAs(node, 'reader', 'read only', 'put up.txt\n', work), /Permission denied/);
    writeFileSync(path.join(homes, 'reader', 'given.txt'), 'for you\n');
    await sftpAs(node, 'reader', 'read only', 'get given.txt got.txt\n', work);
    assert.equal(readFileSync(path.join(work, 'got.txt'), 'utf8'), 'for you\n');
  });

  test('importusers names an unknown site and lists the known ones', async () => {
    const csv = path.join(work, 'one.csv');
    writeFileSync(csv, `someone,pw,${path.join(work, 's')},"ssh2_sftp","dirList"\n`);
    const result = await runFerry(['importusers', '--data', dataDir, '--csv', csv, '--vsite', 'nosuchsite', '--makevfs']);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /no virtual site with id "nosuchsite" \(sites: default\)/);
  });

  test('a second node on the same data directory is refused with the pid of the first', async () => {
    const result = await runFerry(['start', '--data', dataDir, '--host', '127.0.0.1', '--sftp-port', '0'], { timeoutMs: 30_000 });
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, new RegExp(`another Ferry node \\(pid ${node.process.pid}\\)`));
  });
});

describe('a node across restarts', () => {
  test('SIGTERM stops cleanly and a restart keeps users, host keys and files', async (t) => {
    const work = tempDir();
    t.after(() => removeDir(work));
    const dataDir = path.join(work, 'data');
    const first = await startFerryNode({ dataDir });
    const password = firstPassword(first);
    const keyscan = async (port: number) => (await run('ssh-keyscan', ['-p', String(port), '-t', 'ed25519', '127.0.0.1'], { timeout: 20_000 })).stdout;
    const keyBefore = (await keyscan(first.sftpPort)).split(' ').slice(1).join(' ');
    writeFileSync(path.join(work, 'keep.txt'), 'kept\n');
    await sftpAs(first, 'ferry', password, 'put keep.txt\n', work);
    assert.equal(await first.stop(), 0);
    assert.match(first.stdout.join('\n'), /stopping \(SIGTERM\)/);

    const second = await startFerryNode({ dataDir });
    t.after(() => second.stop());
    assert.ok(!second.stdout.some((l) => l.startsWith('first start')), 'a restart is not a first start');
    assert.equal((await keyscan(second.sftpPort)).split(' ').slice(1).join(' '), keyBefore);
    const { stdout } = await sftpAs(second, 'ferry', password, 'ls\n', work);
    assert.match(stdout, /keep\.txt/);
  });

  test('after a crash (SIGKILL) the node starts again: the stale lock and socket are cleared', async (t) => {
    const work = tempDir();
    t.after(() => removeDir(work));
    const dataDir = path.join(work, 'data');
    const first = await startFerryNode({ dataDir });
    const password = firstPassword(first);
    await crashNode(first);
    assert.ok(statSync(path.join(dataDir, 'ferry.pid')).isFile(), 'the killed node left its lock behind');

    const second = await startFerryNode({ dataDir });
    t.after(() => second.stop());
    const { stdout } = await sftpAs(second, 'ferry', password, 'pwd\n', work);
    assert.match(stdout, /Remote working directory: \//);
    const csv = path.join(work, 'after-crash.csv');
    writeFileSync(csv, `survivor,"pass word",${path.join(work, 'survivor')},"ssh2_sftp","dirList"\n`);
    const imported = await runFerry(['importusers', '--data', dataDir, '--csv', csv, '--vsite', 'default', '--makevfs']);
    assert.equal(imported.code, 0, imported.stdout + imported.stderr);
  });

  test('a first start that was cut short before it finished is redone, with a password someone sees', async (t) => {
    const work = tempDir();
    t.after(() => removeDir(work));
    const dataDir = path.join(work, 'data');
    const first = await startFerryNode({ dataDir });
    const lostPassword = firstPassword(first);
    await crashNode(first);
    // As if the crash came after the configuration was written but before the end of first start.
    rmSync(path.join(dataDir, 'initialized'));

    const second = await startFerryNode({ dataDir });
    t.after(() => second.stop());
    const password = firstPassword(second);
    assert.notEqual(password, lostPassword);
    assert.match(readFileSync(path.join(dataDir, 'initial-credentials.txt'), 'utf8'), new RegExp(password));
    await sftpAs(second, 'ferry', password, 'pwd\n', work);
    await assert.rejects(sftpAs(second, 'ferry', lostPassword, 'pwd\n', work));
  });

  test('the CLI says no node is running and how to start one', async (t) => {
    const work = tempDir();
    t.after(() => removeDir(work));
    writeFileSync(path.join(work, 'u.csv'), 'a,b,c,"ssh2_sftp","dirList"\n');
    const result = await runFerry(['importusers', '--data', path.join(work, 'nodata'), '--csv', path.join(work, 'u.csv'), '--vsite', 'default']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /no Ferry node is running with data directory \S*nodata /);
    // Written the way this test ran ferry (by the path of its bin), with the directory it named.
    assert.ok(result.stderr.includes(`Start one with \`${ferryBin} start --data ${path.join(work, 'nodata')}\``), result.stderr);
  });
});

/** Whether nothing listens on host:port now (checked by listening on it briefly). */
function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, host, () => probe.close(() => resolve(true)));
  });
}

describe('start flags', () => {
  test('--host and --sftp-port hold for one run: the stored binding stays 0.0.0.0:2222 and a note names it', async (t) => {
    const work = tempDir();
    t.after(() => removeDir(work));
    const dataDir = path.join(work, 'data');
    const note = 'note: --host 127.0.0.1 --sftp-port 0 overrides the stored binding 0.0.0.0:2222 for this run only';
    let password = '';
    for (const run of ['first start', 'restart']) {
      const node = await startFerryNode({ dataDir });
      t.after(() => node.stop());
      password ||= firstPassword(node);
      assert.ok(node.stdout.includes(note), `${run}: ${node.stdout.join('\n')}`);
      assert.notEqual(node.sftpPort, 2222);
      assert.equal(await node.stop(), 0);
    }

    // Without --sftp-port the stored port is used (on loopback: tests never listen on 0.0.0.0).
    // Where another process holds 127.0.0.1:2222, the start must fail naming that port.
    if (!(await portFree('127.0.0.1', 2222))) {
      const refused = await runFerry(['start', '--data', dataDir, '--host', '127.0.0.1'], { timeoutMs: 30_000 });
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /127\.0\.0\.1:2222/);
      return;
    }
    const node = await startFerryNode({ dataDir, binding: ['--host', '127.0.0.1'] });
    t.after(() => node.stop());
    assert.equal(node.sftpPort, 2222);
    assert.ok(node.stdout.includes('note: --host 127.0.0.1 overrides the stored binding 0.0.0.0:2222 for this run only'), node.stdout.join('\n'));
    const { stdout } = await sftpAs(node, 'ferry', password, 'pwd\n', work);
    assert.match(stdout, /Remote working directory: \//);
  });
});

describe('the app log', () => {
  test('times are ISO 8601 UTC, "node started" carries the pid once, and SIGTERM ends with "node stopped"', async (t) => {
    const work = tempDir();
    t.after(() => removeDir(work));
    const node = await startFerryNode({ dataDir: path.join(work, 'data') });
    t.after(() => node.stop());
    await waitForAppLog(node, (line) => line.msg === 'node started');
    assert.equal(await node.stop(), 0);

    const raw = readFileSync(path.join(node.dataDir, 'logs', 'ferry.log'), 'utf8').split('\n').filter(Boolean);
    const lines = raw.map((line) => JSON.parse(line) as Record<string, unknown>);
    for (const line of lines) assert.match(String(line.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, JSON.stringify(line));
    const started = raw.find((line) => line.includes('"msg":"node started"')) ?? '';
    assert.equal(started.match(/"pid":/g)?.length, 1, started);
    assert.equal(JSON.parse(started).pid, node.process.pid);
    assert.deepEqual(
      lines.filter((line) => line.msg === 'node stopped').map((line) => line.reason),
      ['SIGTERM'],
    );
    assert.equal(lines.at(-1)?.msg, 'node stopped', 'nothing is logged after the node stopped');
  });

  test('a start that cannot listen prints one clear line on the terminal; the stack goes to the log file', async (t) => {
    const work = tempDir();
    t.after(() => removeDir(work));
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    t.after(() => holder.close());
    const port = (holder.address() as net.AddressInfo).port;
    const dataDir = path.join(work, 'data');
    const result = await runFerry(['start', '--data', dataDir, '--host', '127.0.0.1', '--sftp-port', String(port)], { timeoutMs: 30_000 });
    assert.notEqual(result.code, 0);
    assert.deepEqual(result.stderr.trimEnd().split('\n').length, 1, result.stderr);
    assert.match(result.stderr, new RegExp(`^ferry: .*cannot listen .*127\\.0\\.0\\.1:${port}`));
    const failed = readFileSync(path.join(dataDir, 'logs', 'ferry.log'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { msg: string; err?: { stack?: string } })
      .find((line) => line.msg === 'start failed');
    assert.match(failed?.err?.stack ?? '', /EADDRINUSE/);
  });
});

describe('ferry help', () => {
  const commands = ['start', 'importusers', 'passwd', 'addkey', 'help'];

  test('ferry --help lists every command and how to get its options', async () => {
    const result = await runFerry(['--help']);
    assert.equal(result.code, 0, result.stderr);
    for (const command of commands) assert.match(result.stdout, new RegExp(`^  ${command} +\\S`, 'm'));
    assert.match(result.stdout, /ferry <command> --help/);
  });

  test('every command answers --help with its own usage, the same text as ferry help <command>', async () => {
    for (const command of commands) {
      const own = await runFerry([command, '--help']);
      assert.equal(own.code, 0, `${command} --help: ${own.stderr}`);
      assert.match(own.stdout, new RegExp(`^Usage: ferry ${command}\\b`), own.stdout);
      assert.match(own.stdout, /^  -h, --help +show this help$/m);
      const viaHelp = await runFerry(['help', command]);
      assert.equal(viaHelp.code, 0, viaHelp.stderr);
      assert.equal(viaHelp.stdout, own.stdout);
    }
    const start = await runFerry(['start', '-h']);
    for (const option of ['--data DIR', '--host ADDR', '--sftp-port N']) assert.ok(start.stdout.includes(option), `start --help names ${option}`);
  });

  test('start --help starts nothing, even after other options', async (t) => {
    const work = tempDir();
    t.after(() => removeDir(work));
    const dataDir = path.join(work, 'data');
    const result = await runFerry(['start', '--data', dataDir, '--sftp-port', '0', '--help']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^Usage: ferry start/);
    assert.ok(!existsSync(dataDir), 'no data directory was created');
  });

  test('a wrong option or a missing one is named, followed by that command\'s usage', async () => {
    const unknown = await runFerry(['start', '--sftp-prot', '22']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /Unknown option '--sftp-prot'[\s\S]*Usage: ferry start /);
    const missing = await runFerry(['addkey', '--vsite', 'default']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /addkey needs --username NAME, --key-file FILE[\s\S]*Usage: ferry addkey /);
    const noSuch = await runFerry(['help', 'stat']);
    assert.equal(noSuch.code, 2);
    assert.match(noSuch.stderr, /no such command "stat"/);
  });
});
