// Whole-stream transfers (SCP, FTP, HTTP): resume in both directions, checksums, and the
// transfer log's byte counts for completed and aborted transfers.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { text } from 'node:stream/consumers';
import { finished } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { crc32 } from 'node:zlib';
import type { TransferRecord } from '../../../src/logging/transfer-log.ts';
import { createSessionFixture } from '../../helpers/session-fixture.ts';

/** The upload's line: written once the stream closed and an unfinished upload was cleaned up. */
async function uploadRecord(records: readonly TransferRecord[]): Promise<TransferRecord> {
  for (let i = 0; i < 200; i++) {
    const record = records.find((r) => r.operation === 'upload');
    if (record) return record;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error('no upload line in the transfer log');
}

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

  it('logs a failed upload with the bytes that arrived and leaves nothing under its name', async (t) => {
    const fx = await createSessionFixture();
    t.after(fx.cleanup);
    const upload = await fx.session.openWrite('/partial');
    upload.write(Buffer.alloc(1000));
    await new Promise((resolve) => setImmediate(resolve));
    upload.destroy(new Error('storage went away'));
    const record = await uploadRecord(fx.records);
    assert.equal(record.status, 'io');
    assert.equal(record.bytes, 1000);
    assert.deepEqual(readdirSync(fx.homeDir), [], 'the temporary file of the atomic upload was removed');
  });

  it('stages a whole-file upload under a temporary name until it finishes, keeping the old content till then', async (t) => {
    const fx = await createSessionFixture();
    t.after(fx.cleanup);
    writeFileSync(path.join(fx.homeDir, 'f'), 'old');
    const upload = await fx.session.openWrite('/f', { truncate: true, size: 3 });
    upload.write('new');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(readFileSync(path.join(fx.homeDir, 'f'), 'utf8'), 'old');
    upload.end();
    await finished(upload);
    assert.equal(readFileSync(path.join(fx.homeDir, 'f'), 'utf8'), 'new');
    assert.deepEqual(readdirSync(fx.homeDir), ['f']);
    assert.equal((await uploadRecord(fx.records)).status, 'ok');
  });

  it('refuses to complete an upload shorter than announced', async (t) => {
    const fx = await createSessionFixture();
    t.after(fx.cleanup);
    const upload = await fx.session.openWrite('/short', { size: 5 });
    upload.end('abc');
    await assert.rejects(finished(upload), { kind: 'incomplete' });
    const record = await uploadRecord(fx.records);
    assert.equal(record.status, 'incomplete');
    assert.equal(record.bytes, 3);
    assert.deepEqual(readdirSync(fx.homeDir), []);
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
