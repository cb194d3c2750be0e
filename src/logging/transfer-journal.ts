// The journal of transfers in flight: a line when a streamed transfer starts (`+<id> <json>`) and
// one when its log line has been written (`-<id>`). A node killed mid-transfer (SIGKILL, OOM,
// power) writes no end line; the next start reads what is still open and logs it `incomplete`,
// so every transfer that started has a line in the transfer log.
//
// Writes are synchronous write(2) calls on an O_APPEND descriptor: once a call returns, the line
// survives the death of the process (it is in the kernel's page cache), which is the failure this
// guards against. No fsync per transfer: a power cut may lose the last lines of both logs alike.
import { closeSync, ftruncateSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import type { OpenTransfer } from './transfer-log.ts';

/** Past this size the journal is rewritten with only the open entries (a busy node is rarely idle). */
const COMPACT_BYTES = 4 * 1024 * 1024;

export interface TransferJournal {
  /** Notes a transfer; the returned function forgets it (once). */
  add(transfer: OpenTransfer): () => void;
  close(): void;
}

/** The transfers a journal left open: started, never ended. Torn or foreign lines are skipped. */
export function readOpenTransfers(text: string): OpenTransfer[] {
  const open = new Map<string, OpenTransfer>();
  for (const line of text.split('\n')) {
    const match = /^([+-])(\w+)(?: (.*))?$/.exec(line);
    if (!match) continue;
    if (match[1] === '-') {
      open.delete(match[2]!);
      continue;
    }
    try {
      const parsed = JSON.parse(match[3] ?? '') as OpenTransfer & { time: string };
      open.set(match[2]!, { ...parsed, time: new Date(parsed.time) });
    } catch {
      // A line cut short by a crash: its transfer cannot be told apart from noise.
    }
  }
  return [...open.values()].filter((t) => !Number.isNaN(t.time.getTime()) && typeof t.path === 'string' && typeof t.siteId === 'string');
}

/**
 * Opens the journal at `file`. `recover` receives the transfers a previous process left open and
 * must have logged them when it returns: only then is the journal emptied.
 */
export function openTransferJournal(file: string, recover: (left: OpenTransfer[]) => void, onError: (error: unknown) => void): TransferJournal {
  let previous = '';
  try {
    previous = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  recover(readOpenTransfers(previous));
  let fd = openSync(file, 'a', 0o640);
  ftruncateSync(fd);
  const open = new Map<string, string>();
  let nextId = 0;
  let size = 0;
  let closed = false;

  // A full disk must not stop transfers: the caller reports the failure, the journal goes on.
  const guarded = (io: () => void): void => {
    if (closed) return;
    try {
      io();
    } catch (error) {
      onError(error);
    }
  };
  const append = (line: string): void => guarded(() => (size += writeSync(fd, line)));
  const compact = (): void =>
    guarded(() => {
      if (open.size === 0) {
        ftruncateSync(fd);
        size = 0;
        return;
      }
      // Replaced whole, never truncated first: a crash in between must not lose open entries.
      const rest = [...open.values()].join('');
      writeFileSync(`${file}.tmp`, rest, { mode: 0o640 });
      renameSync(`${file}.tmp`, file);
      closeSync(fd);
      fd = openSync(file, 'a', 0o640);
      size = Buffer.byteLength(rest);
    });
  return {
    add(transfer) {
      const id = (nextId++).toString(36);
      const line = `+${id} ${JSON.stringify(transfer)}\n`;
      open.set(id, line);
      append(line);
      let done = false;
      return () => {
        if (done) return;
        done = true;
        open.delete(id);
        // Idle again: nothing to recover, start the file afresh instead of letting it grow.
        if (open.size === 0 || size > COMPACT_BYTES) compact();
        else append(`-${id}\n`);
      };
    },
    close() {
      if (closed) return;
      closed = true;
      closeSync(fd);
    },
  };
}
