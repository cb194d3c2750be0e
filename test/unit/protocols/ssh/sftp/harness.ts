// Starts serveSftp on one end of an in-process duplex pair with a raw wire client on the other.
import { duplexPair } from 'node:stream';
import type { TestContext } from 'node:test';
import { serveSftp } from '../../../../../src/protocols/ssh/sftp/index.ts';
import type { SftpLogger, SftpServeOptions } from '../../../../../src/protocols/ssh/sftp/index.ts';
import type { Session } from '../../../../../src/session/types.ts';
import { MemorySession } from './memory-session.ts';
import { WireClient } from './wire-client.ts';

export interface LogEntry {
  readonly level: 'debug' | 'warn' | 'error';
  readonly obj: object;
  readonly msg: string;
}

export function captureLog(): { log: SftpLogger; entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const at = (level: LogEntry['level']) => (obj: object, msg: string) => void entries.push({ level, obj, msg });
  return { log: { debug: at('debug'), warn: at('warn'), error: at('error') }, entries };
}

export function startServer<S extends Session = MemorySession>(
  t: TestContext,
  session: S = new MemorySession() as unknown as S,
  options: SftpServeOptions = {},
) {
  const [serverEnd, clientEnd] = duplexPair();
  const { log, entries } = captureLog();
  const served = serveSftp(serverEnd, session, { log, ...options });
  const client = new WireClient(clientEnd);
  t.after(async () => {
    clientEnd.destroy();
    serverEnd.destroy();
    await served;
  });
  return { client, session, served, logs: entries, clientEnd, serverEnd };
}
