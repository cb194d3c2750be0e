import { chmod, rm } from 'node:fs/promises';
import net from 'node:net';
import type { Logger } from '../logging/app-log.ts';
import type { ControlRequest, ControlResponse } from './control-protocol.ts';
import { MAX_CONTROL_LINE_BYTES, controlSocketPath } from './control-protocol.ts';

export type ControlHandler = (params: unknown) => Promise<unknown>;

export interface ControlServer {
  close(): Promise<void>;
}

export async function startControlServer(
  dataDir: string,
  handlers: Readonly<Record<string, ControlHandler>>,
  logger: Logger,
): Promise<ControlServer> {
  const socketPath = controlSocketPath(dataDir);
  // The node holds the data directory lock, so a socket file left here is from a crashed node.
  await rm(socketPath, { force: true });
  const server = net.createServer((socket) => serveConnection(socket, handlers, logger));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  await chmod(socketPath, 0o600);
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        rm(socketPath, { force: true }).catch(() => undefined);
      }),
  };
}

function serveConnection(socket: net.Socket, handlers: Readonly<Record<string, ControlHandler>>, logger: Logger): void {
  let buffered = 0;
  const chunks: Buffer[] = [];
  socket.on('error', () => undefined);
  socket.on('data', (chunk: Buffer) => {
    buffered += chunk.length;
    if (buffered > MAX_CONTROL_LINE_BYTES) {
      logger.warn({ bytes: buffered }, 'control request too large; connection dropped');
      socket.destroy();
      return;
    }
    chunks.push(chunk);
    if (!chunk.includes(0x0a)) return;
    const all = Buffer.concat(chunks);
    const line = all.subarray(0, all.indexOf(0x0a)).toString('utf8');
    socket.pause();
    void answer(line, handlers, logger).then((response) => socket.end(JSON.stringify(response) + '\n'));
  });
}

async function answer(line: string, handlers: Readonly<Record<string, ControlHandler>>, logger: Logger): Promise<ControlResponse> {
  let request: ControlRequest;
  try {
    request = JSON.parse(line) as ControlRequest;
  } catch {
    return { id: 0, ok: false, error: 'malformed control request (not JSON)' };
  }
  const handler = Object.hasOwn(handlers, request.method) ? handlers[request.method] : undefined;
  if (!handler) return { id: request.id, ok: false, error: `unknown control method "${request.method}"` };
  try {
    const result = await handler(request.params);
    return { id: request.id, ok: true, result };
  } catch (error) {
    logger.error({ err: error, method: request.method }, 'control request failed');
    return { id: request.id, ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}
