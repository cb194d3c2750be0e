// The local control channel between the `ferry` CLI and a running node: newline-delimited JSON
// over a Unix domain socket inside the data directory. Access control is the file system: the
// data directory is 0700 and the socket 0600, so only the node's own OS user (or root) can talk
// to it — the same trust model as the LevelDB files it protects.
import path from 'node:path';

export const CONTROL_SOCKET_NAME = 'ferry.sock';
/** A request line may carry a whole CSV file; beyond this the connection is dropped. */
export const MAX_CONTROL_LINE_BYTES = 64 * 1024 * 1024;

export interface ControlRequest {
  readonly id: number;
  readonly method: string;
  readonly params: unknown;
}

export type ControlResponse =
  | { readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly id: number; readonly ok: false; readonly error: string };

export function controlSocketPath(dataDir: string): string {
  return path.join(dataDir, CONTROL_SOCKET_NAME);
}
