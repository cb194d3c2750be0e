// `{{variables}}` in greetings and banners, expanded per connection, for every protocol (SSH
// identification and banner, FTP greeting). Pure: the caller passes the clock. Nothing here
// touches a path (parametric VFS targets are vfs/params.ts); values come from the connection and
// the config, and each protocol sanitizes the expanded text for its wire slot. The notation
// ({{name}}, and the legacy [%NAME%]) is config/template.ts's, the same as VFS targets'.
import { expandTemplate, templateVariables } from '../config/template.ts';
import { formatDay } from '../vfs/params.ts';

export interface GreetingContext {
  readonly serverName: string;
  readonly siteName: string;
  readonly siteId: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly connectionId: string;
  /** ms since the epoch. */
  readonly now: number;
}

export const GREETING_VARIABLES = [
  'server_name',
  'site_name',
  'site_id',
  'remote_ip',
  'remote_port',
  'local_ip',
  'local_port',
  'connection_id',
  'date',
  'time',
  'date_utc',
  'time_utc',
  'today',
  'today_utc',
] as const;
export type GreetingVariable = (typeof GREETING_VARIABLES)[number];

const pad = (value: number, width = 2): string => String(value).padStart(width, '0');

/** `::ffff:10.0.0.1` (an IPv4 client on a dual-stack socket) reads as `10.0.0.1`. */
export function displayAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

function dateParts(now: number, utc: boolean): { y: number; m: number; d: number; hh: number; mm: number; ss: number } {
  const t = new Date(now);
  return utc
    ? { y: t.getUTCFullYear(), m: t.getUTCMonth() + 1, d: t.getUTCDate(), hh: t.getUTCHours(), mm: t.getUTCMinutes(), ss: t.getUTCSeconds() }
    : { y: t.getFullYear(), m: t.getMonth() + 1, d: t.getDate(), hh: t.getHours(), mm: t.getMinutes(), ss: t.getSeconds() };
}

function valueOf(name: GreetingVariable, ctx: GreetingContext): string {
  const local = dateParts(ctx.now, false);
  const utc = dateParts(ctx.now, true);
  switch (name) {
    case 'server_name':
      return ctx.serverName;
    case 'site_name':
      return ctx.siteName;
    case 'site_id':
      return ctx.siteId;
    case 'remote_ip':
      return displayAddress(ctx.remoteAddress);
    case 'remote_port':
      return String(ctx.remotePort);
    case 'local_ip':
      return displayAddress(ctx.localAddress);
    case 'local_port':
      return String(ctx.localPort);
    case 'connection_id':
      return ctx.connectionId;
    case 'date':
      return `${pad(local.y, 4)}-${pad(local.m)}-${pad(local.d)}`;
    case 'time':
      return `${pad(local.hh)}:${pad(local.mm)}:${pad(local.ss)}`;
    case 'date_utc':
      return `${pad(utc.y, 4)}-${pad(utc.m)}-${pad(utc.d)}`;
    case 'time_utc':
      return `${pad(utc.hh)}:${pad(utc.mm)}:${pad(utc.ss)}`;
    case 'today':
      return formatDay(ctx.now, false);
    case 'today_utc':
      return formatDay(ctx.now, true);
  }
}

function isGreetingVariable(name: string): name is GreetingVariable {
  return (GREETING_VARIABLES as readonly string[]).includes(name);
}

/** Expands known variables; an unknown one stays as written (see unknownVariables for validation). */
export function expandVariables(template: string, ctx: GreetingContext): string {
  return expandTemplate(template, ({ text, name }) => (isGreetingVariable(name) ? valueOf(name, ctx) : text));
}

/** Variable names in `template` that expandVariables does not know: for config validation. */
export function unknownVariables(template: string): string[] {
  return templateVariables(template)
    .map(({ name }) => name)
    .filter((name) => !isGreetingVariable(name));
}
