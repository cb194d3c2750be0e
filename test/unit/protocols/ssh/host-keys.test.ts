import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fingerprintOf, generateHostKeys, inspectHostKey } from '../../../../src/protocols/ssh/host-keys.ts';

describe('host key generation', () => {
  it('generates Ed25519 first, then ECDSA P-256 and RSA 3072, in OpenSSH format', async () => {
    const keys = await generateHostKeys({ comment: 'ferry@test' });
    assert.deepEqual(keys.map((k) => k.algorithm), ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'rsa']);
    for (const key of keys) assert.match(key.privateKeyPem, /^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
    assert.deepEqual(keys.map((k) => k.publicKey.split(' ')[0]), ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ssh-rsa']);
  });

  it('gives keys and fingerprints that OpenSSH ssh-keygen agrees with', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ferry-hk-'));
    try {
      for (const key of await generateHostKeys()) {
        const file = path.join(dir, key.algorithm);
        writeFileSync(file, key.privateKeyPem, { mode: 0o600 });
        const derived = execFileSync('ssh-keygen', ['-y', '-f', file], { encoding: 'utf8' }).trim();
        assert.equal(derived.split(' ').slice(0, 2).join(' '), key.publicKey.split(' ').slice(0, 2).join(' '));
        const listed = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', file], { encoding: 'utf8' });
        assert.equal(listed.split(' ')[1], key.fingerprint);
        assert.equal(inspectHostKey(key.privateKeyPem).fingerprint, key.fingerprint);
      }
      const rsaBits = execFileSync('ssh-keygen', ['-l', '-f', path.join(dir, 'rsa')], { encoding: 'utf8' }).split(' ')[0];
      assert.equal(rsaBits, '3072');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('makes each key unique', async () => {
    const [a, b] = await Promise.all([generateHostKeys({ types: ['ssh-ed25519'] }), generateHostKeys({ types: ['ssh-ed25519'] })]);
    assert.notEqual(a[0]!.fingerprint, b[0]!.fingerprint);
  });

  it('refuses a public key or garbage where a private host key is expected', async () => {
    const [key] = await generateHostKeys({ types: ['ssh-ed25519'] });
    assert.throws(() => inspectHostKey(key!.publicKey), /a private key is needed|cannot be parsed/);
    assert.throws(() => inspectHostKey('-----BEGIN OPENSSH PRIVATE KEY-----\ngarbage\n-----END OPENSSH PRIVATE KEY-----\n'), /cannot be parsed/);
    assert.throws(() => fingerprintOf('not-a-key'), /not an OpenSSH public key line/);
  });
});
