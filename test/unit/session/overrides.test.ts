// Permission overrides on physical subfolders of the home VFS: POSIX, root-based, the longest
// matching prefix wins and is inherited below it (reference: "Overriding permissions on
// folders/directories", "How to override permissions on subfolders").
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { text } from 'node:stream/consumers';
import { finished } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { PERMISSIONS } from '../../../src/config/model/permissions.ts';
import type { Session } from '../../../src/session/types.ts';
import { createSessionFixture } from '../../helpers/session-fixture.ts';

const denied = { kind: 'permission-denied' };

async function upload(s: Session, p: string, content = 'x') {
  const w = await s.openWrite(p);
  w.end(content);
  await finished(w);
}

async function fixture() {
  const fx = await createSessionFixture({
    permissions: PERMISSIONS,
    overrides: [
      { path: '/incoming', permissions: ['dirList', 'filePut'] },
      { path: '/outgoing', permissions: ['dirList', 'fileGet'] },
      { path: '/outgoing/drop', permissions: ['dirList', 'filePut', 'dirMake'] },
      { path: '/out', permissions: [] },
    ],
  });
  for (const dir of ['incoming', 'outgoing/drop/deeper', 'outgoing/sub', 'outgoing-not', 'out']) mkdirSync(path.join(fx.homeDir, dir), { recursive: true });
  writeFileSync(path.join(fx.homeDir, 'outgoing', 'report.csv'), 'report');
  writeFileSync(path.join(fx.homeDir, 'outgoing', 'sub', 'nested.csv'), 'nested');
  writeFileSync(path.join(fx.homeDir, 'incoming', 'old.txt'), 'old');
  return fx;
}

describe('permission overrides', () => {
  it('restricts an upload-only folder to uploads', async (t) => {
    const fx = await fixture();
    t.after(fx.cleanup);
    const s = fx.session;
    await upload(s, '/incoming/new.txt');
    await assert.rejects(s.openRead('/incoming/old.txt'), denied);
    await assert.rejects(s.remove('/incoming/old.txt'), denied);
    await assert.rejects(upload(s, '/incoming/old.txt'), denied, 'overwriting needs fileModify');
    await assert.rejects(s.mkdir('/incoming/sub'), denied);
    await assert.rejects(s.rename('/incoming/old.txt', '/incoming/renamed.txt'), denied);
  });

  it('restricts a download-only folder to downloads, inherited by its subfolders', async (t) => {
    const fx = await fixture();
    t.after(fx.cleanup);
    const s = fx.session;
    assert.equal(await text(await s.openRead('/outgoing/report.csv')), 'report');
    assert.equal(await text(await s.openRead('/outgoing/sub/nested.csv')), 'nested');
    await assert.rejects(upload(s, '/outgoing/new.csv'), denied);
    await assert.rejects(upload(s, '/outgoing/sub/new.csv'), denied);
    await assert.rejects(s.remove('/outgoing/sub/nested.csv'), denied);
  });

  it('lets the longest matching override win over a shorter one', async (t) => {
    const fx = await fixture();
    t.after(fx.cleanup);
    const s = fx.session;
    await upload(s, '/outgoing/drop/in.txt');
    await s.mkdir('/outgoing/drop/deeper/more');
    await assert.rejects(s.openRead('/outgoing/drop/in.txt'), denied);
    await assert.rejects(s.mkdir('/outgoing/sub/x'), denied);
  });

  it('matches on whole path segments, not string prefixes', async (t) => {
    const fx = await fixture();
    t.after(fx.cleanup);
    await upload(fx.session, '/outgoing-not/free.txt');
    assert.equal(await text(await fx.session.openRead('/outgoing-not/free.txt')), 'x');
    await upload(fx.session, '/outside.txt');
  });

  it('applies the override to the folder itself, so it cannot be deleted or renamed away', async (t) => {
    const fx = await fixture();
    t.after(fx.cleanup);
    await assert.rejects(fx.session.rmdir('/out'), denied);
    await assert.rejects(fx.session.rename('/out', '/elsewhere'), denied);
    await assert.rejects(fx.session.setStat('/out', { mode: 0o777 }), denied);
    await assert.rejects(fx.session.list('/out')[Symbol.asyncIterator]().next(), denied);
  });

  it('refuses to move a directory that contains an overridden folder', async (t) => {
    const fx = await createSessionFixture({ overrides: [{ path: '/a/locked', permissions: ['dirList'] }] });
    t.after(fx.cleanup);
    mkdirSync(path.join(fx.homeDir, 'a', 'locked'), { recursive: true });
    await assert.rejects(fx.session.rename('/a', '/b'), denied);
    mkdirSync(path.join(fx.homeDir, 'c'));
    await assert.rejects(fx.session.rename('/c', '/a/locked/c'), denied, 'the destination is read-only');
    await fx.session.rename('/c', '/d');
  });

  it('evaluates permissions where a symlink leads, so a link cannot borrow rights', async (t) => {
    const fx = await fixture();
    t.after(fx.cleanup);
    symlinkSync('outgoing', path.join(fx.homeDir, 'alias'));
    symlinkSync('outgoing/report.csv', path.join(fx.homeDir, 'report-link'));
    const s = fx.session;
    await assert.rejects(upload(s, '/alias/sneaky.csv'), denied);
    await assert.rejects(s.remove('/alias/report.csv'), denied);
    await assert.rejects(upload(s, '/report-link', 'overwritten'), denied);
    assert.equal(await text(await s.openRead('/alias/report.csv')), 'report');
    await s.remove('/report-link');
    assert.equal(await text(await s.openRead('/outgoing/report.csv')), 'report', 'removing the link removed only the link');
  });

  it('refuses a symlink created by the user into a folder it could not write otherwise', async (t) => {
    const fx = await fixture();
    t.after(fx.cleanup);
    await fx.session.symlink('/outgoing', '/mine');
    await assert.rejects(upload(fx.session, '/mine/x.csv'), denied);
  });
});
