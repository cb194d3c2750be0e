// What happens once per login, before the first operation (STYLE.md 13: prepare the hot path at
// setup): every VFS target is expanded, each storage gets its driver, a missing home (or virtual
// folder) directory is created, and the mount/permission table is frozen for the session.
import type { ConfigView } from '../config/view.ts';
import type { User } from '../config/model/user.ts';
import { createDriver } from '../vfs/drivers/index.ts';
import { FerryError } from './errors.ts';
import { MountTable } from '../vfs/mounts.ts';
import type { MountSpec } from '../vfs/mounts.ts';
import { expandTarget } from '../vfs/params.ts';
import type { TargetParams } from '../vfs/params.ts';
import type { VfsDriver } from '../vfs/vfs.ts';

async function mountDriver(view: ConfigView, vfsId: string, params: TargetParams, opened: VfsDriver[]): Promise<VfsDriver> {
  const profile = view.vfs(vfsId);
  if (!profile) {
    throw new FerryError('invalid-argument', 'your account\'s storage is misconfigured; ask your administrator', {
      detail: `VFS profile ${vfsId} does not exist`,
    });
  }
  const driver = createDriver(profile, expandTarget(profile.target, params));
  opened.push(driver);
  // Parametric homes (one profile, a directory per user) rely on this: created on first login.
  await driver.mkdirp('/');
  return driver;
}

/** Drivers for the home VFS and every virtual folder, and the frozen table over them. */
export async function buildMountTable(view: ConfigView, user: User, params: TargetParams): Promise<MountTable> {
  const opened: VfsDriver[] = [];
  try {
    const home = await mountDriver(view, user.homeVfsId, params, opened);
    const folders: MountSpec[] = [];
    for (const folder of user.virtualFolders) {
      const driver = await mountDriver(view, folder.vfsId, params, opened);
      folders.push({ path: folder.path, vfsId: folder.vfsId, driver, permissions: folder.permissions });
    }
    return MountTable.build(
      { path: '/', vfsId: user.homeVfsId, driver: home, permissions: user.permissions, overrides: user.permissionOverrides },
      folders,
    );
  } catch (error) {
    await Promise.allSettled(opened.map((driver) => driver.close()));
    throw error;
  }
}
