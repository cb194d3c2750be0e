// One denial per verb (as sftpgo's TestPermissionErrors): each Session verb succeeds with every
// permission and fails with `permission-denied` when exactly the permission its row names is
// missing, leaving the storage untouched, and the refusal is in the transfer log.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { text } from 'node:stream/consumers';
import { finished } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { PERMISSIONS } from '../../../src/config/model/permissions.ts';
import type { Permission } from '../../../src/config/model/permissions.ts';
import type { Session } from '../../../src/session/types.ts';
import { OPERATIONS } from '../../../src/session/permissions.ts';
import { createSessionFixture } from '../../helpers/session-fixture.ts';

interface Verb {
  readonly name: string;
  readonly needs: Permission;
  readonly run: (s: Session) => Promise<unknown>;
  /** True when the storage shows the verb's effect (checked after a refusal: must be false). */
  readonly happened?: (home: string) => boolean;
}

async function upload(s: Session, p: string, options = {}) {
  const w = await s.openWrite(p, options);
  w.end('new content');
  await finished(w);
}

async function drain(iterable: AsyncIterable<unknown>) {
  for await (const _ of iterable);
}

const changed = (home: string, p: string) => readFileSync(path.join(home, p), 'utf8') !== 'data';

const verbs = (b: string): Verb[] => [
  { name: 'list', needs: 'dirList', run: (s) => drain(s.list(`${b}/d`)) },
  { name: 'mkdir', needs: 'dirMake', run: (s) => s.mkdir(`${b}/new`), happened: (h) => existsSync(path.join(h, 'new')) },
  { name: 'rmdir', needs: 'dirDelete', run: (s) => s.rmdir(`${b}/empty`), happened: (h) => !existsSync(path.join(h, 'empty')) },
  { name: 'rename a directory', needs: 'dirRename', run: (s) => s.rename(`${b}/empty`, `${b}/moved`), happened: (h) => existsSync(path.join(h, 'moved')) },
  { name: 'rename a file', needs: 'fileRename', run: (s) => s.rename(`${b}/f`, `${b}/moved`), happened: (h) => existsSync(path.join(h, 'moved')) },
  { name: 'rename over an existing file', needs: 'fileModify', run: (s) => s.rename(`${b}/f`, `${b}/g`, { overwrite: true }), happened: (h) => !existsSync(path.join(h, 'f')) },
  { name: 'remove a file', needs: 'fileDelete', run: (s) => s.remove(`${b}/f`), happened: (h) => !existsSync(path.join(h, 'f')) },
  { name: 'remove a symlink', needs: 'fileDelete', run: (s) => s.remove(`${b}/l`), happened: (h) => !existsSync(path.join(h, 'l')) },
  { name: 'set times of a directory', needs: 'dirEditMetadata', run: (s) => s.setStat(`${b}/d`, { mtimeMs: 0 }) },
  { name: 'set the mode of a file', needs: 'fileEditMetadata', run: (s) => s.setStat(`${b}/f`, { mode: 0o600 }) },
  { name: 'truncate a file with setStat', needs: 'fileModify', run: (s) => s.setStat(`${b}/f`, { size: 1 }), happened: (h) => changed(h, 'f') },
  { name: 'download', needs: 'fileGet', run: async (s) => text(await s.openRead(`${b}/f`)) },
  { name: 'open for reading', needs: 'fileGet', run: (s) => s.open(`${b}/f`, { read: true }).then((f) => f.close()) },
  { name: 'checksum', needs: 'fileGet', run: (s) => s.checksum(`${b}/f`, 'sha256') },
  { name: 'upload a new file', needs: 'filePut', run: (s) => upload(s, `${b}/new.txt`), happened: (h) => existsSync(path.join(h, 'new.txt')) },
  { name: 'open a new file for writing', needs: 'filePut', run: (s) => s.open(`${b}/new.txt`, { write: true, create: true }).then((f) => f.close()), happened: (h) => existsSync(path.join(h, 'new.txt')) },
  { name: 'overwrite an existing file', needs: 'fileModify', run: (s) => upload(s, `${b}/f`, { truncate: true }), happened: (h) => changed(h, 'f') },
  { name: 'resume an existing file', needs: 'fileModify', run: (s) => upload(s, `${b}/f`, { offset: 4 }), happened: (h) => changed(h, 'f') },
  { name: 'open an existing file for append', needs: 'fileModify', run: (s) => s.open(`${b}/f`, { write: true, append: true }).then((f) => f.close()) },
  { name: 'open an existing file with truncation', needs: 'fileModify', run: (s) => s.open(`${b}/f`, { write: true, create: true, truncate: true }).then((f) => f.close()), happened: (h) => changed(h, 'f') },
  { name: 'create a symlink', needs: 'symlink', run: (s) => s.symlink(`${b}/f`, `${b}/newlink`), happened: (h) => existsSync(path.join(h, 'newlink')) },
  { name: 'create a hard link', needs: 'symlink', run: (s) => s.link(`${b}/f`, `${b}/hard`), happened: (h) => existsSync(path.join(h, 'hard')) },
  { name: 'hard-link a file the user may not modify', needs: 'fileModify', run: (s) => s.link(`${b}/f`, `${b}/hard`), happened: (h) => existsSync(path.join(h, 'hard')) },
];

/**
 * Where the verbs run: at the home root with the user's permissions, inside an overridden
 * folder (the user has none elsewhere), and inside a virtual folder (idem).
 */
const PLACES = ['home', 'override', 'virtual folder'] as const;
type Place = (typeof PLACES)[number];

function baseOf(place: Place): string {
  return place === 'home' ? '' : place === 'override' ? '/over/ride' : '/vf';
}

async function fixtureWith(permissions: readonly Permission[], place: Place = 'home') {
  const fx = await createSessionFixture(
    place === 'home'
      ? { permissions }
      : place === 'override'
        ? { permissions: [], overrides: [{ path: '/over', permissions: [] }, { path: '/over/ride', permissions }] }
        : { permissions: [], virtualFolders: [{ path: '/vf', permissions }] },
  );
  const dir = place === 'virtual folder' ? fx.folderDir('/vf') : path.join(fx.homeDir, baseOf(place));
  mkdirSync(path.join(dir, 'd'), { recursive: true });
  mkdirSync(path.join(dir, 'empty'));
  writeFileSync(path.join(dir, 'd', 'inner'), 'data');
  writeFileSync(path.join(dir, 'f'), 'data');
  writeFileSync(path.join(dir, 'g'), 'data');
  symlinkSync('f', path.join(dir, 'l'));
  return { fx, dir };
}

for (const place of PLACES) {
  describe(`Session permissions, one verb at a time, in the ${place}`, () => {
    for (const verb of verbs(baseOf(place))) {
      it(`${verb.name} works with every permission`, async (t) => {
        const { fx, dir } = await fixtureWith(PERMISSIONS, place);
        t.after(fx.cleanup);
        await verb.run(fx.session);
        if (verb.happened) assert.equal(verb.happened(dir), true);
      });

      it(`${verb.name} is refused without ${verb.needs}, leaving the storage unchanged`, async (t) => {
        const { fx, dir } = await fixtureWith(PERMISSIONS.filter((p) => p !== verb.needs), place);
        t.after(fx.cleanup);
        await assert.rejects(verb.run(fx.session), (error: { kind?: string; message?: string }) => {
          assert.equal(error.kind, 'permission-denied');
          assert.match(String(error.message), new RegExp(verb.needs));
          return true;
        });
        if (verb.happened) assert.equal(verb.happened(dir), false, 'nothing changed on disk');
      });
    }
  });
}

describe('Session permissions', () => {
  it('answers stat, realpath, readlink and statvfs without any permission', async (t) => {
    const { fx } = await fixtureWith([]);
    t.after(fx.cleanup);
    assert.equal((await fx.session.stat('/f')).size, 4);
    assert.equal((await fx.session.stat('/l', { follow: false })).type, 'symlink');
    assert.equal(await fx.session.realpath('d/../f'), '/f');
    assert.equal(await fx.session.readlink('/l'), '/f');
    assert.ok((await fx.session.statvfs('/')).blockSize > 0);
  });

  it('logs refused operations with their error kind', async (t) => {
    const { fx } = await fixtureWith(['dirList']);
    t.after(fx.cleanup);
    await assert.rejects(fx.session.remove('/f'));
    await assert.rejects(upload(fx.session, '/new'));
    await assert.rejects(fx.session.mkdir('/x'));
    const refused = fx.records.filter((r) => r.status === 'permission-denied').map((r) => `${r.operation} ${r.path}`);
    assert.deepEqual(refused, ['delete /f', 'upload /new', 'mkdir /x']);
  });

  it('names a real permission (or none) in every row of the operation table', () => {
    for (const [operation, permission] of Object.entries(OPERATIONS)) {
      assert.ok(permission === null || PERMISSIONS.includes(permission), operation);
    }
    const covered = new Set(verbs('').map((v) => v.needs));
    for (const permission of PERMISSIONS) assert.ok(covered.has(permission), `a verb test covers ${permission}`);
  });
});
