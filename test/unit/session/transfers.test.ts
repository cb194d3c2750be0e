// Whole-stream transfers (SCP, FTP, HTTP): resume in both directions, checksums, and the
// transfer log's byte counts for completed and aborted transfers.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { text } from 'node:stream/consumers';
import { finished } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { crc32 } from 'node:zlib';
import { createSessionFixture } from '../../helpers/session-fixture.ts';

describe('whole-stream transfers', () => {
  it('resumes a download at an offset and a bounded length', async (t) => {
    const fx = await createSessionFixture();
    t.after(fx.cleanup);
    writeFileSync(path.join(fx.homeDir, 'f'), '0123456789');
    assert.equal(await text(await fx.session.openRead('/f', { offset: 4 })), '456789');
    assert.equal(await text(await fx.session.openRead('/f', { offset: 2, length: 3 })), '234');
    const downloads = fx.records.filter((r) => r.operation === 'download').map((r) => r.bytes);
    assert.deepEqual(downloads, [6, 3]);
  });

  it('resumes an upload at an offset without truncating, and overwrites only when asked', async (t) => {
    const fx = await createSessionFixture();
    t.after(fx.cleanup);
    writeFileSync(path.join(fx.homeDir, 'f'), '01234');
    const resume = await fx.session.openWrite('/f', { offset: 5 });
    resume.end('56789');
    await finished(resume);
    assert.equal(readFileSync(path.join(fx.homeDir, 'f'), 'utf8'), '0123456789');
    const overwrite = await fx.session.openWrite('/f', { truncate: true });
    overwrite.end('new');
    await finished(overwrite);
    assert.equal(readFileSync(path.join(fx.homeDir, 'f'), 'utf8'), 'new');
    await assert.rejects(fx.session.openWrite('/f', { exclusive: true }), { kind: 'exists' });
    await assert.rejects(fx.session.openWrite('/missing', { mustExist: true }), { kind: 'not-found' });
    await assert.rejects(fx.session.openWrite('/'), { kind: 'is-a-directory' });
  });

  it('logs an aborted upload as failed with the bytes that arrived', async (t) => {
    const fx = await createSessionFixture();
    t.after(fx.cleanup);
    const upload = await fx.session.openWrite('/partial');
    upload.write(Buffer.alloc(1000));
    await new Promise((resolve) => setImmediate(resolve));
    upload.destroy(new Error('client went away'));
    await new Promise((resolve) => upload.on('close', resolve));
    const record = fx.records.find((r) => r.operation === 'upload');
    assert.equal(record?.status, 'io');
    assert.equal(record?.bytes, 1000);
  });

  it('computes checksums of whole files and ranges', async (t) => {
    const fx = await createSessionFixture();
    t.after(fx.cleanup);
    const data = Buffer.from('The quick brown fox jumps over the lazy dog');
    writeFileSync(path.join(fx.homeDir, 'f'), data);
    for (const algorithm of ['md5', 'sha1', 'sha256', 'sha512'] as const) {
      assert.deepEqual(await fx.session.checksum('/f', algorithm), createHash(algorithm).update(data).digest(), algorithm);
    }
    const expected = Buffer.alloc(4);
    expected.writeUInt32BE(crc32(data.subarray(4, 9)));
    assert.deepEqual(await fx.session.checksum('/f', 'crc32', { offset: 4, length: 5 }), expected);
  });

  it('follows symlinks for setStat and stat, and not for lstat', async (t) => {
    const fx = await createSessionFixture();
    t.after(fx.cleanup);
    writeFileSync(path.join(fx.homeDir, 'target'), 'x');
    symlinkSync('target', path.join(fx.homeDir, 'link'));
    await fx.session.setStat('/link', { mode: 0o600 });
    assert.equal(statSync(path.join(fx.homeDir, 'target')).mode & 0o777, 0o600);
    const followed = await fx.session.stat('/link');
    assert.equal(followed.type, 'file');
    assert.equal(followed.name, 'link');
    assert.equal(followed.path, '/link');
    assert.equal((await fx.session.stat('/link', { follow: false })).type, 'symlink');
    assert.equal((await fx.session.stat('/')).name, '/');
  });

  it('reports space for mount parents that exist only virtually', async (t) => {
    const fx = await createSessionFixture({ virtualFolders: [{ path: '/a/b', permissions: ['dirList'] }] });
    t.after(fx.cleanup);
    assert.ok((await fx.session.statvfs('/a')).totalBlocks > 0);
    assert.ok((await fx.session.statvfs('/a/b')).totalBlocks > 0);
  });
});
