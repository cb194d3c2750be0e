// Ferry's SSH server driven by the real OpenSSH client: authentication, algorithm negotiation,
// banner, and the refusal of shells and commands.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_SSH_ALGORITHMS } from '../../../src/protocols/ssh/algorithms.ts';
import { PASSWORD, makeClientKey, logged, run, startHarness, withPassword } from './harness.ts';
import type { ClientKey, Harness } from './harness.ts';

describe('SSH server with the OpenSSH client', () => {
  let h: Harness;
  let keyDir: string;
  let ed25519: ClientKey;
  let ecdsa: ClientKey;
  let rsa: ClientKey;
  let stranger: ClientKey;

  before(async () => {
    keyDir = await mkdtemp(path.join(tmpdir(), 'ferry-keys-'));
    [ed25519, ecdsa, rsa, stranger] = await Promise.all([
      makeClientKey(keyDir, 'ed25519'),
      makeClientKey(keyDir, 'ecdsa', 384),
      makeClientKey(keyDir, 'rsa', 3072),
      makeClientKey(keyDir, 'ed25519'),
    ]);
    h = await startHarness({
      user: { authorizedKeys: [ed25519.publicLine, ecdsa.publicLine, rsa.publicLine] },
      site: { banner: 'Welcome to {{site_name}} on {{server_name}}, {{remote_ip}}\nAuthorized use only', greeting: 'Hello {{remote_ip}} at {{site_name}}' },
    });
  });
  after(async () => {
    await h?.stop();
    await rm(keyDir, { recursive: true, force: true });
  });

  const ssh = (args: string[], extra: string[] = []) => ['-p', String(h.port), ...h.sshOptions(extra), ...args];
  const withKey = (key: ClientKey, command: string, extra: string[] = []) =>
    run('ssh', ssh(['alice@127.0.0.1', command], ['-i', key.privatePath, '-o', 'BatchMode=yes', '-o', 'PasswordAuthentication=no', ...extra]));

  it('loads ssh2 native crypto under Node 24', () => {
    const binding = createRequire(import.meta.url)('ssh2/lib/protocol/crypto') as { bindingAvailable: boolean };
    assert.equal(binding.bindingAvailable, true);
    assert.match(process.version, /^v24\./);
  });

  it('shows the banner with variables expanded before a password login', async () => {
    const result = await withPassword('ssh', ssh(['alice@127.0.0.1', 'true']));
    assert.match(result.stderr, /Welcome to default on ferry-test, 127\.0\.0\.1\r?\nAuthorized use only/);
  });

  it('sends the greeting, expanded per connection, in the identification string', async () => {
    const result = await withPassword('ssh', ssh(['alice@127.0.0.1', 'true'], ['-v']));
    assert.match(result.stderr, /remote software version Ferry Hello 127\.0\.0\.1 at default\r?\n/);
  });

  it('logs in with a password and refuses to run a command, on stderr with exit status 1', async () => {
    const result = await withPassword('ssh', ssh(['alice@127.0.0.1', 'cat /etc/passwd']));
    assert.equal(result.code, 1);
    assert.match(result.stderr, /file transfer only \(SFTP and SCP\); it does not run a shell or commands/);
    assert.doesNotMatch(result.stdout, /root:/);
    assert.ok(logged(h, 'ssh: login').some((l) => l.method === 'password'));
  });

  it('refuses an interactive shell with the same message', async () => {
    const result = await withPassword('ssh', ssh(['-tt', 'alice@127.0.0.1']));
    assert.equal(result.code, 1);
    assert.match(result.stdout + result.stderr, /does not run a shell/);
  });

  it('accepts Ed25519, ECDSA and RSA (rsa-sha2-512) user keys', async () => {
    for (const key of [ed25519, ecdsa, rsa]) {
      const result = await withKey(key, 'true', ['-v']);
      assert.equal(result.code, 1, result.stderr); // authenticated: the command itself is refused
      assert.match(result.stderr, /Authenticated to 127\.0\.0\.1/);
    }
    const rsaLogin = await withKey(rsa, 'true', ['-v']);
    assert.match(rsaLogin.stderr, /Server accepts key: .* RSA SHA256:/);
    assert.match(rsaLogin.stderr, /rsa-sha2-512|rsa-sha2-256/);
  });

  it('refuses a wrong password and logs login-failed to the transfer log', async () => {
    const before = h.records.filter((r) => r.operation === 'login-failed').length;
    const result = await withPassword('ssh', ssh(['alice@127.0.0.1', 'true'], ['-o', 'NumberOfPasswordPrompts=1']), 'wrong password');
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /Permission denied/);
    const failed = h.records.filter((r) => r.operation === 'login-failed');
    assert.equal(failed.length, before + 1);
    assert.equal(failed.at(-1)?.username, 'alice');
    assert.ok(logged(h, 'ssh: login failed').some((l) => l.reason === 'wrong password'));
  });

  it('refuses an unknown user exactly like a wrong password', async () => {
    const result = await withPassword('ssh', ssh(['mallory@127.0.0.1', 'true'], ['-o', 'NumberOfPasswordPrompts=1']));
    assert.match(result.stderr, /Permission denied \(publickey,password\)/);
    assert.ok(logged(h, 'ssh: login failed').some((l) => l.user === 'mallory' && l.reason === 'unknown user'));
  });

  it('refuses a key that is not authorized', async () => {
    const result = await withKey(stranger, 'true');
    assert.equal(result.code, 255);
    assert.match(result.stderr, /Permission denied \(publickey,password\)/);
  });

  it('refuses an RSA key that may only sign with ssh-rsa (SHA-1)', async () => {
    // OpenSSH reads server-sig-algs (no ssh-rsa there) and does not even try; paramiko.test.ts
    // covers a client that sends the SHA-1 signature anyway.
    const result = await withKey(rsa, 'true', ['-o', 'PubkeyAcceptedAlgorithms=ssh-rsa', '-v']);
    assert.equal(result.code, 255);
    assert.match(result.stderr, /no mutual signature algorithm/);
    assert.match(result.stderr, /Permission denied/);
  });

  it('negotiates diffie-hellman-group-exchange-sha256 (server-side group exchange)', async () => {
    const result = await withKey(ed25519, 'true', ['-o', 'KexAlgorithms=diffie-hellman-group-exchange-sha256', '-vv']);
    assert.match(result.stderr, /kex: algorithm: diffie-hellman-group-exchange-sha256/);
    assert.match(result.stderr, /SSH2_MSG_KEX_DH_GEX_GROUP received/);
    assert.match(result.stderr, /Authenticated to/);
  });

  it('proposes only strong algorithms, advertises strict KEX, and server-sig-algs without ssh-rsa', async () => {
    const result = await withKey(ed25519, 'true', ['-vv']);
    const proposal = result.stderr.split('peer server KEXINIT proposal')[1] ?? '';
    const lines = proposal.split('\n').slice(1, 9).join('\n');
    assert.match(lines, /KEX algorithms: curve25519-sha256,.*kex-strict-s-v00@openssh\.com/);
    assert.match(lines, /host key algorithms: ssh-ed25519,ecdsa-sha2-nistp256,rsa-sha2-512,rsa-sha2-256\r?\n/);
    assert.doesNotMatch(lines, /sha1|cbc|md5|arcfour|ssh-dss|[:,]ssh-rsa\b|umac|-96\b|group14-sha256|group1-/);
    assert.match(result.stderr, /server-sig-algs=<ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,rsa-sha2-512,rsa-sha2-256>/);
  });

  it('negotiates strict KEX (Terrapin countermeasure) with a client that supports it', async () => {
    const result = await withKey(ed25519, 'true', ['-vvv']);
    assert.match(result.stderr, /will use strict KEX ordering/);
  });

  it('cannot be talked into weak algorithms the client insists on', async () => {
    // (With an AEAD cipher the MAC is implicit, so the MAC case pins a CTR cipher.)
    const cases: [string, RegExp][] = [
      ['Ciphers=aes128-cbc', /no matching cipher/],
      ['Ciphers=aes128-ctr -o MACs=hmac-sha1', /no matching MAC/],
      ['KexAlgorithms=diffie-hellman-group14-sha1', /no matching key exchange/],
      ['HostKeyAlgorithms=ssh-rsa', /no matching host key type/],
    ];
    for (const [option, expected] of cases) {
      const result = await withKey(ed25519, 'true', ['-o', ...option.split(' ')]);
      assert.equal(result.code, 255, option);
      assert.match(result.stderr, expected, option);
    }
  });

  it('serves the RSA host key with SHA-2 signatures to a client that wants RSA', async () => {
    const result = await withKey(ed25519, 'true', ['-o', 'HostKeyAlgorithms=rsa-sha2-256', '-v']);
    assert.match(result.stderr, /Server host key: ssh-rsa SHA256:/);
    assert.match(result.stderr, /Authenticated to/);
  });

  it('lists the weak algorithms this OpenSSH client knows, and none of them is proposed', async () => {
    const known = (await run('ssh', ['-Q', 'cipher'])).stdout.split('\n').filter((c) => /cbc|3des|arcfour|rijndael/.test(c));
    assert.ok(known.length > 0, 'ssh -Q cipher lists weak ciphers to test against');
    const result = await withKey(ed25519, 'true', ['-vv']);
    const proposal = result.stderr.split('peer server KEXINIT proposal')[1] ?? '';
    for (const cipher of known) assert.doesNotMatch(proposal.split('debug2: first_kex_follows')[0] ?? '', new RegExp(`[ ,]${cipher.replace(/[.@]/g, '\\$&')}(,|\\n)`));
  });
});

describe('SSH server with ssh-rsa (SHA-1) explicitly enabled on the site', () => {
  it('serves ssh-rsa host signatures and accepts ssh-rsa user signatures, and warns the operator', async (t) => {
    const keyDir = await mkdtemp(path.join(tmpdir(), 'ferry-keys-'));
    t.after(() => rm(keyDir, { recursive: true, force: true }));
    const rsa = await makeClientKey(keyDir, 'rsa', 2048);
    const policy = { ...DEFAULT_SSH_ALGORITHMS, serverHostKey: [...DEFAULT_SSH_ALGORITHMS.serverHostKey, 'ssh-rsa'] };
    const h = await startHarness({ site: { sshAlgorithms: policy }, user: { authorizedKeys: [rsa.publicLine] } });
    t.after(() => h.stop());
    const options = ['-o', 'HostKeyAlgorithms=ssh-rsa', '-o', 'PubkeyAcceptedAlgorithms=ssh-rsa', '-o', 'BatchMode=yes', '-i', rsa.privatePath, '-v'];
    const result = await run('ssh', ['-p', String(h.port), ...h.sshOptions(options), 'alice@127.0.0.1', 'true']);
    assert.match(result.stderr, /kex: host key algorithm: ssh-rsa/);
    assert.match(result.stderr, /Authenticated to 127\.0\.0\.1/);
    assert.ok(logged(h, 'enables SHA-1 RSA signatures').length >= 1, 'the start logs a warning');
  });
});

describe('SSH multi-step login with the OpenSSH client', () => {
  it('asks for the password after the key when the account requires both (partial success)', async (t) => {
    const keyDir = await mkdtemp(path.join(tmpdir(), 'ferry-keys-'));
    t.after(() => rm(keyDir, { recursive: true, force: true }));
    const key = await makeClientKey(keyDir, 'ed25519');
    const h = await startHarness({ user: { authorizedKeys: [key.publicLine], authSteps: ['publickey', 'password'] } });
    t.after(() => h.stop());
    const args = (password: string) => withPassword('ssh', ['-p', String(h.port), ...h.sshOptions(['-i', key.privatePath, '-o', 'NumberOfPasswordPrompts=1', '-v']), 'alice@127.0.0.1', 'true'], password);
    const keyOnly = await run('ssh', ['-p', String(h.port), ...h.sshOptions(['-i', key.privatePath, '-o', 'BatchMode=yes']), 'alice@127.0.0.1', 'true']);
    assert.match(keyOnly.stderr, /Permission denied/, 'the key alone is not enough');
    const wrong = await args('wrong password');
    assert.match(wrong.stderr, /Authenticated using "publickey" with partial success/);
    assert.match(wrong.stderr, /Permission denied/);
    const both = await args(PASSWORD);
    assert.match(both.stderr, /Authenticated using "publickey" with partial success/);
    assert.match(both.stderr, /Authenticated to 127\.0\.0\.1 .* using "password"/);
    assert.ok(logged(h, 'ssh: login step passed').some((l) => l.method === 'publickey'));
    assert.ok(logged(h, 'ssh: login').some((l) => l.method === 'password' && l.msg === 'ssh: login'));
  });
});
