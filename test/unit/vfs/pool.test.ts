import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { describe, it } from 'node:test';
import type { VfsProfile } from '../../../src/config/model/vfs-profile.ts';
import { vfsSecretContext } from '../../../src/config/model/vfs-profile.ts';
import { createSecretBox } from '../../../src/config/secrets.ts';
import { createBackend } from '../../../src/vfs/drivers/index.ts';
import type { BackendContext, BackendFactory } from '../../../src/vfs/drivers/index.ts';
import { DriverPool } from '../../../src/vfs/pool.ts';
import { createSessionFixture } from '../../helpers/session-fixture.ts';

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ferry-pool-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** The real factory, counting the back ends it makes and those closed. */
function counting(): { factory: BackendFactory; made: string[]; closed: string[] } {
  const made: string[] = [];
  const closed: string[] = [];
  const factory: BackendFactory = (context) => {
    const backend = createBackend(context);
    made.push(context.profile.id);
    return { attach: (root, options) => backend.attach(root, options), close: async () => void closed.push(context.profile.id) };
  };
  return { factory, made, closed };
}

const disk = (target: string, name = 'homes'): VfsProfile => ({ id: 'homes', name, kind: 'disk', target });

describe('VFS driver pool', () => {
  it('gives every session of a profile the same back end, each driver rooted at its own target', async (t) => {
    const dir = await tempDir(t);
    const { factory, made } = counting();
    const pool = new DriverPool({ factory });
    const profile = disk(path.join(dir, '{{username}}'));
    const alice = await pool.attach(profile, path.join(dir, 'alice'));
    const bob = await pool.attach(profile, path.join(dir, 'bob'));
    assert.deepEqual(made, ['homes'], 'one back end for the profile');
    const stream = await alice.openWrite('/only-alice');
    stream.end('a');
    await finished(stream);
    assert.deepEqual(await readdir(path.join(dir, 'alice')), ['only-alice']);
    await assert.rejects(bob.stat('/only-alice'), { kind: 'not-found' });
    await Promise.all([alice.close(), bob.close()]);
    assert.equal(pool.size, 1, 'an idle back end stays for the next login');
    await pool.close();
    assert.equal(pool.size, 0);
  });

  it('gives a changed profile a new back end and closes the old one when its last session ends', async (t) => {
    const dir = await tempDir(t);
    const { factory, made, closed } = counting();
    const pool = new DriverPool({ factory });
    const before = await pool.attach(disk(path.join(dir, 'a')), path.join(dir, 'a'));
    const after = await pool.attach(disk(path.join(dir, 'b'), 'renamed'), path.join(dir, 'b'));
    assert.deepEqual(made, ['homes', 'homes']);
    assert.deepEqual(closed, [], 'the old back end still serves its session');
    await before.close();
    await before.close();
    assert.deepEqual(closed, ['homes'], 'closed once, when its last session ended');
    await after.close();
    assert.equal(pool.size, 1);
    await pool.close();
  });

  it('releases the back end of a login whose root is refused', async (t) => {
    const dir = await tempDir(t);
    const { factory, closed } = counting();
    const pool = new DriverPool({ factory });
    await assert.rejects(pool.attach(disk(dir), dir, { refuseRoot: () => 'is the data directory' }), { kind: 'permission-denied' });
    const next = await pool.attach(disk(path.join(dir, 'x'), 'changed'), path.join(dir, 'x'));
    assert.deepEqual(closed, ['homes'], 'the replaced back end had no session left: the refused login released it');
    await next.close();
    await pool.close();
  });

  it('opens a profile secret for the factory bound to its profile and field, and calls a missing or moved one misconfigured', async () => {
    const box = createSecretBox(randomBytes(32));
    const sealed = box.seal('hunter2', vfsSecretContext('cloud', 'secretAccessKey'));
    const seen: string[] = [];
    const factory: BackendFactory = (context) => {
      const ctx = context as unknown as BackendContext & { secret(field: string): string };
      seen.push(ctx.secret('secretAccessKey'));
      return createBackend(context);
    };
    const pool = new DriverPool({ factory, openSecret: (value, context) => box.openString(value, context) });
    const withSecret = (id: string, secrets: Record<string, string>) => ({ id, name: id, kind: 'disk', target: '/x', secrets }) as unknown as VfsProfile;
    await assert.rejects(pool.attach(withSecret('cloud', { secretAccessKey: sealed }), '/'), { kind: 'misconfigured' }, '"/" is no disk root');
    assert.deepEqual(seen, ['hunter2']);
    await assert.rejects(pool.attach(withSecret('other', { secretAccessKey: sealed }), '/tmp'), (error: { kind?: string; detail?: string }) => {
      assert.equal(error.kind, 'misconfigured');
      assert.match(error.detail ?? '', /secret secretAccessKey does not open/);
      return true;
    });
    await assert.rejects(pool.attach(withSecret('empty', {}), '/tmp'), { kind: 'misconfigured', message: /credentials/ });
    await pool.close();
  });

  it('serves every login of a Session fixture from one back end', async (t) => {
    const { factory, made } = counting();
    const fx = await createSessionFixture({ drivers: new DriverPool({ factory }), virtualFolders: [{ path: '/shared', permissions: ['dirList'] }] });
    t.after(fx.cleanup);
    await fx.openAnother();
    await fx.openAnother('ssh2_scp');
    assert.deepEqual(made.sort(), ['folder-0', 'home'], 'one back end per profile, not per login');
  });
});
