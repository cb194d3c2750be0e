// Real FTP clients against a Ferry FTP listener: curl, lftp and Python's ftplib (the scenarios
// of test/integration/ftp/ftplib_client.py, run with Debian's /usr/bin/python3). Each is bounded
// in time and returns what the client printed; none trusts the server's certificate by name
// (the test certificate is self-signed).
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface FtpTarget {
  readonly host: string;
  readonly port: number;
}

const FTPLIB = path.join(import.meta.dirname, '../integration/ftp/ftplib_client.py');

/** Runs one ftplib scenario; resolves with its JSON output. */
export async function ftplib<T = Record<string, unknown>>(scenario: string, target: FtpTarget, user: string, password: string, timeoutMs = 60_000): Promise<T> {
  const { stdout } = await run('/usr/bin/python3', [FTPLIB, scenario, target.host, String(target.port), user, password], { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 });
  return JSON.parse(stdout) as T;
}

/** `curl` with the given arguments (`-k` and a bound on time added); rejects on a non-zero exit. */
export function curl(args: readonly string[], options: { cwd?: string; timeoutMs?: number } = {}) {
  return run('curl', ['-sS', '-k', '--max-time', String(Math.ceil((options.timeoutMs ?? 60_000) / 1000)), ...args], { cwd: options.cwd, timeout: (options.timeoutMs ?? 60_000) + 5_000, maxBuffer: 64 * 1024 * 1024 });
}

/** An `ftp://user:password@host:port/path` URL (or ftps://), the password percent-encoded. */
export function ftpUrl(scheme: 'ftp' | 'ftps', target: FtpTarget, user: string, password: string, file = '/'): string {
  return `${scheme}://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${target.host}:${target.port}${file}`;
}

/**
 * `lftp` running `commands` (separated by `;`) against `url` (`ftp://host:port` or
 * `ftps://host:port`). `tls`: FTPES with protected data (AUTH TLS, PROT P); the certificate is
 * not verified. Rejects when lftp exits non-zero.
 */
export function lftp(url: string, user: string, password: string, commands: string, options: { cwd?: string; tls?: boolean; active?: boolean; timeoutMs?: number } = {}) {
  const settings = [
    'set ssl:verify-certificate no',
    'set net:max-retries 1',
    'set net:timeout 15',
    'set cmd:fail-exit yes',
    `set ftp:ssl-allow ${options.tls || url.startsWith('ftps:') ? 'yes' : 'no'}`,
    ...(options.tls ? ['set ftp:ssl-force yes', 'set ftp:ssl-protect-data yes'] : []),
    `set ftp:passive-mode ${options.active ? 'no' : 'yes'}`,
    // lftp would otherwise fall back to PORT to another address when PASV fails.
    'set ftp:port-ipv4 127.0.0.1',
  ].join('; ');
  return run('lftp', ['-u', `${user},${password}`, '-e', `${settings}; ${commands}; quit`, url], {
    cwd: options.cwd,
    timeout: options.timeoutMs ?? 60_000,
    maxBuffer: 16 * 1024 * 1024,
  });
}
