import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ConfigState } from '../../../src/config/state.ts';
import { createView } from '../../../src/config/view.ts';
import { applyAll, command, populated, site, user } from './fixtures.ts';

test('a view lists sites and users sorted, whatever order they were added in', () => {
  const state = applyAll(
    [
      command({ type: 'user.put', user: user({ username: 'zoe' }) }),
      command({ type: 'site.put', site: site({ id: 'aaa', bindings: [] }) }),
      command({ type: 'user.put', user: user({ username: 'bob' }) }),
    ],
    populated(),
  );
  const view = createView(state);
  assert.deepEqual(view.sites().map((s) => s.id), ['aaa', 'default']);
  assert.deepEqual(view.users('default').map((u) => u.username), ['alice', 'bob', 'zoe']);
  assert.deepEqual(view.users('aaa'), []);
});

test('a view of a mutable state is a frozen copy that later changes do not reach', () => {
  const state = structuredClone(populated()) as { -readonly [K in keyof ConfigState]: ConfigState[K] };
  const view = createView(state);
  (state.users['default/alice'] as { description: string }).description = 'changed';
  assert.equal(view.user('default', 'alice')?.description, 'Alice');
  assert.throws(() => {
    (view.user('default', 'alice')!.permissions as string[]).push('fileDelete');
  }, TypeError);
});

test('a view of a frozen state shares it and freezes its parts', () => {
  const state = Object.freeze({ ...populated() });
  const view = createView(state);
  assert.equal(view.site('default'), state.sites['default']);
  assert.ok(Object.isFrozen(state.users['default/alice']!.virtualFolders[0]));
});

test('lookups find only configured entities, never object prototype members', () => {
  const view = createView(populated());
  for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
    assert.equal(view.site(name), undefined);
    assert.equal(view.vfs(name), undefined);
    assert.equal(view.user(name, name), undefined);
  }
});
