// Wires the admin REST API into the node: its node-local binding (admin-http.json, written by
// `ferry repairhttp`; flags override it for one run), its certificate, the JWT key derived from
// the master key, and the adapter from API writes to the config store.
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isIP } from 'node:net';
import type { AdminContext, NodeStatus, ProposeOutcome, RestoreSummary, SiteControl } from '../admin/context.ts';
import { ApiError } from '../admin/errors.ts';
import type { SetupCodes } from '../admin/setup-code.ts';
import { startAdminServer } from '../admin/server.ts';
import type { AdminServer, AdminServerOptions } from '../admin/server.ts';
import { loadAdminTls } from '../admin/tls.ts';
import type { AdminTls } from '../admin/tls.ts';
import type { Command, CommandBody } from '../config/commands.ts';
import { envelope } from '../config/ids.ts';
import type { SecretBox } from '../config/secrets.ts';
import type { Logger } from '../logging/app-log.ts';
import type { NodeMetrics } from './metrics.ts';
import { ConfigValidationError } from './config-store.ts';
import type { ConfigStore } from './config-store.ts';

export const DEFAULT_ADMIN_HOST = '0.0.0.0';
export const DEFAULT_ADMIN_PORT = 6443;

/** This node's admin listener settings; node-local, never replicated (another node has other addresses). */
export interface AdminHttpSettings {
  readonly host: string;
  readonly port: number;
}

export function adminHttpFile(dataDir: string): string {
  return path.join(dataDir, 'admin-http.json');
}

export async function loadAdminHttpSettings(dataDir: string): Promise<AdminHttpSettings | undefined> {
  let text: string;
  try {
    text = await readFile(adminHttpFile(dataDir), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const parsed = JSON.parse(text) as Partial<AdminHttpSettings>;
  if (typeof parsed.host !== 'string' || isIP(parsed.host) === 0 || !Number.isInteger(parsed.port) || (parsed.port as number) < 0 || (parsed.port as number) > 65535) {
    throw new Error(`${adminHttpFile(dataDir)} is not a valid admin binding ({"host": ADDRESS, "port": N}); run \`ferry repairhttp\` to reset it`);
  }
  return { host: parsed.host, port: parsed.port as number };
}

export async function saveAdminHttpSettings(dataDir: string, settings: AdminHttpSettings): Promise<void> {
  const file = adminHttpFile(dataDir);
  await writeFile(`${file}.tmp`, JSON.stringify(settings) + '\n', { mode: 0o600 });
  await rename(`${file}.tmp`, file);
}

/** The API's writes as config commands: refusals become the API's error kinds, never a 500. */
export function proposer(store: ConfigStore): (body: CommandBody, actor: string) => Promise<ProposeOutcome> {
  return async (body, actor) => {
    const command = { ...envelope(actor), ...body } as Command;
    try {
      const outcome = await store.propose(command);
      if (outcome.ok) return { ok: true, index: outcome.index };
      return { ok: false, kind: 'conflict', errors: outcome.errors };
    } catch (error) {
      if (error instanceof ConfigValidationError) return { ok: false, kind: 'invalid', errors: error.errors };
      const name = (error as Error).name;
      if (name === 'NoQuorumError' || name === 'NotLeaderError') return { ok: false, kind: 'unavailable', message: (error as Error).message };
      throw error;
    }
  };
}

export interface AdminHttpDeps {
  readonly dataDir: string;
  readonly store: ConfigStore;
  readonly secrets: SecretBox;
  readonly logger: Logger;
  readonly setup: SetupCodes;
  readonly status: () => NodeStatus;
  readonly sites: SiteControl;
  readonly bind: AdminHttpSettings;
  /** Names for the self-signed certificate besides the machine's own (the run's --host). */
  readonly names: readonly string[];
  readonly routes?: AdminServerOptions['routes'];
  readonly backup: (passphrase: string | undefined) => Promise<Buffer>;
  readonly restore: (archive: Buffer, actor: string) => Promise<RestoreSummary>;
  readonly metrics: NodeMetrics;
}

/** A backup that does not fit is the caller's problem (400 with the reason), not the node's. */
async function asRequestError<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if ((error as Error).name === 'BackupError') throw new ApiError('invalid_request', (error as Error).message);
    throw error;
  }
}

export async function startAdminHttp(deps: AdminHttpDeps): Promise<{ server: AdminServer; tls: AdminTls & { created: boolean } }> {
  const tls = await loadAdminTls(deps.dataDir, deps.names);
  if (tls.created) deps.logger.info({ validTo: new Date(tls.validTo).toISOString() }, 'admin HTTPS: self-signed certificate created');
  const ctx: AdminContext = {
    config: () => deps.store.current(),
    propose: proposer(deps.store),
    seal: (plain, context) => deps.secrets.seal(plain, context),
    open: (sealed, context) => deps.secrets.openString(sealed, context),
    now: Date.now,
    setup: deps.setup,
    status: deps.status,
    backup: (passphrase) => asRequestError(() => deps.backup(passphrase)),
    restore: (archive, actor) => asRequestError(() => deps.restore(archive, actor)),
    sites: deps.sites,
    metrics: async () => ({ contentType: deps.metrics.contentType, text: await deps.metrics.text() }),
    logger: deps.logger.child({ component: 'admin-api' }),
  };
  try {
    const server = await startAdminServer(ctx, {
      host: deps.bind.host,
      port: deps.bind.port,
      tls,
      jwtKey: deps.secrets.deriveKey('admin-jwt'),
      logger: deps.logger,
      ...(deps.routes === undefined ? {} : { routes: deps.routes }),
    });
    return { server, tls };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      throw new Error(`the admin API cannot listen on ${deps.bind.host}:${deps.bind.port} (${code}); choose another with --admin-port N / --admin-host ADDR`, { cause: error });
    }
    throw error;
  }
}
