import assert from 'node:assert/strict';
import { test } from 'node:test';
import { envelope, newId } from '../../../src/config/ids.ts';
import { ID_PATTERN } from '../../../src/config/shapes.ts';

test('new ids are 20 base62 characters, valid as entity ids, and do not repeat', () => {
  const ids = new Set<string>();
  for (let i = 0; i < 10_000; i++) {
    const id = newId();
    assert.match(id, /^[0-9A-Za-z]{20}$/);
    ids.add(id);
  }
  assert.equal(ids.size, 10_000);
  assert.match(newId(), ID_PATTERN);
});

test('every base62 character appears in generated ids', () => {
  const seen = new Set(Array.from({ length: 500 }, newId).join(''));
  assert.equal(seen.size, 62);
});

test('an envelope carries a fresh id, the current time and the actor', () => {
  const before = Date.now();
  const env = envelope('cli');
  assert.equal(env.actor, 'cli');
  assert.ok(env.at >= before && env.at <= Date.now());
  assert.notEqual(envelope('cli').id, env.id);
});
