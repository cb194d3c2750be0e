// A real Session over real disk storage in a temp directory, for tests of anything that sits on
// the Session (SFTP, SCP, FTP, HTTP handlers, and the Session itself).
//
//   const fx = await createSessionFixture({ permissions: ['dirList', 'fileGet'] });
//   t.after(fx.cleanup);
//   await fx.session.stat('/');           // the user's home is fx.homeDir on disk
//   fx.records                            // every transfer-log record written so far
//
// Defaults: user `alice` on site `default`, every permission, every subsystem, protocol
// `ssh2_sftp`, home VFS target `<dataDir>/homes/{{username}}` (created at login). Virtual
// folders get their own directory under `<dataDir>/folders/` unless a target is given.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { NodeFacts } from '../../src/config/disk-target.ts';
import { PERMISSIONS, SUBSYSTEMS } from '../../src/config/model/permissions.ts';
import type { Permission, Subsystem } from '../../src/config/model/permissions.ts';
import type { PermissionOverride, User } from '../../src/config/model/user.ts';
import type { Site } from '../../src/config/model/site.ts';
import type { VfsProfile } from '../../src/config/model/vfs-profile.ts';
import type { ConfigState } from '../../src/config/state.ts';
import { createView } from '../../src/config/view.ts';
import type { ConfigView } from '../../src/config/view.ts';
import type { TransferRecord } from '../../src/logging/transfer-log.ts';
import type { SessionHooks } from '../../src/session/hooks.ts';
import { openSession } from '../../src/session/session.ts';
import { DriverPool } from '../../src/vfs/pool.ts';
import type { OpenSessionOptions, SessionDeps } from '../../src/session/session.ts';
import type { ConnectionInfo, Session, SessionProtocol } from '../../src/session/types.ts';

export interface FixtureFolder {
  /** Virtual path where it is mounted, e.g. `/shared`. */
  readonly path: string;
  readonly permissions: readonly Permission[];
  /** VFS target (may be parametric); default `<dataDir>/folders/<n>`. */
  readonly target?: string;
}

export interface SessionFixtureOptions {
  readonly username?: string;
  readonly description?: string;
  readonly permissions?: readonly Permission[];
  readonly overrides?: readonly PermissionOverride[];
  readonly virtualFolders?: readonly FixtureFolder[];
  readonly subsystems?: readonly Subsystem[];
  /** `ssh`: a connection whose channels pick their subsystems (Session.channel). */
  readonly protocol?: SessionProtocol;
  /** Home VFS target; `{dataDir}` is replaced by the temp directory. */
  readonly homeTarget?: string;
  readonly now?: () => number;
  readonly sessionOptions?: OpenSessionOptions;
  /** The node's facts; default fixtureNode(dataDir). `{dataDir}` is replaced as in homeTarget. */
  readonly node?: NodeFacts;
  /** The Session's hooks (vetoes, events, transfer limits). */
  readonly hooks?: SessionHooks;
  /** The VFS back ends; default a pool of the real ones (give a fault-injecting factory here). */
  readonly drivers?: DriverPool;
}

export interface SessionFixture {
  readonly session: Session;
  readonly user: User;
  readonly view: ConfigView;
  readonly deps: SessionDeps;
  readonly connection: ConnectionInfo;
  /** The temp directory holding everything; removed by cleanup. */
  readonly dataDir: string;
  /** The user's home on disk (with the default home target). */
  readonly homeDir: string;
  /** Physical directory of the virtual folder mounted at `virtualPath` (default targets only). */
  folderDir(virtualPath: string): string;
  /** Transfer-log records written so far, in order. */
  readonly records: TransferRecord[];
  /** Another session of the same user (e.g. another protocol); closed by cleanup. */
  openAnother(protocol?: SessionProtocol, options?: OpenSessionOptions): Promise<Session>;
  cleanup(): Promise<void>;
}

const SITE: Site = {
  id: 'default',
  name: 'default',
  enabled: true,
  bindings: [{ protocol: 'ssh', host: '127.0.0.1', port: 0 }],
  hostKeys: [],
  sshAlgorithms: { kex: [], serverHostKey: [], cipher: [], hmac: [], compress: [] },
  greeting: 'Ferry',
  banner: '',
};

/** The node a fixture runs on: its data directory sits in the temp directory, apart from the homes. */
export function fixtureNode(dataDir: string, node?: NodeFacts): NodeFacts {
  return node ? { dataDir: node.dataDir.replace('{dataDir}', dataDir) } : { dataDir: path.join(dataDir, 'node') };
}

export function buildFixtureState(dataDir: string, options: SessionFixtureOptions = {}): { state: ConfigState; user: User } {
  const username = options.username ?? 'alice';
  const vfs: Record<string, VfsProfile> = {
    home: { id: 'home', name: 'home', kind: 'disk', target: (options.homeTarget ?? '{dataDir}/homes/{{username}}').replace('{dataDir}', dataDir) },
  };
  const virtualFolders = (options.virtualFolders ?? []).map((folder, i) => {
    const id = `folder-${i}`;
    vfs[id] = { id, name: id, kind: 'disk', target: folder.target ?? path.join(dataDir, 'folders', String(i)) };
    return { path: folder.path, vfsId: id, permissions: folder.permissions };
  });
  const user: User = {
    username,
    siteId: SITE.id,
    enabled: true,
    description: options.description ?? 'test user',
    passwordHash: '',
    authorizedKeys: [],
    authMethods: ['password'],
    subsystems: options.subsystems ?? SUBSYSTEMS,
    permissions: options.permissions ?? PERMISSIONS,
    homeVfsId: 'home',
    virtualFolders,
    permissionOverrides: options.overrides ?? [],
  };
  const state: ConfigState = {
    appliedIndex: 1,
    settings: { serverName: 'ferry-test' },
    sites: { [SITE.id]: SITE },
    users: { [`${SITE.id}/${username}`]: user },
    vfs,
  };
  return { state, user };
}

let connections = 0;

export async function createSessionFixture(options: SessionFixtureOptions = {}): Promise<SessionFixture> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'ferry-session-'));
  const { state, user } = buildFixtureState(dataDir, options);
  const view = createView(state);
  const records: TransferRecord[] = [];
  const deps: SessionDeps = {
    view,
    node: fixtureNode(dataDir, options.node),
    transferLog: { write: (record) => records.push(record) },
    logger: pino({ level: 'silent' }),
    now: options.now ?? Date.now,
    drivers: options.drivers ?? new DriverPool(),
    ...(options.hooks ? { hooks: options.hooks } : {}),
  };
  const connect = (): ConnectionInfo => ({
    connectionId: `test-${++connections}`,
    siteId: SITE.id,
    remoteAddress: '127.0.0.1',
    remotePort: 40000 + (connections % 20000),
    localAddress: '127.0.0.1',
    localPort: 2222,
  });
  const sessions: Session[] = [];
  const open = async (protocol: SessionProtocol, sessionOptions?: OpenSessionOptions) => {
    const session = await openSession(deps, view.user(SITE.id, user.username) as User, connect(), protocol, sessionOptions);
    sessions.push(session);
    return session;
  };
  let session: Session;
  try {
    session = await open(options.protocol ?? 'ssh2_sftp', options.sessionOptions);
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  return {
    session,
    user,
    view,
    deps,
    connection: session.connection,
    dataDir,
    homeDir: path.join(dataDir, 'homes', user.username),
    folderDir: (virtualPath) => {
      const i = user.virtualFolders.findIndex((folder) => folder.path === virtualPath);
      if (i < 0) throw new Error(`no virtual folder at ${virtualPath}`);
      return path.join(dataDir, 'folders', String(i));
    },
    records,
    openAnother: (protocol = 'ssh2_sftp', sessionOptions) => open(protocol, sessionOptions),
    cleanup: async () => {
      await Promise.allSettled(sessions.map((s) => s.close()));
      if (!options.drivers) await deps.drivers.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
