// The SSH listener of one virtual site: transport and key exchange by ssh2 (with Ferry's patch
// set, see patches/), the site's algorithm policy, per-connection greeting and banner, user
// authentication (auth.ts), and session channels for SFTP and SCP (channels.ts).
//
// Ferry owns the TCP listener and hands sockets to ssh2 with `injectSocket`, so every socket is
// admitted or refused by session/admission.ts before ssh2 sees a byte (per-source and
// MaxStartups-style bounds on connections not logged in, refusals logged at a bounded rate),
// bounded by an identification and a login grace timer from accept, and closed on shutdown.
// Every closed connection is logged with why it closed. A bad client never takes the node
// down: every ssh2 and socket error is caught and logged here.
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import ssh2 from 'ssh2';
import type { Connection, ServerConfig } from 'ssh2';
import { siteAdmission } from '../../config/model/site.ts';
import type { Site } from '../../config/model/site.ts';
import type { User } from '../../config/model/user.ts';
import type { ConfigView } from '../../config/view.ts';
import { ConnectionLogin } from '../../auth/login.ts';
import type { LoginDeps } from '../../auth/login.ts';
import { Admission, RefusalLog, sourceOf } from '../../session/admission.ts';

/**
 * Connections of one source that may wait for their turn beyond its bound of strangers, and of
 * all sources together (each holds only a file descriptor, for the identification grace).
 */
const WAITING_PER_SOURCE = 64;
const WAITING_TOTAL = 256;
import type { AdmissionLimits, AdmissionTicket, RefusalReason, RefusalSummary } from '../../session/admission.ts';
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
  bind: { host: string; port: number };
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

interface ConnState {
  readonly socket: net.Socket;
  readonly info: ConnectionInfo;
  /** Gains the user once logged in. */
  log: Logger;
  readonly ticket: AdmissionTicket;
  readonly accepted: number;
  client?: Connection;
  channels: number;
  transfers: number;
  /** The connection's one Session, opened at login and closed once the socket and its channels are done. */
  session: Promise<Session> | undefined;
  socketClosed: boolean;
  timers: NodeJS.Timeout[];
  /** The client's identification string has arrived (ssh2 'connection'). */
  identified: boolean;
  authenticated: boolean;
  /** Why it closed: the first cause seen wins. */
  closeReason: string | undefined;
  /** Which side sent its FIN first. */
  firstEnd: 'client' | 'server' | undefined;
  readonly closed: Promise<void>;
}

/** Why ssh2 gave up on a connection, from the error it reported. */
function reasonForClientError(error: Error & { level?: string; code?: unknown }): string {
  if (error.level === 'client-timeout') return 'keepalive timeout: the client stopped answering';
  if (error.level === 'socket') return networkReason(typeof error.code === 'string' ? error.code : error.message);
  // A DISCONNECT message from the client carries its numeric reason code (RFC 4253 11.1).
  if (typeof error.code === 'number') return `client disconnected: ${error.message}`;
  return `protocol error: ${error.message}`;
}

function networkReason(code: string): string {
  // A client that closes its socket with unread data (paramiko, killed processes) resets it.
  return code === 'ECONNRESET' ? 'connection reset by the client (ECONNRESET)' : `network error (${code})`;
}

function finalReason(state: ConnState): string {
  if (state.closeReason !== undefined) return state.closeReason;
  // Before the identification ssh2 reports nothing: it ending the connection means it could
  // not read one.
  if (!state.identified && state.firstEnd === 'server') return 'protocol error: no valid identification string';
  return 'client closed';
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

function connectionInfo(siteId: string, socket: net.Socket): ConnectionInfo {
  return {
    connectionId: randomBytes(6).toString('base64url'),
    siteId,
    remoteAddress: socket.remoteAddress ?? '',
    remotePort: socket.remotePort ?? 0,
    localAddress: socket.localAddress ?? '',
    localPort: socket.localPort ?? 0,
  };
}

export async function startSshServer(options: SshServerOptions): Promise<SshServer> {
  const limits: SshLimits = { ...DEFAULT_SSH_LIMITS, ...options.limits };
  const { site, logger } = options;
  const validation = validateSshAlgorithms(site.sshAlgorithms);
  if (!validation.ok) throw new Error(`site ${site.id}: SSH algorithm policy refused: ${validation.errors.join('; ')}`);
  for (const warning of validation.warnings) logger.warn({ site: site.id }, `ssh: ${warning}`);
  const now = options.now ?? Date.now;
  const serveSftp = options.serveSftp ?? ((stream: Duplex, session: Session, log: Logger) => ferrySftp(stream, session, { log }));
  const states = new Map<net.Socket, ConnState>();
  const byPeer = new Map<string, ConnState>();
  let closing = false;
  // Read per connection, so an administrator can tighten them during a flood without a restart.
  const admissionLimits = (): AdmissionLimits => ({ ...siteAdmission(options.getView().site(site.id) ?? site), maxConnections: limits.maxConnections });
  // Connections of a source at its bound wait here, unread, for one of its own to log in or
  // leave (at most WAITING_PER_SOURCE each, and no longer than the identification grace).
  const waiting = new Map<string, net.Socket[]>();
  const admission = new Admission(options.random, (source) => {
    const queue = waiting.get(source);
    const next = queue?.shift();
    if (queue !== undefined && queue.length === 0) waiting.delete(source);
    if (next !== undefined) setImmediate(() => onSocket(next));
  });
  const refusals = new RefusalLog({ intervalMs: () => admissionLimits().refusalLogIntervalMs, now, report: (summary) => logRefusals(logger, site.id, summary) });
  const refusalTicker = setInterval(() => refusals.tick(), 1_000).unref();

  const greetingFor = (socket: net.Socket): { ident: string; banner: string } => {
    const state = states.get(socket);
    const view = options.getView();
    const ctx = { ...(state?.info ?? connectionInfo(site.id, socket)), serverName: view.settings.serverName, siteName: site.name, now: now() };
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
    const state = byPeer.get(`${info.ip}|${info.port}`);
    const log = state?.log ?? logger;
    // First of all: an 'error' without a listener would be thrown and take the node down.
    client.on('error', (error: Error & { level?: string }) => {
      if (state) state.closeReason ??= reasonForClientError(error);
      log.info({ err: error.message, level: error.level }, 'ssh: connection error');
      // ssh2 only ends the connection; a peer that answers nothing will not close its side.
      if (state && error.level === 'client-timeout') cutSoon(state.socket);
    });
    if (!state || closing) {
      if (state) state.closeReason ??= 'server shutting down';
      client.end();
      return;
    }
    state.client = client;
    state.identified = true;
    clearTimeout(state.timers.shift());
    const endBecause = (reason: string) => {
      state.closeReason ??= reason;
      client.end();
    };
    const login = new ConnectionLogin(options.login, { ...state.info, protocol: 'ssh' }, { maxFailures: limits.maxAuthTries, log });
    const auth = new SshAuth(login, site.sshAlgorithms, log, () => endBecause('too many failed login attempts'));
    client.on('authentication', (ctx) => auth.handle(ctx));
    client.on('ready', () => {
      for (const timer of state.timers.splice(0)) clearTimeout(timer);
      state.authenticated = true;
      state.ticket.authenticated();
      const user = auth.user;
      if (!user) return endBecause('internal error: logged in without a user');
      const log = (state.log = state.log.child({ user: user.username }));
      const session = (state.session = options.openSession(user, state.info, 'ssh'));
      // Each channel reports a failed open to its client; here it only must not go unhandled.
      session.catch((error: unknown) => log.info({ err: error }, 'ssh: the session could not be opened'));
      client.on('session', (accept, reject) => {
        if (closing || state.channels >= limits.maxChannelsPerConnection) {
          log.info({ channels: state.channels }, closing ? 'ssh: channel refused, server closing' : 'ssh: channel refused, too many channels');
          return reject();
        }
        const channel = accept();
        state.channels++;
        channel.once('close', () => state.channels--);
        handleSessionChannel(
          {
            session,
            log,
            serveSftp,
            track: (delta) => {
              state.transfers += delta;
              if (state.transfers > 0) return;
              if (state.socketClosed) closeSession(state);
              else if (closing) client.end();
            },
            connectionClosed: state.closed,
          },
          channel,
        );
      });
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

  const waitingTotal = (): number => {
    let n = 0;
    for (const q of waiting.values()) n += q.length;
    return n;
  };

  /** Parks a connection of a source at its bound; false when that source's wait list is full. */
  const wait = (socket: net.Socket, graceMs: number): boolean => {
    if (socket.destroyed) return true;
    const source = sourceOf(socket.remoteAddress ?? '');
    const queue = waiting.get(source) ?? [];
    if (queue.length >= WAITING_PER_SOURCE || waitingTotal() >= WAITING_TOTAL) return false;
    queue.push(socket);
    waiting.set(source, queue);
    socket.pause();
    const leave = () => {
      const q = waiting.get(source);
      const i = q?.indexOf(socket) ?? -1;
      if (q !== undefined && i >= 0) q.splice(i, 1);
      if (q !== undefined && q.length === 0) waiting.delete(source);
    };
    const timer = setTimeout(() => {
      if (!(waiting.get(source)?.includes(socket) ?? false)) return;
      leave();
      refusals.note(socket.remoteAddress ?? '', 'too many connections not yet logged in from this source');
      socket.destroy();
    }, graceMs);
    timer.unref();
    socket.once('close', () => {
      clearTimeout(timer);
      leave();
    });
    return true;
  };

  const onSocket = (socket: net.Socket): void => {
    if (socket.destroyed) return;
    socket.on('error', () => {}); // ssh2 reports socket errors through the client
    const policy = admissionLimits();
    const decision = closing ? ({ admitted: false, reason: 'server closing' } as const) : admission.admit(socket.remoteAddress ?? '', policy);
    if (!decision.admitted && decision.reason === 'too many connections not yet logged in from this source' && wait(socket, policy.identificationGraceMs)) return;
    if (!decision.admitted) {
      refusals.note(socket.remoteAddress ?? '', decision.reason);
      socket.destroy();
      return;
    }
    const info = connectionInfo(site.id, socket);
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const state: ConnState = {
      socket,
      info,
      log: logger.child({ site: site.id, conn: info.connectionId }),
      ticket: decision.ticket,
      accepted: now(),
      channels: 0,
      transfers: 0,
      session: undefined,
      socketClosed: false,
      timers: [],
      identified: false,
      authenticated: false,
      closeReason: undefined,
      firstEnd: undefined,
      closed,
    };
    const peer = `${info.remoteAddress}|${info.remotePort}`;
    states.set(socket, state);
    byPeer.set(peer, state);
    state.log.info({ remote: info.remoteAddress, port: info.remotePort }, 'ssh: connection');
    const cutAfter = (ms: number, reason: string) =>
      setTimeout(() => {
        state.closeReason ??= reason;
        socket.destroy();
      }, ms);
    // The identification timer is first: it is the one cleared when the identification arrives.
    state.timers.push(cutAfter(policy.identificationGraceMs, 'identification grace time expired'), cutAfter(policy.loginGraceMs, 'login grace time expired'));
    socket.on('error', (error: NodeJS.ErrnoException) => (state.closeReason ??= networkReason(error.code ?? error.message)));
    socket.once('end', () => (state.firstEnd ??= 'client'));
    socket.once('finish', () => (state.firstEnd ??= 'server'));
    socket.once('close', () => {
      state.socketClosed = true;
      if (state.transfers === 0) closeSession(state);
      for (const timer of state.timers.splice(0)) clearTimeout(timer);
      state.ticket.release();
      states.delete(socket);
      if (byPeer.get(peer) === state) byPeer.delete(peer);
      state.log.info({ reason: finalReason(state), loggedIn: state.authenticated, durationMs: now() - state.accepted }, 'ssh: connection closed');
    });
    try {
      ssh.injectSocket(socket);
      // A connection that waited for its turn was paused (what it sent stays buffered); ssh2
      // attaches its readers as it sets the connection up, so let it flow once that is done.
      if (socket.isPaused()) setImmediate(() => socket.resume());
    } catch (error) {
      state.closeReason ??= 'internal error: connection setup failed';
      state.log.error({ err: error }, 'ssh: connection setup failed');
      socket.destroy();
    }
  };
  const listener = net.createServer(onSocket);
  await new Promise<void>((resolve, reject) => {
    listener.once('error', (error: NodeJS.ErrnoException) => {
      const where = `${options.bind.host}:${options.bind.port}`;
      const hint = error.code === 'EADDRINUSE' ? 'another process uses it; stop it or choose another port' : error.code === 'EACCES' ? 'ports below 1024 need privileges; choose a port above 1023' : error.message;
      reject(new Error(`site ${site.id}: cannot listen for SSH on ${where}: ${hint}`, { cause: error }));
    });
    listener.listen(options.bind.port, options.bind.host, () => {
      listener.removeAllListeners('error');
      resolve();
    });
  });
  listener.on('error', (error) => logger.error({ err: error }, 'ssh: listener error'));
  const bound = listener.address() as net.AddressInfo;
  const address = { host: bound.address, port: bound.port };
  logger.info({ site: site.id, ...address }, 'ssh: listening');

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => (closed ??= shutdown());
  const shutdown = async (): Promise<void> => {
    closing = true;
    for (const queue of waiting.values()) for (const socket of queue.splice(0)) socket.destroy();
    waiting.clear();
    clearInterval(refusalTicker);
    const stopped = new Promise<void>((resolve) => listener.close(() => resolve()));
    for (const state of states.values()) if (state.transfers === 0) endConnection(state, 'server shutting down');
    const allClosed = async () => {
      while (states.size > 0) await new Promise((resolve) => setTimeout(resolve, 50));
    };
    const grace = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), limits.closeGraceMs).unref());
    if ((await Promise.race([allClosed().then(() => 'done' as const), grace])) === 'timeout') {
      logger.warn({ connections: states.size }, 'ssh: transfers still running after the close grace period; cutting them');
      for (const state of states.values()) {
        state.closeReason ??= 'server shutting down: transfer cut after the close grace period';
        state.socket.destroy();
      }
    }
    // The listener is closed: refusals counted since the last report would be lost otherwise.
    refusals.flush();
    await stopped;
    logger.info({ site: site.id }, 'ssh: closed');
  };
  return { address, close };
}

/** The first refusal from a source is logged at once; the rest of its interval as one count. */
function logRefusals(logger: Logger, siteId: string, summary: RefusalSummary): void {
  const { source, count, reasons, intervalMs } = summary;
  if (summary.first) {
    const reason = Object.keys(reasons)[0] as RefusalReason;
    logger.warn({ site: siteId, source, reason }, `ssh: connection refused, ${reason}; more from this source are counted and logged once per interval`);
  } else {
    logger.warn({ site: siteId, source, count, reasons, intervalMs }, `ssh: ${count} more connections refused from ${source}`);
  }
}

/** Logs the logout once nothing runs on the connection any more (channels end after the socket). */
function closeSession(state: ConnState): void {
  const session = state.session;
  state.session = undefined;
  void session?.then(
    (opened) => opened.close().catch((error: unknown) => state.log.warn({ err: error }, 'ssh: closing the session failed')),
    () => {},
  );
}

function endConnection(state: ConnState, reason: string): void {
  state.closeReason ??= reason;
  if (state.client) state.client.end();
  else state.socket.destroy();
  cutSoon(state.socket);
}

/** A client that ignores the disconnect is cut shortly after. */
function cutSoon(socket: net.Socket): void {
  setTimeout(() => socket.destroy(), 2_000).unref();
}
