// The contract fixture of the disk driver, shared by its plain run and its fault-injected run: an
// empty root in a temp directory, and a secrets directory beside it that escape links point at.
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LocalDriver } from '../../src/vfs/drivers/local.ts';
import type { VfsDriver } from '../../src/vfs/vfs.ts';
import type { DriverFixture } from './vfs-driver.contract.ts';

export async function diskFixture(wrap: (driver: VfsDriver) => VfsDriver = (driver) => driver): Promise<DriverFixture> {
  const base = await mkdtemp(path.join(tmpdir(), 'ferry-local-'));
  const secrets = path.join(base, 'secrets');
  await mkdir(secrets);
  await writeFile(path.join(secrets, 'secret'), 'outside the root');
  return {
    driver: wrap(new LocalDriver(path.join(base, 'root'))),
    outside: {
      plantEscapeLink: (p, kind) => symlink(kind === 'dir' ? secrets : path.join(secrets, 'secret'), path.join(base, 'root', p)),
      snapshot: async () => JSON.stringify([await readdir(secrets), await readFile(path.join(secrets, 'secret'), 'utf8')]),
    },
    cleanup: () => rm(base, { recursive: true, force: true }),
  };
}
