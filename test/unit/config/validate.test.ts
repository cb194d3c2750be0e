import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CommandBody } from '../../../src/config/commands.ts';
import { initialState } from '../../../src/config/initial.ts';
import type { ConfigState } from '../../../src/config/state.ts';
import { validate } from '../../../src/config/validate.ts';
import type { VfsProfile } from '../../../src/config/model/vfs-profile.ts';
import { check } from '../../../src/config/schema.ts';
import { VFS_SHAPE } from '../../../src/config/shapes.ts';
import { applyAll, command, NODE, populated, SEALED, site, user, vfs } from './fixtures.ts';

function errorsOf(state: ConfigState, body: CommandBody): { path: string; message: string }[] {
  return [...validate(state, command(body), NODE)];
}

function assertRefused(state: ConfigState, body: CommandBody, path: string, pattern: RegExp): void {
  const errors = errorsOf(state, body);
  const hit = errors.find((error) => error.path === path && pattern.test(error.message));
  assert.ok(hit, `expected an error at ${path} matching ${pattern}, got ${JSON.stringify(errors)}`);
}

test('a valid user, site and VFS pass validation', () => {
  const state = populated();
  assert.deepEqual(errorsOf(state, { type: 'user.put', user: user({ username: 'bob' }) }), []);
  assert.deepEqual(errorsOf(state, { type: 'site.put', site: site({ id: 'other', bindings: [{ protocol: 'ssh', host: '127.0.0.1', port: 2223 }] }) }), []);
  assert.deepEqual(errorsOf(state, { type: 'vfs.put', vfs: vfs({ id: 'new' }) }), []);
});

test('usernames must be lowercase without spaces and at most 64 characters', () => {
  const state = populated();
  for (const username of ['Alice', 'al ice', 'a'.repeat(65), '..', '-rf', 'al/ice', '']) {
    const errors = errorsOf(state, { type: 'user.put', user: user({ username }) });
    assert.ok(errors.some((error) => error.path === 'user.username'), `${JSON.stringify(username)} was accepted`);
  }
  for (const username of ['third_user', 'a.b-c', '0', 'x'.repeat(64)]) {
    assert.deepEqual(errorsOf(state, { type: 'user.put', user: user({ username }) }), [], username);
  }
});

test('unknown subsystems and permissions are refused with the valid names listed', () => {
  const state = populated();
  const bad = user({ subsystems: ['ssh2_sftp', 'telnet'] as never, permissions: ['dirList', 'fileWrite'] as never });
  const errors = errorsOf(state, { type: 'user.put', user: bad });
  assert.ok(errors.some((e) => e.path === 'user.subsystems[1]' && /unknown subsystem 'telnet'.*ssh2_shell/.test(e.message)));
  assert.ok(errors.some((e) => e.path === 'user.permissions[1]' && /unknown permission 'fileWrite'.*fileEditMetadata/.test(e.message)));
});

test('a permission listed twice is refused', () => {
  assertRefused(populated(), { type: 'user.put', user: user({ permissions: ['dirList', 'dirList'] }) }, 'user.permissions[1]', /twice/);
});

test('virtual folder and override paths must be root-based and normalized', () => {
  const state = populated();
  const cases: [string, RegExp][] = [
    ['shared', /root-based/],
    ['/', /below "\/"/],
    ['/a/../b', /normalized/],
    ['/a/./b', /normalized/],
    ['/a//b', /empty segments/],
    ['/a/', /end with/],
    ['/a\\b', /separator/],
    ['/a\u0000b', /control characters/],
  ];
  for (const [path, pattern] of cases) {
    const folders = [{ path, vfsId: 'shared', permissions: ['dirList' as const] }];
    assertRefused(state, { type: 'user.put', user: user({ virtualFolders: folders }) }, 'user.virtualFolders[0].path', pattern);
    const overrides = [{ path, permissions: ['dirList' as const] }];
    assertRefused(state, { type: 'user.put', user: user({ permissionOverrides: overrides }) }, 'user.permissionOverrides[0].path', pattern);
  }
});

test('two virtual folders on the same path are refused', () => {
  const folders = [
    { path: '/x', vfsId: 'shared', permissions: ['dirList' as const] },
    { path: '/x', vfsId: 'home', permissions: ['dirList' as const] },
  ];
  assertRefused(populated(), { type: 'user.put', user: user({ virtualFolders: folders }) }, 'user.virtualFolders[1].path', /already uses/);
});

test('a user must reference an existing site, home VFS and folder VFS', () => {
  const state = populated();
  assertRefused(state, { type: 'user.put', user: user({ siteId: 'nosite' }) }, 'user.siteId', /no site 'nosite'/);
  assertRefused(state, { type: 'user.put', user: user({ homeVfsId: 'missing' }) }, 'user.homeVfsId', /no VFS 'missing'/);
  const folders = [{ path: '/x', vfsId: 'gone', permissions: [] }];
  assertRefused(state, { type: 'user.put', user: user({ virtualFolders: folders }) }, 'user.virtualFolders[0].vfsId', /no VFS 'gone'/);
});

test('a clear-text password in passwordHash is refused', () => {
  assertRefused(populated(), { type: 'user.put', user: user({ passwordHash: 'hunter2' }) }, 'user.passwordHash', /argon2id PHC/);
  assert.deepEqual(errorsOf(populated(), { type: 'user.put', user: user({ passwordHash: '' }) }), []);
});

test('malformed authorized keys are refused', () => {
  assertRefused(populated(), { type: 'user.put', user: user({ authorizedKeys: ['not a key'] }) }, 'user.authorizedKeys[0]', /OpenSSH public key/);
});

test('a disk VFS target must be an absolute normalized path and never the file system root', () => {
  for (const target of ['relative/dir', 'C:\\data', '/srv/../etc', '/srv/', '/']) {
    const errors = errorsOf(initialState(), { type: 'vfs.put', vfs: vfs({ target }) });
    assert.ok(errors.some((error) => error.path === 'vfs.target'), target);
  }
});

test('a disk VFS target that reaches the node\'s data directory or a system directory is refused with the reason', () => {
  const cases: [string, RegExp][] = [
    ['/var/lib/ferry', /is the node's data directory \/var\/lib\/ferry, which holds its master key \(secret\.key\)/],
    ['/var/lib/ferry/logs', /is inside the node's data directory .*only its files area \/var\/lib\/ferry\/files may hold user folders/],
    ['/var/lib/ferry/{{username}}', /could lie inside .* the node's data directory/],
    ['/etc', /is inside the system directory \/etc/],
    ['/proc/self', /is inside the system directory \/proc/],
  ];
  for (const [target, pattern] of cases) {
    assertRefused(initialState(), { type: 'vfs.put', vfs: vfs({ target }) }, 'vfs.target', pattern);
    assertRefused(initialState(), { type: 'users.import', siteId: 'default', users: [], vfs: [vfs({ target })] }, 'vfs[0].target', pattern);
  }
  assert.deepEqual(errorsOf(initialState(), { type: 'vfs.put', vfs: vfs({ target: '/var/lib/ferry/files/{{username}}' }) }), []);
});

test('a VFS profile is shaped by its kind: options and secrets per kind, an unknown kind refused before proposing but replayed', () => {
  const state = initialState();
  const odd = (extra: Record<string, unknown>) => ({ ...vfs(), ...extra }) as unknown as VfsProfile;
  assert.deepEqual(errorsOf(state, { type: 'vfs.put', vfs: vfs({ options: {} }) }), []);
  assertRefused(state, { type: 'vfs.put', vfs: odd({ options: { bucket: 'b' } }) }, 'vfs.options.bucket', /not a known field/);
  assertRefused(state, { type: 'vfs.put', vfs: odd({ secrets: { key: 'fsec1:x' } }) }, 'vfs.secrets.key', /not a known field/);
  assertRefused(state, { type: 'vfs.put', vfs: odd({ kind: 's3' }) }, 'vfs.kind', /must be one of disk \(got 's3'\)/);
  // A kind a newer version added must still replay here: the login refuses it instead.
  assert.deepEqual(check(VFS_SHAPE, odd({ kind: 's3', options: { bucket: 'b' } }), 'vfs', 'structure'), []);
  assert.equal(check(VFS_SHAPE, odd({ kind: 7 }), 'vfs', 'structure')[0]?.path, 'vfs.kind');
});

test('deleting a VFS still used by users is refused and names the users', () => {
  const errors = errorsOf(populated(), { type: 'vfs.delete', vfsId: 'shared' });
  assert.equal(errors.length, 1);
  assert.match(errors[0]!.message, /still used by default\/alice/);
  assertRefused(populated(), { type: 'vfs.delete', vfsId: 'nope' }, 'vfsId', /no VFS/);
});

test('deleting a site that still has users is refused', () => {
  assertRefused(populated(), { type: 'site.delete', siteId: 'default' }, 'siteId', /still has users \(default\/alice\)/);
});

test('site bindings need a valid host and a port no other site holds', () => {
  const state = populated();
  const badHost = site({ bindings: [{ protocol: 'ssh', host: 'bad host!', port: 22 }] });
  assertRefused(state, { type: 'site.put', site: badHost }, 'site.bindings[0].host', /not an IP address or host name/);
  const badPort = site({ bindings: [{ protocol: 'ssh', host: '::', port: 70000 }] });
  assertRefused(state, { type: 'site.put', site: badPort }, 'site.bindings[0].port', /between 0 and 65535/);
  const clash = site({ id: 'second', bindings: [{ protocol: 'ssh', host: '0.0.0.0', port: 2222 }] });
  assertRefused(state, { type: 'site.put', site: clash }, 'site.bindings[0].port', /already bound by site 'default'/);
});

test('a host private key in clear is refused', () => {
  const clear = site({ hostKeys: [{ algorithm: 'ssh-ed25519', publicKey: 'x', privateKeyEncrypted: '-----BEGIN OPENSSH PRIVATE KEY-----' }] });
  assertRefused(populated(), { type: 'site.put', site: clear }, 'site.hostKeys[0].privateKeyEncrypted', /sealed/);
});

test('unknown fields and wrong types are refused by path', () => {
  const state = populated();
  const extra = { ...user(), isAdmin: true };
  assertRefused(state, { type: 'user.put', user: extra }, 'user.isAdmin', /not a known field/);
  assertRefused(state, { type: 'user.put', user: { ...user(), enabled: 'yes' as never } }, 'user.enabled', /true or false/);
  const errors = [...validate(state, { type: 'nope' } as never, NODE)];
  assert.equal(errors[0]!.path, 'type');
});

test('deleting a user that does not exist is refused', () => {
  assertRefused(populated(), { type: 'user.delete', siteId: 'default', username: 'bob' }, 'username', /no user 'bob'/);
});

test('an import refuses existing users, duplicates and VFS ids that exist', () => {
  const state = populated();
  const body: CommandBody = {
    type: 'users.import',
    siteId: 'default',
    users: [user({ virtualFolders: [] }), user({ username: 'bob', homeVfsId: 'newvfs' }), user({ username: 'bob' })],
    vfs: [vfs({ id: 'newvfs', target: '/home/bob' }), vfs({ id: 'home' })],
  };
  const errors = errorsOf(state, body);
  assert.ok(errors.some((e) => e.path === 'users[0].username' && /already exists/.test(e.message)));
  assert.ok(errors.some((e) => e.path === 'users[2].username' && /twice/.test(e.message)));
  assert.ok(errors.some((e) => e.path === 'vfs[1].id' && /already exists/.test(e.message)));
  assert.ok(!errors.some((e) => e.path === 'users[1].homeVfsId'), 'a VFS created by the same import counts as existing');
});

test('a greeting must be one line and every algorithm list must name at least one algorithm', () => {
  const state = populated();
  assertRefused(state, { type: 'site.put', site: site({ greeting: 'hello\r\nSSH-2.0-evil' }) }, 'site.greeting', /one line/);
  const policy = { ...site().sshAlgorithms, cipher: [] };
  assertRefused(state, { type: 'site.put', site: site({ sshAlgorithms: policy }) }, 'site.sshAlgorithms.cipher', /at least one/);
  const bad = { ...site().sshAlgorithms, kex: ['curve25519-sha256; rm -rf'] };
  assertRefused(state, { type: 'site.put', site: site({ sshAlgorithms: bad }) }, 'site.sshAlgorithms.kex[0]', /ssh -Q/);
  const twice = site({ bindings: [{ protocol: 'ssh', host: '127.0.0.1', port: 2222 }, { protocol: 'ssh', host: '127.0.0.1', port: 2222 }] });
  assertRefused(state, { type: 'site.put', site: twice }, 'site.bindings[1]', /duplicates/);
});

test('usernames are unique per site, not across sites', () => {
  const state = applyAll([command({ type: 'site.put', site: site({ id: 'second', bindings: [{ protocol: 'ssh', host: '127.0.0.1', port: 2300 }] }) })], populated());
  assert.deepEqual(errorsOf(state, { type: 'user.put', user: user({ siteId: 'second' }) }), []);
  const body: CommandBody = { type: 'users.import', siteId: 'second', users: [user({ siteId: 'second' })], vfs: [] };
  assert.deepEqual(errorsOf(state, body), []);
  const dup: CommandBody = { type: 'users.import', siteId: 'default', users: [user()], vfs: [] };
  assertRefused(state, dup, 'users[0].username', /already exists in site 'default'/);
});

test('an import whose users belong to another site is refused', () => {
  const body: CommandBody = { type: 'users.import', siteId: 'default', users: [user({ username: 'bob', siteId: 'elsewhere' })], vfs: [] };
  assertRefused(populated(), body, 'users[0].siteId', /must be 'default'/);
});

test('settings updates accept only known settings', () => {
  assert.deepEqual(errorsOf(populated(), { type: 'settings.update', settings: { serverName: 'Harbour' } }), []);
  assertRefused(populated(), { type: 'settings.update', settings: { debug: true } as never }, 'settings.debug', /not a known field/);
  assertRefused(populated(), { type: 'settings.update', settings: { serverName: '' } }, 'settings.serverName', /must not be empty/);
});

test('the command envelope is checked: id, timestamp and actor', () => {
  const bad = { ...command({ type: 'site.delete', siteId: 'default' }), id: 'has space', at: -1, actor: '' };
  const errors = [...validate(populated(), bad, NODE)];
  assert.deepEqual(errors.map((e) => e.path).sort(), ['actor', 'at', 'id']);
});

test('ids that name Object.prototype members are not mistaken for existing entities', () => {
  const state = populated();
  assertRefused(state, { type: 'user.put', user: user({ siteId: 'constructor' }) }, 'user.siteId', /no site 'constructor'/);
  assertRefused(state, { type: 'user.put', user: user({ homeVfsId: 'toString' }) }, 'user.homeVfsId', /no VFS 'toString'/);
  assertRefused(state, { type: 'vfs.delete', vfsId: 'valueOf' }, 'vfsId', /no VFS/);
  assertRefused(state, { type: 'site.delete', siteId: 'hasOwnProperty' }, 'siteId', /no site/);
  const ok = applyAll([command({ type: 'vfs.put', vfs: vfs({ id: 'constructor' }) })], state);
  assert.deepEqual(errorsOf(ok, { type: 'user.put', user: user({ homeVfsId: 'constructor' }) }), []);
});

test('a site may bound connections not yet logged in, within sane ranges and with early drop starting no later than full', () => {
  const state = populated();
  const admission = { maxStartupsPerSource: 4, maxStartups: { start: 5, rate: 50, full: 20 }, identificationGraceMs: 5_000, loginGraceMs: 30_000, refusalLogIntervalMs: 10_000 };
  assert.deepEqual(errorsOf(state, { type: 'site.put', site: site({ admission }) }), []);
  assert.deepEqual(errorsOf(state, { type: 'site.put', site: site({ admission: { loginGraceMs: 20_000 } }) }), [], 'every field is optional');
  assertRefused(state, { type: 'site.put', site: site({ admission: { maxStartups: { start: 30, rate: 30, full: 10 } } }) }, 'site.admission.maxStartups', /start \(30\) must not exceed full \(10\)/);
  assertRefused(state, { type: 'site.put', site: site({ admission: { maxStartups: { start: 10, rate: 101, full: 100 } } }) }, 'site.admission.maxStartups.rate', /between 0 and 100/);
  assertRefused(state, { type: 'site.put', site: site({ admission: { maxStartupsPerSource: 0 } }) }, 'site.admission.maxStartupsPerSource', /between 1 and/);
  assertRefused(state, { type: 'site.put', site: site({ admission: { identificationGraceMs: 10 } }) }, 'site.admission.identificationGraceMs', /between 100 and/);
  assertRefused(state, { type: 'site.put', site: site({ admission: { loginGrace: 5 } as never }) }, 'site.admission.loginGrace', /not a known field/);
});

test('login steps are methods the user has, each listed once', () => {
  const state = populated();
  assert.deepEqual(errorsOf(state, { type: 'user.put', user: user({ username: 'bob', authMethods: ['password', 'publickey'], authSteps: ['publickey', 'password'] }) }), []);
  assertRefused(state, { type: 'user.put', user: user({ username: 'bob', authMethods: ['password'], authSteps: ['publickey', 'password'] }) }, 'user.authSteps[0]', /not one of authMethods/);
  assertRefused(state, { type: 'user.put', user: user({ username: 'bob', authMethods: ['password'], authSteps: ['password', 'password'] }) }, 'user.authSteps[1]', /listed twice/);
});

test('FTP bindings carry their TLS and passive settings, and each field is checked with a reason', () => {
  const state = populated();
  const good = site({
    bindings: [
      { protocol: 'ssh', host: '0.0.0.0', port: 2222 },
      { protocol: 'ftp', host: '0.0.0.0', port: 2121, explicitTls: 'required', passivePorts: { min: 50000, max: 50100 }, passiveAddress: '203.0.113.7' },
      { protocol: 'ftps', host: '0.0.0.0', port: 990, requireSessionReuse: false, certificate: { certificatePem: '-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n', privateKeyEncrypted: SEALED } },
    ],
  });
  assert.deepEqual(errorsOf(state, { type: 'site.put', site: good }), []);
  const ftp = (extra: Record<string, unknown>) => site({ bindings: [{ protocol: 'ftp', host: '0.0.0.0', port: 2121, ...extra } as never] });
  assertRefused(state, { type: 'site.put', site: ftp({ passivePorts: { min: 50100, max: 50000 } }) }, 'site.bindings[0].passivePorts', /must not exceed max/);
  assertRefused(state, { type: 'site.put', site: ftp({ passivePorts: { min: 20, max: 50000 } }) }, 'site.bindings[0].passivePorts.min', /between 1024 and 65535/);
  assertRefused(state, { type: 'site.put', site: ftp({ passiveAddress: '::1' }) }, 'site.bindings[0].passiveAddress', /IPv4/);
  assertRefused(state, { type: 'site.put', site: ftp({ explicitTls: 'never' }) }, 'site.bindings[0].explicitTls', /must be one of required, optional/);
  assertRefused(state, { type: 'site.put', site: ftp({ certificate: { certificatePem: 'x', privateKeyEncrypted: 'clear key' } }) }, 'site.bindings[0].certificate.privateKeyEncrypted', /must be sealed/);
  // An SSH binding takes none of FTP's fields.
  assertRefused(state, { type: 'site.put', site: site({ bindings: [{ protocol: 'ssh', host: '0.0.0.0', port: 22, passiveAddress: '1.2.3.4' } as never] }) }, 'site.bindings[0].passiveAddress', /not a known field/);
  const ftpsTls = site({ bindings: [{ protocol: 'ftps', host: '0.0.0.0', port: 990, explicitTls: 'optional' }] });
  assertRefused(state, { type: 'site.put', site: ftpsTls }, 'site.bindings[0].explicitTls', /applies to protocol ftp only/);
  const samePort = site({ bindings: [{ protocol: 'ssh', host: '0.0.0.0', port: 2222 }, { protocol: 'ftp', host: '0.0.0.0', port: 2222 }] });
  assertRefused(state, { type: 'site.put', site: samePort }, 'site.bindings', /same address and port/);
});
