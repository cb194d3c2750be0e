// Driver factory: the one place a VFS profile becomes a driver. Later drivers (encrypted disk,
// SFTP, S3, Azure, GCS) add a case here and run test/contract/vfs-driver.contract.ts.
import type { VfsProfile } from '../../config/model/vfs-profile.ts';
import { FerryError } from '../errors.ts';
import type { VfsDriver } from '../vfs.ts';
import { LocalDriver } from './local.ts';
import type { LocalDriverOptions } from './local.ts';

export type DriverOptions = LocalDriverOptions;

/** `expandedTarget` is the profile's target with its parameters already expanded (vfs/params.ts). */
export function createDriver(profile: VfsProfile, expandedTarget: string, options: DriverOptions = {}): VfsDriver {
  switch (profile.kind) {
    case 'disk':
      return new LocalDriver(expandedTarget, options);
    default:
      throw new FerryError('unsupported', 'this storage type is not available on this node', {
        detail: `VFS ${profile.id}: unknown kind ${String((profile as { kind: unknown }).kind)}`,
      });
  }
}
