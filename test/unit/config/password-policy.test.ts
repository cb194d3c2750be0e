import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { passwordProblem } from '../../../src/config/password-policy.ts';

describe('password complexity', () => {
  it('accepts mixed passwords and long passphrases', () => {
    for (const ok of ['a much better passphrase', 'Tr0ub4dor&3', 'long enough pw', 'alice-password-2', 'ümlaut-Passwort']) assert.equal(passwordProblem(ok, 'alice'), undefined, ok);
  });

  it('refuses short, one-class, common and username passwords, saying why', () => {
    assert.match(passwordProblem('short', 'alice') ?? '', /at least 8 characters/);
    assert.match(passwordProblem('abcdefghij', 'alice') ?? '', /two kinds of characters/);
    assert.match(passwordProblem('1234567890', 'alice') ?? '', /most common/);
    for (const common of ['password1', 'Password123', 'P@ssw0rd', 'qwerty123', 'changeme!', 'letmein2']) assert.match(passwordProblem(common, 'alice') ?? '', /most common/, common);
    assert.match(passwordProblem('Alice.Smith', 'alice.smith') ?? '', /not be the username/);
  });
});
