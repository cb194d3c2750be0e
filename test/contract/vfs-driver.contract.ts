// The VFS driver contract: one suite that every driver (disk, encrypted, SFTP, S3, Azure, GCS)
// runs with a three-line test file. A capability a driver does not declare is asserted to fail
// with `unsupported`, never skipped. Path-escape cases included: '..' and friends refused
// defensively, and symlinks planted on the storage behind the driver's back never followed out.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { text } from 'node:stream/consumers';
import { finished } from 'node:stream/promises';
import type { VfsDriver } from '../../src/vfs/vfs.ts';

export interface DriverFixture {
  /** A driver over an empty root (the root itself may or may not exist yet). */
  readonly driver: VfsDriver;
  /**
   * Storage access behind the driver's back, outside its root. Required when the driver declares
   * `symlinks`: the escape cases plant links the driver did not create.
   */
  readonly outside?: {
    /** Creates at driver path `path` a link to a file (`file`) or directory (`dir`) outside the root. */
    plantEscapeLink(path: string, kind: 'file' | 'dir'): Promise<void>;
    /** A stable description of everything outside the root the links point at (content included). */
    snapshot(): Promise<string>;
  };
  /**
   * Takes the back end away and brings it back (a fault injector, a stopped container, a cut
   * network), for drivers whose tests can do that: the contract then checks the driver reports
   * the outage as `unavailable` and serves again afterwards.
   */
  readonly outage?: {
    begin(): void;
    end(): void;
  };
  cleanup(): Promise<void>;
}

export type MakeDriver = () => Promise<DriverFixture>;

async function put(driver: VfsDriver, path: string, content: string, options = {}): Promise<void> {
  const stream = await driver.openWrite(path, options);
  stream.end(content);
  await finished(stream);
}

async function get(driver: VfsDriver, path: string, options = {}): Promise<string> {
  return text(await driver.openRead(path, options));
}

async function names(driver: VfsDriver, path: string): Promise<string[]> {
  const result: string[] = [];
  for await (const entry of driver.list(path)) result.push(entry.name);
  return result.sort();
}

async function rejectsKind(promise: Promise<unknown>, kind: string): Promise<void> {
  await assert.rejects(promise, (error: { kind?: string; message?: string }) => {
    assert.equal(error.kind, kind, `expected ${kind}, got ${String(error.kind)}: ${String(error.message)}`);
    return true;
  });
}

function withDriver(makeDriver: MakeDriver, body: (driver: VfsDriver, fixture: DriverFixture) => Promise<void>) {
  return async () => {
    const fixture = await makeDriver();
    try {
      await fixture.driver.mkdirp('/');
      await body(fixture.driver, fixture);
    } finally {
      await fixture.driver.close();
      await fixture.cleanup();
    }
  };
}

const BAD_PATHS = ['/../x', '/a/../../x', '/a/..', '/./a', 'a', '', '/a//b', '/a/', '/a\\b', '/a\0b', '/a\nb'];

export function runVfsDriverContract(name: string, makeDriver: MakeDriver): void {
  const test = (title: string, body: (driver: VfsDriver, fixture: DriverFixture) => Promise<void>) =>
    it(title, withDriver(makeDriver, body));

  describe(`VFS driver contract: ${name}`, () => {
    test('declares every capability, consistently', async (driver) => {
      const keys = [
        'writeAtOffset', 'overwriteInPlace', 'append', 'readAtOffset', 'symlinks', 'hardlinks', 'chmod', 'setTimes',
        'atomicRenameOverwrite', 'implicitDirectories', 'resumableUploads', 'statvfs',
      ];
      const caps = driver.capabilities as unknown as Record<string, unknown>;
      for (const key of keys) assert.equal(typeof caps[key], 'boolean', key);
      assert.ok(driver.capabilities.rename === 'atomic' || driver.capabilities.rename === 'copy', 'rename is atomic or copy');
      if (driver.capabilities.rename === 'copy') assert.equal(driver.capabilities.atomicRenameOverwrite, false, 'a copying rename cannot replace atomically');
      assert.equal(typeof driver.kind, 'string');
    });

    test('overwrites in place only when it declares overwriteInPlace, else replaces the whole file', async (driver) => {
      await put(driver, '/f', '0123456789');
      await put(driver, '/f', 'AB');
      assert.equal(await get(driver, '/f'), driver.capabilities.overwriteInPlace ? 'AB23456789' : 'AB');
    });

    test('appends only when it declares append', async (driver) => {
      await put(driver, '/f', 'abc');
      if (!driver.capabilities.append) {
        await rejectsKind(driver.openWrite('/f', { append: true }), 'unsupported');
        return;
      }
      await put(driver, '/f', 'def', { append: true });
      assert.equal(await get(driver, '/f'), 'abcdef');
      await put(driver, '/new', 'n', { append: true });
      assert.equal(await get(driver, '/new'), 'n', 'an append creates a missing file');
      await rejectsKind(driver.openWrite('/missing', { append: true, mustExist: true }), 'not-found');
      await rejectsKind(driver.openWrite('/f', { append: true, offset: 1 }), 'invalid-request');
    });

    test('keeps empty directories unless it declares implicitDirectories, which create parents on write', async (driver) => {
      if (driver.capabilities.implicitDirectories) {
        await put(driver, '/p/q/f', 'x');
        assert.equal((await driver.stat('/p/q')).type, 'dir');
        assert.deepEqual(await names(driver, '/p'), ['q']);
        return;
      }
      await rejectsKind(driver.openWrite('/p/f'), 'not-found');
      await driver.mkdir('/p');
      await put(driver, '/p/f', 'x');
      await driver.remove('/p/f');
      assert.equal((await driver.stat('/p')).type, 'dir', 'an emptied directory stays');
    });

    test('an upload destroyed before finish leaves no partial object unless it declares resumableUploads', async (driver) => {
      await put(driver, '/old', 'previous');
      for (const [path, options] of [['/new', {}], ['/old', { truncate: true }]] as const) {
        const stream = await driver.openWrite(path, options);
        await new Promise<void>((resolve, reject) => stream.write('partial', (error) => (error ? reject(error) : resolve())));
        stream.destroy();
        await finished(stream).catch(() => {});
      }
      if (driver.capabilities.resumableUploads) {
        assert.equal(await get(driver, '/new'), 'partial', 'what was stored stays for a resume');
        assert.equal(await get(driver, '/old'), 'partial');
      } else {
        await rejectsKind(driver.stat('/new'), 'not-found');
        assert.equal(await get(driver, '/old'), 'previous', 'the replaced object is untouched');
      }
      const done = await driver.openWrite('/done');
      done.end('whole');
      await finished(done);
      done.destroy();
      assert.equal(await get(driver, '/done'), 'whole', 'destroy after finish changes nothing');
    });

    test('writes a file, reads it back and reports it in stat and list', async (driver) => {
      await driver.mkdir('/dir');
      await put(driver, '/dir/a.txt', 'hello world');
      assert.equal(await get(driver, '/dir/a.txt'), 'hello world');
      const info = await driver.stat('/dir/a.txt');
      assert.equal(info.type, 'file');
      assert.equal(info.size, 11);
      assert.equal(info.name, 'a.txt');
      assert.equal((await driver.stat('/dir')).type, 'dir');
      assert.equal((await driver.stat('/')).type, 'dir');
      assert.deepEqual(await names(driver, '/dir'), ['a.txt']);
      assert.deepEqual(await names(driver, '/'), ['dir']);
    });

    test('reads a bounded length and an empty file', async (driver) => {
      await put(driver, '/f', '0123456789');
      assert.equal(await get(driver, '/f', { length: 4 }), '0123');
      assert.equal(await get(driver, '/f', { length: 0 }), '');
      await put(driver, '/empty', '');
      assert.equal(await get(driver, '/empty'), '');
    });

    test('reads at an offset only when it declares readAtOffset', async (driver) => {
      await put(driver, '/f', '0123456789');
      if (driver.capabilities.readAtOffset) {
        assert.equal(await get(driver, '/f', { offset: 6 }), '6789');
        assert.equal(await get(driver, '/f', { offset: 2, length: 3 }), '234');
      } else {
        await rejectsKind(driver.openRead('/f', { offset: 6 }), 'unsupported');
      }
    });

    test('writes at an offset only when it declares writeAtOffset', async (driver) => {
      await put(driver, '/f', '0123456789');
      if (driver.capabilities.writeAtOffset) {
        await put(driver, '/f', 'AB', { offset: 3, mustExist: true });
        assert.equal(await get(driver, '/f'), '012AB56789');
        await put(driver, '/f', 'XYZ', { offset: 10 });
        assert.equal(await get(driver, '/f'), '012AB56789XYZ');
      } else {
        await rejectsKind(driver.openWrite('/f', { offset: 3 }), 'unsupported');
      }
    });

    test('honours exclusive, mustExist and truncate on open for write', async (driver) => {
      await put(driver, '/f', 'long content');
      await rejectsKind(driver.openWrite('/f', { exclusive: true }), 'exists');
      await rejectsKind(driver.openWrite('/missing', { mustExist: true }), 'not-found');
      await put(driver, '/f', 'short', { truncate: true });
      assert.equal(await get(driver, '/f'), 'short');
      await put(driver, '/new', 'n', { exclusive: true });
      assert.equal(await get(driver, '/new'), 'n');
    });

    test('reports missing paths, wrong types and non-empty directories with their kinds', async (driver) => {
      await driver.mkdir('/d');
      await put(driver, '/d/f', 'x');
      await rejectsKind(driver.stat('/nope'), 'not-found');
      await rejectsKind(driver.openRead('/nope'), 'not-found');
      await rejectsKind(names(driver, '/nope'), 'not-found');
      await rejectsKind(driver.openRead('/d'), 'is-a-directory');
      await rejectsKind(driver.mkdir('/d'), 'exists');
      await rejectsKind(driver.mkdir('/nope/sub'), 'not-found');
      await rejectsKind(driver.rmdir('/d'), 'not-empty');
      await rejectsKind(driver.remove('/d'), 'is-a-directory');
      await rejectsKind(driver.remove('/nope'), 'not-found');
      await rejectsKind(driver.rmdir('/d/f'), 'not-a-directory');
      await rejectsKind(names(driver, '/d/f'), 'not-a-directory');
    });

    test('removes files and empty directories, and never the root', async (driver) => {
      await driver.mkdirp('/a/b/c');
      await driver.mkdirp('/a/b/c');
      await put(driver, '/a/b/f', 'x');
      await driver.remove('/a/b/f');
      await driver.rmdir('/a/b/c');
      assert.deepEqual(await names(driver, '/a/b'), []);
      await rejectsKind(driver.rmdir('/'), 'permission-denied');
    });

    test('renames files and directories, refusing to replace unless asked', async (driver) => {
      await driver.mkdir('/d');
      await put(driver, '/d/f', 'one');
      await put(driver, '/g', 'two');
      await driver.rename('/d', '/e');
      assert.equal(await get(driver, '/e/f'), 'one');
      await rejectsKind(driver.rename('/e/f', '/g'), 'exists');
      assert.equal(await get(driver, '/g'), 'two');
      if (driver.capabilities.atomicRenameOverwrite) {
        await driver.rename('/e/f', '/g', { overwrite: true });
        assert.equal(await get(driver, '/g'), 'one');
        await rejectsKind(driver.stat('/e/f'), 'not-found');
      } else {
        await rejectsKind(driver.rename('/e/f', '/g', { overwrite: true }), 'unsupported');
      }
      await rejectsKind(driver.rename('/nope', '/x'), 'not-found');
    });

    test('truncates and extends with setStat size', async (driver) => {
      await put(driver, '/f', '0123456789');
      await driver.setStat('/f', { size: 4 });
      assert.equal(await get(driver, '/f'), '0123');
      await driver.setStat('/f', { size: 6 });
      assert.equal((await driver.stat('/f')).size, 6);
    });

    test('changes the mode only when it declares chmod', async (driver) => {
      await put(driver, '/f', 'x');
      if (driver.capabilities.chmod) {
        await driver.setStat('/f', { mode: 0o600 });
        assert.equal((await driver.stat('/f')).mode, 0o600);
        await driver.setStat('/f', { mode: 0o4755 });
        assert.equal((await driver.stat('/f')).mode, 0o755, 'setuid is never applied');
      } else {
        await rejectsKind(driver.setStat('/f', { mode: 0o600 }), 'unsupported');
      }
    });

    test('sets times only when it declares setTimes', async (driver) => {
      await put(driver, '/f', 'x');
      const mtimeMs = Date.UTC(2020, 0, 2, 3, 4, 5);
      if (driver.capabilities.setTimes) {
        await driver.setStat('/f', { mtimeMs, atimeMs: mtimeMs });
        assert.equal(Math.round((await driver.stat('/f')).mtimeMs / 1000), mtimeMs / 1000);
      } else {
        await rejectsKind(driver.setStat('/f', { mtimeMs }), 'unsupported');
      }
    });

    test('creates, reads and follows symlinks only when it declares symlinks', async (driver) => {
      await driver.mkdir('/d');
      await put(driver, '/d/f', 'target');
      if (!driver.capabilities.symlinks) {
        await rejectsKind(driver.symlink('/d/f', '/l'), 'unsupported');
        await rejectsKind(driver.readlink('/d/f'), 'unsupported');
        assert.equal(await driver.realpath('/d/f'), '/d/f');
        return;
      }
      await driver.symlink('/d/f', '/l');
      await driver.symlink('/d', '/d/self');
      assert.equal((await driver.stat('/l')).type, 'symlink');
      assert.equal(await driver.readlink('/l'), '/d/f');
      assert.equal(await driver.realpath('/l'), '/d/f');
      assert.equal(await driver.realpath('/d/self/self/f'), '/d/f');
      assert.equal(await driver.realpath('/d/self/new'), '/d/new');
      assert.equal(await get(driver, '/l'), 'target');
      await put(driver, '/d/self/via', 'through a link');
      assert.equal(await get(driver, '/d/via'), 'through a link');
      await rejectsKind(driver.readlink('/d/f'), 'not-a-link');
      await driver.remove('/l');
      assert.equal(await get(driver, '/d/f'), 'target');
      await rejectsKind(driver.symlink('/../etc', '/bad'), 'invalid-path');
    });

    test('creates hard links only when it declares hardlinks', async (driver) => {
      await put(driver, '/f', 'shared');
      if (!driver.capabilities.hardlinks) {
        await rejectsKind(driver.link('/f', '/g'), 'unsupported');
        return;
      }
      await driver.link('/f', '/g');
      assert.equal(await get(driver, '/g'), 'shared');
      await rejectsKind(driver.link('/f', '/g'), 'exists');
    });

    test('reports space only when it declares statvfs, and syncs files', async (driver) => {
      await put(driver, '/f', 'x');
      await driver.sync('/f');
      if (!driver.capabilities.statvfs) {
        await rejectsKind(driver.statvfs('/'), 'unsupported');
        return;
      }
      const space = await driver.statvfs('/');
      assert.ok(space.blockSize > 0 && space.totalBlocks >= space.freeBlocks && space.maxNameLength > 0);
    });

    test('streams a file larger than one chunk without losing or reordering bytes', async (driver) => {
      const chunk = Buffer.alloc(1024 * 1024);
      const stream = await driver.openWrite('/big');
      for (let i = 0; i < 5; i++) {
        chunk.fill(i + 1);
        if (!stream.write(Buffer.from(chunk))) await new Promise((resolve) => stream.once('drain', resolve));
      }
      stream.end();
      await finished(stream);
      let offset = 0;
      for await (const piece of await driver.openRead('/big')) {
        for (let j = 0; j < (piece as Buffer).length; j += 4096) assert.equal((piece as Buffer)[j], Math.floor((offset + j) / chunk.length) + 1);
        offset += (piece as Buffer).length;
      }
      assert.equal(offset, 5 * chunk.length);
    });

    test('refuses non-canonical driver paths in every method', async (driver) => {
      await put(driver, '/f', 'x');
      for (const bad of BAD_PATHS) {
        const calls: Array<() => Promise<unknown>> = [
          () => driver.stat(bad),
          () => driver.realpath(bad),
          () => names(driver, bad),
          () => driver.openRead(bad),
          () => driver.openWrite(bad),
          () => driver.mkdir(bad),
          () => driver.mkdirp(bad),
          () => driver.rmdir(bad),
          () => driver.remove(bad),
          () => driver.rename(bad, '/g'),
          () => driver.rename('/f', bad),
          () => driver.setStat(bad, { mtimeMs: 0 }),
          () => driver.link('/f', bad),
          () => driver.sync(bad),
        ];
        if (driver.capabilities.symlinks) calls.push(() => driver.readlink(bad), () => driver.symlink('/f', bad), () => driver.symlink(bad, '/l'));
        for (const call of calls) await rejectsKind(call(), 'invalid-path');
      }
      assert.equal(await get(driver, '/f'), 'x');
    });

    test('handles concurrent writers, a directory moved into itself and mkdirp over a file', async (driver) => {
      await driver.mkdir('/c');
      await Promise.all(Array.from({ length: 20 }, (_, i) => put(driver, `/c/f${i}`, `content ${i}`)));
      assert.equal((await names(driver, '/c')).length, 20);
      assert.deepEqual(await Promise.all([get(driver, '/c/f3'), get(driver, '/c/f17')]), ['content 3', 'content 17']);
      await driver.mkdir('/c/sub');
      await rejectsKind(driver.rename('/c', '/c/sub/c'), 'invalid-request');
      await rejectsKind(driver.mkdirp('/c/f1/below'), 'not-a-directory');
      await rejectsKind(driver.openWrite('/c/f1/below'), 'not-a-directory');
    });

    test('reports its back end going away as unavailable, and serves again once it is back', async (driver, fixture) => {
      if (!fixture.outage) return; // only fixtures that can take their back end away
      await put(driver, '/f', 'before');
      fixture.outage.begin();
      try {
        await rejectsKind(driver.stat('/f'), 'unavailable');
        await rejectsKind(driver.openRead('/f'), 'unavailable');
        await rejectsKind(driver.openWrite('/g'), 'unavailable');
        await rejectsKind(names(driver, '/'), 'unavailable');
      } finally {
        fixture.outage.end();
      }
      assert.equal(await get(driver, '/f'), 'before');
    });

    test('never follows a symlink planted behind its back out of the root', async (driver, fixture) => {
      if (!driver.capabilities.symlinks) {
        // Nothing to plant: names are the only way in, and links are refused as unsupported.
        await driver.mkdir('/in');
        await rejectsKind(driver.symlink('/in', '/in/loop'), 'unsupported');
        assert.equal(await driver.realpath('/in/x'), '/in/x');
        return;
      }
      const outside = fixture.outside;
      assert.ok(outside, 'a driver with symlinks must give the contract a way to plant escape links');
      await driver.mkdir('/in');
      await outside.plantEscapeLink('/in/file-link', 'file');
      await outside.plantEscapeLink('/in/dir-link', 'dir');
      const before = await outside.snapshot();
      assert.equal((await driver.stat('/in/file-link')).type, 'symlink', 'lstat of the link itself is harmless');
      assert.deepEqual(await names(driver, '/in'), ['dir-link', 'file-link']);
      const refused: Array<() => Promise<unknown>> = [
        () => driver.openRead('/in/file-link'),
        () => driver.openWrite('/in/file-link'),
        () => driver.openWrite('/in/file-link', { truncate: true }),
        () => driver.setStat('/in/file-link', { size: 0 }),
        () => driver.setStat('/in/file-link', { mode: 0o777 }),
        () => driver.readlink('/in/file-link'),
        () => driver.realpath('/in/file-link'),
        () => driver.sync('/in/file-link'),
        () => names(driver, '/in/dir-link'),
        () => driver.stat('/in/dir-link/secret'),
        () => driver.openRead('/in/dir-link/secret'),
        () => driver.openWrite('/in/dir-link/new'),
        () => driver.mkdir('/in/dir-link/sub'),
        () => driver.mkdirp('/in/dir-link/sub'),
        () => driver.remove('/in/dir-link/secret'),
        () => driver.rename('/in/dir-link/secret', '/stolen'),
        () => driver.link('/in/dir-link/secret', '/stolen'),
        () => driver.symlink('/x', '/in/dir-link/planted'),
        () => driver.statvfs('/in/dir-link'),
      ];
      for (const call of refused) await rejectsKind(call(), 'permission-denied');
      assert.equal(await outside.snapshot(), before, 'nothing outside the root changed');
      await driver.remove('/in/file-link');
      await rejectsKind(driver.stat('/in/file-link'), 'not-found');
      assert.equal(await outside.snapshot(), before, 'removing the link left its target alone');
    });
  });
}
