// A node judges every disk VFS target it applies against its own data directory. The proposing
// node validated the target against its data directory, which may lie elsewhere, and `apply`
// may not refuse by node-local facts (every replica must reach the same state). So the entry is
// applied everywhere, and here the node says loudly which VFS it will not serve; the login check
// (session/login.ts) is what actually refuses the users of such a VFS on this node.
import { diskTargetPlacementProblem } from '../config/disk-target.ts';
import type { NodeFacts } from '../config/disk-target.ts';
import type { VfsProfile } from '../config/model/vfs-profile.ts';
import type { Logger } from '../logging/app-log.ts';
import type { ConfigStore } from './config-store.ts';

export interface RefusedTarget {
  readonly vfsId: string;
  readonly target: string;
  readonly why: string;
}

/** The disk VFS profiles this node would refuse to serve, and why. */
export function refusedTargets(profiles: Iterable<VfsProfile>, facts: NodeFacts): RefusedTarget[] {
  const refused: RefusedTarget[] = [];
  for (const profile of profiles) {
    if (profile.kind !== 'disk') continue;
    const why = diskTargetPlacementProblem(profile.target, facts);
    if (why !== undefined) refused.push({ vfsId: profile.id, target: profile.target, why });
  }
  return refused;
}

/**
 * Audits the current config now and after every applied change; each refused (VFS, target) is
 * logged once. Returns the unsubscribe function.
 */
export function watchDiskTargets(store: ConfigStore, logger: Logger): () => void {
  const reported = new Set<string>();
  let lastVfs: unknown;
  const audit = () => {
    const vfs = store.state().vfs;
    // apply copies the VFS record only when a command changes it.
    if (vfs === lastVfs) return;
    lastVfs = vfs;
    for (const refused of refusedTargets(Object.values(vfs), store.facts)) {
      const key = `${refused.vfsId}\0${refused.target}`;
      if (reported.has(key)) continue;
      reported.add(key);
      logger.error(
        { vfsId: refused.vfsId, target: refused.target, dataDir: store.facts.dataDir },
        `disk VFS ${refused.vfsId} is not served on this node: its target ${refused.target} ${refused.why}; its users cannot log in here until it is changed`,
      );
    }
  };
  audit();
  return store.subscribe(audit);
}
