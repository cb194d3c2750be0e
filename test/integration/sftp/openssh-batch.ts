// Runs the real OpenSSH `sftp` client in batch mode against Ferry's SFTP server started over
// stdio by test/helpers/sftp-stdio-server.ts (`sftp -D`): the whole SFTP path without SSH.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';

const HELPER = path.resolve(import.meta.dirname, '../../helpers/sftp-stdio-server.ts');

export interface ServerOptions {
  readonly home: string;
  readonly permissions?: readonly string[];
  readonly overrides?: readonly string[];
  readonly folders?: readonly string[];
  readonly log?: string;
}

export interface BatchResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function serverCommand(options: ServerOptions): string {
  // process.execPath is the Node 24 running the tests; the machine's `node` may be older.
  const args = [process.execPath, HELPER, '--home', options.home];
  if (options.permissions) args.push('--permissions', options.permissions.join(',') || 'none');
  for (const o of options.overrides ?? []) args.push('--override', o);
  for (const f of options.folders ?? []) args.push('--folder', f);
  if (options.log) args.push('--log', options.log);
  for (const a of args) if (/[\s'"\\]/.test(a)) throw new Error(`argument needs no quoting: ${a}`);
  return args.join(' ');
}

/**
 * Runs `commands` with `sftp -b -` in `cwd`. A command prefixed with "-" may fail without ending
 * the batch (sftp's own rule); otherwise the first failure ends it with exit code 1.
 */
export function sftpBatch(
  options: ServerOptions,
  cwd: string,
  commands: readonly string[],
  { timeoutMs = 120_000, onSpawn }: { timeoutMs?: number; onSpawn?: (pid: number) => void } = {},
): Promise<BatchResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('sftp', ['-q', '-D', serverCommand(options), '-b', '-'], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    if (child.pid !== undefined) onSpawn?.(child.pid);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(commands.join('\n') + '\n');
  });
}

export async function tempDir(t: TestContext, prefix = 'ferry-sftp-'): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Resident set size in bytes of the sftp server process that the client `sftpPid` started. */
export async function serverRss(sftpPid: number): Promise<number | undefined> {
  try {
    const children = (await readFile(`/proc/${sftpPid}/task/${sftpPid}/children`, 'utf8')).trim().split(/\s+/);
    const status = await readFile(`/proc/${children[0]}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}
