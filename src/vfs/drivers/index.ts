// The one place a VFS profile becomes a back end. A new storage kind adds its options and sealed
// secrets to config/model/vfs-profile.ts `VfsKinds`, a case here, and runs
// test/contract/vfs-driver.contract.ts.
import type { VfsKinds, VfsProfile } from '../../config/model/vfs-profile.ts';
import { FerryError } from '../errors.ts';
import type { VfsBackend } from '../vfs.ts';
import { DiskBackend } from './local.ts';

/** What a factory is given: the profile typed by its kind, and its sealed secrets to open. */
export interface BackendContext<P extends VfsProfile = VfsProfile> {
  readonly profile: P;
  /** The profile's secret `field` in clear; `misconfigured` when it is absent or will not open. */
  secret(field: VfsKinds[P['kind']]['secrets']): string;
}

export type BackendFactory = (context: BackendContext) => VfsBackend;

export const createBackend: BackendFactory = (context) => {
  const profile = context.profile;
  switch (profile.kind) {
    case 'disk':
      return new DiskBackend();
    default:
      // A kind a newer node added reaches an older one through replicated config.
      throw new FerryError('unsupported', 'this storage type is not available on this node', {
        detail: `VFS ${(profile as VfsProfile).id}: unknown kind ${String((profile as { kind: unknown }).kind)}`,
      });
  }
};
