// Ferry's SSH server driven by Python paramiko 2.12 (Debian's /usr/bin/python3): password and
// key logins, rsa-sha2-256, SHA-1 refusal, multi-step auth on one transport (repeated
// ssh-userauth service request), the attempt limit, and group exchange old and new style.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PASSWORD, logged, makeClientKey, python, startHarness } from './harness.ts';
import type { ClientKey, Harness } from './harness.ts';

// One script, several scenarios; prints one result line per step.
const SCRIPT = String.raw`
import sys, socket, paramiko
from paramiko import kex_gex
mode, port, password, keyfile = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]

def transport(kex=None):
    sock = socket.create_connection(('127.0.0.1', port), timeout=10)
    t = paramiko.Transport(sock, disabled_algorithms=DISABLED)
    if kex:
        t.get_security_options().kex = kex
    t.start_client(timeout=10)
    return t

DISABLED = {}
if mode == 'key-sha256':
    DISABLED = {'pubkeys': ['rsa-sha2-512']}
if mode == 'key-sha1':
    DISABLED = {'pubkeys': ['rsa-sha2-256', 'rsa-sha2-512']}

def attempt(fn):
    try:
        fn()
        print('ok')
    except paramiko.AuthenticationException as e:
        print('auth-failed')
    except Exception as e:
        print('error ' + type(e).__name__)

if mode == 'password':
    t = transport()
    t.auth_password('alice', password)
    sftp = paramiko.SFTPClient.from_transport(t)
    sftp.mkdir('/from-paramiko')
    print('listing', sorted(sftp.listdir('/')))
    t.close()
elif mode in ('key-sha256', 'key-sha1'):
    t = transport()
    if mode == 'key-sha1':
        # A client that ignores server-sig-algs and signs with ssh-rsa (SHA-1) anyway.
        paramiko.auth_handler.AuthHandler._finalize_pubkey_algorithm = lambda self, key_type: 'ssh-rsa'
    key = paramiko.RSAKey.from_private_key_file(keyfile)
    attempt(lambda: t.auth_publickey('alice', key))
    print('authenticated', t.is_authenticated())
    t.close()
elif mode == 'multistep':
    t = transport()
    wrong = paramiko.Ed25519Key.from_private_key_file(keyfile)
    attempt(lambda: t.auth_publickey('alice', wrong))
    attempt(lambda: t.auth_password('alice', 'not it'))
    attempt(lambda: t.auth_password('alice', password))
    print('authenticated', t.is_authenticated())
    t.close()
elif mode == 'brute':
    t = transport()
    for i in range(8):
        attempt(lambda: t.auth_password('alice', 'guess %d' % i))
    t.close()
elif mode in ('gex', 'gex-old'):
    if mode == 'gex-old':
        original = kex_gex.KexGex.start_kex
        kex_gex.KexGex.start_kex = lambda self, _test_old_style=False: original(self, _test_old_style=True)
    try:
        t = transport(kex=['diffie-hellman-group-exchange-sha256'])
        t.auth_password('alice', password)
        # Only group exchange was offered, so a session means it was negotiated.
        print('kex', t.get_security_options().kex, t.is_authenticated())
        t.close()
    except Exception as e:
        print('error ' + type(e).__name__)
`;

describe('SSH server with paramiko', () => {
  let h: Harness;
  let keyDir: string;
  let rsa: ClientKey;
  let stranger: ClientKey;

  before(async () => {
    keyDir = await mkdtemp(path.join(tmpdir(), 'ferry-pkeys-'));
    [rsa, stranger] = await Promise.all([makeClientKey(keyDir, 'rsa', 3072), makeClientKey(keyDir, 'ed25519')]);
    h = await startHarness({ user: { authorizedKeys: [rsa.publicLine] }, limits: { maxAuthTries: 4 } });
  });
  after(async () => {
    await h?.stop();
    await rm(keyDir, { recursive: true, force: true });
  });

  const scenario = (mode: string, key = rsa) => python(SCRIPT, [mode, String(h.port), PASSWORD, key.privatePath]);

  it('logs in with a password and uses SFTP', async () => {
    const result = await scenario('password');
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /listing \[.*'from-paramiko'.*\]/);
  });

  it('logs in with an RSA key signing rsa-sha2-256', async () => {
    const result = await scenario('key-sha256');
    assert.equal(result.stdout, 'ok\nauthenticated True\n', result.stderr);
  });

  it('refuses the same RSA key signing ssh-rsa (SHA-1)', async () => {
    const result = await scenario('key-sha1');
    assert.equal(result.stdout, 'auth-failed\nauthenticated False\n', result.stderr);
    assert.ok(logged(h, 'ssh: login failed').some((l) => l.method === 'publickey' && String(l.reason).includes('ssh-rsa (SHA-1)')));
  });

  it('allows a second method on the same connection (repeated ssh-userauth service request)', async () => {
    const result = await scenario('multistep', stranger);
    assert.equal(result.stdout, 'auth-failed\nauth-failed\nok\nauthenticated True\n', result.stderr);
  });

  it('disconnects after the configured number of failed attempts', async () => {
    const result = await scenario('brute');
    const lines = result.stdout.trim().split('\n');
    // Four refusals, then the connection is gone: paramiko reports the fifth attempt as a failed
    // authentication (the server hung up) and the rest as transport errors.
    assert.equal(lines.length, 8, result.stdout);
    assert.deepEqual(lines.slice(0, 4), ['auth-failed', 'auth-failed', 'auth-failed', 'auth-failed']);
    assert.ok(lines.slice(5).every((line) => line.startsWith('error')), result.stdout);
    assert.ok(logged(h, 'too many authentication failures').length >= 1);
  });

  it('completes diffie-hellman-group-exchange-sha256 with message type 34', async () => {
    const result = await scenario('gex');
    assert.equal(result.stdout, "kex ('diffie-hellman-group-exchange-sha256',) True\n", result.stderr);
  });

  it('refuses the legacy group exchange request (message type 30) with a clear log line', async () => {
    const result = await scenario('gex-old');
    assert.match(result.stdout, /^error /);
    assert.ok(logged(h, 'ssh: connection error').some((l) => /legacy DH group exchange request \(message type 30/.test(String(l.err))));
  });
});
