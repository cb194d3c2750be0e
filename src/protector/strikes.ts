// Strike accounting: which violations count at which sensitivity, and the automatic blocks that
// enough strikes within a window produce. Pure bookkeeping on an injected clock (no timers):
// a block expires when the clock passes it, a strike leaves its window the same way.
//
// Memory is bounded under a flood of distinct addresses: both maps are LRU-bounded (a Map's
// insertion order, refreshed on use), so the oldest quiet address is forgotten first. Forgetting
// an address's strikes is the right loss under a flood: the addresses that keep striking stay.
import type { Sensitivity } from '../config/model/protector.ts';

export type StrikeKind =
  /** A failed login attempt (wrong password, unknown user, refused key proof). */
  | 'authentication'
  /** Logged in or not, the account may not do this: a subsystem it may not use, a disabled account. */
  | 'authorization'
  /** A connection that ended without any login attempt (a port scan, a health check). */
  | 'connect-disconnect'
  /** A protocol error the client caused after login: a missing file, a forbidden listing. */
  | 'protocol-error'
  /** The client went away without the protocol's goodbye (SSH DISCONNECT, FTP QUIT). */
  | 'no-goodbye';

/** What counts at each sensitivity; each level counts what the milder ones do. */
export const COUNTED: Readonly<Record<Sensitivity, ReadonlySet<StrikeKind>>> = Object.freeze({
  indulgent: new Set<StrikeKind>(['authentication', 'authorization']),
  normal: new Set<StrikeKind>(['authentication', 'authorization', 'connect-disconnect']),
  strict: new Set<StrikeKind>(['authentication', 'authorization', 'connect-disconnect', 'protocol-error']),
  paranoid: new Set<StrikeKind>(['authentication', 'authorization', 'connect-disconnect', 'protocol-error', 'no-goodbye']),
});

/**
 * Session error kinds (vfs/errors.ts) the client causes (strict counts them). Storage and server failures
 * (io, unavailable, internal ...) are Ferry's, and an aborted or incomplete transfer is a
 * client's right; none of those count.
 */
const CLIENT_ERRORS: ReadonlySet<string> = new Set([
  'not-found',
  'exists',
  'not-a-directory',
  'is-a-directory',
  'not-empty',
  'invalid-path',
  'name-not-allowed',
  'invalid-request',
  'not-a-file',
  'not-a-link',
  'permission-denied',
  'quota-exceeded',
]);

/**
 * The strike a session error is, if any. Strict means every protocol error the client causes:
 * a stat that finds nothing counts too, because SFTP clients (OpenSSH sftp, paramiko) stat a
 * file before they download it, and probing names is what a scanner does. A client that stats
 * the names it is about to create will collect strikes at strict: that is what normal is for.
 */
export function strikeForSessionError(kind: string, _operation: string): StrikeKind | undefined {
  if (kind === 'subsystem-denied') return 'authorization';
  return CLIENT_ERRORS.has(kind) ? 'protocol-error' : undefined;
}

export interface StrikePolicy {
  readonly threshold: number;
  readonly windowMs: number;
  readonly blockDurationMs: number;
}

export interface AutoBlock {
  readonly key: string;
  readonly since: number;
  readonly until: number;
  /** The strikes that led to it, oldest first (kinds only; bounded by the threshold). */
  readonly strikes: readonly StrikeKind[];
  /** The last strike's kind and detail, for the log and the admin's list. */
  readonly reason: string;
}

export type StrikeOutcome =
  | { readonly blocked: false; readonly strikes: number }
  | { readonly blocked: true; readonly strikes: number; readonly block: AutoBlock };

interface Tally {
  /** Times of the strikes still in the window, oldest first. */
  times: number[];
  kinds: StrikeKind[];
}

/** Per-site bounds; about 200 bytes per tracked address, a few hundred per block. */
export const DEFAULT_MAX_TRACKED = 50_000;
export const DEFAULT_MAX_BLOCKS = 50_000;

export class StrikeBook {
  readonly #now: () => number;
  readonly #maxTracked: number;
  readonly #maxBlocks: number;
  readonly #tallies = new Map<string, Tally>();
  readonly #blocks = new Map<string, AutoBlock>();

  constructor(options: { now: () => number; maxTracked?: number; maxBlocks?: number }) {
    this.#now = options.now;
    this.#maxTracked = options.maxTracked ?? DEFAULT_MAX_TRACKED;
    this.#maxBlocks = options.maxBlocks ?? DEFAULT_MAX_BLOCKS;
  }

  get tracked(): number {
    return this.#tallies.size;
  }

  /** The block in force on `key`; an expired one is dropped here. */
  blockOf(key: string): AutoBlock | undefined {
    const block = this.#blocks.get(key);
    if (block === undefined) return undefined;
    if (this.#now() < block.until) return block;
    this.#blocks.delete(key);
    return undefined;
  }

  /** Counts one strike against `key`; the one that reaches the threshold blocks it. */
  strike(key: string, kind: StrikeKind, reason: string, policy: StrikePolicy): StrikeOutcome {
    const now = this.#now();
    const existing = this.blockOf(key);
    if (existing) return { blocked: true, strikes: existing.strikes.length, block: existing };
    const tally = this.#tallies.get(key) ?? { times: [], kinds: [] };
    this.#tallies.delete(key); // re-inserted last: most recently used
    let stale = 0;
    while (stale < tally.times.length && (tally.times[stale] as number) <= now - policy.windowMs) stale++;
    tally.times.splice(0, stale);
    tally.kinds.splice(0, stale);
    tally.times.push(now);
    tally.kinds.push(kind);
    // A threshold lowered since keeps only what it needs.
    const keep = Math.max(1, policy.threshold);
    if (tally.times.length > keep) {
      tally.times.splice(0, tally.times.length - keep);
      tally.kinds.splice(0, tally.kinds.length - keep);
    }
    if (tally.times.length >= policy.threshold) {
      const block: AutoBlock = { key, since: now, until: now + policy.blockDurationMs, strikes: [...tally.kinds], reason };
      this.#setBlock(block);
      return { blocked: true, strikes: tally.times.length, block };
    }
    this.#tallies.set(key, tally);
    while (this.#tallies.size > this.#maxTracked) this.#tallies.delete(this.#tallies.keys().next().value as string);
    return { blocked: false, strikes: tally.times.length };
  }

  #setBlock(block: AutoBlock): void {
    this.#blocks.delete(block.key);
    this.#blocks.set(block.key, block);
    // Equal durations: the first inserted expires first, so it is the one to let go.
    while (this.#blocks.size > this.#maxBlocks) this.#blocks.delete(this.#blocks.keys().next().value as string);
  }

  /** Blocks in force, soonest expiry first. */
  blocks(): AutoBlock[] {
    const now = this.#now();
    const live: AutoBlock[] = [];
    for (const [key, block] of this.#blocks) {
      if (now < block.until) live.push(block);
      else this.#blocks.delete(key);
    }
    return live.sort((a, b) => a.until - b.until);
  }

  /** An administrator lifts a block; its strikes go too, so the address starts afresh. */
  lift(key: string): boolean {
    this.#tallies.delete(key);
    return this.#blocks.delete(key);
  }

  /** A safe-listed address collects nothing. */
  forget(key: string): void {
    this.#tallies.delete(key);
  }
}
