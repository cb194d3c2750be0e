// Public-key user authentication (RFC 4252 section 7): parsing a user's authorized_keys lines,
// finding the key a client offers, and verifying its signature over the session identifier.
//
// Accepted key types: ssh-ed25519 (RFC 8709), ecdsa-sha2-nistp256/384/521 (RFC 5656), ssh-rsa
// keys of 2048 bits or more. RSA signatures must be rsa-sha2-256/512 (RFC 8332) unless the
// caller's accepted list names `ssh-rsa` (SHA-1), which a site enables only explicitly.
import ssh2 from 'ssh2';
import { createHash } from 'node:crypto';

export const USER_KEY_TYPES = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'ssh-rsa'] as const;
export type UserKeyType = (typeof USER_KEY_TYPES)[number];

export const MIN_RSA_BITS = 2048;
/** Longer than any real key line (RSA 16384 is about 2.8 KiB); bounds hostile input. */
const MAX_LINE_LENGTH = 16_384;

export interface AuthorizedKey {
  readonly type: UserKeyType;
  /** The public key blob in SSH wire format: what a client sends in USERAUTH_REQUEST. */
  readonly blob: Buffer;
  readonly comment: string;
  /** `SHA256:...` as `ssh-keygen -lf` prints it: what logs show. */
  readonly fingerprint: string;
  /** RSA modulus size; undefined for other types. */
  readonly bits: number | undefined;
}

type Ssh2Key = { type: string; getPublicSSH(): Buffer; verify(data: Buffer, signature: Buffer, hashAlgo?: string): boolean | Error };

function isUserKeyType(type: string): type is UserKeyType {
  return (USER_KEY_TYPES as readonly string[]).includes(type);
}

export function fingerprint(blob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

/** Reads the RSA modulus size from an `ssh-rsa` blob: string type, mpint e, mpint n. */
export function rsaModulusBits(blob: Buffer): number {
  let pos = 0;
  const next = (): Buffer => {
    if (pos + 4 > blob.length) throw new Error('truncated RSA key blob');
    const length = blob.readUInt32BE(pos);
    if (pos + 4 + length > blob.length) throw new Error('truncated RSA key blob');
    const field = blob.subarray(pos + 4, pos + 4 + length);
    pos += 4 + length;
    return field;
  };
  next(); // type
  next(); // e
  const n = next();
  let start = 0;
  while (start < n.length && n[start] === 0) start++;
  if (start === n.length) return 0;
  return (n.length - start - 1) * 8 + (32 - Math.clz32(n[start]!));
}

/**
 * Armor that opens a private key in every format a user may pick up by mistake: OpenSSH's own,
 * PEM (PKCS#1 RSA, SEC1 EC, DSA, PKCS#8 plain and encrypted, legacy Proc-Type encryption keeps
 * the same BEGIN line), PuTTY's PPK v2/v3 and the SSH.com/RFC 4716 private form.
 */
const PRIVATE_KEY_ARMOR = [/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/, /^PuTTY-User-Key-File-\d+:/m, /^---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----/m];

export const PRIVATE_KEY_REFUSAL = 'this is a private key: pass the .pub file; nothing was added';

/** Does this key file hold a private key? Then none of it may be echoed, logged or stored. */
export function holdsPrivateKey(text: string): boolean {
  return PRIVATE_KEY_ARMOR.some((armor) => armor.test(text));
}

/** Only a word that can be a key type name is echoed back; anything else may be key material. */
function describeType(type: string): string {
  return /^[a-z0-9][a-z0-9.@-]{0,39}$/.test(type) ? `key type "${type}"` : 'the line does not start with a key type: it';
}

/** Parses one authorized_keys line; throws an Error whose message says what is wrong and what to do. */
export function parseAuthorizedKey(line: string): AuthorizedKey {
  if (line.length > MAX_LINE_LENGTH) throw new Error(`key line is longer than ${MAX_LINE_LENGTH} characters`);
  const fields = line.trim().split(/\s+/);
  const [type = '', data = ''] = fields;
  if (!isUserKeyType(type)) {
    throw new Error(
      type.includes('=') || type.includes('"')
        ? 'authorized_keys options (from=, command=, ...) are not supported; give only "type base64 [comment]"'
        : `${describeType(type)} is not accepted; use one of ${USER_KEY_TYPES.join(', ')}`,
    );
  }
  const parsed = ssh2.utils.parseKey(`${type} ${data}`) as unknown as Ssh2Key | Ssh2Key[] | Error;
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error) throw new Error(`key cannot be parsed: ${key instanceof Error ? key.message : 'empty'}`);
  if (key.type !== type) throw new Error(`key blob is of type ${key.type} but the line says ${type}`);
  const blob = key.getPublicSSH();
  const bits = type === 'ssh-rsa' ? rsaModulusBits(blob) : undefined;
  if (bits !== undefined && bits < MIN_RSA_BITS) {
    throw new Error(`RSA key has ${bits} bits; at least ${MIN_RSA_BITS} are required (Ed25519 is recommended)`);
  }
  return { type, blob, comment: fields.slice(2).join(' '), fingerprint: fingerprint(blob), bits };
}

export interface ParsedAuthorizedKeys {
  readonly keys: readonly AuthorizedKey[];
  /** Lines that were skipped, with why (index into the input). */
  readonly errors: readonly { readonly index: number; readonly message: string }[];
}

export function parseAuthorizedKeys(lines: readonly string[]): ParsedAuthorizedKeys {
  const keys: AuthorizedKey[] = [];
  const errors: { index: number; message: string }[] = [];
  lines.forEach((line, index) => {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    try {
      keys.push(parseAuthorizedKey(trimmed));
    } catch (error) {
      errors.push({ index, message: (error as Error).message });
    }
  });
  return { keys, errors };
}

/** What a client offers in a publickey USERAUTH_REQUEST (ssh2's ctx.key / ctx.hashAlgo). */
export interface OfferedKey {
  /** ssh2's key algorithm: `ssh-rsa` for rsa-sha2-* too. */
  readonly algo: string;
  readonly data: Buffer;
  /** `sha256` / `sha512` for rsa-sha2-256/512; undefined otherwise. */
  readonly hashAlgo?: string | undefined;
}

export function findAuthorizedKey(keys: readonly AuthorizedKey[], offered: OfferedKey): AuthorizedKey | undefined {
  return keys.find((key) => key.type === offered.algo && key.blob.equals(offered.data));
}

/** The signature algorithm name (RFC 8332) a client uses with this offer. */
export function signatureAlgorithmOf(offered: OfferedKey): string {
  if (offered.algo !== 'ssh-rsa') return offered.algo;
  if (offered.hashAlgo === 'sha256') return 'rsa-sha2-256';
  if (offered.hashAlgo === 'sha512') return 'rsa-sha2-512';
  return 'ssh-rsa';
}

export type SignatureCheck = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** Is the offered signature algorithm acceptable? Checked before the client is asked to sign. */
export function checkSignatureAlgorithm(offered: OfferedKey, accepted: readonly string[]): SignatureCheck {
  const algorithm = signatureAlgorithmOf(offered);
  if (accepted.includes(algorithm)) return { ok: true };
  const reason =
    algorithm === 'ssh-rsa'
      ? 'the client offered an ssh-rsa (SHA-1) signature, which this site refuses; the client must use rsa-sha2-256 or rsa-sha2-512, or an Ed25519 key'
      : `signature algorithm ${algorithm} is not enabled on this site (enabled: ${accepted.join(', ')})`;
  return { ok: false, reason };
}

/**
 * Verifies the signature over `blob` (session id + USERAUTH_REQUEST fields, built by ssh2) with
 * the authorized key. The key blob, not the client's claim, decides the type.
 */
export function verifyUserSignature(
  key: AuthorizedKey,
  offered: OfferedKey & { readonly signature: Buffer; readonly blob: Buffer },
  accepted: readonly string[],
): SignatureCheck {
  const algorithm = checkSignatureAlgorithm(offered, accepted);
  if (!algorithm.ok) return algorithm;
  if (!key.blob.equals(offered.data)) return { ok: false, reason: 'the signed key is not the authorized key' };
  const parsed = ssh2.utils.parseKey(key.blob) as unknown as Ssh2Key | Error;
  if (parsed instanceof Error) return { ok: false, reason: `authorized key cannot be loaded: ${parsed.message}` };
  let verified: boolean | Error;
  try {
    verified = parsed.verify(offered.blob, offered.signature, offered.hashAlgo);
  } catch (error) {
    verified = error as Error;
  }
  if (verified === true) return { ok: true };
  return { ok: false, reason: verified instanceof Error ? `signature is malformed: ${verified.message}` : 'signature does not verify' };
}
