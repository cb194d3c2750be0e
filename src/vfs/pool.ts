// One back end per VFS profile, shared by every session that uses it; each session attaches a
// driver rooted at its own expanded target. A cloud or SFTP back end thus keeps one client and its
// connections for all users of a profile instead of one per login or per channel.
//
// A profile that changes gets a new back end for the sessions that log in afterwards; sessions
// already running keep the one they attached to (they resolved their mounts at login, like the
// rest of their view), and it is closed when the last of them ends. An idle back end of an
// unchanged profile stays open for the next login.
import type { VfsProfile } from '../config/model/vfs-profile.ts';
import { vfsSecretContext } from '../config/model/vfs-profile.ts';
import { createBackend } from './drivers/index.ts';
import type { BackendContext, BackendFactory } from './drivers/index.ts';
import { FerryError } from './errors.ts';
import type { AttachOptions, DriverLog, VfsBackend, VfsDriver } from './vfs.ts';

export interface DriverPoolOptions {
  /** Default: drivers/index.ts `createBackend`. Tests put a fault-injecting factory here. */
  readonly factory?: BackendFactory;
  /** Opens a sealed secret bound to `context` (config/secrets.ts SecretBox.openString). */
  readonly openSecret?: (sealed: string, context: string) => string;
  /** Where a back end that fails to close is reported. */
  readonly log?: DriverLog;
}

interface Entry {
  readonly profile: VfsProfile;
  readonly backend: VfsBackend;
  sessions: number;
  /** Replaced by a newer version of its profile: closed once no session uses it. */
  retired: boolean;
}

function sameProfile(a: VfsProfile, b: VfsProfile): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

export class DriverPool {
  readonly #factory: BackendFactory;
  readonly #openSecret: ((sealed: string, context: string) => string) | undefined;
  readonly #log: DriverLog | undefined;
  /** The current back end of each profile id. */
  readonly #current = new Map<string, Entry>();
  /** Every back end not yet closed, retired ones included. */
  readonly #open = new Set<Entry>();

  constructor(options: DriverPoolOptions = {}) {
    this.#factory = options.factory ?? createBackend;
    this.#openSecret = options.openSecret;
    this.#log = options.log;
  }

  /** Back ends open now (retired ones still in use included). */
  get size(): number {
    return this.#open.size;
  }

  /** A driver for one session over `profile`'s back end, rooted at `root`; close() releases it. */
  async attach(profile: VfsProfile, root: string, options: Omit<AttachOptions, 'onClose'> = {}): Promise<VfsDriver> {
    const entry = this.#entryFor(profile);
    entry.sessions++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      entry.sessions--;
      this.#maybeClose(entry);
    };
    try {
      return await entry.backend.attach(root, { ...options, onClose: release });
    } catch (error) {
      release();
      throw error;
    }
  }

  /** Closes every back end (node shutdown); sessions still open lose their storage. */
  async close(): Promise<void> {
    const all = [...this.#open];
    this.#open.clear();
    this.#current.clear();
    await Promise.allSettled(all.map((entry) => entry.backend.close()));
  }

  #entryFor(profile: VfsProfile): Entry {
    const current = this.#current.get(profile.id);
    if (current && sameProfile(current.profile, profile)) return current;
    const entry: Entry = { profile, backend: this.#factory(this.#context(profile)), sessions: 0, retired: false };
    if (current) {
      current.retired = true;
      this.#maybeClose(current);
    }
    this.#current.set(profile.id, entry);
    this.#open.add(entry);
    return entry;
  }

  #maybeClose(entry: Entry): void {
    if (!entry.retired || entry.sessions > 0 || !this.#open.delete(entry)) return;
    entry.backend.close().catch((error: unknown) => {
      this.#log?.warn({ vfsId: entry.profile.id, err: error }, 'a replaced VFS back end failed to close');
    });
  }

  #context(profile: VfsProfile): BackendContext {
    return {
      profile,
      secret: (field: string) => {
        const sealed = (profile.secrets as Readonly<Record<string, string | undefined>> | undefined)?.[field];
        const misconfigured = (why: string, cause?: unknown) =>
          new FerryError('misconfigured', 'the storage credentials are misconfigured; ask your administrator', { detail: `VFS ${profile.id}: secret ${field} ${why}`, cause });
        if (sealed === undefined) throw misconfigured('is not set');
        if (!this.#openSecret) throw misconfigured('cannot be opened: this node has no secret box');
        try {
          return this.#openSecret(sealed, vfsSecretContext(profile.id, field));
        } catch (error) {
          throw misconfigured('does not open (another master key, or moved from another field)', error);
        }
      },
    };
  }
}
