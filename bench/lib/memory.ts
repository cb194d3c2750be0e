// Memory figures: Ferry's RSS under a deliberately slow reader (backpressure must keep it flat:
// the server may read the file only as fast as the client drains the connection), and the
// memory each idle SFTP session costs Ferry and sshd (PSS summed over each server's processes,
// as /work/shared/testing/peers/06-memory.sh measures it).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import path from 'node:path';
import { commandName, liveChildren, mustRun, processTree, run, sleep, treeMemory, treeRssKiB, waitChannel } from './proc.ts';
import type { Memory } from './proc.ts';
import { median, round } from './stats.ts';
import type { Context, Target } from './transfers.ts';
import type { Ferry } from './ferry.ts';

export interface SlowReadResult {
  readonly protocol: 'sftp' | 'scp';
  readonly readerMBps: number;
  readonly seconds: number;
  readonly bytesRead: number;
  readonly idleRssKiB: number;
  readonly peakRssKiB: number;
  readonly medianRssDuringKiB: number;
  /** Peak minus idle: what the transfer made Ferry hold. */
  readonly growthKiB: number;
  readonly error?: string;
}

/** RSS samples of the Ferry process tree while `curl --limit-rate` pulls the file over one session. */
export async function slowRead(ferry: Ferry, protocol: 'sftp' | 'scp', readerMBps: number, ctx: Context): Promise<SlowReadResult> {
  const idle = await sampleFor(ferry.pid, 2000);
  const during: number[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      during.push(treeRssKiB(ferry.pid));
      await sleep(200);
    }
  })();
  // curl (libssh2) stops reading its socket whenever it is ahead of --limit-rate, so the TCP and
  // SSH windows fill and stay full for the whole download.
  const url = `${protocol}://127.0.0.1:${ferry.port}/~/src.bin`;
  const argv = ['curl', '-sS', '-k', '--limit-rate', `${Math.round(readerMBps * 1e6)}`, '-u', `${ferry.user}:${ferry.password}`, '-o', '/dev/null', '-w', '%{size_download}', url];
  const result = await run(argv, { timeoutMs: Math.max(120_000, (ctx.bytes / (readerMBps * 1e6)) * 3000) });
  sampling = false;
  await sampler;
  const bytesRead = Number(/(\d+)\s*$/.exec(result.output)?.[1] ?? 0);
  const idleRssKiB = median(idle);
  const peakRssKiB = Math.max(...during, idleRssKiB);
  const error = result.code !== 0 || bytesRead !== ctx.bytes ? `curl ${protocol} exited ${result.code}, read ${bytesRead} of ${ctx.bytes} bytes: ${result.output.slice(-300)}` : undefined;
  return {
    protocol,
    readerMBps,
    seconds: round(result.ms / 1000),
    bytesRead,
    idleRssKiB,
    peakRssKiB,
    medianRssDuringKiB: median(during),
    growthKiB: peakRssKiB - idleRssKiB,
    ...(error === undefined ? {} : { error }),
  };
}

async function sampleFor(pid: number, ms: number): Promise<number[]> {
  const samples: number[] = [];
  for (const end = Date.now() + ms; Date.now() < end; await sleep(200)) samples.push(treeRssKiB(pid));
  return samples;
}

export interface IdleSessionsResult {
  readonly server: string;
  readonly sessions: number;
  /** Sessions whose client reached its batch (the SFTP handshake is done). */
  readonly reached: number;
  readonly before: Memory;
  readonly after: Memory;
  readonly pssKiBPerSession: number;
  readonly rssKiBPerSession: number;
}

/**
 * Opens `n` `sftp -b FIFO` sessions that block reading a batch nobody writes, measures the
 * server's process tree, then closes the FIFO so every client reads end-of-batch and quits.
 */
export async function idleSessions(t: Target, n: number, ctx: Context): Promise<IdleSessionsResult> {
  const fifo = path.join(ctx.work, `idle-${t.alias}.fifo`);
  await mustRun(['mkfifo', fifo]);
  // Held read-write so the clients' opens do not block; Node opens with O_CLOEXEC, so no client
  // inherits this write end and closing it is the end-of-batch for all of them.
  const writer = openSync(fifo, 'r+');
  const clients: ChildProcess[] = [];
  try {
    await sleep(1000);
    const before = treeMemory(t.pid);
    for (let i = 0; i < n; i++) {
      const [cmd, ...args] = [...t.prefix, 'sftp', ...t.sftpOptions, '-F', ctx.sshConfig, '-b', fifo, t.alias];
      const child = spawn(cmd as string, args, { stdio: 'ignore' });
      liveChildren.add(child);
      child.on('close', () => liveChildren.delete(child));
      clients.push(child);
      await sleep(20);
    }
    const reached = await waitUntilBlockedOnBatch(clients, n, 120_000);
    await sleep(3000);
    const after = treeMemory(t.pid);
    return {
      server: t.name,
      sessions: n,
      reached,
      before,
      after,
      pssKiBPerSession: Math.round((after.pssKiB - before.pssKiB) / n),
      rssKiBPerSession: Math.round((after.rssKiB - before.rssKiB) / n),
    };
  } finally {
    closeSync(writer);
    await endClients(clients);
  }
}

/** Counts `sftp` clients blocked reading the FIFO: they have finished the SFTP INIT/VERSION exchange. */
async function waitUntilBlockedOnBatch(clients: readonly ChildProcess[], n: number, timeoutMs: number): Promise<number> {
  let count = 0;
  for (const end = Date.now() + timeoutMs; Date.now() < end; await sleep(500)) {
    count = 0;
    for (const c of clients) {
      const sftp = processTree(c.pid as number).find((pid) => commandName(pid) === 'sftp');
      if (sftp !== undefined && /pipe_(read|wait)/.test(waitChannel(sftp))) count++;
    }
    if (count >= n) break;
  }
  return count;
}

async function endClients(clients: readonly ChildProcess[]): Promise<void> {
  for (const end = Date.now() + 20_000; Date.now() < end && clients.some((c) => c.exitCode === null && c.signalCode === null); ) await sleep(100);
  for (const c of clients) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}
