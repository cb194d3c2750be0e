// Virtual sites from the command line: add one (fresh host keys, secure defaults), move its
// SSH binding, or remove it. Each is one validated config command; the reconciler then starts,
// rebinds or stops the listeners on every node without a restart.
import type { Command, CommandBody } from '../config/commands.ts';
import { envelope } from '../config/ids.ts';
import { defaultSite } from '../config/initial.ts';
import type { SshHostKey } from '../config/model/site.ts';
import type { SecretBox } from '../config/secrets.ts';
import { generateHostKeys } from '../protocols/ssh/host-keys.ts';
import { hostKeyContext } from './bootstrap.ts';
import { ConfigValidationError } from './config-store.ts';
import type { ConfigStore } from './config-store.ts';

export interface SiteResult {
  readonly ok: boolean;
  readonly lines: readonly string[];
}

function command(body: CommandBody): Command {
  return { ...envelope('cli:site'), ...body } as Command;
}

async function propose(store: ConfigStore, cmd: Command, done: string): Promise<SiteResult> {
  try {
    const outcome = await store.propose(cmd);
    if (outcome.ok) return { ok: true, lines: [done] };
    return { ok: false, lines: outcome.errors.map((e) => `${e.path || '(command)'}: ${e.message}`) };
  } catch (error) {
    if (error instanceof ConfigValidationError) return { ok: false, lines: error.errors.map((e) => `${e.path || '(command)'}: ${e.message}`) };
    throw error;
  }
}

export function siteParams(params: unknown, needsBinding: boolean): { id: string; host: string; port: number; name?: string } {
  const p = params as { id?: unknown; host?: unknown; port?: unknown; name?: unknown } | null;
  if (!p || typeof p.id !== 'string') throw new Error('missing or invalid parameter "id"');
  if (!needsBinding) return { id: p.id, host: '', port: 0 };
  if (typeof p.host !== 'string' || typeof p.port !== 'number' || !Number.isInteger(p.port)) throw new Error('needs host (string) and port (integer)');
  return { id: p.id, host: p.host, port: p.port, ...(typeof p.name === 'string' ? { name: p.name } : {}) };
}

/** A new site's host keys (every type Ferry serves), each private half sealed for the site. */
export async function newHostKeys(secrets: SecretBox, siteId: string): Promise<SshHostKey[]> {
  const generated = await generateHostKeys({ comment: `ferry@${siteId}` });
  return generated.map((key, index) => ({
    algorithm: key.algorithm,
    publicKey: key.publicKey,
    privateKeyEncrypted: secrets.seal(key.privateKeyPem, hostKeyContext(siteId, index)),
  }));
}

export async function addSite(store: ConfigStore, secrets: SecretBox, p: { id: string; host: string; port: number; name?: string }): Promise<SiteResult> {
  if (store.current().site(p.id) !== undefined) return { ok: false, lines: [`a site "${p.id}" exists already; move its binding with \`ferry site bind\``] };
  const hostKeys = await newHostKeys(secrets, p.id);
  const site = defaultSite({ id: p.id, host: p.host, port: p.port, hostKeys, ...(p.name === undefined ? {} : { name: p.name }) });
  return propose(store, command({ type: 'site.put', site }), `site "${p.id}" added, SSH/SFTP/SCP on ${p.host}:${p.port} (every node starts listening now)`);
}

export async function bindSite(store: ConfigStore, p: { id: string; host: string; port: number }): Promise<SiteResult> {
  const site = store.current().site(p.id);
  if (site === undefined) return { ok: false, lines: [`no site "${p.id}"`] };
  const others = site.bindings.filter((b) => b.protocol !== 'ssh');
  const moved = { ...site, bindings: [...others, { protocol: 'ssh' as const, host: p.host, port: p.port }] };
  return propose(store, command({ type: 'site.put', site: moved }), `site "${p.id}" now listens for SSH/SFTP/SCP on ${p.host}:${p.port}`);
}

export async function removeSite(store: ConfigStore, p: { id: string }): Promise<SiteResult> {
  return propose(store, command({ type: 'site.delete', siteId: p.id }), `site "${p.id}" removed; its listeners stop`);
}
