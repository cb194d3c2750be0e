// docs/errors.md and the error kinds in code stay in step: every kind has an entry with its code,
// every entry names a kind that exists, and codes are unique (fastify's errors.test.js idea).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { ERROR_CODES, ERROR_KINDS, FerryError } from '../../../src/vfs/errors.ts';

const DOC = new URL('../../../docs/errors.md', import.meta.url);

async function documented(): Promise<Map<string, { code: string; body: string }>> {
  const text = await readFile(DOC, 'utf8');
  const entries = new Map<string, { code: string; body: string }>();
  for (const section of text.split(/^(?=## )/m).slice(1)) {
    const heading = /^## (FERRY-E\d{3}) `([a-z-]+)`\n/.exec(section);
    assert.ok(heading, `a docs/errors.md heading reads "## FERRY-Ennn \`kind\`": ${section.split('\n')[0]}`);
    assert.ok(!entries.has(heading[2]!), `${heading[2]} is documented twice`);
    entries.set(heading[2]!, { code: heading[1]!, body: section });
  }
  return entries;
}

test('every error kind has an entry in docs/errors.md with its code, a meaning and how to solve it', async () => {
  const entries = await documented();
  for (const kind of ERROR_KINDS) {
    const entry = entries.get(kind);
    assert.ok(entry, `${kind} (${ERROR_CODES[kind]}) has no entry in docs/errors.md`);
    assert.equal(entry.code, ERROR_CODES[kind], `${kind}: the document and src/vfs/errors.ts disagree on the code`);
    assert.match(entry.body, /\*\*Meaning:\*\* \S/, `${kind} says what it means`);
    assert.match(entry.body, /\*\*How to solve:\*\* \S/, `${kind} says how to solve it`);
  }
});

test('every entry in docs/errors.md names a kind the code has', async () => {
  for (const [kind, { code }] of await documented()) assert.ok(kind in ERROR_CODES, `docs/errors.md documents ${code} \`${kind}\`, which src/vfs/errors.ts does not have`);
});

test('codes are unique and a FerryError carries the code of its kind', () => {
  const codes = Object.values(ERROR_CODES);
  assert.equal(new Set(codes).size, codes.length, 'two kinds share a code');
  assert.equal(new FerryError('unavailable', 'x').code, 'FERRY-E304');
});
