// bench/protector.ts — what a flood costs once the Protector has blocked its source (issue 10).
//  1. refused connections per second from a blocked address: a listener (session/listener.ts,
//     the one every protocol goes through) with 127.0.0.2 block-listed, and a client in a child
//     process opening connections from 127.0.0.2 as fast as CONCURRENCY sockets allow. The goal
//     is more than 20,000/s on 2 cores: the refusal happens at accept, before any protocol work.
//  2. memory after a flood from 100,000 distinct simulated addresses, each striking once
//     (connect-then-disconnect at normal): the strike book is LRU-bounded (DEFAULT_MAX_TRACKED per
//     site), so the heap growth is bounded whatever the number of addresses.
// Usage: node bench/protector.ts [seconds=5]
import { fork } from 'node:child_process';
import net from 'node:net';
import pino from 'pino';
import { Protector } from '../src/protector/protector.ts';
import type { ProtectedSite } from '../src/protector/protector.ts';
import { DEFAULT_MAX_TRACKED } from '../src/protector/strikes.ts';
import { listen } from '../src/session/listener.ts';
import { DEFAULT_SITE_ADMISSION } from '../src/config/model/site.ts';

const CONCURRENCY = 64;
const BLOCKED = '127.0.0.2';

if (process.argv[2] === 'client') {
  // The flooder: keeps CONCURRENCY connection attempts in flight and counts refusals.
  const port = Number(process.argv[3]);
  const until = Date.now() + Number(process.argv[4]) * 1000;
  let refused = 0;
  let answered = 0;
  const one = (): void => {
    if (Date.now() >= until) return;
    const socket = net.connect({ host: '127.0.0.1', port, localAddress: BLOCKED });
    socket.once('data', () => answered++);
    socket.once('error', () => {});
    socket.once('close', () => {
      refused++;
      one();
    });
  };
  for (let i = 0; i < CONCURRENCY; i++) one();
  const timer = setInterval(() => {
    if (Date.now() < until) return;
    clearInterval(timer);
    process.send?.({ refused, answered });
    setTimeout(() => process.exit(0), 200);
  }, 50);
} else {
  await main(Number(process.argv[2] ?? 5));
}

async function main(seconds: number): Promise<void> {
  const site: ProtectedSite = { lists: { block: [{ entry: BLOCKED }] } };
  const protector = new Protector({ site: () => site, now: Date.now });
  const logger = pino({ level: 'silent' });
  const listener = await listen({
    protocol: 'bench',
    label: 'bench',
    siteId: 'default',
    bind: { host: '127.0.0.1', port: 0 },
    logger,
    limits: () => ({ ...DEFAULT_SITE_ADMISSION, maxConnections: 1000 }),
    closeGraceMs: 1000,
    unidentifiedReason: 'none',
    serve: (connection) => connection.socket.end('admitted\n'),
    protector,
  });
  const result = await new Promise<{ refused: number; answered: number }>((resolve) => {
    const child = fork(new URL(import.meta.url).pathname, ['client', String(listener.address.port), String(seconds)], { execArgv: process.execArgv });
    child.once('message', (message) => resolve(message as { refused: number; answered: number }));
  });
  await listener.close();
  const perSecond = Math.round(result.refused / seconds);
  console.log(`refused connections from a blocked address: ${perSecond}/s over ${seconds} s (${result.refused} refused, ${result.answered} answered; goal > 20000/s)`);

  // Flood of distinct addresses, each one connect-then-disconnect strike at normal.
  const flood = new Protector({ site: () => ({}), now: Date.now });
  globalThis.gc?.();
  const before = process.memoryUsage().heapUsed;
  const started = performance.now();
  const N = 100_000;
  for (let i = 0; i < N; i++) {
    const address = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    flood.opened({ connectionId: `c${i}`, siteId: 'default', remoteAddress: address });
    flood.closed(`c${i}`, { loggedIn: false, goodbye: false, endedByServer: false });
  }
  const ms = performance.now() - started;
  globalThis.gc?.();
  const after = process.memoryUsage().heapUsed;
  console.log(
    `flood of ${N} distinct addresses: ${flood.tracked} tracked (bound ${DEFAULT_MAX_TRACKED} per site), heap +${((after - before) / 1048576).toFixed(1)} MiB, ${Math.round((N / ms) * 1000)} strikes/s${globalThis.gc ? '' : ' (run with --expose-gc for a settled heap)'}`,
  );
}
