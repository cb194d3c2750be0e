// What FTP and HTTP need from the Session that SFTP handlers used to do themselves: append
// (APPE), server-side copy that knows one file under two names, lsetstat, and a current
// directory.
import assert from 'node:assert/strict';
import { linkSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { PERMISSIONS } from '../../../src/config/model/permissions.ts';
import { WorkingDirectory, expandHome } from '../../../src/session/cwd.ts';
import type { Session } from '../../../src/session/types.ts';
import { createSessionFixture } from '../../helpers/session-fixture.ts';

const without = (...names: string[]) => PERMISSIONS.filter((p) => !names.includes(p));

async function upload(session: Session, name: string, content: string, options: Parameters<Session['openWrite']>[1]): Promise<void> {
  const stream = await session.openWrite(name, options);
  stream.end(content);
  await finished(stream);
}

describe('append', () => {
  it('adds to the end of an existing file and creates a missing one, logged as uploads', async (t) => {
    const fx = await createSessionFixture();
    t.after(fx.cleanup);
    writeFileSync(path.join(fx.homeDir, 'log'), 'one\n');
    await upload(fx.session, '/log', 'two\n', { append: true });
    await upload(fx.session, '/new', 'first\n', { append: true });
    assert.equal(readFileSync(path.join(fx.homeDir, 'log'), 'utf8'), 'one\ntwo\n');
    assert.equal(readFileSync(path.join(fx.homeDir, 'new'), 'utf8'), 'first\n');
    assert.deepEqual(
      fx.records.filter((r) => r.operation === 'upload').map((r) => [r.path, r.status, r.bytes]),
      [
        ['/log', 'ok', 4],
        ['/new', 'ok', 6],
      ],
    );
  });

  it('needs fileModify to add to an existing file, filePut to start a new one', async (t) => {
    const fx = await createSessionFixture({ permissions: without('fileModify') });
    t.after(fx.cleanup);
    writeFileSync(path.join(fx.homeDir, 'log'), 'one\n');
    await assert.rejects(fx.session.openWrite('/log', { append: true }), { kind: 'permission-denied' });
    await upload(fx.session, '/new', 'x', { append: true });
    assert.equal(readFileSync(path.join(fx.homeDir, 'log'), 'utf8'), 'one\n');
  });
});

describe('server-side copy', () => {
  it('copies a file and logs one copy line with its source, target and bytes', async (t) => {
    const fx = await createSessionFixture();
    t.after(fx.cleanup);
    writeFileSync(path.join(fx.homeDir, 'a'), 'content');
    await fx.session.copy('/a', '/b');
    assert.equal(readFileSync(path.join(fx.homeDir, 'b'), 'utf8'), 'content');
    const line = fx.records.find((r) => r.operation === 'copy');
    assert.deepEqual([line?.path, line?.target, line?.status, line?.bytes], ['/a', '/b', 'ok', 7]);
    assert.deepEqual(fx.session.transfers(), []);
  });

  it('refuses to copy a file onto itself under another name: a hard link or a symlink', async (t) => {
    const fx = await createSessionFixture();
    t.after(fx.cleanup);
    writeFileSync(path.join(fx.homeDir, 'a'), 'precious');
    linkSync(path.join(fx.homeDir, 'a'), path.join(fx.homeDir, 'hard'));
    symlinkSync('a', path.join(fx.homeDir, 'soft'));
    for (const [from, to] of [
      ['/a', '/hard'],
      ['/hard', '/a'],
      ['/soft', '/a'],
      ['/a', '/a'],
    ] as const) {
      await assert.rejects(fx.session.copy(from, to, { overwrite: true }), { kind: 'invalid-request' }, `${from} -> ${to}`);
    }
    assert.equal(readFileSync(path.join(fx.homeDir, 'a'), 'utf8'), 'precious');
    assert.equal(statSync(path.join(fx.homeDir, 'a')).nlink, 2);
  });

  it('replaces an existing target only when asked and allowed', async (t) => {
    const fx = await createSessionFixture({ permissions: without('fileModify') });
    t.after(fx.cleanup);
    writeFileSync(path.join(fx.homeDir, 'a'), 'new');
    writeFileSync(path.join(fx.homeDir, 'b'), 'old');
    await assert.rejects(fx.session.copy('/a', '/b'), { kind: 'exists' });
    await assert.rejects(fx.session.copy('/a', '/b', { overwrite: true }), { kind: 'permission-denied' });
    assert.equal(readFileSync(path.join(fx.homeDir, 'b'), 'utf8'), 'old');
    const noGet = await createSessionFixture({ permissions: without('fileGet') });
    t.after(noGet.cleanup);
    writeFileSync(path.join(noGet.homeDir, 'a'), 'secret');
    await assert.rejects(noGet.session.copy('/a', '/c'), { kind: 'permission-denied' });
    assert.equal(fx.records.filter((r) => r.operation === 'copy').map((r) => r.status).join(' '), 'exists permission-denied');
  });

  it('tells two handles on one file apart from two files, by identity', async (t) => {
    const fx = await createSessionFixture();
    t.after(fx.cleanup);
    writeFileSync(path.join(fx.homeDir, 'a'), 'a');
    writeFileSync(path.join(fx.homeDir, 'other'), 'o');
    linkSync(path.join(fx.homeDir, 'a'), path.join(fx.homeDir, 'hard'));
    const a = await fx.session.open('/a', { read: true });
    const hard = await fx.session.open('/hard', { write: true });
    const other = await fx.session.open('/other', { read: true });
    const created = await fx.session.open('/created', { write: true, create: true });
    assert.equal(await a.sameFileAs(hard), true);
    assert.equal(await a.sameFileAs(other), false);
    assert.equal(await created.sameFileAs(a), false);
    for (const file of [a, hard, other, created]) await file.close();
  });
});

describe('lsetstat', () => {
  it('changes a file named directly and refuses a symbolic link itself instead of changing its target', async (t) => {
    const fx = await createSessionFixture();
    t.after(fx.cleanup);
    writeFileSync(path.join(fx.homeDir, 'f'), 'x');
    symlinkSync('f', path.join(fx.homeDir, 'l'));
    await fx.session.setStat('/f', { mode: 0o600 }, { follow: false });
    assert.equal(statSync(path.join(fx.homeDir, 'f')).mode & 0o777, 0o600);
    await assert.rejects(fx.session.setStat('/l', { mode: 0o644 }, { follow: false }), { kind: 'unsupported' });
    assert.equal(statSync(path.join(fx.homeDir, 'f')).mode & 0o777, 0o600);
    await fx.session.setStat('/l', { mode: 0o640 });
    assert.equal(statSync(path.join(fx.homeDir, 'f')).mode & 0o777, 0o640, 'setstat follows the link');
  });
});

describe('the current directory', () => {
  it('starts at the root, changes only to directories and resolves names against itself', async (t) => {
    const fx = await createSessionFixture();
    t.after(fx.cleanup);
    writeFileSync(path.join(fx.homeDir, 'file'), 'x');
    const cwd = new WorkingDirectory(fx.session);
    assert.equal(cwd.path, '/');
    await fx.session.mkdir('/a');
    await fx.session.mkdir('/a/b');
    assert.equal(await cwd.change('a'), '/a');
    assert.equal(await cwd.change('b/../b'), '/a/b');
    assert.equal(cwd.resolve('x.txt'), '/a/b/x.txt');
    assert.equal(cwd.resolve('/x.txt'), '/x.txt');
    assert.equal(cwd.resolve('~/x.txt'), '/x.txt');
    assert.equal(await cwd.up(), '/a');
    await assert.rejects(cwd.change('/file'), { kind: 'not-a-directory' });
    await assert.rejects(cwd.change('/missing'), { kind: 'not-found' });
    assert.equal(cwd.path, '/a', 'a refused change keeps the directory');
    assert.equal(await cwd.change('../../..'), '/', 'nothing climbs above the root');
  });

  it('expands the ~ forms to the home, which is the root, and refuses another user', () => {
    assert.equal(expandHome('~', 'alice'), '/');
    assert.equal(expandHome('~/docs', 'alice'), '/docs');
    assert.equal(expandHome('~alice/docs', 'alice'), '/docs');
    assert.equal(expandHome('', 'alice'), '.');
    assert.equal(expandHome('docs', 'alice'), 'docs');
    assert.throws(() => expandHome('~bob/docs', 'alice'), { kind: 'not-found' });
  });
});
