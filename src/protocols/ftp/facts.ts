// What FTP says about files: MDTM/MFMT times and MLSD/MLST fact lines (RFC 3659 sections 2.3,
// 7), and the address forms of PORT/EPRT and PASV/EPSV (RFC 959 4.1.2, RFC 2428). Pure.
import type { EntryInfo } from '../../vfs/vfs.ts';

const pad = (value: number, width = 2): string => String(value).padStart(width, '0');

/** `YYYYMMDDHHMMSS` in UTC (RFC 3659 time-val, without fractions). */
export function formatTimeVal(ms: number): string {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return '19700101000000';
  return `${pad(d.getUTCFullYear(), 4)}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}`;
}

/** Parses a time-val (`YYYYMMDDHHMMSS[.sss]`, UTC); undefined when it is not one. */
export function parseTimeVal(text: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d{1,3}))?$/.exec(text);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s, Number((m[7] ?? '0').padEnd(3, '0')));
  const back = new Date(ms);
  // Date.UTC rolls 20260231 over into March: such a date is not valid.
  if (back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) return undefined;
  return ms;
}

/** The facts Ferry reports, in FEAT's order; `*` marks them all as on by default. */
export const MLST_FACTS = ['type', 'size', 'modify', 'UNIX.mode'] as const;

/** One MLSD line or MLST entry without its leading space: `fact=value;... name`. */
export function formatFacts(entry: EntryInfo, name: string, type?: 'cdir'): string {
  const kind = type ?? (entry.type === 'dir' ? 'dir' : entry.type === 'file' ? 'file' : entry.type === 'symlink' ? 'OS.unix=symlink' : 'OS.unix=other');
  const facts = [`type=${kind}`];
  if (entry.type === 'file') facts.push(`size=${entry.size}`);
  facts.push(`modify=${formatTimeVal(entry.mtimeMs)}`, `UNIX.mode=0${(entry.mode & 0o7777).toString(8)}`);
  return `${facts.join(';')}; ${name}`;
}

/** `::ffff:10.0.0.1` (an IPv4 client on a dual-stack socket) is 10.0.0.1. */
export function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** `h1,h2,h3,h4,p1,p2` (PORT); undefined when malformed. */
export function parsePortArgument(arg: string): HostPort | undefined {
  const parts = arg.trim().split(',');
  if (parts.length !== 6 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return undefined;
  const n = parts.map(Number);
  return { host: n.slice(0, 4).join('.'), port: (n[4] as number) * 256 + (n[5] as number) };
}

/** `|1|132.235.1.2|6275|` or `|2|::1|6275|` (EPRT, RFC 2428 section 2); undefined when malformed. */
export function parseEprtArgument(arg: string): HostPort | undefined {
  const text = arg.trim();
  const delimiter = text[0];
  if (delimiter === undefined || delimiter.charCodeAt(0) < 33 || delimiter.charCodeAt(0) > 126) return undefined;
  const parts = text.split(delimiter);
  if (parts.length !== 5 || parts[0] !== '' || parts[4] !== '') return undefined;
  const [, proto, host, port] = parts as [string, string, string, string, string];
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) return undefined;
  if (proto === '1' && /^\d{1,3}(\.\d{1,3}){3}$/.test(host)) return { host, port: Number(port) };
  if (proto === '2' && /^[0-9A-Fa-f:.]+$/.test(host) && host.includes(':')) return { host, port: Number(port) };
  return undefined;
}

/** The 227 reply's `h1,h2,h3,h4,p1,p2`; undefined for an address that is not IPv4. */
export function pasvAddress(host: string, port: number): string | undefined {
  const ip = plainAddress(host);
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) return undefined;
  return `${ip.split('.').join(',')},${port >> 8},${port & 0xff}`;
}
