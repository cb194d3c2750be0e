// Structural shapes (types, bounds, no unknown fields) of every config entity. Semantic rules
// that need the state (references, uniqueness) live in validate.ts.
import { ADMIN_SCHEMA, AUDIT_ENTRY_SCHEMA, AUDIT_KEPT, REVOKED_TOKEN_SCHEMA, REVOKED_TOKENS_KEPT, SUPERADMIN_SCHEMA } from './model/admin.ts';
import { NOTIFICATION_SCHEMA, NOTIFICATIONS_KEPT } from './model/notification.ts';
import { FTP_EXPLICIT_TLS, UPLOAD_MODES } from './model/site.ts';
import { AUTH_METHODS } from './model/user.ts';
import type { VfsKind } from './model/vfs-profile.ts';
import { arr, bool, byKind, int, obj, oneOf, record, str } from './schema.ts';
import type { Static, TSchema } from './schema.ts';
import { Type } from 'typebox';
import { RECENT_COMMANDS_WINDOW, RECENT_ERRORS_KEPT } from './state.ts';

/** Site and VFS ids: letters, digits, '_' and '-' (KSUID-like ids of other products fit). */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
export const ID = str({
  min: 1,
  max: 64,
  pattern: ID_PATTERN,
  hint: 'must be 1-64 letters, digits, "_" or "-", starting with a letter or digit',
});

/** Bounds that keep one command (and one snapshot) a sane size. */
export const LIMITS = {
  name: 128,
  description: 1024,
  path: 4096,
  /** users.import carries at most this many users; split larger files. */
  importUsers: 20_000,
  authorizedKeys: 256,
  authorizedKeyLength: 16_384,
  folders: 1024,
  bindings: 16,
  hostKeys: 8,
  algorithms: 64,
  greeting: 200,
  banner: 8192,
  entities: 1_000_000,
} as const;

const NAME = str({ min: 1, max: LIMITS.name, line: true });
const PATH = str({ min: 1, max: LIMITS.path, line: true });
const NAME_LIST = arr(str({ min: 1, max: 64, line: true }), 64);

const ALGORITHM = str({
  min: 1,
  max: 128,
  pattern: /^[A-Za-z0-9@._+-]+$/,
  hint: 'must be an SSH algorithm name as listed by `ssh -Q` (letters, digits, @ . _ + -)',
});
const ALGORITHMS = arr(ALGORITHM, LIMITS.algorithms);

const CIDR = str({ min: 1, max: 64, pattern: /^[0-9A-Fa-f:.]+(\/[0-9]{1,3})?$/, hint: 'must be an IPv4 or IPv6 address or network in CIDR form, e.g. 192.168.10.0/24' });
const SETTINGS_FIELDS = {
  serverName: NAME,
  jwtLifeSpan: int(1, 1440, 'lifetime of an admin API token, minutes'),
  metricsAllowList: arr(CIDR, 256),
};
export const SETTINGS_SHAPE = obj(SETTINGS_FIELDS, ['jwtLifeSpan', 'metricsAllowList']);
export const SETTINGS_PATCH_SHAPE = obj(SETTINGS_FIELDS, ['serverName', 'jwtLifeSpan', 'metricsAllowList']);

const ADMISSION_SHAPE = obj(
  {
    maxStartupsPerSource: int(1, 100_000),
    maxStartups: obj({ start: int(1, 100_000), rate: int(0, 100), full: int(1, 100_000) }),
    identificationGraceMs: int(100, 3_600_000),
    loginGraceMs: int(100, 3_600_000),
    refusalLogIntervalMs: int(1_000, 86_400_000),
  },
  ['maxStartupsPerSource', 'maxStartups', 'identificationGraceMs', 'loginGraceMs', 'refusalLogIntervalMs'],
);

const BINDING_HOST = str({ min: 1, max: 253, line: true });
const PORT = int(0, 65535);
export const SSH_BINDING_SHAPE = obj({ protocol: oneOf(['ssh']), host: BINDING_HOST, port: PORT });
export const FTP_BINDING_SHAPE = obj(
  {
    protocol: oneOf(['ftp', 'ftps']),
    host: BINDING_HOST,
    port: PORT,
    explicitTls: oneOf(FTP_EXPLICIT_TLS),
    requireDataTls: bool(),
    requireSessionReuse: bool(),
    passivePorts: obj({ min: int(1024, 65535), max: int(1024, 65535) }),
    passiveAddress: str({ min: 7, max: 15, pattern: /^\d{1,3}(\.\d{1,3}){3}$/, hint: 'must be an IPv4 address such as 203.0.113.7 (PASV replies carry IPv4 only)' }),
    certificate: obj({ certificatePem: str({ min: 1, max: 65_536 }), privateKeyEncrypted: str({ min: 1, max: 65_536, line: true }) }),
  },
  ['explicitTls', 'requireDataTls', 'requireSessionReuse', 'passivePorts', 'passiveAddress', 'certificate'],
);
const BINDING_SHAPES = { ssh: SSH_BINDING_SHAPE, ftp: FTP_BINDING_SHAPE, ftps: FTP_BINDING_SHAPE } as const;

/**
 * A binding's `protocol` picks its shape (each strict), as byKind does with `kind`: refusals name
 * the fields of that protocol only. Structurally an unknown protocol passes: a newer version may
 * have added it, and the reconciler starts only listeners it knows.
 */
const BINDING_SHAPE = Type.Unsafe<Static<typeof SSH_BINDING_SHAPE> | Static<typeof FTP_BINDING_SHAPE>>({
  type: 'object',
  required: ['protocol'],
  properties: { protocol: { type: 'string', enum: Object.keys(BINDING_SHAPES) } },
  allOf: Object.entries(BINDING_SHAPES).map(([protocol, shape]) => ({ if: { properties: { protocol: { const: protocol } }, required: ['protocol'] }, then: shape })),
});

export const SITE_SHAPE = obj({
  id: ID,
  name: NAME,
  enabled: bool(),
  bindings: arr(BINDING_SHAPE, LIMITS.bindings),
  hostKeys: arr(
    obj({
      algorithm: str({ min: 1, max: 64, line: true }),
      publicKey: str({ min: 1, max: 16_384, line: true }),
      privateKeyEncrypted: str({ min: 1, max: 65_536, line: true }),
    }),
    LIMITS.hostKeys,
  ),
  sshAlgorithms: obj({ kex: ALGORITHMS, serverHostKey: ALGORITHMS, cipher: ALGORITHMS, hmac: ALGORITHMS, compress: ALGORITHMS }),
  greeting: str({ max: LIMITS.greeting, line: true }),
  banner: str({ max: LIMITS.banner }),
  uploadMode: oneOf(UPLOAD_MODES),
  admission: ADMISSION_SHAPE,
}, ['uploadMode', 'admission']);

/** Sealed values (validate.ts checks they are sealed, under policy). */
const SEALED_FIELD = str({ min: 1, max: 65_536, line: true });

/** The fields every VFS profile has, plus its kind's `options` and sealed `secrets`. */
function vfsShape<K extends VfsKind>(kind: K, options: TSchema, secrets: readonly string[]) {
  const sealed = obj(Object.fromEntries(secrets.map((name) => [name, SEALED_FIELD])), secrets);
  return obj({ id: ID, name: NAME, kind: oneOf([kind]), target: PATH, options, secrets: sealed }, ['options', 'secrets']);
}

/** One shape per storage kind (model/vfs-profile.ts `VfsKinds`). */
export const VFS_KIND_SHAPES = {
  disk: vfsShape('disk', obj({}), []),
} satisfies Record<VfsKind, TSchema>;

export const VFS_SHAPE = byKind(VFS_KIND_SHAPES);

export const USER_SHAPE = obj({
  username: str({ min: 1, max: 64, line: true }),
  siteId: ID,
  enabled: bool(),
  description: str({ max: LIMITS.description, line: true }),
  passwordHash: str({ max: 512, line: true }),
  authorizedKeys: arr(str({ min: 1, max: LIMITS.authorizedKeyLength, line: true }), LIMITS.authorizedKeys),
  authMethods: arr(oneOf(AUTH_METHODS), AUTH_METHODS.length),
  authSteps: arr(oneOf(AUTH_METHODS), AUTH_METHODS.length),
  subsystems: NAME_LIST,
  permissions: NAME_LIST,
  homeVfsId: ID,
  virtualFolders: arr(obj({ path: PATH, vfsId: ID, permissions: NAME_LIST }), LIMITS.folders),
  permissionOverrides: arr(obj({ path: PATH, permissions: NAME_LIST }), LIMITS.folders),
}, ['authSteps']);

const VALIDATION_ERROR_SHAPE = obj({ path: str({ max: LIMITS.path }), message: str({ max: 65_536 }) });

export const STATE_SHAPE = obj(
  {
    appliedIndex: int(0, Number.MAX_SAFE_INTEGER),
    settings: SETTINGS_SHAPE,
    sites: record(SITE_SHAPE, LIMITS.entities),
    users: record(USER_SHAPE, LIMITS.entities),
    vfs: record(VFS_SHAPE, LIMITS.entities),
    superAdmins: record(SUPERADMIN_SCHEMA, LIMITS.entities),
    admins: record(ADMIN_SCHEMA, LIMITS.entities),
    revokedTokens: arr(REVOKED_TOKEN_SCHEMA, REVOKED_TOKENS_KEPT),
    audit: arr(AUDIT_ENTRY_SCHEMA, AUDIT_KEPT),
    notifications: arr(NOTIFICATION_SCHEMA, NOTIFICATIONS_KEPT),
    recentCommands: arr(
      obj({ id: str({ min: 1, max: 64 }), index: int(1, Number.MAX_SAFE_INTEGER), ok: bool(), errors: arr(VALIDATION_ERROR_SHAPE, RECENT_ERRORS_KEPT) }, ['errors']),
      RECENT_COMMANDS_WINDOW,
    ),
  },
  ['recentCommands', 'superAdmins', 'admins', 'revokedTokens', 'audit', 'notifications'],
);
