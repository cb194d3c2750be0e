// A site's FTP/FTPES and implicit FTPS listeners in the test process, over a real Session on
// real disk storage (session-fixture.ts's state), real login (auth/login.ts with hashed
// passwords), a self-signed certificate and 127.0.0.1 with ports chosen at run time. For tests
// that drive real FTP clients (lftp, curl, Python ftplib) against Ferry's FTP handler.
import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { logFailedLogins } from '../../src/auth/login.ts';
import { hashPassword, verifyAgainstDummy, verifyPassword } from '../../src/auth/passwords.ts';
import type { Permission, Subsystem } from '../../src/config/model/permissions.ts';
import type { Site } from '../../src/config/model/site.ts';
import type { User } from '../../src/config/model/user.ts';
import type { ConfigState } from '../../src/config/state.ts';
import { createView } from '../../src/config/view.ts';
import type { TransferRecord } from '../../src/logging/transfer-log.ts';
import { selfSignedCertificate } from '../../src/node/ftp-certificate.ts';
import type { TlsMaterial } from '../../src/node/ftp-certificate.ts';
import { startFtpServer } from '../../src/protocols/ftp/server.ts';
import type { FtpServer } from '../../src/protocols/ftp/server.ts';
import { DEFAULT_FTP_SECURITY } from '../../src/protocols/ftp/settings.ts';
import type { FtpLimits, FtpPassive, FtpSecurity } from '../../src/protocols/ftp/settings.ts';
import { openSession } from '../../src/session/session.ts';
import type { SessionDeps } from '../../src/session/session.ts';
import { DriverPool } from '../../src/vfs/pool.ts';
import { buildFixtureState, fixtureNode } from './session-fixture.ts';

export interface FtpTestUser {
  readonly username: string;
  readonly password: string;
  readonly permissions?: readonly Permission[];
  readonly subsystems?: readonly Subsystem[];
}

export interface FtpTestOptions {
  readonly users?: readonly FtpTestUser[];
  readonly security?: Partial<FtpSecurity>;
  readonly passive?: Partial<FtpPassive>;
  readonly limits?: Partial<FtpLimits>;
  readonly greeting?: string;
  readonly host?: string;
}

export interface FtpTestServer {
  readonly host: string;
  /** FTP / FTPES (AUTH TLS). */
  readonly port: number;
  /** Implicit FTPS. */
  readonly ftpsPort: number;
  readonly dataDir: string;
  homeOf(username: string): string;
  readonly records: TransferRecord[];
  /** Application log lines (JSON objects) written so far. */
  readonly logs: Record<string, unknown>[];
  readonly tls: TlsMaterial;
  /** Stops both listeners (as SIGTERM would) and removes the temporary directory. */
  stop(): Promise<void>;
  /** Stops the listeners only; resolves when drained. */
  close(): Promise<void>;
}

let certificate: TlsMaterial | undefined;
/** One certificate per test process: RSA key generation is the slow part. */
export function testCertificate(): TlsMaterial {
  certificate ??= selfSignedCertificate('localhost', ['localhost', '127.0.0.1']);
  return certificate;
}

export const FTP_PASSWORD = 'correct horse battery';

export async function startFtpTestServer(options: FtpTestOptions = {}): Promise<FtpTestServer> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'ferry-ftp-'));
  const users = options.users ?? [{ username: 'alice', password: FTP_PASSWORD }];
  const base = buildFixtureState(dataDir, { username: (users[0] as FtpTestUser).username });
  const template = base.user;
  const site: Site = { ...(base.state.sites.default as Site), greeting: options.greeting ?? 'Ferry {{site_name}} ready' };
  const userRecords: Record<string, User> = {};
  for (const u of users) {
    userRecords[`default/${u.username}`] = {
      ...template,
      username: u.username,
      passwordHash: await hashPassword(u.password),
      ...(u.permissions ? { permissions: u.permissions } : {}),
      ...(u.subsystems ? { subsystems: u.subsystems } : {}),
    };
    mkdirSync(path.join(dataDir, 'homes', u.username), { recursive: true });
  }
  const state: ConfigState = { ...base.state, sites: { default: site }, users: userRecords };
  const view = createView(state);
  const records: TransferRecord[] = [];
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  const logger = pino({ level: 'debug' }, sink);
  const drivers = new DriverPool();
  const deps: SessionDeps = { view, node: fixtureNode(dataDir), drivers, transferLog: { write: (r) => records.push(r) }, logger, now: Date.now };
  const login = { getView: () => view, verifyPassword, verifyAgainstDummy, now: Date.now, onOutcome: logFailedLogins({ write: (r) => records.push(r) }) };
  const tls = testCertificate();
  const settings = {
    security: { ...DEFAULT_FTP_SECURITY, ...options.security },
    passive: { portMin: 0, portMax: 0, ...options.passive },
  };
  const host = options.host ?? '127.0.0.1';
  const common = {
    site,
    settings,
    tls,
    getView: () => view,
    openSession: (user: User, connection: Parameters<typeof openSession>[2], protocol: Subsystem) => openSession(deps, user, connection, protocol),
    logger,
    login,
    limits: { closeGraceMs: 5_000, ...options.limits },
  };
  const servers: FtpServer[] = [];
  try {
    servers.push(await startFtpServer({ ...common, protocol: 'ftp', bind: { host, port: 0 } }));
    servers.push(await startFtpServer({ ...common, protocol: 'ftps', bind: { host, port: 0 } }));
  } catch (error) {
    await Promise.all(servers.map((s) => s.close()));
    throw error;
  }
  let closed: Promise<void> | undefined;
  const close = () => (closed ??= Promise.all(servers.map((s) => s.close())).then(() => drivers.close()));
  return {
    host,
    port: (servers[0] as FtpServer).address.port,
    ftpsPort: (servers[1] as FtpServer).address.port,
    dataDir,
    homeOf: (username) => path.join(dataDir, 'homes', username),
    records,
    logs,
    tls,
    close,
    stop: async () => {
      await close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
