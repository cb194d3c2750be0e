// The protocol-neutral login, driven as FTP's USER/PASS and SSH's publickey would drive it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import ssh2 from 'ssh2';
import { ConnectionLogin, logFailedLogins } from '../../../src/auth/login.ts';
import type { AuthOutcomeEvent, Credential, LoginDeps, LoginFacts } from '../../../src/auth/login.ts';
import type { AuthorizedKey } from '../../../src/auth/public-keys.ts';
import type { User } from '../../../src/config/model/user.ts';
import { createView } from '../../../src/config/view.ts';
import type { TransferRecord } from '../../../src/logging/transfer-log.ts';
import { buildFixtureState } from '../../helpers/session-fixture.ts';

const CLOCK = Date.UTC(2026, 2, 4, 23, 59, 58);
const FTP: LoginFacts = { protocol: 'ftp', siteId: 'default', connectionId: 'c-ftp', remoteAddress: '192.0.2.7', remotePort: 50021 };
/** A stand-in hash: the double's verifyPassword accepts `hash:<plain>`. */
const HASH = 'hash:right password';

type Signer = { sign(data: Buffer, hash?: string): Buffer };
const generated = ssh2.utils.generateKeyPairSync('ed25519');
const signer = ssh2.utils.parseKey(generated.private) as unknown as Signer;
const KEY_LINE = generated.public;

function setup(user: Partial<User> = {}, maxFailures = 6) {
  const built = buildFixtureState('/nonexistent');
  const alice: User = { ...built.user, passwordHash: HASH, authMethods: ['password', 'publickey', 'keyboard-interactive'], authorizedKeys: [KEY_LINE], ...user };
  const view = createView({ ...built.state, users: { 'default/alice': alice } });
  const events: AuthOutcomeEvent[] = [];
  const records: TransferRecord[] = [];
  const calls = { verify: 0, dummy: [] as string[] };
  const toLog = logFailedLogins({ write: (record) => records.push(record) });
  const deps: LoginDeps = {
    getView: () => view,
    verifyPassword: async (hash, plain) => {
      calls.verify++;
      return hash === `hash:${plain}`;
    },
    verifyAgainstDummy: async (plain) => {
      calls.dummy.push(plain);
      return false;
    },
    now: () => CLOCK,
    onOutcome: (event) => {
      events.push(event);
      toLog(event);
    },
  };
  const login = new ConnectionLogin(deps, FTP, { maxFailures });
  return { login, events, records, calls };
}

/** What SSH hands over for a publickey request: a signature over `data` when `signed`. */
function publicKey(signed: boolean): Credential {
  const parsed = ssh2.utils.parseKey(KEY_LINE) as unknown as { getPublicSSH(): Buffer };
  const key = { algo: 'ssh-ed25519', data: parsed.getPublicSSH() };
  const data = randomBytes(32);
  const signature = signer.sign(data);
  const prove = (authorized: AuthorizedKey) =>
    (ssh2.utils.parseKey(authorized.blob) as unknown as { verify(d: Buffer, s: Buffer): boolean }).verify(data, signature) ? ({ ok: true } as const) : ({ ok: false, reason: 'bad signature' } as const);
  return { method: 'publickey', key, acceptable: { ok: true }, ...(signed ? { prove } : {}) };
}

describe('neutral login', () => {
  it('logs in with USER and PASS as FTP sends them, and emits one success event on the injected clock', async () => {
    const { login, events, records } = setup();
    const result = await login.attempt('Alice', { method: 'password', password: 'right password' });
    assert.equal(result.kind, 'accepted');
    assert.equal(login.user?.username, 'alice', 'names are matched lowercase');
    assert.deepEqual(events, [{ ...FTP, time: CLOCK, username: 'Alice', method: 'password', outcome: 'success', failures: 0 }]);
    assert.deepEqual(records, [], 'the Session logs the login once its storage is mounted');
  });

  it('verifies the dummy hash for an unknown user, so it takes as long as a wrong password', async () => {
    const { login, events, records, calls } = setup();
    const unknown = await login.attempt('mallory', { method: 'password', password: 'guess' });
    assert.deepEqual([unknown.kind, unknown.kind === 'refused' && unknown.reason], ['refused', 'unknown user']);
    assert.deepEqual(calls, { verify: 0, dummy: ['guess'] });
    const wrong = await login.attempt('alice', { method: 'password', password: 'guess' });
    assert.deepEqual([wrong.kind, wrong.kind === 'refused' && wrong.reason], ['refused', 'wrong password']);
    assert.deepEqual(calls, { verify: 1, dummy: ['guess'] }, 'one hash computed per attempt either way');
    assert.deepEqual(events.map((e) => [e.username, e.outcome, e.reason, e.failures]), [['mallory', 'failure', 'unknown user', 1], ['alice', 'failure', 'wrong password', 2]]);
    assert.deepEqual(
      records.map((r) => [r.time.toISOString(), r.protocol, r.operation, r.username, r.connectionId, r.remoteAddress, r.status]),
      [
        ['2026-03-04T23:59:58.000Z', 'ftp', 'login-failed', 'mallory', 'c-ftp', '192.0.2.7', 'permission-denied'],
        ['2026-03-04T23:59:58.000Z', 'ftp', 'login-failed', 'alice', 'c-ftp', '192.0.2.7', 'permission-denied'],
      ],
    );
  });

  it('refuses a disabled account, a method it does not allow and a missing password after the same dummy work', async () => {
    for (const [user, reason] of [
      [{ enabled: false }, 'account disabled'],
      [{ authMethods: ['publickey'] }, 'password authentication is not enabled for this account'],
      [{ passwordHash: '' }, 'no password set'],
    ] as const) {
      const { login, events, calls } = setup(user);
      const result = await login.attempt('alice', { method: 'password', password: 'right password' });
      assert.deepEqual([result.kind, result.kind === 'refused' && result.reason], ['refused', reason]);
      assert.deepEqual(calls, { verify: 0, dummy: ['right password'] }, reason);
      assert.equal(events[0]?.reason, reason);
      assert.equal(login.user, undefined);
    }
    const { login } = setup({ authMethods: ['password'] });
    const key = await login.attempt('alice', publicKey(true));
    assert.deepEqual([key.kind, key.kind === 'refused' && key.reason], ['refused', 'publickey authentication is not enabled for this account']);
  });

  it('answers a key query without counting it as a login, and logs in with the signed key', async () => {
    const { login, events } = setup();
    const query = await login.attempt('alice', publicKey(false));
    assert.equal(query.kind, 'key-acceptable');
    assert.equal(events.length, 0);
    const signed = await login.attempt('alice', publicKey(true));
    assert.equal(signed.kind, 'accepted');
    assert.deepEqual(events.map((e) => [e.method, e.outcome]), [['publickey', 'success']]);
  });

  it('counts declined key offers and failures, and says when the connection must end', async () => {
    const { login, events } = setup({ authorizedKeys: [] }, 2);
    const offer = await login.attempt('alice', publicKey(false));
    assert.deepEqual(offer.kind === 'refused' && [offer.attempt, offer.failures, offer.tooMany], [false, 1, false]);
    assert.equal(events.length, 0, 'a declined offer is not a failed login');
    const wrong = await login.attempt('alice', { method: 'password', password: 'nope' });
    assert.deepEqual(wrong.kind === 'refused' && [wrong.attempt, wrong.failures, wrong.tooMany], [true, 2, true]);
  });

  it('expresses a multi-step login as partial success: publickey, then password', async () => {
    const { login, events } = setup({ authSteps: ['publickey', 'password'] });
    const early = await login.attempt('alice', { method: 'password', password: 'right password' });
    assert.deepEqual([early.kind, early.kind === 'refused' && early.reason, early.kind === 'refused' && early.next], ['refused', 'password is not the next login step for this account', undefined]);
    const first = await login.attempt('alice', publicKey(true));
    assert.deepEqual(first.kind === 'partial' && [first.method, first.next], ['publickey', ['password']]);
    assert.equal(login.user === undefined, true, 'one step is not a login');
    const wrong = await login.attempt('alice', { method: 'password', password: 'nope' });
    assert.deepEqual(wrong.kind === 'refused' && wrong.next, ['password'], 'a failed second step keeps the first');
    const second = await login.attempt('alice', { method: 'password', password: 'right password' });
    assert.equal(second.kind, 'accepted');
    assert.equal(login.user?.username, 'alice');
    assert.deepEqual(events.map((e) => `${e.method} ${e.outcome}`), ['password failure', 'publickey partial', 'password failure', 'password success']);
  });

  it('starts over when the name changes between steps', async () => {
    const { login } = setup({ authSteps: ['publickey', 'password'] });
    assert.equal((await login.attempt('alice', publicKey(true))).kind, 'partial');
    assert.equal((await login.attempt('mallory', { method: 'password', password: 'x' })).kind, 'refused');
    const again = await login.attempt('alice', { method: 'password', password: 'right password' });
    assert.deepEqual(again.kind === 'refused' && again.reason, 'password is not the next login step for this account');
  });

  it('takes the password as the one keyboard-interactive answer', async () => {
    const { login, calls } = setup();
    const two = await login.attempt('alice', { method: 'keyboard-interactive', answers: ['right password', '123456'] });
    assert.equal(two.kind, 'refused');
    assert.equal(calls.dummy.length, 1);
    const one = await login.attempt('alice', { method: 'keyboard-interactive', answers: ['right password'] });
    assert.deepEqual(one.kind === 'accepted' && one.method, 'keyboard-interactive');
  });
});
