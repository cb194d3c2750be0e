// Starts Ferry's SSH server for one site on 127.0.0.1:0 over a real Session (disk storage in a
// temp directory) and runs real clients against it: OpenSSH ssh/scp (sshpass for passwords) and
// Python paramiko (/usr/bin/python3, Debian's build). Everything is removed by `stop`.
import { execFile, spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import pino from 'pino';
import { logFailedLogins } from '../../../src/auth/login.ts';
import type { AuthOutcomeEvent } from '../../../src/auth/login.ts';
import type { ConfigView } from '../../../src/config/view.ts';
import type { Protector } from '../../../src/protector/protector.ts';
import { hashPassword, verifyAgainstDummy, verifyPassword } from '../../../src/auth/passwords.ts';
import type { Site } from '../../../src/config/model/site.ts';
import type { User } from '../../../src/config/model/user.ts';
import { createView } from '../../../src/config/view.ts';
import type { TransferRecord } from '../../../src/logging/transfer-log.ts';
import { DEFAULT_SSH_ALGORITHMS } from '../../../src/protocols/ssh/algorithms.ts';
import { generateHostKeys } from '../../../src/protocols/ssh/host-keys.ts';
import type { GeneratedHostKey } from '../../../src/protocols/ssh/host-keys.ts';
import { startSshServer } from '../../../src/protocols/ssh/server.ts';
import type { SshLimits, SshServer } from '../../../src/protocols/ssh/server.ts';
import { openSession } from '../../../src/session/session.ts';
import { DriverPool } from '../../../src/vfs/pool.ts';
import type { Session } from '../../../src/session/types.ts';
import { buildFixtureState, fixtureNode } from '../../helpers/session-fixture.ts';
import type { SessionFixtureOptions } from '../../helpers/session-fixture.ts';

export const PASSWORD = 'correct horse battery';
export const PYTHON = '/usr/bin/python3';

let hostKeys: Promise<GeneratedHostKey[]> | undefined;
/** Host keys are generated once per test process (RSA takes a moment). */
export function sharedHostKeys(): Promise<GeneratedHostKey[]> {
  hostKeys ??= generateHostKeys();
  return hostKeys;
}

export interface ClientKey {
  readonly privatePath: string;
  readonly publicLine: string;
}

/** A user key made by the real ssh-keygen (OpenSSH format, mode 0600). */
export async function makeClientKey(dir: string, type: 'ed25519' | 'ecdsa' | 'rsa', bits?: number): Promise<ClientKey> {
  const file = path.join(dir, `id_${type}_${bits ?? 'd'}_${Math.random().toString(36).slice(2, 8)}`);
  await run('ssh-keygen', ['-q', '-t', type, ...(bits ? ['-b', String(bits)] : []), '-N', '', '-C', `test-${type}`, '-f', file]);
  await chmod(file, 0o600);
  return { privatePath: file, publicLine: (await readFile(`${file}.pub`, 'utf8')).trim() };
}

export interface Harness {
  readonly port: number;
  readonly dir: string;
  readonly homeDir: string;
  readonly records: TransferRecord[];
  /** Application log lines (pino JSON objects). */
  readonly logs: Record<string, unknown>[];
  readonly hostKeys: GeneratedHostKey[];
  readonly server: SshServer;
  /** Common OpenSSH options: no host-key prompts, no agent, no stray identities. */
  sshOptions(extra?: string[]): string[];
  stop(): Promise<void>;
}

export interface HarnessOptions extends SessionFixtureOptions {
  readonly user?: Partial<User>;
  readonly site?: Partial<Site>;
  readonly limits?: Partial<SshLimits>;
  readonly serveSftp?: (stream: Duplex, session: Session) => Promise<void>;
  /** Port to bind (default 0: any free port). */
  readonly port?: number;
  /** The binding expects PROXY protocol headers from the site's trusted sources. */
  readonly proxyProtocol?: boolean;
  /** A Protector over this harness's view (made with `protectorFor`), wired as the node wires it. */
  readonly protector?: (getView: () => ConfigView, logger: pino.Logger) => Protector;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ferry-ssh-'));
  try {
    return await startIn(dir, options);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

async function startIn(dir: string, options: HarnessOptions): Promise<Harness> {
  const built = buildFixtureState(dir, options);
  const user: User = { ...built.user, passwordHash: await hashPassword(PASSWORD), authMethods: ['password', 'publickey'], ...options.user };
  const keys = await sharedHostKeys();
  const site: Site = {
    ...built.state.sites.default!,
    sshAlgorithms: DEFAULT_SSH_ALGORITHMS,
    greeting: 'Ferry test {{site_name}}',
    banner: '',
    ...options.site,
  };
  const view = createView({ ...built.state, sites: { default: site }, users: { [`default/${user.username}`]: user } });
  const records: TransferRecord[] = [];
  const logs: Record<string, unknown>[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  const transferLog = { write: (record: TransferRecord) => void records.push(record) };
  const drivers = options.drivers ?? new DriverPool();
  const protector = options.protector?.(() => view, logger);
  const hooks = protector ? { error: [(event: Parameters<Protector['sessionError']>[0]) => protector.sessionError(event)] } : undefined;
  const deps = { view, node: fixtureNode(dir), drivers, transferLog, logger, now: Date.now, ...(hooks ? { hooks } : {}) };
  const failedLogins = logFailedLogins(transferLog);
  const onOutcome = (event: AuthOutcomeEvent) => {
    failedLogins(event);
    protector?.authOutcome(event);
  };
  const server = await startSshServer({
    site,
    hostKeys: keys.map((k) => ({ algorithm: k.algorithm, privateKeyPem: k.privateKeyPem })),
    bind: { host: '127.0.0.1', port: options.port ?? 0, proxyProtocol: options.proxyProtocol },
    getView: () => view,
    openSession: (u, connection, protocol) => openSession(deps, u, connection, protocol),
    logger,
    login: { getView: () => view, verifyPassword, verifyAgainstDummy, now: Date.now, onOutcome },
    ...(protector ? { protector } : {}),
    ...(options.serveSftp ? { serveSftp: options.serveSftp } : {}),
    ...(options.limits ? { limits: options.limits } : {}),
  });
  const port = server.address.port;
  return {
    port,
    dir,
    homeDir: path.join(dir, 'homes', user.username),
    records,
    logs,
    hostKeys: keys,
    server,
    sshOptions: (extra = []) => [
      '-o', 'StrictHostKeyChecking=no',
      '-o', 'UserKnownHostsFile=/dev/null',
      '-o', 'GlobalKnownHostsFile=/dev/null',
      '-o', 'IdentitiesOnly=yes',
      '-o', 'IdentityAgent=none',
      '-o', 'ConnectTimeout=10',
      '-F', '/dev/null',
      ...extra,
    ],
    stop: async () => {
      await server.close();
      await drivers.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a program to completion (bounded), never throwing on a non-zero exit. */
export function run(cmd: string, args: string[], options: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: options.timeoutMs ?? 30_000, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, ...options.env } }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number' && !error.killed) return reject(error);
      resolve({ code: typeof error?.code === 'number' ? error.code : error ? -1 : 0, stdout: String(stdout), stderr: String(stderr) });
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

/** `sshpass -p PASSWORD <cmd> ...`: OpenSSH password logins without a terminal. */
export function withPassword(cmd: string, args: string[], password = PASSWORD, options: { timeoutMs?: number } = {}): Promise<RunResult> {
  return run('sshpass', ['-p', password, cmd, ...args], options);
}

/** Runs a Python script with Debian's python3 (paramiko 2.12); argv after the script. */
export function python(script: string, args: string[], timeoutMs = 30_000): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(PYTHON, ['-c', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** Log lines whose message contains `text`. */
export function logged(harness: Harness, text: string): Record<string, unknown>[] {
  return harness.logs.filter((line) => String(line.msg).includes(text));
}

/** Waits (bounded) until `count` log lines contain `text`; resolves with them. */
export async function waitForLog(harness: Harness, text: string, { count = 1, timeoutMs = 5_000 } = {}): Promise<Record<string, unknown>[]> {
  const deadline = Date.now() + timeoutMs;
  while (logged(harness, text).length < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  return logged(harness, text);
}

/** Runs `command` over ssh (password login) with `input` on its stdin; stdout as latin1. */
export function execWithInput(harness: Harness, command: string, input: string, timeoutMs = 20_000): Promise<RunResult> {
  return new Promise((resolve) => {
    const args = ['-p', PASSWORD, 'ssh', '-p', String(harness.port), ...harness.sshOptions(['-o', 'LogLevel=error']), 'alice@127.0.0.1', command];
    const child = spawn('sshpass', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('latin1')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('latin1')));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.end(input, 'latin1');
  });
}
