// The transfer scenarios: the same OpenSSH client commands pointed at Ferry and at sshd,
// interleaved run by run (the machine is shared and noisy), each copy's size checked on every run
// and its SHA-256 once per scenario and server.
import { createHash } from 'node:crypto';
import { createReadStream, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { mbPerSecond, median, round } from './stats.ts';
import { run, waitQuiet } from './proc.ts';

export interface Target {
  readonly name: 'Ferry' | 'OpenSSH';
  /** Host alias in the shared ssh_config. */
  readonly alias: string;
  readonly pid: number;
  /** Directory on disk holding `src.bin`, where `up.bin` lands. */
  readonly dir: string;
  /** How this server names a file of `dir` in SFTP/SCP paths. */
  remote(name: string): string;
  /** Wraps a client command (sshpass for Ferry's password login). */
  readonly prefix: readonly string[];
  /** `sftp -b` forces BatchMode on unless the command line says otherwise (sshpass needs the prompt). */
  readonly sftpOptions: readonly string[];
}

export interface Context {
  readonly sshConfig: string;
  readonly source: string;
  readonly sourceSha256: string;
  readonly bytes: number;
  readonly work: string;
  /** Longest wait for the machine to calm down before a timed run. */
  readonly quietMs: number;
}

export interface Scenario {
  readonly id: string;
  readonly direction: 'down' | 'up';
  argv(target: Target, cipher: string, ctx: Context): string[];
}

const downloadPath = (t: Target, ctx: Context): string => path.join(ctx.work, `dl-${t.alias}.bin`);

function sftpBatch(t: Target, ctx: Context, direction: 'down' | 'up'): string {
  const file = path.join(ctx.work, `batch-${t.alias}-${direction}`);
  const line = direction === 'down' ? `get "${t.remote('src.bin')}" "${downloadPath(t, ctx)}"` : `put "${ctx.source}" "${t.remote('up.bin')}"`;
  writeFileSync(file, `${line}\n`);
  return file;
}

function scp(legacy: boolean, direction: 'down' | 'up'): Scenario['argv'] {
  return (t, cipher, ctx) => {
    const [from, to] = direction === 'down' ? [`${t.alias}:${t.remote('src.bin')}`, downloadPath(t, ctx)] : [ctx.source, `${t.alias}:${t.remote('up.bin')}`];
    return [...t.prefix, 'scp', '-q', ...(legacy ? ['-O'] : []), '-F', ctx.sshConfig, '-c', cipher, from, to];
  };
}

export const SCENARIOS: readonly Scenario[] = [
  { id: 'sftp get', direction: 'down', argv: (t, c, ctx) => [...t.prefix, 'sftp', ...t.sftpOptions, '-F', ctx.sshConfig, '-c', c, '-b', sftpBatch(t, ctx, 'down'), t.alias] },
  { id: 'sftp put', direction: 'up', argv: (t, c, ctx) => [...t.prefix, 'sftp', ...t.sftpOptions, '-F', ctx.sshConfig, '-c', c, '-b', sftpBatch(t, ctx, 'up'), t.alias] },
  { id: 'scp down', direction: 'down', argv: scp(false, 'down') },
  { id: 'scp up', direction: 'up', argv: scp(false, 'up') },
  { id: 'scp -O down', direction: 'down', argv: scp(true, 'down') },
  { id: 'scp -O up', direction: 'up', argv: scp(true, 'up') },
];

export interface ScenarioResult {
  readonly scenario: string;
  readonly cipher: string;
  /** MB/s per run, in run order. */
  readonly runs: Record<string, number[]>;
  readonly median: Record<string, number>;
  /** Ferry median / OpenSSH median. */
  readonly ratio: number;
  readonly checksumOk: Record<string, boolean>;
  /** Whole-machine busy % in the second before each run (other users' load; ideally low). */
  readonly busyBeforePct: number[];
  readonly error?: string;
}

export async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function destination(s: Scenario, t: Target, ctx: Context): string {
  return s.direction === 'down' ? downloadPath(t, ctx) : path.join(t.dir, 'up.bin');
}

/** One timed transfer; throws with the client's output when it fails or the copy is short. */
async function timedRun(s: Scenario, t: Target, cipher: string, ctx: Context): Promise<{ mbps: number; busyPct: number }> {
  const dest = destination(s, t, ctx);
  rmSync(dest, { force: true });
  await run(['sync']); // write-back of the previous upload must not land in this run's time
  const busyPct = await waitQuiet(20, ctx.quietMs);
  const result = await run(s.argv(t, cipher, ctx), { timeoutMs: 900_000 });
  if (result.code !== 0) throw new Error(`${t.name} ${s.id} (${cipher}) exited with ${result.code}: ${result.output.trim().slice(-500)}`);
  const size = statSync(dest, { throwIfNoEntry: false })?.size ?? 0;
  if (size !== ctx.bytes) throw new Error(`${t.name} ${s.id} (${cipher}) left ${size} bytes, expected ${ctx.bytes}`);
  return { mbps: mbPerSecond(ctx.bytes, result.ms), busyPct };
}

/** REPS runs per server, alternating which server goes first so neither always gets the warmer machine. */
export async function measureScenario(s: Scenario, cipher: string, targets: readonly Target[], reps: number, ctx: Context): Promise<ScenarioResult> {
  const runs: Record<string, number[]> = Object.fromEntries(targets.map((t) => [t.name, []]));
  const checksumOk: Record<string, boolean> = {};
  const busyBeforePct: number[] = [];
  let error: string | undefined;
  for (let rep = 0; rep < reps && error === undefined; rep++) {
    for (const t of rep % 2 === 0 ? targets : [...targets].reverse()) {
      try {
        const { mbps, busyPct } = await timedRun(s, t, cipher, ctx);
        runs[t.name]?.push(round(mbps));
        busyBeforePct.push(busyPct);
        if (!(t.name in checksumOk)) checksumOk[t.name] = (await sha256(destination(s, t, ctx))) === ctx.sourceSha256;
      } catch (err) {
        error = err instanceof Error ? err.message : String(err);
      }
      rmSync(destination(s, t, ctx), { force: true });
    }
  }
  const medians: Record<string, number> = Object.fromEntries(targets.map((t) => [t.name, round(median(runs[t.name] ?? []))]));
  const ratio = round((medians['Ferry'] ?? Number.NaN) / (medians['OpenSSH'] ?? Number.NaN), 2);
  return { scenario: s.id, cipher, runs, median: medians, ratio, checksumOk, busyBeforePct, ...(error === undefined ? {} : { error }) };
}
