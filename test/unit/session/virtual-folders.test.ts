// Virtual folders: another VFS mounted at a virtual path with its own permissions.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { text } from 'node:stream/consumers';
import { finished } from 'node:stream/promises';
import { describe, it } from 'node:test';
import type { Session } from '../../../src/session/types.ts';
import { createSessionFixture } from '../../helpers/session-fixture.ts';

async function upload(s: Session, p: string, content = 'x') {
  const w = await s.openWrite(p);
  w.end(content);
  await finished(w);
}

async function names(s: Session, p: string) {
  const result: string[] = [];
  for await (const e of s.list(p)) result.push(`${e.name}:${e.type}`);
  return result.sort();
}

async function fixture() {
  return createSessionFixture({
    permissions: ['dirList', 'fileGet', 'filePut', 'fileRename', 'fileDelete', 'dirMake', 'symlink', 'dirRename', 'dirDelete'],
    virtualFolders: [
      { path: '/shared', permissions: ['dirList', 'fileGet'] },
      { path: '/deep/drop/box', permissions: ['filePut', 'dirList'] },
      { path: '/shared/inner', permissions: ['dirList', 'fileGet', 'filePut'] },
    ],
  });
}

describe('virtual folders', () => {
  it('shows mount points and their missing parents as directories in listings', async (t) => {
    const fx = await fixture();
    t.after(fx.cleanup);
    writeFileSync(path.join(fx.homeDir, 'home.txt'), 'h');
    writeFileSync(path.join(fx.folderDir('/shared'), 'doc.txt'), 'shared doc');
    assert.deepEqual(await names(fx.session, '/'), ['deep:dir', 'home.txt:file', 'shared:dir']);
    assert.deepEqual(await names(fx.session, '/deep'), ['drop:dir']);
    assert.deepEqual(await names(fx.session, '/deep/drop'), ['box:dir']);
    assert.deepEqual(await names(fx.session, '/shared'), ['doc.txt:file', 'inner:dir']);
    assert.equal((await fx.session.stat('/deep')).type, 'dir');
    assert.equal((await fx.session.stat('/shared')).type, 'dir');
  });

  it('hides home content under a mount path and shows the mounted storage instead', async (t) => {
    const fx = await fixture();
    t.after(fx.cleanup);
    mkdirSync(path.join(fx.homeDir, 'shared'));
    writeFileSync(path.join(fx.homeDir, 'shared', 'hidden.txt'), 'home storage');
    writeFileSync(path.join(fx.homeDir, 'shared-not'), 'x');
    assert.deepEqual(await names(fx.session, '/shared'), ['inner:dir']);
    await assert.rejects(fx.session.openRead('/shared/hidden.txt'), { kind: 'not-found' });
    assert.deepEqual(await names(fx.session, '/'), ['deep:dir', 'shared-not:file', 'shared:dir']);
  });

  it('applies each folder\'s own permissions, the longest mount path winning', async (t) => {
    const fx = await fixture();
    t.after(fx.cleanup);
    writeFileSync(path.join(fx.folderDir('/shared'), 'doc.txt'), 'shared doc');
    assert.equal(await text(await fx.session.openRead('/shared/doc.txt')), 'shared doc');
    await assert.rejects(upload(fx.session, '/shared/new.txt'), { kind: 'permission-denied' });
    await assert.rejects(fx.session.remove('/shared/doc.txt'), { kind: 'permission-denied' });
    await upload(fx.session, '/shared/inner/new.txt', 'inner');
    assert.equal(readFileSync(path.join(fx.folderDir('/shared/inner'), 'new.txt'), 'utf8'), 'inner');
    await upload(fx.session, '/deep/drop/box/up.txt', 'boxed');
    assert.equal(readFileSync(path.join(fx.folderDir('/deep/drop/box'), 'up.txt'), 'utf8'), 'boxed');
    await assert.rejects(fx.session.openRead('/deep/drop/box/up.txt'), { kind: 'permission-denied' });
    assert.equal(existsSync(path.join(fx.homeDir, 'deep')), false, 'nothing was written to home storage');
  });

  it('refuses to rename across mounts and says to copy instead', async (t) => {
    const fx = await fixture();
    t.after(fx.cleanup);
    await upload(fx.session, '/a.txt');
    await assert.rejects(fx.session.rename('/a.txt', '/shared/inner/a.txt'), (error: { kind?: string; message?: string }) => {
      assert.equal(error.kind, 'unsupported');
      assert.match(String(error.message), /copy/);
      return true;
    });
    assert.equal(existsSync(path.join(fx.homeDir, 'a.txt')), true);
  });

  it('never removes, renames or replaces a mount point or its parents', async (t) => {
    const fx = await fixture();
    t.after(fx.cleanup);
    await upload(fx.session, '/a.txt');
    // Each refusal is the kind the same change meets at a real folder, but removing or moving it.
    for (const p of ['/', '/shared', '/deep', '/deep/drop', '/deep/drop/box', '/shared/inner']) {
      await assert.rejects(fx.session.rmdir(p), { kind: 'permission-denied' }, p);
      await assert.rejects(fx.session.rename(p, '/renamed'), { kind: 'permission-denied' }, p);
      await assert.rejects(fx.session.copy('/a.txt', p, { overwrite: true }), { kind: 'permission-denied' }, p);
      await assert.rejects(fx.session.mkdir(p), { kind: 'exists' }, p);
      await assert.rejects(fx.session.symlink('a.txt', p), { kind: 'exists' }, p);
      await assert.rejects(fx.session.link('/a.txt', p), { kind: 'exists' }, p);
      await assert.rejects(fx.session.remove(p), { kind: 'is-a-directory' }, p);
    }
    await fx.session.mkdir('/plain');
    await assert.rejects(fx.session.rename('/plain', '/shared'), { kind: 'permission-denied' });
    mkdirSync(path.join(fx.homeDir, 'holder'));
    await assert.rejects(fx.session.rename('/deep', '/holder/deep'), { kind: 'permission-denied' });
  });

  it('keeps symlinks inside their own mount', async (t) => {
    const fx = await fixture();
    t.after(fx.cleanup);
    await upload(fx.session, '/a.txt');
    await assert.rejects(fx.session.symlink('/shared/inner', '/to-shared'), { kind: 'unsupported' });
    await assert.rejects(fx.session.symlink('../a.txt', '/shared/inner/up'), { kind: 'unsupported' }, '/shared/a.txt is another mount');
    await assert.rejects(fx.session.symlink('x', '/shared/inner/up'), { kind: 'permission-denied' }, 'the inner folder has no symlink permission');
    await fx.session.symlink('a.txt', '/rel-link');
    assert.equal(await fx.session.readlink('/rel-link'), '/a.txt');
  });

  it('refuses a home symlink that leads into storage hidden under a mount', async (t) => {
    const fx = await fixture();
    t.after(fx.cleanup);
    mkdirSync(path.join(fx.homeDir, 'shared'));
    writeFileSync(path.join(fx.homeDir, 'shared', 'hidden.txt'), 'home storage');
    symlinkSync('shared/hidden.txt', path.join(fx.homeDir, 'peek'));
    await assert.rejects(fx.session.openRead('/peek'), { kind: 'permission-denied' });
  });
});
