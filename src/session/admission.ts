// Admission of connections before login, for every protocol (SSH now; FTP and HTTP reuse it).
// A connection that has not logged in costs us a key exchange or a TLS handshake and password
// hashing while its owner is still a stranger, so strangers' connections are bounded three ways:
//  - per source: one address (an IPv6 /64, which one host usually owns) holds at most
//    `maxStartupsPerSource`, so a single flooder cannot fill the rest; the protocol may let a
//    few more of that source wait (unread, counted nowhere else) for one of its own to log in
//    or leave, so a client opening many connections at once (rclone, parallel transfers)
//    is slowed down rather than refused;
//  - random early drop (OpenSSH sshd.c `drop_connection`, MaxStartups start:rate:full): from
//    `start` connections not logged in, a new one is refused with probability `rate`% rising
//    linearly to 100% at `full`, so a distributed flood is shed while real clients that retry
//    still get in;
//  - in time: the protocol closes those that have not identified themselves within
//    `identificationGraceMs`, or logged in within `loginGraceMs`.
// Refusals are logged through RefusalLog: one line per source per interval with a count, so a
// flood cannot fill the disk with its own refusals.
//
// Pure policy: no timers and no sockets; the clock and the random source are parameters.
import type { ResolvedSiteAdmission } from '../config/model/site.ts';
import type { RefusalReason as ProtectorRefusal } from '../protector/rules.ts';

/** The site's settings (config/model/site.ts siteAdmission) and the protocol's own bound. */
export interface AdmissionLimits extends ResolvedSiteAdmission {
  /** All connections, logged in or not. */
  readonly maxConnections: number;
}

export type RefusalReason =
  | ProtectorRefusal
  | 'PROXY protocol from a source that is not trusted'
  | 'invalid PROXY protocol header'
  | 'server closing'
  | 'too many connections'
  | 'too many connections not yet logged in from this source'
  | 'too many connections not yet logged in'
  | 'random early drop';

export type Admitted = { readonly admitted: true; readonly ticket: AdmissionTicket };
export type Refused = { readonly admitted: false; readonly reason: RefusalReason };

/** One admitted connection's place in the counts. Both methods are idempotent. */
export interface AdmissionTicket {
  /** The connection logged in: it no longer counts as a stranger's. */
  authenticated(): void;
  /** The connection is gone. */
  release(): void;
}

/**
 * The key connections are counted under: the IPv4 address, or the /64 of an IPv6 address
 * (IPv4-mapped IPv6 is the IPv4 address). Anything unparsable counts as itself.
 */
export function sourceOf(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1] as string;
  if (!address.includes(':')) return address;
  const bare = address.split('%')[0] as string; // zone index (fe80::1%eth0)
  const halves = bare.split('::');
  if (halves.length > 2) return address;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const groups = halves.length === 2 ? [...head, ...Array<string>(Math.max(0, 8 - head.length - tail.length)).fill('0'), ...tail] : head;
  const prefix = groups.slice(0, 4).map((group) => (Number.parseInt(group, 16) || 0).toString(16));
  return `${prefix.join(':')}::/64`;
}

/**
 * OpenSSH's early-drop probability for a new connection when `startups` are not yet logged in:
 * 0 below start, `rate`% at start, rising linearly to 100% at full.
 */
export function dropProbability(startups: number, limits: AdmissionLimits['maxStartups']): number {
  if (startups < limits.start) return 0;
  if (startups >= limits.full) return 1;
  return (limits.rate + ((100 - limits.rate) * (startups - limits.start)) / (limits.full - limits.start)) / 100;
}

export class Admission {
  readonly #random: () => number;
  #connections = 0;
  #unauthenticated = 0;
  /** Connections not logged in, per source; a source leaves the map at zero. */
  readonly #bySource = new Map<string, number>();

  readonly #onSourceFreed: ((source: string) => void) | undefined;

  /**
   * `random`: uniform in [0, 1), like Math.random (tests pass a seeded or fixed one).
   * `onSourceFreed`: a source's count of connections not logged in went down (one logged in
   * or left), so a connection of that source waiting for its turn may try again.
   */
  constructor(random: () => number = Math.random, onSourceFreed?: (source: string) => void) {
    this.#random = random;
    this.#onSourceFreed = onSourceFreed;
  }

  get connections(): number {
    return this.#connections;
  }

  get unauthenticated(): number {
    return this.#unauthenticated;
  }

  unauthenticatedFrom(source: string): number {
    return this.#bySource.get(source) ?? 0;
  }

  /** Decides for a new connection from `address` under `limits` (read per connection, so a config change applies at once). */
  admit(address: string, limits: AdmissionLimits): Admitted | Refused {
    const source = sourceOf(address);
    const reason = this.#refusal(source, limits);
    if (reason !== undefined) return { admitted: false, reason };
    this.#connections++;
    this.#unauthenticated++;
    this.#bySource.set(source, this.unauthenticatedFrom(source) + 1);
    return { admitted: true, ticket: this.#ticket(source) };
  }

  #refusal(source: string, limits: AdmissionLimits): RefusalReason | undefined {
    if (this.#connections >= limits.maxConnections) return 'too many connections';
    if (this.unauthenticatedFrom(source) >= limits.maxStartupsPerSource) return 'too many connections not yet logged in from this source';
    if (this.#unauthenticated >= limits.maxStartups.full) return 'too many connections not yet logged in';
    const p = dropProbability(this.#unauthenticated, limits.maxStartups);
    if (p > 0 && this.#random() < p) return 'random early drop';
    return undefined;
  }

  #ticket(source: string): AdmissionTicket {
    let stranger = true;
    let live = true;
    const leaveStrangers = () => {
      if (!stranger) return;
      stranger = false;
      this.#unauthenticated--;
      const left = this.unauthenticatedFrom(source) - 1;
      if (left > 0) this.#bySource.set(source, left);
      else this.#bySource.delete(source);
      this.#onSourceFreed?.(source);
    };
    return {
      authenticated: () => {
        if (live) leaveStrangers();
      },
      release: () => {
        if (!live) return;
        leaveStrangers();
        live = false;
        this.#connections--;
      },
    };
  }
}

/** What RefusalLog reports: the first refusal of a source at once, then counts per interval. */
export interface RefusalSummary {
  readonly source: string;
  /** The first refusal from this source after a quiet interval, reported at once (count 1). */
  readonly first: boolean;
  readonly count: number;
  readonly reasons: Readonly<Partial<Record<RefusalReason, number>>>;
  /** How long these were counted over (0 for the first). */
  readonly intervalMs: number;
}

interface Window {
  readonly opened: number;
  count: number;
  reasons: Partial<Record<RefusalReason, number>>;
}

/** Sources tracked at once; refusals from more are counted under OTHER_SOURCES. */
const MAX_TRACKED_SOURCES = 1024;
export const OTHER_SOURCES = 'other sources';

/**
 * Rate-limited refusal reporting. The first refusal from a source is reported at once and opens
 * an interval; later refusals are counted and reported as one summary per interval (at the next
 * `note` or `tick` after it ends) for as long as they go on. A source quiet for a whole interval
 * is forgotten. Memory is bounded by MAX_TRACKED_SOURCES.
 */
export class RefusalLog {
  readonly #intervalMs: () => number;
  readonly #now: () => number;
  readonly #report: (summary: RefusalSummary) => void;
  readonly #windows = new Map<string, Window>();

  constructor(options: { intervalMs: () => number; now: () => number; report: (summary: RefusalSummary) => void }) {
    this.#intervalMs = options.intervalMs;
    this.#now = options.now;
    this.#report = options.report;
  }

  note(address: string, reason: RefusalReason): void {
    this.tick();
    let source = sourceOf(address);
    if (!this.#windows.has(source) && this.#windows.size >= MAX_TRACKED_SOURCES) source = OTHER_SOURCES;
    const window = this.#windows.get(source);
    if (window) {
      window.count++;
      window.reasons[reason] = (window.reasons[reason] ?? 0) + 1;
      return;
    }
    this.#windows.set(source, { opened: this.#now(), count: 0, reasons: {} });
    this.#report({ source, first: true, count: 1, reasons: { [reason]: 1 }, intervalMs: 0 });
  }

  /** Reports and closes the intervals that have ended. */
  tick(): void {
    const now = this.#now();
    const intervalMs = this.#intervalMs();
    for (const [source, window] of this.#windows) {
      if (now - window.opened < intervalMs) continue;
      if (window.count === 0) {
        // A quiet interval: the next refusal from this source is news again.
        this.#windows.delete(source);
        continue;
      }
      this.#report({ source, first: false, count: window.count, reasons: window.reasons, intervalMs: now - window.opened });
      // Still refusing: keep counting, so a lasting flood costs one line per interval.
      this.#windows.set(source, { opened: now, count: 0, reasons: {} });
    }
  }

  /** Reports every pending count (at shutdown). */
  flush(): void {
    const now = this.#now();
    for (const [source, window] of this.#windows) {
      if (window.count > 0) this.#report({ source, first: false, count: window.count, reasons: window.reasons, intervalMs: now - window.opened });
    }
    this.#windows.clear();
  }
}
