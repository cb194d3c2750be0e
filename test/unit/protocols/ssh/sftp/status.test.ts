import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ERROR_KINDS, FerryError } from '../../../../../src/session/errors.ts';
import { INTERNAL_ERROR_MESSAGE, STATUS_BY_KIND, sftpStatusFor } from '../../../../../src/protocols/ssh/status.ts';
import { FX } from '../../../../../src/protocols/ssh/sftp/constants.ts';

test('every session error kind has an SFTP status row', () => {
  for (const kind of ERROR_KINDS) assert.ok(STATUS_BY_KIND[kind], kind);
});

test('a denial maps to PERMISSION_DENIED with the session message, never the detail', () => {
  const error = new FerryError('permission-denied', 'Permission denied: uploads are not allowed in /in', { detail: '/srv/data/alice/in EACCES' });
  assert.deepEqual(sftpStatusFor(error), { code: FX.PERMISSION_DENIED, message: 'Permission denied: uploads are not allowed in /in', known: true });
});

test('missing files map to NO_SUCH_FILE and unsupported operations to OP_UNSUPPORTED', () => {
  assert.equal(sftpStatusFor(new FerryError('not-found', 'x')).code, FX.NO_SUCH_FILE);
  assert.equal(sftpStatusFor(new FerryError('unsupported', 'x')).code, FX.OP_UNSUPPORTED);
  assert.equal(sftpStatusFor(new FerryError('quota-exceeded', '')).message, STATUS_BY_KIND['quota-exceeded'].fallback);
});

test('an unknown error becomes FAILURE with a message that reveals nothing', () => {
  const mapped = sftpStatusFor(new Error('ENOENT: /srv/secret/path'));
  assert.deepEqual(mapped, { code: FX.FAILURE, message: INTERNAL_ERROR_MESSAGE, known: false });
});
