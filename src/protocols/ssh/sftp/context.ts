// What every request handler gets: the session (which decides everything), the channel's
// handles and limits. Handlers parse their fields synchronously, then call one Session method.
import type { Session } from '../../../session/types.ts';
import type { SftpLimits } from './constants.ts';
import type { HandleTable } from './handles.ts';
import type { SftpReader } from './reader.ts';
import type { Reply } from './replies.ts';

export interface RequestContext {
  readonly session: Session;
  readonly handles: HandleTable;
  readonly limits: SftpLimits;
  /** Wall clock for long names (recent files show a time, older ones a year). */
  now(): number;
  /**
   * A buffer of at least `size` bytes for a DATA reply packet, recycled once the reply is sent
   * (the server's pool); without it replies get fresh buffers.
   */
  dataBuffer?(size: number): Buffer;
}

/**
 * One row of a dispatch table. `run` must do everything up to its first `await` synchronously
 * (parse, look up and queue on a handle): request order on a handle is decided there.
 */
export interface RequestRow<K> {
  readonly key: K;
  /** The request name OpenSSH's sftp-server uses (`-P`/`-p` lists, log lines). */
  readonly name: string;
  readonly run: (ctx: RequestContext, r: SftpReader) => Promise<Reply>;
}
