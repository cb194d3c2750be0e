// The FTP listener of one virtual site: FTP/FTPES (AUTH TLS on the same port) or implicit FTPS
// (TLS from the first byte, its own port). The TCP side is session/listener.ts, shared with SSH:
// every socket is admitted before FTP sees a byte, bounded in time, drained on close (idle
// connections get a 421, busy ones the close grace period) and logged when it closes. Each
// admitted connection is one FtpControl (control.ts); login is auth/login.ts, the files are the
// Session's. A bad client never takes the node down: every socket error is caught here or in
// the listener, and nothing here ever exits the process.
import type { Logger } from 'pino';
import type { LoginDeps } from '../../auth/login.ts';
import type { Subsystem } from '../../config/model/permissions.ts';
import { siteAdmission } from '../../config/model/site.ts';
import type { Site } from '../../config/model/site.ts';
import type { User } from '../../config/model/user.ts';
import type { ConfigView } from '../../config/view.ts';
import { expandVariables } from '../../session/greeting.ts';
import { listen } from '../../session/listener.ts';
import type { AdmittedConnection, ConnectionGuard, Listener } from '../../session/listener.ts';
import type { ConnectionInfo, Session } from '../../session/types.ts';
import { FtpControl } from './control.ts';
import { DEFAULT_FTP_LIMITS } from './settings.ts';
import type { FtpLimits, FtpSettings } from './settings.ts';

export interface FtpServerOptions {
  site: Site;
  /** `ftp`: FTP and FTPES (AUTH TLS); `ftps`: implicit TLS. */
  protocol: 'ftp' | 'ftps';
  /** `proxyProtocol`: a load balancer in front sends PROXY protocol headers (session/listener.ts). */
  bind: { host: string; port: number; proxyProtocol?: boolean | undefined };
  settings: FtpSettings;
  /** PEM key and certificate; required for `ftps`, and for AUTH TLS on `ftp`. */
  tls?: { key: string; cert: string } | undefined;
  getView: () => ConfigView;
  /** Called once per logged-in connection with the subsystem it uses (ftp, ftpes, ftps). */
  openSession: (user: User, connection: ConnectionInfo, protocol: Subsystem) => Promise<Session>;
  logger: Logger;
  login: LoginDeps;
  limits?: Partial<FtpLimits>;
  now?: () => number;
  random?: () => number;
  /** The node's Protector, asked at accept before FTP sees a byte; told how connections end. */
  protector?: ConnectionGuard;
}

export interface FtpServer {
  readonly address: { host: string; port: number };
  /** Stops accepting, lets in-flight transfers end within the grace period, then closes. */
  close(): Promise<void>;
}

/** The 220 reply's lines: the site's greeting with its variables, one reply line per text line. */
function greetingLines(site: Site, view: ConfigView, conn: AdmittedConnection, now: number): string[] {
  const text = expandVariables(site.greeting, { ...conn.info, serverName: view.settings.serverName, siteName: site.name, now });
  return text
    .split(/\r?\n/)
    .map((line) => line.replace(/[\x00-\x1f\x7f]/g, ' ').trimEnd())
    .filter((line, i, all) => line !== '' || (i > 0 && i < all.length - 1))
    .slice(0, 50);
}

export async function startFtpServer(options: FtpServerOptions): Promise<FtpServer> {
  const limits: FtpLimits = { ...DEFAULT_FTP_LIMITS, ...options.limits };
  const { site, logger } = options;
  const now = options.now ?? Date.now;
  if (options.protocol === 'ftps' && !options.tls) throw new Error(`site ${site.id}: implicit FTPS needs a TLS certificate`);
  const label = options.protocol === 'ftps' ? 'FTPS' : 'FTP';

  const serve = (conn: AdmittedConnection): void => {
    const view = options.getView();
    const current = view.site(site.id) ?? site;
    const control = new FtpControl({
      connection: conn,
      implicit: options.protocol === 'ftps',
      settings: options.settings,
      tls: options.tls,
      login: options.login,
      openSession: options.openSession,
      limits,
      greeting: greetingLines(current, view, conn, now()),
      closing: () => listener.closing,
      now,
    });
    control.start();
  };

  const listener: Listener = await listen({
    protocol: options.protocol,
    label,
    siteId: site.id,
    bind: options.bind,
    logger,
    limits: () => ({ ...siteAdmission(options.getView().site(site.id) ?? site), maxConnections: limits.maxConnections }),
    closeGraceMs: limits.closeGraceMs,
    unidentifiedReason: 'protocol error: no command received',
    serve,
    now,
    ...(options.random ? { random: options.random } : {}),
    ...(options.protector ? { protector: options.protector } : {}),
    ...(options.bind.proxyProtocol ? { proxyProtocol: true } : {}),
  });
  return { address: listener.address, close: listener.close };
}
