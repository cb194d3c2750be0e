// Addresses and networks as administrators write them in the block, allow and safe lists:
// a single address (`192.168.1.35`, `2001:db8::7`), CIDR (`10.23.5.0/24`) or an IPv4 network
// with a dotted mask (`10.23.5.0/255.255.255.0`, as the reference product writes them).
// IPv4-mapped IPv6 (`::ffff:1.2.3.4`, what a dual-stack socket reports) is the IPv4 address, so
// one entry covers a client however the socket saw it.
//
// Matching is on the accept path of every connection, so an AddressSet is compiled once per
// list (the config view is frozen; the Protector caches by list identity) into exact-address
// lookups and per-family mask tests on numbers (IPv4) and bigints (IPv6).
import ipaddr from 'ipaddr.js';

/** A parsed address: IPv4 as an unsigned 32-bit number, IPv6 as a 128-bit bigint. */
export type Address = { readonly v4: true; readonly value: number } | { readonly v4: false; readonly value: bigint };

export interface Network {
  readonly v4: boolean;
  /** The network's first address (host bits zero). */
  readonly base: number | bigint;
  readonly prefix: number;
  /** The canonical text: `a.b.c.d` or `a.b.c.d/n`, IPv6 in its RFC 5952 form. */
  readonly text: string;
}

export type ParsedNetwork = { readonly ok: true; readonly network: Network } | { readonly ok: false; readonly error: string };

const V4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Fast path for the common case: a plain dotted quad (no octal, no short forms). */
function parseV4(text: string): number | undefined {
  const m = V4.exec(text);
  if (!m) return undefined;
  let value = 0;
  for (let i = 1; i <= 4; i++) {
    const part = m[i] as string;
    if (part.length > 1 && part[0] === '0') return undefined; // 010 would be octal to some parsers
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return value;
}

function v6Value(bytes: readonly number[]): bigint {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  return value;
}

/** A client address as a socket reports it; undefined when it is not an IP address. */
export function parseAddress(text: string): Address | undefined {
  const v4 = parseV4(text);
  if (v4 !== undefined) return { v4: true, value: v4 };
  if (!text.includes(':')) return undefined;
  const bare = text.split('%')[0] as string; // zone index (fe80::1%eth0)
  if (!ipaddr.IPv6.isValid(bare)) return undefined;
  const parsed = ipaddr.IPv6.parse(bare);
  if (parsed.isIPv4MappedAddress()) return { v4: true, value: parseV4(parsed.toIPv4Address().toString()) as number };
  return { v4: false, value: v6Value(parsed.toByteArray()) };
}

function v4Text(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

function v6Text(value: bigint): string {
  const bytes: number[] = [];
  for (let i = 15; i >= 0; i--) bytes.push(Number((value >> BigInt(i * 8)) & 255n));
  return ipaddr.fromByteArray(bytes).toString();
}

export function addressText(address: Address): string {
  return address.v4 ? v4Text(address.value) : v6Text(address.value);
}

function v4Mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

function v6Mask(prefix: number): bigint {
  return prefix === 0 ? 0n : ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - prefix)) - 1n);
}

function prefixOf(mask: string, v4: boolean): number | string {
  if (/^\d{1,3}$/.test(mask)) {
    const prefix = Number(mask);
    return prefix <= (v4 ? 32 : 128) ? prefix : `the prefix length /${mask} is longer than ${v4 ? 32 : 128}`;
  }
  if (!v4 || parseV4(mask) === undefined) return `"${mask}" is neither a prefix length nor a dotted IPv4 mask`;
  const prefix = ipaddr.IPv4.parse(mask).prefixLengthFromSubnetMask();
  return prefix ?? `the mask ${mask} is not contiguous (write it as a prefix length, e.g. /24)`;
}

/**
 * An entry of a block, allow or safe list. Host bits set under the mask are refused with the
 * network meant (`10.23.5.7/24`: did you mean `10.23.5.0/24`?): a silent widening would list
 * addresses the administrator never typed.
 */
export function parseNetwork(input: string): ParsedNetwork {
  const text = input.trim();
  const slash = text.indexOf('/');
  const host = slash < 0 ? text : text.slice(0, slash);
  const address = parseAddress(host);
  if (!address || host.includes('%')) return { ok: false, error: `"${input}" is not an IPv4 or IPv6 address or network (examples: 192.168.1.35, 10.23.5.0/24, 10.23.5.0/255.255.255.0, 2001:db8::/32)` };
  // An IPv4-mapped IPv6 network (::ffff:10.0.0.0/104) is written in IPv4 terms.
  const mappedShift = !address.v4 || parseV4(host) !== undefined ? 0 : 96;
  let prefix = address.v4 ? 32 : 128;
  if (slash >= 0) {
    const parsed = prefixOf(text.slice(slash + 1), address.v4 && mappedShift === 0);
    if (typeof parsed === 'string') return { ok: false, error: `"${input}": ${parsed}` };
    prefix = parsed - mappedShift;
    if (prefix < 0) return { ok: false, error: `"${input}": an IPv4-mapped prefix must be at least /96` };
  }
  if (address.v4) {
    const base = (address.value & v4Mask(prefix)) >>> 0;
    const text4 = prefix === 32 ? v4Text(base) : `${v4Text(base)}/${prefix}`;
    if (base !== address.value) return { ok: false, error: `"${input}" has host bits set under its mask; did you mean ${text4}?` };
    return { ok: true, network: { v4: true, base, prefix, text: text4 } };
  }
  const base = address.value & v6Mask(prefix);
  const text6 = prefix === 128 ? v6Text(base) : `${v6Text(base)}/${prefix}`;
  if (base !== address.value) return { ok: false, error: `"${input}" has host bits set under its mask; did you mean ${text6}?` };
  return { ok: true, network: { v4: false, base, prefix, text: text6 } };
}

/** Whether `network` contains `address`. */
export function contains(network: Network, address: Address): boolean {
  if (network.v4 !== address.v4) return false;
  if (address.v4) return ((address.value & v4Mask(network.prefix)) >>> 0) === network.base;
  return (address.value & v6Mask(network.prefix)) === network.base;
}

/**
 * The unit strikes and automatic blocks count under: the IPv4 address, or the /64 of an IPv6
 * address (one host usually owns a whole /64, and could rotate through it at will).
 */
export function strikeKey(address: Address): string {
  if (address.v4) return v4Text(address.value);
  return `${v6Text(address.value & v6Mask(64))}/64`;
}

interface Member<T> {
  readonly network: Network;
  readonly mask: number | bigint;
  readonly value: T;
}

/** A compiled list: which of its entries an address falls in (the first, in list order). */
export class AddressSet<T> {
  readonly #exact4 = new Map<number, T>();
  readonly #exact6 = new Map<bigint, T>();
  readonly #nets4: Member<T>[] = [];
  readonly #nets6: Member<T>[] = [];
  readonly size: number;

  constructor(entries: Iterable<{ readonly network: Network; readonly value: T }>) {
    let size = 0;
    for (const { network, value } of entries) {
      size++;
      if (network.v4 && network.prefix === 32) {
        if (!this.#exact4.has(network.base as number)) this.#exact4.set(network.base as number, value);
      } else if (!network.v4 && network.prefix === 128) {
        if (!this.#exact6.has(network.base as bigint)) this.#exact6.set(network.base as bigint, value);
      } else if (network.v4) this.#nets4.push({ network, mask: v4Mask(network.prefix), value });
      else this.#nets6.push({ network, mask: v6Mask(network.prefix), value });
    }
    this.size = size;
  }

  /** The entries `address` falls in, exact address first, then networks in list order. */
  *matches(address: Address): Generator<T> {
    if (address.v4) {
      const exact = this.#exact4.get(address.value);
      if (exact !== undefined) yield exact;
      for (const m of this.#nets4) if (((address.value & (m.mask as number)) >>> 0) === m.network.base) yield m.value;
    } else {
      const exact = this.#exact6.get(address.value);
      if (exact !== undefined) yield exact;
      for (const m of this.#nets6) if ((address.value & (m.mask as bigint)) === m.network.base) yield m.value;
    }
  }
}
