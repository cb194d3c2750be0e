// Process plumbing for the benches: run a client command and time it, walk a server's process
// tree, read its memory from /proc, and stop what we started by PID (never by name).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';

export interface RunResult {
  readonly code: number | null;
  readonly ms: number;
  readonly output: string;
}

/** Children still running; the bench's cleanup kills them by PID on SIGINT. */
export const liveChildren = new Set<ChildProcess>();

/** Keeps only the tail of a client's chatter: enough for an error message, bounded in memory. */
const OUTPUT_TAIL = 8192;

export function run(argv: readonly string[], options: { timeoutMs?: number; cwd?: string } = {}): Promise<RunResult> {
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new Error('run: empty command');
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(cmd, args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    liveChildren.add(child);
    let output = '';
    const keep = (d: Buffer): void => {
      output = (output + d.toString()).slice(-OUTPUT_TAIL);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 600_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      liveChildren.delete(child);
      reject(new Error(`${cmd}: ${err.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      liveChildren.delete(child);
      resolve({ code, ms: performance.now() - started, output });
    });
  });
}

/** Runs a command that must succeed; the error carries its output. */
export async function mustRun(argv: readonly string[], options: { timeoutMs?: number; cwd?: string } = {}): Promise<RunResult> {
  const result = await run(argv, options);
  if (result.code !== 0) throw new Error(`${argv.join(' ')} exited with ${result.code}:\n${result.output}`);
  return result;
}

/** The PID and all its descendants (sshd forks a monitor and a session process per login). */
export function processTree(root: number): number[] {
  const all = [root];
  for (let i = 0; i < all.length && all.length < 100_000; i++) {
    for (const child of childrenOf(all[i] as number)) all.push(child);
  }
  return all;
}

function childrenOf(pid: number): number[] {
  let threads: string[];
  try {
    threads = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  // Any thread may have forked, not only the main one: read every thread's children.
  const found: number[] = [];
  for (const tid of threads) {
    let list = '';
    try {
      list = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8');
    } catch {
      continue;
    }
    for (const child of list.trim().split(/\s+/)) if (child !== '') found.push(Number(child));
  }
  return found;
}

export interface Memory {
  /** Proportional set size: shared pages divided among the processes that map them (KiB). */
  readonly pssKiB: number;
  readonly rssKiB: number;
  readonly processes: number;
}

/** Sums smaps_rollup over a process tree (the figure the peers' 06-memory.sh reports). */
export function treeMemory(root: number): Memory {
  let pssKiB = 0;
  let rssKiB = 0;
  let processes = 0;
  for (const pid of processTree(root)) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    } catch {
      continue;
    }
    pssKiB += kib(text, 'Pss');
    rssKiB += kib(text, 'Rss');
    processes++;
  }
  return { pssKiB, rssKiB, processes };
}

/** Resident set of a tree from /proc/<pid>/status: cheap enough to sample several times a second. */
export function treeRssKiB(root: number): number {
  let total = 0;
  for (const pid of processTree(root)) {
    try {
      total += kib(readFileSync(`/proc/${pid}/status`, 'utf8'), 'VmRSS');
    } catch {
      // exited between listing and reading
    }
  }
  return total;
}

function kib(text: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return match ? Number(match[1]) : 0;
}

/** What the kernel says a process is blocked in (e.g. `pipe_read`), or '' if it is gone. */
export function waitChannel(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/wchan`, 'utf8');
  } catch {
    return '';
  }
}

export function commandName(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** A port free right now on 127.0.0.1 (the server that takes it is started straight after). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM, wait up to `graceMs`, then SIGKILL. */
export async function stopPid(pid: number, graceMs = 10_000): Promise<void> {
  if (!alive(pid)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await sleep(50);
  if (alive(pid)) process.kill(pid, 'SIGKILL');
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function cpuTicks(): { busy: number; total: number } {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0); // idle + iowait
  return { busy: total - idle, total };
}

/**
 * Waits (at most `maxMs`) until the whole machine is below `maxBusyPct` busy over one second,
 * so a run does not start while other users of this shared machine are loading it. Between
 * runs both servers are idle, so what is measured here is someone else's work.
 * Returns the busy percentage last seen.
 */
export async function waitQuiet(maxBusyPct = 20, maxMs = 30_000): Promise<number> {
  let pct = 100;
  for (const end = Date.now() + maxMs; Date.now() < end; ) {
    const a = cpuTicks();
    await sleep(1000);
    const b = cpuTicks();
    pct = (100 * (b.busy - a.busy)) / Math.max(1, b.total - a.total);
    if (pct < maxBusyPct) break;
  }
  return Math.round(pct);
}
