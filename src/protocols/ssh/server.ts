// The SSH listener of one virtual site: transport and key exchange by ssh2 (with Ferry's patch
// set, see patches/), the site's algorithm policy, per-connection greeting and banner, user
// authentication (auth.ts over auth/login.ts), one Session per logged-in connection, and session
// channels for SFTP and SCP on it (channels.ts).
//
// The TCP side is session/listener.ts: it admits every socket before ssh2 sees a byte
// (`injectSocket`), bounds it in time, drains on close and logs why each connection closed;
// this file wires ssh2 to it. A bad client never takes the node down: every ssh2 error is
// caught and logged here.
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import ssh2 from 'ssh2';
import type { Connection, ServerConfig } from 'ssh2';
import { ConnectionLogin } from '../../auth/login.ts';
import type { LoginDeps } from '../../auth/login.ts';
import { siteAdmission } from '../../config/model/site.ts';
import type { Site } from '../../config/model/site.ts';
import type { User } from '../../config/model/user.ts';
import type { ConfigView } from '../../config/view.ts';
import { listen, networkReason } from '../../session/listener.ts';
import type { AdmittedConnection, ConnectionGuard, Listener } from '../../session/listener.ts';
import type { ConnectionInfo, Session, SessionProtocol } from '../../session/types.ts';
import { signatureAlgorithmsForKeyType, toSsh2Algorithms, validateSshAlgorithms } from './algorithms.ts';
import { SshAuth } from './auth.ts';
import { handleSessionChannel } from './channels.ts';
import { inspectHostKey } from './host-keys.ts';
import { serveSftp as ferrySftp } from './sftp/index.ts';
import { bannerText, expandVariables, identComment } from './variables.ts';

/** Per-listener bounds; the bounds on connections not yet logged in are the site's `admission`. */
export interface SshLimits {
  /** Failed authentication attempts per connection (OpenSSH MaxAuthTries: 6). */
  readonly maxAuthTries: number;
  /** Open session channels per connection (OpenSSH MaxSessions: 10). */
  readonly maxChannelsPerConnection: number;
  /** Concurrent connections to this site; more are closed at accept. */
  readonly maxConnections: number;
  /** On close: how long in-flight transfers may run before their connections are cut. */
  readonly closeGraceMs: number;
  /** Keepalive probe interval and unanswered probes before a dead peer is dropped. */
  readonly keepaliveIntervalMs: number;
  readonly keepaliveCountMax: number;
}

export const DEFAULT_SSH_LIMITS: SshLimits = Object.freeze({
  maxAuthTries: 6,
  maxChannelsPerConnection: 10,
  maxConnections: 1_000,
  closeGraceMs: 30_000,
  keepaliveIntervalMs: 15_000,
  keepaliveCountMax: 4,
});

export interface SshServerOptions {
  site: Site;
  /** Private keys in clear (decrypted by the caller with config/secrets). */
  hostKeys: { algorithm: string; privateKeyPem: string }[];
  /** `proxyProtocol`: a load balancer in front sends PROXY protocol headers (session/listener.ts). */
  bind: { host: string; port: number; proxyProtocol?: boolean | undefined };
  getView: () => ConfigView;
  /** Called once per logged-in connection with `ssh`; its channels take views of the session. */
  openSession: (user: User, connection: ConnectionInfo, protocol: SessionProtocol) => Promise<Session>;
  logger: Logger;
  /** Account policy and the auth-outcome event, shared by every protocol (auth/login.ts). */
  login: LoginDeps;
  /** Defaults to Ferry's SFTP server (./sftp/index.ts); `log` carries the connection and user. */
  serveSftp?: (stream: Duplex, session: Session, log: Logger) => Promise<void>;
  limits?: Partial<SshLimits>;
  /** Clock for greeting variables and refusal intervals. */
  now?: () => number;
  /** Random source of early drop (Math.random). */
  random?: () => number;
  /** The node's Protector, asked at accept before ssh2 sees a byte; told how connections end. */
  protector?: ConnectionGuard;
}

export interface SshServer {
  readonly address: { host: string; port: number };
  /** Stops accepting, lets in-flight transfers end within the grace period, then closes. */
  close(): Promise<void>;
}

/** The software version in our identification string; no version number is disclosed. */
const SOFTWARE = 'Ferry';
// RFC 4253 section 4.2: at most 255 characters including CR LF.
const MAX_COMMENT = 255 - 2 - 'SSH-2.0-'.length - SOFTWARE.length - 1;

/** Why ssh2 gave up on a connection, from the error it reported. */
function reasonForClientError(error: Error & { level?: string; code?: unknown }): string {
  if (error.level === 'client-timeout') return 'keepalive timeout: the client stopped answering';
  if (error.level === 'socket') return networkReason(typeof error.code === 'string' ? error.code : error.message);
  // A DISCONNECT message from the client carries its numeric reason code (RFC 4253 11.1).
  if (typeof error.code === 'number') return `client disconnected: ${error.message}`;
  return `protocol error: ${error.message}`;
}

/**
 * SSH's goodbye is the client's DISCONNECT message (RFC 4253 section 11.1; OpenSSH sends one,
 * "disconnected by user", whenever it exits normally). ssh2 handles it without telling the
 * application when the reason is BY_APPLICATION, so its per-connection handler is wrapped: the
 * listener must know whether the client left politely (the Protector's paranoid sensitivity).
 */
function noteGoodbye(client: Connection, conn: AdmittedConnection): void {
  const handlers = (client as unknown as { _protocol?: { _handlers?: Record<string, (...args: unknown[]) => unknown> } })._protocol?._handlers;
  const original = handlers?.DISCONNECT;
  if (handlers === undefined || original === undefined) return;
  handlers.DISCONNECT = (...args: unknown[]) => {
    conn.goodbye();
    return original(...args);
  };
}

function hostKeysFor(options: SshServerOptions): string[] {
  const policy = options.site.sshAlgorithms.serverHostKey;
  const rank = (type: string) => Math.min(...signatureAlgorithmsForKeyType(type).map((a) => (policy.includes(a) ? policy.indexOf(a) : Infinity)));
  const usable = options.hostKeys
    .map((key) => ({ pem: key.privateKeyPem, type: inspectHostKey(key.privateKeyPem).type }))
    .filter((key) => rank(key.type) !== Infinity)
    .sort((a, b) => rank(a.type) - rank(b.type));
  if (usable.length === 0) {
    throw new Error(`site ${options.site.id}: no host key matches the site's host-key algorithms (${policy.join(', ')}); add a key of one of these types or widen the policy`);
  }
  return usable.map((key) => key.pem);
}

export async function startSshServer(options: SshServerOptions): Promise<SshServer> {
  const limits: SshLimits = { ...DEFAULT_SSH_LIMITS, ...options.limits };
  const { site, logger } = options;
  const validation = validateSshAlgorithms(site.sshAlgorithms);
  if (!validation.ok) throw new Error(`site ${site.id}: SSH algorithm policy refused: ${validation.errors.join('; ')}`);
  for (const warning of validation.warnings) logger.warn({ site: site.id }, `ssh: ${warning}`);
  const now = options.now ?? Date.now;
  const serveSftp = options.serveSftp ?? ((stream: Duplex, session: Session, log: Logger) => ferrySftp(stream, session, { log }));

  const greetingFor = (socket: net.Socket): { ident: string; banner: string } => {
    // ssh2 asks only for sockets the listener handed over (below), which it knows.
    const info = listener.of(socket)?.info ?? { connectionId: '', siteId: site.id, remoteAddress: '', remotePort: 0, localAddress: '', localPort: 0 };
    const view = options.getView();
    const ctx = { ...info, serverName: view.settings.serverName, siteName: site.name, now: now() };
    return {
      ident: `${SOFTWARE} ${identComment(expandVariables(site.greeting, ctx), MAX_COMMENT)}`.trim(),
      banner: bannerText(expandVariables(site.banner, ctx)),
    };
  };
  // Never throws: ssh2 calls these inside its connection setup (Ferry patch: per-connection values).
  const safely = <T>(fn: () => T, fallback: T): T => {
    try {
      return fn();
    } catch (error) {
      logger.error({ err: error }, 'ssh: expanding the greeting failed');
      return fallback;
    }
  };
  const config = {
    hostKeys: hostKeysFor(options),
    algorithms: toSsh2Algorithms(site.sshAlgorithms),
    ident: (socket: net.Socket) => safely(() => greetingFor(socket).ident, SOFTWARE),
    banner: (socket: net.Socket) => safely(() => greetingFor(socket).banner, ''),
    keepaliveInterval: limits.keepaliveIntervalMs,
    keepaliveCountMax: limits.keepaliveCountMax,
  } as unknown as ServerConfig;
  const ssh = new ssh2.Server(config);

  const onClient = (client: Connection, info: { ip: string; port: number }): void => {
    const conn = listener.find(info.ip, info.port);
    const log = conn?.log ?? logger;
    // First of all: an 'error' without a listener would be thrown and take the node down.
    client.on('error', (error: Error & { level?: string }) => {
      conn?.noteClose(reasonForClientError(error));
      log.info({ err: error.message, level: error.level }, 'ssh: connection error');
      // ssh2 only ends the connection; a peer that answers nothing will not close its side.
      if (conn && error.level === 'client-timeout') conn.cutSoon();
    });
    if (!conn || listener.closing) {
      conn?.noteClose('server shutting down');
      client.end();
      return;
    }
    conn.endWith(() => client.end());
    noteGoodbye(client, conn);
    conn.identified();
    const login = new ConnectionLogin(options.login, { ...conn.info, protocol: 'ssh' }, { maxFailures: limits.maxAuthTries, log });
    const auth = new SshAuth(login, site.sshAlgorithms, log, () => conn.end('too many failed login attempts'));
    client.on('authentication', (ctx) => auth.handle(ctx));
    client.on('ready', () => {
      conn.authenticated();
      const user = auth.user;
      if (!user) return conn.end('internal error: logged in without a user');
      onLoggedIn(client, conn, user);
    });
  };

  /** One Session for the connection, served to each of its channels, closed when all are done. */
  const onLoggedIn = (client: Connection, conn: AdmittedConnection, user: User): void => {
    const log = (conn.log = conn.log.child({ user: user.username }));
    const session = options.openSession(user, conn.info, 'ssh');
    // Each channel reports a failed open to its client; here it only must not go unhandled.
    session.catch((error: unknown) => log.info({ err: error }, 'ssh: the session could not be opened'));
    conn.whenDone(() => {
      void session.then(
        (opened) => opened.close().catch((error: unknown) => log.warn({ err: error }, 'ssh: closing the session failed')),
        () => {},
      );
    });
    let channels = 0;
    client.on('session', (accept, reject) => {
      const closing = listener.closing;
      if (closing || channels >= limits.maxChannelsPerConnection) {
        log.info({ channels }, closing ? 'ssh: channel refused, server closing' : 'ssh: channel refused, too many channels');
        return reject();
      }
      const channel = accept();
      channels++;
      channel.once('close', () => channels--);
      handleSessionChannel({ session, log, serveSftp, track: (delta) => conn.track(delta), connectionClosed: conn.closed }, channel);
    });
  };
  ssh.on('connection', (client: Connection, info: { ip: string; port: number }) => {
    try {
      onClient(client, info);
    } catch (error) {
      logger.error({ err: error }, 'ssh: connection setup failed');
      client.end();
    }
  });
  ssh.on('error', (error: Error) => logger.warn({ err: error.message }, 'ssh: server error'));

  const listener: Listener = await listen({
    protocol: 'ssh',
    label: 'SSH',
    siteId: site.id,
    bind: options.bind,
    logger,
    // Read per connection, so an administrator can tighten them during a flood without a restart.
    limits: () => ({ ...siteAdmission(options.getView().site(site.id) ?? site), maxConnections: limits.maxConnections }),
    closeGraceMs: limits.closeGraceMs,
    unidentifiedReason: 'protocol error: no valid identification string',
    serve: (conn) => ssh.injectSocket(conn.socket),
    now,
    ...(options.random ? { random: options.random } : {}),
    ...(options.protector ? { protector: options.protector } : {}),
    ...(options.bind.proxyProtocol ? { proxyProtocol: true } : {}),
  });
  return { address: listener.address, close: listener.close };
}
