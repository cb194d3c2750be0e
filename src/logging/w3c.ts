// W3C Extended Log File Format writer (https://www.w3.org/TR/WD-logfile.html) for the transfer
// log: one file per site and UTC day, `<dir>/<siteId>/ex<YYYYMMDD>.log`, directives written at
// the top of each file. Timestamps are UTC as the format requires (log analysers convert).
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import { openTransferJournal } from './transfer-journal.ts';
import type { OpenTransfer, TransferLog, TransferRecord } from './transfer-log.ts';

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
    record.durationMs === undefined ? undefined : (record.durationMs / 1000).toFixed(3),
    record.status,
  ]
    .map(w3cField)
    .join(' ');
}

interface OpenFile {
  day: string;
  fd: number;
}

export interface W3cTransferLog extends TransferLog {
  /** Transfers a previous process left open, logged `incomplete` when this log was opened. */
  readonly recovered: number;
  close(): Promise<void>;
}

export interface W3cOptions {
  readonly dir: string;
  readonly software: string;
  /** The open-transfers journal (transfer-journal.ts); without one, `begin` is not offered. */
  readonly journal?: string;
  /** A write failed (full disk...): reported once per run of failures, the log goes on. */
  readonly onError?: (error: unknown) => void;
}

// Lines are written with synchronous write(2) calls on O_APPEND descriptors, not through a
// buffered stream: a line handed over is in the kernel when `write` returns, so a node that is
// killed right after a transfer has still logged it (the journal relies on that order).
export function openW3cTransferLog(options: W3cOptions): W3cTransferLog {
  const files = new Map<string, OpenFile>();
  let failing = false;
  const guarded = (io: () => void): void => {
    try {
      io();
      failing = false;
    } catch (error) {
      if (!failing) options.onError?.(error);
      failing = true;
    }
  };

  function fileFor(siteId: string, time: Date): number {
    const day = time.toISOString().slice(0, 10).replace(/-/g, '');
    const current = files.get(siteId);
    if (current?.day === day) return current.fd;
    files.delete(siteId);
    if (current) closeSync(current.fd);
    // siteId is an id from the config (validated, base62); never a client-chosen value.
    const siteDir = path.join(options.dir, siteId);
    mkdirSync(siteDir, { recursive: true, mode: 0o750 });
    const fd = openSync(path.join(siteDir, `ex${day}.log`), 'a', 0o640);
    files.set(siteId, { day, fd });
    writeSync(fd, `#Software: ${options.software}\n#Version: 1.0\n#Date: ${time.toISOString().slice(0, 19).replace('T', ' ')}\n#Fields: ${W3C_FIELDS.join(' ')}\n`);
    return fd;
  }

  const write = (record: TransferRecord): void => guarded(() => writeSync(fileFor(record.siteId, record.time), formatW3cLine(record) + '\n'));
  let recovered = 0;
  const journal =
    options.journal === undefined
      ? undefined
      : openTransferJournal(
          options.journal,
          (left) => {
            // Logged under their start time: when the node died is not known.
            for (const transfer of left) write({ ...transfer, bytes: undefined, durationMs: undefined, status: 'incomplete' });
            recovered = left.length;
          },
          (error) => options.onError?.(error),
        );

  return {
    recovered,
    write,
    ...(journal ? { begin: (transfer: OpenTransfer) => journal.add(transfer) } : {}),
    async close() {
      journal?.close();
      for (const { fd } of files.values()) guarded(() => closeSync(fd));
      files.clear();
    },
  };
}
