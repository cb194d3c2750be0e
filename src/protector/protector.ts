// The node's Protector: one per node, for every site and every protocol. The listener asks it
// at accept, before any protocol work (`check`); the connection lifecycle, the login and the
// Session report what happened (`opened`/`closed`, `authOutcome`, `sessionError`) and the
// Protector alone decides what is a strike at the site's sensitivity. No protocol counts its own.
//
// Lists and settings are replicated config (read through `site`, per call, so a change applies
// at once); automatic blocks and strikes are this node's own, in memory and bounded
// (strikes.ts), and every strike and block is published to subscribers: the cluster's gossip
// will carry them to the other nodes (DESIGN.md "Block-list strikes travel by gossip").
import type { Logger } from 'pino';
import { siteProtector } from '../config/model/protector.ts';
import type { SiteLists, SiteProtector } from '../config/model/protector.ts';
import { AddressSet, parseAddress, parseNetwork, strikeKey } from './addresses.ts';
import type { Address } from './addresses.ts';
import { compileLists, decide, listed } from './rules.ts';
import type { CompiledLists, Verdict } from './rules.ts';
import { COUNTED, StrikeBook, strikeForSessionError } from './strikes.ts';
import type { AutoBlock, StrikeKind } from './strikes.ts';

/** What the Protector reads of a site (config/model/site.ts Site has these fields). */
export interface ProtectedSite {
  readonly protector?: SiteProtector | undefined;
  readonly lists?: SiteLists | undefined;
}

export type ProtectorEvent =
  | {
      readonly type: 'strike';
      readonly siteId: string;
      /** The address (IPv6: its /64) the strike counts under. */
      readonly key: string;
      readonly kind: StrikeKind;
      readonly reason: string;
      readonly time: number;
      /** Strikes in the window, this one included. */
      readonly strikes: number;
      readonly threshold: number;
    }
  | { readonly type: 'blocked'; readonly siteId: string; readonly block: AutoBlock; readonly time: number }
  | { readonly type: 'lifted'; readonly siteId: string; readonly key: string; readonly time: number };

/** The auth-outcome event's fields the Protector reads (auth/login.ts AuthOutcomeEvent). */
export interface AuthOutcomeFacts {
  readonly siteId: string;
  readonly connectionId: string;
  readonly remoteAddress: string;
  readonly username: string;
  readonly outcome: 'success' | 'partial' | 'failure';
  readonly reason?: string;
}

export interface SessionErrorFacts {
  readonly siteId: string;
  readonly connectionId: string;
  readonly remoteAddress: string;
  /** The FerryError kind. */
  readonly kind: string;
  /** The Session operation: `stat`, `list`, `download`, `login` ... */
  readonly operation: string;
  readonly path: string;
}

/** How a connection ended, as the listener saw it. */
export interface CloseFacts {
  readonly loggedIn: boolean;
  /** The client said goodbye the protocol's way before going. */
  readonly goodbye: boolean;
  /** The server ended it (too many failures, grace time, shutdown): not the client's doing. */
  readonly endedByServer: boolean;
}

export interface BlockInfo extends AutoBlock {
  readonly siteId: string;
}

interface OpenConnection {
  readonly siteId: string;
  readonly address: Address;
  attempted: boolean;
}

interface SiteState {
  readonly book: StrikeBook;
}

const EMPTY_LISTS: CompiledLists = compileLists(undefined);

export interface ProtectorOptions {
  /** The site as the current config view has it (undefined: unknown site, nothing applies). */
  readonly site: (siteId: string) => ProtectedSite | undefined;
  readonly now: () => number;
  readonly logger?: Pick<Logger, 'warn' | 'info' | 'debug' | 'error'>;
  /** Per-site bounds of strikes.ts (tests and the bench lower or raise them). */
  readonly maxTracked?: number;
  readonly maxBlocks?: number;
}

export class Protector {
  readonly #options: ProtectorOptions;
  readonly #sites = new Map<string, SiteState>();
  readonly #open = new Map<string, OpenConnection>();
  readonly #listeners = new Set<(event: ProtectorEvent) => void>();
  // Compiled once per list object: the config view is frozen, so an unchanged site shares it.
  readonly #compiled = new WeakMap<SiteLists, CompiledLists>();
  readonly #trusted = new WeakMap<readonly string[], AddressSet<true>>();

  constructor(options: ProtectorOptions) {
    this.#options = options;
  }

  #state(siteId: string): SiteState {
    let state = this.#sites.get(siteId);
    if (!state) {
      state = { book: new StrikeBook({ now: this.#options.now, ...(this.#options.maxTracked ? { maxTracked: this.#options.maxTracked } : {}), ...(this.#options.maxBlocks ? { maxBlocks: this.#options.maxBlocks } : {}) }) };
      this.#sites.set(siteId, state);
    }
    return state;
  }

  #lists(site: ProtectedSite | undefined): CompiledLists {
    const lists = site?.lists;
    if (lists === undefined) return EMPTY_LISTS;
    let compiled = this.#compiled.get(lists);
    if (!compiled) {
      compiled = compileLists(lists);
      this.#compiled.set(lists, compiled);
    }
    return compiled;
  }

  /** The verdict on a new connection from `remoteAddress`: the hot path of a flood. */
  check(siteId: string, remoteAddress: string): Verdict {
    const address = parseAddress(remoteAddress);
    // Not an IP address (a Unix socket in a test): nothing to match it against.
    if (address === undefined) return { admit: true, safe: false };
    const site = this.#options.site(siteId);
    const now = this.#options.now();
    // A trusted load balancer is safe: its own health checks connect and disconnect all day.
    if (this.#trustedBalancer(site, address)) return { admit: true, safe: true };
    const block = this.#sites.get(siteId)?.book.blockOf(strikeKey(address));
    return decide({ address, lists: this.#lists(site), allowEntries: site?.lists?.allow, autoBlockUntil: block?.until, now });
  }

  /** Whether `remoteAddress` is one of the site's load balancers, whose PROXY headers are believed. */
  trustsProxy(siteId: string, remoteAddress: string): boolean {
    const address = parseAddress(remoteAddress);
    return address !== undefined && this.#trustedBalancer(this.#options.site(siteId), address);
  }

  #trustedBalancer(site: ProtectedSite | undefined, address: Address): boolean {
    const sources = site?.protector?.proxyTrustedSources;
    if (sources === undefined || sources.length === 0) return false;
    let set = this.#trusted.get(sources);
    if (!set) {
      set = new AddressSet(sources.flatMap((source) => {
        const parsed = parseNetwork(source);
        return parsed.ok ? [{ network: parsed.network, value: true as const }] : [];
      }));
      this.#trusted.set(sources, set);
    }
    return set.matches(address).next().done === false;
  }

  /** An admitted connection, with the client's address (after a PROXY header, the real one). */
  opened(connection: { readonly connectionId: string; readonly siteId: string; readonly remoteAddress: string }): void {
    const address = parseAddress(connection.remoteAddress);
    if (address === undefined) return;
    this.#open.set(connection.connectionId, { siteId: connection.siteId, address, attempted: false });
  }

  /** Open connections per site (metrics). */
  openBySite(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const open of this.#open.values()) counts.set(open.siteId, (counts.get(open.siteId) ?? 0) + 1);
    return counts;
  }

  /** The connection is gone: a connect-then-disconnect or a missing goodbye may be a strike. */
  closed(connectionId: string, facts: CloseFacts): void {
    const open = this.#open.get(connectionId);
    if (!open) return;
    this.#open.delete(connectionId);
    if (!facts.loggedIn && !open.attempted) {
      // Closed by the server before any attempt: the client connected and sent no login (it
      // let the grace time run out, or sent no valid identification), which is the same probe.
      this.#strike(open.siteId, open.address, 'connect-disconnect', 'connection closed without a login attempt');
      return;
    }
    if (!facts.goodbye && !facts.endedByServer) this.#strike(open.siteId, open.address, 'no-goodbye', 'disconnected without the protocol\'s goodbye');
  }

  /** Every login attempt's outcome (auth/login.ts); a failure is a strike at every sensitivity. */
  authOutcome(event: AuthOutcomeFacts): void {
    const open = this.#open.get(event.connectionId);
    if (open) open.attempted = true;
    if (event.outcome !== 'failure') return;
    const address = open?.address ?? parseAddress(event.remoteAddress);
    if (address === undefined) return;
    this.#strike(event.siteId, address, 'authentication', `login failed for "${event.username}": ${event.reason ?? 'refused'}`);
  }

  /** A Session operation failed (session/recorder.ts): strict and paranoid count the client's errors. */
  sessionError(event: SessionErrorFacts): void {
    const kind = strikeForSessionError(event.kind, event.operation);
    if (kind === undefined) return;
    const address = this.#open.get(event.connectionId)?.address ?? parseAddress(event.remoteAddress);
    if (address === undefined) return;
    this.#strike(event.siteId, address, kind, `${event.operation} ${event.path}: ${event.kind}`);
  }

  #strike(siteId: string, address: Address, kind: StrikeKind, reason: string): void {
    const site = this.#options.site(siteId);
    if (site === undefined) return;
    const settings = siteProtector(site);
    if (!COUNTED[settings.sensitivity].has(kind)) return;
    const now = this.#options.now();
    const key = strikeKey(address);
    const book = this.#state(siteId).book;
    if (listed(this.#lists(site).safe, address, now) || this.#trustedBalancer(site, address)) {
      book.forget(key);
      return;
    }
    const threshold = settings.thresholds[settings.sensitivity];
    const already = book.blockOf(key);
    if (already) return;
    const outcome = book.strike(key, kind, `${kind}: ${reason}`, { threshold, windowMs: settings.windowMs, blockDurationMs: settings.blockDurationMs });
    this.#options.logger?.debug({ site: siteId, source: key, kind, reason, strikes: outcome.strikes, threshold }, 'protector: strike');
    this.#publish({ type: 'strike', siteId, key, kind, reason, time: now, strikes: outcome.strikes, threshold });
    if (!outcome.blocked) return;
    const { block } = outcome;
    this.#options.logger?.warn(
      { site: siteId, source: key, until: new Date(block.until).toISOString(), strikes: block.strikes, reason: block.reason },
      `protector: ${key} blocked for ${Math.round((block.until - block.since) / 1000)} s after ${block.strikes.length} strikes within ${Math.round(settings.windowMs / 1000)} s (sensitivity ${settings.sensitivity})`,
    );
    this.#publish({ type: 'blocked', siteId, block, time: now });
  }

  /** The automatic blocks in force on a site, soonest expiry first. */
  blocked(siteId: string): BlockInfo[] {
    return (this.#sites.get(siteId)?.book.blocks() ?? []).map((block) => ({ ...block, siteId }));
  }

  /**
   * Lifts an automatic block (and forgets the address's strikes). `address` is an address or
   * the key as `blocked` lists it (an IPv6 /64); false when nothing was blocked.
   */
  lift(siteId: string, address: string): boolean {
    const parsed = parseAddress(address.endsWith('/64') ? address.slice(0, -3) : address);
    const key = parsed === undefined ? address : strikeKey(parsed);
    const lifted = this.#sites.get(siteId)?.book.lift(key) ?? false;
    if (lifted) {
      this.#options.logger?.info({ site: siteId, source: key }, `protector: block on ${key} lifted`);
      this.#publish({ type: 'lifted', siteId, key, time: this.#options.now() });
    }
    return lifted;
  }

  /** Strike and block events, for the cluster's gossip and for tests; returns the unsubscribe. */
  subscribe(listener: (event: ProtectorEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #publish(event: ProtectorEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.#options.logger?.error({ err: error }, 'protector: an event listener failed');
      }
    }
  }

  /** Addresses with strikes tracked, over all sites (the bench reports it). */
  get tracked(): number {
    let n = 0;
    for (const state of this.#sites.values()) n += state.book.tracked;
    return n;
  }
}
