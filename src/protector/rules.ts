// The Protector's verdict on a connecting address, safe > block > allow (the reference product's
// "Block-list, allow-list, and safe-list"):
//  1. a safe-listed address is admitted and is never blocked automatically (load balancers'
//     health checks connect and disconnect all day);
//  2. a block-listed address is refused, allow-listed or not;
//  3. an address blocked automatically (strikes.ts) is refused until the block expires;
//  4. when the allow-list has any entry in force, only addresses on it are admitted.
// Allow-listing does not protect from automatic blocking: only the safe-list does.
// Pure: the clock is a parameter (list entries may expire).
import type { ListEntry, ListName, SiteLists } from '../config/model/protector.ts';
import { AddressSet, parseNetwork } from './addresses.ts';
import type { Address } from './addresses.ts';

export type RefusalReason = 'block-listed' | 'blocked automatically' | 'not on the allow-list';

export type Verdict =
  | { readonly admit: true; readonly safe: boolean }
  | { readonly admit: false; readonly reason: RefusalReason; readonly entry?: string; readonly until?: number };

export type CompiledLists = Readonly<Record<ListName, AddressSet<ListEntry>>>;

/** Entries that do not parse (validation refuses them; a replayed old one is skipped) are left out. */
export function compileLists(lists: SiteLists | undefined): CompiledLists {
  const compile = (entries: readonly ListEntry[] = []) =>
    new AddressSet(
      entries.flatMap((entry) => {
        const parsed = parseNetwork(entry.entry);
        return parsed.ok ? [{ network: parsed.network, value: entry }] : [];
      }),
    );
  return { block: compile(lists?.block), allow: compile(lists?.allow), safe: compile(lists?.safe) };
}

function inForce(entry: ListEntry, now: number): boolean {
  return entry.expiresAt === undefined || now < entry.expiresAt;
}

/** The first entry in force that `address` falls in. */
export function listed(set: AddressSet<ListEntry>, address: Address, now: number): ListEntry | undefined {
  for (const entry of set.matches(address)) if (inForce(entry, now)) return entry;
  return undefined;
}

/** Whether the allow-list restricts now: it has an entry in force. */
function restricting(set: AddressSet<ListEntry>, entries: readonly ListEntry[] | undefined, now: number): boolean {
  if (set.size === 0) return false;
  return (entries ?? []).some((entry) => inForce(entry, now));
}

export interface DecideInput {
  readonly address: Address;
  readonly lists: CompiledLists;
  /** The raw allow-list, to tell an empty (or wholly expired) one from a restrictive one. */
  readonly allowEntries: readonly ListEntry[] | undefined;
  /** The automatic block on this address, if any (already checked against the clock). */
  readonly autoBlockUntil: number | undefined;
  readonly now: number;
}

export function decide(input: DecideInput): Verdict {
  const { address, lists, now } = input;
  if (listed(lists.safe, address, now)) return { admit: true, safe: true };
  const blocked = listed(lists.block, address, now);
  if (blocked) return { admit: false, reason: 'block-listed', entry: blocked.entry, ...(blocked.expiresAt === undefined ? {} : { until: blocked.expiresAt }) };
  if (input.autoBlockUntil !== undefined) return { admit: false, reason: 'blocked automatically', until: input.autoBlockUntil };
  if (restricting(lists.allow, input.allowEntries, now) && !listed(lists.allow, address, now)) return { admit: false, reason: 'not on the allow-list' };
  return { admit: true, safe: false };
}
