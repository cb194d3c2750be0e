// Valid entities and commands for config tests; each test changes one thing.
import type { Command, CommandBody } from '../../../src/config/commands.ts';
import { apply } from '../../../src/config/apply.ts';
import { defaultSite, initialState } from '../../../src/config/initial.ts';
import type { Site } from '../../../src/config/model/site.ts';
import type { User } from '../../../src/config/model/user.ts';
import type { VfsProfile } from '../../../src/config/model/vfs-profile.ts';
import type { ConfigState } from '../../../src/config/state.ts';
import type { NodeFacts } from '../../../src/config/validate.ts';

export const PHC = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g';
export const SEALED = 'fsec1:' + Buffer.alloc(60, 7).toString('base64');
export const ED25519_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice@laptop';

/** The node the validation tests run on; its data directory is away from the fixtures' targets. */
export const NODE: NodeFacts = { dataDir: '/var/lib/ferry' };

let counter = 0;

export function command(body: CommandBody): Command {
  counter += 1;
  return { id: `cmd${counter}`, at: 1_700_000_000_000 + counter, actor: 'test', ...body } as Command;
}

export function site(overrides: Partial<Site> = {}): Site {
  return {
    ...defaultSite({ id: 'default', host: '127.0.0.1', port: 2222, hostKeys: [{ algorithm: 'ssh-ed25519', publicKey: ED25519_KEY, privateKeyEncrypted: SEALED }] }),
    ...overrides,
  };
}

export function vfs(overrides: Partial<VfsProfile> = {}): VfsProfile {
  return { id: 'home', name: 'Homes', kind: 'disk', target: '/srv/ferry/{{username}}', ...overrides };
}

export function user(overrides: Partial<User> = {}): User {
  return {
    username: 'alice',
    siteId: 'default',
    enabled: true,
    description: 'Alice',
    passwordHash: PHC,
    authorizedKeys: [ED25519_KEY],
    authMethods: ['password', 'publickey'],
    subsystems: ['ssh2_sftp', 'ssh2_scp'],
    permissions: ['dirList', 'fileGet'],
    homeVfsId: 'home',
    virtualFolders: [{ path: '/shared', vfsId: 'shared', permissions: ['dirList', 'fileGet'] }],
    permissionOverrides: [{ path: '/incoming', permissions: ['dirList', 'filePut'] }],
    ...overrides,
  };
}

/** Applies commands in order from `state`, failing loudly if one is refused. */
export function applyAll(commands: readonly Command[], state: ConfigState = initialState()): ConfigState {
  for (const cmd of commands) {
    const outcome = apply(state, { index: state.appliedIndex + 1, term: 1, command: cmd });
    if (!outcome.result.ok) throw new Error(`${cmd.type} refused: ${JSON.stringify(outcome.result.errors)}`);
    state = outcome.state;
  }
  return state;
}

/** A site, two VFS profiles and alice. */
export function populated(): ConfigState {
  return applyAll([
    command({ type: 'site.put', site: site() }),
    command({ type: 'vfs.put', vfs: vfs() }),
    command({ type: 'vfs.put', vfs: vfs({ id: 'shared', name: 'Shared', target: '/srv/shared' }) }),
    command({ type: 'user.put', user: user() }),
  ]);
}
