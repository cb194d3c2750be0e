// The people who administer Ferry: SuperAdmins (the whole node or cluster) and Admins (only
// the virtual sites they are given), and the JWTs revoked before they expire. The schemas here
// are the one definition of these entities: they validate commands, REST bodies and snapshots,
// type the code (`Static`) and go into the OpenAPI document.
import { arr, bool, int, obj, str } from '../schema.ts';
import type { Static } from '../schema.ts';

/** Admin names: like usernames, they appear in logs and the audit trail. */
export const ADMIN_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
export const ADMIN_NAME = str({
  min: 1,
  max: 64,
  pattern: ADMIN_NAME_PATTERN,
  hint: 'must be 1-64 lowercase letters, digits, ".", "_" or "-", starting with a letter or digit',
});

const SITE_ID = str({ min: 1, max: 64, pattern: /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, hint: 'must be a site id' });

/** TOTP second factor: the secret sealed with the master key; on once confirmed by a first code. */
export const TOTP_SCHEMA = obj(
  {
    secretSealed: str({ min: 1, max: 1024, line: true }),
    confirmed: bool(),
    /** The last accepted time step: a code is used once (RFC 6238 section 5.2). */
    lastStep: int(0, Number.MAX_SAFE_INTEGER),
    /** Hashes of the one-time recovery codes not used yet. */
    recoveryHashes: arr(str({ min: 1, max: 512, line: true }), 16),
  },
  ['recoveryHashes'],
);
export type Totp = Static<typeof TOTP_SCHEMA>;

export const SUPERADMIN_SCHEMA = obj(
  {
    name: ADMIN_NAME,
    /** argon2id PHC string (model/user.ts PASSWORD_HASH_PATTERN); never the password. */
    passwordHash: str({ min: 1, max: 512, line: true }),
    enabled: bool(),
    description: str({ max: 1024, line: true }),
    totp: TOTP_SCHEMA,
    /** Tokens issued before this time (ms) are refused: a password change or reset ends old sessions. */
    tokensValidAfter: int(0, 8_640_000_000_000_000),
  },
  ['totp', 'tokensValidAfter'],
);
export type SuperAdmin = Static<typeof SUPERADMIN_SCHEMA>;

export const ADMIN_SCHEMA = obj(
  {
    name: ADMIN_NAME,
    passwordHash: str({ min: 1, max: 512, line: true }),
    enabled: bool(),
    description: str({ max: 1024, line: true }),
    /** The virtual sites this Admin manages. */
    sites: arr(SITE_ID, 1024),
    totp: TOTP_SCHEMA,
    tokensValidAfter: int(0, 8_640_000_000_000_000),
  },
  ['totp', 'tokensValidAfter'],
);
export type Admin = Static<typeof ADMIN_SCHEMA>;

/** A token revoked by logout: remembered until it would have expired anyway. */
export const REVOKED_TOKEN_SCHEMA = obj({ jti: str({ min: 1, max: 64, pattern: /^[A-Za-z0-9_-]+$/, hint: 'must be a token id' }), expiresAt: int(0, 8_640_000_000_000_000) });
export type RevokedToken = Static<typeof REVOKED_TOKEN_SCHEMA>;

/** Revocations kept at most; the oldest-expiring go first (they are the nearest to harmless). */
export const REVOKED_TOKENS_KEPT = 100_000;

/** One config write as the audit trail shows it: who, when, what (never a secret). */
export const AUDIT_ENTRY_SCHEMA = obj({
  index: int(1, Number.MAX_SAFE_INTEGER),
  at: int(0, 8_640_000_000_000_000),
  actor: str({ min: 1, max: 256, line: true }),
  type: str({ min: 1, max: 64, line: true }),
  /** The entity the command was about (`site default`, `user default/alice`, ...). */
  target: str({ max: 512, line: true }),
  ok: bool(),
});
export type AuditEntry = Static<typeof AUDIT_ENTRY_SCHEMA>;

/** Audit entries kept in the replicated state, newest last; older ones are dropped (the bound keeps snapshots small). */
export const AUDIT_KEPT = 10_000;
