// Parametric VFS targets: one profile such as `/srv/sftp/{{username}}` gives every user their own
// directory. Expanded once per session at login, with an injected clock.
//
// Variables: {{username}}, {{user_home}}, {{user_desc}}, {{today}} (YYYYMMDD, the node's local
// time zone), {{today_utc}} (YYYYMMDD, UTC), {{sess_custdata}}, {{node_files}} (the files area
// of the node serving the session, <data>/files: replicated config names no node's data
// directory, and each node reads its own); the legacy notation
// [%USERNAME%], [%USER_HOME%], ... names the same set (config/template.ts has the notation).
//
// Injection policy (decided: refuse, never sanitize). A value that is spliced into a storage path
// must not be able to change which directory is meant. So a value that is empty, "." or "..", or
// contains "/", a backslash, NUL or a control character makes the expansion fail, and the login
// with it. Sanitizing ("a/b" -> "a_b") was rejected because two different users or descriptions
// could then silently share one directory. {{user_home}} is the exception: it is a directory
// (from LDAP), so it must be an absolute, already-normalized POSIX path without ".." and without
// the other forbidden characters. An unknown variable is an error too (a typo must not become a
// literal directory name shared by everyone).
import { expandTemplate, templateVariables } from '../config/template.ts';
import { FerryError } from './errors.ts';
import { isCanonicalPath, isValidName } from './path.ts';

export interface TargetParams {
  readonly username: string;
  readonly userDesc: string;
  /** The LDAP/AD home directory, when the user has one. */
  readonly userHome?: string | undefined;
  /** Session custom data set by event scripts, when set. */
  readonly sessCustData?: string | undefined;
  /** Clock (ms since the epoch) used for {{today}} and {{today_utc}}. */
  readonly now: number;
  /** This node's files area, <data>/files, for {{node_files}}. */
  readonly nodeFiles?: string | undefined;
}

const VARIABLES = ['username', 'user_home', 'user_desc', 'today', 'today_utc', 'sess_custdata', 'node_files'] as const;
type Variable = (typeof VARIABLES)[number];

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}

/** YYYYMMDD of `now` in the local time zone or in UTC. */
export function formatDay(now: number, utc: boolean): string {
  const date = new Date(now);
  if (utc) return `${pad(date.getUTCFullYear(), 4)}${pad(date.getUTCMonth() + 1, 2)}${pad(date.getUTCDate(), 2)}`;
  return `${pad(date.getFullYear(), 4)}${pad(date.getMonth() + 1, 2)}${pad(date.getDate(), 2)}`;
}

function refuse(variable: string, why: string): FerryError {
  return new FerryError('misconfigured', 'your account\'s storage location cannot be resolved; ask your administrator', {
    detail: `parametric target: {{${variable}}} ${why}`,
  });
}

function segmentValue(variable: Variable, value: string | undefined): string {
  if (value === undefined || value === '') throw refuse(variable, 'is not set for this session');
  if (!isValidName(value)) throw refuse(variable, `value ${JSON.stringify(value.slice(0, 80))} is not a single safe path segment`);
  return value;
}

function pathValue(variable: 'user_home' | 'node_files', value: string | undefined): string {
  if (value === undefined || value === '') throw refuse(variable, variable === 'user_home' ? 'is not set for this user' : 'is not known to this node');
  if (!isCanonicalPath(value)) throw refuse(variable, `value ${JSON.stringify(value.slice(0, 80))} is not an absolute normalized path`);
  return value;
}

function valueOf(variable: Variable, params: TargetParams): string {
  switch (variable) {
    case 'username':
      return segmentValue(variable, params.username);
    case 'user_desc':
      return segmentValue(variable, params.userDesc);
    case 'sess_custdata':
      return segmentValue(variable, params.sessCustData);
    case 'user_home':
      return pathValue(variable, params.userHome);
    case 'node_files':
      return pathValue(variable, params.nodeFiles);
    case 'today':
      return formatDay(params.now, false);
    case 'today_utc':
      return formatDay(params.now, true);
  }
}

function asVariable(name: string): Variable | undefined {
  return (VARIABLES as readonly string[]).includes(name) ? (name as Variable) : undefined;
}

/** Does the template use any variable? (Lets callers skip work for fixed targets.) */
export function isParametric(template: string): boolean {
  return templateVariables(template).length > 0;
}

/**
 * Expands every variable of a target template. Throws FerryError `misconfigured` (with the
 * reason in `detail`) when a variable is unknown, unset or has an unsafe value.
 */
export function expandTarget(template: string, params: TargetParams): string {
  return expandTemplate(template, ({ name }) => {
    const variable = asVariable(name);
    if (variable === undefined) throw refuse(name, 'is not a known variable');
    return valueOf(variable, params);
  });
}
