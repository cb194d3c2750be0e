import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LocalDriver } from '../../../src/vfs/drivers/local.ts';
import { MountTable, virtualPathOf } from '../../../src/vfs/mounts.ts';

// Drivers do no I/O until used; the table never uses them.
const driver = (name: string) => new LocalDriver(`/nonexistent/${name}`);
const home = driver('home');
const shared = driver('shared');
const inner = driver('inner');

function table() {
  return MountTable.build(
    {
      path: '/',
      vfsId: 'home',
      driver: home,
      permissions: ['dirList', 'fileGet', 'filePut'],
      overrides: [
        { path: '/a', permissions: ['dirList'] },
        { path: '/a/b', permissions: ['fileGet'] },
      ],
    },
    [
      { path: '/shared', vfsId: 'shared', driver: shared, permissions: ['fileGet'] },
      { path: '/x/y/inner', vfsId: 'inner', driver: inner, permissions: ['filePut'] },
    ],
  );
}

const perms = (set: ReadonlySet<string>) => [...set].sort();

describe('MountTable', () => {
  it('routes a path to the longest matching mount and strips its prefix', () => {
    const t = table();
    assert.equal(t.resolve('/shared/doc').mount.driver, shared);
    assert.equal(t.resolve('/shared/doc').driverPath, '/doc');
    assert.equal(t.resolve('/shared').driverPath, '/');
    assert.equal(t.resolve('/shared').isMountPoint, true);
    assert.equal(t.resolve('/sharedx').mount.driver, home, 'segment boundaries, not string prefixes');
    assert.equal(t.resolve('/x/y/inner/f').driverPath, '/f');
    assert.equal(t.resolve('/x/y').isMountParent, true);
    assert.equal(t.resolve('/x').isMountParent, true);
    assert.equal(t.resolve('/').isMountParent, false);
  });

  it('applies the longest matching override, inherited below it, only in the home mount', () => {
    const t = table();
    assert.deepEqual(perms(t.resolve('/').permissions), ['dirList', 'fileGet', 'filePut']);
    assert.deepEqual(perms(t.resolve('/a').permissions), ['dirList']);
    assert.deepEqual(perms(t.resolve('/a/c/d').permissions), ['dirList']);
    assert.deepEqual(perms(t.resolve('/a/b').permissions), ['fileGet']);
    assert.deepEqual(perms(t.resolve('/a/b/deep/er').permissions), ['fileGet']);
    assert.deepEqual(perms(t.resolve('/ab').permissions), ['dirList', 'fileGet', 'filePut']);
    assert.deepEqual(perms(t.resolve('/shared/a').permissions), ['fileGet'], 'a folder\'s own set, not the home override');
  });

  it('lists mount points and mount parents as children', () => {
    const t = table();
    assert.deepEqual(t.childMounts('/').map((c) => c.name), ['shared', 'x']);
    assert.deepEqual(t.childMounts('/x').map((c) => [c.name, c.mount]), [['y', undefined]]);
    assert.deepEqual(t.childMounts('/x/y').map((c) => c.name), ['inner']);
    assert.deepEqual(t.childMounts('/shared'), []);
  });

  it('knows which directories carry rules below them', () => {
    const t = table();
    assert.equal(t.hasRulesBelow('/'), true);
    assert.equal(t.hasRulesBelow('/a'), true);
    assert.equal(t.hasRulesBelow('/a/b'), false);
    assert.equal(t.hasRulesBelow('/x'), true);
    assert.equal(t.hasRulesBelow('/other'), false);
  });

  it('refuses permissions for home storage hidden under a mount', () => {
    const t = table();
    const homeMount = t.resolve('/').mount;
    assert.throws(() => t.permissionsAt(homeMount, '/shared/f'), { kind: 'permission-denied' });
    assert.deepEqual(perms(t.permissionsAt(homeMount, '/a/b/f')), ['fileGet']);
    assert.equal(homeMount.needsRealpath, true);
    assert.equal(t.resolve('/shared').mount.needsRealpath, false);
    assert.equal(virtualPathOf(t.resolve('/shared').mount, '/f'), '/shared/f');
  });

  it('refuses a misconfigured table', () => {
    const base = { path: '/', vfsId: 'home', driver: home, permissions: [], overrides: [] };
    const folder = (path: string) => ({ path, vfsId: 'f', driver: shared, permissions: [] });
    assert.throws(() => MountTable.build(base, [folder('/')]), { kind: 'misconfigured' });
    assert.throws(() => MountTable.build(base, [folder('relative')]), { kind: 'misconfigured' });
    assert.throws(() => MountTable.build(base, [folder('/a/../b')]), { kind: 'misconfigured' });
    assert.throws(() => MountTable.build(base, [folder('/a'), folder('/a')]), { kind: 'misconfigured' });
    assert.throws(() => MountTable.build({ ...base, overrides: [{ path: 'in', permissions: [] }] }, []), { kind: 'misconfigured' });
  });
});
