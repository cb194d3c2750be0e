// The configuration backup: one zip (yazl/yauzl) holding `manifest.json` (format, version,
// which master key sealed the secrets) and `config.json` (the config snapshot, secrets still
// sealed). The master key never enters the archive in clear: restoring on another machine takes
// the key file, or the passphrase the admin chose, which wraps the key (scrypt + AES-256-GCM)
// in the manifest. Reading treats the archive as hostile: known entries only, bounded sizes,
// the snapshot decoded strictly and every host key opened before anything is replaced.
import { createCipheriv, createDecipheriv, randomBytes, scrypt } from 'node:crypto';
import yauzl from 'yauzl';
import yazl from 'yazl';
import { decodeSnapshot, encodeSnapshot } from '../config/codec.ts';
import { createSecretBox } from '../config/secrets.ts';
import type { SecretBox } from '../config/secrets.ts';
import type { ConfigState } from '../config/state.ts';
import { hostKeyContext } from './bootstrap.ts';

export const BACKUP_FORMAT = 'ferry-config-backup';
export const BACKUP_FORMAT_VERSION = 1;
/** Restores larger than this are refused before unzipping (the API's body limit too). */
export const MAX_BACKUP_BYTES = 64 * 1024 * 1024;
const MAX_MANIFEST_BYTES = 64 * 1024;
export const MIN_PASSPHRASE_LENGTH = 10;
// scrypt cost: ~100 ms here; a stolen archive costs that per guess.
const SCRYPT = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;

export interface KeyWrap {
  readonly kdf: 'scrypt';
  readonly N: number;
  readonly r: number;
  readonly p: number;
  readonly salt: string;
  readonly iv: string;
  readonly tag: string;
  readonly wrappedKey: string;
}

export interface BackupManifest {
  readonly format: typeof BACKUP_FORMAT;
  readonly formatVersion: number;
  readonly createdAt: string;
  readonly software: string;
  readonly configIndex: number;
  readonly sites: number;
  readonly users: number;
  /** Names the master key that sealed the secrets (HKDF of it; says nothing about the key). */
  readonly keyId: string;
  /** The master key wrapped with the admin's passphrase; only when one was given. */
  readonly keyWrap?: KeyWrap;
}

export class BackupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackupError';
  }
}

export function keyIdOf(secrets: SecretBox): string {
  return secrets.deriveKey('backup-key-id').subarray(0, 16).toString('hex');
}

function deriveWrapKey(passphrase: string, salt: Buffer, params: { N: number; r: number; p: number }): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(passphrase, salt, 32, { ...params, maxmem: SCRYPT.maxmem }, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

export function passphraseProblem(passphrase: string): string | undefined {
  if (passphrase.length < MIN_PASSPHRASE_LENGTH) return `the backup passphrase must have at least ${MIN_PASSPHRASE_LENGTH} characters`;
  return undefined;
}

async function wrapKey(masterKey: Buffer, passphrase: string): Promise<KeyWrap> {
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const key = await deriveWrapKey(passphrase, salt, SCRYPT);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(BACKUP_FORMAT));
  const wrapped = Buffer.concat([cipher.update(masterKey), cipher.final()]);
  return { kdf: 'scrypt', N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p, salt: salt.toString('base64'), iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), wrappedKey: wrapped.toString('base64') };
}

export async function unwrapKey(wrap: KeyWrap, passphrase: string): Promise<Buffer> {
  // Bounded so a crafted manifest cannot make scrypt eat the machine.
  if (wrap.kdf !== 'scrypt' || !(wrap.N >= 2 ** 14 && wrap.N <= 2 ** 20) || wrap.r !== 8 || !(wrap.p >= 1 && wrap.p <= 4)) {
    throw new BackupError('the archive\'s key wrapping uses parameters this Ferry does not accept');
  }
  const key = await deriveWrapKey(passphrase, Buffer.from(wrap.salt, 'base64'), wrap);
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(wrap.iv, 'base64'));
  decipher.setAAD(Buffer.from(BACKUP_FORMAT));
  decipher.setAuthTag(Buffer.from(wrap.tag, 'base64'));
  try {
    return Buffer.concat([decipher.update(Buffer.from(wrap.wrappedKey, 'base64')), decipher.final()]);
  } catch {
    throw new BackupError('the passphrase does not open this backup; give the passphrase used for `ferry backup` (or the old node\'s secret.key with --key-file)');
  }
}

export async function createBackup(options: {
  readonly state: ConfigState;
  readonly secrets: SecretBox;
  readonly masterKey: Buffer;
  readonly software: string;
  readonly passphrase?: string | undefined;
  readonly now: Date;
}): Promise<Buffer> {
  if (options.passphrase !== undefined) {
    const problem = passphraseProblem(options.passphrase);
    if (problem) throw new BackupError(problem);
  }
  const manifest: BackupManifest = {
    format: BACKUP_FORMAT,
    formatVersion: BACKUP_FORMAT_VERSION,
    createdAt: options.now.toISOString(),
    software: options.software,
    configIndex: options.state.appliedIndex,
    sites: Object.keys(options.state.sites).length,
    users: Object.keys(options.state.users).length,
    keyId: keyIdOf(options.secrets),
    ...(options.passphrase === undefined ? {} : { keyWrap: await wrapKey(options.masterKey, options.passphrase) }),
  };
  const zip = new yazl.ZipFile();
  const mtime = options.now;
  zip.addBuffer(Buffer.from(JSON.stringify(manifest, null, 2) + '\n'), 'manifest.json', { mtime, mode: 0o600 });
  zip.addBuffer(Buffer.from(encodeSnapshot(options.state)), 'config.json', { mtime, mode: 0o600 });
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function unzip(bytes: Buffer): Promise<Map<string, Buffer>> {
  if (bytes.byteLength > MAX_BACKUP_BYTES) throw new BackupError(`the archive is ${bytes.byteLength} bytes; the limit is ${MAX_BACKUP_BYTES}`);
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.fromBuffer(bytes, { lazyEntries: true, strictFileNames: true, validateEntrySizes: true }, (error, file) => (error ? reject(new BackupError(`not a Ferry backup (not a readable zip: ${error.message})`)) : resolve(file))),
  );
  const limits: Record<string, number> = { 'manifest.json': MAX_MANIFEST_BYTES, 'config.json': MAX_BACKUP_BYTES * 4 };
  const entries = new Map<string, Buffer>();
  return new Promise((resolve, reject) => {
    const fail = (error: Error) => {
      zip.close();
      reject(error instanceof BackupError ? error : new BackupError(`the archive is damaged: ${error.message}`));
    };
    zip.on('error', fail);
    zip.on('end', () => resolve(entries));
    zip.on('entry', (entry: yauzl.Entry) => {
      const limit = limits[entry.fileName];
      if (limit === undefined || entries.has(entry.fileName)) return fail(new BackupError(`unexpected entry '${entry.fileName}': a Ferry backup holds manifest.json and config.json only`));
      if (entry.uncompressedSize > limit) return fail(new BackupError(`${entry.fileName} is ${entry.uncompressedSize} bytes; the limit is ${limit}`));
      zip.openReadStream(entry, (error, stream) => {
        if (error) return fail(error);
        const chunks: Buffer[] = [];
        let size = 0;
        stream.on('data', (chunk: Buffer) => {
          size += chunk.byteLength;
          if (size > limit) {
            stream.destroy();
            fail(new BackupError(`${entry.fileName} is larger than ${limit} bytes`));
          } else chunks.push(chunk);
        });
        stream.on('error', fail);
        stream.on('end', () => {
          entries.set(entry.fileName, Buffer.concat(chunks));
          zip.readEntry();
        });
      });
    });
    zip.readEntry();
  });
}

function parseManifest(bytes: Buffer | undefined): BackupManifest {
  if (bytes === undefined) throw new BackupError('not a Ferry backup: manifest.json is missing');
  let value: Partial<BackupManifest>;
  try {
    value = JSON.parse(bytes.toString('utf8')) as Partial<BackupManifest>;
  } catch {
    throw new BackupError('manifest.json is not JSON');
  }
  if (value === null || typeof value !== 'object' || value.format !== BACKUP_FORMAT) throw new BackupError(`not a Ferry backup: manifest.json format is not '${BACKUP_FORMAT}'`);
  if (value.formatVersion !== BACKUP_FORMAT_VERSION) {
    throw new BackupError(`backup format version ${String(value.formatVersion)} is not one this Ferry reads (${BACKUP_FORMAT_VERSION}); restore it with the Ferry version that wrote it (${String(value.software)})`);
  }
  if (typeof value.keyId !== 'string') throw new BackupError('manifest.json names no keyId');
  return value as BackupManifest;
}

export interface ReadBackup {
  readonly manifest: BackupManifest;
  readonly state: ConfigState;
}

/** Unzips and decodes: structure only; `checkSecrets` proves the key opens them. */
export async function readBackup(bytes: Buffer): Promise<ReadBackup> {
  const entries = await unzip(bytes);
  const manifest = parseManifest(entries.get('manifest.json'));
  const config = entries.get('config.json');
  if (config === undefined) throw new BackupError('the archive has no config.json');
  let state: ConfigState;
  try {
    state = decodeSnapshot(config);
  } catch (error) {
    throw new BackupError(`config.json does not fit: ${(error as Error).message}`);
  }
  return { manifest, state };
}

/** Every site host key must open with `secrets`: a restore never leaves a site that cannot start. */
export function checkSecrets(state: ConfigState, secrets: SecretBox): void {
  for (const site of Object.values(state.sites)) {
    site.hostKeys.forEach((key, index) => {
      try {
        secrets.open(key.privateKeyEncrypted, hostKeyContext(site.id, index));
      } catch {
        throw new BackupError(`site '${site.id}' host key ${index} does not open with this master key`);
      }
    });
  }
}

/**
 * The master key a backup's secrets were sealed with, from the old node's key file or the
 * passphrase; checked against the manifest's keyId.
 */
export async function backupKey(manifest: BackupManifest, from: { readonly keyFile?: Buffer | undefined; readonly passphrase?: string | undefined }): Promise<Buffer> {
  let key: Buffer;
  if (from.keyFile !== undefined) key = from.keyFile;
  else if (from.passphrase !== undefined) {
    if (manifest.keyWrap === undefined) throw new BackupError('this backup was taken without a passphrase; restore it with the old node\'s secret.key (--key-file FILE)');
    key = await unwrapKey(manifest.keyWrap, from.passphrase);
  } else {
    throw new BackupError(manifest.keyWrap === undefined ? 'this backup needs the old node\'s secret.key (--key-file FILE)' : 'this backup needs its passphrase (--passphrase-file FILE) or the old node\'s secret.key (--key-file FILE)');
  }
  let box: SecretBox;
  try {
    box = createSecretBox(key);
  } catch (error) {
    throw new BackupError(`the key file is not a Ferry master key: ${(error as Error).message}`);
  }
  if (keyIdOf(box) !== manifest.keyId) throw new BackupError('this key is not the one that sealed the backup\'s secrets (keyId differs); give the secret.key of the node the backup came from');
  return key;
}
