// One FTP control connection (RFC 959; TLS by RFC 4217; EPSV/EPRT by RFC 2428; MLSx, SIZE, MDTM,
// REST STREAM by RFC 3659): reads command lines, serves them one at a time in order, and
// translates each into Session calls. It decides nothing about files: every permission, path
// and confinement rule is the Session's, so FTP answers exactly what SFTP would.
//
// Reading goes on while a command is served, because ABOR must reach a running transfer
// (RFC 959 4.1.3); everything else waits its turn, and a client that pipelines more than
// `maxQueuedCommands` is no longer read until the queue shrinks.
import { randomBytes } from 'node:crypto';
import type net from 'node:net';
import { Readable } from 'node:stream';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tls from 'node:tls';
import type { Logger } from 'pino';
import { ConnectionLogin } from '../../auth/login.ts';
import type { LoginDeps } from '../../auth/login.ts';
import type { Subsystem } from '../../config/model/permissions.ts';
import type { User } from '../../config/model/user.ts';
import { WorkingDirectory } from '../../session/cwd.ts';
import { FerryError, isFerryError } from '../../session/errors.ts';
import type { AdmittedConnection } from '../../session/listener.ts';
import type { ChecksumAlgorithm, ConnectionInfo, Session } from '../../session/types.ts';
import { ActiveEndpoint, DataConnectionError, PassiveEndpoint, secureDataSocket } from './data-channel.ts';
import type { DataEndpoint } from './data-channel.ts';
import { MLST_FACTS, formatFacts, formatTimeVal, parseEprtArgument, parsePortArgument, parseTimeVal, pasvAddress, plainAddress } from './facts.ts';
import type { HostPort } from './facts.ts';
import { LineReader, parseCommand } from './line-reader.ts';
import type { Command } from './line-reader.ts';
import { listingPath, openListing } from './listings.ts';
import type { ListingKind } from './listings.ts';
import { formatReply, quotePath, replyForError } from './replies.ts';
import type { FtpLimits, FtpSettings } from './settings.ts';

export interface FtpControlDeps {
  readonly connection: AdmittedConnection;
  /** TLS from the first byte (implicit FTPS) instead of on AUTH TLS. */
  readonly implicit: boolean;
  readonly settings: FtpSettings;
  /** The site's certificate; absent: this listener offers no TLS. */
  readonly tls: { readonly key: string; readonly cert: string } | undefined;
  readonly login: LoginDeps;
  readonly openSession: (user: User, connection: ConnectionInfo, protocol: Subsystem) => Promise<Session>;
  readonly limits: FtpLimits;
  /** The 220 greeting's lines, expanded for this connection. */
  readonly greeting: readonly string[];
  /** Set once the listener drains: no new transfer starts. */
  readonly closing: () => boolean;
  readonly now: () => number;
}

type Handler = (arg: string) => Promise<void> | void;

interface Row {
  /** Served before login too (the rest answer 530 until then). */
  readonly open?: boolean;
  readonly run: Handler;
}

/** A transfer under way, for ABOR and for the end of the control connection. */
interface ActiveTransfer {
  aborted: boolean;
  abort(reason: FerryError): void;
}

const CHECKSUMS: Readonly<Record<string, { algorithm: ChecksumAlgorithm; name: string }>> = {
  XSHA256: { algorithm: 'sha256', name: 'SHA-256' },
  XSHA512: { algorithm: 'sha512', name: 'SHA-512' },
  XSHA1: { algorithm: 'sha1', name: 'SHA-1' },
  XMD5: { algorithm: 'md5', name: 'MD5' },
  XCRC: { algorithm: 'crc32', name: 'CRC32' },
};

const MAX_USERNAME = 256;

export class FtpControl {
  readonly #deps: FtpControlDeps;
  readonly #conn: AdmittedConnection;
  readonly #log: () => Logger;
  readonly #reader = new LineReader();
  readonly #commands: Readonly<Record<string, Row>>;
  #socket: net.Socket | tls.TLSSocket;
  #secure = false;
  #context: tls.SecureContext | undefined;
  #login: ConnectionLogin;
  #pendingUser: string | undefined;
  #session: Session | undefined;
  #cwd: WorkingDirectory | undefined;
  #protected = false;
  #pbsz = false;
  #rest = 0;
  #renameFrom: string | undefined;
  #epsvAll = false;
  #data: DataEndpoint | undefined;
  #active: ActiveTransfer | undefined;
  #chain: Promise<void> = Promise.resolve();
  #queued = 0;
  #identified = false;
  #idle: NodeJS.Timeout | undefined;
  #ended = false;

  constructor(deps: FtpControlDeps) {
    this.#deps = deps;
    this.#conn = deps.connection;
    this.#socket = deps.connection.socket;
    this.#log = () => this.#conn.log;
    this.#login = new ConnectionLogin(deps.login, this.#loginFacts(), { maxFailures: deps.limits.maxAuthTries, log: deps.connection.log });
    this.#commands = this.#table();
  }

  /** Takes over the admitted socket: TLS first on an implicit port, then the greeting. */
  start(): void {
    const raw = this.#conn.socket;
    raw.once('close', () => this.#onClosed());
    this.#conn.endWith(() => this.#endPolitely());
    if (this.#deps.implicit) {
      if (!this.#deps.tls) throw new Error('implicit FTPS needs a certificate');
      this.#socket = this.#upgrade(raw);
    } else {
      raw.on('data', this.#onData);
    }
    this.#reply(220, this.#deps.greeting.length > 0 ? this.#deps.greeting : ['Ferry FTP server ready']);
  }

  #loginFacts() {
    const info = this.#conn.info;
    return { protocol: this.#subsystem(), siteId: info.siteId, connectionId: info.connectionId, remoteAddress: info.remoteAddress, remotePort: info.remotePort };
  }

  /** What the user must be allowed: ftps on the implicit port, ftpes after AUTH TLS, else ftp. */
  #subsystem(): Subsystem {
    if (this.#deps.implicit) return 'ftps';
    return this.#secure ? 'ftpes' : 'ftp';
  }

  // ---- reading --------------------------------------------------------------------------

  readonly #onData = (chunk: Buffer): void => {
    for (const event of this.#reader.push(chunk)) {
      if (event.kind === 'too-long') {
        this.#enqueue({ verb: '', arg: '' }, () => this.#reply(500, 'Command line too long'));
        continue;
      }
      const command = parseCommand(event.line.trimStart());
      if (command.verb === 'ABOR' && this.#active) {
        this.#active.abort(new FerryError('aborted', 'the client aborted the transfer (ABOR)'));
        continue;
      }
      if (command.verb === 'AUTH' && !this.#secure) {
        // Nothing the client sent after AUTH may run, neither in clear text nor inside TLS.
        this.#reader.discard();
        this.#socket.pause();
        this.#socket.off('data', this.#onData);
        this.#enqueue(command, () => this.#auth(command.arg));
        return;
      }
      this.#enqueue(command, () => this.#dispatch(command));
    }
  };

  #enqueue(command: Command, serve: () => Promise<void> | void): void {
    this.#queued++;
    if (this.#queued >= this.#deps.limits.maxQueuedCommands) this.#socket.pause();
    this.#chain = this.#chain
      .then(serve)
      .catch((error: unknown) => this.#log().error({ err: error, verb: command.verb }, 'ftp: a command failed unexpectedly'))
      .finally(() => {
        this.#queued--;
        if (this.#queued < this.#deps.limits.maxQueuedCommands && !this.#ended && command.verb !== 'AUTH') this.#socket.resume();
      });
  }

  async #dispatch(command: Command): Promise<void> {
    if (this.#ended) return;
    if (!this.#identified) {
      this.#identified = true;
      this.#conn.identified();
    }
    this.#touch();
    const { verb, arg } = command;
    // REST and RNFR hold only for the command right after them.
    const rest = this.#rest;
    const renameFrom = this.#renameFrom;
    this.#rest = 0;
    this.#renameFrom = undefined;
    const row = this.#commands[verb];
    if (!row) return this.#reply(502, /^[A-Z]{1,8}$/.test(verb) ? `Command not implemented: ${verb}` : 'Command not implemented');
    if (!row.open && !this.#session) return this.#reply(530, 'Please log in with USER and PASS first');
    this.#log().debug({ verb }, 'ftp: command');
    try {
      if (verb === 'RETR' || verb === 'STOR') await this.#transferFile(verb, arg, rest);
      else if (verb === 'RNTO') await this.#rnto(arg, renameFrom);
      else await row.run(arg);
    } catch (error) {
      this.#replyError(error, verb);
    }
  }

  #replyError(error: unknown, verb: string): void {
    const reply = replyForError(error);
    if (!reply.known) this.#log().error({ err: error, verb }, 'ftp: command failed');
    else if (isFerryError(error)) this.#log().info({ verb, kind: error.kind, detail: error.detail }, 'ftp: command refused');
    this.#reply(reply.code, reply.message);
  }

  // ---- writing and ending ---------------------------------------------------------------

  #reply(code: number, text: string | readonly string[]): void {
    if (this.#socket.destroyed || this.#socket.writableEnded) return;
    this.#socket.write(formatReply(code, text));
  }

  /** The idle timer runs while logged in and no transfer runs. */
  #touch(): void {
    clearTimeout(this.#idle);
    if (!this.#session || this.#active || this.#ended) return;
    this.#idle = setTimeout(() => {
      this.#reply(421, 'Timeout: closing the control connection');
      this.#conn.end('idle timeout');
    }, this.#deps.limits.idleMs);
    this.#idle.unref();
  }

  #endPolitely(): void {
    this.#reply(421, 'Service not available, closing control connection');
    this.#quit();
  }

  #quit(): void {
    this.#ended = true;
    this.#socket.end();
  }

  #onClosed(): void {
    this.#ended = true;
    clearTimeout(this.#idle);
    this.#active?.abort(new FerryError('incomplete', 'the control connection closed during the transfer'));
    this.#data?.close();
    this.#data = undefined;
  }

  // ---- TLS --------------------------------------------------------------------------------

  #secureContext(): tls.SecureContext {
    const material = this.#deps.tls as { key: string; cert: string };
    // Own ticket keys per control connection: a data connection that resumes a session of this
    // context can only have come from this control connection's client.
    this.#context ??= tls.createSecureContext({ key: material.key, cert: material.cert, ticketKeys: randomBytes(48), minVersion: 'TLSv1.2' });
    return this.#context;
  }

  #upgrade(raw: net.Socket): tls.TLSSocket {
    const secure = new tls.TLSSocket(raw, { isServer: true, secureContext: this.#secureContext() });
    secure.on('error', (error: Error) => {
      this.#conn.noteClose(`TLS error: ${error.message}`);
      this.#log().info({ err: error.message }, 'ftp: TLS error on the control connection');
      raw.destroy();
    });
    secure.on('data', this.#onData);
    this.#secure = true;
    this.#login = new ConnectionLogin(this.#deps.login, this.#loginFacts(), { maxFailures: this.#deps.limits.maxAuthTries, log: this.#conn.log });
    return secure;
  }

  /** AUTH TLS (RFC 4217 section 4): 234, then the TLS handshake on the same connection. */
  #auth(arg: string): void {
    if (this.#ended) return;
    const resume = () => {
      this.#socket.on('data', this.#onData);
      this.#socket.resume();
    };
    if (!this.#identified) {
      this.#identified = true;
      this.#conn.identified();
    }
    const mechanism = arg.trim().toUpperCase();
    if (!['TLS', 'TLS-C', 'SSL', 'TLS-P'].includes(mechanism)) {
      this.#reply(504, 'AUTH mechanism not supported; use AUTH TLS');
      return resume();
    }
    if (!this.#deps.tls) {
      this.#reply(502, 'TLS is not available on this server');
      return resume();
    }
    if (this.#session) {
      this.#reply(503, 'AUTH TLS must come before login');
      return resume();
    }
    this.#reply(234, 'AUTH TLS successful');
    this.#pendingUser = undefined;
    this.#socket = this.#upgrade(this.#socket as net.Socket);
  }

  // ---- the command table ----------------------------------------------------------------

  #table(): Record<string, Row> {
    const open = (run: Handler): Row => ({ open: true, run });
    const login = (run: Handler): Row => ({ run });
    const pwd = login(() => this.#reply(257, `${quotePath(this.#dir().path)} is the current directory`));
    const cwd = login(async (arg) => {
      const path = await this.#dir().change(arg);
      this.#reply(250, `Directory changed to ${path}`);
    });
    const cdup = login(async () => {
      const path = await this.#dir().up();
      this.#reply(250, `Directory changed to ${path}`);
    });
    const mkd = login(async (arg) => {
      const path = this.#path(arg);
      await this.#need().mkdir(path);
      this.#reply(257, `${quotePath(path)} created`);
    });
    const rmd = login(async (arg) => {
      await this.#need().rmdir(this.#path(arg));
      this.#reply(250, 'Directory removed');
    });
    const table: Record<string, Row> = {
      USER: open((arg) => this.#user(arg)),
      PASS: open((arg) => this.#pass(arg)),
      PBSZ: open((arg) => this.#pbszCommand(arg)),
      PROT: open((arg) => this.#prot(arg)),
      FEAT: open(() => this.#reply(211, ['Features:', ...this.#features().map((f) => ` ${f}`), 'End'])),
      SYST: open(() => this.#reply(215, 'UNIX Type: L8')),
      NOOP: open(() => this.#reply(200, 'NOOP ok')),
      QUIT: open(() => {
        this.#reply(221, 'Goodbye');
        this.#conn.goodbye();
        this.#conn.noteClose('client quit');
        this.#quit();
      }),
      OPTS: open((arg) => this.#opts(arg)),
      HELP: open(() => this.#reply(214, ['The following commands are recognized:', ` ${Object.keys(this.#commands).sort().join(' ')}`, 'Help OK'])),
      ABOR: open(() => this.#reply(225, 'No transfer to abort')),
      TYPE: open((arg) => this.#type(arg)),
      MODE: open((arg) => (arg.trim().toUpperCase() === 'S' ? this.#reply(200, 'Mode set to S') : this.#reply(504, 'Only stream mode (S) is supported'))),
      STRU: open((arg) => (arg.trim().toUpperCase() === 'F' ? this.#reply(200, 'Structure set to F') : this.#reply(504, 'Only file structure (F) is supported'))),
      ALLO: login(() => this.#reply(202, 'ALLO command ignored')),
      PWD: pwd,
      XPWD: pwd,
      CWD: cwd,
      XCWD: cwd,
      CDUP: cdup,
      XCUP: cdup,
      MKD: mkd,
      XMKD: mkd,
      RMD: rmd,
      XRMD: rmd,
      DELE: login(async (arg) => {
        await this.#need().remove(this.#path(arg));
        this.#reply(250, 'File deleted');
      }),
      RNFR: login(async (arg) => {
        const stat = await this.#need().stat(this.#path(arg), { follow: false });
        this.#renameFrom = stat.path;
        this.#reply(350, 'Ready for RNTO');
      }),
      RNTO: login(() => undefined),
      SIZE: login(async (arg) => {
        const stat = await this.#need().stat(this.#path(arg));
        if (stat.type !== 'file') throw new FerryError('not-a-file', 'SIZE names a file', { detail: stat.path });
        this.#reply(213, String(stat.size));
      }),
      MDTM: login(async (arg) => {
        const stat = await this.#need().stat(this.#path(arg));
        this.#reply(213, formatTimeVal(stat.mtimeMs));
      }),
      MFMT: login((arg) => this.#mfmt(arg)),
      MLST: login((arg) => this.#mlst(arg)),
      SITE: login((arg) => this.#site(arg)),
      HASH: login((arg) => this.#hash(arg, 'XSHA256', true)),
      STAT: login((arg) => this.#stat(arg)),
      REST: login((arg) => {
        if (!/^\d{1,15}$/.test(arg.trim())) return this.#reply(501, 'REST needs a byte offset');
        this.#rest = Number(arg.trim());
        this.#reply(350, `Restarting at ${this.#rest}. Send STOR or RETR to continue`);
      }),
      PASV: login(() => this.#pasv(false)),
      EPSV: login((arg) => this.#epsv(arg)),
      PORT: login((arg) => this.#port(parsePortArgument(arg), 'PORT')),
      EPRT: login((arg) => this.#port(parseEprtArgument(arg), 'EPRT')),
      LIST: login((arg) => this.#list('LIST', arg)),
      NLST: login((arg) => this.#list('NLST', arg)),
      MLSD: login((arg) => this.#list('MLSD', arg)),
      RETR: login(() => undefined),
      STOR: login(() => undefined),
      APPE: login((arg) => this.#upload(this.#path(arg), { append: true }, 'APPE')),
      STOU: login((arg) => this.#stou(arg)),
    };
    for (const verb of Object.keys(CHECKSUMS)) table[verb] = login((arg) => this.#hash(arg, verb, false));
    return table;
  }

  #features(): string[] {
    const tls = this.#deps.tls ? ['AUTH TLS', 'PBSZ', 'PROT'] : [];
    return [
      ...tls,
      'EPRT',
      'EPSV',
      'HASH SHA-256*;SHA-512;SHA-1;MD5;CRC32',
      'MDTM',
      'MFMT',
      `MLST ${MLST_FACTS.map((f) => `${f}*;`).join('')}`,
      'REST STREAM',
      'SIZE',
      'TVFS',
      'UTF8',
    ];
  }

  #need(): Session {
    if (!this.#session) throw new FerryError('permission-denied', 'not logged in');
    return this.#session;
  }

  #dir(): WorkingDirectory {
    if (!this.#cwd) throw new FerryError('permission-denied', 'not logged in');
    return this.#cwd;
  }

  /** A client's name as the Session takes it (relative to the current directory). */
  #path(arg: string): string {
    if (arg === '') throw new FerryError('invalid-request', 'a file name is required');
    return this.#dir().resolve(arg);
  }

  // ---- login ------------------------------------------------------------------------------

  #user(arg: string): void {
    if (this.#session) return this.#reply(503, 'Already logged in');
    if (!this.#secure && !this.#deps.settings.security.allowPlainLogin) {
      return this.#reply(530, 'This server requires TLS: send AUTH TLS first (FTPES), or use the implicit FTPS port');
    }
    const name = arg.trim();
    if (name === '') return this.#reply(501, 'USER needs a user name');
    this.#pendingUser = name.slice(0, MAX_USERNAME);
    this.#reply(331, `Password required for ${this.#pendingUser.slice(0, 64)}`);
  }

  async #pass(arg: string): Promise<void> {
    if (this.#session) return this.#reply(503, 'Already logged in');
    const username = this.#pendingUser;
    this.#pendingUser = undefined;
    if (username === undefined) return this.#reply(503, 'Send USER first');
    const result = await this.#login.attempt(username, { method: 'password', password: arg });
    if (result.kind !== 'accepted') {
      if (result.kind === 'refused' && result.tooMany) {
        this.#reply(421, 'Too many failed login attempts; closing the connection');
        return this.#conn.end('too many failed login attempts');
      }
      if (result.kind === 'partial') this.#log().info({ user: username.slice(0, 64), next: result.next }, 'ftp: a further login step is required, which FTP cannot offer');
      return this.#reply(530, 'Login incorrect');
    }
    let session: Session;
    try {
      session = await this.#deps.openSession(result.user, this.#conn.info, this.#subsystem());
    } catch (error) {
      const reply = replyForError(error);
      if (!reply.known) this.#log().error({ err: error }, 'ftp: the session could not be opened');
      return this.#reply(530, `Login refused: ${reply.message}`);
    }
    if (this.#ended) {
      void session.close();
      return;
    }
    this.#session = session;
    this.#cwd = new WorkingDirectory(session);
    this.#conn.authenticated();
    this.#conn.log = this.#conn.log.child({ user: result.user.username });
    this.#conn.whenDone(() => void session.close().catch((error: unknown) => this.#log().warn({ err: error }, 'ftp: closing the session failed')));
    this.#reply(230, 'Login successful');
    this.#touch();
  }

  #pbszCommand(arg: string): void {
    if (!this.#secure) return this.#reply(503, 'PBSZ needs a TLS connection (AUTH TLS first)');
    if (!/^\d+$/.test(arg.trim())) return this.#reply(501, 'PBSZ needs a number');
    this.#pbsz = true;
    this.#reply(200, 'PBSZ=0');
  }

  #prot(arg: string): void {
    if (!this.#secure) return this.#reply(503, 'PROT needs a TLS connection (AUTH TLS first)');
    if (!this.#pbsz) return this.#reply(503, 'PBSZ must come before PROT');
    const level = arg.trim().toUpperCase();
    if (level === 'P') {
      this.#protected = true;
      return this.#reply(200, 'Protection level set to Private');
    }
    if (level === 'C') {
      if (this.#deps.settings.security.requireDataTls) return this.#reply(534, 'This server requires protected data connections (PROT P)');
      this.#protected = false;
      return this.#reply(200, 'Protection level set to Clear');
    }
    if (level === 'S' || level === 'E') return this.#reply(536, 'Protection level not supported; use PROT P');
    this.#reply(504, 'Unknown protection level');
  }

  #opts(arg: string): void {
    const [name = '', ...rest] = arg.trim().split(/\s+/);
    const option = name.toUpperCase();
    if (option === 'UTF8' || option === 'UTF-8') return this.#reply(200, 'Always in UTF8 mode');
    if (option === 'MLST') return this.#reply(200, `MLST OPTS ${MLST_FACTS.map((f) => `${f};`).join('')}`);
    if (option === 'HASH' && rest.length === 0) return this.#reply(200, 'SHA-256');
    this.#reply(501, 'Option not understood');
  }

  #type(arg: string): void {
    const type = arg.trim().toUpperCase().replace(/\s+/g, ' ');
    if (type === 'I' || type === 'L 8') return this.#reply(200, 'Switching to Binary mode');
    // ASCII is accepted and served as binary, as vsftpd does by default: no line ends are rewritten.
    if (type === 'A' || type === 'A N') return this.#reply(200, 'Switching to ASCII mode');
    this.#reply(504, 'Type not supported');
  }

  // ---- metadata commands ----------------------------------------------------------------

  async #rnto(arg: string, from: string | undefined): Promise<void> {
    if (from === undefined) return this.#reply(503, 'RNFR required first');
    await this.#need().rename(from, this.#path(arg), { overwrite: true });
    this.#reply(250, 'Rename successful');
  }

  /** MFMT time-val path (draft-somers-ftp-mfxx). */
  async #mfmt(arg: string): Promise<void> {
    const space = arg.indexOf(' ');
    const mtimeMs = parseTimeVal(space < 0 ? arg : arg.slice(0, space));
    if (space < 0 || mtimeMs === undefined) return this.#reply(501, 'MFMT needs YYYYMMDDHHMMSS and a file name');
    const path = this.#path(arg.slice(space + 1));
    await this.#need().setStat(path, { mtimeMs });
    this.#reply(213, `Modify=${formatTimeVal(mtimeMs)}; ${path}`);
  }

  async #mlst(arg: string): Promise<void> {
    const session = this.#need();
    const path = arg === '' ? this.#dir().path : this.#path(arg);
    const stat = await session.stat(path);
    this.#reply(250, [`Listing ${stat.path}`, ` ${formatFacts(stat, stat.path)}`, 'End']);
  }

  async #site(arg: string): Promise<void> {
    const m = /^CHMOD\s+([0-7]{3,4})\s+(.+)$/i.exec(arg.trim());
    if (/^HELP\b/i.test(arg.trim())) return this.#reply(214, 'SITE commands: CHMOD');
    if (!m) return this.#reply(/^CHMOD\b/i.test(arg.trim()) ? 501 : 504, /^CHMOD\b/i.test(arg.trim()) ? 'SITE CHMOD needs a mode and a file name' : 'SITE command not supported');
    await this.#need().setStat(this.#path(m[2] as string), { mode: parseInt(m[1] as string, 8) });
    this.#reply(200, 'SITE CHMOD command ok');
  }

  /** XSHA256 and friends answer the hex digest; HASH (draft-bryan-ftpext-hash) says algorithm and range too. */
  async #hash(arg: string, verb: string, long: boolean): Promise<void> {
    const { algorithm, name } = CHECKSUMS[verb] as { algorithm: ChecksumAlgorithm; name: string };
    const session = this.#need();
    const path = this.#path(arg);
    const stat = await session.stat(path);
    if (stat.type !== 'file') throw new FerryError('not-a-file', 'a checksum is of a file', { detail: stat.path });
    const digest = (await session.checksum(path, algorithm)).toString('hex');
    if (long) return this.#reply(213, `${name} 0-${stat.size} ${digest} ${arg}`);
    this.#reply(250, digest);
  }

  async #stat(arg: string): Promise<void> {
    if (arg.trim() === '') {
      const kind = this.#deps.implicit ? 'FTPS (implicit TLS)' : this.#secure ? 'FTPES (explicit TLS)' : 'FTP';
      return this.#reply(211, ['Ferry FTP server status:', ` Connected from ${plainAddress(this.#conn.info.remoteAddress)}`, ` Logged in as ${this.#need().user.username}`, ` ${kind}, data ${this.#protected ? 'protected' : 'clear'}`, 'End of status']);
    }
    const listing = await openListing(this.#need(), this.#path(listingPath(arg)), 'LIST', this.#deps.now());
    const lines: string[] = [];
    for await (const chunk of listing) lines.push(...chunk.split('\r\n').filter((line) => line !== '').map((line) => ` ${line}`));
    this.#reply(213, [`Status of ${arg}:`, ...lines, 'End of status']);
  }

  // ---- data connections -----------------------------------------------------------------

  #setData(endpoint: DataEndpoint | undefined): void {
    this.#data?.close();
    this.#data = endpoint;
  }

  #localHost(): string {
    return plainAddress(this.#conn.socket.localAddress ?? this.#conn.info.localAddress);
  }

  async #openPassive(): Promise<PassiveEndpoint> {
    this.#setData(undefined);
    // The TCP peer of the control connection: behind a PROXY-protocol balancer, data connections
    // come through the balancer too.
    const peer = this.#conn.socket.remoteAddress ?? this.#conn.info.remoteAddress;
    const endpoint = await PassiveEndpoint.open(this.#localHost(), this.#deps.settings.passive, peer, this.#conn.log, this.#deps.limits.passiveIdleMs);
    this.#setData(endpoint);
    return endpoint;
  }

  async #pasv(extended: boolean): Promise<void> {
    if (this.#epsvAll && !extended) return this.#reply(503, 'Only EPSV is accepted after EPSV ALL');
    if (!extended) {
      const host = this.#deps.settings.passive.externalAddress ?? this.#localHost();
      if (pasvAddress(host, 0) === undefined) return this.#reply(425, 'PASV needs an IPv4 address; use EPSV');
    }
    let endpoint: PassiveEndpoint;
    try {
      endpoint = await this.#openPassive();
    } catch (error) {
      if (error instanceof DataConnectionError) return this.#reply(error.code, error.message);
      throw error;
    }
    if (extended) return this.#reply(229, `Entering Extended Passive Mode (|||${endpoint.port}|)`);
    const host = this.#deps.settings.passive.externalAddress ?? this.#localHost();
    this.#reply(227, `Entering Passive Mode (${pasvAddress(host, endpoint.port)})`);
  }

  async #epsv(arg: string): Promise<void> {
    const value = arg.trim().toUpperCase();
    if (value === 'ALL') {
      this.#epsvAll = true;
      return this.#reply(200, 'EPSV ALL ok');
    }
    if (value !== '' && value !== '1' && value !== '2') return this.#reply(522, 'Network protocol not supported, use (1,2)');
    await this.#pasv(true);
  }

  /** PORT/EPRT: only back to the client's own address, never to a privileged port. */
  #port(target: HostPort | undefined, verb: string): void {
    if (this.#epsvAll) return this.#reply(503, `${verb} is not accepted after EPSV ALL`);
    if (!target) return this.#reply(501, `${verb}: bad address`);
    const client = plainAddress(this.#conn.info.remoteAddress);
    if (plainAddress(target.host) !== client) {
      this.#log().warn({ verb, target: target.host, port: target.port, client }, 'ftp: active data connection to another address refused');
      return this.#reply(500, `Illegal ${verb} command: data connections go only to your own address`);
    }
    if (target.port < 1024) {
      this.#log().warn({ verb, port: target.port }, 'ftp: active data connection to a privileged port refused');
      return this.#reply(500, `Illegal ${verb} command: privileged port`);
    }
    this.#setData(new ActiveEndpoint(target, this.#conn.info.localAddress));
    this.#reply(200, `${verb} command successful. Consider using PASV`);
  }

  /** Why no data can move now (a reply was sent), or undefined when it may. */
  #refuseData(): boolean {
    if (this.#deps.closing()) {
      this.#reply(421, 'Server shutting down; try again later');
      return true;
    }
    if (!this.#data) {
      this.#reply(425, 'Use PASV, EPSV, PORT or EPRT first');
      return true;
    }
    if (this.#secure && !this.#protected && this.#deps.settings.security.requireDataTls) {
      this.#setData(undefined);
      this.#reply(521, 'Data connections must be encrypted: send PBSZ 0 and PROT P');
      return true;
    }
    return false;
  }

  /**
   * The data connection of one transfer: after the 150, accept or connect it, then TLS when
   * PROT P. Resolves undefined (a reply was sent) when it could not be had.
   */
  async #dataSocket(endpoint: DataEndpoint): Promise<net.Socket | undefined> {
    try {
      const socket = await endpoint.take(this.#deps.limits.dataConnectMs);
      if (!this.#protected) return socket;
      return await secureDataSocket(socket, this.#secureContext(), this.#deps.settings.security.requireSessionReuse, this.#deps.limits.dataConnectMs);
    } catch (error) {
      if (!(error instanceof DataConnectionError)) throw error;
      this.#log().info({ code: error.code, reason: error.message }, 'ftp: data connection failed');
      this.#reply(error.code, error.message);
      return undefined;
    }
  }

  /**
   * Moves one stream over the data connection: `source` opened it (a 550 is replied before any
   * 150 when it fails), `pump` runs the copy. ABOR and the end of the control connection stop
   * it through `#active`; the last reply says how it ended.
   */
  async #withData<S extends Readable | Writable>(
    open: () => Promise<S>,
    opening: string,
    pump: (stream: S, socket: net.Socket) => Promise<void>,
  ): Promise<void> {
    if (this.#refuseData()) return;
    const endpoint = this.#data as DataEndpoint;
    this.#data = undefined;
    let stream: S;
    try {
      stream = await open();
    } catch (error) {
      endpoint.close();
      throw error;
    }
    // An abort can destroy it before the pump listens: the pump reports errors, not the emitter.
    stream.on('error', () => {});
    let socket: net.Socket | undefined;
    const active: ActiveTransfer = {
      aborted: false,
      abort: (reason) => {
        active.aborted = active.aborted || reason.kind === 'aborted';
        endpoint.close();
        stream.destroy(reason);
        socket?.destroy();
      },
    };
    this.#active = active;
    clearTimeout(this.#idle);
    this.#conn.track(1);
    try {
      this.#reply(150, opening);
      socket = await this.#dataSocket(endpoint);
      if (socket === undefined || active.aborted) {
        stream.destroy(new FerryError('aborted', 'no data connection'));
        socket?.destroy();
        return active.aborted ? this.#replyAborted() : undefined;
      }
      const data = socket;
      data.setTimeout(this.#deps.limits.dataIdleMs, () => data.destroy(new FerryError('incomplete', 'the data connection moved no data for too long')));
      try {
        await pump(stream, data);
        this.#reply(226, 'Transfer complete');
      } catch (error) {
        data.destroy();
        if (active.aborted) return this.#replyAborted();
        const reply = replyForError(error);
        if (!reply.known) this.#log().warn({ err: error }, 'ftp: transfer failed');
        // RFC 959: a transfer cut by a network or storage fault ends with 426 or 451.
        this.#reply(reply.code === 426 || !isFerryError(error) ? 426 : reply.code, reply.known ? reply.message : 'Connection closed; transfer aborted');
      }
    } finally {
      this.#active = undefined;
      this.#conn.track(-1);
      this.#touch();
    }
  }

  #replyAborted(): void {
    this.#reply(426, 'Connection closed; transfer aborted');
    this.#reply(226, 'ABOR successful');
  }

  async #list(kind: ListingKind, arg: string): Promise<void> {
    const session = this.#need();
    const name = kind === 'MLSD' ? arg : listingPath(arg);
    const path = name === '' ? this.#dir().path : this.#path(name);
    await this.#withData(
      async () => Readable.from(await openListing(session, path, kind, this.#deps.now()), { objectMode: false }),
      `Here comes the directory listing`,
      (stream, socket) => sendAndClose(stream, socket),
    );
  }

  async #transferFile(verb: 'RETR' | 'STOR', arg: string, rest: number): Promise<void> {
    const path = this.#path(arg);
    if (verb === 'STOR') return this.#upload(path, rest > 0 ? { offset: rest } : { truncate: true }, 'STOR');
    const session = this.#need();
    await this.#withData(
      async () => {
        const stat = await session.stat(path);
        if (stat.type !== 'file') throw new FerryError('not-a-file', 'RETR names a file', { detail: stat.path });
        return session.openRead(path, rest > 0 ? { offset: rest } : {});
      },
      `Opening BINARY mode data connection for ${arg}`,
      (stream, socket) => sendAndClose(stream, socket),
    );
  }

  async #upload(path: string, options: { offset?: number; truncate?: boolean; append?: boolean; exclusive?: boolean }, verb: string, opening?: string): Promise<void> {
    const session = this.#need();
    await this.#withData(
      () => session.openWrite(path, options),
      opening ?? `Ok to send data (${verb})`,
      async (stream, socket) => {
        socket.resume();
        await pipeline(socket, stream);
      },
    );
  }

  /** STOU (RFC 1123 4.1.2.9): a new unique name in the current directory, replied as `FILE: name`. */
  async #stou(arg: string): Promise<void> {
    const base = arg.trim() === '' ? 'ftp-upload' : arg.trim();
    const name = `${base}.${randomBytes(6).toString('hex')}`;
    const path = this.#path(name);
    await this.#upload(path, { exclusive: true }, 'STOU', `FILE: ${name}`);
  }
}

/** Sends a whole stream and closes the data connection, the client's end-of-file. */
async function sendAndClose(stream: Readable, socket: net.Socket): Promise<void> {
  await pipeline(stream, socket);
  // Sent and ended: the client has what it needs. Don't leave a half-closed socket behind.
  const timer = setTimeout(() => socket.destroy(), 5_000);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.resume();
}
