// Session channels of an authenticated SSH connection (RFC 4254 section 6): the `sftp`
// subsystem and `scp` exec requests are served over a Session; everything else (shell, other
// commands, other subsystems) is refused on stderr with exit status 1. Ferry never runs an OS
// shell. The connection has one Session (opened at login); each served channel works on its view
// for the channel's subsystem (Session.channel), which is closed with the channel.
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { ServerChannel, Session as Ssh2Session } from 'ssh2';
import type { Subsystem } from '../../config/model/permissions.ts';
import { isFerryError } from '../../session/errors.ts';
import type { Session } from '../../session/types.ts';
import { ScpProtocolError, parseScpCommand } from './scp-wire.ts';
import type { ScpCommand } from './scp-wire.ts';
import { serveScp } from './scp.ts';

export interface ChannelDeps {
  /** The connection's session; rejects when it could not be opened (every channel says why). */
  readonly session: Promise<Session>;
  readonly log: Logger;
  /** `log` carries the connection id and the user, for the SFTP server's own lines. */
  readonly serveSftp: (stream: Duplex, session: Session, log: Logger) => Promise<void>;
  /** Called when a transfer starts and ends, so a closing server can wait for it. */
  readonly track: (delta: 1 | -1) => void;
  /** Settles when the TCP connection is gone (nothing more can close on it). */
  readonly connectionClosed: Promise<void>;
}

const NO_SHELL = 'This server provides file transfer only (SFTP and SCP); it does not run a shell or commands.';

type Accept = () => ServerChannel | undefined;

/** Ends a channel with a message on stderr and a non-zero exit status. */
function refuse(channel: ServerChannel, message: string): void {
  try {
    channel.stderr.write(`${message}\r\n`);
    channel.exit(1);
    channel.end();
  } catch {
    // The client may already have gone; nothing left to tell it.
  }
}

function clientMessage(error: unknown): string {
  return isFerryError(error) ? error.message : 'the session could not be opened; the server log has details';
}

/** The user may not use this subsystem: the same words whichever subsystem it is. */
function notAllowed(name: string): string {
  return `${name} is not enabled for this account; ask your administrator.`;
}

function channelClosed(channel: ServerChannel, connectionClosed: Promise<void>): Promise<void> {
  const state = (channel as unknown as { outgoing?: { state?: string } }).outgoing?.state;
  if (channel.destroyed || state === 'closed') return Promise.resolve();
  return Promise.race([new Promise<void>((resolve) => channel.once('close', () => resolve())), connectionClosed]);
}

/**
 * The connection's session as this channel's view, or undefined once the channel was refused:
 * the subsystem check is the Session's, the words the client sees are SSH's.
 */
async function channelSession(deps: ChannelDeps, channel: ServerChannel, subsystem: Subsystem, onDenied: (message: string) => void): Promise<Session | undefined> {
  try {
    return (await deps.session).channel(subsystem);
  } catch (error) {
    if (isFerryError(error) && error.kind === 'subsystem-denied') {
      deps.log.info({ subsystem }, 'ssh: channel refused, the subsystem is not enabled for the account');
      onDenied(notAllowed(subsystem === 'ssh2_sftp' ? 'SFTP' : 'SCP'));
      return undefined;
    }
    deps.log.info({ err: isFerryError(error) ? { kind: error.kind, detail: error.detail } : error, subsystem }, 'ssh: channel ended with an error');
    refuse(channel, clientMessage(error));
    return undefined;
  }
}

async function runOn(deps: ChannelDeps, channel: ServerChannel, session: Session, work: (session: Session) => Promise<number | undefined>): Promise<void> {
  let finished = false;
  // When the connection dies, ssh2 neither drains nor closes a channel whose data is unread or
  // waiting for window: an error is what makes the SFTP/SCP code (and its streams) let go.
  void deps.connectionClosed.then(() => {
    if (!finished) channel.emit('error', new Error('connection lost'));
  });
  try {
    const status = await work(session);
    if (status !== undefined) channel.exit(status);
    channel.end();
  } catch (error) {
    deps.log.info({ err: isFerryError(error) ? { kind: error.kind, detail: error.detail } : error }, 'ssh: channel ended with an error');
    refuse(channel, clientMessage(error));
  } finally {
    finished = true;
    await session.close().catch((error: unknown) => deps.log.warn({ err: error }, 'ssh: closing the session failed'));
    // The transfer is over only when the channel is closed: until then ssh2 may still hold data
    // waiting for the client's window, which a shutdown must not cut off.
    channel.resume(); // nothing reads any more: let the client's EOF arrive
    await channelClosed(channel, deps.connectionClosed);
  }
}

/** Serves a channel on the connection's session; the tracked span covers waiting for it. */
async function serve(deps: ChannelDeps, channel: ServerChannel, subsystem: Subsystem, onDenied: (message: string) => void, work: (session: Session) => Promise<number | undefined>, onServed = () => {}): Promise<void> {
  deps.track(1);
  try {
    const session = await channelSession(deps, channel, subsystem, onDenied);
    if (!session) return;
    onServed();
    await runOn(deps, channel, session, work);
  } finally {
    deps.track(-1);
  }
}

function handleSubsystem(deps: ChannelDeps, accept: Accept, name: string): void {
  const channel = accept();
  if (!channel) return;
  channel.on('error', (error: Error) => deps.log.debug({ err: error.message }, 'ssh: channel error'));
  if (name !== 'sftp') {
    deps.log.info({ subsystem: name.slice(0, 64) }, 'ssh: unknown subsystem refused');
    return refuse(channel, `subsystem "${name.slice(0, 64)}" is not provided here; use sftp.`);
  }
  void serve(deps, channel, 'ssh2_sftp', (message) => refuse(channel, message), async (session) => {
    await deps.serveSftp(channel, session, deps.log);
    return undefined;
  }, () => exitAtEof(channel));
}

function exitAtEof(channel: ServerChannel): void {
  // Clients read the exit status (OpenSSH scp in SFTP mode fails without one): it must be sent
  // while our side is still open, so at the client's EOF, before the SFTP server ends the stream.
  channel.once('end', () => {
    try {
      channel.exit(0);
    } catch {
      // channel already gone
    }
  });
}

function handleExec(deps: ChannelDeps, accept: Accept, command: string): void {
  const channel = accept();
  if (!channel) return;
  channel.on('error', (error: Error) => deps.log.debug({ err: error.message }, 'ssh: channel error'));
  const shown = command.slice(0, 200);
  let scp: ScpCommand;
  try {
    scp = parseScpCommand(command);
  } catch (error) {
    const isScp = /^\s*scp(\s|$)/.test(command);
    deps.log.info({ command: shown, reason: (error as Error).message }, isScp ? 'ssh: malformed scp command refused' : 'ssh: exec refused');
    return refuse(channel, isScp && error instanceof ScpProtocolError ? `scp: ${error.message}` : NO_SHELL);
  }
  const denied = (message: string) => {
    // The \x02 record makes an scp client print the reason instead of a protocol error.
    try {
      channel.write(`\x02scp: ${message}\n`);
    } catch {
      // client gone
    }
    refuse(channel, message);
  };
  deps.log.info({ command: shown }, 'ssh: scp');
  void serve(deps, channel, 'ssh2_scp', denied, (session) => serveScp(channel, scp, session, deps.log));
}

/** Wires one 'session' channel; requests that are not listened for are refused by ssh2. */
export function handleSessionChannel(deps: ChannelDeps, session: Ssh2Session): void {
  // A request may arrive for a channel the client closes at once; none of these may throw.
  session.on('subsystem', (accept, _reject, info) => handleSubsystem(deps, accept, info.name));
  session.on('exec', (accept, _reject, info) => handleExec(deps, accept, info.command));
  session.on('shell', (accept) => {
    const channel = accept();
    deps.log.info('ssh: shell refused');
    if (channel) refuse(channel, NO_SHELL);
  });
  // OpenSSH sends env and pty requests before exec; accepting them changes nothing here.
  session.on('env', (accept) => accept?.());
  session.on('pty', (accept) => accept?.());
}
