import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mapFsError } from '../../../src/vfs/drivers/fs-errors.ts';

const errno = (code: string) => Object.assign(new Error(`${code}: failed`), { code });

test('a network mount that stops answering maps to unavailable, with the errno kept for the log only', () => {
  for (const code of ['EIO', 'ENOTCONN', 'ESTALE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ECONNRESET']) {
    const mapped = mapFsError(errno(code), '/srv/nfs/alice/f');
    assert.equal(mapped.kind, 'unavailable', code);
    assert.doesNotMatch(mapped.message, /srv|E[A-Z]{3,}/, 'the client message names no path or errno');
    assert.match(mapped.detail ?? '', new RegExp(`^${code} on /srv/nfs/alice/f`));
  }
});

test('a storage asking to slow down maps to throttled; an unknown errno stays io', () => {
  assert.equal(mapFsError(errno('EAGAIN'), '/x').kind, 'throttled');
  assert.equal(mapFsError(errno('EWHATEVER'), '/x').kind, 'io');
});
