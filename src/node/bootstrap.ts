// First start: a new data directory gets the site `default` (SSH/SFTP/SCP on the requested
// address, fresh host keys, secure algorithm defaults), a disk VFS with a parametric target so
// every user gets their own directory, and a first user with a random password shown once.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { hashPassword } from '../auth/passwords.ts';
import type { Command, CommandBody } from '../config/commands.ts';
import { envelope } from '../config/ids.ts';
import { defaultSite } from '../config/initial.ts';
import type { SecretBox } from '../config/secrets.ts';
import type { FtpBinding, Site } from '../config/model/site.ts';
import { PERMISSIONS } from '../config/model/permissions.ts';
import { generateHostKeys } from '../protocols/ssh/host-keys.ts';

export const DEFAULT_SITE_ID = 'default';
/** The binding a new node stores for its default site (what `ferry start --help` promises). */
export const DEFAULT_SSH_HOST = '0.0.0.0';
export const DEFAULT_SSH_PORT = 2222;
export const DEFAULT_VFS_ID = 'default-home';
export const FIRST_USERNAME = 'ferry';
export const INITIAL_CREDENTIALS_FILE = 'initial-credentials.txt';

export function hostKeyContext(siteId: string, index: number): string {
  return `site/${siteId}/hostkey/${index}`;
}

export interface FirstStart {
  readonly commands: readonly Command[];
  readonly username: string;
  readonly password: string;
}

function command(body: CommandBody): Command {
  return { ...envelope('system:first-start'), ...body } as Command;
}

export async function planFirstStart(options: {
  dataDir: string;
  host: string;
  port: number;
  secrets: SecretBox;
  /** FTP/FTPS bindings asked for at the first start (--ftp-port, --ftps-port): the first user may use them over TLS. */
  ftpBindings?: readonly FtpBinding[];
}): Promise<FirstStart> {
  const generated = await generateHostKeys({ comment: `ferry@${DEFAULT_SITE_ID}` });
  const hostKeys = generated.map((key, index) => ({
    algorithm: key.algorithm,
    publicKey: key.publicKey,
    privateKeyEncrypted: options.secrets.seal(key.privateKeyPem, hostKeyContext(DEFAULT_SITE_ID, index)),
  }));
  // 18 random bytes: 24 base64url characters, about 144 bits.
  const password = randomBytes(18).toString('base64url');
  const ftp = options.ftpBindings ?? [];
  const commands = [
    command({ type: 'site.put', site: withFtp(defaultSite({ id: DEFAULT_SITE_ID, host: options.host, port: options.port, hostKeys }), ftp) }),
    command({
      type: 'vfs.put',
      // {{node_files}}: each node's own <data>/files, so the replicated profile names no node's path.
      vfs: { id: DEFAULT_VFS_ID, name: 'Home directories', kind: 'disk', target: '{{node_files}}/{{username}}' },
    }),
    command({
      type: 'user.put',
      user: {
        username: FIRST_USERNAME,
        siteId: DEFAULT_SITE_ID,
        enabled: true,
        description: 'First user, created at first start',
        passwordHash: await hashPassword(password),
        authorizedKeys: [],
        authMethods: ['password', 'publickey'],
        // Plain FTP stays off: over FTP the first user logs in with TLS only (FTPES, FTPS).
        subsystems: ['ssh2_sftp', 'ssh2_scp', ...(ftp.some((b) => b.protocol === 'ftp') ? ['ftpes' as const] : []), ...(ftp.some((b) => b.protocol === 'ftps') ? ['ftps' as const] : [])],
        permissions: [...PERMISSIONS],
        homeVfsId: DEFAULT_VFS_ID,
        virtualFolders: [],
        permissionOverrides: [],
      },
    }),
  ];
  return { commands, username: FIRST_USERNAME, password };
}

function withFtp(site: Site, ftp: readonly FtpBinding[]): Site {
  return ftp.length === 0 ? site : { ...site, bindings: [...site.bindings, ...ftp] };
}

export const INITIALIZED_MARKER = 'initialized';

/**
 * First start until the marker exists: it is written only after every first-start command is
 * applied and the credentials are saved, so a crash halfway (a site but no user, or a user whose
 * password nobody saw) is redone on the next start instead of leaving a node nobody can use.
 */
export function isFirstStart(dataDir: string): boolean {
  return !existsSync(path.join(dataDir, INITIALIZED_MARKER));
}

export async function markInitialized(dataDir: string): Promise<void> {
  await writeFile(path.join(dataDir, INITIALIZED_MARKER), `${new Date().toISOString()}\n`, { mode: 0o600 });
}

export async function writeInitialCredentials(dataDir: string, first: FirstStart, where: string, passwdCommand: string): Promise<string> {
  const file = path.join(dataDir, INITIAL_CREDENTIALS_FILE);
  await writeFile(
    file,
    `Ferry first user (site ${DEFAULT_SITE_ID}): ${first.username} / ${first.password}\nConnect: sftp -P <port> ${first.username}@${where}\nChange it with: ${passwdCommand}\nDelete this file once you have changed or stored the password.\n`,
    { mode: 0o600 },
  );
  return file;
}
