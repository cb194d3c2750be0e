// `ferry repairhttp`: the way back into the admin API when its binding or certificate locks the
// administrator out. It edits files in the data directory only (the node may be stopped): the
// node-local binding goes back to all addresses and 6443, and a missing, broken or expired
// certificate is replaced by a new self-signed one, the old files kept as .bak. The admin API has
// no CORS or stricter-security switches yet, so there is nothing else to turn off.
import { existsSync } from 'node:fs';
import { readFile, rename } from 'node:fs/promises';
import { adminTlsFiles, generateSelfSigned, tlsProblem, writeAdminTls } from '../admin/tls.ts';
import { adminHttpFile, DEFAULT_ADMIN_HOST, DEFAULT_ADMIN_PORT, loadAdminHttpSettings, saveAdminHttpSettings } from './admin-http.ts';

/** What it changed, one line each; empty when everything was fine. */
export async function repairAdminHttp(dataDir: string, now = Date.now()): Promise<string[]> {
  if (!existsSync(dataDir)) throw new Error(`${dataDir} does not exist; pass the node's --data directory`);
  const changes: string[] = [];
  let binding: string | undefined;
  try {
    const stored = await loadAdminHttpSettings(dataDir);
    if (stored === undefined) binding = 'none stored';
    else if (stored.host !== DEFAULT_ADMIN_HOST || stored.port !== DEFAULT_ADMIN_PORT) binding = `was ${stored.host}:${stored.port}`;
  } catch {
    binding = `${adminHttpFile(dataDir)} was unreadable`;
  }
  if (binding !== undefined) {
    await saveAdminHttpSettings(dataDir, { host: DEFAULT_ADMIN_HOST, port: DEFAULT_ADMIN_PORT });
    changes.push(`admin binding set to ${DEFAULT_ADMIN_HOST}:${DEFAULT_ADMIN_PORT} (${binding})`);
  }
  const files = adminTlsFiles(dataDir);
  let problem: string | undefined;
  try {
    const [cert, key] = await Promise.all([readFile(files.cert, 'utf8'), readFile(files.key, 'utf8')]);
    problem = tlsProblem(cert, key, now);
  } catch (error) {
    problem = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : `unreadable (${(error as Error).message})`;
  }
  if (problem !== undefined) {
    const kept: string[] = [];
    for (const file of [files.cert, files.key]) {
      if (!existsSync(file)) continue;
      await rename(file, `${file}.bak`);
      kept.push(`${file}.bak`);
    }
    await writeAdminTls(files, await generateSelfSigned());
    changes.push(`new self-signed admin certificate ${files.cert} (the old one: ${problem}${kept.length > 0 ? `; kept as ${kept.join(', ')}` : ''})`);
  }
  return changes;
}
