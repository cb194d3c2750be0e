import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { createSecretBox, isSealed, loadOrCreateMasterKey, openSecretBox, SecretError } from '../../../src/config/secrets.ts';

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ferry-secrets-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('a sealed secret opens to the original and looks nothing like it', () => {
  const box = createSecretBox(randomBytes(32));
  const sealed = box.seal('-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n', 'site/default/hostkey/0');
  assert.ok(isSealed(sealed));
  assert.ok(!sealed.includes('OPENSSH'));
  assert.equal(box.openString(sealed, 'site/default/hostkey/0'), '-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n');
  assert.notEqual(box.seal('same'), box.seal('same'));
  assert.equal(box.openString(box.seal('')), '');
});

test('a tampered sealed secret fails with a clear error', () => {
  const box = createSecretBox(randomBytes(32));
  const sealed = box.seal('top secret value');
  const raw = Buffer.from(sealed.slice('fsec1:'.length), 'base64');
  for (const position of [0, 14, raw.length - 1]) {
    const copy = Buffer.from(raw);
    copy[position]! ^= 0x01;
    assert.throws(() => box.open('fsec1:' + copy.toString('base64')), (error: Error) => error instanceof SecretError && /altered/.test(error.message));
  }
  assert.throws(() => box.open('plain text'), /not a sealed secret/);
});

test('a secret does not open under another context or another master key', () => {
  const box = createSecretBox(randomBytes(32));
  const sealed = box.seal('value', 'site/a/hostkey/0');
  assert.throws(() => box.open(sealed, 'site/b/hostkey/0'), SecretError);
  assert.throws(() => createSecretBox(randomBytes(32)).open(sealed, 'site/a/hostkey/0'), SecretError);
  assert.throws(() => createSecretBox(randomBytes(16)), /32 bytes/);
});

test('the master key is created once with mode 0600 and reused', async (t) => {
  const dir = path.join(await tempDir(t), 'data');
  const keys = await Promise.all([1, 2, 3, 4].map(() => loadOrCreateMasterKey(dir)));
  for (const key of keys) assert.deepEqual(key, keys[0]);
  const info = await stat(path.join(dir, 'secret.key'));
  assert.equal(info.mode & 0o777, 0o600);
  assert.equal(info.size, 32);
  const sealed = (await openSecretBox(dir)).seal('persisted');
  assert.equal((await openSecretBox(dir)).openString(sealed), 'persisted');
});

test('a master key readable by others or of the wrong size is refused with what to do', async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, 'secret.key');
  await writeFile(file, randomBytes(32), { mode: 0o600 });
  await chmod(file, 0o644);
  await assert.rejects(loadOrCreateMasterKey(dir), /chmod 600/);
  await writeFile(file, randomBytes(31));
  await chmod(file, 0o600);
  await assert.rejects(loadOrCreateMasterKey(dir), /31 bytes, expected 32; restore it from a backup/);
});
