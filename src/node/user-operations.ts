// Account changes an operator makes from the command line on a running node: a new password
// (the first user's random one above all) and authorized public keys. Both go through the same
// validate-and-propose path as every configuration change; the clear password never leaves
// this process (only its argon2id hash is proposed).
import { hashPassword } from '../auth/passwords.ts';
import { parseAuthorizedKeys } from '../auth/public-keys.ts';
import { envelope } from '../config/ids.ts';
import type { AuthMethod, User } from '../config/model/user.ts';
import type { ConfigStore } from './config-store.ts';
import { ConfigValidationError } from './config-store.ts';

export interface AccountResult {
  readonly ok: boolean;
  readonly lines: readonly string[];
}

function findUser(store: ConfigStore, siteId: string, username: string): User | AccountResult {
  const view = store.current();
  if (!view.site(siteId)) {
    const known = view.sites().map((s) => s.id).join(', ') || 'none';
    return { ok: false, lines: [`no virtual site with id "${siteId}" (sites: ${known})`] };
  }
  const user = view.user(siteId, username);
  if (!user) return { ok: false, lines: [`no user "${username}" in site "${siteId}"`] };
  return user;
}

function withMethod(methods: readonly AuthMethod[], method: AuthMethod): AuthMethod[] {
  return methods.includes(method) ? [...methods] : [...methods, method];
}

async function putUser(store: ConfigStore, user: User, actor: string, done: string): Promise<AccountResult> {
  try {
    const outcome = await store.propose({ ...envelope(actor), type: 'user.put', user });
    if (!outcome.ok) return { ok: false, lines: outcome.errors.map((e) => `${e.path}: ${e.message}`) };
  } catch (error) {
    if (!(error instanceof ConfigValidationError)) throw error;
    return { ok: false, lines: error.errors.map((e) => `${e.path}: ${e.message}`) };
  }
  return { ok: true, lines: [done] };
}

export async function setPassword(
  store: ConfigStore,
  params: { siteId: string; username: string; password: string },
): Promise<AccountResult> {
  const user = findUser(store, params.siteId, params.username);
  if ('ok' in user) return user;
  if (params.password.length < 8) return { ok: false, lines: ['the password must have at least 8 characters'] };
  const passwordHash = await hashPassword(params.password);
  return putUser(
    store,
    { ...user, passwordHash, authMethods: withMethod(user.authMethods, 'password') },
    'cli:passwd',
    `password of "${user.username}" in site "${params.siteId}" changed`,
  );
}

export async function addAuthorizedKeys(
  store: ConfigStore,
  params: { siteId: string; username: string; lines: string[] },
): Promise<AccountResult> {
  const user = findUser(store, params.siteId, params.username);
  if ('ok' in user) return user;
  const parsed = parseAuthorizedKeys(params.lines);
  if (parsed.errors.length > 0) {
    return { ok: false, lines: [...parsed.errors.map((e) => `key line ${e.index + 1}: ${e.message}`), 'no key added'] };
  }
  if (parsed.keys.length === 0) return { ok: false, lines: ['the key file holds no public key (one OpenSSH public key per line)'] };
  const known = new Set(user.authorizedKeys.map((line) => line.trim().split(/\s+/).slice(0, 2).join(' ')));
  const added = params.lines
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#') && !known.has(line.split(/\s+/).slice(0, 2).join(' ')));
  return putUser(
    store,
    { ...user, authorizedKeys: [...user.authorizedKeys, ...added], authMethods: withMethod(user.authMethods, 'publickey') },
    'cli:addkey',
    `${added.length} key(s) added to "${user.username}" in site "${params.siteId}": ${parsed.keys.map((k) => k.fingerprint).join(', ')}`,
  );
}
