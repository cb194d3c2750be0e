// Password hashing with Argon2id (RFC 9106) from Node's own crypto (>= 24.7), stored as a PHC
// string. Parameters follow the OWASP Password Storage Cheat Sheet's first Argon2id option
// (m=19 MiB, t=2, p=1). Verification re-derives with the parameters stored in the hash, so
// raising them later only affects new hashes; bounds on those parameters keep a hostile hash
// in the config from exhausting memory.
import { argon2, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Argon2Parameters } from 'node:crypto';
import { PASSWORD_HASH_PATTERN } from '../config/model/user.ts';

/** Longer passwords are refused: hashing cost must not be chosen by the client. */
export const MAX_PASSWORD_BYTES = 1024;

const PARAMS = { memory: 19_456 /* KiB = 19 MiB */, passes: 2, parallelism: 1 } as const;
const SALT_BYTES = 16;
const TAG_BYTES = 32;
const ARGON2_VERSION = 19; // 0x13, the only version Node implements

/** Ceilings for parameters read back from a stored hash (a config entry is not trusted blindly). */
const MAX_MEMORY_KIB = 1_048_576; // 1 GiB
const MAX_PASSES = 16;
const MAX_PARALLELISM = 16;

export class PasswordTooLongError extends Error {
  constructor() {
    super(`a password may have at most ${MAX_PASSWORD_BYTES} bytes (UTF-8); choose a shorter one`);
    this.name = 'PasswordTooLongError';
  }
}

interface Phc {
  readonly memory: number;
  readonly passes: number;
  readonly parallelism: number;
  readonly salt: Buffer;
  readonly tag: Buffer;
}

function derive(plain: Buffer, salt: Buffer, params: { memory: number; passes: number; parallelism: number }, tagLength: number): Promise<Buffer> {
  const parameters: Argon2Parameters = { message: plain, nonce: salt, tagLength, ...params };
  return new Promise((resolve, reject) => {
    argon2('argon2id', parameters, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

function b64(bytes: Buffer): string {
  return bytes.toString('base64').replace(/=+$/, '');
}

/** `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>` (PHC string format, unpadded base64). */
export async function hashPassword(plain: string): Promise<string> {
  const message = Buffer.from(plain, 'utf8');
  if (message.byteLength > MAX_PASSWORD_BYTES) throw new PasswordTooLongError();
  const salt = randomBytes(SALT_BYTES);
  const tag = await derive(message, salt, PARAMS, TAG_BYTES);
  const { memory, passes, parallelism } = PARAMS;
  return `$argon2id$v=${ARGON2_VERSION}$m=${memory},t=${passes},p=${parallelism}$${b64(salt)}$${b64(tag)}`;
}

function parsePhc(hash: string): Phc | undefined {
  const match = PASSWORD_HASH_PATTERN.exec(hash);
  if (!match) return undefined;
  const [memory, passes, parallelism] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const salt = Buffer.from(match[4] as string, 'base64');
  const tag = Buffer.from(match[5] as string, 'base64');
  const sane =
    parallelism >= 1 && parallelism <= MAX_PARALLELISM &&
    passes >= 1 && passes <= MAX_PASSES &&
    memory >= 8 * parallelism && memory <= MAX_MEMORY_KIB &&
    salt.byteLength >= 8 && tag.byteLength >= 16;
  return sane ? { memory, passes, parallelism, salt, tag } : undefined;
}

/**
 * Whether `plain` matches `hash`. Never throws for bad input: an empty, malformed or
 * out-of-bounds hash, or an over-long password, is simply `false` (after the same work as a
 * real check, so the answer's timing does not reveal which).
 */
export async function verifyPassword(hash: string, plain: string): Promise<boolean> {
  if (typeof plain !== 'string' || typeof hash !== 'string') return verifyAgainstDummy('');
  const message = Buffer.from(plain, 'utf8');
  const phc = parsePhc(hash);
  if (!phc || message.byteLength > MAX_PASSWORD_BYTES) {
    await verifyAgainstDummy(message.byteLength > MAX_PASSWORD_BYTES ? '' : plain);
    return false;
  }
  const tag = await derive(message, phc.salt, phc, phc.tag.byteLength);
  return timingSafeEqual(tag, phc.tag);
}

let dummy: Promise<Phc> | undefined;

/**
 * Costs what verifying a real password costs and always answers `false`. Call it for unknown
 * users so "no such user" and "wrong password" take the same time (no username oracle).
 */
export async function verifyAgainstDummy(plain: string): Promise<false> {
  dummy ??= hashPassword('ferry dummy password').then((hash) => parsePhc(hash) as Phc);
  const phc = await dummy;
  const message = Buffer.from(typeof plain === 'string' ? plain : '', 'utf8').subarray(0, MAX_PASSWORD_BYTES);
  const tag = await derive(message, phc.salt, phc, phc.tag.byteLength);
  timingSafeEqual(tag, phc.tag);
  return false;
}
