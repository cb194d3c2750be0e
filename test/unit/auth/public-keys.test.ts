import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import ssh2 from 'ssh2';
import {
  checkSignatureAlgorithm,
  findAuthorizedKey,
  parseAuthorizedKey,
  parseAuthorizedKeys,
  rsaModulusBits,
  verifyUserSignature,
} from '../../../src/auth/public-keys.ts';

const ACCEPTED = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256'];

type Signer = { sign(data: Buffer, hash?: string): Buffer };
function pair(type: 'ed25519' | 'ecdsa' | 'rsa', bits?: number) {
  const generated = ssh2.utils.generateKeyPairSync(type as 'rsa', { bits: bits ?? 256, comment: 'me@test' } as { bits: number });
  const privateKey = ssh2.utils.parseKey(generated.private) as unknown as Signer;
  return { line: generated.public, privateKey };
}

function offer(line: string, privateKey: Signer, hashAlgo?: string) {
  const key = parseAuthorizedKey(line);
  const blob = randomBytes(64);
  return { key, offered: { algo: key.type, data: key.blob, hashAlgo, blob, signature: privateKey.sign(blob, hashAlgo) } };
}

describe('authorized_keys parsing', () => {
  it('reads an Ed25519 line with its comment and SHA256 fingerprint', () => {
    const { line } = pair('ed25519');
    const key = parseAuthorizedKey(line);
    assert.equal(key.type, 'ssh-ed25519');
    assert.equal(key.comment, 'me@test');
    assert.match(key.fingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/);
  });

  it('reads ECDSA keys on all three NIST curves', () => {
    for (const bits of [256, 384, 521]) assert.equal(parseAuthorizedKey(pair('ecdsa', bits).line).type, `ecdsa-sha2-nistp${bits}`);
  });

  it('accepts RSA 2048 and refuses RSA 1024 with the reason', () => {
    assert.equal(parseAuthorizedKey(pair('rsa', 2048).line).bits, 2048);
    assert.throws(() => parseAuthorizedKey(pair('rsa', 1024).line), /1024 bits; at least 2048/);
  });

  it('refuses DSA, options prefixes, garbage and over-long lines with a message', () => {
    assert.throws(() => parseAuthorizedKey('ssh-dss AAAAB3NzaC1kc3MAAACBAP'), /not accepted/);
    assert.throws(() => parseAuthorizedKey('from="10.0.0.1" ssh-ed25519 AAAA'), /options .* are not supported/);
    assert.throws(() => parseAuthorizedKey('ssh-ed25519 !!!notbase64'), /cannot be parsed/);
    assert.throws(() => parseAuthorizedKey('ssh-ed25519 ' + 'A'.repeat(20_000)), /longer than/);
  });

  it('echoes a wrong key type only when it looks like a type name, never what may be key material', () => {
    assert.throws(() => parseAuthorizedKey('ssh-ed2559 AAAA'), /key type "ssh-ed2559" is not accepted/);
    const material = 'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW';
    assert.throws(
      () => parseAuthorizedKey(material),
      (error: Error) => /does not start with a key type/.test(error.message) && !error.message.includes(material.slice(0, 12)),
    );
  });

  it('refuses a line whose blob type contradicts its declared type', () => {
    const ed = pair('ed25519').line.split(' ')[1];
    assert.throws(() => parseAuthorizedKey(`ecdsa-sha2-nistp256 ${ed}`), /of type ssh-ed25519|cannot be parsed/);
  });

  it('skips comments and blank lines and reports bad lines by index', () => {
    const good = pair('ed25519').line;
    const result = parseAuthorizedKeys(['# mine', '', good, 'ssh-rsa AAAA']);
    assert.equal(result.keys.length, 1);
    assert.deepEqual(result.errors.map((e) => e.index), [3]);
  });

  it('measures the RSA modulus ignoring the mpint sign byte', () => {
    const key = parseAuthorizedKey(pair('rsa', 3072).line);
    assert.equal(rsaModulusBits(key.blob), 3072);
    assert.throws(() => rsaModulusBits(key.blob.subarray(0, 20)), /truncated/);
  });
});

describe('public key signatures', () => {
  it('verifies Ed25519, ECDSA and RSA SHA-2 signatures', () => {
    const cases: [Parameters<typeof pair>, string | undefined][] = [
      [['ed25519'], undefined],
      [['ecdsa', 384], undefined],
      [['rsa', 2048], 'sha256'],
      [['rsa', 2048], 'sha512'],
    ];
    for (const [args, hash] of cases) {
      const { line, privateKey } = pair(...args);
      const { key, offered } = offer(line, privateKey, hash);
      assert.deepEqual(verifyUserSignature(key, offered, ACCEPTED), { ok: true }, `${args[0]} ${hash}`);
    }
  });

  it('refuses an ssh-rsa SHA-1 signature unless the site enables ssh-rsa', () => {
    const { line, privateKey } = pair('rsa', 2048);
    const { key, offered } = offer(line, privateKey, undefined);
    const refused = verifyUserSignature(key, offered, ACCEPTED);
    assert.equal(refused.ok, false);
    assert.match(!refused.ok ? refused.reason : '', /ssh-rsa \(SHA-1\)/);
    assert.deepEqual(verifyUserSignature(key, offered, [...ACCEPTED, 'ssh-rsa']), { ok: true });
  });

  it('refuses a signature over different data or by another key', () => {
    const { line, privateKey } = pair('ed25519');
    const { key, offered } = offer(line, privateKey);
    assert.equal(verifyUserSignature(key, { ...offered, blob: randomBytes(64) }, ACCEPTED).ok, false);
    const other = pair('ed25519');
    const forged = { ...offered, signature: other.privateKey.sign(offered.blob) };
    assert.equal(verifyUserSignature(key, forged, ACCEPTED).ok, false);
    assert.equal(verifyUserSignature(key, { ...offered, signature: Buffer.from('junk') }, ACCEPTED).ok, false);
  });

  it('finds the offered key by type and blob only', () => {
    const a = parseAuthorizedKey(pair('ed25519').line);
    const b = parseAuthorizedKey(pair('ecdsa', 256).line);
    assert.equal(findAuthorizedKey([a, b], { algo: b.type, data: b.blob }), b);
    assert.equal(findAuthorizedKey([a], { algo: 'ssh-ed25519', data: b.blob }), undefined);
  });

  it('names the disabled algorithm when a site narrows the list', () => {
    const check = checkSignatureAlgorithm({ algo: 'ecdsa-sha2-nistp521', data: Buffer.alloc(0) }, ['ssh-ed25519']);
    assert.equal(check.ok, false);
    assert.match(!check.ok ? check.reason : '', /ecdsa-sha2-nistp521 is not enabled .*ssh-ed25519/);
  });
});
