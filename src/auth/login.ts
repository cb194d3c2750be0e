// Login for every protocol: one connection's attempts at becoming a user. SSH, FTP (USER/PASS)
// and HTTP translate their requests into credentials and their replies from the result; the
// account policy is here, once:
//  - the account is looked up by its lowercase name on the connection's site; unknown, disabled
//    and misconfigured accounts, a method the account does not allow and a missing password all
//    take the same path and time as a wrong password (the dummy hash is verified) and give the
//    client the same answer, while the reason goes to the outcome event;
//  - a user's authSteps make a multi-step login: each passed step is a partial success, and
//    the login is complete after the last one;
//  - failures are counted per connection, declined key offers too (as OpenSSH does, so a
//    client cannot probe keys without bound); past maxFailures the protocol disconnects;
//  - every attempt ends in one auth-outcome event (success, partial or failure), stamped by the
//    injected clock: the transfer log, metrics and the Protector listen to it.
// Public-key proof is the protocol's (SSH signs its session id); which key would do is decided here.
import type { Logger } from 'pino';
import type { AuthMethod, User } from '../config/model/user.ts';
import type { ConfigView } from '../config/view.ts';
import type { TransferLog } from '../logging/transfer-log.ts';
import { findAuthorizedKey, parseAuthorizedKeys } from './public-keys.ts';
import type { AuthorizedKey, OfferedKey, SignatureCheck } from './public-keys.ts';

/** The connection a login happens on, as the protocol knows it. */
export interface LoginFacts {
  /** `ssh`, `ftp`, `ftps`, `https`, ...: what the outcome event and the transfer log name. */
  readonly protocol: string;
  readonly siteId: string;
  readonly connectionId: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
}

export interface PasswordCredential {
  readonly method: 'password';
  readonly password: string;
}

/** Answers to the prompts the protocol showed; one prompt, the password, for now. */
export interface KeyboardInteractiveCredential {
  readonly method: 'keyboard-interactive';
  readonly answers: readonly string[];
}

export interface PublicKeyCredential {
  readonly method: 'publickey';
  readonly key: OfferedKey;
  /** The protocol's verdict on the offer itself, before any account is consulted (SSH: a signature algorithm the site refuses). */
  readonly acceptable: SignatureCheck;
  /**
   * Proves the client holds the private half of `key`, the authorized key it matched (SSH:
   * verifies the signature over the session identifier). Absent: the client only asks whether
   * the key would do (RFC 4252 section 7), which is not a login attempt.
   */
  readonly prove?: (key: AuthorizedKey) => SignatureCheck;
}

export type Credential = PasswordCredential | KeyboardInteractiveCredential | PublicKeyCredential;

export type LoginResult =
  /** Logged in: the protocol may open the Session. */
  | { readonly kind: 'accepted'; readonly user: User; readonly method: AuthMethod; readonly key?: AuthorizedKey }
  /** A step of a multi-step login passed; `next` is the method that may continue. */
  | { readonly kind: 'partial'; readonly method: AuthMethod; readonly next: readonly AuthMethod[]; readonly key?: AuthorizedKey }
  /** The offered key would do; the client should now prove it holds the key. */
  | { readonly kind: 'key-acceptable'; readonly key: AuthorizedKey }
  | {
      readonly kind: 'refused';
      /** For the log only: the client is told nothing more than "refused". */
      readonly reason: string;
      /** False for a declined key query: counted, but not a failed login. */
      readonly attempt: boolean;
      readonly failures: number;
      /** maxFailures reached: the protocol should disconnect. */
      readonly tooMany: boolean;
      /** After a partial success: the method that may continue (else the protocol's usual list). */
      readonly next?: readonly AuthMethod[];
    };

/** One per login attempt (a key query is none). */
export interface AuthOutcomeEvent extends LoginFacts {
  /** ms since the epoch, from the injected clock. */
  readonly time: number;
  /** As the client sent it, bounded; the account may not exist. */
  readonly username: string;
  readonly method: AuthMethod;
  readonly outcome: 'success' | 'partial' | 'failure';
  readonly reason?: string;
  /** Failures on this connection so far, this one included. */
  readonly failures: number;
}

export interface LoginDeps {
  readonly getView: () => ConfigView;
  readonly verifyPassword: (hash: string, plain: string) => Promise<boolean>;
  /** Costs what verifyPassword costs (auth/passwords.ts verifyAgainstDummy). */
  readonly verifyAgainstDummy: (plain: string) => Promise<unknown>;
  readonly now: () => number;
  readonly onOutcome: (event: AuthOutcomeEvent) => void;
}

export interface LoginOptions {
  /** Failed attempts on one connection before the protocol must disconnect (OpenSSH MaxAuthTries: 6). */
  readonly maxFailures: number;
  /** The connection's logger: account problems the client is not told about. */
  readonly log?: Pick<Logger, 'warn' | 'error'>;
}

/** Longer names are cut in events and logs: a client chooses them. */
const MAX_LOGGED_NAME = 128;

type Refusal = { readonly reason: string; readonly attempt: boolean };

export class ConnectionLogin {
  readonly #deps: LoginDeps;
  readonly #facts: LoginFacts;
  readonly #options: LoginOptions;
  #failures = 0;
  /** Steps passed so far by the account named `username`; another name starts over. */
  #progress: { readonly username: string; readonly passed: AuthMethod[] } | undefined;
  #user: User | undefined;

  constructor(deps: LoginDeps, facts: LoginFacts, options: LoginOptions) {
    this.#deps = deps;
    this.#facts = facts;
    this.#options = options;
  }

  /** The logged-in user, once an attempt was accepted. */
  get user(): User | undefined {
    return this.#user;
  }

  get failures(): number {
    return this.#failures;
  }

  /** Never throws: an internal error is a refused attempt. */
  async attempt(username: string, credential: Credential): Promise<LoginResult> {
    try {
      return await this.#attempt(username, credential);
    } catch (error) {
      this.#options.log?.error({ err: error, user: username.slice(0, MAX_LOGGED_NAME) }, 'login failed with an internal error');
      return this.#refuse(username, credential.method, { reason: 'internal error', attempt: true });
    }
  }

  async #attempt(username: string, credential: Credential): Promise<LoginResult> {
    if (this.#user) return this.#refuse(username, credential.method, { reason: 'already logged in', attempt: true });
    const user = this.#deps.getView().user(this.#facts.siteId, username.toLowerCase());
    if (this.#progress?.username !== username) this.#progress = { username, passed: [] };
    switch (credential.method) {
      case 'password':
        return this.#password(username, user, 'password', credential.password);
      case 'keyboard-interactive':
        // One prompt, the password; other questions (TOTP, scripted ones) come with scripting.
        if (credential.answers.length !== 1) {
          await this.#deps.verifyAgainstDummy(credential.answers[0] ?? '');
          return this.#refuse(username, credential.method, { reason: 'keyboard-interactive expects one answer, the password', attempt: true });
        }
        return this.#password(username, user, 'keyboard-interactive', credential.answers[0] as string);
      case 'publickey':
        return this.#publicKey(username, user, credential);
    }
  }

  /** The methods that may pass now: the next step of a multi-step login, or any allowed one. */
  #nextMethods(user: User): readonly AuthMethod[] {
    const steps = user.authSteps ?? [];
    if (steps.length === 0) return user.authMethods;
    const next = steps[this.#progress?.passed.length ?? 0];
    return next === undefined ? [] : [next];
  }

  /** Why this account may not use `method` now, or undefined when it may. */
  #unusable(user: User | undefined, method: AuthMethod): string | undefined {
    if (!user) return 'unknown user';
    if (!user.enabled) return 'account disabled';
    if (!user.authMethods.includes(method)) return `${method} authentication is not enabled for this account`;
    if (!this.#nextMethods(user).includes(method)) return `${method} is not the next login step for this account`;
    return undefined;
  }

  async #password(username: string, user: User | undefined, method: 'password' | 'keyboard-interactive', plain: string): Promise<LoginResult> {
    const unusable = this.#unusable(user, method) ?? (user?.passwordHash ? undefined : 'no password set');
    if (unusable !== undefined || !user) {
      await this.#deps.verifyAgainstDummy(plain);
      return this.#refuse(username, method, { reason: unusable ?? 'unknown user', attempt: true });
    }
    if (!(await this.#deps.verifyPassword(user.passwordHash, plain))) return this.#refuse(username, method, { reason: 'wrong password', attempt: true });
    return this.#pass(username, user, method);
  }

  #publicKey(username: string, user: User | undefined, credential: PublicKeyCredential): LoginResult {
    const attempt = credential.prove !== undefined;
    if (!credential.acceptable.ok) return this.#refuse(username, 'publickey', { reason: credential.acceptable.reason, attempt });
    const unusable = this.#unusable(user, 'publickey');
    if (unusable !== undefined || !user) return this.#refuse(username, 'publickey', { reason: unusable ?? 'unknown user', attempt });
    const { keys, errors } = parseAuthorizedKeys(user.authorizedKeys);
    if (errors.length > 0) this.#options.log?.warn({ user: user.username, errors }, 'some authorized keys of this account are unusable');
    const key = findAuthorizedKey(keys, credential.key);
    if (!key) return this.#refuse(username, 'publickey', { reason: 'key not authorized for this account', attempt });
    if (!credential.prove) return { kind: 'key-acceptable', key };
    const proof = credential.prove(key);
    if (!proof.ok) return this.#refuse(username, 'publickey', { reason: proof.reason, attempt: true });
    return this.#pass(username, user, 'publickey', key);
  }

  #pass(username: string, user: User, method: AuthMethod, key?: AuthorizedKey): LoginResult {
    const progress = this.#progress as { passed: AuthMethod[] };
    progress.passed.push(method);
    const next = (user.authSteps ?? []).length > 0 ? this.#nextMethods(user) : [];
    const extra = key ? { key } : {};
    if (next.length > 0) {
      this.#emit(username, method, 'partial');
      return { kind: 'partial', method, next, ...extra };
    }
    this.#user = user;
    this.#emit(username, method, 'success');
    return { kind: 'accepted', user, method, ...extra };
  }

  #refuse(username: string, method: AuthMethod, refusal: Refusal): LoginResult {
    this.#failures++;
    if (refusal.attempt) this.#emit(username, method, 'failure', refusal.reason);
    const passed = this.#progress?.username === username && this.#progress.passed.length > 0;
    const user = passed ? this.#deps.getView().user(this.#facts.siteId, username.toLowerCase()) : undefined;
    return {
      kind: 'refused',
      ...refusal,
      failures: this.#failures,
      tooMany: this.#failures >= this.#options.maxFailures,
      ...(user ? { next: this.#nextMethods(user) } : {}),
    };
  }

  #emit(username: string, method: AuthMethod, outcome: AuthOutcomeEvent['outcome'], reason?: string): void {
    const { protocol, siteId, connectionId, remoteAddress, remotePort } = this.#facts;
    const event: AuthOutcomeEvent = {
      time: this.#deps.now(),
      protocol,
      siteId,
      connectionId,
      remoteAddress,
      remotePort,
      username: username.slice(0, MAX_LOGGED_NAME),
      method,
      outcome,
      ...(reason === undefined ? {} : { reason }),
      failures: this.#failures,
    };
    try {
      this.#deps.onOutcome(event);
    } catch (error) {
      // A listener's bug must not turn a login into another answer.
      this.#options.log?.error({ err: error }, 'an auth-outcome listener failed');
    }
  }
}

/**
 * The transfer log's side of the outcome event: a failed attempt is a `login-failed` line (a
 * successful login is logged by the Session it opens, once its storage is mounted).
 */
export function logFailedLogins(transferLog: TransferLog): (event: AuthOutcomeEvent) => void {
  return (event) => {
    if (event.outcome !== 'failure') return;
    transferLog.write({
      time: new Date(event.time),
      siteId: event.siteId,
      connectionId: event.connectionId,
      remoteAddress: event.remoteAddress,
      remotePort: event.remotePort,
      username: event.username,
      protocol: event.protocol,
      operation: 'login-failed',
      path: '',
      bytes: 0,
      durationMs: 0,
      status: 'permission-denied',
    });
  };
}
