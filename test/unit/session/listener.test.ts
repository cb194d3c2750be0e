// The protocol-neutral listener on loopback with raw TCP clients: admission slots, the drain on
// close (idle connections ended at once, busy ones given the grace period, then cut) and why
// each connection closed.
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import pino from 'pino';
import { listen } from '../../../src/session/listener.ts';
import type { AdmittedConnection } from '../../../src/session/listener.ts';
import type { AdmissionLimits } from '../../../src/session/admission.ts';

const LIMITS: AdmissionLimits = {
  maxConnections: 2,
  maxStartupsPerSource: 10,
  maxStartups: { start: 10, rate: 30, full: 100 },
  identificationGraceMs: 10_000,
  loginGraceMs: 10_000,
  refusalLogIntervalMs: 60_000,
};

async function setup(t: { after: (fn: () => Promise<void> | void) => void }, closeGraceMs: number) {
  const logs: Record<string, unknown>[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  const served: AdmittedConnection[] = [];
  const done: string[] = [];
  const listener = await listen({
    protocol: 'test',
    label: 'TEST',
    siteId: 'default',
    bind: { host: '127.0.0.1', port: 0 },
    logger,
    limits: () => LIMITS,
    closeGraceMs,
    unidentifiedReason: 'never identified',
    serve: (connection) => {
      served.push(connection);
      connection.whenDone(() => done.push(connection.info.connectionId));
    },
  });
  t.after(() => listener.close());
  const sockets: net.Socket[] = [];
  t.after(() => sockets.forEach((socket) => socket.destroy()));
  const connect = async () => {
    const count = served.length;
    const socket = net.connect(listener.address.port, '127.0.0.1');
    socket.on('error', () => {});
    sockets.push(socket);
    await once(socket, 'connect');
    while (served.length === count) await new Promise((resolve) => setTimeout(resolve, 5));
    return { socket, connection: served.at(-1) as AdmittedConnection };
  };
  const closedLines = () => logs.filter((line) => line.msg === 'test: connection closed');
  return { listener, connect, logs, done, closedLines };
}

describe('listener', () => {
  it('refuses past maxConnections and frees the slot when a connection closes', async (t) => {
    const { listener, connect, logs, closedLines } = await setup(t, 1_000);
    const first = await connect();
    await connect();
    const third = net.connect(listener.address.port, '127.0.0.1');
    third.on('error', () => {});
    await once(third, 'close');
    assert.ok(logs.some((line) => String(line.msg).startsWith('test: connection refused, too many connections')));
    first.socket.destroy();
    while (closedLines().length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(closedLines()[0]?.reason, 'client closed');
    await connect(); // the slot is free again
  });

  it('drains on close: idle connections end at once, busy ones run out their grace, then are cut', async (t) => {
    const { listener, connect, done, closedLines } = await setup(t, 300);
    const idle = await connect();
    const busy = await connect();
    busy.connection.track(1);
    const started = Date.now();
    const closing = listener.close();
    assert.equal(listener.closing, true);
    await once(idle.socket, 'close');
    assert.ok(Date.now() - started < 250, 'the idle connection did not wait for the grace period');
    await closing;
    assert.ok(Date.now() - started >= 300, 'the busy connection had its grace period');
    assert.deepEqual(closedLines().map((line) => line.reason).sort(), ['server shutting down', 'server shutting down: transfer cut after the close grace period']);
    busy.connection.track(-1);
    assert.deepEqual(done.sort(), [idle.connection.info.connectionId, busy.connection.info.connectionId].sort(), 'each ran its end-of-connection work once');
  });

  it('ends a busy connection as soon as its work ends during the drain', async (t) => {
    const { listener, connect, closedLines } = await setup(t, 10_000);
    const busy = await connect();
    busy.connection.track(1);
    const closing = listener.close();
    setTimeout(() => busy.connection.track(-1), 50);
    const started = Date.now();
    await closing;
    assert.ok(Date.now() - started < 2_000);
    assert.deepEqual(closedLines().map((line) => line.reason), ['server shutting down']);
  });
});
