// SSH user authentication (RFC 4252) for one connection: password and publickey, per the user's
// enabled methods. Unknown, disabled and misconfigured accounts take the same path and the same
// time as a wrong password (the dummy hash is verified), and the client is told the same thing;
// only the application log says which it was. Failed attempts are counted; past the limit the
// connection is closed.
import type { Logger } from 'pino';
import type { AuthContext, PasswordAuthContext, PublicKeyAuthContext } from 'ssh2';
import type { SshAlgorithmPolicy } from '../../config/model/site.ts';
import type { User } from '../../config/model/user.ts';
import type { ConfigView } from '../../config/view.ts';
import { findAuthorizedKey, checkSignatureAlgorithm, parseAuthorizedKeys, verifyUserSignature } from '../../auth/public-keys.ts';
import type { ConnectionInfo } from '../../session/types.ts';
import type { TransferLog } from '../../logging/transfer-log.ts';

/** Methods named to every client, known user or not, so the reply reveals nothing. */
export const ADVERTISED_METHODS: AuthContext['method'][] = ['publickey', 'password'];

export interface AuthDeps {
  readonly siteId: string;
  readonly policy: SshAlgorithmPolicy;
  readonly getView: () => ConfigView;
  readonly verifyPassword: (hash: string, plain: string) => Promise<boolean>;
  readonly verifyAgainstDummy: (plain: string) => Promise<unknown>;
  readonly transferLog: TransferLog;
  readonly maxAuthTries: number;
}

export interface AuthOutcome {
  readonly user: User;
  readonly method: 'password' | 'publickey';
}

type Refusal = { readonly reason: string };

export class ConnectionAuth {
  readonly #deps: AuthDeps;
  readonly #connection: ConnectionInfo;
  readonly #log: Logger;
  readonly #onTooMany: () => void;
  #failures = 0;
  authenticated: AuthOutcome | undefined;

  constructor(deps: AuthDeps, connection: ConnectionInfo, log: Logger, onTooMany: () => void) {
    this.#deps = deps;
    this.#connection = connection;
    this.#log = log;
    this.#onTooMany = onTooMany;
  }

  /** ssh2 'authentication' listener; never throws, every path ends in accept or reject. */
  handle(ctx: AuthContext): void {
    this.#decide(ctx).catch((error: unknown) => {
      this.#log.error({ err: error, user: ctx.username }, 'ssh: authentication failed with an internal error');
      this.#refuse(ctx, { reason: 'internal error' }, true);
    });
  }

  #lookup(username: string): User | undefined {
    // Usernames are stored lowercase; what a client typed is matched the same way.
    const user = this.#deps.getView().user(this.#deps.siteId, username.toLowerCase());
    return user;
  }

  /** Why this account may not use `method`, or undefined when it may. */
  #unusable(user: User | undefined, method: 'password' | 'publickey'): string | undefined {
    if (!user) return 'unknown user';
    if (!user.enabled) return 'account disabled';
    if (!user.authMethods.includes(method)) return `${method} authentication is not enabled for this account`;
    return undefined;
  }

  async #decide(ctx: AuthContext): Promise<void> {
    switch (ctx.method) {
      case 'password':
        return this.#password(ctx);
      case 'publickey':
        return this.#publicKey(ctx);
      case 'none':
        return ctx.reject(ADVERTISED_METHODS);
      default:
        this.#log.debug({ method: ctx.method }, 'ssh: authentication method not offered');
        return ctx.reject(ADVERTISED_METHODS);
    }
  }

  async #password(ctx: PasswordAuthContext): Promise<void> {
    const user = this.#lookup(ctx.username);
    const unusable = this.#unusable(user, 'password') ?? (user?.passwordHash ? undefined : 'no password set');
    if (unusable !== undefined || !user) {
      await this.#deps.verifyAgainstDummy(ctx.password);
      return this.#refuse(ctx, { reason: unusable ?? 'unknown user' }, true);
    }
    if (!(await this.#deps.verifyPassword(user.passwordHash, ctx.password))) return this.#refuse(ctx, { reason: 'wrong password' }, true);
    this.#accept(ctx, user, 'password');
  }

  async #publicKey(ctx: PublicKeyAuthContext): Promise<void> {
    const user = this.#lookup(ctx.username);
    const offered = { algo: ctx.key.algo, data: ctx.key.data, hashAlgo: ctx.hashAlgo };
    const algorithm = checkSignatureAlgorithm(offered, this.#deps.policy.serverHostKey);
    if (!algorithm.ok) return this.#refuse(ctx, { reason: algorithm.reason }, ctx.signature !== undefined);
    const unusable = this.#unusable(user, 'publickey');
    if (unusable !== undefined || !user) return this.#refuse(ctx, { reason: unusable ?? 'unknown user' }, ctx.signature !== undefined);
    const { keys, errors } = parseAuthorizedKeys(user.authorizedKeys);
    if (errors.length > 0) this.#log.warn({ user: user.username, errors }, 'ssh: some authorized keys of this account are unusable');
    const key = findAuthorizedKey(keys, offered);
    if (!key) return this.#refuse(ctx, { reason: 'key not authorized for this account' }, ctx.signature !== undefined);
    // RFC 4252 section 7: a request without a signature asks whether the key would do (PK_OK).
    if (ctx.signature === undefined || ctx.blob === undefined) return ctx.accept();
    const verified = verifyUserSignature(key, { ...offered, signature: ctx.signature, blob: ctx.blob }, this.#deps.policy.serverHostKey);
    if (!verified.ok) return this.#refuse(ctx, { reason: verified.reason }, true);
    this.#log.info({ user: user.username, key: key.fingerprint, keyType: key.type }, 'ssh: public key accepted');
    this.#accept(ctx, user, 'publickey');
  }

  #accept(ctx: AuthContext, user: User, method: 'password' | 'publickey'): void {
    this.authenticated = { user, method };
    this.#log.info({ user: user.username, method }, 'ssh: login');
    ctx.accept();
  }

  /**
   * Rejects and counts the failure (declined key offers count too, as in OpenSSH, so a client
   * cannot probe keys without bound). `attempt` is false for a publickey query, which only asks
   * whether a key would do: it is not a failed login in the transfer log.
   */
  #refuse(ctx: AuthContext, refusal: Refusal, attempt: boolean): void {
    const username = ctx.username.slice(0, 128);
    this.#failures++;
    if (attempt) {
      this.#log.info({ user: username, method: ctx.method, reason: refusal.reason, failures: this.#failures }, 'ssh: login failed');
      this.#writeFailure(username);
    } else {
      this.#log.info({ user: username, method: ctx.method, reason: refusal.reason, failures: this.#failures }, 'ssh: public key offer declined');
    }
    ctx.reject(ADVERTISED_METHODS);
    if (this.#failures >= this.#deps.maxAuthTries) {
      this.#log.info({ user: username, failures: this.#failures }, 'ssh: too many authentication failures; disconnecting');
      this.#onTooMany();
    }
  }

  #writeFailure(username: string): void {
    const c = this.#connection;
    this.#deps.transferLog.write({
      time: new Date(),
      siteId: c.siteId,
      connectionId: c.connectionId,
      remoteAddress: c.remoteAddress,
      remotePort: c.remotePort,
      username,
      protocol: 'ssh',
      operation: 'login-failed',
      path: '',
      bytes: 0,
      durationMs: 0,
      status: 'permission-denied',
    });
  }
}
