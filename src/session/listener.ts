// The TCP side of every protocol's listener, before and around the protocol: each accepted
// socket is admitted or refused (admission.ts) before the protocol sees a byte, holds its slot
// until it closes, is bounded by an identification and a login grace timer from accept, and
// says why it closed in the application log. Closing the listener drains: idle connections are
// ended at once, busy ones (a transfer under way) get the close grace period, then are cut.
// The protocol only takes the socket (`serve`) and reports what happened on it: identified,
// logged in, busy or idle, said goodbye, and how to end it politely.
// The Protector (protector/protector.ts) decides first, on the bare socket: a refused address
// costs an accept and a reset, nothing more; admitted connections report how they ended, and
// the Protector alone decides whether that was a strike.
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import type { Logger } from 'pino';
import { Admission, RefusalLog, sourceOf } from './admission.ts';
import type { AdmissionLimits, AdmissionTicket, RefusalReason, RefusalSummary } from './admission.ts';
import type { ConnectionInfo } from './types.ts';
import { readProxyHeader } from './proxy-protocol.ts';
import type { Protector } from '../protector/protector.ts';
import { parseAddress, strikeKey } from '../protector/addresses.ts';

/** What the listener asks of the node's Protector. */
export type ConnectionGuard = Pick<Protector, 'check' | 'opened' | 'closed' | 'subscribe' | 'trustsProxy'>;

export interface ListenerOptions {
  /** Log prefix and wording: `ssh`, later `ftp`, `https`. */
  readonly protocol: string;
  /** For the error a failed bind throws: `SSH`, `FTP`. */
  readonly label: string;
  readonly siteId: string;
  readonly bind: { readonly host: string; readonly port: number };
  readonly logger: Logger;
  /** Read per connection, so an administrator can tighten them during a flood without a restart. */
  readonly limits: () => AdmissionLimits;
  /** On close: how long busy connections may run before they are cut. */
  readonly closeGraceMs: number;
  /** Why a connection closed that the server ended before it identified itself. */
  readonly unidentifiedReason: string;
  /** Hands an admitted connection to the protocol; a throw closes it. */
  readonly serve: (connection: AdmittedConnection) => void;
  /** Clock for durations and refusal intervals. */
  readonly now?: () => number;
  /** Random source of early drop (Math.random). */
  readonly random?: () => number;
  /** The node's Protector; without it every address is admitted (unit tests of other parts). */
  readonly protector?: ConnectionGuard;
  /**
   * The binding is behind a load balancer that sends the PROXY protocol (v1 or v2): only the
   * site's trusted sources may connect, each must send a header first, and the client it names
   * is who the Protector, admission and every log see. Fail closed: any other source is refused,
   * since whatever header it sent would be a forged address.
   */
  readonly proxyProtocol?: boolean;
}

export interface Listener {
  readonly address: { host: string; port: number };
  /** Set once close() began: protocols refuse new work (channels, data connections). */
  readonly closing: boolean;
  /** The connection with this peer address, for protocols that only learn the peer. */
  find(remoteAddress: string, remotePort: number): AdmittedConnection | undefined;
  /** The connection on this socket, if still open. */
  of(socket: net.Socket): AdmittedConnection | undefined;
  /** Stops accepting, drains (see above), then resolves. Safe to call twice. */
  close(): Promise<void>;
}

/** A client that ignores a polite end is cut this long after. */
const CUT_AFTER_END_MS = 2_000;

/**
 * Connections of one source that may wait for their turn beyond its bound of strangers, and of
 * all sources together (each holds only a file descriptor, for the identification grace).
 */
const WAITING_PER_SOURCE = 64;
const WAITING_TOTAL = 256;

export function networkReason(code: string): string {
  // A client that closes its socket with unread data (paramiko, killed processes) resets it.
  return code === 'ECONNRESET' ? 'connection reset by the client (ECONNRESET)' : `network error (${code})`;
}

/** Who is at the other end: the TCP peer, or the client a trusted balancer's PROXY header names. */
interface Peer {
  readonly address: string;
  readonly port: number;
  /** The balancer's address when the client came through one. */
  readonly via?: string;
}

function connectionInfo(siteId: string, socket: net.Socket, peer: Peer): ConnectionInfo {
  return {
    connectionId: randomBytes(6).toString('base64url'),
    siteId,
    remoteAddress: peer.address,
    remotePort: peer.port,
    localAddress: socket.localAddress ?? '',
    localPort: socket.localPort ?? 0,
  };
}

export class AdmittedConnection {
  readonly socket: net.Socket;
  readonly info: ConnectionInfo;
  /** Gains the user once logged in. */
  log: Logger;
  /** Settles when the socket has closed. */
  readonly closed: Promise<void>;
  readonly #listener: { readonly closing: boolean };
  readonly #ticket: AdmissionTicket;
  readonly #identification: NodeJS.Timeout;
  readonly #login: NodeJS.Timeout;
  #identified = false;
  #loggedIn = false;
  #goodbye = false;
  #endedByServer = false;
  #busy = 0;
  #socketClosed = false;
  #closeReason: string | undefined;
  #firstEnd: 'client' | 'server' | undefined;
  #politeEnd: (() => void) | undefined;
  readonly #whenDone: (() => void)[] = [];

  constructor(socket: net.Socket, info: ConnectionInfo, log: Logger, ticket: AdmissionTicket, grace: { identificationMs: number; loginMs: number }, listener: { readonly closing: boolean }) {
    this.socket = socket;
    this.info = info;
    this.log = log;
    this.#ticket = ticket;
    this.#listener = listener;
    this.closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    this.#identification = this.#cutAfter(grace.identificationMs, 'identification grace time expired');
    this.#login = this.#cutAfter(grace.loginMs, 'login grace time expired');
    socket.on('error', (error: NodeJS.ErrnoException) => this.noteClose(networkReason(error.code ?? error.message)));
    socket.once('end', () => (this.#firstEnd ??= 'client'));
    socket.once('finish', () => (this.#firstEnd ??= 'server'));
  }

  get loggedIn(): boolean {
    return this.#loggedIn;
  }

  /** Tracked work under way (transfers); a draining listener waits for it. */
  get busy(): number {
    return this.#busy;
  }

  #cutAfter(ms: number, reason: string): NodeJS.Timeout {
    return setTimeout(() => this.cut(reason), ms);
  }

  /** The client identified itself (SSH: its identification line): the identification grace ends. */
  identified(): void {
    this.#identified = true;
    clearTimeout(this.#identification);
  }

  /** Logged in: the login grace ends and the connection no longer counts as a stranger's. */
  authenticated(): void {
    this.identified();
    clearTimeout(this.#login);
    this.#loggedIn = true;
    this.#ticket.authenticated();
  }

  /** The client said goodbye the protocol's way (SSH DISCONNECT, FTP QUIT): going away now is no violation. */
  goodbye(): void {
    this.#goodbye = true;
  }

  /** How the protocol ends this connection politely (SSH: a disconnect); else it is cut. */
  endWith(politeEnd: () => void): void {
    this.#politeEnd = politeEnd;
  }

  /** Why it closed, for the log: the first cause noted wins. */
  noteClose(reason: string): void {
    this.#closeReason ??= reason;
  }

  /** Ends politely; a client that ignores it is cut shortly after. */
  end(reason: string): void {
    this.#endedByServer = true;
    this.noteClose(reason);
    if (this.#politeEnd) this.#politeEnd();
    else this.socket.destroy();
    this.cutSoon();
  }

  cut(reason: string): void {
    this.#endedByServer = true;
    this.noteClose(reason);
    this.socket.destroy();
  }

  cutSoon(): void {
    setTimeout(() => this.socket.destroy(), CUT_AFTER_END_MS).unref();
  }

  /** Work starts (+1) or ends (-1); at zero a closed connection is done and a draining one ends. */
  track(delta: 1 | -1): void {
    this.#busy += delta;
    if (this.#busy > 0) return;
    if (this.#socketClosed) this.#done();
    else if (this.#listener.closing) this.end('server shutting down');
  }

  /** Runs `fn` once the socket has closed and no tracked work remains (SSH: the logout). */
  whenDone(fn: () => void): void {
    this.#whenDone.push(fn);
  }

  #done(): void {
    for (const fn of this.#whenDone.splice(0)) fn();
  }

  /** How it ended, for the Protector (valid once the socket closed). */
  get closeFacts(): { loggedIn: boolean; goodbye: boolean; endedByServer: boolean } {
    return { loggedIn: this.#loggedIn, goodbye: this.#goodbye, endedByServer: this.#endedByServer || this.#listener.closing };
  }

  /** The socket closed (called by the listener): releases the slot and logs why. */
  socketClosed(unidentifiedReason: string, durationMs: number, protocol: string): void {
    this.#socketClosed = true;
    clearTimeout(this.#identification);
    clearTimeout(this.#login);
    this.#ticket.release();
    // Before the identification nothing reports a cause: the server ending it means it could not read one.
    const reason = this.#closeReason ?? (!this.#identified && this.#firstEnd === 'server' ? unidentifiedReason : 'client closed');
    if (this.#busy === 0) this.#done();
    this.log.info({ reason, loggedIn: this.#loggedIn, durationMs }, `${protocol}: connection closed`);
  }
}

export async function listen(options: ListenerOptions): Promise<Listener> {
  const { logger, protocol, siteId } = options;
  const now = options.now ?? Date.now;
  const connections = new Map<net.Socket, AdmittedConnection>();
  const byPeer = new Map<string, AdmittedConnection>();
  const state = { closing: false };
  // Connections of a source at its bound wait here, unread, for one of its own to log in or
  // leave (at most WAITING_PER_SOURCE each, and no longer than the identification grace).
  const waiting = new Map<string, net.Socket[]>();
  // The client behind each socket that came through a trusted balancer.
  const proxied = new WeakMap<net.Socket, Peer>();
  const peerOf = (socket: net.Socket): Peer => proxied.get(socket) ?? { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 };
  const admission = new Admission(options.random, (source) => {
    const queue = waiting.get(source);
    const next = queue?.shift();
    if (queue !== undefined && queue.length === 0) waiting.delete(source);
    if (next !== undefined) setImmediate(() => admit(next));
  });
  const refusals = new RefusalLog({ intervalMs: () => options.limits().refusalLogIntervalMs, now, report: (summary) => logRefusals(logger, protocol, siteId, summary) });
  const refusalTicker = setInterval(() => refusals.tick(), 1_000).unref();

  const waitingTotal = (): number => {
    let n = 0;
    for (const queue of waiting.values()) n += queue.length;
    return n;
  };

  /** Parks a connection of a source at its bound; false when that source's wait list is full. */
  const wait = (socket: net.Socket, graceMs: number): boolean => {
    if (socket.destroyed) return true;
    const source = sourceOf(peerOf(socket).address);
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
      refusals.note(peerOf(socket).address, 'too many connections not yet logged in from this source');
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
    socket.on('error', () => {}); // the protocol and the connection report socket errors
    if (options.proxyProtocol) void throughBalancer(socket);
    else admit(socket);
  };

  /** A PROXY-protocol binding: a trusted source, then its header, then the client it names is admitted. */
  const throughBalancer = async (socket: net.Socket): Promise<void> => {
    const balancer = socket.remoteAddress ?? '';
    if (!(options.protector?.trustsProxy(siteId, balancer) ?? false)) {
      refusals.note(balancer, 'PROXY protocol from a source that is not trusted');
      socket.resetAndDestroy();
      return;
    }
    const read = await readProxyHeader(socket, options.limits().identificationGraceMs);
    if (read.status === 'closed' || socket.destroyed) return;
    if (read.status !== 'ok') {
      refusals.note(balancer, 'invalid PROXY protocol header');
      logger.info({ site: siteId, source: balancer, reason: read.status === 'invalid' ? read.reason : 'no header within the identification grace time' }, `${protocol}: PROXY protocol header refused`);
      socket.destroy();
      return;
    }
    // LOCAL (the balancer's own health check) or a client it cannot name: the balancer is the peer.
    if (read.header.command === 'proxy') proxied.set(socket, { address: read.header.source.address, port: read.header.source.port, via: balancer });
    admit(socket);
  };

  const admit = (socket: net.Socket): void => {
    if (socket.destroyed) return;
    const client = peerOf(socket);
    const remote = client.address;
    const verdict = options.protector?.check(siteId, remote);
    if (verdict !== undefined && !verdict.admit) {
      refusals.note(remote, verdict.reason);
      // A reset, as the reference product does ("Connection reset by peer"): no FIN handshake
      // and no TIME_WAIT left on our side by a flood.
      socket.resetAndDestroy();
      return;
    }
    const limits = options.limits();
    const decision = state.closing ? ({ admitted: false, reason: 'server closing' } as const) : admission.admit(remote, limits);
    if (!decision.admitted && decision.reason === 'too many connections not yet logged in from this source' && wait(socket, limits.identificationGraceMs)) return;
    if (!decision.admitted) {
      refusals.note(remote, decision.reason);
      socket.destroy();
      return;
    }
    const info = connectionInfo(siteId, socket, client);
    const log = logger.child({ site: siteId, conn: info.connectionId });
    const grace = { identificationMs: limits.identificationGraceMs, loginMs: limits.loginGraceMs };
    const connection = new AdmittedConnection(socket, info, log, decision.ticket, grace, state);
    // The TCP peer, as a protocol library that only learns the peer (ssh2) will name it.
    const peer = `${socket.remoteAddress ?? ''}|${socket.remotePort ?? 0}`;
    const accepted = now();
    connections.set(socket, connection);
    byPeer.set(peer, connection);
    connection.log.info({ remote: info.remoteAddress, port: info.remotePort, ...(client.via === undefined ? {} : { via: client.via }) }, `${protocol}: connection`);
    options.protector?.opened(info);
    socket.once('close', () => {
      connections.delete(socket);
      if (byPeer.get(peer) === connection) byPeer.delete(peer);
      connection.socketClosed(options.unidentifiedReason, now() - accepted, protocol);
      options.protector?.closed(info.connectionId, connection.closeFacts);
    });
    try {
      options.serve(connection);
      // A connection that waited for its turn was paused (what it sent stays buffered); the
      // protocol attaches its readers as it takes the socket, so let it flow once that is done.
      if (socket.isPaused()) setImmediate(() => socket.resume());
    } catch (error) {
      connection.log.error({ err: error }, `${protocol}: connection setup failed`);
      connection.cut('internal error: connection setup failed');
    }
  };

  const server = net.createServer(onSocket);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const where = `${options.bind.host}:${options.bind.port}`;
      const hint = error.code === 'EADDRINUSE' ? 'another process uses it; stop it or choose another port' : error.code === 'EACCES' ? 'ports below 1024 need privileges; choose a port above 1023' : error.message;
      clearInterval(refusalTicker);
      reject(new Error(`site ${siteId}: cannot listen for ${options.label} on ${where}: ${hint}`, { cause: error }));
    });
    server.listen(options.bind.port, options.bind.host, () => {
      server.removeAllListeners('error');
      resolve();
    });
  });
  server.on('error', (error) => logger.error({ err: error }, `${protocol}: listener error`));
  const bound = server.address() as net.AddressInfo;
  const address = { host: bound.address, port: bound.port };
  logger.info({ site: siteId, ...address }, `${protocol}: listening`);
  // An address blocked while it is connected loses its connections too ("kick the connection
  // and block the address"): a brute force does not get to finish its connection's tries.
  const unsubscribe = options.protector?.subscribe((event) => {
    if (event.type !== 'blocked' || event.siteId !== siteId) return;
    for (const connection of connections.values()) {
      const client = parseAddress(connection.info.remoteAddress);
      if (client !== undefined && strikeKey(client) === event.block.key) connection.cut(`blocked by the Protector (${event.block.reason})`);
    }
  });

  const drain = async (): Promise<void> => {
    state.closing = true;
    unsubscribe?.();
    for (const queue of waiting.values()) for (const socket of queue.splice(0)) socket.destroy();
    waiting.clear();
    clearInterval(refusalTicker);
    const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const connection of connections.values()) if (connection.busy === 0) connection.end('server shutting down');
    const allClosed = async () => {
      while (connections.size > 0) await new Promise((resolve) => setTimeout(resolve, 50));
    };
    const grace = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), options.closeGraceMs).unref());
    if ((await Promise.race([allClosed().then(() => 'done' as const), grace])) === 'timeout') {
      logger.warn({ connections: connections.size }, `${protocol}: transfers still running after the close grace period; cutting them`);
      for (const connection of connections.values()) connection.cut('server shutting down: transfer cut after the close grace period');
      // Destroyed sockets close within a tick or two: wait, so their close lines come before ours.
      await allClosed();
    }
    // The listener is closed: refusals counted since the last report would be lost otherwise.
    refusals.flush();
    await stopped;
    logger.info({ site: siteId }, `${protocol}: closed`);
  };
  let closed: Promise<void> | undefined;
  return {
    address,
    get closing() {
      return state.closing;
    },
    find: (remoteAddress, remotePort) => byPeer.get(`${remoteAddress}|${remotePort}`),
    of: (socket) => connections.get(socket),
    close: () => (closed ??= drain()),
  };
}

/** The first refusal from a source is logged at once; the rest of its interval as one count. */
function logRefusals(logger: Logger, protocol: string, siteId: string, summary: RefusalSummary): void {
  const { source, count, reasons, intervalMs } = summary;
  if (summary.first) {
    const reason = Object.keys(reasons)[0] as RefusalReason;
    logger.warn({ site: siteId, source, reason }, `${protocol}: connection refused, ${reason}; more from this source are counted and logged once per interval`);
  } else {
    logger.warn({ site: siteId, source, count, reasons, intervalMs }, `${protocol}: ${count} more connections refused from ${source}`);
  }
}
