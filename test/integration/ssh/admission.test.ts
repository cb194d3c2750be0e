// Admission before login under a flood: one source holding idle TCP connections must not lock
// out everyone else (issue 7 item 2). The flood comes from 127.0.0.3 (client sockets bound to
// that address), the real user is OpenSSH `sftp` from 127.0.0.1.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { PASSWORD, logged, run, startHarness, waitForLog } from './harness.ts';
import type { Harness } from './harness.ts';

const FLOOD_SOURCE = '127.0.0.3';

interface Flood {
  /** Connections the server has closed (refused or timed out) so far. */
  readonly closedByServer: () => number;
  stop(): void;
}

/**
 * Keeps `size` connections open from `source` that never send a byte, and opens a new one
 * whenever the server closes one (an attacker renews its flood), after `renewMs`.
 */
function idleFlood(port: number, size: number, { source = FLOOD_SOURCE, renewMs = 250 } = {}): Flood {
  const sockets = new Set<net.Socket>();
  let stopped = false;
  let closed = 0;
  const open = (): void => {
    if (stopped) return;
    const socket = net.connect({ host: '127.0.0.1', port, localAddress: source });
    sockets.add(socket);
    socket.resume(); // read and drop the server's identification, so its close is seen
    socket.on('error', () => {});
    socket.on('close', () => {
      sockets.delete(socket);
      if (stopped) return;
      closed++;
      setTimeout(open, renewMs).unref();
    });
  };
  for (let i = 0; i < size; i++) open();
  return {
    closedByServer: () => closed,
    stop: () => {
      stopped = true;
      for (const socket of sockets) socket.destroy();
    },
  };
}

/** OpenSSH sftp with a password (sshpass), batch read from a file; resolves with its result. */
async function sftpBatch(h: Harness, dir: string, commands: string): Promise<{ code: number; stderr: string }> {
  const file = path.join(dir, `batch-${Math.random().toString(36).slice(2)}`);
  await writeFile(file, commands);
  // BatchMode must stay off for sshpass; `-b` would set it, so it is overridden before.
  return run('sshpass', ['-p', PASSWORD, 'sftp', '-P', String(h.port), ...h.sshOptions(['-o', 'BatchMode=no']), '-b', file, 'alice@127.0.0.1'], { timeoutMs: 30_000 });
}

/** Opens one connection from `source` that sends `bytes`; resolves when the server closes it. */
function closedAfter(port: number, bytes: string, source = '127.0.0.1'): Promise<number> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = net.connect({ host: '127.0.0.1', port, localAddress: source }, () => socket.write(bytes));
    socket.resume();
    socket.on('error', () => {});
    socket.on('close', () => resolve(Date.now() - started));
  });
}

const FLOOD_REFUSED = 'ssh: connection refused, too many connections not yet logged in from this source';

describe('SSH admission before login', () => {
  it('lets a real sftp user from another address log in and transfer while one source floods idle connections', { timeout: 60_000 }, async (t) => {
    const h = await startHarness();
    const flood = idleFlood(h.port, 100);
    t.after(() => (flood.stop(), h.stop()));
    // The flood is in place and renewing: refused sockets come back every 250 ms.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const content = randomBytes(256 * 1024);
    await writeFile(path.join(h.dir, 'up.bin'), content);
    const result = await sftpBatch(h, h.dir, `put ${path.join(h.dir, 'up.bin')} /flood.bin\nget /flood.bin ${path.join(h.dir, 'down.bin')}\n`);
    assert.equal(result.code, 0, `sftp failed during the flood: ${result.stderr}`);
    assert.deepEqual(await readFile(path.join(h.dir, 'down.bin')), content);
    assert.deepEqual(await readFile(path.join(h.homeDir, 'flood.bin')), content);
    flood.stop();
    assert.ok(flood.closedByServer() >= 100, `the flood was refused (${flood.closedByServer()} closed by the server)`);
    // Hundreds of refusals, one warn line: the rest are counted for the interval's summary.
    const refusals = h.logs.filter((line) => line.level === 40 && String(line.msg).startsWith('ssh: connection refused'));
    assert.deepEqual(refusals.map((line) => [line.source, line.reason]), [[FLOOD_SOURCE, 'too many connections not yet logged in from this source']]);
  });

  it('logs the refusals of an interval as one line with their count', { timeout: 30_000 }, async (t) => {
    const h = await startHarness({ site: { admission: { maxStartupsPerSource: 2, refusalLogIntervalMs: 1_000 } } });
    // 2 let in, 64 waiting for their turn, the rest refused (and renewed every 100 ms).
    const flood = idleFlood(h.port, 100, { renewMs: 100 });
    t.after(() => (flood.stop(), h.stop()));
    const [summary] = await waitForLog(h, `more connections refused from ${FLOOD_SOURCE}`, { timeoutMs: 5_000 });
    flood.stop();
    assert.ok(summary, 'a summary line after the interval');
    assert.equal(summary.level, 40);
    assert.ok(typeof summary.count === 'number' && summary.count >= 18, `counted ${String(summary.count)}`);
    assert.deepEqual(summary.reasons, { 'too many connections not yet logged in from this source': summary.count });
    assert.equal(logged(h, FLOOD_REFUSED).length, 1);
  });

  it('closes a connection that sends no identification string after the identification grace time', { timeout: 30_000 }, async (t) => {
    const h = await startHarness({ site: { admission: { identificationGraceMs: 300, loginGraceMs: 1_500 } } });
    t.after(() => h.stop());
    const [silent, identified] = await Promise.all([closedAfter(h.port, ''), closedAfter(h.port, 'SSH-2.0-Slow_1.0\r\n')]);
    assert.ok(silent >= 250 && silent < 1_200, `the silent one was closed after ${silent} ms`);
    assert.ok(identified >= 1_400, `the identified one got the login grace time, closed after ${identified} ms`);
    const reasons = (await waitForLog(h, 'ssh: connection closed', { count: 2 })).map((line) => line.reason).sort();
    assert.deepEqual(reasons, ['identification grace time expired', 'login grace time expired']);
  });
});
