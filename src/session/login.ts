// What happens once per login, before the first operation (STYLE.md 13: prepare the hot path at
// setup): every VFS target is expanded, each storage gets a driver rooted there from its profile's
// pooled back end (vfs/pool.ts; a missing home or virtual folder directory is created then), and
// the mount/permission table is frozen for the session.
import { diskRootRefusal } from '../config/disk-target.ts';
import type { NodeFacts } from '../config/disk-target.ts';
import type { ConfigView } from '../config/view.ts';
import type { User } from '../config/model/user.ts';
import { FerryError } from './errors.ts';
import { MountTable } from '../vfs/mounts.ts';
import type { MountSpec } from '../vfs/mounts.ts';
import { expandTarget } from '../vfs/params.ts';
import type { TargetParams } from '../vfs/params.ts';
import type { DriverPool } from '../vfs/pool.ts';
import type { DriverLog, VfsDriver } from '../vfs/vfs.ts';

interface MountContext {
  readonly view: ConfigView;
  readonly node: NodeFacts;
  readonly drivers: DriverPool;
  readonly params: TargetParams;
  /** The session's logger: drivers report there what they hide from the client. */
  readonly log: DriverLog;
}

async function mountDriver(ctx: MountContext, vfsId: string, opened: VfsDriver[]): Promise<VfsDriver> {
  const profile = ctx.view.vfs(vfsId);
  if (!profile) {
    throw new FerryError('misconfigured', 'your account\'s storage is misconfigured; ask your administrator', {
      detail: `VFS profile ${vfsId} does not exist`,
    });
  }
  // The target is replicated config, the data directory this node's own: judged here again, on
  // the expanded target and its realpath (config/disk-target.ts).
  const driver = await ctx.drivers.attach(profile, expandTarget(profile.target, ctx.params), {
    refuseRoot: (root) => diskRootRefusal(root, ctx.node),
    log: ctx.log,
  });
  opened.push(driver);
  return driver;
}

/** Drivers for the home VFS and every virtual folder, and the frozen table over them. */
export async function buildMountTable(ctx: MountContext, user: User): Promise<MountTable> {
  const opened: VfsDriver[] = [];
  try {
    const home = await mountDriver(ctx, user.homeVfsId, opened);
    const folders: MountSpec[] = [];
    for (const folder of user.virtualFolders) {
      const driver = await mountDriver(ctx, folder.vfsId, opened);
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
