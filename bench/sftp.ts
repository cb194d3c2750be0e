// Ferry against OpenSSH's sshd on the same machine in one run: SFTP and SCP downloads and
// uploads with the real OpenSSH clients, Ferry's RSS under a slow reader, and memory per idle
// SFTP session. Prints Ferry/OpenSSH ratios (a figure, not a gate) and writes the results as JSON.
// Run: node bench/sftp.ts   Knobs: SIZE_MB (1024) REPS (3) CIPHERS (aes128-gcm@openssh.com,
// chacha20-poly1305@openssh.com) N (50 idle sessions) SLOW_MBPS (40) QUIET_S (5) RESULTS_DIR (<tmp>/ferry-bench-results)
import { linkSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startFerry } from './lib/ferry.ts';
import type { Ferry } from './lib/ferry.ts';
import { idleSessions, slowRead } from './lib/memory.ts';
import type { IdleSessionsResult, SlowReadResult } from './lib/memory.ts';
import { liveChildren, mustRun, treeMemory } from './lib/proc.ts';
import { startSshd } from './lib/sshd.ts';
import type { Sshd } from './lib/sshd.ts';
import { formatTable } from './lib/stats.ts';
import { SCENARIOS, measureScenario, sha256 } from './lib/transfers.ts';
import type { Context, ScenarioResult, Target } from './lib/transfers.ts';
import { describeMachine, readKnobs } from './lib/setup.ts';

const knobs = readKnobs(process.env);
const scratch = mkdtempSync(path.join(os.tmpdir(), 'ferry-bench-'));
let ferry: Ferry | undefined;
let sshd: Sshd | undefined;

let cleaned: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaned ??= (async () => {
    for (const child of liveChildren) child.kill('SIGKILL');
    await Promise.allSettled([ferry?.stop(), sshd?.stop()]);
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

try {
  await main();
} catch (err) {
  console.error(err instanceof Error ? err.stack : err);
  process.exitCode = 1;
} finally {
  await cleanup();
}

async function main(): Promise<void> {
  const bytes = knobs.sizeMb * 1024 * 1024;
  const source = path.join(scratch, 'src.bin');
  console.log(`scratch ${scratch}; ${knobs.sizeMb} MiB test file, ${knobs.reps} runs per server and scenario`);
  await mustRun(['openssl', 'rand', '-out', source, String(bytes)], { timeoutMs: 300_000 });
  const sourceSha256 = await sha256(source); // also warms the page cache for the first download
  sshd = await startSshd(path.join(scratch, 'sshd'));
  const ctx: Context = { sshConfig: sshd.sshConfig, source, sourceSha256, bytes, work: scratch, quietMs: knobs.quietSeconds * 1000 };
  ferry = await startFerry(path.join(scratch, 'ferry'), sshd.sshConfig);
  const opensshDir = path.join(scratch, 'openssh-files');
  mkdirSync(opensshDir);
  // Hard links: both servers read the very same cached pages.
  linkSync(source, path.join(ferry.home, 'src.bin'));
  linkSync(source, path.join(opensshDir, 'src.bin'));
  const targets: Target[] = [
    { name: 'Ferry', alias: 'ferry', pid: ferry.pid, dir: ferry.home, remote: (name) => name, prefix: ['sshpass', '-p', ferry.password], sftpOptions: ['-o', 'BatchMode=no'] },
    { name: 'OpenSSH', alias: 'openssh', pid: sshd.pid, dir: opensshDir, remote: (name) => path.join(opensshDir, name), prefix: [], sftpOptions: [] },
  ];
  const machine = await describeMachine(sshd.version);
  const idleAtStart = { Ferry: treeMemory(ferry.pid), OpenSSH: treeMemory(sshd.pid) };
  console.log(`Ferry pid ${ferry.pid} on 127.0.0.1:${ferry.port}, sshd pid ${sshd.pid} on 127.0.0.1:${sshd.port}; ${machine.cpu}`);

  const transfers: ScenarioResult[] = [];
  for (const cipher of knobs.ciphers) {
    for (const scenario of SCENARIOS) {
      const result = await measureScenario(scenario, cipher, targets, knobs.reps, ctx);
      console.log(`  ${cipher} ${scenario.id}: Ferry ${result.runs['Ferry']?.join(' ')} | OpenSSH ${result.runs['OpenSSH']?.join(' ')} MB/s${result.error ? `  ERROR ${result.error}` : ''}`);
      transfers.push(result);
    }
  }
  const slow: SlowReadResult[] = [];
  for (const protocol of ['sftp', 'scp'] as const) slow.push(await slowRead(ferry, protocol, knobs.slowMBps, ctx));
  const idle: IdleSessionsResult[] = [];
  for (const t of targets) idle.push(await idleSessions(t, knobs.sessions, ctx));

  report(transfers, slow, idle, idleAtStart);
  const resultsDir = knobs.resultsDir ?? path.join(os.tmpdir(), 'ferry-bench-results');
  mkdirSync(resultsDir, { recursive: true });
  const file = path.join(resultsDir, `sftp-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify({ date: new Date().toISOString(), knobs, machine, idleAtStart, transfers, slowReader: slow, idleSessions: idle }, null, 2)}\n`);
  console.log(`\nresults: ${file}`);
  if (transfers.some((r) => r.error) || slow.some((r) => r.error)) process.exitCode = 1;
}

function report(transfers: ScenarioResult[], slow: SlowReadResult[], idle: IdleSessionsResult[], idleAtStart: Record<string, { pssKiB: number; rssKiB: number }>): void {
  const checks = (r: ScenarioResult): string => (r.error ? 'FAIL' : Object.values(r.checksumOk).every(Boolean) && Object.keys(r.checksumOk).length === 2 ? 'sha256 ok' : 'SHA256 MISMATCH');
  console.log('\nThroughput, medians in MB/s (10^6 bytes/s); ratio = Ferry / OpenSSH');
  console.log(formatTable(['cipher', 'scenario', 'Ferry', 'OpenSSH', 'ratio', 'check'], transfers.map((r) => [r.cipher, r.scenario, r.median['Ferry'] ?? NaN, r.median['OpenSSH'] ?? NaN, r.ratio, checks(r)])));
  for (const r of transfers) if (r.error) console.log(`  ${r.cipher} ${r.scenario}: ${r.error}`);
  console.log(`\nIdle at start: Ferry RSS ${idleAtStart['Ferry']?.rssKiB} KiB (PSS ${idleAtStart['Ferry']?.pssKiB}); sshd listener RSS ${idleAtStart['OpenSSH']?.rssKiB} KiB (PSS ${idleAtStart['OpenSSH']?.pssKiB})`);
  console.log(`\nFerry RSS while curl reads ${knobs.sizeMb} MiB at ${knobs.slowMBps} MB/s (KiB)`);
  console.log(formatTable(['protocol', 'seconds', 'idle', 'median during', 'peak', 'peak - idle', 'check'], slow.map((s) => [s.protocol, s.seconds, s.idleRssKiB, s.medianRssDuringKiB, s.peakRssKiB, s.growthKiB, s.error ? `FAIL: ${s.error}` : 'full size'])));
  console.log(`\nMemory per idle SFTP session (${knobs.sessions} sessions, whole process tree)`);
  console.log(formatTable(['server', 'reached', 'processes', 'PSS KiB/session', 'RSS KiB/session'], idle.map((m) => [m.server, `${m.reached}/${m.sessions}`, `${m.before.processes}->${m.after.processes}`, m.pssKiBPerSession, m.rssKiBPerSession])));
  const [f, o] = idle;
  if (f && o) console.log(`ratio Ferry/OpenSSH PSS per session: ${(f.pssKiBPerSession / o.pssKiBPerSession).toFixed(2)}`);
}
