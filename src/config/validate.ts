// Validation of a command against the state it would apply to, in two parts:
// - `validate` runs before a command is proposed, so the caller hears what to fix: the shape
//   with every bound and pattern, the policy (names, formats, port clashes) and the
//   preconditions below.
// - `preconditions` is all that `apply` re-checks of a committed command: references to the
//   state it lands on (an entity that must exist, or must no longer be referenced), because the
//   state may have moved on between proposing and committing. They hold or fail the same way in
//   every code version, so a log replays to the same state on every version; a policy rule
//   tightened later never refuses an entry an older version committed.
// Pure: no clock, no I/O.
import { isIP } from 'node:net';
import type { Command } from './commands.ts';
import { checkCommandShape } from './commands.ts';
import { diskTargetPlacementProblem, onThisNode } from './disk-target.ts';
import type { NodeFacts } from './disk-target.ts';
import { isPermission, isSubsystem, PERMISSIONS, SUBSYSTEMS } from './model/permissions.ts';
import { isFtpBinding } from './model/site.ts';
import type { FtpBinding, Site } from './model/site.ts';
import { PASSWORD_HASH_PATTERN } from './model/user.ts';
import type { User } from './model/user.ts';
import type { VfsProfile } from './model/vfs-profile.ts';
import { fieldPath } from './schema.ts';
import type { ValidationError } from './schema.ts';
import { isSealed } from './sealed.ts';
import type { ConfigState } from './state.ts';
import { has, userKey } from './state.ts';
import { templateVariables } from './template.ts';

export type { ValidationError } from './schema.ts';
export type { NodeFacts } from './disk-target.ts';

/**
 * Usernames expand into paths (`{{username}}`) and shell-adjacent tooling, so they start with a
 * letter or digit: no `.`/`..` names, no leading `-`.
 */
export const USERNAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const AUTHORIZED_KEY = /^[a-z0-9@.-]{3,64} [A-Za-z0-9+/]{16,}={0,3}( [^\r\n]*)?$/;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const WILDCARDS = new Set(['0.0.0.0', '::']);

type Errors = ValidationError[];

/**
 * Everything checked before proposing: shape, policy and preconditions. `facts` are the
 * proposing node's own (its data directory): the one part of policy that differs per node.
 */
export function validate(state: ConfigState, command: Command, facts: NodeFacts): readonly ValidationError[] {
  const shapeErrors = checkCommandShape(command);
  if (shapeErrors.length > 0) return shapeErrors;
  const errors: Errors = [...preconditions(state, command)];
  switch (command.type) {
    case 'settings.update':
    case 'site.delete':
    case 'vfs.delete':
    case 'user.delete':
      break;
    case 'site.put':
      checkSite(state, command.site, 'site', errors);
      break;
    case 'vfs.put':
      checkVfs(command.vfs, 'vfs', facts, errors);
      break;
    case 'user.put':
      checkUser(command.user, 'user', errors);
      break;
    case 'users.import':
      checkImport(command, facts, errors);
      break;
    case 'superadmin.put':
      checkPasswordHash(command.superAdmin.passwordHash, 'superAdmin.passwordHash', errors);
      break;
    case 'admin.put':
      checkPasswordHash(command.admin.passwordHash, 'admin.passwordHash', errors);
      checkUnique(command.admin.sites, 'admin.sites', errors);
      break;
    case 'superadmin.delete':
    case 'admin.delete':
    case 'token.revoke':
      break;
    case 'state.restore':
      checkRestorePolicy(command.state, facts, errors);
      break;
    case 'notification.add':
    case 'notification.delete':
    case 'notifications.clear':
      break;
  }
  return errors;
}

function checkPasswordHash(hash: string, path: string, errors: Errors): void {
  if (!PASSWORD_HASH_PATTERN.test(hash)) errors.push({ path, message: 'must be an argon2id hash made by Ferry; send the password itself to the API or CLI, which hashes it' });
}

/** What `apply` checks of a committed command: references to the state only (see the top). */
export function preconditions(state: ConfigState, command: Command): readonly ValidationError[] {
  const errors: Errors = [];
  switch (command.type) {
    case 'settings.update':
    case 'site.put':
    case 'vfs.put':
      break;
    case 'site.delete':
      checkSiteDelete(state, command.siteId, errors);
      break;
    case 'vfs.delete':
      checkVfsDelete(state, command.vfsId, errors);
      break;
    case 'user.put':
      checkUserReferences(state, command.user, 'user', errors, new Set());
      break;
    case 'user.delete':
      if (!has(state.users, userKey(command.siteId, command.username))) {
        errors.push({ path: 'username', message: `no user '${command.username}' in site '${command.siteId}'; check the name and site` });
      }
      break;
    case 'users.import':
      checkImportReferences(state, command, errors);
      break;
    case 'superadmin.put':
    case 'token.revoke':
      break;
    case 'superadmin.delete':
      checkSuperAdminDelete(state, command.name, errors);
      break;
    case 'admin.put':
      command.admin.sites.forEach((siteId, i) => {
        if (!has(state.sites, siteId)) errors.push({ path: `admin.sites[${i}]`, message: `no site '${siteId}'; create it first or check the id` });
      });
      break;
    case 'admin.delete':
      if (!has(state.admins ?? {}, command.name)) errors.push({ path: 'name', message: `no Admin '${command.name}'; check the name` });
      break;
    case 'state.restore':
      checkRestoreReferences(state, command.state, errors);
      break;
    case 'notification.add':
    case 'notifications.clear':
      break;
    case 'notification.delete':
      if (!(state.notifications ?? []).some((n) => n.id === command.notificationId)) {
        errors.push({ path: 'notificationId', message: `no notification ${command.notificationId}; list them with GET /api/v1/sa/notifications` });
      }
      break;
  }
  return errors;
}

/**
 * A restored state must hold together on its own (every user's site and VFS inside it, every
 * Admin's sites), and must not lock the administrators out: a node with SuperAdmins keeps one.
 */
function checkRestoreReferences(current: ConfigState, restored: ConfigState, errors: Errors): void {
  for (const [key, user] of Object.entries(restored.users)) checkUserReferences(restored, user, `state.users.${key}`, errors, new Set());
  for (const [name, admin] of Object.entries(restored.admins ?? {})) {
    admin.sites.forEach((siteId, i) => {
      if (!has(restored.sites, siteId)) errors.push({ path: `state.admins.${name}.sites[${i}]`, message: `no site '${siteId}' in the backup` });
    });
  }
  const enabled = (all: ConfigState['superAdmins']) => Object.values(all ?? {}).filter((sa) => sa.enabled).length;
  if (enabled(current.superAdmins) > 0 && enabled(restored.superAdmins) === 0) {
    errors.push({ path: 'state.superAdmins', message: 'the backup has no enabled SuperAdmin, so nobody could administer this node after the restore; take a backup that has one' });
  }
}

function checkRestorePolicy(restored: ConfigState, facts: NodeFacts, errors: Errors): void {
  for (const [key, user] of Object.entries(restored.users)) checkUser(user, `state.users.${key}`, errors);
  for (const [id, vfs] of Object.entries(restored.vfs)) checkVfs(vfs, `state.vfs.${id}`, facts, errors);
  for (const [name, sa] of Object.entries(restored.superAdmins ?? {})) checkPasswordHash(sa.passwordHash, `state.superAdmins.${name}.passwordHash`, errors);
  for (const [name, admin] of Object.entries(restored.admins ?? {})) checkPasswordHash(admin.passwordHash, `state.admins.${name}.passwordHash`, errors);
}

function checkSuperAdminDelete(state: ConfigState, name: string, errors: Errors): void {
  const all = state.superAdmins ?? {};
  if (!has(all, name)) {
    errors.push({ path: 'name', message: `no SuperAdmin '${name}'; check the name` });
    return;
  }
  const others = Object.values(all).filter((sa) => sa.name !== name && sa.enabled);
  if (others.length === 0) errors.push({ path: 'name', message: `'${name}' is the last enabled SuperAdmin; create or enable another one first` });
}

/** A POSIX, root-based, normalized path below `/` (virtual folders, overrides). */
export function subPathProblem(path: string): string | undefined {
  if (path.includes('\\')) return 'must use "/" as separator, never "\\"';
  if (!path.startsWith('/')) return `must be root-based: start with "/" (e.g. /${path})`;
  if (path === '/') return 'must name a folder below "/", not the root itself';
  return normalizedProblem(path);
}

function normalizedProblem(path: string): string | undefined {
  if (path.length > 1 && path.endsWith('/')) return `must not end with "/" (write ${path.replace(/\/+$/, '') || '/'})`;
  for (const segment of path.slice(1).split('/')) {
    if (segment === '') return 'must not contain empty segments ("//")';
    if (segment === '.' || segment === '..') return 'must be normalized: no "." or ".." segments';
  }
  return undefined;
}

/**
 * A disk VFS target: an absolute, normalized directory path on the node, away from the node's
 * data directory and from system directories (config/disk-target.ts).
 */
export function diskTargetProblem(configured: string, facts: NodeFacts): string | undefined {
  const target = onThisNode(configured, facts);
  // Anywhere but at the start it would splice a whole path into the middle of another.
  if (templateVariables(target).some((v) => v.name === 'node_files')) return 'may use {{node_files}} only at its start, as in {{node_files}}/{{username}}';
  if (target.includes('\\')) return 'must be a POSIX path using "/", never "\\"';
  if (!target.startsWith('/')) return `must be an absolute directory path (e.g. /srv/ferry/${target})`;
  // The disk driver refuses the file system root as a VFS root: it would expose the whole node.
  if (target === '/') return 'must not be the file system root "/"; point it at a directory such as /srv/ferry';
  return normalizedProblem(target) ?? diskTargetPlacementProblem(target, facts);
}

function checkFtpBinding(binding: FtpBinding, at: string, errors: Errors): void {
  if (binding.protocol === 'ftps' && binding.explicitTls !== undefined) errors.push({ path: fieldPath(at, 'explicitTls'), message: 'applies to protocol ftp only (ftps is TLS from the first byte); remove it' });
  const range = binding.passivePorts;
  if (range && range.min > range.max) errors.push({ path: fieldPath(at, 'passivePorts'), message: `min (${range.min}) must not exceed max (${range.max})` });
  if (binding.passiveAddress !== undefined && isIP(binding.passiveAddress) !== 4) errors.push({ path: fieldPath(at, 'passiveAddress'), message: 'must be an IPv4 address such as 203.0.113.7' });
  if (binding.certificate && !isSealed(binding.certificate.privateKeyEncrypted)) {
    errors.push({ path: fieldPath(fieldPath(at, 'certificate'), 'privateKeyEncrypted'), message: 'must be sealed with config/secrets (fsec1:...); a private key never enters the log in clear' });
  }
}

function checkSite(state: ConfigState, site: Site, path: string, errors: Errors): void {
  const seen = new Set<string>();
  site.bindings.forEach((binding, index) => {
    const at = fieldPath(fieldPath(path, 'bindings'), index);
    if (isIP(binding.host) === 0 && !HOSTNAME.test(binding.host)) {
      errors.push({ path: fieldPath(at, 'host'), message: `'${binding.host}' is not an IP address or host name; use e.g. 0.0.0.0, ::, 127.0.0.1 or a DNS name` });
    }
    const key = `${binding.protocol} ${binding.host} ${binding.port}`;
    if (binding.port !== 0 && seen.has(key)) errors.push({ path: at, message: 'duplicates another binding of this site; remove one' });
    seen.add(key);
    const other = binding.port === 0 ? undefined : siteBoundTo(state, site.id, binding.host, binding.port);
    if (other) errors.push({ path: fieldPath(at, 'port'), message: `port ${binding.port} on ${binding.host} is already bound by site '${other}'; choose another port or address` });
    if (isFtpBinding(binding)) checkFtpBinding(binding, at, errors);
  });
  const addresses = site.bindings.filter((b) => b.port !== 0).map((b) => `${b.host} ${b.port}`);
  if (new Set(addresses).size !== addresses.length) errors.push({ path: fieldPath(path, 'bindings'), message: 'two bindings of this site use the same address and port; give each protocol its own port' });
  site.hostKeys.forEach((key, index) => {
    if (!isSealed(key.privateKeyEncrypted)) {
      errors.push({ path: `${path}.hostKeys[${index}].privateKeyEncrypted`, message: 'must be sealed with config/secrets (fsec1:...); a private key never enters the log in clear' });
    }
  });
  for (const [name, list] of Object.entries(site.sshAlgorithms)) {
    if (list.length === 0) errors.push({ path: `${path}.sshAlgorithms.${name}`, message: 'must list at least one algorithm (see DEFAULT_SSH_ALGORITHMS in config/initial.ts)' });
  }
  const startups = site.admission?.maxStartups;
  if (startups && startups.start > startups.full) {
    errors.push({ path: `${path}.admission.maxStartups`, message: `start (${startups.start}) must not exceed full (${startups.full}): early drop runs from start up to full` });
  }
}

function siteBoundTo(state: ConfigState, siteId: string, host: string, port: number): string | undefined {
  // In id order: which clash is named must not depend on the order the state was built in.
  for (const other of Object.values(state.sites).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
    if (other.id === siteId) continue;
    const clash = other.bindings.some((b) => b.port === port && (b.host === host || WILDCARDS.has(b.host) || WILDCARDS.has(host)));
    if (clash) return other.id;
  }
  return undefined;
}

function checkSiteDelete(state: ConfigState, siteId: string, errors: Errors): void {
  if (!has(state.sites, siteId)) {
    errors.push({ path: 'siteId', message: `no site '${siteId}'; check the id` });
    return;
  }
  const users = Object.values(state.users).filter((user) => user.siteId === siteId);
  if (users.length > 0) errors.push({ path: 'siteId', message: `site '${siteId}' still has users (${nameUsers(users)}); delete them first` });
}

function checkVfs(vfs: VfsProfile, path: string, facts: NodeFacts, errors: Errors): void {
  const problem = diskTargetProblem(vfs.target, facts);
  if (problem) errors.push({ path: fieldPath(path, 'target'), message: problem });
  for (const [field, value] of Object.entries(vfs.secrets ?? {})) {
    if (typeof value === 'string' && !isSealed(value)) {
      errors.push({ path: `${fieldPath(path, 'secrets')}.${field}`, message: 'must be sealed with config/secrets (fsec1:...); a storage credential never enters the log in clear' });
    }
  }
}

function checkVfsDelete(state: ConfigState, vfsId: string, errors: Errors): void {
  if (!has(state.vfs, vfsId)) {
    errors.push({ path: 'vfsId', message: `no VFS '${vfsId}'; check the id` });
    return;
  }
  const users = Object.values(state.users).filter(
    (user) => user.homeVfsId === vfsId || user.virtualFolders.some((folder) => folder.vfsId === vfsId),
  );
  if (users.length > 0) {
    errors.push({ path: 'vfsId', message: `VFS '${vfsId}' is still used by ${nameUsers(users)}; point them at another VFS first` });
  }
}

function nameUsers(users: readonly User[]): string {
  // Sorted: the message is kept in the state (a refused command's outcome), and the order of
  // `state.users` differs between a replayed state and one restored from a snapshot.
  const names = users.map((user) => `${user.siteId}/${user.username}`).sort().slice(0, 10);
  return users.length > 10 ? `${names.join(', ')} and ${users.length - 10} more` : names.join(', ');
}

/** The site and every VFS a user names exist; `pendingVfs`: created by the same users.import. */
function checkUserReferences(state: ConfigState, user: User, path: string, errors: Errors, pendingVfs: ReadonlySet<string>): void {
  const push = (field: string, message: string) => errors.push({ path: fieldPath(path, field), message });
  if (!has(state.sites, user.siteId)) push('siteId', `no site '${user.siteId}'; create the site first or fix the id`);
  const vfsExists = (id: string) => has(state.vfs, id) || pendingVfs.has(id);
  if (!vfsExists(user.homeVfsId)) push('homeVfsId', `no VFS '${user.homeVfsId}'; create it first or use an existing VFS id`);
  user.virtualFolders.forEach((folder, index) => {
    if (!vfsExists(folder.vfsId)) push(`virtualFolders[${index}].vfsId`, `no VFS '${folder.vfsId}'; create it first or use an existing VFS id`);
  });
}

function checkUser(user: User, path: string, errors: Errors): void {
  const push = (field: string, message: string) => errors.push({ path: fieldPath(path, field), message });
  if (!USERNAME_PATTERN.test(user.username)) {
    push('username', 'must be 1-64 lowercase letters, digits, ".", "_" or "-", starting with a letter or digit (no spaces)');
  }
  if (user.passwordHash !== '' && !PASSWORD_HASH_PATTERN.test(user.passwordHash)) {
    push('passwordHash', 'must be an argon2id PHC string from hashPassword() (never a clear password), or empty for none');
  }
  user.authorizedKeys.forEach((line, index) => {
    if (!AUTHORIZED_KEY.test(line)) push(`authorizedKeys[${index}]`, 'must be one OpenSSH public key line: "<type> <base64> [comment]"');
  });
  checkUnique(user.authMethods, `${path}.authMethods`, errors);
  const steps = user.authSteps ?? [];
  checkUnique(steps, `${path}.authSteps`, errors);
  steps.forEach((step, index) => {
    if (!user.authMethods.includes(step)) push(`authSteps[${index}]`, `'${step}' is a login step but not one of authMethods; add it to authMethods or remove the step`);
  });
  checkNames(user.subsystems, `${path}.subsystems`, isSubsystem, SUBSYSTEMS, 'subsystem', errors);
  checkNames(user.permissions, `${path}.permissions`, isPermission, PERMISSIONS, 'permission', errors);
  checkFolders(user, path, errors);
}

function checkFolders(user: User, path: string, errors: Errors): void {
  const folderPaths = new Set<string>();
  user.virtualFolders.forEach((folder, index) => {
    const at = `${path}.virtualFolders[${index}]`;
    checkSubPath(folder.path, `${at}.path`, folderPaths, 'virtual folder', errors);
    checkNames(folder.permissions, `${at}.permissions`, isPermission, PERMISSIONS, 'permission', errors);
  });
  const overridePaths = new Set<string>();
  user.permissionOverrides.forEach((override, index) => {
    const at = `${path}.permissionOverrides[${index}]`;
    checkSubPath(override.path, `${at}.path`, overridePaths, 'override', errors);
    checkNames(override.permissions, `${at}.permissions`, isPermission, PERMISSIONS, 'permission', errors);
  });
}

function checkSubPath(path: string, at: string, seen: Set<string>, what: string, errors: Errors): void {
  const problem = subPathProblem(path);
  if (problem) errors.push({ path: at, message: problem });
  else if (seen.has(path)) errors.push({ path: at, message: `another ${what} already uses ${path}; merge them` });
  seen.add(path);
}

function checkNames(
  names: readonly string[],
  path: string,
  valid: (name: string) => boolean,
  all: readonly string[],
  what: string,
  errors: Errors,
): void {
  names.forEach((name, index) => {
    if (!valid(name)) errors.push({ path: `${path}[${index}]`, message: `unknown ${what} '${name}'; valid ones: ${all.join(', ')}` });
  });
  checkUnique(names, path, errors);
}

function checkUnique(names: readonly string[], path: string, errors: Errors): void {
  const seen = new Set<string>();
  names.forEach((name, index) => {
    if (seen.has(name)) errors.push({ path: `${path}[${index}]`, message: `'${name}' is listed twice; list it once` });
    seen.add(name);
  });
}

/** The site exists and nothing the import creates exists already (it only creates). */
function checkImportReferences(state: ConfigState, command: Extract<Command, { type: 'users.import' }>, errors: Errors): void {
  if (!has(state.sites, command.siteId)) {
    errors.push({ path: 'siteId', message: `no site '${command.siteId}'; import into an existing site id` });
    return;
  }
  const pendingVfs = new Set<string>();
  command.vfs.forEach((vfs, index) => {
    if (has(state.vfs, vfs.id)) errors.push({ path: `vfs[${index}].id`, message: `VFS '${vfs.id}' already exists; an import only creates new VFS profiles` });
    pendingVfs.add(vfs.id);
  });
  command.users.forEach((user, index) => {
    const at = `users[${index}]`;
    if (has(state.users, userKey(user.siteId, user.username))) {
      errors.push({ path: `${at}.username`, message: `user '${user.username}' already exists in site '${user.siteId}'; remove it from the import` });
    }
    checkUserReferences(state, user, at, errors, pendingVfs);
  });
}

function checkImport(command: Extract<Command, { type: 'users.import' }>, facts: NodeFacts, errors: Errors): void {
  const vfsIds = new Set<string>();
  command.vfs.forEach((vfs, index) => {
    const at = `vfs[${index}]`;
    if (vfsIds.has(vfs.id)) errors.push({ path: `${at}.id`, message: `VFS '${vfs.id}' appears twice in the import; keep one` });
    vfsIds.add(vfs.id);
    checkVfs(vfs, at, facts, errors);
  });
  const names = new Set<string>();
  command.users.forEach((user, index) => {
    const at = `users[${index}]`;
    if (user.siteId !== command.siteId) errors.push({ path: `${at}.siteId`, message: `must be '${command.siteId}', the site being imported into` });
    if (names.has(user.username)) errors.push({ path: `${at}.username`, message: `'${user.username}' appears twice in the import; keep one` });
    names.add(user.username);
    checkUser(user, at, errors);
  });
}
