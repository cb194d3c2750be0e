// The bench's knobs (validated, with their defaults and units) and a description of the machine
// the figures came from.
import { createRequire } from 'node:module';
import os from 'node:os';
import { run } from './proc.ts';

export interface Knobs {
  /** Test file size in MiB. */
  readonly sizeMb: number;
  /** Timed runs per server and scenario; medians are reported. */
  readonly reps: number;
  readonly ciphers: readonly string[];
  /** Idle SFTP sessions opened against each server. */
  readonly sessions: number;
  /** Rate of the deliberately slow reader, MB/s. */
  readonly slowMBps: number;
  readonly resultsDir: string | undefined;
  /** Seconds to wait, at most, before each timed run for other users' load to drop. */
  readonly quietSeconds: number;
}

export function readKnobs(env: NodeJS.ProcessEnv): Knobs {
  const ciphers = (env['CIPHERS'] ?? 'aes128-gcm@openssh.com,chacha20-poly1305@openssh.com').split(',').map((c) => c.trim()).filter(Boolean);
  for (const c of ciphers) if (!/^[a-z0-9@.-]{1,64}$/.test(c)) throw new Error(`CIPHERS: "${c}" is not a cipher name (see \`ssh -Q cipher\`)`);
  if (ciphers.length === 0) throw new Error('CIPHERS: name at least one cipher');
  return {
    sizeMb: positive(env, 'SIZE_MB', 1024, 1 << 20),
    reps: positive(env, 'REPS', 3, 1000),
    ciphers,
    sessions: positive(env, 'N', 50, 5000),
    slowMBps: positive(env, 'SLOW_MBPS', 40, 100_000),
    resultsDir: env['RESULTS_DIR'] || undefined,
    quietSeconds: positive(env, 'QUIET_S', 5, 3600),
  };
}

export function positive(env: NodeJS.ProcessEnv, name: string, fallback: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > max) throw new Error(`${name} must be a whole number from 1 to ${max}, not "${raw}"`);
  return value;
}

export async function describeMachine(sshVersion: string) {
  const ssh2Crypto = createRequire(import.meta.url)('ssh2/lib/protocol/crypto') as { bindingAvailable?: boolean };
  return {
    cpu: `${os.cpus()[0]?.model ?? 'unknown CPU'} x ${os.availableParallelism()}`,
    memoryMiB: Math.round(os.totalmem() / 1048576),
    kernel: os.release(),
    node: process.version,
    openssh: sshVersion,
    // Without the native binding ssh2 falls back to JavaScript crypto and Ferry is far slower.
    ssh2NativeCrypto: ssh2Crypto.bindingAvailable === true,
    ferryCommit: (await run(['git', '-C', import.meta.dirname, 'rev-parse', '--short', 'HEAD'])).output.trim(),
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}
