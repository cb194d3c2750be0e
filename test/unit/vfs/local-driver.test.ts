// Disk-driver specifics beyond the contract: the storage-side confinement under a concurrent
// swap of a directory for a symlink (the TOCTOU case), and the per-handle verification.
import assert from 'node:assert/strict';
import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { text } from 'node:stream/consumers';
import { finished } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { LocalDriver } from '../../../src/vfs/drivers/local.ts';
import { resolveBeneath, verifyHandle } from '../../../src/vfs/drivers/local-resolve.ts';
import { DiskBackend } from '../../../src/vfs/drivers/local.ts';

async function tempBase(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const base = await mkdtemp(path.join(tmpdir(), 'ferry-local-unit-'));
  t.after(() => rm(base, { recursive: true, force: true }));
  return base;
}

describe('disk driver confinement', () => {
  it('refuses an opened handle whose real path is outside the root', async (t) => {
    const base = await tempBase(t);
    mkdirSync(path.join(base, 'root'));
    writeFileSync(path.join(base, 'outside'), 'x');
    const handle = await open(path.join(base, 'outside'), 'r');
    await assert.rejects(verifyHandle(handle, path.join(base, 'root')), { kind: 'permission-denied' });
    const inside = await open(path.join(base, 'root'), 'r');
    await verifyHandle(inside, path.join(base, 'root'));
    await inside.close();
  });

  it('refuses links climbing out with "..", absolute links elsewhere and link loops', async (t) => {
    const base = await tempBase(t);
    const root = path.join(base, 'root');
    mkdirSync(path.join(root, 'a'), { recursive: true });
    symlinkSync('../..', path.join(root, 'a', 'up'));
    symlinkSync('/etc', path.join(root, 'abs'));
    symlinkSync('loop2', path.join(root, 'loop1'));
    symlinkSync('loop1', path.join(root, 'loop2'));
    symlinkSync('../a', path.join(root, 'a', 'fine'));
    await assert.rejects(resolveBeneath(root, '/a/up/x', true), { kind: 'permission-denied' });
    await assert.rejects(resolveBeneath(root, '/abs/passwd', true), { kind: 'permission-denied' });
    await assert.rejects(resolveBeneath(root, '/loop1', true), { kind: 'invalid-path' });
    assert.equal(await resolveBeneath(root, '/a/fine/fine/x', true), path.join(root, 'a', 'x'));
    assert.equal(await resolveBeneath(root, '/a/up', false), path.join(root, 'a', 'up'));
  });

  it('never reads or writes outside the root while a directory is swapped for an escaping symlink', async (t) => {
    const base = await tempBase(t);
    const root = path.join(base, 'root');
    mkdirSync(path.join(root, 'd'), { recursive: true });
    mkdirSync(path.join(base, 'outside'));
    writeFileSync(path.join(root, 'd', 'f'), 'inside');
    writeFileSync(path.join(base, 'outside', 'f'), 'outside');
    symlinkSync(path.join(base, 'outside'), path.join(root, 'evil'));
    const driver = new LocalDriver(root);
    let swapped = false;
    let running = true;
    // Swaps /d between the real directory and the escaping link as often as the loop turns.
    const swapper = (async () => {
      while (running) {
        if (swapped) {
          renameSync(path.join(root, 'd'), path.join(root, 'evil'));
          renameSync(path.join(root, 'real'), path.join(root, 'd'));
        } else {
          renameSync(path.join(root, 'd'), path.join(root, 'real'));
          renameSync(path.join(root, 'evil'), path.join(root, 'd'));
        }
        swapped = !swapped;
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    let reads = 0;
    try {
      for (let i = 0; i < 400; i++) {
        try {
          assert.equal(await text(await driver.openRead('/d/f')), 'inside');
          reads++;
        } catch (error) {
          if ((error as { kind?: string }).kind === undefined) throw error;
        }
        try {
          const w = await driver.openWrite('/d/f', { truncate: true });
          w.end('inside');
          await finished(w);
        } catch (error) {
          if ((error as { kind?: string }).kind === undefined) throw error;
        }
      }
    } finally {
      running = false;
      await swapper;
    }
    assert.equal(await text(await (await open(path.join(base, 'outside', 'f'))).createReadStream()), 'outside');
    assert.ok(reads > 0, 'some reads happened while the directory was in place');
    rmSync(path.join(base, 'outside'), { recursive: true });
  });

  it('creates a missing root when attached and refuses a relative or "/" root', async (t) => {
    const base = await tempBase(t);
    const driver = await new DiskBackend().attach(path.join(base, 'deep', 'home'), {});
    assert.equal((await driver.stat('/')).type, 'dir');
    assert.throws(() => new LocalDriver('relative/dir'), { kind: 'misconfigured' });
    assert.throws(() => new LocalDriver('/'), { kind: 'misconfigured' });
    assert.throws(() => new LocalDriver('/a/../b'), { kind: 'misconfigured' });
    assert.throws(() => new LocalDriver('/a/..'), { kind: 'misconfigured' });
    assert.throws(() => new LocalDriver('//'), { kind: 'misconfigured' });
    const forgiving = new LocalDriver(path.join(base, 'deep', 'home') + '//');
    assert.equal((await forgiving.stat('/')).type, 'dir', 'a trailing slash in a target is harmless');
  });

  it('hides names on disk that are not valid UTF-8 or that clients could not address, and logs them once per listing', async (t) => {
    const base = await tempBase(t);
    const root = path.join(base, 'root');
    mkdirSync(root);
    writeFileSync(Buffer.concat([Buffer.from(root + '/bad'), Buffer.from([0xff])]), 'x');
    writeFileSync(path.join(root, 'back\\slash'), 'x');
    writeFileSync(path.join(root, 'new\nline'), 'x');
    writeFileSync(path.join(root, 'good'), 'x');
    const logged: { fields: Record<string, unknown>; message: string }[] = [];
    const driver = new LocalDriver(root, { log: { warn: (fields, message) => logged.push({ fields, message }) } });
    const names: string[] = [];
    for await (const entry of driver.list('/')) names.push(entry.name);
    assert.deepEqual(names, ['good']);
    assert.equal(logged.length, 1);
    assert.match(logged[0]!.message, /^listing of \/ hides 3 entries whose names a client cannot use/);
    const hidden = (logged[0]!.fields.names as { name: string; why: string }[]).sort((a, b) => a.name.localeCompare(b.name));
    assert.deepEqual(hidden, [
      { name: 'back\\x5cslash', why: 'contains a backslash' },
      { name: 'bad\\xff', why: 'not valid UTF-8' },
      { name: 'new\\x0aline', why: 'contains a control character' },
    ]);
    assert.equal(logged[0]!.fields.hidden, 3);
  });

  it('says why a directory that looks empty cannot be removed', async (t) => {
    const base = await tempBase(t);
    const root = path.join(base, 'root');
    mkdirSync(path.join(root, 'looks-empty'), { recursive: true });
    writeFileSync(path.join(root, 'looks-empty', 'a\nb'), 'x');
    mkdirSync(path.join(root, 'full'));
    writeFileSync(path.join(root, 'full', 'a\nb'), 'x');
    writeFileSync(path.join(root, 'full', 'visible'), 'x');
    const driver = new LocalDriver(root);
    await assert.rejects(driver.rmdir('/looks-empty'), {
      kind: 'not-empty',
      message: 'the directory is not empty: it holds 1 entry whose name cannot be shown (contains a control character); ask your administrator to rename or remove it',
    });
    await assert.rejects(driver.rmdir('/full'), { kind: 'not-empty', message: 'the directory is not empty; remove its contents first' });
  });
});
