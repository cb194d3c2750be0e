// Ferry's SFTP v3 server (draft-ietf-secsh-filexfer-02 with OpenSSH's extensions) on a raw
// subsystem channel. Other code imports exactly this module.
import type { Duplex } from 'node:stream';
import type { Session } from '../../../session/types.ts';
import type { SftpServeOptions } from './server.ts';
import { SftpServer } from './server.ts';

export type { SftpLogger, SftpServeOptions } from './server.ts';
export { DEFAULT_LIMITS } from './constants.ts';
export type { SftpLimits } from './constants.ts';

/**
 * Serves SFTP on `stream` for `session` until the client ends the stream (or a protocol
 * violation closes it). Resolves after every handle the client left open has been closed
 * through the session; never rejects. The session itself stays open: the caller owns it.
 */
export async function serveSftp(stream: Duplex, session: Session, options?: SftpServeOptions): Promise<void> {
  if (!session.allows('ssh2_sftp')) {
    options?.log?.warn({ user: session.user.username }, 'sftp refused: the account may not use SFTP');
    stream.end();
    return;
  }
  await new SftpServer(stream, session, options).run();
}
