import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { hashPassword, verifyPassword } from '../../../src/auth/passwords.ts';
import { apply } from '../../../src/config/apply.ts';
import { newId } from '../../../src/config/ids.ts';
import { planImport } from '../../../src/config/import-csv.ts';
import type { ImportInput, ImportLineError } from '../../../src/config/import-csv.ts';
import type { ConfigState } from '../../../src/config/state.ts';
import { applyAll, command, NODE, populated, vfs } from './fixtures.ts';

// The two examples of the reference's "import many users from a CSV file" article.
const WITH_PATHS = `oneuser,"some password","/home/oneuser","ssh2_scp,ssh2_sftp,ftps,ftpes,https,https_sharing","dirList"
anotheruser,"some other password","/home/differenthome","ssh2_shell,ssh2_scp,ssh2_sftp","dirList,dirMake,dirRename,fileGet,filePut,fileModify,fileRename"
third_user,"different password","/home/oneuser","https,https_sharing","dirList,dirMake,dirRename,dirDelete,dirEditMetadata,fileGet,filePut,fileModify,symlink,fileRename,fileDelete,fileEditMetadata"
test,test123,"/home/oneuser","ssh2_sftp,ftps,ftpes,https,https_sharing","dirList,dirMake,filePut,fileModify"
`;
const WITH_IDS = `oneuser,"some password",2iSpTdEgRGPuYh0MVx2uWr5zxR4,"ssh2_scp,ssh2_sftp,ftps,ftpes,https,https_sharing","dirList"
anotheruser,"some other password",2l42WNHRjDtQUx8HdhGV5Jwq5j0,"ssh2_shell,ssh2_scp,ssh2_sftp","dirList,dirMake,dirRename,fileGet,filePut,fileModify,fileRename"
third_user,"different password",2mDUX9qjygr3dOOzBx4S6kwLcah,"https,https_sharing","dirList,dirMake,dirRename,dirDelete,dirEditMetadata,fileGet,filePut,fileModify,symlink,fileRename,fileDelete,fileEditMetadata"
test,test123,2mDUa8AaNKnmebSKy1ziUMyns0d,"ssh2_sftp,ftps,ftpes,https,https_sharing","dirList,dirMake,filePut,fileModify"
`;

function withReferenceVfs(): ConfigState {
  const ids = ['2iSpTdEgRGPuYh0MVx2uWr5zxR4', '2l42WNHRjDtQUx8HdhGV5Jwq5j0', '2mDUX9qjygr3dOOzBx4S6kwLcah', '2mDUa8AaNKnmebSKy1ziUMyns0d'];
  return applyAll(ids.map((id) => command({ type: 'vfs.put', vfs: vfs({ id, target: `/srv/${id}` }) })), populated());
}

function input(csv: string, overrides: Partial<ImportInput> = {}): ImportInput {
  return { csv, siteId: 'default', makeVfs: false, state: withReferenceVfs(), facts: NODE, hashPassword, newId, ...overrides };
}

async function errorsOf(csv: string, overrides: Partial<ImportInput> = {}): Promise<readonly ImportLineError[]> {
  const plan = await planImport(input(csv, overrides));
  assert.equal(plan.ok, false, 'expected the import to be refused');
  return plan.ok ? [] : plan.errors;
}

function assertLine(errors: readonly ImportLineError[], line: number, pattern: RegExp): void {
  assert.ok(errors.some((e) => e.line === line && pattern.test(e.message)), `no error on line ${line} matching ${pattern}: ${JSON.stringify(errors)}`);
}

test('the reference example with --makevfs imports four users and one VFS per distinct path', async () => {
  const state = populated();
  const plan = await planImport(input(WITH_PATHS, { makeVfs: true, state }));
  assert.ok(plan.ok, JSON.stringify(plan));
  assert.deepEqual(plan.summary.usernames, ['oneuser', 'anotheruser', 'third_user', 'test']);
  assert.deepEqual(plan.command.vfs.map((v) => v.target), ['/home/oneuser', '/home/differenthome']);
  const [one, another, third, last] = plan.command.users;
  assert.equal(one!.homeVfsId, plan.command.vfs[0]!.id);
  assert.equal(another!.homeVfsId, plan.command.vfs[1]!.id);
  assert.equal(third!.homeVfsId, one!.homeVfsId);
  assert.deepEqual(one!.subsystems, ['ssh2_scp', 'ssh2_sftp', 'ftps', 'ftpes', 'https', 'https_sharing']);
  assert.equal(third!.permissions.length, 12);
  assert.deepEqual(last!.authMethods, ['password']);
  assert.equal(last!.enabled, true);
  assert.equal(await verifyPassword(another!.passwordHash, 'some other password'), true);
  assert.equal(await verifyPassword(last!.passwordHash, 'test123'), true);
  const outcome = apply(state, { index: state.appliedIndex + 1, term: 1, command: plan.command });
  assert.deepEqual(outcome.result, { ok: true });
  assert.equal(outcome.state.users['default/third_user']?.homeVfsId, one!.homeVfsId);
});

test('the reference example with VFS ids imports against existing VFS profiles', async () => {
  const plan = await planImport(input(WITH_IDS));
  assert.ok(plan.ok, JSON.stringify(plan));
  assert.deepEqual(plan.command.vfs, []);
  assert.deepEqual(plan.command.users.map((u) => u.homeVfsId), ['2iSpTdEgRGPuYh0MVx2uWr5zxR4', '2l42WNHRjDtQUx8HdhGV5Jwq5j0', '2mDUX9qjygr3dOOzBx4S6kwLcah', '2mDUa8AaNKnmebSKy1ziUMyns0d']);
  assert.equal(plan.command.type, 'users.import');
  assert.equal(plan.command.actor, 'cli:importusers');
});

test('an existing disk VFS with exactly the imported path is reused', async () => {
  const state = applyAll([command({ type: 'vfs.put', vfs: vfs({ id: 'homes1', target: '/home/oneuser' }) })], populated());
  const plan = await planImport(input(WITH_PATHS, { makeVfs: true, state }));
  assert.ok(plan.ok);
  assert.deepEqual(plan.summary.reusedVfs, [{ id: 'homes1', target: '/home/oneuser' }]);
  assert.deepEqual(plan.command.vfs.map((v) => v.target), ['/home/differenthome']);
});

test('an unknown permission or subsystem is reported on its line with the valid names', async () => {
  const errors = await errorsOf('ok1,pw,2iSpTdEgRGPuYh0MVx2uWr5zxR4,ssh2_sftp,dirList\nbad,pw,2iSpTdEgRGPuYh0MVx2uWr5zxR4,"ssh2_sftp,telnet","dirList,fileWrite"\n');
  assertLine(errors, 2, /unknown permission 'fileWrite'; valid permissions are: dirList,.*fileEditMetadata/);
  assertLine(errors, 2, /unknown subsystem 'telnet'; valid subsystems are: ssh2_shell/);
  assert.ok(!errors.some((e) => e.line === 1));
});

test('duplicate usernames in the file and users that already exist are reported', async () => {
  const errors = await errorsOf('bob,pw,2iSpTdEgRGPuYh0MVx2uWr5zxR4,ssh2_sftp,dirList\n\nbob,pw2,2iSpTdEgRGPuYh0MVx2uWr5zxR4,ssh2_sftp,dirList\nalice,pw,2iSpTdEgRGPuYh0MVx2uWr5zxR4,ssh2_sftp,dirList\n');
  assertLine(errors, 3, /'bob' already appears on line 1/);
  assertLine(errors, 4, /user 'alice' already exists in site 'default'/);
});

test('a bad VFS id, a relative path with --makevfs and a path without it are reported', async () => {
  assertLine(await errorsOf('u1,pw,nosuchvfs,ssh2_sftp,dirList\n'), 1, /no VFS with id 'nosuchvfs'; use the id of an existing VFS/);
  assertLine(await errorsOf('u1,pw,/home/u1,ssh2_sftp,dirList\n'), 1, /import with --makevfs/);
  const errors = await errorsOf('u1,pw,home/u1,ssh2_sftp,dirList\nu2,pw,/home/../etc,ssh2_sftp,dirList\n', { makeVfs: true });
  assertLine(errors, 1, /home directory 'home\/u1' must be an absolute directory path/);
  assertLine(errors, 2, /normalized/);
});

test('empty passwords, bad usernames, wrong field counts and broken quoting are reported by line', async () => {
  const csv = [
    'u1,"",2iSpTdEgRGPuYh0MVx2uWr5zxR4,ssh2_sftp,dirList',
    '"Big User",pw,2iSpTdEgRGPuYh0MVx2uWr5zxR4,ssh2_sftp,dirList',
    'u3,pw,2iSpTdEgRGPuYh0MVx2uWr5zxR4,ssh2_sftp',
    'u4,"pw,2iSpTdEgRGPuYh0MVx2uWr5zxR4,ssh2_sftp,dirList',
    'u5,pw,2iSpTdEgRGPuYh0MVx2uWr5zxR4,"",dirList',
    'u6,pw,2iSpTdEgRGPuYh0MVx2uWr5zxR4,ssh2_sftp,"dirList,"',
  ].join('\r\n');
  const errors = await errorsOf(csv);
  assertLine(errors, 1, /empty password/);
  assertLine(errors, 2, /username 'Big User' is invalid/);
  assertLine(errors, 3, /expected 5 fields .* found 4/);
  assertLine(errors, 4, /not valid CSV: Quote Not Closed/);
  assertLine(errors, 5, /no subsystems listed/);
  assertLine(errors, 6, /empty entry; remove the extra comma/);
  assert.deepEqual(errors.map((e) => e.line), [...errors.map((e) => e.line)].sort((a, b) => a - b), 'errors come in line order');
});

test('one bad line means no command at all: nothing is half-imported', async () => {
  const plan = await planImport(input(WITH_IDS + 'broken,pw,2iSpTdEgRGPuYh0MVx2uWr5zxR4,ssh2_sftp,dirLst\n'));
  assert.equal(plan.ok, false);
  assert.ok(!('command' in plan));
  assert.deepEqual(!plan.ok && plan.errors.map((e) => e.line), [5]);
});

test('an unknown site or an empty file is reported for the whole file', async () => {
  assertLine(await errorsOf(WITH_IDS, { siteId: 'nosite' }), 0, /no virtual site with id 'nosite'/);
  assertLine(await errorsOf('\n\n'), 0, /holds no users/);
});

test('a byte-order mark, spaces in lists and quoted commas in passwords are handled', async () => {
  const plan = await planImport(input('\uFEFFcarol,"pa, ss word",2iSpTdEgRGPuYh0MVx2uWr5zxR4,"ssh2_sftp, ssh2_scp","dirList, fileGet"\n'));
  assert.ok(plan.ok, JSON.stringify(plan));
  const carol = plan.command.users[0]!;
  assert.deepEqual(carol.subsystems, ['ssh2_sftp', 'ssh2_scp']);
  assert.equal(await verifyPassword(carol.passwordHash, 'pa, ss word'), true);
});

test('a dry run validates every line without hashing passwords', async () => {
  let hashed = 0;
  const counting = async (plain: string) => {
    hashed++;
    return hashPassword(plain);
  };
  const plan = await planImport(input(WITH_IDS, { dryRun: true, hashPassword: counting }));
  assert.ok(plan.ok);
  assert.equal(hashed, 0);
  assert.deepEqual(plan.command.users.map((u) => u.passwordHash), ['', '', '', '']);
  const refused = await planImport(input(WITH_IDS + 'Bad,pw,x,ssh2_sftp,dirList\n', { dryRun: true, hashPassword: counting }));
  assert.deepEqual(!refused.ok && refused.errors.map((e) => e.line), [5, 5]);
});

test('arbitrary file contents never throw: a plan or errors whose line numbers exist in the file', async () => {
  const state = withReferenceVfs();
  const line = fc.oneof(
    fc.string({ maxLength: 60 }),
    fc.constantFrom(...WITH_IDS.split('\n'), 'x,"unterminated', '"a""b",c,d,e,f', ',,,,', '\u0000,\u2028,"\r",x,y'),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(line, { maxLength: 8 }), fc.boolean(), async (lines, makeVfs) => {
      const csv = lines.join('\n');
      const plan = await planImport(input(csv, { state, makeVfs, dryRun: true }));
      if (plan.ok) return;
      const count = csv.split(/\r?\n/).length;
      for (const error of plan.errors) assert.ok(error.line >= 0 && error.line <= count, JSON.stringify(error));
    }),
    { numRuns: 500 },
  );
});
