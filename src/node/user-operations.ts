// Account changes an operator makes from the command line on a running node: a new password
// (the first user's random one above all) and authorized public keys. Both go through the same
// validate-and-propose path as every configuration change; the clear password never leaves
// this process (only its argon2id hash is proposed).
import { hashPassword } from '../auth/passwords.ts';
import { passwordProblem } from '../config/password-policy.ts';
import { holdsPrivateKey, parseAuthorizedKeys, PRIVATE_KEY_REFUSAL } from '../auth/public-keys.ts';
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
  const problem = passwordProblem(params.password, user.username);
  if (problem !== undefined) return { ok: false, lines: [problem] };
  const passwordHash = await hashPassword(params.password);
  return putUser(
    store,
    { ...user, passwordHash, authMethods: withMethod(user.authMethods, 'password') },
    'cli:passwd',
    `password of "${user.username}" in site "${params.siteId}" changed`,
  );
}

/**
 * Why a key file cannot be added before it is sent anywhere, or undefined. The CLI asks this
 * first so a private key given by mistake never leaves its process; the node asks again because
 * the control socket is an interface of its own.
 */
export function keyFileRefusal(text: string): string | undefined {
  return holdsPrivateKey(text) ? PRIVATE_KEY_REFUSAL : undefined;
}

export async function addAuthorizedKeys(
  store: ConfigStore,
  params: { siteId: string; username: string; lines: string[] },
): Promise<AccountResult> {
  const user = findUser(store, params.siteId, params.username);
  if ('ok' in user) return user;
  const refusal = keyFileRefusal(params.lines.join('\n'));
  if (refusal) return { ok: false, lines: [refusal] };
  const parsed = parseAuthorizedKeys(params.lines);
  if (parsed.errors.length > 0) {
    return { ok: false, lines: [...parsed.errors.map((e) => `key line ${e.index + 1}: ${e.message}`), 'no key added'] };
  }
  if (parsed.keys.length === 0) return { ok: false, lines: ['the key file holds no public key (one OpenSSH public key per line)'] };
  // Compared by fingerprint: the same key with another comment is still the same key.
  const present = new Set(parseAuthorizedKeys(user.authorizedKeys).keys.map((key) => key.fingerprint));
  const keyLines = params.lines.map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'));
  const added: { line: string; fingerprint: string }[] = [];
  const already: string[] = [];
  parsed.keys.forEach(({ fingerprint }, index) => {
    if (present.has(fingerprint)) {
      already.push(fingerprint);
      return;
    }
    present.add(fingerprint);
    added.push({ line: keyLines[index]!, fingerprint });
  });
  const where = `"${user.username}" in site "${params.siteId}"`;
  const alreadyLines = already.length > 0 ? [`already present for ${where}, not added again: ${already.join(', ')}`] : [];
  if (added.length === 0) return { ok: true, lines: [...alreadyLines, 'nothing changed'] };
  const result = await putUser(
    store,
    { ...user, authorizedKeys: [...user.authorizedKeys, ...added.map((a) => a.line)], authMethods: withMethod(user.authMethods, 'publickey') },
    'cli:addkey',
    `${added.length} key(s) added to ${where}: ${added.map((a) => a.fingerprint).join(', ')}`,
  );
  return result.ok ? { ok: true, lines: [...result.lines, ...alreadyLines] } : result;
}
