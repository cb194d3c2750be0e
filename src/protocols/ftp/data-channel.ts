// FTP data connections (RFC 959 section 3.2, RFC 2428): a passive listener the client connects
// to (PASV/EPSV), or an active connection back to the client (PORT/EPRT), and TLS on top of
// either (RFC 4217 section 9: the server speaks TLS as the server on data connections too).
// The safety rules of the data path live here, for every command that moves data:
//  - a passive listener accepts only a connection from the control connection's own address;
//    any other is refused and logged (someone is racing the client for its data: "FTP bounce" /
//    port stealing);
//  - an active connection goes only to the control connection's address, never to a port
//    below 1024 (the caller refuses such a PORT before it gets here);
//  - a TLS data connection must resume the control connection's TLS session when the site asks
//    for it: with one SecureContext (and its own ticket keys) per control connection, a resumed
//    session proves the data connection belongs to this control connection;
//  - nothing waits without a bound: unused listeners close, connects and handshakes time out.
import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from 'pino';
import { plainAddress } from './facts.ts';
import type { HostPort } from './facts.ts';
import type { FtpPassive } from './settings.ts';

export class DataConnectionError extends Error {
  /** The reply the client gets: 425 can't open, 522 TLS refused (RFC 4217 section 10). */
  readonly code: 425 | 522;
  constructor(code: 425 | 522, message: string) {
    super(message);
    this.code = code;
  }
}

/** Where the next transfer's data connection comes from. */
export interface DataEndpoint {
  /** The data connection, once it is there; rejects after `timeoutMs`. Call once. */
  take(timeoutMs: number): Promise<net.Socket>;
  close(): void;
}

function bindPort(server: net.Server, host: string, port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      if (error.code === 'EADDRINUSE' || error.code === 'EACCES') resolve(false);
      else reject(error);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve(true);
    };
    server.once('error', onError).once('listening', onListening);
    server.listen({ host, port, exclusive: true });
  });
}

export class PassiveEndpoint implements DataEndpoint {
  readonly port: number;
  readonly #server: net.Server;
  readonly #idle: NodeJS.Timeout;
  #socket: net.Socket | undefined;
  /** Handed to a transfer, which closes it from then on. */
  #taken = false;
  #waiter: { resolve: (socket: net.Socket) => void; reject: (error: Error) => void } | undefined;
  #closed = false;

  private constructor(server: net.Server, port: number, idleMs: number) {
    this.#server = server;
    this.port = port;
    this.#idle = setTimeout(() => this.close(), idleMs);
    this.#idle.unref();
  }

  /**
   * Listens on `host` at a free port of the range (0-0: any port the OS picks) for one data
   * connection from `allowedRemote`.
   */
  static async open(host: string, range: FtpPassive, allowedRemote: string, log: Logger, idleMs: number): Promise<PassiveEndpoint> {
    const made: { endpoint?: PassiveEndpoint } = {};
    const server = net.createServer({ pauseOnConnect: true }, (socket) => {
      if (made.endpoint) made.endpoint.#accept(socket, allowedRemote, log);
      else socket.destroy();
    });
    server.maxConnections = 4;
    const span = range.portMax - range.portMin + 1;
    const first = range.portMin === 0 ? 0 : Math.floor(Math.random() * span);
    let bound = false;
    for (let i = 0; i < (range.portMin === 0 ? 1 : span) && !bound; i++) {
      bound = await bindPort(server, host, range.portMin === 0 ? 0 : range.portMin + ((first + i) % span));
    }
    if (!bound) throw new DataConnectionError(425, 'No free passive port; try again later');
    server.on('error', (error) => log.warn({ err: error }, 'ftp: passive listener error'));
    made.endpoint = new PassiveEndpoint(server, (server.address() as net.AddressInfo).port, idleMs);
    return made.endpoint;
  }

  #accept(socket: net.Socket, allowedRemote: string, log: Logger): void {
    socket.on('error', () => {});
    const remote = plainAddress(socket.remoteAddress ?? '');
    if (remote !== plainAddress(allowedRemote)) {
      log.warn({ remote, port: socket.remotePort, expected: plainAddress(allowedRemote), passivePort: this.port }, 'ftp: data connection from another address refused');
      socket.destroy();
      return;
    }
    if (this.#socket !== undefined || this.#closed) {
      socket.destroy();
      return;
    }
    this.#socket = socket;
    // One data connection per passive listener: stop listening as soon as it is there.
    this.#server.close();
    clearTimeout(this.#idle);
    socket.once('close', () => {
      if (this.#waiter === undefined) this.close();
    });
    if (this.#waiter) {
      this.#taken = true;
      this.#waiter.resolve(socket);
    }
  }

  take(timeoutMs: number): Promise<net.Socket> {
    if (this.#socket && !this.#socket.destroyed && !this.#closed) {
      this.#taken = true;
      return Promise.resolve(this.#socket);
    }
    if (this.#closed || this.#socket) return Promise.reject(new DataConnectionError(425, "Can't open data connection: use PASV or EPSV first"));
    clearTimeout(this.#idle);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.close();
        reject(new DataConnectionError(425, "Can't open data connection: the client did not connect in time"));
      }, timeoutMs);
      this.#waiter = {
        resolve: (socket) => {
          clearTimeout(timer);
          resolve(socket);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#idle);
    this.#server.close();
    this.#waiter?.reject(new DataConnectionError(425, "Can't open data connection: it was closed"));
    this.#waiter = undefined;
    // Only a socket no transfer took is ours to close.
    if (this.#socket && !this.#taken) this.#socket.destroy();
  }
}

export class ActiveEndpoint implements DataEndpoint {
  readonly #target: HostPort;
  readonly #localAddress: string;

  constructor(target: HostPort, localAddress: string) {
    this.#target = target;
    this.#localAddress = localAddress;
  }

  take(timeoutMs: number): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: this.#target.host, port: this.#target.port, localAddress: plainAddress(this.#localAddress) || undefined });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new DataConnectionError(425, "Can't open data connection: the client did not answer in time"));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.pause();
        resolve(socket);
      });
      socket.once('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(new DataConnectionError(425, `Can't open data connection (${error.code ?? 'error'})`));
      });
    });
  }

  close(): void {
    // Nothing is open before take(), and what take() connected belongs to its transfer.
  }
}

/**
 * TLS as the server over an accepted or connected data socket, with the control connection's
 * SecureContext. Called after the 150 reply: clients start their handshake only once they see
 * it (lftp, rclone), so waiting for the handshake first deadlocks.
 */
export function secureDataSocket(socket: net.Socket, context: tls.SecureContext, requireReuse: boolean, timeoutMs: number): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const secure = new tls.TLSSocket(socket, { isServer: true, secureContext: context });
    const timer = setTimeout(() => fail(new DataConnectionError(425, 'TLS handshake on the data connection timed out')), timeoutMs);
    const fail = (error: DataConnectionError) => {
      clearTimeout(timer);
      secure.destroy();
      socket.destroy();
      reject(error);
    };
    secure.once('error', (error: Error) => fail(new DataConnectionError(522, `TLS on the data connection failed: ${error.message}`)));
    secure.once('secure', () => {
      clearTimeout(timer);
      secure.removeAllListeners('error');
      secure.on('error', () => {});
      if (requireReuse && !secure.isSessionReused()) {
        return fail(new DataConnectionError(522, 'Data connection refused: it must resume the TLS session of the control connection (TLS session reuse)'));
      }
      resolve(secure);
    });
  });
}
