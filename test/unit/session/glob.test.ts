// Wildcard expansion over a Session (session/glob.ts), against a real Session on a temp directory.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { expandGlob } from '../../../src/session/glob.ts';
import { createSessionFixture } from '../../helpers/session-fixture.ts';

describe('wildcard expansion over a session', () => {
  it('expands *, ? and [...] per segment, sorted, hiding dot files, as sh does', async (t) => {
    const fx = await createSessionFixture();
    t.after(fx.cleanup);
    mkdirSync(path.join(fx.homeDir, 'tree/a'), { recursive: true });
    mkdirSync(path.join(fx.homeDir, 'tree/b'));
    for (const f of ['tree/a/f1', 'tree/a/f2', 'tree/a/g', 'tree/a/.f3', 'tree/b/f9', 'tree/a/f*']) writeFileSync(path.join(fx.homeDir, f), f);
    const paths = async (pattern: string) => (await expandGlob(fx.session, pattern)).paths;
    assert.deepEqual(await paths('tree/a/f*'), ['tree/a/f*', 'tree/a/f1', 'tree/a/f2']);
    assert.deepEqual(await paths('/tree/*/f?'), ['/tree/a/f*', '/tree/a/f1', '/tree/a/f2', '/tree/b/f9']);
    assert.deepEqual(await paths('tree/a/[!f]'), ['tree/a/g']);
    assert.deepEqual(await paths('tree/a/f[0-1]'), ['tree/a/f1']);
    assert.deepEqual(await paths('tree/a/.f*'), ['tree/a/.f3']);
    assert.deepEqual(await paths('tree/a/f\\*'), ['tree/a/f*'], 'an escaped star is literal');
    assert.deepEqual(await paths('tree/*/g'), ['tree/a/g'], 'literal segments after a wildcard name only what exists');
    assert.deepEqual(await paths('tree/x*'), []);
    assert.deepEqual(await paths('../../*'), (await paths('/*')).map((p) => `../..${p}`), 'confined: .. above the root stays at the root');
    await assert.rejects(expandGlob(fx.session, 'tree/[[:alpha:]]'), { kind: 'unsupported', message: /character classes/ });
  });

  it('is linear in the name for patterns with many stars', async (t) => {
    const fx = await createSessionFixture();
    t.after(fx.cleanup);
    writeFileSync(path.join(fx.homeDir, 'a'.repeat(200)), '');
    const started = Date.now();
    assert.deepEqual((await expandGlob(fx.session, `${'*a'.repeat(60)}b`)).paths, []);
    assert.ok(Date.now() - started < 1000);
  });

  it('keeps the reason when a directory on the way may not be listed', async (t) => {
    const fx = await createSessionFixture({ permissions: ['fileGet'] });
    t.after(fx.cleanup);
    writeFileSync(path.join(fx.homeDir, 'f1'), '');
    const result = await expandGlob(fx.session, 'f*');
    assert.deepEqual(result.paths, []);
    assert.equal(result.error?.kind, 'permission-denied');
  });
});
