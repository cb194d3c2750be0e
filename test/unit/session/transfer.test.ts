// The transfer object: the one decision (read, create, modify, append) for handles and streams,
// byte accounting, the limiter quotas and bandwidth limits plug into, and the session's registry
// of open transfers that an administrator lists and stops and close() empties.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { PERMISSIONS } from '../../../src/config/model/permissions.ts';
import type { Permission } from '../../../src/config/model/permissions.ts';
import { FerryError } from '../../../src/session/errors.ts';
import { requirePermission } from '../../../src/session/permissions.ts';
import { decideTransfer } from '../../../src/session/transfer.ts';
import type { DecisionPlace, TransferIntent } from '../../../src/session/transfer.ts';
import type { Capabilities, EntryInfo } from '../../../src/vfs/vfs.ts';
import { createSessionFixture } from '../../helpers/session-fixture.ts';
import { testTransfer } from '../../helpers/transfer.ts';
import { DriverOpenFile } from '../../../src/session/open-file.ts';
import { LocalDriver } from '../../../src/vfs/drivers/local.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';

const DISK: Capabilities = new LocalDriver('/tmp/unused-root').capabilities;
const SEQUENTIAL: Capabilities = { ...DISK, writeAtOffset: false, readAtOffset: false, append: false };

function place(permissions: readonly Permission[], capabilities = DISK): DecisionPlace {
  const set = new Set(permissions);
  return { path: '/f', capabilities, require: (operation) => requirePermission(set, operation, '/f') };
}

const file = (size: number): EntryInfo => ({ name: 'f', type: 'file', size, mtimeMs: 0, atimeMs: 0, mode: 0o644 });
const intent = (changes: Partial<TransferIntent>): TransferIntent => ({
  read: false,
  write: true,
  create: true,
  exclusive: false,
  truncate: false,
  append: false,
  offset: 0,
  ...changes,
});
const kindOf = (fn: () => unknown): string => {
  try {
    return String(fn());
  } catch (error) {
    return (error as FerryError).kind;
  }
};

describe('the transfer decision', () => {
  it('decides read, create, modify or append against what is there, with the permission each needs', () => {
    const all = place(PERMISSIONS);
    assert.equal(decideTransfer(intent({ read: true, write: false }), file(3), all), 'read');
    assert.equal(decideTransfer(intent({}), undefined, all), 'create');
    assert.equal(decideTransfer(intent({ truncate: true }), file(3), all), 'modify');
    assert.equal(decideTransfer(intent({ append: true }), file(3), all), 'append');
    assert.equal(decideTransfer(intent({ append: true }), undefined, all), 'create');
    assert.equal(decideTransfer(intent({ append: true, truncate: true }), file(3), all), 'modify');
    const putOnly = place(PERMISSIONS.filter((p) => p !== 'fileModify'));
    assert.equal(decideTransfer(intent({}), undefined, putOnly), 'create');
    assert.equal(kindOf(() => decideTransfer(intent({ append: true }), file(3), putOnly)), 'permission-denied');
    assert.equal(kindOf(() => decideTransfer(intent({ truncate: true }), file(3), putOnly)), 'permission-denied');
    const modifyOnly = place(PERMISSIONS.filter((p) => p !== 'filePut'));
    assert.equal(kindOf(() => decideTransfer(intent({}), undefined, modifyOnly)), 'permission-denied');
    const noGet = place(PERMISSIONS.filter((p) => p !== 'fileGet'));
    assert.equal(kindOf(() => decideTransfer(intent({ read: true, write: false }), file(3), noGet)), 'permission-denied');
  });

  it('refuses what cannot be: a missing file to read or modify, an exclusive create over a file, a directory', () => {
    const all = place(PERMISSIONS);
    assert.equal(kindOf(() => decideTransfer(intent({ read: true, write: false }), undefined, all)), 'not-found');
    assert.equal(kindOf(() => decideTransfer(intent({ create: false }), undefined, all)), 'not-found');
    assert.equal(kindOf(() => decideTransfer(intent({ exclusive: true }), file(0), all)), 'exists');
    assert.equal(kindOf(() => decideTransfer(intent({}), { ...file(0), type: 'dir' }, all)), 'is-a-directory');
    assert.equal(kindOf(() => decideTransfer(intent({}), { ...file(0), type: 'other' }, all)), 'not-a-file');
  });

  it('asks the storage for the capability a decision needs: resume and append write past the start', () => {
    const sequential = place(PERMISSIONS, SEQUENTIAL);
    assert.equal(decideTransfer(intent({ truncate: true }), file(3), sequential), 'modify');
    assert.equal(decideTransfer(intent({ append: true }), file(0), sequential), 'append', 'appending to an empty file starts at 0');
    assert.equal(kindOf(() => decideTransfer(intent({ append: true }), file(3), sequential)), 'unsupported');
    assert.equal(kindOf(() => decideTransfer(intent({ offset: 3 }), file(3), sequential)), 'unsupported');
    assert.equal(kindOf(() => decideTransfer(intent({ read: true, write: false, offset: 3 }), file(9), sequential)), 'unsupported');
  });
});

describe('a transfer', () => {
  it('asks its limiter before bytes move, and a refusal fails the write without counting it', async (t) => {
    const root = await mkdtemp(path.join(tmpdir(), 'ferry-transfer-'));
    t.after(() => rm(root, { recursive: true, force: true }));
    const driver = new LocalDriver(root);
    const asked: number[] = [];
    const transfer = testTransfer({
      writable: true,
      limiter: {
        admit: (_transfer, bytes) => {
          asked.push(bytes);
          if (asked.length === 2) return new Promise((resolve) => setTimeout(resolve, 20));
          if (asked.length === 3) throw new FerryError('quota-exceeded', 'quota exceeded');
          return undefined;
        },
      },
    });
    const open = new DriverOpenFile({
      path: '/f',
      driver,
      driverPath: '/f',
      transfer,
      append: false,
      initialWriter: await driver.openWrite('/f', { exclusive: true }),
      stat: () => Promise.reject(new Error('unused')),
      setStat: () => Promise.reject(new Error('unused')),
    });
    await open.write(0, Buffer.from('abc'));
    await open.write(3, Buffer.from('de'));
    await assert.rejects(open.write(5, Buffer.from('fgh')), { kind: 'quota-exceeded' });
    await assert.rejects(open.close(), { kind: 'quota-exceeded' });
    assert.deepEqual(asked, [3, 2, 3]);
    assert.equal(transfer.bytesWritten, 5);
    assert.equal(readFileSync(path.join(root, 'f'), 'utf8'), 'abcde');
  });
});

describe('the session registry of transfers', () => {
  it('lists open handles and streams with their decision and bytes, and forgets them when they end', async (t) => {
    const fx = await createSessionFixture();
    t.after(fx.cleanup);
    writeFileSync(path.join(fx.homeDir, 'old'), 'old content');
    const handle = await fx.session.open('/old', { write: true, append: true });
    await handle.write(0, Buffer.from('+more'));
    const upload = await fx.session.openWrite('/new');
    const listed = fx.session.transfers();
    assert.deepEqual(
      listed.map((x) => [x.path, x.operation, x.decision]),
      [
        ['/old', 'upload', 'append'],
        ['/new', 'upload', 'create'],
      ],
    );
    assert.equal(listed[0]!.bytesWritten, 5);
    await handle.close();
    upload.end('x');
    await once(upload, 'close');
    assert.deepEqual(fx.session.transfers(), []);
    assert.equal(readFileSync(path.join(fx.homeDir, 'old'), 'utf8'), 'old content+more');
  });

  it('stops a transfer by id: a handle keeps what was written and refuses more, a stream is cut; both are logged incomplete', async (t) => {
    const fx = await createSessionFixture();
    t.after(fx.cleanup);
    writeFileSync(path.join(fx.homeDir, 'big'), Buffer.alloc(4 * 1024 * 1024));
    const handle = await fx.session.open('/h', { write: true, create: true });
    await handle.write(0, Buffer.from('kept'));
    const download = await fx.session.openRead('/big');
    const [h, d] = fx.session.transfers();
    assert.equal(await fx.session.stopTransfer(h!.id), true);
    assert.equal(await fx.session.stopTransfer(d!.id), true);
    assert.equal(await fx.session.stopTransfer('no-such-transfer'), false);
    await assert.rejects(handle.write(4, Buffer.from('more')), { kind: 'incomplete' });
    assert.equal(download.destroyed, true);
    assert.equal(readFileSync(path.join(fx.homeDir, 'h'), 'utf8'), 'kept');
    const lines = fx.records.filter((r) => r.operation === 'upload' || r.operation === 'download');
    assert.deepEqual(
      lines.map((r) => [r.path, r.status]),
      [
        ['/h', 'incomplete'],
        ['/big', 'incomplete'],
      ],
    );
    assert.equal(lines[0]!.bytes, 4);
    assert.ok(lines[1]!.bytes! < 4 * 1024 * 1024, 'the download was cut before its end');
    assert.deepEqual(fx.session.transfers(), []);
  });

  it("lists and stops the transfers of the connection's channels through the connection's session", async (t) => {
    const fx = await createSessionFixture();
    t.after(fx.cleanup);
    const channel = fx.session.channel('ssh2_scp');
    const upload = await channel.openWrite('/via-channel');
    upload.write('part');
    const [listed] = fx.session.transfers();
    assert.equal(listed?.path, '/via-channel');
    assert.equal(await fx.session.stopTransfer(listed!.id), true);
    assert.equal(upload.destroyed, true);
    assert.deepEqual(channel.transfers(), []);
  });

  it('close() stops every transfer the session still has open, streams included', async (t) => {
    const fx = await createSessionFixture();
    t.after(fx.cleanup);
    writeFileSync(path.join(fx.homeDir, 'f'), 'data');
    const upload = await fx.session.openWrite('/up', { size: 10 });
    upload.write('12345');
    const download = await fx.session.openRead('/f');
    const handle = await fx.session.open('/f', { read: true });
    assert.equal(fx.session.transfers().length, 3);
    await fx.session.close();
    assert.equal(upload.destroyed && download.destroyed, true);
    await assert.rejects(handle.read(0, 4), { kind: 'incomplete' });
    for (let i = 0; i < 100 && fx.records.filter((r) => r.status === 'incomplete').length < 3; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    const statuses = fx.records.filter((r) => r.operation === 'upload' || r.operation === 'download').map((r) => `${r.operation} ${r.path} ${r.status}`);
    assert.deepEqual(statuses.sort(), ['download /f incomplete', 'download /f incomplete', 'upload /up incomplete']);
  });
});
