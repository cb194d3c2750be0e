// The Session's hooks: vetoes before operations (event scripts, quotas), events after them
// (metrics, strikes) and the transfer limiter (bandwidth, quotas), all from one place for every
// protocol.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { PERMISSIONS } from '../../../src/config/model/permissions.ts';
import type { TransferRecord } from '../../../src/logging/transfer-log.ts';
import { FerryError } from '../../../src/session/errors.ts';
import type { PendingOperation, SessionHooks } from '../../../src/session/hooks.ts';
import { createSessionFixture } from '../../helpers/session-fixture.ts';

describe('before-operation hooks', () => {
  it('see each operation once it is decided and permitted, with its decision and who asks', async (t) => {
    const seen: PendingOperation[] = [];
    const fx = await createSessionFixture({ hooks: { before: [(op) => void seen.push(op)] } });
    t.after(fx.cleanup);
    writeFileSync(path.join(fx.homeDir, 'old'), 'four');
    await (await fx.session.open('/old', { write: true, truncate: true })).close();
    const upload = await fx.session.openWrite('/new');
    upload.end('x');
    await finished(upload);
    await fx.session.mkdir('/d');
    await fx.session.rename('/new', '/d/new');
    await fx.session.copy('/d/new', '/copy');
    await fx.session.remove('/copy');
    assert.deepEqual(
      seen.map((op) => [op.operation, op.path, op.target, op.decision, op.size]),
      [
        ['upload', '/old', undefined, 'modify', 4],
        ['upload', '/new', undefined, 'create', 0],
        ['mkdir', '/d', undefined, undefined, undefined],
        ['rename', '/new', '/d/new', undefined, undefined],
        ['copy', '/d/new', '/copy', 'create', 1],
        ['delete', '/copy', undefined, undefined, 1],
      ],
    );
    assert.equal(seen[0]!.session.username, 'alice');
    assert.equal(seen[0]!.session.sessionId, fx.session.id);
    assert.equal(seen[0]!.session.protocol, 'ssh2_sftp');
  });

  it('veto an operation before the storage is touched; the client hears the hook error and the log has it', async (t) => {
    const quota: SessionHooks = {
      before: [
        (op) => {
          if (op.operation === 'upload' && op.decision === 'create') throw new FerryError('quota-exceeded', 'your quota is used up');
          if (op.operation === 'mkdir') throw new FerryError('permission-denied', 'no folders today');
        },
      ],
    };
    const fx = await createSessionFixture({ hooks: quota });
    t.after(fx.cleanup);
    await assert.rejects(fx.session.openWrite('/big'), { kind: 'quota-exceeded', message: 'your quota is used up' });
    await assert.rejects(fx.session.open('/big', { write: true, create: true }), { kind: 'quota-exceeded' });
    await assert.rejects(fx.session.mkdir('/d'), { message: 'no folders today' });
    assert.equal(existsSync(path.join(fx.homeDir, 'big')), false);
    assert.equal(existsSync(path.join(fx.homeDir, 'd')), false);
    assert.deepEqual(
      fx.records.filter((r) => r.operation !== 'login').map((r) => [r.operation, r.status]),
      [
        ['upload', 'quota-exceeded'],
        ['upload', 'quota-exceeded'],
        ['mkdir', 'permission-denied'],
      ],
    );
  });

  it('are not asked about an operation the user may not do, and a hook that breaks refuses rather than allows', async (t) => {
    const seen: string[] = [];
    const fx = await createSessionFixture({
      permissions: PERMISSIONS.filter((p) => p !== 'dirMake'),
      hooks: {
        before: [
          (op) => {
            seen.push(op.operation);
            if (op.operation === 'delete') throw new TypeError('a bug in a script');
          },
        ],
      },
    });
    t.after(fx.cleanup);
    writeFileSync(path.join(fx.homeDir, 'f'), 'x');
    await assert.rejects(fx.session.mkdir('/d'), { kind: 'permission-denied' });
    await assert.rejects(fx.session.remove('/f'), { kind: 'permission-denied', message: 'the server refused this operation' });
    assert.deepEqual(seen, ['delete']);
    assert.equal(readFileSync(path.join(fx.homeDir, 'f'), 'utf8'), 'x');
  });

  it('run between the decision and the act: a file a hook creates then is never overwritten by a user without fileModify', async (t) => {
    // The deterministic form of the create/modify race: the file appears exactly in the gap.
    let home = '';
    const fx = await createSessionFixture({
      permissions: PERMISSIONS.filter((p) => p !== 'fileModify'),
      hooks: {
        before: [
          (op) => {
            if (op.decision === 'create') writeFileSync(path.join(home, op.path), 'appeared in between');
          },
        ],
      },
    });
    t.after(fx.cleanup);
    home = fx.homeDir;
    await assert.rejects(fx.session.open('/h', { write: true, create: true, truncate: true }), { kind: 'permission-denied' });
    const staged = await fx.session.openWrite('/s');
    staged.end('overwrite?');
    await assert.rejects(finished(staged), { kind: 'exists' });
    for (const name of ['h', 's']) assert.equal(readFileSync(path.join(home, name), 'utf8'), 'appeared in between', name);
  });
});

describe('after-operation hooks', () => {
  it('see every record the transfer log got, in order, and one that throws breaks nothing', async (t) => {
    const seen: TransferRecord[] = [];
    const fx = await createSessionFixture({
      hooks: {
        after: [
          (record) => void seen.push(record),
          () => {
            throw new Error('a broken metrics sink');
          },
        ],
      },
    });
    t.after(fx.cleanup);
    await fx.session.mkdir('/d');
    const upload = await fx.session.openWrite('/d/f');
    upload.end('abc');
    await finished(upload);
    await assert.rejects(fx.session.rmdir('/missing'));
    assert.deepEqual(seen, fx.records);
    assert.deepEqual(
      seen.map((r) => [r.operation, r.status]),
      [
        ['login', 'ok'],
        ['mkdir', 'ok'],
        ['upload', 'ok'],
        ['rmdir', 'not-found'],
      ],
    );
  });
});

describe('the transfer limiter', () => {
  it('is made once per session and paces or stops the bytes of its transfers', async (t) => {
    const made: string[] = [];
    const asked: number[] = [];
    const fx = await createSessionFixture({
      hooks: {
        limiter: (session) => {
          made.push(session.username);
          let used = 0;
          return {
            admit: (_transfer, bytes, direction) => {
              if (direction !== 'write') return undefined;
              asked.push(bytes);
              used += bytes;
              if (used > 10) throw new FerryError('quota-exceeded', 'quota exceeded');
              return new Promise((resolve) => setTimeout(resolve, 1));
            },
          };
        },
      },
    });
    t.after(fx.cleanup);
    const handle = await fx.session.open('/h', { write: true, create: true });
    await handle.write(0, Buffer.from('12345'));
    await handle.write(5, Buffer.from('67890'));
    await assert.rejects(handle.write(10, Buffer.from('x')), { kind: 'quota-exceeded' });
    // The handle ends with the refusal, as with a storage error: its close reports it too.
    await assert.rejects(handle.close(), { kind: 'quota-exceeded' });
    const upload = await fx.session.openWrite('/s');
    upload.end('more');
    await assert.rejects(finished(upload), { kind: 'quota-exceeded' });
    assert.deepEqual(made, ['alice']);
    assert.deepEqual(asked, [5, 5, 1, 4]);
    assert.equal(readFileSync(path.join(fx.homeDir, 'h'), 'utf8'), '1234567890');
    assert.equal(existsSync(path.join(fx.homeDir, 's')), false, 'the refused upload left nothing');
    for (let i = 0; i < 100 && !fx.records.some((r) => r.path === '/s'); i++) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.deepEqual(
      fx.records.filter((r) => r.operation === 'upload').map((r) => [r.path, r.status, r.bytes]),
      [
        ['/h', 'quota-exceeded', 10],
        ['/s', 'quota-exceeded', 0],
      ],
    );
  });
});
