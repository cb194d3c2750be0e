// No '..', encoding, NUL, backslash or symlink trick reaches outside a user's VFS root, through
// any Session verb.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
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

async function fixture() {
  const fx = await createSessionFixture();
  // Neighbours of the home: another user's home and a secret beside the data directory.
  mkdirSync(path.join(fx.dataDir, 'homes', 'bob'), { recursive: true });
  writeFileSync(path.join(fx.dataDir, 'homes', 'bob', 'secret.txt'), 'bob secret');
  writeFileSync(path.join(fx.dataDir, 'secret.txt'), 'data secret');
  return fx;
}

const outsideUnchanged = (dataDir: string) => {
  assert.equal(readFileSync(path.join(dataDir, 'homes', 'bob', 'secret.txt'), 'utf8'), 'bob secret');
  assert.equal(readFileSync(path.join(dataDir, 'secret.txt'), 'utf8'), 'data secret');
  assert.deepEqual(readdirSync(path.join(dataDir, 'homes', 'bob')), ['secret.txt']);
};

describe('path escape attempts through the Session', () => {
  it('clamps ".." at the user\'s root', async (t) => {
    const fx = await fixture();
    t.after(fx.cleanup);
    const s = fx.session;
    for (const p of ['../bob/secret.txt', '/../bob/secret.txt', '/../../secret.txt', 'a/../../../secret.txt']) {
      await assert.rejects(s.openRead(p), { kind: 'not-found' }, p);
    }
    await upload(s, '../../secret.txt', 'mine');
    assert.equal(readFileSync(path.join(fx.homeDir, 'secret.txt'), 'utf8'), 'mine', 'written inside the home');
    assert.equal(await s.realpath('/../../..'), '/');
    outsideUnchanged(fx.dataDir);
  });

  it('treats percent escapes as literal names, never decoding them', async (t) => {
    const fx = await fixture();
    t.after(fx.cleanup);
    await upload(fx.session, '%2e%2e/%2e%2e/secret.txt').catch((error: { kind?: string }) => assert.equal(error.kind, 'not-found'));
    await fx.session.mkdir('%2e%2e');
    await upload(fx.session, '%2e%2e/secret.txt', 'literal');
    assert.equal(readFileSync(path.join(fx.homeDir, '%2e%2e', 'secret.txt'), 'utf8'), 'literal');
    await assert.rejects(fx.session.openRead('%2e%2e%2f%2e%2e%2fsecret.txt'), { kind: 'not-found' });
    outsideUnchanged(fx.dataDir);
  });

  it('refuses NUL, backslash and control characters in every verb', async (t) => {
    const fx = await fixture();
    t.after(fx.cleanup);
    const s = fx.session;
    for (const bad of ['..\\..\\secret.txt', 'a\0b', '/x\n', '\u001b[31m', 'ok/\u0085', 'bad\ud800']) {
      const calls = [
        () => s.stat(bad),
        () => s.openRead(bad),
        () => upload(s, bad),
        () => s.open(bad, { write: true, create: true }),
        () => s.mkdir(bad),
        () => s.rmdir(bad),
        () => s.remove(bad),
        () => s.rename('/x', bad),
        () => s.setStat(bad, { mode: 0o777 }),
        () => s.symlink(bad, '/l'),
        () => s.symlink('/x', bad),
        () => s.realpath(bad),
        () => s.list(bad)[Symbol.asyncIterator]().next(),
      ];
      for (const call of calls) await assert.rejects(call(), { kind: 'name-not-allowed' }, JSON.stringify(bad));
    }
    assert.deepEqual(readdirSync(fx.homeDir), []);
  });

  it('refuses symlinks planted on disk that lead out of the root', async (t) => {
    const fx = await fixture();
    t.after(fx.cleanup);
    symlinkSync(path.join(fx.dataDir, 'homes', 'bob'), path.join(fx.homeDir, 'bob-abs'));
    symlinkSync('../bob', path.join(fx.homeDir, 'bob-rel'));
    symlinkSync('../../secret.txt', path.join(fx.homeDir, 'secret-link'));
    const s = fx.session;
    for (const p of ['/bob-abs/secret.txt', '/bob-rel/secret.txt', '/secret-link']) {
      await assert.rejects(s.openRead(p), { kind: 'permission-denied' }, p);
      await assert.rejects(upload(s, p, 'pwned'), { kind: 'permission-denied' }, p);
      await assert.rejects(s.stat(p), { kind: 'permission-denied' }, p);
      await assert.rejects(s.setStat(p, { size: 0 }), { kind: 'permission-denied' }, p);
    }
    await assert.rejects(s.list('/bob-rel')[Symbol.asyncIterator]().next(), { kind: 'permission-denied' });
    await assert.rejects(s.readlink('/secret-link'), { kind: 'permission-denied' });
    await assert.rejects(s.rename('/bob-rel/secret.txt', '/stolen.txt'), { kind: 'permission-denied' });
    await assert.rejects(s.link('/bob-rel/secret.txt', '/hard'), { kind: 'permission-denied' });
    // Hard-linking the link itself copies the link, which stays just as unfollowable.
    await s.link('/secret-link', '/hard');
    await assert.rejects(s.openRead('/hard'), { kind: 'permission-denied' });
    assert.equal((await s.stat('/secret-link', { follow: false })).type, 'symlink');
    outsideUnchanged(fx.dataDir);
  });

  it('creates symlinks only to targets inside the VFS', async (t) => {
    const fx = await fixture();
    t.after(fx.cleanup);
    await upload(fx.session, '/f.txt', 'inside');
    await fx.session.symlink('../../../secret.txt', '/clamped');
    assert.equal(await fx.session.readlink('/clamped'), '/secret.txt');
    await assert.rejects(fx.session.openRead('/clamped'), { kind: 'not-found' }, 'the link points at /secret.txt of the home');
    await fx.session.symlink('f.txt', '/good');
    assert.equal(await text(await fx.session.openRead('/good')), 'inside');
    outsideUnchanged(fx.dataDir);
  });

  it('keeps an open transfer confined when a directory is swapped for an escaping symlink', async (t) => {
    const fx = await fixture();
    t.after(fx.cleanup);
    mkdirSync(path.join(fx.homeDir, 'd'));
    writeFileSync(path.join(fx.homeDir, 'd', 'secret.txt'), 'inside');
    symlinkSync(path.join(fx.dataDir, 'homes', 'bob'), path.join(fx.homeDir, 'evil'));
    let results = 0;
    for (let i = 0; i < 100; i++) {
      const swap = i % 2 === 1;
      const read = fx.session.openRead('/d/secret.txt').then(text);
      if (swap) {
        renameSync(path.join(fx.homeDir, 'd'), path.join(fx.homeDir, 'real'));
        renameSync(path.join(fx.homeDir, 'evil'), path.join(fx.homeDir, 'd'));
      }
      try {
        assert.equal(await read, 'inside');
        results++;
      } catch (error) {
        assert.ok(['permission-denied', 'not-found'].includes((error as { kind?: string }).kind ?? ''), String(error));
      }
      if (swap) {
        renameSync(path.join(fx.homeDir, 'd'), path.join(fx.homeDir, 'evil'));
        renameSync(path.join(fx.homeDir, 'real'), path.join(fx.homeDir, 'd'));
      }
    }
    assert.ok(results > 0);
    assert.equal(existsSync(path.join(fx.homeDir, 'd', 'secret.txt')), true);
    outsideUnchanged(fx.dataDir);
  });
});
