// W3C Extended Log File Format writer (https://www.w3.org/TR/WD-logfile.html) for the transfer
// log: one file per site and UTC day, `<dir>/<siteId>/ex<YYYYMMDD>.log`, directives written at
// the top of each file. Timestamps are UTC as the format requires (log analysers convert).
import { createWriteStream, mkdirSync } from 'node:fs';
import type { WriteStream } from 'node:fs';
import path from 'node:path';
import type { TransferLog, TransferRecord } from './transfer-log.ts';

export const W3C_FIELDS = [
  'date',
  'time',
  'c-ip',
  'c-port',
  'cs-username',
  'cs-protocol',
  'x-session',
  'cs-method',
  'cs-uri-stem',
  'x-target',
  'bytes',
  'time-taken',
  'sc-status',
] as const;

/** W3C fields are space separated; `-` means empty. Quote anything that could break a field. */
export function w3cField(value: string | number | undefined): string {
  if (value === undefined || value === '') return '-';
  const text = String(value);
  if (/^[\x21-\x7e]+$/.test(text) && !text.includes('"')) return text;
  return '"' + text.replace(/[\x00-\x1f\x7f]/g, (c) => '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0')).replace(/"/g, '""') + '"';
}

export function formatW3cLine(record: TransferRecord): string {
  const iso = record.time.toISOString();
  return [
    iso.slice(0, 10),
    iso.slice(11, 19),
    record.remoteAddress,
    record.remotePort,
    record.username,
    record.protocol,
    record.connectionId,
    record.operation,
    record.path,
    record.target,
    record.bytes,
    (record.durationMs / 1000).toFixed(3),
    record.status,
  ]
    .map(w3cField)
    .join(' ');
}

interface OpenFile {
  day: string;
  stream: WriteStream;
}

export interface W3cTransferLog extends TransferLog {
  close(): Promise<void>;
}

export function openW3cTransferLog(options: { dir: string; software: string }): W3cTransferLog {
  const files = new Map<string, OpenFile>();

  function streamFor(siteId: string, time: Date): WriteStream {
    const day = time.toISOString().slice(0, 10).replace(/-/g, '');
    const current = files.get(siteId);
    if (current?.day === day) return current.stream;
    current?.stream.end();
    // siteId is an id from the config (validated, base62); never a client-chosen value.
    const siteDir = path.join(options.dir, siteId);
    mkdirSync(siteDir, { recursive: true, mode: 0o750 });
    const stream = createWriteStream(path.join(siteDir, `ex${day}.log`), { flags: 'a', mode: 0o640 });
    stream.on('error', () => {
      // A full disk must not take the node down; the app log reports I/O errors elsewhere.
    });
    stream.write(
      `#Software: ${options.software}\n#Version: 1.0\n#Date: ${time.toISOString().slice(0, 19).replace('T', ' ')}\n#Fields: ${W3C_FIELDS.join(' ')}\n`,
    );
    files.set(siteId, { day, stream });
    return stream;
  }

  return {
    write(record) {
      streamFor(record.siteId, record.time).write(formatW3cLine(record) + '\n');
    },
    async close() {
      await Promise.all(
        [...files.values()].map(({ stream }) => new Promise<void>((resolve) => stream.end(() => resolve()))),
      );
      files.clear();
    },
  };
}
