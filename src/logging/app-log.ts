// The application log: structured JSON lines (pino) to `<data>/logs/ferry.log`, warnings and
// errors also to stderr so an operator running in a terminal or under systemd sees them.
// Secrets never reach it: the redact list covers every field name that can carry one.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import type { Logger } from 'pino';

export type { Logger };

export const REDACTED_FIELDS = [
  'password',
  'passwordHash',
  'privateKey',
  'privateKeyPem',
  'privateKeyEncrypted',
  'secret',
  'token',
  '*.password',
  '*.passwordHash',
  '*.privateKey',
  '*.privateKeyPem',
  '*.privateKeyEncrypted',
  '*.secret',
  '*.token',
];

export interface AppLog {
  readonly logger: Logger;
  /**
   * The same log, file only: for an error the caller also reports on the terminal in one line
   * of its own, so the operator does not get a JSON stack trace before it.
   */
  readonly fileLogger: Logger;
  /** Flushes buffered lines; call before exit. */
  flush(): Promise<void>;
}

export function openAppLog(options: { logDir: string; level?: string; stderrLevel?: string }): AppLog {
  mkdirSync(options.logDir, { recursive: true, mode: 0o750 });
  const file = pino.destination({ dest: path.join(options.logDir, 'ferry.log'), sync: false, mkdir: true });
  const stderr = pino.destination({ dest: 2, sync: true });
  // ISO 8601 UTC times (what every other Ferry log and the transfer logs use), not epoch ms.
  const settings = { level: options.level ?? 'info', redact: REDACTED_FIELDS, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime };
  const logger = pino(
    settings,
    pino.multistream([
      { level: (options.level ?? 'info') as pino.Level, stream: file },
      { level: (options.stderrLevel ?? 'warn') as pino.Level, stream: stderr },
    ]),
  );
  return {
    logger,
    fileLogger: pino(settings, file),
    // The file opens asynchronously; a flush before it is ready would throw, so wait for it.
    flush: () =>
      new Promise<void>((resolve) => {
        // flushSync writes what is buffered now; if a write is already in flight it throws, and
        // that write's 'drain' ends the wait instead.
        const flushNow = () => {
          try {
            file.flushSync();
            resolve();
          } catch {
            file.once('drain', () => resolve());
          }
        };
        if ((file as unknown as { fd: number }).fd >= 0) flushNow();
        else file.once('ready', flushNow);
      }),
  };
}
