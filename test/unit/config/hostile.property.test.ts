// Commands arrive from other processes and other nodes: whatever the bytes, decoding either
// yields a command or a ConfigDecodeError, and validate/apply answer without throwing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { apply } from '../../../src/config/apply.ts';
import { ConfigDecodeError, decodeCommand, decodeSnapshot, encodeSnapshot } from '../../../src/config/codec.ts';
import type { Command } from '../../../src/config/commands.ts';
import { preconditions, validate } from '../../../src/config/validate.ts';
import { command, NODE, populated, site, user, vfs } from './fixtures.ts';

const valid: Command[] = [
  command({ type: 'user.put', user: user({ username: 'bob' }) }),
  command({ type: 'site.put', site: site({ id: 'x', bindings: [] }) }),
  command({ type: 'users.import', siteId: 'default', users: [user({ username: 'zed' })], vfs: [vfs({ id: 'nv' })] }),
];

/** Replaces the value at a random path of `base` with `replacement`. */
function mutate(base: unknown, path: readonly number[], replacement: unknown): unknown {
  if (path.length === 0 || base === null || typeof base !== 'object') return replacement;
  const keys = Object.keys(base);
  if (keys.length === 0) return replacement;
  const key = keys[(path[0] as number) % keys.length] as string;
  const copy: Record<string, unknown> = Array.isArray(base) ? ([...base] as unknown as Record<string, unknown>) : { ...base };
  copy[key] = mutate((base as Record<string, unknown>)[key], path.slice(1), replacement);
  return copy;
}

const hostileArb = fc.oneof(
  fc.jsonValue(),
  fc.record({ base: fc.constantFrom(...valid), path: fc.array(fc.nat(20), { maxLength: 5 }), replacement: fc.jsonValue({ maxDepth: 2 }) }).map(({ base, path, replacement }) => mutate(base, path, replacement)),
);

test('decoding arbitrary JSON yields a command or a ConfigDecodeError, and validate and apply never throw', () => {
  const state = populated();
  fc.assert(
    fc.property(hostileArb, (value) => {
      const bytes = new TextEncoder().encode(JSON.stringify(value) ?? 'null');
      let decoded: Command;
      try {
        decoded = decodeCommand(bytes);
      } catch (error) {
        assert.ok(error instanceof ConfigDecodeError, String(error));
        assert.ok(error.errors.length > 0);
        return;
      }
      const errors = validate(state, decoded, NODE);
      const outcome = apply(state, { index: state.appliedIndex + 1, term: 1, command: decoded });
      // apply checks a subset of what validate checks: what validate passes, apply applies;
      // what apply applies, no reference of it is broken.
      if (errors.length === 0) assert.equal(outcome.result.ok, true);
      if (outcome.result.ok) assert.deepEqual(preconditions(state, decoded), []);
      assert.deepEqual(decodeSnapshot(encodeSnapshot(outcome.state)), outcome.state);
    }),
    { numRuns: 2000 },
  );
});

test('validate answers with errors rather than throwing for values that are not commands at all', () => {
  const state = populated();
  fc.assert(
    fc.property(fc.anything(), (value) => {
      const errors = validate(state, value as Command, NODE);
      assert.ok(Array.isArray(errors));
    }),
    { numRuns: 1000 },
  );
});

test('random bytes never decode into a command or crash the decoder', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
      assert.throws(() => decodeCommand(bytes), ConfigDecodeError);
    }),
    { numRuns: 1000 },
  );
});
