// SSH user authentication (RFC 4252) translated to the protocol-neutral login (auth/login.ts),
// which holds the account policy, the failure count and the outcome event. What is SSH's stays
// here: the methods named to clients, the site's signature algorithms, the signature over the
// session identifier, partial success (SSH_MSG_USERAUTH_FAILURE with the flag set) and the log
// lines of the connection.
import type { Logger } from 'pino';
import type { AuthContext, PublicKeyAuthContext } from 'ssh2';
import { checkSignatureAlgorithm, verifyUserSignature } from '../../auth/public-keys.ts';
import type { ConnectionLogin, Credential, LoginResult, PublicKeyCredential } from '../../auth/login.ts';
import type { SshAlgorithmPolicy } from '../../config/model/site.ts';
import type { AuthMethod, User } from '../../config/model/user.ts';

/** Methods named to every client, known user or not, so the reply reveals nothing. */
export const ADVERTISED_METHODS: AuthContext['method'][] = ['publickey', 'password'];

/** After a passed step the client may learn what continues; only methods this server speaks. */
function sshMethods(methods: readonly AuthMethod[]): AuthContext['method'][] {
  return methods.filter((method): method is 'publickey' | 'password' => (ADVERTISED_METHODS as string[]).includes(method));
}

export class SshAuth {
  readonly #login: ConnectionLogin;
  readonly #policy: SshAlgorithmPolicy;
  readonly #log: Logger;
  readonly #onTooMany: () => void;

  constructor(login: ConnectionLogin, policy: SshAlgorithmPolicy, log: Logger, onTooMany: () => void) {
    this.#login = login;
    this.#policy = policy;
    this.#log = log;
    this.#onTooMany = onTooMany;
  }

  get user(): User | undefined {
    return this.#login.user;
  }

  /** ssh2 'authentication' listener; never throws, every path ends in accept or reject. */
  handle(ctx: AuthContext): void {
    this.#decide(ctx).catch((error: unknown) => {
      this.#log.error({ err: error, user: ctx.username.slice(0, 128) }, 'ssh: authentication failed with an internal error');
      ctx.reject(ADVERTISED_METHODS);
    });
  }

  async #decide(ctx: AuthContext): Promise<void> {
    const credential = this.#credential(ctx);
    if (!credential) {
      // `none` asks which methods exist; keyboard-interactive and the rest are not offered yet.
      if (ctx.method !== 'none') this.#log.debug({ method: ctx.method }, 'ssh: authentication method not offered');
      return ctx.reject(ADVERTISED_METHODS);
    }
    this.#reply(ctx, await this.#login.attempt(ctx.username, credential));
  }

  #credential(ctx: AuthContext): Credential | undefined {
    if (ctx.method === 'password') return { method: 'password', password: ctx.password };
    if (ctx.method === 'publickey') return this.#publicKey(ctx);
    return undefined;
  }

  #publicKey(ctx: PublicKeyAuthContext): PublicKeyCredential {
    const key = { algo: ctx.key.algo, data: ctx.key.data, hashAlgo: ctx.hashAlgo };
    const accepted = this.#policy.serverHostKey;
    const { signature, blob } = ctx;
    return {
      method: 'publickey',
      key,
      acceptable: checkSignatureAlgorithm(key, accepted),
      // RFC 4252 section 7: a request without a signature asks whether the key would do (PK_OK).
      ...(signature !== undefined && blob !== undefined ? { prove: (authorized) => verifyUserSignature(authorized, { ...key, signature, blob }, accepted) } : {}),
    };
  }

  #reply(ctx: AuthContext, result: LoginResult): void {
    const username = ctx.username.slice(0, 128);
    switch (result.kind) {
      case 'key-acceptable':
        return ctx.accept();
      case 'partial':
        this.#log.info({ user: username, method: result.method, next: result.next }, 'ssh: login step passed');
        return ctx.reject(sshMethods(result.next), true);
      case 'accepted':
        if (result.key) this.#log.info({ user: result.user.username, key: result.key.fingerprint, keyType: result.key.type }, 'ssh: public key accepted');
        this.#log.info({ user: result.user.username, method: result.method }, 'ssh: login');
        return ctx.accept();
      case 'refused': {
        const line = { user: username, method: ctx.method, reason: result.reason, failures: result.failures };
        this.#log.info(line, result.attempt ? 'ssh: login failed' : 'ssh: public key offer declined');
        ctx.reject(result.next ? sshMethods(result.next) : ADVERTISED_METHODS);
        if (result.tooMany) {
          this.#log.info({ user: username, failures: result.failures }, 'ssh: too many authentication failures; disconnecting');
          this.#onTooMany();
        }
      }
    }
  }
}
