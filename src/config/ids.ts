// Ids are chosen by whoever proposes a command, never by `apply` (which must stay
// deterministic), so every replica applying the log derives the same state.
import { randomBytes } from 'node:crypto';
import { COMMAND_FORMAT } from './commands.ts';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const ID_LENGTH = 20;

/** A random 20-character base62 id (~119 bits), e.g. for commands and VFS profiles. */
export function newId(): string {
  let id = '';
  while (id.length < ID_LENGTH) {
    // Rejection sampling keeps every character equally likely: 248 = 4 * 62.
    for (const byte of randomBytes(32)) {
      if (byte < 248 && id.length < ID_LENGTH) id += BASE62[byte % 62];
    }
  }
  return id;
}

/** The envelope of a command proposed now by `actor` (spread it into the command body). */
export function envelope(actor: string): { id: string; at: number; actor: string; format: number } {
  return { id: newId(), at: Date.now(), actor, format: COMMAND_FORMAT };
}
