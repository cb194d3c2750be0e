import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LocalDriver } from '../../src/vfs/drivers/local.ts';
import { runVfsDriverContract } from './vfs-driver.contract.ts';

runVfsDriverContract('disk', async () => {
  const base = await mkdtemp(path.join(tmpdir(), 'ferry-local-'));
  const secrets = path.join(base, 'secrets');
  await mkdir(secrets);
  await writeFile(path.join(secrets, 'secret'), 'outside the root');
  return {
    driver: new LocalDriver(path.join(base, 'root')),
    outside: {
      plantEscapeLink: (p, kind) => symlink(kind === 'dir' ? secrets : path.join(secrets, 'secret'), path.join(base, 'root', p)),
      snapshot: async () => JSON.stringify([await readdir(secrets), await readFile(path.join(secrets, 'secret'), 'utf8')]),
    },
    cleanup: () => rm(base, { recursive: true, force: true }),
  };
});
