// Ferry's FTP next to vsftpd on the same machine in one run, lftp as the one client for both: one
// large file down and up over FTPES (AUTH TLS, protected data) and plain FTP, and many small files
// with `lftp mirror` down and up. Prints Ferry/vsftpd ratios of the medians (a figure, not a gate)
// and writes the results as JSON.
// Run (root): node bench/ftp.ts   Knobs: SIZE_MB (256) REPS (3) FILES (1000) FILE_KIB (4) QUIET_S (5)
// RESULTS_DIR (<tmp>/ferry-bench-results)
import { randomBytes } from 'node:crypto';
import { chmodSync, linkSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runFerry, startFerryNode } from '../test/helpers/ferry-node.ts';
import type { RunningNode } from '../test/helpers/ferry-node.ts';
import { liveChildren, mustRun, run, sleep, waitQuiet } from './lib/proc.ts';
import { positive } from './lib/setup.ts';
import { formatTable, mbPerSecond, median, round } from './lib/stats.ts';
import { sha256 } from './lib/transfers.ts';
import { startVsftpd } from './lib/vsftpd.ts';
import type { Vsftpd } from './lib/vsftpd.ts';

const knobs = {
  sizeMb: positive(process.env, 'SIZE_MB', 256, 1 << 20),
  reps: positive(process.env, 'REPS', 3, 1000),
  files: positive(process.env, 'FILES', 1000, 100_000),
  fileKiB: positive(process.env, 'FILE_KIB', 4, 1 << 20),
  quietSeconds: positive(process.env, 'QUIET_S', 5, 3600),
  resultsDir: process.env['RESULTS_DIR'] || undefined,
};
const scratch = mkdtempSync(path.join(os.tmpdir(), 'ferry-ftp-bench-'));
// vsftpd serves as an unprivileged local user: it must be able to walk into the scratch tree.
chmodSync(scratch, 0o755);
let node: RunningNode | undefined;
let vsftpd: Vsftpd | undefined;

interface Server {
  readonly name: 'Ferry' | 'vsftpd';
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** The directory on disk that the user's FTP root is. */
  readonly dir: string;
}

type Mode = 'ftpes' | 'plain';
interface Scenario {
  readonly id: string;
  readonly mode: Mode;
  readonly kind: 'down' | 'up' | 'mirror down' | 'mirror up';
}
const SCENARIOS: Scenario[] = (['ftpes', 'plain'] as const).flatMap((mode) => (['down', 'up', 'mirror down', 'mirror up'] as const).map((kind) => ({ id: `${mode} ${kind}`, mode, kind })));

interface Result {
  readonly scenario: string;
  /** MB/s for one file, files/s for mirrors, per run. */
  readonly runs: Record<string, number[]>;
  readonly busyPct: number[];
  readonly median: Record<string, number>;
  readonly ratio: number;
  readonly unit: 'MB/s' | 'files/s';
  readonly checked: Record<string, boolean>;
  readonly error?: string;
  readonly skipped?: string;
}

let cleaned: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaned ??= (async () => {
    for (const child of liveChildren) child.kill('SIGKILL');
    await Promise.allSettled([node?.stop(), vsftpd?.stop()]);
    rmSync(scratch, { recursive: true, force: true });
  })();
  return cleaned;
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping both servers and removing ${scratch}`);
    void cleanup().finally(() => process.exit(130));
  });
}

async function main(): Promise<void> {
  const bytes = knobs.sizeMb * 1024 * 1024;
  const source = path.join(scratch, 'src.bin');
  console.log(`scratch ${scratch}; ${knobs.sizeMb} MiB file, ${knobs.files} x ${knobs.fileKiB} KiB files, ${knobs.reps} runs per server and scenario`);
  await mustRun(['openssl', 'rand', '-out', source, String(bytes)], { timeoutMs: 300_000 });
  chmodSync(source, 0o644);
  const sourceSha256 = await sha256(source);
  const small = path.join(scratch, 'small');
  mkdirSync(small);
  for (let i = 0; i < knobs.files; i++) writeFileSync(path.join(small, `f${String(i).padStart(5, '0')}.bin`), randomBytes(knobs.fileKiB * 1024), { mode: 0o644 });
  chmodSync(small, 0o755);

  vsftpd = await startVsftpd(path.join(scratch, 'vsftpd'));
  const ferry = await startFerryFtp(path.join(scratch, 'ferry'));
  const servers: Server[] = [ferry, { name: 'vsftpd', port: vsftpd.port, user: vsftpd.user, password: vsftpd.password, dir: vsftpd.root }];
  for (const s of servers) {
    // Hard links: both servers read the very same cached pages.
    linkSync(source, path.join(s.dir, 'src.bin'));
    mkdirSync(path.join(s.dir, 'small'));
    for (const name of readdirSync(small)) linkSync(path.join(small, name), path.join(s.dir, 'small', name));
  }
  const plainOnFerry = (await lftp(ferry, 'plain', 'ls src.bin')).code === 0;
  const lftpVersion = (await run(['lftp', '--version'])).output.split('\n')[0]?.trim() ?? '';
  console.log(`Ferry pid ${node?.process.pid} ftp on 127.0.0.1:${ferry.port}, vsftpd pid ${vsftpd.pid} on 127.0.0.1:${vsftpd.port}; ${vsftpd.version}; ${lftpVersion}`);
  if (!plainOnFerry) console.log('Ferry refuses plain FTP logins on this binding (explicitTls is not "optional"): plain scenarios run against vsftpd only');

  const results: Result[] = [];
  for (const scenario of SCENARIOS) {
    const targets = scenario.mode === 'plain' && !plainOnFerry ? servers.filter((s) => s.name !== 'Ferry') : servers;
    const result = await measure(scenario, targets, { source, sourceSha256, bytes, small });
    const show = (name: string): string => result.runs[name]?.map((v) => round(v)).join(' ') ?? 'n/a';
    console.log(`  ${scenario.id}: Ferry ${show('Ferry')} | vsftpd ${show('vsftpd')} ${result.unit}${result.error ? `  ERROR ${result.error}` : ''}`);
    results.push(targets.length < servers.length ? { ...result, skipped: 'Ferry: plain FTP logins are off on this binding' } : result);
  }

  console.log('\nMedians; MB/s = 10^6 bytes/s (login included), files/s for mirrors; ratio = Ferry / vsftpd');
  const check = (r: Result): string => (r.error ? 'FAIL' : Object.values(r.checked).every(Boolean) ? 'ok' : 'MISMATCH');
  console.log(formatTable(['scenario', 'unit', 'Ferry', 'vsftpd', 'ratio', 'check'], results.map((r) => [r.scenario, r.unit, r.median['Ferry'] ?? NaN, r.median['vsftpd'] ?? NaN, r.ratio, r.skipped ? `${check(r)} (${r.skipped})` : check(r)])));
  for (const r of results) if (r.error) console.log(`  ${r.scenario}: ${r.error}`);

  const resultsDir = knobs.resultsDir ?? path.join(os.tmpdir(), 'ferry-bench-results');
  mkdirSync(resultsDir, { recursive: true });
  const file = path.join(resultsDir, `ftp-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  const ferryCommit = (await run(['git', '-C', import.meta.dirname, 'rev-parse', '--short', 'HEAD'])).output.trim();
  const machine = { cpu: `${os.cpus()[0]?.model ?? 'unknown CPU'} x ${os.availableParallelism()}`, kernel: os.release(), node: process.version, vsftpd: vsftpd.version, lftp: lftpVersion, ferryCommit, loadAverage: os.loadavg() };
  writeFileSync(file, `${JSON.stringify({ date: new Date().toISOString(), knobs, machine, plainOnFerry, results }, null, 2)}\n`);
  console.log(`\nresults: ${file}`);
  if (results.some((r) => r.error)) process.exitCode = 1;
}

/** A node started as an operator does, with the default site's FTP/FTPES listener on a free port. */
async function startFerryFtp(dir: string): Promise<Server> {
  const home = path.join(dir, 'home');
  mkdirSync(home, { recursive: true });
  node = await startFerryNode({ dataDir: path.join(dir, 'data'), timeoutMs: 60_000, args: ['--ftp-port', '0'] });
  const port = await listeningPort(node, 'ftp');
  const user = 'bench';
  const password = `bench-${randomBytes(9).toString('base64url')}`;
  const csv = path.join(dir, 'users.csv');
  writeFileSync(csv, `${user},"${password}",${home},"ftp,ftpes","dirList,dirMake,fileGet,filePut,fileModify,fileRename,fileDelete"\n`);
  const imported = await runFerry(['importusers', '--data', node.dataDir, '--csv', csv, '--vsite', 'default', '--makevfs']);
  if (imported.code !== 0) throw new Error(`ferry importusers failed:\n${imported.stdout}${imported.stderr}`);
  const server: Server = { name: 'Ferry', port, user, password, dir: home };
  // The node applies imported users shortly after importusers returns.
  let last = '';
  for (const end = Date.now() + 60_000; Date.now() < end; await sleep(300)) {
    const probe = await lftp(server, 'ftpes', 'ls');
    if (probe.code === 0) return server;
    last = probe.output;
  }
  throw new Error(`no FTPES login to Ferry within 60 s: ${last}`);
}

async function listeningPort(n: RunningNode, protocol: string): Promise<number> {
  for (const end = Date.now() + 20_000; Date.now() < end; await sleep(50)) {
    for (const line of n.stdout) {
      const m = new RegExp(`^listening ${protocol} 127\\.0\\.0\\.1:(\\d+)$`).exec(line);
      if (m) return Number(m[1]);
    }
  }
  throw new Error(`no "listening ${protocol}" line: ${n.stdout.join('\n')}`);
}

const LFTP_COMMON = 'set cmd:fail-exit yes; set net:max-retries 1; set net:timeout 20; set xfer:clobber on';
const LFTP_MODE: Record<Mode, string> = {
  plain: 'set ftp:ssl-allow no',
  ftpes: 'set ftp:ssl-force true; set ftp:ssl-protect-data true; set ssl:verify-certificate no',
};

function lftp(server: Server, mode: Mode, commands: string, timeoutMs = 600_000) {
  // Generated passwords are base64url: nothing in them needs quoting for lftp.
  return run(['lftp', '-c', `${LFTP_COMMON}; ${LFTP_MODE[mode]}; open -u ${server.user},${server.password} -p ${server.port} 127.0.0.1; ${commands}`], { timeoutMs });
}

interface Inputs {
  readonly source: string;
  readonly sourceSha256: string;
  readonly bytes: number;
  readonly small: string;
}

async function measure(scenario: Scenario, servers: Server[], input: Inputs): Promise<Result> {
  const runs: Record<string, number[]> = Object.fromEntries(servers.map((s) => [s.name, []]));
  const checked: Record<string, boolean> = {};
  const busyPct: number[] = [];
  const unit = scenario.kind.startsWith('mirror') ? 'files/s' : 'MB/s';
  let error: string | undefined;
  try {
    for (let rep = 0; rep < knobs.reps; rep++) {
      // Interleaved, and the server that goes first alternates.
      const order = rep % 2 === 0 ? servers : [...servers].reverse();
      for (const server of order) {
        const local = path.join(scratch, `out-${server.name}`);
        rmSync(local, { recursive: true, force: true });
        const remoteOut = path.join(server.dir, scenario.kind === 'mirror up' ? 'small-up' : 'up.bin');
        rmSync(remoteOut, { recursive: true, force: true });
        await mustRun(['sync']);
        busyPct.push(await waitQuiet(20, knobs.quietSeconds * 1000));
        const commands = {
          down: `get src.bin -o ${local}`,
          up: `put ${input.source} -o up.bin`,
          'mirror down': `mirror small ${local}`,
          'mirror up': `mirror -R ${input.small} small-up`,
        }[scenario.kind];
        const result = await lftp(server, scenario.mode, commands);
        if (result.code !== 0) throw new Error(`${server.name}: lftp exited with ${result.code}: ${result.output.slice(-600)}`);
        const copy = scenario.kind === 'down' || scenario.kind === 'mirror down' ? local : remoteOut;
        if (unit === 'MB/s') {
          const size = statSync(copy).size;
          if (size !== input.bytes) throw new Error(`${server.name}: copy is ${size} bytes, not ${input.bytes}`);
          if (checked[server.name] === undefined) checked[server.name] = (await sha256(copy)) === input.sourceSha256;
          runs[server.name]?.push(round(mbPerSecond(input.bytes, result.ms)));
        } else {
          const names = readdirSync(copy);
          const full = names.length === knobs.files && names.every((name) => statSync(path.join(copy, name)).size === knobs.fileKiB * 1024);
          if (!full) throw new Error(`${server.name}: ${names.length} files arrived, not ${knobs.files} of ${knobs.fileKiB} KiB`);
          checked[server.name] = full;
          runs[server.name]?.push(round(knobs.files / (result.ms / 1000)));
        }
      }
    }
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
  }
  const medians = Object.fromEntries(Object.entries(runs).map(([name, values]) => [name, round(median(values))]));
  const ratio = round((medians['Ferry'] ?? NaN) / (medians['vsftpd'] ?? NaN), 2);
  return { scenario: scenario.id, runs, busyPct, median: medians, ratio, unit, checked, ...(error ? { error } : {}) };
}

// Last: the constants above must be initialized before main() runs.
try {
  await main();
} catch (err) {
  console.error(err instanceof Error ? err.stack : err);
  process.exitCode = 1;
} finally {
  await cleanup();
}
