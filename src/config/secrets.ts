// Secrets that must survive in the config (host private keys now; cloud keys and TOTP secrets
// later) are sealed with AES-256-GCM under a node-local master key before they are proposed,
// so neither the log nor a snapshot nor a backup holds them in clear.
// Format v1: `fsec1:` + base64(iv[12] | tag[16] | ciphertext). An optional context string is
// bound as additional authenticated data, so a sealed value moved to another field won't open.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { link, lstat, mkdir, open, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import { isSealed, SEALED_PREFIX } from './sealed.ts';

export { isSealed, SEALED_PREFIX } from './sealed.ts';

export const MASTER_KEY_FILE = 'secret.key';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class SecretError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'SecretError';
  }
}

export interface SecretBox {
  /** Seals `plain`; `context` (e.g. `site/default/hostkey/0`) must be given again to open it. */
  seal(plain: string | Uint8Array, context?: string): string;
  open(sealed: string, context?: string): Buffer;
  openString(sealed: string, context?: string): string;
  /**
   * A 32-byte key for `purpose` (e.g. `admin-jwt`), derived from the master key by HKDF: the
   * same on every node sharing the master key, useless for opening sealed secrets.
   */
  deriveKey(purpose: string): Buffer;
}

export function createSecretBox(key: Uint8Array): SecretBox {
  if (key.byteLength !== KEY_BYTES) throw new SecretError(`the master key must be ${KEY_BYTES} bytes, got ${key.byteLength}`);
  const masterKey = Buffer.from(key);
  const open = (sealed: string, context = ''): Buffer => {
    if (!isSealed(sealed)) throw new SecretError(`not a sealed secret (expected ${SEALED_PREFIX}...); was it stored in clear?`);
    const raw = Buffer.from(sealed.slice(SEALED_PREFIX.length), 'base64');
    const decipher = createDecipheriv('aes-256-gcm', masterKey, raw.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
    } catch (error) {
      throw new SecretError('a sealed secret failed authentication: it was altered, belongs to another field, or was sealed with another master key (secret.key)', { cause: error });
    }
  };
  return {
    seal(plain, context = '') {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', masterKey, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(Buffer.from(context, 'utf8'));
      const body = Buffer.concat([cipher.update(typeof plain === 'string' ? Buffer.from(plain, 'utf8') : plain), cipher.final()]);
      return SEALED_PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
    },
    open,
    openString: (sealed, context) => open(sealed, context).toString('utf8'),
    deriveKey: (purpose) => Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), `ferry ${purpose}`, 32)),
  };
}

/**
 * Reads `<dataDir>/secret.key`, creating it (32 random bytes, mode 0600) if absent. Creation is
 * atomic: the key is written and fsynced under a temporary name and hard-linked into place,
 * which fails if another process won the race; then that process's key is used.
 */
export async function loadOrCreateMasterKey(dataDir: string): Promise<Buffer> {
  const file = path.join(dataDir, MASTER_KEY_FILE);
  try {
    return await readMasterKey(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    await handle.writeFile(randomBytes(KEY_BYTES));
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(temp, file);
    await syncDir(dataDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    await unlink(temp);
  }
  return readMasterKey(file);
}

async function readMasterKey(file: string): Promise<Buffer> {
  const info = await lstat(file);
  if (!info.isFile()) throw new SecretError(`${file} is not a regular file; restore the master key from a backup`);
  if ((info.mode & 0o077) !== 0) {
    throw new SecretError(`${file} is readable by other users (mode ${(info.mode & 0o777).toString(8)}); run chmod 600 ${file}`);
  }
  const key = await readFile(file);
  if (key.byteLength !== KEY_BYTES) {
    throw new SecretError(`${file} has ${key.byteLength} bytes, expected ${KEY_BYTES}; restore it from a backup (sealed secrets cannot be opened without it)`);
  }
  return key;
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** The secret box of a node, keyed by its data directory's master key. */
export async function openSecretBox(dataDir: string): Promise<SecretBox> {
  return createSecretBox(await loadOrCreateMasterKey(dataDir));
}
