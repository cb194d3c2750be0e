// Starts a real `ferry start` process the way an operator does (bin/ferry.js), on 127.0.0.1 and
// a free port, and stops it with SIGTERM. Every integration test that needs a whole node uses it.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const repoRoot = path.resolve(import.meta.dirname, '../..');
export const ferryBin = path.join(repoRoot, 'bin/ferry.js');

export interface RunningNode {
  readonly dataDir: string;
  readonly host: string;
  readonly sftpPort: number;
  /** The admin API's HTTPS port (`listening https-admin`). */
  readonly adminPort: number;
  /** The setup code printed at start (a node without a SuperAdmin), if any. */
  readonly setupCode: string | undefined;
  /** Every stdout line so far. */
  readonly stdout: string[];
  readonly stderr: string[];
  readonly process: ChildProcess;
  /** SIGTERM, then wait for exit; resolves with the exit code. */
  stop(): Promise<number | null>;
}

export interface StartOptions {
  readonly dataDir?: string;
  /** The run's binding flags; `--host 127.0.0.1 --sftp-port 0` unless given. */
  readonly binding?: readonly string[];
  /**
   * How `ferry` is run, e.g. `['npx', 'ferry']`; this node's bin/ferry.js by default. A launcher
   * runs in a process group of its own, which stop() signals whole (npx -> node -> node 24).
   */
  readonly launcher?: readonly string[];
  readonly args?: readonly string[];
  readonly timeoutMs?: number;
}

/** Runs `ferry <args>` to completion (for CLI commands such as importusers). */
export function runFerry(args: readonly string[], options: { input?: string; timeoutMs?: number } = {}) {
  return runToEnd(process.execPath, [ferryBin, ...args], options);
}

/** Runs a command line through `sh -c`, as an operator pasting it into a shell would. */
export function runShell(commandLine: string, options: { input?: string; timeoutMs?: number; cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  return runToEnd('sh', ['-c', commandLine], options);
}

/** The environment of a plain login shell: no npm variables, no node_modules/.bin on the PATH. */
export function plainShellEnv(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('npm_')));
  env.PATH = (env.PATH ?? '').split(path.delimiter).filter((dir) => !dir.includes('node_modules')).join(path.delimiter);
  return env;
}

function runToEnd(program: string, args: readonly string[], options: { input?: string; timeoutMs?: number; cwd?: string; env?: NodeJS.ProcessEnv }) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(program, args, { cwd: options.cwd ?? repoRoot, env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${program} ${args.join(' ')} did not finish in time; stderr: ${stderr}`));
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
  const [program, ...launcherArgs] = options.launcher ?? [process.execPath, ferryBin];
  const group = options.launcher !== undefined;
  const child = spawn(
    program!,
    [
      ...launcherArgs,
      'start',
      '--data',
      dataDir,
      ...(options.binding ?? ['--host', '127.0.0.1', '--sftp-port', '0']),
      // Parallel tests must not fight over the default 6443.
      ...(options.args?.includes('--admin-port') ? [] : ['--admin-port', '0']),
      ...(options.args ?? []),
    ],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], detached: group },
  );
  const signal = (name: NodeJS.Signals) => {
    try {
      if (group) process.kill(-child.pid!, name);
      else child.kill(name);
    } catch {
      // Already gone.
    }
  };
  const stdout: string[] = [];
  const stderr: string[] = [];
  let exited: number | null | undefined;
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve((exited = code))));
  child.stderr.setEncoding('utf8').on('data', (d: string) => stderr.push(...d.split('\n').filter(Boolean)));
  let host = '127.0.0.1';
  let sftpPort: number | undefined;
  let adminPort: number | undefined;
  let setupCode: string | undefined;
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`ferry start did not print "listening sftp" and "listening https-admin" in time.\nstdout: ${stdout.join('\n')}\nstderr: ${stderr.join('\n')}`)),
      options.timeoutMs ?? 30_000,
    );
    let partial = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      const lines = (partial + d).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        stdout.push(line);
        const match = /^listening sftp (127\.\d+\.\d+\.\d+):(\d+)$/.exec(line);
        if (match) {
          host = match[1] as string;
          sftpPort = Number(match[2]);
        }
        const admin = /^listening https-admin \S+:(\d+)$/.exec(line);
        if (admin) adminPort = Number(admin[1]);
        const code = /^setup code: (\S+)/.exec(line);
        if (code) setupCode = code[1];
        if (sftpPort !== undefined && adminPort !== undefined) {
          clearTimeout(timer);
          resolve(sftpPort);
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
    host,
    sftpPort: port,
    adminPort: adminPort as number,
    get setupCode() {
      return setupCode;
    },
    stdout,
    stderr,
    process: child,
    async stop() {
      if (exited !== undefined && !(group && groupAlive(child.pid!))) return exited;
      signal('SIGTERM');
      const killer = setTimeout(() => signal('SIGKILL'), 20_000);
      const code = await exit;
      // The launcher may exit before the node it started has finished stopping.
      while (group && groupAlive(child.pid!)) await new Promise((resolve) => setTimeout(resolve, 100));
      clearTimeout(killer);
      return code;
    },
  };
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export const CLIENT_SSH_OPTIONS = ['-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR'];

export interface SftpBatchOptions {
  readonly user: string;
  readonly password: string;
  /** sftp batch commands, one per line. */
  readonly commands: string;
  /** Working directory of the client (local paths in the commands are relative to it). */
  readonly cwd: string;
  /** More `ssh` options, e.g. `['-o', 'Ciphers=aes128-gcm@openssh.com']`. */
  readonly extra?: readonly string[];
  readonly timeoutMs?: number;
}

/**
 * OpenSSH `sftp -b` against the node with a password through sshpass (BatchMode must stay off
 * for sshpass, so it is set before `-b`, whose own BatchMode=yes then loses). Rejects when
 * sftp exits non-zero, e.g. on a refused login or a failed command.
 */
export function sftpBatch(node: RunningNode, options: SftpBatchOptions) {
  const batch = path.join(options.cwd, `batch-${process.pid}-${++batchCounter}`);
  writeFileSync(batch, options.commands);
  return run(
    'sshpass',
    ['-p', options.password, 'sftp', '-o', 'BatchMode=no', ...CLIENT_SSH_OPTIONS, ...(options.extra ?? []), '-P', String(node.sftpPort), '-b', batch, `${options.user}@${node.host}`],
    { cwd: options.cwd, timeout: options.timeoutMs ?? 60_000, maxBuffer: 16 * 1024 * 1024 },
  );
}
let batchCounter = 0;

/** SIGKILL, as a crash or the OOM killer would; resolves once the process is gone. */
export async function crashNode(node: RunningNode): Promise<void> {
  if (node.process.exitCode !== null || node.process.signalCode !== null) return;
  const gone = new Promise((resolve) => node.process.once('exit', resolve));
  node.process.kill('SIGKILL');
  await gone;
}

/** The node's JSON app log (`<data>/logs/ferry.log`), one object per line; [] before it exists. */
export function appLogLines(node: RunningNode): Record<string, unknown>[] {
  const file = path.join(node.dataDir, 'logs', 'ferry.log');
  if (!existsSync(file)) return [];
  const lines = readFileSync(file, 'utf8').split('\n');
  lines.pop(); // empty, or a line still being written
  return lines.filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Waits (bounded) until the app log holds `count` lines that `match`; resolves with all of them. */
export async function waitForAppLog(node: RunningNode, match: (line: Record<string, unknown>) => boolean, { count = 1, timeoutMs = 10_000 } = {}): Promise<Record<string, unknown>[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = appLogLines(node).filter(match);
    if (found.length >= count) return found;
    if (Date.now() > deadline) throw new Error(`the app log of ${node.dataDir} has ${found.length} of ${count} expected lines`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export interface CsvUser {
  readonly username: string;
  readonly password: string;
  /** An absolute directory: imported with --makevfs, so a disk VFS is made for it. */
  readonly home: string;
  readonly subsystems: readonly string[];
  readonly permissions: readonly string[];
  /** Where the CSV file is written. */
  readonly work: string;
}

/** Imports one user into the node's default site with the real `ferry importusers --makevfs`. */
export async function importCsvUser(node: RunningNode, user: CsvUser): Promise<void> {
  const csv = path.join(user.work, `${user.username}.csv`);
  writeFileSync(csv, `${user.username},"${user.password}",${user.home},"${user.subsystems.join(',')}","${user.permissions.join(',')}"\n`);
  const imported = await runFerry(['importusers', '--data', node.dataDir, '--csv', csv, '--vsite', 'default', '--makevfs']);
  assert.equal(imported.code, 0, imported.stdout + imported.stderr);
}
