import net from 'node:net';
import type { ControlRequest, ControlResponse } from './control-protocol.ts';
import { controlSocketPath } from './control-protocol.ts';

export class NodeNotRunningError extends Error {
  readonly dataDir: string;
  readonly reason: string;

  constructor(dataDir: string, reason: string) {
    super(NodeNotRunningError.advice(dataDir, reason, `ferry start --data ${dataDir}`));
    this.name = 'NodeNotRunningError';
    this.dataDir = dataDir;
    this.reason = reason;
  }

  /** The message, with the start command written the way the caller's user runs ferry. */
  static advice(dataDir: string, reason: string, startCommand: string): string {
    return (
      `no Ferry node is running with data directory ${dataDir} (${reason}). ` +
      `Start one with \`${startCommand}\`, or pass the --data directory of the running node.`
    );
  }
}

/** Sends one request to the node that holds `dataDir` and returns its result. */
export function callNode(dataDir: string, method: string, params: unknown, timeoutMs = 120_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(controlSocketPath(dataDir));
    let buffer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the node did not answer "${method}" within ${timeoutMs / 1000} s; see its log in ${dataDir}/logs/ferry.log`));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => {
      const request: ControlRequest = { id: 1, method, params };
      socket.write(JSON.stringify(request) + '\n');
    });
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const end = buffer.indexOf('\n');
      if (end < 0) return;
      clearTimeout(timer);
      socket.end();
      const response = JSON.parse(buffer.slice(0, end)) as ControlResponse;
      if (response.ok) resolve(response.result);
      else reject(new Error(response.error));
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (error.code === 'ENOENT' || error.code === 'ECONNREFUSED') reject(new NodeNotRunningError(dataDir, error.code));
      else if (error.code === 'EACCES') reject(new Error(`permission denied on ${controlSocketPath(dataDir)}: run as the user that runs the node`));
      else reject(error);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      reject(new Error('the node closed the control connection without an answer; see its log'));
    });
  });
}
