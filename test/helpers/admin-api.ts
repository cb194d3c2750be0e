// Drives a node's admin API with curl, the real HTTP client administrators script with (the
// reference's examples are curl), and sets up the first SuperAdmin.
import { execFile } from 'node:child_process';
import { createHmac, hkdfSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { RunningNode } from './ferry-node.ts';

const run = promisify(execFile);

export interface CurlResult {
  readonly status: number;
  readonly body: string;
  /** The body as JSON, or undefined when it is not JSON. */
  readonly json: unknown;
}

export interface CurlOptions {
  readonly method?: string;
  readonly token?: string;
  /** `name:password` for HTTP Basic. */
  readonly basic?: string;
  readonly json?: unknown;
  /** Raw body (sent as is, with its own content type). */
  readonly data?: string;
  readonly contentType?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

export function adminUrl(node: Pick<RunningNode, 'host' | 'adminPort'>, route: string): string {
  return `https://${node.host}:${node.adminPort}${route}`;
}

export async function curl(url: string, options: CurlOptions = {}): Promise<CurlResult> {
  const args = ['-sk', '--max-time', '30', '-o', '-', '-w', '\n%{http_code}', '-X', options.method ?? 'GET'];
  if (options.token !== undefined) args.push('-H', `Authorization: Bearer ${options.token}`);
  if (options.basic !== undefined) args.push('-u', options.basic);
  for (const [name, value] of Object.entries(options.headers ?? {})) args.push('-H', `${name}: ${value}`);
  if (options.json !== undefined || options.data !== undefined) {
    args.push('-H', `Content-Type: ${options.contentType ?? 'application/json'}`, '--data-binary', '@-');
  }
  const child = run('curl', [...args, url], { maxBuffer: 64 * 1024 * 1024 });
  child.child.stdin?.end(options.data ?? (options.json === undefined ? '' : JSON.stringify(options.json)));
  const { stdout } = await child;
  const cut = stdout.lastIndexOf('\n');
  const body = stdout.slice(0, cut);
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    json = undefined;
  }
  return { status: Number(stdout.slice(cut + 1)), body, json };
}

export const SA_NAME = 'root';
export const SA_PASSWORD = 'correct horse battery staple';

/** Creates the first SuperAdmin with the node's printed setup code; returns a SuperAdmin token. */
export async function setUpSuperAdmin(node: RunningNode): Promise<string> {
  const setup = await curl(adminUrl(node, '/api/v1/setup'), {
    method: 'POST',
    json: { code: node.setupCode, superadmin: { name: SA_NAME, password: SA_PASSWORD }, cluster: { mode: 'new' } },
  });
  if (setup.status !== 201) throw new Error(`setup failed: ${setup.status} ${setup.body}`);
  return loginSuperAdmin(node);
}

export async function loginSuperAdmin(node: RunningNode, basic = `${SA_NAME}:${SA_PASSWORD}`): Promise<string> {
  const login = await curl(adminUrl(node, '/api/v1/sa/login'), { basic });
  if (login.status !== 200) throw new Error(`login failed: ${login.status} ${login.body}`);
  return (login.json as { token: string }).token;
}

/**
 * A token signed with the node's own key (derived from its master key as the node derives it)
 * and arbitrary claims: how a test gets an expired token without waiting for one to expire.
 */
export function forgeToken(dataDir: string, claims: Record<string, unknown>): string {
  const master = readFileSync(path.join(dataDir, 'secret.key'));
  const key = Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), 'ferry admin-jwt', 32));
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const unsigned = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}`;
  return `${unsigned}.${createHmac('sha256', key).update(unsigned).digest('base64url')}`;
}
