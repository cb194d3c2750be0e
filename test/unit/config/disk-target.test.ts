// Where a disk VFS may point: never the node's data directory (except its files area), never a
// system directory, whatever value a parametric target's variables take.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { diskRootRefusal, diskTargetPlacementProblem } from '../../../src/config/disk-target.ts';
import { diskTargetProblem } from '../../../src/config/validate.ts';

const node = { dataDir: '/srv/ferry/data' };

function assertRefused(target: string, pattern: RegExp, facts = node): void {
  const why = diskTargetPlacementProblem(target, facts);
  assert.ok(why !== undefined && pattern.test(why), `${target}: expected ${pattern}, got ${why}`);
}

describe('disk VFS targets', () => {
  it('refuse the data directory, everything in it but the files area, and its parents', () => {
    assertRefused('/srv/ferry/data', /^is the node's data directory \/srv\/ferry\/data, which holds its master key/);
    for (const inside of ['/srv/ferry/data/config', '/srv/ferry/data/logs', '/srv/ferry/data/logs/transfers', '/srv/ferry/data/filesx']) {
      assertRefused(inside, /^is inside the node's data directory .* only its files area \/srv\/ferry\/data\/files may hold/);
    }
    assertRefused('/srv/ferry', /^is a parent of the node's data directory/);
    assertRefused('/srv', /^is a parent of the node's data directory/);
  });

  it('allow the files area and anything beside the data directory', () => {
    for (const target of ['/srv/ferry/data/files', '/srv/ferry/data/files/alice', '/srv/ferry/data/files/{{username}}', '/srv/ferry/other', '/srv/ferry/database', '/srv/sftp/{{username}}', '/home/alice', '/var/lib/ferry-files', '/tmp/x/{{username}}', '{{user_home}}', '{{user_home}}/ftp']) {
      assert.equal(diskTargetPlacementProblem(target, node), undefined, target);
    }
  });

  it('judge {{node_files}} as this node\'s files area, on every node', () => {
    assert.equal(diskTargetPlacementProblem('{{node_files}}/{{username}}', node), undefined);
    assert.equal(diskTargetPlacementProblem('{{node_files}}/{{username}}', { dataDir: '/var/lib/other-node' }), undefined);
    assert.equal(diskTargetProblem('{{node_files}}/{{username}}', node), undefined);
    assert.match(diskTargetProblem('{{node_files}}/../config', node) ?? '', /normalized/);
    assert.match(diskTargetProblem('/srv/{{node_files}}/x', node) ?? '', /only at its start/);
  });

  it('read {{node_files}} in the forms the login expands, and only those', () => {
    for (const target of ['{{ node_files }}/{{username}}', '[%NODE_FILES%]/{{username}}', '{{node_files}}']) {
      assert.equal(diskTargetProblem(target, node), undefined, target);
    }
    // The login refuses {{NODE_FILES}} as an unknown variable, so validation must not pass it.
    assert.match(diskTargetProblem('{{NODE_FILES}}/{{username}}', node) ?? '', /absolute/);
  });

  it('refuse a parametric target when some value of a variable would reach a refused place', () => {
    assertRefused('/srv/ferry/data/{{username}}', /^could lie inside \(for some value of its variables\) the node's data directory/);
    assertRefused('/srv/ferry/{{username}}', /^could be \(for some value of its variables\) the node's data directory \/srv\/ferry\/data,/);
    assertRefused('/srv/{{username}}', /^could be a parent of \(for some value of its variables\) the node's data directory/);
    assertRefused('/srv/ferry/data/files{{today}}', /could lie inside .* the node's data directory/);
    assertRefused('/srv/ferry/data/{{user_home}}', /could lie inside .* the node's data directory/);
    assertRefused('/{{username}}', /could be a parent of .* the node's data directory/);
    assertRefused('/e{{username}}', /could lie inside .* the system directory \/etc/);
    assertRefused('/var/li[%USERNAME%]', /could be .* the system directory \/var\/lib itself/);
    assertRefused('/l{{username}}', /could lie inside .* the system directory \/lib/);
    // A fixed part a variable cannot match keeps the target clear of the data directory.
    assert.equal(diskTargetPlacementProblem('/srv/home-{{username}}', node), undefined);
    assert.equal(diskTargetPlacementProblem('/srv/{{username}}/files/in', node), undefined, 'inside the data directory only through its files area');
  });

  it('refuse system directories with everything below them, and the parents of many services as themselves', () => {
    for (const dir of ['/etc', '/etc/ssh', '/proc', '/proc/self/root', '/sys', '/dev', '/dev/shm', '/boot', '/root', '/root/.ssh', '/usr', '/usr/share/doc', '/bin', '/sbin', '/lib', '/lib64', '/libx32', '/lib/modules', '/run', '/var/run']) {
      assertRefused(dir, /^is inside the system directory \/[a-z0-9/]+: operating-system files must never be served/);
    }
    for (const dir of ['/var', '/var/lib', '/var/log', '/home', '/tmp']) assertRefused(dir, /^is the system directory .* itself/);
    assert.equal(diskTargetPlacementProblem('/var/lib/ferry-files/{{username}}', node), undefined);
  });

  it('judge both spellings of the data directory, and allow its files area even inside a system directory', () => {
    const facts = { dataDir: '/srv/link/data', realDataDir: '/mnt/real/data' };
    assertRefused('/mnt/real/data/config', /inside the node's data directory \/mnt\/real\/data/, facts);
    assertRefused('/srv/link/data', /is the node's data directory \/srv\/link\/data/, facts);
    const rootHome = { dataDir: '/root/ferry' };
    assert.equal(diskTargetPlacementProblem('/root/ferry/files/{{username}}', rootHome), undefined);
    assertRefused('/root/other', /system directory \/root/, rootHome);
  });

  it('take a root about to be served literally, as the kernel resolved it', () => {
    assert.match(diskRootRefusal('/srv/ferry/data', node) ?? '', /^is the node's data directory/);
    assert.match(diskRootRefusal('/srv/ferry/data/', node) ?? '', /^is the node's data directory/);
    assert.match(diskRootRefusal('/', node) ?? '', /file system root/);
    assert.equal(diskRootRefusal('/srv/ferry/data/files/alice', node), undefined);
    assert.equal(diskRootRefusal('/srv/x/{{username}}', node), undefined, 'braces in a real directory name are not variables');
  });
});
