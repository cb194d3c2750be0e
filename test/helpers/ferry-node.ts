// Starts a real `ferry start` process the way an operator does (bin/ferry.js), on 127.0.0.1 and
// a free port, and stops it with SIGTERM. Every integration test that needs a whole node uses it.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const repoRoot = path.resolve(import.meta.dirname, '../..');
export const ferryBin = path.join(repoRoot, 'bin/ferry.js');

export interface RunningNode {
  readonly dataDir: string;
  readonly host: string;
  readonly sftpPort: number;
  /** Every stdout line so far. */
  readonly stdout: string[];
  readonly stderr: string[];
  readonly process: ChildProcess;
  /** SIGTERM, then wait for exit; resolves with the exit code. */
  stop(): Promise<number | null>;
}

export interface StartOptions {
  readonly dataDir?: string;
  readonly args?: readonly string[];
  readonly timeoutMs?: number;
}

/** Runs `ferry <args>` to completion (for CLI commands such as importusers). */
export function runFerry(args: readonly string[], options: { input?: string; timeoutMs?: number } = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [ferryBin, ...args], { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ferry ${args.join(' ')} did not finish in time; stderr: ${stderr}`));
    }, options.timeoutMs ?? 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

export function tempDir(prefix = 'ferry-test-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

export async function startFerryNode(options: StartOptions = {}): Promise<RunningNode> {
  const dataDir = options.dataDir ?? path.join(tempDir(), 'data');
  const child = spawn(
    process.execPath,
    [ferryBin, 'start', '--data', dataDir, '--host', '127.0.0.1', '--sftp-port', '0', ...(options.args ?? [])],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const stdout: string[] = [];
  const stderr: string[] = [];
  let exited: number | null | undefined;
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve((exited = code))));
  child.stderr.setEncoding('utf8').on('data', (d: string) => stderr.push(...d.split('\n').filter(Boolean)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`ferry start did not print "listening sftp" in time.\nstdout: ${stdout.join('\n')}\nstderr: ${stderr.join('\n')}`)),
      options.timeoutMs ?? 30_000,
    );
    let partial = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      const lines = (partial + d).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        stdout.push(line);
        const match = /^listening sftp 127\.0\.0\.1:(\d+)$/.exec(line);
        if (match) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      }
    });
    void exit.then((code) => {
      clearTimeout(timer);
      reject(new Error(`ferry start exited with ${code}.\nstdout: ${stdout.join('\n')}\nstderr: ${stderr.join('\n')}`));
    });
  });
  return {
    dataDir,
    host: '127.0.0.1',
    sftpPort: port,
    stdout,
    stderr,
    process: child,
    async stop() {
      if (exited !== undefined) return exited;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const code = await exit;
      clearTimeout(killer);
      return code;
    },
  };
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
