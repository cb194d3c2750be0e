import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hashPassword, MAX_PASSWORD_BYTES, PasswordTooLongError, verifyAgainstDummy, verifyPassword } from '../../../src/auth/passwords.ts';

test('a hashed password verifies and a wrong one does not', async () => {
  const hash = await hashPassword('correct horse battery staple');
  assert.match(hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
  assert.equal(await verifyPassword(hash, 'correct horse battery staple'), true);
  assert.equal(await verifyPassword(hash, 'correct horse battery stapl'), false);
  assert.equal(await verifyPassword(hash, ''), false);
});

test('two hashes of the same password differ by their random salt', async () => {
  assert.notEqual(await hashPassword('same'), await hashPassword('same'));
});

test('a hash made by the reference argon2 implementation verifies', async () => {
  // `echo -n 'correct horse battery staple' | argon2 ferrysaltferrysalt -id -t 2 -k 19456 -p 1 -l 32 -e`
  // (Debian package argon2, the RFC 9106 reference implementation).
  const reference = '$argon2id$v=19$m=19456,t=2,p=1$ZmVycnlzYWx0ZmVycnlzYWx0$6OE7b7+KGkHOE254HzQvtjv1BINy/oKIKmBLN8PNak8';
  assert.equal(await verifyPassword(reference, 'correct horse battery staple'), true);
  assert.equal(await verifyPassword(reference, 'Correct horse battery staple'), false);
});

test('passwords longer than 1024 bytes are refused when hashing and never verify', async () => {
  const long = 'é'.repeat(MAX_PASSWORD_BYTES / 2 + 1); // 2 bytes per character in UTF-8
  await assert.rejects(hashPassword(long), PasswordTooLongError);
  const hash = await hashPassword('x'.repeat(MAX_PASSWORD_BYTES));
  assert.equal(await verifyPassword(hash, 'x'.repeat(MAX_PASSWORD_BYTES)), true);
  assert.equal(await verifyPassword(hash, 'x'.repeat(MAX_PASSWORD_BYTES + 1)), false);
});

test('malformed or out-of-bounds hashes verify as false without throwing', async () => {
  const hostile = [
    '',
    'hunter2',
    '$argon2i$v=19$m=19456,t=2,p=1$ZmVycnlzYWx0ZmVycnlzYWx0$6OE7b7+KGkHOE254HzQvtjv1BINy/oKIKmBLN8PNak8',
    '$argon2id$v=19$m=99999999,t=2,p=1$ZmVycnlzYWx0ZmVycnlzYWx0$6OE7b7+KGkHOE254HzQvtjv1BINy/oKIKmBLN8PNak8',
    '$argon2id$v=19$m=19456,t=1000,p=1$ZmVycnlzYWx0ZmVycnlzYWx0$6OE7b7+KGkHOE254HzQvtjv1BINy/oKIKmBLN8PNak8',
  ];
  for (const hash of hostile) assert.equal(await verifyPassword(hash, 'correct horse battery staple'), false, hash);
});

test('the dummy verification always answers false, even for its own password', async () => {
  assert.equal(await verifyAgainstDummy('ferry dummy password'), false);
  assert.equal(await verifyAgainstDummy('x'.repeat(5000)), false);
});

test('a non-string password from a hostile peer verifies as false without throwing', async () => {
  const hash = await hashPassword('secret');
  assert.equal(await verifyPassword(hash, undefined as unknown as string), false);
  assert.equal(await verifyPassword(null as unknown as string, 'secret'), false);
});
