import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRequire } from 'node:module';
import {
  ALGORITHM_CATEGORIES,
  ALLOWED_SSH_ALGORITHMS,
  DEFAULT_SSH_ALGORITHMS,
  acceptsUserSignature,
  validateSshAlgorithms,
} from '../../../../src/protocols/ssh/algorithms.ts';

const supported = createRequire(import.meta.url)('ssh2/lib/protocol/constants.js') as Record<string, string[]>;
const SSH2_SUPPORTED = {
  kex: supported.SUPPORTED_KEX!,
  serverHostKey: supported.SUPPORTED_SERVER_HOST_KEY!,
  cipher: supported.SUPPORTED_CIPHER!,
  hmac: supported.SUPPORTED_MAC!,
  compress: supported.SUPPORTED_COMPRESSION!,
};

describe('SSH algorithm policy', () => {
  it('puts Ed25519 first and curve25519 first by default', () => {
    assert.equal(DEFAULT_SSH_ALGORITHMS.serverHostKey[0], 'ssh-ed25519');
    assert.equal(DEFAULT_SSH_ALGORITHMS.kex[0], 'curve25519-sha256');
  });

  it('offers no SHA-1, CBC, DSA or pre-auth compression by default', () => {
    const all = ALGORITHM_CATEGORIES.flatMap((c) => DEFAULT_SSH_ALGORITHMS[c]);
    for (const name of all) assert.doesNotMatch(name, /sha1|cbc|md5|arcfour|ssh-dss|^ssh-rsa$|^zlib$|-96$/, name);
  });

  it('accepts the default policy without warnings', () => {
    assert.deepEqual(validateSshAlgorithms(DEFAULT_SSH_ALGORITHMS), { ok: true, policy: DEFAULT_SSH_ALGORITHMS, warnings: [] });
  });

  it('only allows names ssh2 (with Ferry patches) can negotiate on this machine', () => {
    for (const category of ALGORITHM_CATEGORIES) {
      for (const name of ALLOWED_SSH_ALGORITHMS[category]) assert.ok(SSH2_SUPPORTED[category].includes(name), `${category} ${name}`);
    }
  });

  it('refuses weak names with the reason and the allowed list', () => {
    const result = validateSshAlgorithms({ ...DEFAULT_SSH_ALGORITHMS, cipher: ['aes128-cbc'], kex: ['diffie-hellman-group14-sha1'] });
    assert.equal(result.ok, false);
    const errors = result.ok ? [] : result.errors;
    assert.match(errors.join('\n'), /cipher: "aes128-cbc" is refused \(CBC mode.*allowed: chacha20-poly1305@openssh.com/);
    assert.match(errors.join('\n'), /kex: "diffie-hellman-group14-sha1" is refused \(SHA-1/);
  });

  it('refuses unknown names, duplicates and empty lists', () => {
    const result = validateSshAlgorithms({ ...DEFAULT_SSH_ALGORITHMS, hmac: ['hmac-sha2-256', 'hmac-sha2-256', 'umac-64'], compress: [] });
    const text = result.ok ? '' : result.errors.join('\n');
    assert.match(text, /"hmac-sha2-256" is listed twice/);
    assert.match(text, /"umac-64" is not a supported algorithm; allowed: hmac-sha2-256-etm/);
    assert.match(text, /compress: the list is empty/);
  });

  it('lets a site enable ssh-rsa only explicitly, with a warning', () => {
    const policy = { ...DEFAULT_SSH_ALGORITHMS, serverHostKey: [...DEFAULT_SSH_ALGORITHMS.serverHostKey, 'ssh-rsa'] };
    const result = validateSshAlgorithms(policy);
    assert.equal(result.ok, true);
    assert.match(result.ok ? result.warnings.join() : '', /SHA-1 RSA signatures/);
    assert.equal(acceptsUserSignature(policy, 'ssh-rsa'), true);
    assert.equal(acceptsUserSignature(DEFAULT_SSH_ALGORITHMS, 'ssh-rsa'), false);
  });
});
