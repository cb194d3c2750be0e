/**
 * Per-site Protector settings (src/protector/): which violations count as strikes, how many
 * strikes within a window block an address automatically, for how long, and which load
 * balancers may tell Ferry the real client address with the PROXY protocol.
 */
export const SENSITIVITIES = ['indulgent', 'normal', 'strict', 'paranoid'] as const;
export type Sensitivity = (typeof SENSITIVITIES)[number];

export interface SiteProtector {
  /**
   * indulgent: only authentication and authorization violations count; normal (default): also a
   * connection closed without a login attempt; strict: also every protocol error (a missing
   * file, a forbidden listing); paranoid: also a disconnect without the protocol's goodbye.
   */
  readonly sensitivity?: Sensitivity;
  /** Strikes within `windowMs` that block an address, per sensitivity. */
  readonly thresholds?: Partial<Readonly<Record<Sensitivity, number>>>;
  readonly windowMs?: number;
  /** How long an automatic block lasts; it then expires by itself. */
  readonly blockDurationMs?: number;
  /**
   * Addresses or networks of load balancers whose PROXY protocol headers (v1 or v2) are believed,
   * on bindings with `proxyProtocol` on. Every other source is refused on such a binding.
   */
  readonly proxyTrustedSources?: readonly string[];
}

export type ResolvedSiteProtector = {
  readonly sensitivity: Sensitivity;
  readonly thresholds: Readonly<Record<Sensitivity, number>>;
  readonly windowMs: number;
  readonly blockDurationMs: number;
  readonly proxyTrustedSources: readonly string[];
};

export const DEFAULT_SITE_PROTECTOR: ResolvedSiteProtector = Object.freeze({
  sensitivity: 'normal',
  // The harsher the sensitivity, the more kinds of violation count, and the fewer are needed.
  // At normal, an OpenSSH brute force (6 passwords per connection) is blocked in its second
  // connection; a user who mistypes a password a few times is not.
  thresholds: Object.freeze({ indulgent: 20, normal: 10, strict: 6, paranoid: 3 }),
  // Ten minutes: slow enough guessing to stay below it gets a few dozen tries an hour.
  windowMs: 600_000,
  // Half an hour, then the address may try again (and is blocked again at once if it goes on).
  blockDurationMs: 1_800_000,
  proxyTrustedSources: Object.freeze([]),
});

/** The site's Protector settings with defaults for what it leaves out. */
export function siteProtector(site: { readonly protector?: SiteProtector | undefined }): ResolvedSiteProtector {
  const set = site.protector ?? {};
  return {
    sensitivity: set.sensitivity ?? DEFAULT_SITE_PROTECTOR.sensitivity,
    thresholds: { ...DEFAULT_SITE_PROTECTOR.thresholds, ...set.thresholds },
    windowMs: set.windowMs ?? DEFAULT_SITE_PROTECTOR.windowMs,
    blockDurationMs: set.blockDurationMs ?? DEFAULT_SITE_PROTECTOR.blockDurationMs,
    proxyTrustedSources: set.proxyTrustedSources ?? DEFAULT_SITE_PROTECTOR.proxyTrustedSources,
  };
}

export const LIST_NAMES = ['block', 'allow', 'safe'] as const;
export type ListName = (typeof LIST_NAMES)[number];

/** One entry of a site's block, allow or safe list. */
export interface ListEntry {
  /** An address or network in canonical form (protector/addresses.ts parseNetwork). */
  readonly entry: string;
  /** ms since the epoch; from then on the entry no longer applies. Absent: never expires. */
  readonly expiresAt?: number;
  readonly comment?: string;
  /** When and by whom it was added (the command's envelope). */
  readonly addedAt?: number;
  readonly addedBy?: string;
}

export type SiteLists = { readonly [K in ListName]?: readonly ListEntry[] };
