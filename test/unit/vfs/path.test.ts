import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  MAX_DEPTH,
  MAX_NAME_BYTES,
  MAX_PATH_BYTES,
  assertDriverPath,
  decodeClientPath,
  isCanonicalPath,
  isWithin,
  normalizeVirtualPath,
  parentOf,
  relativeTo,
} from '../../../src/vfs/path.ts';

const invalidPath = (error: { kind?: string }) => error.kind === 'invalid-path';
const notAllowed = (error: { kind?: string }) => error.kind === 'name-not-allowed';

describe('normalizeVirtualPath', () => {
  it('turns client paths into canonical absolute paths', () => {
    const cases: Array<[string, string]> = [
      ['', '/'],
      ['.', '/'],
      ['/', '/'],
      ['a/b', '/a/b'],
      ['/a//b/./c/', '/a/b/c'],
      ['/a/b/../c', '/a/c'],
      ['../../..', '/'],
      ['/../../etc/passwd', '/etc/passwd'],
      ['a/../../b', '/b'],
      ['%2e%2e/x', '/%2e%2e/x'],
      ['...', '/...'],
      ['. .', '/. .'],
      ['ünï cødé/日本', '/ünï cødé/日本'],
    ];
    for (const [input, expected] of cases) assert.equal(normalizeVirtualPath(input), expected, input);
  });

  it('resolves relative paths against a working directory', () => {
    assert.equal(normalizeVirtualPath('x', '/home/dir'), '/home/dir/x');
    assert.equal(normalizeVirtualPath('../../../x', '/home/dir'), '/x');
    assert.equal(normalizeVirtualPath('/abs', '/home/dir'), '/abs');
  });

  it('refuses NUL, backslash, control characters and broken Unicode instead of cleaning them, saying the name is not allowed', () => {
    for (const bad of ['a\0b', 'a\\..\\b', '..\\..\\etc', 'a\nb', 'a\rb', 'a\x7fb', 'a\u0085b', 'a\x1bb', 'a\ud800b', '\udc00']) {
      assert.throws(() => normalizeVirtualPath(bad), notAllowed, JSON.stringify(bad));
    }
    assert.throws(() => normalizeVirtualPath('/up/a\tb'), { message: 'file name not allowed: contains a control character' });
    assert.throws(() => normalizeVirtualPath('/up/a\nb'), { message: 'file name not allowed: contains a control character' });
    assert.throws(() => normalizeVirtualPath('/a\\b'), { message: 'file name not allowed: contains a backslash' });
    assert.throws(() => normalizeVirtualPath('/a\ud800'), { message: 'file name not allowed: not valid Unicode' });
  });

  it('bounds the length of names and paths and the depth', () => {
    assert.equal(normalizeVirtualPath('/' + 'n'.repeat(MAX_NAME_BYTES)).length, MAX_NAME_BYTES + 1);
    assert.throws(() => normalizeVirtualPath('/' + 'n'.repeat(MAX_NAME_BYTES + 1)), invalidPath);
    assert.throws(() => normalizeVirtualPath('/' + 'é'.repeat(128)), invalidPath, 'bytes, not characters');
    assert.throws(() => normalizeVirtualPath('/a'.repeat(MAX_DEPTH + 1)), invalidPath);
    assert.equal(normalizeVirtualPath('/a'.repeat(MAX_DEPTH)), '/a'.repeat(MAX_DEPTH));
    assert.throws(() => normalizeVirtualPath('/'.repeat(MAX_PATH_BYTES + 1)), invalidPath);
    assert.equal(normalizeVirtualPath('/a/..'.repeat(500)), '/');
  });

  it('never produces a path with dot segments, whatever the input', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('a', 'b', '.', '..', '', '%2e', '...'), { maxLength: 30 }), (parts) => {
        const result = normalizeVirtualPath(parts.join('/'));
        assert.ok(isCanonicalPath(result), result);
        assert.ok(!result.split('/').includes('..'));
      }),
    );
  });

  it('is idempotent on its own output', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (input) => {
        let once: string;
        try {
          once = normalizeVirtualPath(input);
        } catch {
          return;
        }
        assert.equal(normalizeVirtualPath(once), once);
      }),
    );
  });
});

describe('decodeClientPath', () => {
  it('decodes UTF-8 and refuses invalid byte sequences', () => {
    assert.equal(decodeClientPath(Buffer.from('/ü/x', 'utf8')), '/ü/x');
    assert.throws(() => decodeClientPath(Buffer.from([0x2f, 0xff, 0x2f])), notAllowed);
    assert.throws(() => decodeClientPath(Buffer.from([0x2f, 0xc0, 0xae, 0xc0, 0xae])), notAllowed, 'overlong encoding of ".."');
  });
});

describe('driver path helpers', () => {
  it('accept only canonical paths', () => {
    for (const good of ['/', '/a', '/a/b c']) assertDriverPath(good);
    for (const bad of ['', 'a', '/a/', '//a', '/a/./b', '/a/../b', '/..', '/a\\b', '/a\0']) {
      assert.throws(() => assertDriverPath(bad), invalidPath, JSON.stringify(bad));
    }
  });

  it('compute containment on segment boundaries', () => {
    assert.ok(isWithin('/a', '/a'));
    assert.ok(isWithin('/a', '/a/b'));
    assert.ok(!isWithin('/a', '/ab'));
    assert.ok(isWithin('/', '/anything'));
    assert.equal(relativeTo('/a', '/a/b/c'), '/b/c');
    assert.equal(relativeTo('/a', '/a'), '/');
    assert.throws(() => relativeTo('/a', '/ab'), invalidPath);
    assert.equal(parentOf('/a/b'), '/a');
    assert.equal(parentOf('/a'), '/');
  });
});
